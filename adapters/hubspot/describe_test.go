package hubspot_test

import (
	"testing"
	"time"

	"github.com/crmkit/crmkit/adapters/hubspot/hubspottest"
	"github.com/crmkit/crmkit/crm"
)

func TestDescribe(t *testing.T) {
	_, drv := newPortal(t, hubspottest.WithCustomObject(carsSchema))
	field := func(s *crm.Schema, name string) *crm.Field {
		t.Helper()
		f, ok := s.Field(name)
		if !ok {
			t.Fatalf("%s has no field %s", s.Object, name)
		}
		return f
	}
	contacts, err := drv.Describe(t.Context(), "contacts")
	if err != nil {
		t.Fatal(err)
	}
	if contacts.IDField != "hs_object_id" || contacts.ModifiedField != "lastmodifieddate" || contacts.Custom || contacts.Label != "Contact" {
		t.Errorf("contacts schema %+v", contacts)
	}
	if f := field(contacts, "email"); f.Type != crm.TypeEmail || !f.ExternalID || !f.Unique || !f.Createable {
		t.Errorf("email %+v", f)
	}
	if f := field(contacts, "lifecyclestage"); f.Type != crm.TypePicklist || len(f.Picklist) != 8 || f.Picklist[1].Value != "lead" || f.Picklist[1].Label != "Lead" {
		t.Errorf("lifecyclestage %+v", f)
	}
	if f := field(contacts, "hubspot_owner_id"); f.Type != crm.TypeReference || len(f.References) != 1 || f.References[0] != "OWNER" {
		t.Errorf("hubspot_owner_id %+v", f)
	}
	if f := field(contacts, "createdate"); f.Type != crm.TypeDateTime || f.Createable || f.Updateable {
		t.Errorf("createdate %+v", f)
	}
	if f := field(contacts, "hs_object_id"); f.Type != crm.TypeID || f.Nillable {
		t.Errorf("hs_object_id %+v", f)
	}
	if f := field(contacts, "crmkit_score"); f.Type != crm.TypeDecimal || !f.Custom || f.ExternalID {
		t.Errorf("crmkit_score %+v", f)
	}
	if f := field(contacts, "phone"); f.Type != crm.TypePhone {
		t.Errorf("phone %+v", f)
	}

	companies, err := drv.Describe(t.Context(), "0-2")
	if err != nil {
		t.Fatal(err)
	}
	if companies.ModifiedField != "hs_lastmodifieddate" {
		t.Errorf("companies modified field %q", companies.ModifiedField)
	}
	if f := field(companies, "annualrevenue"); f.Type != crm.TypeCurrency {
		t.Errorf("annualrevenue %+v", f)
	}
	if f := field(companies, "description"); f.Type != crm.TypeText {
		t.Errorf("description %+v", f)
	}

	deals, err := drv.Describe(t.Context(), "deals")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"dealname", "dealstage", "pipeline"} {
		if f := field(deals, name); !f.Required || f.Nillable {
			t.Errorf("deals.%s: Required %v Nillable %v, want required", name, f.Required, f.Nillable)
		}
	}
	if f := field(deals, "closedate"); f.Type != crm.TypeDateTime || f.Required {
		t.Errorf("closedate %+v", f)
	}

	cars, err := drv.Describe(t.Context(), "p62515_cars")
	if err != nil {
		t.Fatal(err)
	}
	if !cars.Custom || cars.Label != "Car" || cars.ModifiedField != "hs_lastmodifieddate" {
		t.Errorf("cars schema %+v", cars)
	}
	if f := field(cars, "model"); !f.Required {
		t.Errorf("model %+v, want required", f)
	}
	if f := field(cars, "vin"); !f.ExternalID {
		t.Errorf("vin %+v, want an external id", f)
	}
}

// TestValuesRoundTrip writes each kind of value and reads it back typed.
func TestValuesRoundTrip(t *testing.T) {
	_, drv := newPortal(t, hubspottest.WithCustomObject(carsSchema), hubspottest.WithProperty("deals",
		hubspottest.Property{Name: "crmkit_tags", Label: "Tags", Type: "enumeration", FieldType: "checkbox",
			Options: []hubspottest.EnumOption{{Label: "A", Value: "a"}, {Label: "B", Value: "b"}}}),
		hubspottest.WithProperty("deals", hubspottest.Property{Name: "crmkit_signed", Label: "Signed", Type: "date", FieldType: "date"}),
		hubspottest.WithProperty("deals", hubspottest.Property{Name: "crmkit_won", Label: "Won", Type: "bool", FieldType: "booleancheckbox"}))
	closeAt := mustTime(t, "2026-12-24T17:30:05.123Z")
	rs, err := drv.Write(t.Context(), crm.WriteRequest{Object: "deals", Writes: []crm.Write{{Op: crm.OpCreate, Fields: crm.Fields{
		"dealname": "Big", "dealstage": "closedwon", "pipeline": "default",
		"amount": crm.NewDecimal(123456, 2), "closedate": closeAt, "crmkit_tags": []string{"a", "b"},
		"crmkit_signed": crm.Date{Year: 2026, Month: 12, Day: 1}, "crmkit_won": true,
	}}}})
	if err != nil || rs[0].Err != nil {
		t.Fatal(err, rs)
	}
	r, err := drv.Get(t.Context(), crm.GetRequest{Object: "deals", ID: rs[0].ID, Fields: []string{"amount", "closedate", "crmkit_tags", "crmkit_signed", "crmkit_won", "description"}})
	if err != nil {
		t.Fatal(err)
	}
	want := crm.Fields{"amount": crm.NewDecimal(123456, 2), "closedate": closeAt, "crmkit_tags": []string{"a", "b"},
		"crmkit_signed": crm.Date{Year: 2026, Month: 12, Day: 1}, "crmkit_won": true, "description": nil}
	for k, v := range want {
		if !crm.EqualValues(r.Fields[k], v) {
			t.Errorf("%s = %#v, want %#v", k, r.Fields[k], v)
		}
	}
	if r.Version == "" || r.ModifiedAt.IsZero() {
		t.Errorf("record has no version or modified time: %+v", r)
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return ts.UTC()
}
