package crm

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNormalizeValue(t *testing.T) {
	ts := time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC)
	tests := []struct {
		typ  FieldType
		in   any
		want any
	}{
		{TypeString, "x", "x"},
		{TypeEmail, json.Number("12"), "12"},
		{TypeBool, true, true},
		{TypeBool, "false", false},
		{TypeInt, 42, int64(42)},
		{TypeInt, float64(42), int64(42)},
		{TypeInt, json.Number("42"), int64(42)},
		{TypeInt, json.Number("42.0"), int64(42)},
		{TypeInt, "7", int64(7)},
		{TypeCurrency, json.Number("19.990"), MustDecimal("19.990")},
		{TypeCurrency, 0.1, MustDecimal("0.1")},
		{TypeDecimal, "3.14", MustDecimal("3.14")},
		{TypePercent, int64(5), MustDecimal("5")},
		{TypeDateTime, "2026-11-27T13:00:00Z", ts},
		{TypeDateTime, "2026-11-27T14:00:00.000+0100", ts},
		{TypeDateTime, "1795784400000", ts},
		{TypeDateTime, ts.In(time.FixedZone("x", 3600)), ts},
		{TypeDate, "2026-11-27", Date{2026, 11, 27}},
		{TypeMultiPicklist, "a;b;c", []string{"a", "b", "c"}},
		{TypeMultiPicklist, []any{"a", "b"}, []string{"a", "b"}},
		{TypeMultiPicklist, "", []string{}},
		{TypeString, nil, nil},
	}
	for _, tt := range tests {
		got, err := NormalizeValue(tt.typ, tt.in)
		if err != nil {
			t.Errorf("NormalizeValue(%s, %#v): %v", tt.typ, tt.in, err)
			continue
		}
		if !EqualValues(got, tt.want) {
			t.Errorf("NormalizeValue(%s, %#v) = %#v, want %#v", tt.typ, tt.in, got, tt.want)
		}
		if tt.typ == TypeDateTime && got.(time.Time).Location() != time.UTC {
			t.Errorf("NormalizeValue(%s, %#v) is not in UTC", tt.typ, tt.in)
		}
	}
}

func TestNormalizeValueRefusesLossyOrWrongValues(t *testing.T) {
	tests := []struct {
		typ FieldType
		in  any
	}{
		{TypeInt, 1.5},
		{TypeInt, "seven"},
		{TypeInt, json.Number("1e400")},
		{TypeBool, "maybe"},
		{TypeCurrency, "12,50"},
		{TypeDateTime, "yesterday"},
		{TypeDate, "27/11/2026"},
		{TypeMultiPicklist, []any{"a", 1}},
		{FieldType("blob"), "x"},
	}
	for _, tt := range tests {
		_, err := NormalizeValue(tt.typ, tt.in)
		if err == nil {
			t.Errorf("NormalizeValue(%s, %#v) succeeded, want an error", tt.typ, tt.in)
			continue
		}
		if !strings.Contains(err.Error(), string(tt.typ)) {
			t.Errorf("error %q does not name the type %s", err, tt.typ)
		}
	}
}

func TestEqualAndCompareValues(t *testing.T) {
	if !EqualValues(MustDecimal("1.0"), MustDecimal("1")) {
		t.Error("decimals should compare by value")
	}
	if EqualValues("1", int64(1)) {
		t.Error("a string is not an int")
	}
	if !EqualValues([]string{"a"}, []string{"a"}) || EqualValues([]string{"a"}, []string{"b"}) {
		t.Error("multi-select equality is wrong")
	}
	if c, ok := CompareValues(int64(3), MustDecimal("2.5")); !ok || c != 1 {
		t.Errorf("3 vs 2.5 = %d, %v", c, ok)
	}
	if _, ok := CompareValues(true, false); ok {
		t.Error("booleans are not ordered")
	}
}

func TestFieldsCloneIsDeep(t *testing.T) {
	f := Fields{"Interests": []string{"a"}, "Name": "x"}
	c := f.Clone()
	c["Interests"].([]string)[0] = "changed"
	if diff := cmp.Diff([]string{"a"}, f["Interests"]); diff != "" {
		t.Fatalf("Clone shares slices: %s", diff)
	}
}

func FuzzNormalizeValue(f *testing.F) {
	f.Add("decimal", "12.50")
	f.Add("int", "12")
	f.Add("datetime", "2026-11-27T13:00:00Z")
	f.Add("date", "2026-11-27T00:00:00Z")
	f.Add("multipicklist", "a;b")
	f.Fuzz(func(t *testing.T, typ, s string) {
		v, err := NormalizeValue(FieldType(typ), s)
		if err != nil {
			return
		}
		// A normalised value normalises to itself.
		again, err := NormalizeValue(FieldType(typ), v)
		if err != nil || !EqualValues(v, again) {
			t.Fatalf("NormalizeValue(%s) is not idempotent on %q: %#v then %#v (%v)", typ, s, v, again, err)
		}
	})
}
