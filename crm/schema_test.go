package crm

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestValueKindOfMatchesNormalizedValues(t *testing.T) {
	samples := map[FieldType]any{
		TypeID:            "001",
		TypeString:        "Ada",
		TypeText:          "long text",
		TypeEmail:         "ada@example.com",
		TypePhone:         "+44 20 7946 0000",
		TypeURL:           "https://example.com",
		TypeBool:          true,
		TypeInt:           42,
		TypeDecimal:       "12.50",
		TypeCurrency:      "0.10",
		TypePercent:       "7.5",
		TypeDateTime:      time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC),
		TypeDate:          "2026-11-27",
		TypePicklist:      "Open",
		TypeMultiPicklist: []string{"a", "b"},
		TypeReference:     "003",
	}
	for typ, in := range samples {
		v, err := NormalizeValue(typ, in)
		if err != nil {
			t.Fatalf("NormalizeValue(%s, %#v): %v", typ, in, err)
		}
		if got, want := ValueKindOf(v), typ.Value(); got != want {
			t.Errorf("ValueKindOf(normalised %s value %#v) = %s, want %s", typ, v, got, want)
		}
	}
}

func TestValueKindOfUnknown(t *testing.T) {
	for _, v := range []any{nil, 1, int32(1), 1.5, []int{1}, struct{}{}, &time.Time{}} {
		if got := ValueKindOf(v); got != ValueUnknown {
			t.Errorf("ValueKindOf(%#v) = %s, want %s", v, got, ValueUnknown)
		}
	}
}

func TestSchemaCloneIsDeep(t *testing.T) {
	orig := &Schema{
		Object:  "Contact",
		IDField: "Id",
		Fields: []Field{
			{Name: "Id", Type: TypeID},
			{Name: "Stage", Type: TypePicklist, Picklist: []PicklistValue{{Value: "Open", Label: "Open", Active: true}}},
			{Name: "AccountId", Type: TypeReference, References: []string{"Account"}},
		},
	}
	c := orig.Clone()
	if diff := cmp.Diff(orig, c); diff != "" {
		t.Fatalf("clone differs (-orig +clone):\n%s", diff)
	}
	c.Object = "Lead"
	c.Fields[0].Name = "Changed"
	c.Fields[1].Picklist[0].Value = "Closed"
	c.Fields[2].References[0] = "Lead"
	c.Fields = append(c.Fields, Field{Name: "Extra"})
	if orig.Object != "Contact" || len(orig.Fields) != 3 || orig.Fields[0].Name != "Id" ||
		orig.Fields[1].Picklist[0].Value != "Open" || orig.Fields[2].References[0] != "Account" {
		t.Errorf("changing the clone changed the original: %+v", orig)
	}
	if (*Schema)(nil).Clone() != nil {
		t.Error("nil schema cloned to non-nil")
	}
}
