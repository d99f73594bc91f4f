package mapping_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	_ "time/tzdata" // the property tests need zones on any machine

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/memcrm"
	"github.com/crmkit/crmkit/mapping"
)

// testKey is the hash key of the tests: 32 bytes, as WithHashKey advises.
var testKey = []byte("crmkit-test-key-0123456789abcdef")

// contactSchema is memcrm's Contact with the custom fields the documented
// example file maps to.
func contactSchema() *crm.Schema {
	s := memcrm.ContactSchema()
	s.Fields = append(s.Fields,
		crm.Field{Name: "MobilePhone", Type: crm.TypePhone, Length: 40, Nillable: true, Createable: true, Updateable: true},
		crm.Field{Name: "NationalIdHash", Type: crm.TypeString, Length: 64, Nillable: true, Createable: true, Updateable: true, Custom: true},
		crm.Field{Name: "Newsletter", Type: crm.TypeBool, Nillable: true, Createable: true, Updateable: true, Custom: true},
		crm.Field{Name: "SignedUpAt", Type: crm.TypeDateTime, Nillable: true, Createable: true, Updateable: true, Custom: true},
		crm.Field{Name: "LeadSource", Type: crm.TypePicklist, Nillable: true, Createable: true, Updateable: true,
			Picklist: []crm.PicklistValue{{Value: "Web", Label: "Web", Active: true}, {Value: "Phone", Label: "Phone Inquiry", Active: true}, {Value: "Fax", Label: "Fax", Active: false}}},
	)
	return s
}

// docExample returns the example file in the package documentation, so that
// the documentation cannot drift from what Parse accepts.
func docExample(t testing.TB) []byte {
	t.Helper()
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	in := false
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "// This file uses every conversion:") {
			in = true
			continue
		}
		if !in {
			continue
		}
		if line == "//" && out.Len() == 0 {
			continue
		}
		text, ok := strings.CutPrefix(line, "//\t")
		if !ok {
			break
		}
		out.WriteString(text)
		out.WriteByte('\n')
	}
	if out.Len() == 0 {
		t.Fatal("doc.go has no example file after \"This file uses every conversion:\"")
	}
	return out.Bytes()
}

// e164 is the custom conversion the example file names: it removes the
// spaces people type into phone numbers.
var e164 = mapping.Func{
	Name: "e164", AppKind: crm.ValueString, CRMKind: crm.ValueString,
	To:   func(_ context.Context, v any) (any, error) { return strings.ReplaceAll(v.(string), " ", ""), nil },
	From: func(_ context.Context, v any) (any, error) { return v, nil },
}

// salutation is the computed value the example file names.
func salutation(_ context.Context, src crm.Fields) (any, error) {
	first, _ := src.String("first_name")
	last, ok := src.String("last_name")
	if !ok {
		return nil, mapping.ErrOmit
	}
	return strings.TrimSpace("Dear " + first + " " + last), nil
}

// exampleOptions are the options the example file needs.
func exampleOptions(conn string, links mapping.LinkResolver, more ...mapping.Option) []mapping.Option {
	return append([]mapping.Option{
		mapping.WithConnection(conn),
		mapping.WithHashKey(testKey),
		mapping.WithLinks(links),
		mapping.WithFunc("salutation", salutation),
		mapping.WithConversion("e164", e164),
	}, more...)
}

// exampleMaps loads the documented file and builds its maps for conn.
func exampleMaps(t testing.TB, conn string, links mapping.LinkResolver, more ...mapping.Option) (customers, companies *mapping.Map) {
	t.Helper()
	oms, err := mapping.Parse(docExample(t))
	if err != nil {
		t.Fatalf("the documented example does not load:\n%v", err)
	}
	if len(oms) != 2 {
		t.Fatalf("the documented example has %d maps, want 2", len(oms))
	}
	opts := exampleOptions(conn, links, more...)
	customers, err = mapping.New(oms[0], contactSchema(), opts...)
	if err != nil {
		t.Fatalf("the documented customers map does not build:\n%v", err)
	}
	companies, err = mapping.New(oms[1], memcrm.AccountSchema(), opts...)
	if err != nil {
		t.Fatalf("the documented companies map does not build:\n%v", err)
	}
	return customers, companies
}
