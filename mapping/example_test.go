package mapping_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/memcrm"
	"github.com/crmkit/crmkit/mapping"
)

// printFields prints fields in name order, one per line.
func printFields(f crm.Fields) {
	for _, name := range f.Names() {
		fmt.Printf("%s: %v\n", name, f[name])
	}
}

// A map declared in Go, checked against the CRM's own description of the
// object, converts an application record for a write: a picklist through a
// table, text to an integer, cents to an exact decimal, a masked phone
// number, and a constant.
func Example() {
	ctx := context.Background()
	drv, err := memcrm.New()
	if err != nil {
		log.Fatal(err)
	}
	client, err := crm.NewClient(drv)
	if err != nil {
		log.Fatal(err)
	}
	schema, err := client.Describe(ctx, "Contact")
	if err != nil {
		log.Fatal(err)
	}

	m, err := mapping.New(mapping.ObjectMap{
		Name: "customers",
		App: mapping.AppSchema{Object: "customer", Fields: []mapping.AppField{
			{Name: "name", Kind: crm.ValueString, Length: 80, Personal: true},
			{Name: "phone", Kind: crm.ValueString, Length: 40, Personal: true},
			{Name: "tier", Kind: crm.ValueString, Values: []string{"gold", "trial"}},
			{Name: "score", Kind: crm.ValueString},
			{Name: "spent_cents", Kind: crm.ValueInt64},
		}},
		CRMObject: "Contact",
		Rules: []mapping.Rule{
			{App: "name", CRM: "LastName"},
			{App: "phone", CRM: "Phone", Protect: mapping.Mask(4)},
			{App: "tier", CRM: "Status", Convert: mapping.Picklist{
				Values: map[string]string{"gold": "Customer", "trial": "New"}, Unknown: mapping.UnknownDefault, DefaultCRM: "New", DefaultApp: "trial"}},
			{App: "score", CRM: "Score", Convert: mapping.Number{}},
			{App: "spent_cents", CRM: "AnnualValue", Convert: mapping.Currency{MinorUnits: 2}},
			{CRM: "Description", Convert: mapping.Constant{Value: "synced by crmkit"}},
		},
	}, schema)
	if err != nil {
		log.Fatal(err)
	}

	fields, err := m.ToCRM(ctx, crm.Fields{
		"name": "Lovelace", "phone": "+44 20 7946 0958", "tier": "gold", "score": "42", "spent_cents": int64(120050),
	})
	if err != nil {
		log.Fatal(err)
	}
	printFields(fields)
	id, err := client.Create(ctx, "Contact", fields)
	fmt.Println("created:", id != "", err)
	// Output:
	// AnnualValue: 1200.50
	// Description: synced by crmkit
	// LastName: Lovelace
	// Phone: ************0958
	// Score: 42
	// Status: Customer
	// created: true <nil>
}

// New reports every problem of a map at once, each naming the field and the
// fix, instead of failing on the first.
func ExampleNew_problems() {
	_, err := mapping.New(mapping.ObjectMap{
		Name: "customers",
		App: mapping.AppSchema{Object: "customer", Fields: []mapping.AppField{
			{Name: "email", Kind: crm.ValueString},
			{Name: "age", Kind: crm.ValueString},
		}},
		CRMObject: "Contact",
		Rules: []mapping.Rule{
			{App: "email", CRM: "Emial"},
			{App: "age", CRM: "Score"},
			{App: "email", CRM: "CreatedAt", Dir: mapping.ToCRM},
		},
	}, memcrm.ContactSchema())

	var ce *mapping.CheckError
	if errors.As(err, &ce) {
		for _, p := range ce.Problems {
			fmt.Printf("[%s] %s\n    fix: %s\n", p.Code, p.Message, p.Fix)
		}
	}
	// Output:
	// [unknown_crm_field] CRM object Contact has no field "Emial"
	//     fix: correct the name (did you mean "Email"?), or create the field in the CRM; Describe("Contact") lists its fields
	// [type_mismatch] application field "age" holds string but CRM field Contact.Score holds int
	//     fix: add a conversion: "convert": {"type": "number"} (mapping.Number{} in Go)
	// [read_only] CRM field Contact.CreatedAt is read-only for the integration user
	//     fix: set dir to from_crm, or grant the integration user edit access to the field in the CRM
	// [type_mismatch] application field "email" holds string but CRM field Contact.CreatedAt holds datetime
	//     fix: add a conversion: "convert": {"type": "datetime"} (mapping.DateTime{} in Go)
	// [required_unmapped] CRM field Contact.LastName is required on create, but no rule writes it
	//     fix: map an application field to it, or give it a constant ({"crm": "LastName", "dir": "to_crm", "convert": {"type": "constant", "value": ...}})
}

// Parse loads maps from the declarative JSON format; a misspelt key is a
// problem, not a silently ignored setting.
func ExampleParse() {
	_, err := mapping.Parse([]byte(`{
	  "version": 1,
	  "maps": [{
	    "name": "customers",
	    "app": {"object": "customer", "fields": [{"name": "status", "kind": "string"}]},
	    "crm_object": "Contact",
	    "rules": [{"app": "status", "crm": "Status", "covert": {"type": "picklist", "values": {"active": "Customer"}}}]
	  }]
	}`))
	fmt.Println(err)

	maps, err := mapping.Parse([]byte(`{
	  "version": 1,
	  "maps": [{
	    "name": "customers",
	    "app": {"object": "customer", "fields": [{"name": "name", "kind": "string", "length": 80}, {"name": "status", "kind": "string"}]},
	    "crm_object": "Contact",
	    "rules": [
	      {"app": "name", "crm": "LastName"},
	      {"app": "status", "crm": "Status", "convert": {"type": "picklist", "values": {"active": "Customer"}, "unknown": "pass"}}
	    ]
	  }]
	}`))
	if err != nil {
		log.Fatal(err)
	}
	m, err := mapping.New(maps[0], memcrm.ContactSchema())
	if err != nil {
		log.Fatal(err)
	}
	back, err := m.FromCRM(context.Background(), crm.Fields{"LastName": "Hopper", "Status": "Customer"})
	fmt.Println(back, err)
	// Output:
	// mapping: 1 problem:
	//   - map customers, rule 1 (status <-> Status): the rule has an unknown key "covert"; fix: did you mean "convert"? The keys here are app, crm, dir, convert, protect, note
	// map[name:Hopper status:active] <nil>
}

// A date-only value never shifts a day, even between zones a whole day
// apart: the application on Kiritimati (UTC+14) and a CRM org on Pago Pago
// (UTC-11) that stores dates as midnight in its own zone.
func ExampleDateTime() {
	schema := &crm.Schema{Object: "Contact", Fields: []crm.Field{
		{Name: "Birthdate", Type: crm.TypeDateTime, Createable: true, Updateable: true},
	}}
	m, err := mapping.New(mapping.ObjectMap{
		Name:      "people",
		App:       mapping.AppSchema{Object: "person", Fields: []mapping.AppField{{Name: "born", Kind: crm.ValueDate}}},
		CRMObject: "Contact",
		Rules: []mapping.Rule{{App: "born", CRM: "Birthdate",
			Convert: mapping.DateTime{AppZone: "Pacific/Kiritimati", CRMZone: "Pacific/Pago_Pago"}}},
	}, schema)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	out, _ := m.ToCRM(ctx, crm.Fields{"born": crm.Date{Year: 1990, Month: time.June, Day: 15}})
	fmt.Println("CRM holds:", out["Birthdate"])
	back, _ := m.FromCRM(ctx, out)
	fmt.Println("application reads:", back["born"])
	// Output:
	// CRM holds: 1990-06-15 11:00:00 +0000 UTC
	// application reads: 1990-06-15
}

// A hashed field can still be matched on in the CRM, but its value cannot be
// read there; a dropped field never leaves. Redact gives a copy of the
// application record that is safe to log.
func ExampleHash() {
	schema := memcrm.ContactSchema()
	schema.Fields = append(schema.Fields, crm.Field{Name: "EmailKey", Type: crm.TypeString, Length: 64, Createable: true, Updateable: true})
	m, err := mapping.New(mapping.ObjectMap{
		Name: "customers",
		App: mapping.AppSchema{Object: "customer", Fields: []mapping.AppField{
			{Name: "name", Kind: crm.ValueString, Length: 80},
			{Name: "email", Kind: crm.ValueString, Personal: true},
			{Name: "password_hash", Kind: crm.ValueString, Personal: true},
		}},
		CRMObject: "Contact",
		Rules: []mapping.Rule{
			{App: "name", CRM: "LastName"},
			{App: "email", CRM: "EmailKey", Protect: mapping.Hash(true)},
			{App: "password_hash", Protect: mapping.Drop()},
		},
	}, schema, mapping.WithHashKey([]byte("an example key of 32 bytes......")))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	record := crm.Fields{"name": "Lovelace", "email": "Ada@Example.com", "password_hash": "$argon2id$..."}
	a, _ := m.ToCRM(ctx, record)
	b, _ := m.ToCRM(ctx, crm.Fields{"email": " ada@example.com"})
	fmt.Println(len(a["EmailKey"].(string)), "hex digits; same key for the same address:", a["EmailKey"] == b["EmailKey"])
	fmt.Println("fields sent:", a.Names())
	fmt.Println("safe to log:", m.Redact(record)["email"] == a["EmailKey"], m.Redact(record).Has("password_hash"))
	// Output:
	// 64 hex digits; same key for the same address: true
	// fields sent: [EmailKey LastName]
	// safe to log: true false
}

// References are resolved through the links the sync engine keeps; in tests,
// MemoryLinks holds them.
func ExampleReference() {
	links := mapping.NewMemoryLinks()
	links.Link(mapping.Ref{AppObject: "company", CRMObject: "Account"}, "17", "account-3")

	m, err := mapping.New(mapping.ObjectMap{
		Name: "customers",
		App: mapping.AppSchema{Object: "customer", Fields: []mapping.AppField{
			{Name: "name", Kind: crm.ValueString, Length: 80},
			{Name: "company_id", Kind: crm.ValueInt64},
		}},
		CRMObject: "Contact",
		Rules: []mapping.Rule{
			{App: "name", CRM: "LastName"},
			{App: "company_id", CRM: "AccountId", Convert: mapping.Reference{AppObject: "company"}},
		},
	}, memcrm.ContactSchema(), mapping.WithLinks(links))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	out, _ := m.ToCRM(ctx, crm.Fields{"company_id": int64(17)})
	fmt.Println(out["AccountId"])
	_, err = m.ToCRM(ctx, crm.Fields{"company_id": int64(18)})
	fmt.Println(errors.Is(err, mapping.ErrNoLink))
	// Output:
	// account-3
	// true
}

// Report writes the data-flow report that a privacy impact assessment asks
// for: which fields flow where, which are personal data, how each is
// protected.
func ExampleReport() {
	m, err := mapping.New(mapping.ObjectMap{
		Name: "leads",
		App: mapping.AppSchema{Object: "signup", Fields: []mapping.AppField{
			{Name: "name", Kind: crm.ValueString, Length: 80, Personal: true},
			{Name: "phone", Kind: crm.ValueString, Length: 20, Personal: true},
		}},
		CRMObject: "Contact",
		Rules: []mapping.Rule{
			{App: "name", CRM: "LastName"},
			{App: "phone", CRM: "Phone", Protect: mapping.Mask(4)},
		},
	}, memcrm.ContactSchema())
	if err != nil {
		log.Fatal(err)
	}
	var b strings.Builder
	if err := mapping.Report(&b, m); err != nil {
		log.Fatal(err)
	}
	// Print the map's table and its personal data.
	report := b.String()
	start := strings.Index(report, "| # |")
	end := strings.Index(report, "### Diagram")
	os.Stdout.WriteString(report[start:end])
	// Output:
	// | # | Application field | Flow | CRM field | Conversion | Personal data | Protection |
	// | --- | --- | --- | --- | --- | --- | --- |
	// | 1 | `name` | ⇄ both ways | `LastName` | — | yes | none: in the clear |
	// | 2 | `phone` | → to the CRM | `Phone` | — | yes | masked: last 4 characters kept |
	//
	// ### Personal data in leads
	//
	// - `name`: sent in the clear to `LastName` and read back from `LastName`.
	// - `phone`: sent to `Phone` masked, with the last 4 characters kept.
	//
}
