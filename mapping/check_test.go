package mapping_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/mapping"
)

var printProblems = flag.Bool("print-problems", false, "print the problems each check case produces (to write new cases)")

// baseMap is a valid map that each check case changes in one way.
func baseMap() mapping.ObjectMap {
	return mapping.ObjectMap{
		Name: "base",
		App: mapping.AppSchema{Object: "customer", Fields: []mapping.AppField{
			{Name: "id", Kind: crm.ValueString, ReadOnly: true},
			{Name: "last", Kind: crm.ValueString, Length: 80, Personal: true},
			{Name: "email", Kind: crm.ValueString, Length: 80, Personal: true},
			{Name: "status", Kind: crm.ValueString, Values: []string{"active", "lead"}},
			{Name: "score", Kind: crm.ValueString},
			{Name: "amount", Kind: crm.ValueString},
			{Name: "born", Kind: crm.ValueDate},
			{Name: "tags", Kind: crm.ValueString},
			{Name: "flag", Kind: crm.ValueString},
			{Name: "bio", Kind: crm.ValueString, Length: 200},
			{Name: "short", Kind: crm.ValueString, Length: 10},
			{Name: "company", Kind: crm.ValueString},
			{Name: "when", Kind: crm.ValueTime},
		}},
		CRMObject: "Contact",
		Rules:     []mapping.Rule{{App: "last", CRM: "LastName"}},
	}
}

type checkCase struct {
	name   string
	change func(om *mapping.ObjectMap, s *crm.Schema)
	opts   []mapping.Option
	want   []string
}

func rule(r mapping.Rule) func(om *mapping.ObjectMap, s *crm.Schema) {
	return func(om *mapping.ObjectMap, _ *crm.Schema) { om.Rules = append(om.Rules, r) }
}

func field(f mapping.AppField) func(om *mapping.ObjectMap, s *crm.Schema) {
	return func(om *mapping.ObjectMap, _ *crm.Schema) { om.App.Fields = append(om.App.Fields, f) }
}

func both(fs ...func(om *mapping.ObjectMap, s *crm.Schema)) func(om *mapping.ObjectMap, s *crm.Schema) {
	return func(om *mapping.ObjectMap, s *crm.Schema) {
		for _, f := range fs {
			f(om, s)
		}
	}
}

var bothTiers = map[string]string{"active": "Customer", "lead": "New"}

// checkCases pin the exact message of every schema check.
var checkCases = []checkCase{
	{"valid", func(*mapping.ObjectMap, *crm.Schema) {}, nil, nil},

	// Unknown fields, with the nearest name.
	{"unknown application field", rule(mapping.Rule{App: "emial", CRM: "Email"}), nil, []string{
		`map base, rule 2 (emial <-> Email): application object customer declares no field "emial"; fix: declare it in the application schema, or correct the name (did you mean "email"?)`}},
	{"unknown CRM field", rule(mapping.Rule{App: "email", CRM: "EMial"}), nil, []string{
		`map base, rule 2 (email <-> EMial): CRM object Contact has no field "EMial"; fix: correct the name (did you mean "Email"?), or create the field in the CRM; Describe("Contact") lists its fields`}},
	{"unknown CRM field, nothing near", rule(mapping.Rule{App: "email", CRM: "Shoe_Size__c"}), nil, []string{
		`map base, rule 2 (email <-> Shoe_Size__c): CRM object Contact has no field "Shoe_Size__c"; fix: correct the name, or create the field in the CRM; Describe("Contact") lists its fields`}},

	// Type mismatches without a conversion, each with the conversion that joins them.
	{"text to an integer", rule(mapping.Rule{App: "score", CRM: "Score"}), nil, []string{
		`map base, rule 2 (score <-> Score): application field "score" holds string but CRM field Contact.Score holds int; fix: add a conversion: "convert": {"type": "number"} (mapping.Number{} in Go)`}},
	{"text to currency", rule(mapping.Rule{App: "amount", CRM: "AnnualValue"}), nil, []string{
		`map base, rule 2 (amount <-> AnnualValue): application field "amount" holds string but CRM field Contact.AnnualValue holds decimal (currency); fix: add a conversion: "convert": {"type": "currency"} (mapping.Currency{} in Go)`}},
	{"text to a multi-select", rule(mapping.Rule{App: "tags", CRM: "Interests"}), nil, []string{
		`map base, rule 2 (tags <-> Interests): application field "tags" holds string but CRM field Contact.Interests holds strings (multipicklist); fix: add a conversion: "convert": {"type": "multiselect"} (mapping.MultiSelect{} in Go)`}},
	{"text to a checkbox", rule(mapping.Rule{App: "flag", CRM: "Newsletter"}), nil, []string{
		`map base, rule 2 (flag <-> Newsletter): application field "flag" holds string but CRM field Contact.Newsletter holds bool; fix: add a conversion: "convert": {"type": "bool"} (mapping.Bool{} in Go)`}},
	{"a date-time to a date", rule(mapping.Rule{App: "when", CRM: "Birthdate"}), nil, []string{
		`map base, rule 2 (when <-> Birthdate): application field "when" holds datetime but CRM field Contact.Birthdate holds date; fix: add a conversion: "convert": {"type": "datetime"} (mapping.DateTime{} in Go)`}},
	{"no conversion joins them", rule(mapping.Rule{App: "born", CRM: "Score"}), nil, []string{
		`map base, rule 2 (born <-> Score): application field "born" holds date but CRM field Contact.Score holds int; fix: map fields of the same kind, or write a conversion (mapping.Func in Go, registered for a file with mapping.WithConversion)`}},
	{"a conversion that cannot join the kinds", rule(mapping.Rule{App: "born", CRM: "Score", Convert: mapping.Number{}}), nil, []string{
		`map base, rule 2 (born <-> Score): number cannot join application field "born", which holds date, and Contact.Score, which holds int; fix: number joins text, int64 and decimal on either side; choose another conversion or another field`}},

	// Writes to read-only fields.
	{"read-only CRM field", rule(mapping.Rule{App: "when", CRM: "CreatedAt"}), nil, []string{
		`map base, rule 2 (when <-> CreatedAt): CRM field Contact.CreatedAt is read-only for the integration user; fix: set dir to from_crm, or grant the integration user edit access to the field in the CRM`}},
	{"read-only application field", rule(mapping.Rule{App: "id", CRM: "ExternalId"}), nil, []string{
		`map base, rule 2 (id <-> ExternalId): application field "id" is read-only, but the rule writes it from the CRM; fix: set dir to to_crm`}},

	// Required CRM fields left unmapped.
	{"required field unmapped", func(om *mapping.ObjectMap, _ *crm.Schema) { om.Rules = []mapping.Rule{{App: "email", CRM: "Email"}} }, nil, []string{
		`map base, CRM field LastName: CRM field Contact.LastName is required on create, but no rule writes it; fix: map an application field to it, or give it a constant ({"crm": "LastName", "dir": "to_crm", "convert": {"type": "constant", "value": ...}})`}},
	{"required field written only from the CRM", func(om *mapping.ObjectMap, _ *crm.Schema) { om.Rules[0].Dir = mapping.FromCRM }, nil, []string{
		`map base, CRM field LastName: CRM field Contact.LastName is required on create, but no rule writes it; fix: map an application field to it, or give it a constant ({"crm": "LastName", "dir": "to_crm", "convert": {"type": "constant", "value": ...}})`}},
	{"required field refused by residency", func(om *mapping.ObjectMap, _ *crm.Schema) {
		om.Residency = []mapping.Residency{{App: "last", Refuse: []string{"us"}, Reason: "names stay home"}}
	}, []mapping.Option{mapping.WithConnection("us")}, []string{
		`map base, CRM field LastName: CRM field Contact.LastName is required on create, but its only rule is refused on connection us by residency: names stay home; fix: map an application field to it, or give it a constant ({"crm": "LastName", "dir": "to_crm", "convert": {"type": "constant", "value": ...}})`}},

	// Picklist values missing on the CRM side.
	{"enumerated values missing from the picklist", rule(mapping.Rule{App: "status", CRM: "Status"}), nil, []string{
		`map base, rule 2 (status <-> Status): Contact.Status has no picklist value "active", "lead"; fix: add them to the picklist in the CRM, or send one of "New", "Contacted", "Qualified", "Customer", "Lost"`}},
	{"table sends a value the CRM lacks", rule(mapping.Rule{App: "status", CRM: "Status", Convert: mapping.Picklist{
		Values: map[string]string{"active": "Gold", "lead": "New"}, Reverse: map[string]string{"Customer": "active"}, Unknown: mapping.UnknownPass}}), nil, []string{
		`map base, rule 2 (status <-> Status): Contact.Status has no picklist value "Gold"; fix: add them to the picklist in the CRM, or send one of "New", "Contacted", "Qualified", "Customer", "Lost"`}},
	{"table sends a label", rule(mapping.Rule{CRM: "LeadSource", Convert: mapping.Constant{Value: "Phone Inquiry"}}), nil, []string{
		`map base, rule 2 ((constant "Phone Inquiry") -> LeadSource): Contact.LeadSource: "Phone Inquiry" is the label of "Phone"; the CRM stores values, not labels; fix: send the picklist value (the API name) instead of its label`}},
	{"table sends an inactive value", rule(mapping.Rule{CRM: "LeadSource", Convert: mapping.Constant{Value: "Fax"}}), nil, []string{
		`map base, rule 2 ((constant "Fax") -> LeadSource): Contact.LeadSource has picklist value "Fax" but it is inactive, so the CRM refuses it; fix: activate it in the CRM, or send an active value`}},
	{"CRM values the table cannot read back", rule(mapping.Rule{App: "status", CRM: "Status", Convert: mapping.Picklist{Values: bothTiers}}), nil, []string{
		`map base, rule 2 (status <-> Status): Contact.Status can hold "Contacted", "Qualified", "Lost", which the table cannot read back; fix: add them to "values" or "reverse", or set unknown to default or pass`}},
	{"application values the table does not list", rule(mapping.Rule{App: "status", CRM: "Status", Dir: mapping.ToCRM, Convert: mapping.Picklist{Values: map[string]string{"active": "Customer"}}}), nil, []string{
		`map base, rule 2 (status -> Status): application field "status" can hold "lead", which the table does not list; fix: add them to "values", or set unknown to default or pass`}},
	{"table reads back values the application does not allow", rule(mapping.Rule{App: "status", CRM: "Status", Dir: mapping.FromCRM, Convert: mapping.Picklist{
		Values: bothTiers, Unknown: mapping.UnknownDefault, DefaultApp: "unknown"}}), nil, []string{
		`map base, rule 2 (status <- Status): the table reads back "unknown", which application field "status" does not allow; fix: add them to the application field's values, or change the table`}},
	{"default without a default value", rule(mapping.Rule{App: "status", CRM: "Status", Convert: mapping.Picklist{Values: bothTiers, Unknown: mapping.UnknownDefault, DefaultApp: "lead"}}), nil, []string{
		`map base, rule 2 (status <-> Status): unknown is default but default_crm is empty; fix: set default_crm to the CRM value for unlisted application values`}},

	// Length overflow.
	{"longer application text", rule(mapping.Rule{App: "bio", CRM: "Title", Dir: mapping.ToCRM}), nil, []string{
		`map base, rule 2 (bio -> Title): application field "bio" holds up to 200 characters but CRM field Contact.Title holds 128; fix: add a truncate conversion ("convert": {"type": "truncate"}), or shorten the application field`}},
	{"longer CRM text", rule(mapping.Rule{App: "short", CRM: "Description", Dir: mapping.FromCRM}), nil, []string{
		`map base, rule 2 (short <- Description): CRM field Contact.Description holds up to 32000 characters but application field "short" holds 10; fix: add a truncate conversion ("convert": {"type": "truncate"}), or lengthen the application field`}},
	{"truncate longer than the field", rule(mapping.Rule{App: "bio", CRM: "Title", Dir: mapping.ToCRM, Convert: mapping.Truncate{Length: 200}}), nil, []string{
		`map base, rule 2 (bio -> Title): truncate keeps 200 characters but Contact.Title holds 128; fix: set length to 128 or less, or 0 for the described length`}},
	{"hash longer than the field", rule(mapping.Rule{App: "email", CRM: "Phone", Protect: mapping.Hash(false)}), []mapping.Option{mapping.WithHashKey(testKey)}, []string{
		`map base, rule 2 (email -> Phone): a hash is 64 characters but CRM field Contact.Phone holds 40; fix: map it to a text field of 64 characters or more`}},
	{"mask longer than the field", rule(mapping.Rule{App: "bio", CRM: "Phone", Protect: mapping.Mask(4)}), nil, []string{
		`map base, rule 2 (bio -> Phone): a masked value is as long as the value, which application field "bio" does not limit to the 40 characters CRM field Contact.Phone holds; fix: declare the application field's length, or map it to a longer field`}},
	{"constant longer than the field", rule(mapping.Rule{CRM: "Title", Convert: mapping.Constant{Value: strings.Repeat("x", 130)}}), nil, []string{
		`map base, rule 2 ((constant "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...") -> Title): the constant is 130 characters but Contact.Title holds 128; fix: shorten the constant`}},

	// Conversions that work one way in a rule that flows both.
	{"constant both ways", rule(mapping.Rule{CRM: "Title", Dir: mapping.Both, Convert: mapping.Constant{Value: "x"}}), nil, []string{
		`map base, rule 2 ((constant "x") <-> Title): constant "x" flows one way, but the rule flows both; fix: set dir to to_crm (to fill the CRM field) or from_crm (to fill the application field)`}},
	{"one-way function both ways", rule(mapping.Rule{App: "bio", CRM: "Description", Convert: mapping.Func{Name: "up", To: func(_ context.Context, v any) (any, error) { return v, nil }}}), nil, []string{
		`map base, rule 2 (bio <-> Description): function up converts only to_crm, but the rule flows both; fix: set dir to to_crm, or use a conversion that works both ways`}},
	{"ambiguous picklist", rule(mapping.Rule{App: "status", CRM: "Status", Convert: mapping.Picklist{
		Values: map[string]string{"active": "Customer", "lead": "Customer"}, Unknown: mapping.UnknownPass}}), nil, []string{
		`map base, rule 2 (status <-> Status): CRM value "Customer" comes from application values "active", "lead", so reading it back is ambiguous; fix: say which one it reads back as: "reverse": {"Customer": "active"}`}},

	// Conversion settings.
	{"unknown zone", rule(mapping.Rule{App: "when", CRM: "SignedUpAt", Convert: mapping.DateTime{AppZone: "Europe/Lodnon"}}), nil, []string{
		`map base, rule 2 (when <-> SignedUpAt): app_zone "Europe/Lodnon" is not an IANA time zone this program knows; fix: use an IANA zone name such as Europe/London or America/New_York (and import time/tzdata if the host has no zone database)`}},
	{"computed without a function", rule(mapping.Rule{CRM: "Title", Convert: mapping.Computed{Name: "salutation"}}), nil, []string{
		`map base, rule 2 ((computed salutation) -> Title): computed "salutation" has no function; fix: pass mapping.WithFunc("salutation", fn) to mapping.New`}},
	{"custom conversion not registered", rule(mapping.Rule{App: "email", CRM: "Email", Convert: mapping.Custom{Name: "lower"}}), nil, []string{
		`map base, rule 2 (email <-> Email): custom conversion "lower" is not registered; fix: pass mapping.WithConversion("lower", conv) to mapping.New`}},
	{"reference without links", rule(mapping.Rule{App: "company", CRM: "AccountId", Convert: mapping.Reference{AppObject: "company"}}), nil, []string{
		`map base, rule 2 (company <-> AccountId): a reference needs a link resolver, and none was given; fix: pass mapping.WithLinks(resolver) to mapping.New (the sync engine's links, or mapping.NewMemoryLinks() in tests)`}},
	{"reference to one of several objects", both(
		func(_ *mapping.ObjectMap, s *crm.Schema) {
			f, _ := s.Field("AccountId")
			f.References = []string{"Account", "Partner"}
		},
		rule(mapping.Rule{App: "company", CRM: "AccountId", Convert: mapping.Reference{AppObject: "company"}})),
		[]mapping.Option{mapping.WithLinks(mapping.NewMemoryLinks())}, []string{
			`map base, rule 2 (company <-> AccountId): Contact.AccountId may refer to "Account", "Partner"; fix: say which one this rule links ("crm_object": "Account")`}},
	{"spelled both true and false", rule(mapping.Rule{App: "flag", CRM: "Newsletter", Convert: mapping.Bool{True: []string{"Y", "1"}, False: []string{"N", "y"}}}), nil, []string{
		`map base, rule 2 (flag <-> Newsletter): "Y" is spelled as both true and false; fix: remove it from one of the lists`}},
	{"minor units of a text field", rule(mapping.Rule{App: "amount", CRM: "AnnualValue", Convert: mapping.Currency{MinorUnits: 2}}), nil, []string{
		`map base, rule 2 (amount <-> AnnualValue): minor_units needs an int64 application field, but application field "amount" holds string; fix: remove minor_units, or map an int64 field of minor units`}},

	// Protections that cannot be enforced.
	{"hash both ways", rule(mapping.Rule{App: "email", CRM: "NationalIdHash", Dir: mapping.Both, Protect: mapping.Hash(false)}), []mapping.Option{mapping.WithHashKey(testKey)}, []string{
		`map base, rule 2 (email <-> NationalIdHash): a hashed value cannot come back: the application would receive the protected form in place of its own value; fix: set dir to to_crm`}},
	{"hash without a key", rule(mapping.Rule{App: "email", CRM: "NationalIdHash", Protect: mapping.Hash(false)}), nil, []string{
		`map base, rule 2 (email -> NationalIdHash): the rule hashes values but no hash key was given; fix: pass mapping.WithHashKey(key) to mapping.New, with at least 32 random bytes from your secret store`}},
	{"hash key too short", rule(mapping.Rule{App: "email", CRM: "NationalIdHash", Protect: mapping.Hash(false)}), []mapping.Option{mapping.WithHashKey([]byte("short"))}, []string{
		`map base, rule 2 (email -> NationalIdHash): the hash key is 5 bytes, too short to resist guessing; fix: pass mapping.WithHashKey a key of at least 32 random bytes from your secret store`}},
	{"short key, nothing hashed", func(*mapping.ObjectMap, *crm.Schema) {}, []mapping.Option{mapping.WithHashKey(nil)}, nil},
	{"mask into a number", rule(mapping.Rule{App: "email", CRM: "Score", Protect: mapping.Mask(2)}), nil, []string{
		`map base, rule 2 (email -> Score): a masked value is text, but CRM field Contact.Score holds int; fix: map it to a text field`}},
	{"dropped field names a CRM field", rule(mapping.Rule{App: "email", CRM: "Email", Protect: mapping.Drop()}), nil, []string{
		`map base, rule 2 (email -> Email): a dropped field is never sent, but the rule names CRM field Email; fix: remove "crm" to keep the field in the application, or choose hash or mask to send a protected form`}},
	{"protected field sent in the clear by another rule", both(
		rule(mapping.Rule{App: "email", Protect: mapping.Drop()}),
		rule(mapping.Rule{App: "email", CRM: "Email"})), nil, []string{
		`map base, rule 3 (email <-> Email): application field "email" is dropped by rule 2 (email -> (dropped)), but this rule sends it unprotected; fix: protect this rule too, set it to from_crm, or remove it`}},

	// Duplicates.
	{"two rules write one CRM field", rule(mapping.Rule{App: "email", CRM: "lastname", Dir: mapping.ToCRM}), nil, []string{
		`map base, rule 2 (email -> lastname): CRM field lastname is also written by rule 1 (last <-> LastName); fix: keep one of the rules, or set one of them to from_crm`}},
	{"two rules write one application field", rule(mapping.Rule{App: "last", CRM: "FirstName", Dir: mapping.FromCRM}), nil, []string{
		`map base, rule 2 (last <- FirstName): application field "last" is also written by rule 1 (last <-> LastName); fix: keep one of the rules, or set one of them to to_crm`}},
	{"a field declared twice", field(mapping.AppField{Name: "email", Kind: crm.ValueString}), nil, []string{
		`map base, application field 14 (email): field "email" is declared twice; fix: remove one of the declarations`}},

	// Residency.
	{"residency without a connection", func(om *mapping.ObjectMap, _ *crm.Schema) {
		om.Residency = []mapping.Residency{{App: "email", Refuse: []string{"us"}}}
	}, nil, []string{
		`map base: the map has residency rules but no connection was named, so they cannot be applied; fix: pass mapping.WithConnection("name") to mapping.New with the name of the CRM connection this map serves`}},
	{"residency of an unknown field", func(om *mapping.ObjectMap, _ *crm.Schema) {
		om.Residency = []mapping.Residency{{App: "emails", Only: []string{"eu"}}}
	}, []mapping.Option{mapping.WithConnection("eu")}, []string{
		`map base, residency 1 (emails): application field "emails" is not declared; fix: declare it in the application schema, or correct the name (did you mean "email"?)`}},

	// The map itself.
	{"wrong schema", func(om *mapping.ObjectMap, _ *crm.Schema) { om.CRMObject = "Lead" }, nil, []string{
		`map base: the map is for CRM object Lead but was given the schema of Contact; fix: pass the result of Describe("Lead")`}},
	{"unnamed map with a bad kind", func(om *mapping.ObjectMap, _ *crm.Schema) {
		om.Name = ""
		om.App.Fields = append(om.App.Fields, mapping.AppField{Name: "age", Kind: "float64"})
	}, nil, []string{
		`map (unnamed): the map has no name; fix: name it ("name": "customers"), so that problems, logs and reports can point at it`,
		`map (unnamed), application field 14 (age): kind "float64" is not one crmkit carries; fix: use string, bool, int, decimal, datetime, date or strings`}},

	// All problems come back together.
	{"several problems at once", func(om *mapping.ObjectMap, _ *crm.Schema) {
		om.Rules = []mapping.Rule{
			{App: "email", CRM: "Emial"},
			{App: "score", CRM: "Score"},
			{App: "when", CRM: "CreatedAt"},
		}
	}, nil, []string{
		`map base, rule 1 (email <-> Emial): CRM object Contact has no field "Emial"; fix: correct the name (did you mean "Email"?), or create the field in the CRM; Describe("Contact") lists its fields`,
		`map base, rule 2 (score <-> Score): application field "score" holds string but CRM field Contact.Score holds int; fix: add a conversion: "convert": {"type": "number"} (mapping.Number{} in Go)`,
		`map base, rule 3 (when <-> CreatedAt): CRM field Contact.CreatedAt is read-only for the integration user; fix: set dir to from_crm, or grant the integration user edit access to the field in the CRM`,
		`map base, CRM field LastName: CRM field Contact.LastName is required on create, but no rule writes it; fix: map an application field to it, or give it a constant ({"crm": "LastName", "dir": "to_crm", "convert": {"type": "constant", "value": ...}})`}},
}

func TestChecks(t *testing.T) {
	for _, tc := range checkCases {
		t.Run(tc.name, func(t *testing.T) {
			om, s := baseMap(), contactSchema()
			tc.change(&om, s)
			_, err := mapping.New(om, s, tc.opts...)
			var got []string
			if err != nil {
				var ce *mapping.CheckError
				if !errors.As(err, &ce) {
					t.Fatalf("err is %T, want *mapping.CheckError: %v", err, err)
				}
				for _, p := range ce.Problems {
					got = append(got, p.Error())
					if p.Map == "" || p.Message == "" || p.Fix == "" || p.Code == "" {
						t.Errorf("problem lacks a part: %+v", p)
					}
				}
				if !errors.Is(err, crm.ErrValidation) {
					t.Error("a CheckError does not match crm.ErrValidation")
				}
			}
			if *printProblems {
				for _, g := range got {
					fmt.Printf("\t\t`%s`,\n", g)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
