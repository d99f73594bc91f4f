package mapping_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/mapping"
)

// Conversions also work on their own, outside a map, for hosts that compose
// them in their own code. Unbound, they know no field descriptions, so they
// convert as the value's own Go type suggests.
func TestConversionsUsedDirectly(t *testing.T) {
	d := func(s string) crm.Decimal { return crm.MustDecimal(s) }
	tiers := mapping.Picklist{Values: map[string]string{"gold": "Customer"}, FoldCase: true}
	for _, tc := range []struct {
		name string
		conv mapping.Conversion
		dir  mapping.Direction
		in   any
		want any
		err  string
	}{
		{"picklist", tiers, mapping.ToCRM, "GOLD", "Customer", ""},
		{"picklist back", tiers, mapping.FromCRM, "Customer", "gold", ""},
		{"picklist unknown", tiers, mapping.ToCRM, "tin", nil, "the value is not in the picklist table (1 entry): add it to values, or set unknown to default or pass"},
		{"picklist of a number", tiers, mapping.ToCRM, int64(1), nil, "a picklist takes text, not a int64"},
		{"multi-select", mapping.MultiSelect{}, mapping.ToCRM, " a; b ;;c", []string{"a", "b", "c"}, ""},
		{"multi-select back", mapping.MultiSelect{Separator: "|"}, mapping.FromCRM, []string{"a", "b"}, "a|b", ""},
		{"multi-select element with the separator", mapping.MultiSelect{}, mapping.FromCRM, []string{"a;b"}, nil,
			`element 1 contains the separator ";", so it cannot be joined: choose another separator`},
		{"multi-select table", mapping.MultiSelect{Table: &mapping.Picklist{Values: map[string]string{"x": "X"}}}, mapping.ToCRM, "x", []string{"X"}, ""},
		{"truncate", mapping.Truncate{Length: 3}, mapping.ToCRM, "héllo", "hél", ""},
		{"truncate back", mapping.Truncate{Length: 3}, mapping.FromCRM, "héllo", "héllo", ""},
		{"datetime", mapping.DateTime{AppZone: "Asia/Kathmandu"}, mapping.ToCRM, "2026-11-27 09:45:00", time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC), ""},
		{"datetime of a date", mapping.DateTime{}, mapping.ToCRM, crm.Date{Year: 2026, Month: 2, Day: 28}, crm.Date{Year: 2026, Month: 2, Day: 28}, ""},
		{"datetime bad zone", mapping.DateTime{AppZone: "Nowhere/Special"}, mapping.ToCRM, "2026-11-27 09:45:00", nil, `"Nowhere/Special" is not an IANA time zone this program knows`},
		{"datetime text", mapping.DateTime{}, mapping.ToCRM, "27/11/2026", nil, "the text is not a date-time: want 2026-11-27T13:00:00 (a wall clock in UTC) or RFC 3339 with an offset"},
		{"number", mapping.Number{}, mapping.ToCRM, "12.50", d("12.50"), ""},
		{"number back", mapping.Number{}, mapping.FromCRM, int64(7), "7", ""},
		{"number of a float", mapping.Number{}, mapping.ToCRM, 1.5, nil, "a float64 is not an exact number: pass an int64, a crm.Decimal or text"},
		{"currency", mapping.Currency{MinorUnits: 2}, mapping.ToCRM, int64(1999), d("19.99"), ""},
		{"currency back", mapping.Currency{MinorUnits: 2}, mapping.FromCRM, d("19.990"), int64(1999), ""},
		{"currency back, a fraction of a cent", mapping.Currency{MinorUnits: 2}, mapping.FromCRM, d("19.995"), nil,
			"the amount is not a whole number of minor units (2 digits), or does not fit in an int64: set round to true to round it"},
		{"currency back, rounded", mapping.Currency{MinorUnits: 2, Round: true}, mapping.FromCRM, d("19.995"), int64(2000), ""},
		{"currency of a float", mapping.Currency{}, mapping.ToCRM, 19.99, nil, "a float64 is not accepted for money: pass a crm.Decimal, decimal text or int64 minor units"},
		{"currency text", mapping.Currency{}, mapping.ToCRM, "1e2", d("100"), ""},
		{"bool", mapping.Bool{}, mapping.ToCRM, " YES ", true, ""},
		{"bool to text", mapping.Bool{True: []string{"Y"}, False: []string{"N"}}, mapping.ToCRM, false, "N", ""},
		{"bool blank", mapping.Bool{}, mapping.ToCRM, "  ", nil, ""},
		{"bool of a 2", mapping.Bool{}, mapping.ToCRM, int64(2), nil, "a number is a bool only when it is 1 or 0"},
		{"constant", mapping.Constant{Value: "Web"}, mapping.ToCRM, "anything", "Web", ""},
		{"computed", mapping.Computed{Name: "c"}, mapping.ToCRM, "x", nil, "computed c derives its value from the whole record; use it as a rule's conversion"},
		{"reference", mapping.Reference{AppObject: "company"}, mapping.ToCRM, "1", nil, "a reference must be bound to a link resolver: build the map with mapping.New and mapping.WithLinks"},
		{"custom", mapping.Custom{Name: "x"}, mapping.FromCRM, "1", nil, `custom conversion "x" is not bound: build the map with mapping.New`},
		{"chain", mapping.Chain{mapping.Number{}, mapping.Truncate{Length: 2}}, mapping.ToCRM, int64(12345), "12", ""},
		{"chain back", mapping.Chain{mapping.Bool{}, mapping.Picklist{Values: map[string]string{"true": "Yes"}, Unknown: mapping.UnknownPass}}, mapping.FromCRM, "Yes", true, ""},
		{"one-way function", mapping.Func{Name: "f"}, mapping.ToCRM, "x", nil, "conversion f has no To function"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got any
			var err error
			if tc.dir == mapping.ToCRM {
				got, err = tc.conv.ToCRM(context.Background(), tc.in)
			} else {
				got, err = tc.conv.FromCRM(context.Background(), tc.in)
			}
			var w *mapping.Warning
			if errors.As(err, &w) {
				err = nil // a truncation's warning
			}
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b crm.Decimal) bool { return a.Equal(b) && a.Scale() == b.Scale() })); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestChainBackRunsInReverse(t *testing.T) {
	// Picklist reads "Yes" to "true", then Bool reads "true" to true: the
	// chain reads back in reverse order.
	c := mapping.Chain{mapping.Bool{}, mapping.Picklist{Values: map[string]string{"true": "Yes", "false": "No"}}}
	got, err := c.FromCRM(context.Background(), "Yes")
	if err != nil || got != true {
		t.Errorf("FromCRM = %v, %v", got, err)
	}
	if c.Directions() != mapping.Both {
		t.Errorf("Directions = %v", c.Directions())
	}
	if got := (mapping.Chain{mapping.Number{}, mapping.Func{Name: "f", To: func(_ context.Context, v any) (any, error) { return v, nil }}}).Directions(); got != mapping.ToCRM {
		t.Errorf("a chain with a one-way step: Directions = %v, want to_crm", got)
	}
}

func TestDirectionText(t *testing.T) {
	for _, d := range []mapping.Direction{mapping.ToCRM, mapping.FromCRM, mapping.Both} {
		b, err := d.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back mapping.Direction
		if err := back.UnmarshalText(b); err != nil || back != d {
			t.Errorf("%v -> %s -> %v, %v", d, b, back, err)
		}
	}
	if _, err := mapping.Direction(7).MarshalText(); err == nil {
		t.Error("Direction(7) marshalled")
	}
	var d mapping.Direction
	if err := json.Unmarshal([]byte(`"sideways"`), &d); err == nil || !strings.Contains(err.Error(), "use to_crm, from_crm or both") {
		t.Errorf("a bad direction: %v", err)
	}
}

// Values of every kind hash through their canonical text, so an application
// that hashes the same text itself can match on the CRM's field.
func TestHashOfEveryKind(t *testing.T) {
	kinds := []struct {
		kind  crm.ValueKind
		value any
		text  string
	}{
		{crm.ValueBool, true, "true"},
		{crm.ValueInt64, int64(-42), "-42"},
		{crm.ValueDecimal, crm.MustDecimal("12.50"), "12.50"},
		{crm.ValueTime, time.Date(2026, 11, 27, 13, 0, 0, 5, time.FixedZone("x", 3600)), "2026-11-27T12:00:00.000000005Z"},
		{crm.ValueDate, crm.Date{Year: 2026, Month: 11, Day: 27}, "2026-11-27"},
		{crm.ValueStrings, []string{"a", "b"}, "a\x1fb"},
	}
	f := crm.Field{Name: "C", Type: crm.TypeString, Length: 64, Createable: true, Updateable: true}
	for _, k := range kinds {
		m, err := mapping.New(mapping.ObjectMap{
			Name: "h", App: mapping.AppSchema{Object: "a", Fields: []mapping.AppField{{Name: "v", Kind: k.kind}}},
			CRMObject: "T", Rules: []mapping.Rule{{App: "v", CRM: "C", Protect: mapping.Hash(false)}},
		}, &crm.Schema{Object: "T", Fields: []crm.Field{f}}, mapping.WithHashKey(testKey))
		if err != nil {
			t.Fatal(err)
		}
		out, err := m.ToCRM(context.Background(), crm.Fields{"v": k.value})
		if err != nil || out["C"] != hmacHex(testKey, k.text) {
			t.Errorf("%s: hash %v (%v), want the hash of %q", k.kind, out["C"], err, k.text)
		}
	}
}

func TestProtectionAndKindsText(t *testing.T) {
	for p, want := range map[mapping.Protection]string{
		{}:                 "none",
		mapping.Drop():     "dropped: never leaves the application",
		mapping.Hash(true): "keyed hash (HMAC-SHA256, case-folded)",
		mapping.Mask(2):    "masked: last 2 characters kept",
		{Kind: 9}:          "ProtectKind(9)",
	} {
		if got := p.String(); got != want {
			t.Errorf("%#v: %q, want %q", p, got, want)
		}
	}
	if got := (&mapping.Warning{Message: "w"}).Error(); got != "w" {
		t.Errorf("Warning.Error = %q", got)
	}
}
