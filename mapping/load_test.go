package mapping_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/memcrm"

	"github.com/crmkit/crmkit/mapping"
)

func problems(t *testing.T, err error) []string {
	t.Helper()
	var ce *mapping.CheckError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v (%T), want a *mapping.CheckError", err, err)
	}
	var out []string
	for _, p := range ce.Problems {
		out = append(out, p.Error())
	}
	return out
}

func wantProblems(t *testing.T, err error, want ...string) {
	t.Helper()
	got := problems(t, err)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestParseReportsEveryProblemInTheFile(t *testing.T) {
	const file = `{
  "version": 1,
  "maps": [
    {
      "name": "customers",
      "app": {"object": "customer", "fields": [
        {"name": "email", "kind": "string", "lenght": 80},
        {"name": "age", "kind": "float"},
        {"name": "tier", "kind": "string", "values": "gold"}
      ]},
      "crm_object": "Contact",
      "rules": [
        {"app": "email", "crm": "Email", "dir": "outbound"},
        {"app": "emial", "crm": "Email", "covert": {"type": "number"}},
        {"app": "tier", "crm": "Status", "convert": {"type": "picklst"}},
        {"app": "email", "crm": "Phone", "protect": {"type": "mask", "keep": "4"}},
        {"crm": "Title", "convert": {"type": "chain", "steps": [{"type": "truncate", "length": 80.5}, "upper"]}},
        {"app": "age", "crm": "Score", "convert": {"type": "constant", "value": {"x": 1}}},
        {"app": "tier", "crm": "Status", "protect": {"type": "encrypt"}}
      ]
    },
    {"app": {"object": "company"}, "crm_object": "Account"},
    {"name": "customers", "app": {"object": "c"}, "crm_object": "Contact"},
    42
  ]
}`
	_, err := mapping.Parse([]byte(file))
	wantProblems(t, err,
		`map customers, application field 1 (email): the application field has an unknown key "lenght"; fix: did you mean "length"? The keys here are name, kind, length, read_only, personal, values, note`,
		`map customers, application field 3 (tier): "values" must be a list of text, not text; fix: write it like "values": ["a", "b"]`,
		`map customers, rule 1 (email <-> Email): dir "outbound" is not a direction; fix: use to_crm, from_crm or both`,
		`map customers, rule 2 (emial <-> Email): the rule has an unknown key "covert"; fix: did you mean "convert"? The keys here are app, crm, dir, convert, protect, note`,
		`map customers, rule 3 (tier <-> Status): conversion "picklst" is not one crmkit knows; fix: use one of picklist, multiselect, truncate, datetime, number, currency, bool, reference, constant, computed, custom, chain (did you mean "picklist"?)`,
		`map customers, rule 4 (email -> Phone): "keep" must be a whole number, not text; fix: write it like "keep": 4`,
		`map customers, rule 5 ((none) <-> Title): "length" must be a whole number of at most nine digits, not 80.5; fix: write it like "length": 80`,
		`map customers, rule 5 ((none) <-> Title): step 2 of the chain must be a JSON object, not text; fix: write it as {...}`,
		`map customers, rule 6 (age -> Score): "value" must be text, a number, true, false, null or a list of text, not an object; fix: write it like "value": "Web"`,
		`map customers, rule 7 (tier <-> Status): protection "encrypt" is not one crmkit knows; fix: use drop, hash or mask`,
		`map customers, application field 2 (age): kind "float" is not one crmkit carries; fix: use string, bool, int, decimal, datetime, date or strings`,
		`map customers, rule 2 (emial <-> Email): application object customer declares no field "emial"; fix: declare it in the application schema, or correct the name (did you mean "email"?)`,
		`map customers, rule 5 ((none) <-> Title): the rule names no application field; fix: name one ("app": "email"), or use a constant or computed conversion`,
		`map customers, rule 6 (age -> Score): the rule's value comes from constant null, not from an application field, but the rule names application field "age"; fix: remove "app"; a computed function reads any fields it needs`,
		`map customers, rule 2 (emial <-> Email): CRM field Email is also written by rule 1 (email <-> Email); fix: keep one of the rules, or set one of them to from_crm`,
		`map customers, rule 7 (tier <-> Status): CRM field Status is also written by rule 3 (tier <-> Status); fix: keep one of the rules, or set one of them to from_crm`,
		`map customers, rule 7 (tier <-> Status): application field "tier" is also written by rule 3 (tier <-> Status); fix: keep one of the rules, or set one of them to to_crm`,
		`map customers, rule 1 (email <-> Email): application field "email" is masked by rule 4 (email -> Phone), but this rule sends it unprotected; fix: protect this rule too, set it to from_crm, or remove it`,
		`map #2: the map has no name; fix: name it ("name": "customers"), so that problems, logs and reports can point at it`,
		`map customers: maps 1 and 3 are both named "customers"; fix: give each map its own name`,
		`map #4: map 4 must be a JSON object, not a number; fix: write it as {...}`,
	)
}

func TestParseSyntaxAndShapeErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file, want string
	}{
		{"syntax", "{\n  \"version\": 1,\n  \"maps\": [\n    {\"name\": \"x\",}\n  ]\n}",
			`file: the file is not valid JSON: line 4, column 19: invalid character '}' looking for beginning of object key string; fix: correct the JSON at that position`},
		{"truncated", `{"version": 1, "maps": [`,
			`file: the file is not valid JSON: line 1, column 25: unexpected end of JSON input; fix: correct the JSON at that position`},
		{"a list", `[1, 2]`,
			`file: the file holds a JSON array, not an object; fix: write an object: {"version": 1, "maps": [...]}`},
		{"null", `null`,
			`file: the file holds null, not an object; fix: write an object: {"version": 1, "maps": [...]}`},
		{"no version, no maps", `{}`,
			"file: the file has no version; fix: add \"version\": 1\nfile: the file has no maps; fix: list them: \"maps\": [{\"name\": \"customers\", ...}]"},
		{"a future version", `{"version": 2, "maps": [], "extra": true}`,
			"file: the file has an unknown key \"extra\"; fix: remove it; the keys here are version, maps\nfile: version 2 is not one this crmkit reads; fix: write maps in version 1 and set \"version\": 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := mapping.Parse([]byte(tc.file))
			wantProblems(t, err, strings.Split(tc.want, "\n")...)
		})
	}
}

func TestParseGivesTheSameMapAsGo(t *testing.T) {
	const file = `{"version": 1, "maps": [{
	  "name": "m", "note": "n",
	  "app": {"object": "customer", "fields": [
	    {"name": "tier", "kind": "string", "values": ["gold"], "personal": true, "length": 10, "read_only": false, "note": "t"},
	    {"name": "born", "kind": "date"},
	    {"name": "amount", "kind": "int"},
	    {"name": "ssn", "kind": "string"}
	  ]},
	  "crm_object": "Contact",
	  "residency": [{"field": "tier", "only": ["eu"], "reason": "r"}],
	  "rules": [
	    {"app": "tier", "crm": "Status", "dir": "to_crm", "note": "x", "convert": {"type": "picklist", "values": {"gold": "Customer"}, "unknown": "pass", "fold_case": true}},
	    {"app": "born", "crm": "Birthdate", "convert": {"type": "datetime", "app_zone": "Asia/Kathmandu"}},
	    {"app": "amount", "crm": "AnnualValue", "convert": {"type": "chain", "steps": [{"type": "currency", "minor_units": 2, "round": true}]}},
	    {"crm": "LastName", "convert": {"type": "constant", "value": 12.50}},
	    {"app": "ssn", "crm": "Title", "protect": {"type": "hash", "fold_case": true}}
	  ]}]}`
	got, err := mapping.Parse([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	want := []mapping.ObjectMap{{
		Name: "m", Note: "n",
		App: mapping.AppSchema{Object: "customer", Fields: []mapping.AppField{
			{Name: "tier", Kind: "string", Values: []string{"gold"}, Personal: true, Length: 10, Note: "t"},
			{Name: "born", Kind: "crm.Date"},
			{Name: "amount", Kind: "int64"},
			{Name: "ssn", Kind: "string"},
		}},
		CRMObject: "Contact",
		Residency: []mapping.Residency{{App: "tier", Only: []string{"eu"}, Reason: "r"}},
		Rules: []mapping.Rule{
			{App: "tier", CRM: "Status", Dir: mapping.ToCRM, Note: "x", Convert: mapping.Picklist{Values: map[string]string{"gold": "Customer"}, Unknown: mapping.UnknownPass, FoldCase: true}},
			{App: "born", CRM: "Birthdate", Convert: mapping.DateTime{AppZone: "Asia/Kathmandu"}},
			{App: "amount", CRM: "AnnualValue", Convert: mapping.Chain{mapping.Currency{MinorUnits: 2, Round: true}}},
			{CRM: "LastName", Convert: mapping.Constant{Value: json.Number("12.50")}},
			{App: "ssn", CRM: "Title", Protect: mapping.Hash(true)},
		},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
}

func TestLoadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maps.json")
	if err := os.WriteFile(path, docExample(t), 0o600); err != nil {
		t.Fatal(err)
	}
	maps, err := mapping.LoadFile(path)
	if err != nil || len(maps) != 2 || maps[0].Name != "customers" {
		t.Fatalf("LoadFile = %d maps, %v", len(maps), err)
	}
	if _, err := mapping.LoadFile(filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadFile of a missing file: %v", err)
	}
}

func TestValidateAloneNeedsNoSchema(t *testing.T) {
	om := mapping.ObjectMap{
		Name: "v", App: mapping.AppSchema{Object: "a", Fields: []mapping.AppField{{Name: "x", Kind: crm.ValueString}}},
		CRMObject: "Contact",
		Rules: []mapping.Rule{
			{App: "x", CRM: "DoesNotMatterHere", Convert: mapping.DateTime{CRMZone: "Mars/Olympus_Mons"}},
			{App: "x", Dir: mapping.Direction(9)},
		},
	}
	wantProblems(t, om.Validate(),
		`map v, rule 1 (x <-> DoesNotMatterHere): crm_zone "Mars/Olympus_Mons" is not an IANA time zone this program knows; fix: use an IANA zone name such as Europe/London or America/New_York (and import time/tzdata if the host has no zone database)`,
		`map v, rule 2 (x <-> (none)): Direction(9) is not a direction; fix: use to_crm, from_crm or both`)
}

// FuzzParse feeds the loader arbitrary bytes: it must never panic, and a
// file it accepts must build and map a record without panicking either. The
// corpus in testdata/fuzz/FuzzParse runs in every go test.
func FuzzParse(f *testing.F) {
	f.Add(docExample(f))
	f.Add([]byte(`{"version": 1, "maps": []}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		maps, err := mapping.Parse(data)
		if err != nil {
			var ce *mapping.CheckError
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("Parse failed without problems: %v", err)
			}
			for _, p := range ce.Problems {
				if p.Message == "" || p.Fix == "" {
					t.Fatalf("a problem lacks its message or fix: %+v", p)
				}
			}
			return
		}
		links := linked()
		for _, om := range maps {
			schema := contactSchema()
			if strings.EqualFold(om.CRMObject, "Account") {
				schema = memcrm.AccountSchema()
			}
			m, err := mapping.New(om, schema, exampleOptions("salesforce-eu", links, mapping.WithLogger(quiet))...)
			if err != nil {
				continue
			}
			rec := crm.Fields{}
			for i, af := range om.App.Fields {
				rec[af.Name] = sampleValue(af.Kind, i)
			}
			out, _ := m.ToCRM(ctx, rec)
			_, _ = m.FromCRM(ctx, out)
			_ = m.Redact(rec)
			_ = mapping.Report(io.Discard, m)
		}
	})
}

// sampleValue is a value of kind k, for the fuzz target.
func sampleValue(k crm.ValueKind, i int) any {
	switch k {
	case crm.ValueBool:
		return i%2 == 0
	case crm.ValueInt64:
		return int64(i)
	case crm.ValueDecimal:
		return crm.NewDecimal(int64(i)*125, 2)
	case crm.ValueTime:
		return time.Date(2026, 3, 29, 1, i%60, 0, 0, time.UTC)
	case crm.ValueDate:
		return crm.Date{Year: 2026, Month: 2, Day: 28}
	case crm.ValueStrings:
		return []string{"Software", "x"}
	}
	return fmt.Sprintf("value %d", i)
}
