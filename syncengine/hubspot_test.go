package syncengine_test

import (
	"context"
	"testing"

	"github.com/crmkit/crmkit/adapters/hubspot"
	"github.com/crmkit/crmkit/adapters/hubspot/hubspottest"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/ratelimit"
	"github.com/crmkit/crmkit/syncengine"
)

// HubSpot contacts have no long-text notes field among the emulator's
// defaults, so the scenarios use custom properties for notes, status and
// the sync key, as a HubSpot integration would define them.
var hubspotNames = crmNames{Object: "contacts", Email: "email", Name: "lastname", Phone: "phone",
	Status: "crmkit_status", Notes: "crmkit_notes", Unmapped: "jobtitle", External: "crmkit_app_id",
	GoodStatus: "customer", LostStatus: "lost", BadStatus: "platinum"}

// hubspotPortal starts an emulated portal with the custom contact
// properties the pairing needs: a status enumeration (which refuses values
// outside its options), a long-text notes property and the unique property
// the engine upserts on. Its rate limits are off: the scenarios run on a
// fake clock that barely moves, so every limit window would look spent.
func hubspotPortal(t testing.TB, clk *clock, opts ...hubspottest.Option) *hubspottest.Server {
	t.Helper()
	base := []hubspottest.Option{
		hubspottest.WithProperty("contacts", hubspottest.Property{Name: "crmkit_status", Label: "Status", Type: "enumeration", FieldType: "select",
			Options: []hubspottest.EnumOption{{Label: "New", Value: "new"}, {Label: "Customer", Value: "customer"}, {Label: "Lost", Value: "lost"}}}),
		hubspottest.WithProperty("contacts", hubspottest.Property{Name: "crmkit_notes", Label: "Notes", Type: "string", FieldType: "textarea"}),
		hubspottest.WithProperty("contacts", hubspottest.Property{Name: "crmkit_app_id", Label: "App ID", Type: "string", FieldType: "text", HasUniqueValue: true}),
		hubspottest.WithBurstLimit(0),
		hubspottest.WithDailyLimit(0),
		hubspottest.WithSearchLimit(0),
	}
	if clk != nil {
		base = append(base, hubspottest.WithClock(clk.Now))
	}
	return hubspottest.New(t, append(base, opts...)...)
}

// hubspotClient builds a client for the portal. It reads the scenario's
// properties by default (HubSpot returns only a handful otherwise), reads
// the change feed up to the present (the emulator indexes at once) and
// does not pace requests (the portal's limits are off).
func hubspotClient(t testing.TB, srv *hubspottest.Server, clk *clock, opts ...hubspot.Option) *crm.Client {
	t.Helper()
	n := hubspotNames
	base := []hubspot.Option{
		hubspot.WithBaseURL(srv.URL),
		hubspot.WithHTTPClient(srv.Client()),
		hubspot.WithPrivateAppToken("pat-na1-test"),
		hubspot.WithIndexLag(0),
		hubspot.WithLimiter(ratelimit.New()),
		hubspot.WithDefaultFields(n.Object, n.Email, n.Name, n.Phone, n.Status, n.Notes, n.Unmapped, n.External),
	}
	if clk != nil {
		base = append(base, hubspot.WithClock(clk.Now))
	}
	drv, err := hubspot.New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	client, err := crm.NewClient(drv)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

var hubspotBackend = backend{name: "hubspot", fieldNames: hubspotNames,
	endpointOptions: []syncengine.CRMOption{syncengine.WithCRMIDField("hs_object_id")},
	open: func(t testing.TB, clk *clock) (*crm.Client, *crm.Schema, crmNames) {
		client := hubspotClient(t, hubspotPortal(t, clk), clk)
		schema, err := client.Describe(context.Background(), hubspotNames.Object)
		if err != nil {
			t.Fatal(err)
		}
		return client, schema, hubspotNames
	}}
