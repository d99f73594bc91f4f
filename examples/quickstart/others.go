package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/crmkit/crmkit/adapters/dynamics"
	"github.com/crmkit/crmkit/adapters/dynamics/dynamicstest"
	"github.com/crmkit/crmkit/adapters/hubspot"
	"github.com/crmkit/crmkit/adapters/hubspot/hubspottest"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/syncengine"
	"github.com/crmkit/crmkit/syncengine/store/sqlite"
)

// HubSpot contacts get three custom properties, as a HubSpot integration
// would define them: a status enumeration (lower-case values), notes, and
// the unique property the engine upserts on.
var hubspotFields = contactFields{Object: "contacts", Email: "email", FirstName: "firstname", LastName: "lastname",
	Phone: "phone", Status: "crmkit_status", Notes: "crmkit_notes", External: "crmkit_app_id", IDField: "hs_object_id",
	StatusValues: map[string]string{"New": "new", "Customer": "customer", "Lost": "lost"}}

// Dataverse contacts get a custom choice column for the status; Dataverse
// reports a choice's value as its number. The seed contact table already
// has the crmkit_externalid alternate key the engine upserts on.
var dynamicsFields = contactFields{Object: "contact", Email: "emailaddress1", FirstName: "firstname", LastName: "lastname",
	Phone: "telephone1", Status: "crmkit_status", Notes: "description", External: "crmkit_externalid", IDField: "contactid",
	StatusValues: map[string]string{"New": "100000000", "Customer": "100000001", "Lost": "100000002"}}

// otherCRMs runs the tour's first sync against the HubSpot and Dynamics
// emulators, each with a fresh application table seeded as step 1 seeds
// it, and prints one line each.
func otherCRMs(ctx context.Context, out io.Writer, db *sql.DB, logger *slog.Logger) error {
	fmt.Fprintln(out, "\n== The same first sync against the other CRMs' emulators")
	portal, err := hubspottest.NewServer(
		hubspottest.WithProperty("contacts", hubspottest.Property{Name: "crmkit_status", Label: "Status", Type: "enumeration", FieldType: "select",
			Options: []hubspottest.EnumOption{{Label: "New", Value: "new"}, {Label: "Customer", Value: "customer"}, {Label: "Lost", Value: "lost"}}}),
		hubspottest.WithProperty("contacts", hubspottest.Property{Name: "crmkit_notes", Label: "Notes", Type: "string", FieldType: "textarea"}),
		hubspottest.WithProperty("contacts", hubspottest.Property{Name: "crmkit_app_id", Label: "App ID", Type: "string", FieldType: "text", HasUniqueValue: true}),
	)
	if err != nil {
		return err
	}
	defer portal.Close()
	f := hubspotFields
	hs, err := hubspot.New(
		hubspot.WithBaseURL(portal.URL),
		hubspot.WithHTTPClient(portal.Client()),
		hubspot.WithPrivateAppToken("pat-na1-quickstart"),
		hubspot.WithIndexLag(0), // the emulator indexes at once; HubSpot takes seconds
		hubspot.WithDefaultFields(f.Object, f.Email, f.FirstName, f.LastName, f.Phone, f.Status, f.Notes, f.External),
	)
	if err != nil {
		return err
	}
	if err := firstSyncWith(ctx, out, db, "hubspot", hs, f, logger); err != nil {
		return err
	}

	var contact dynamicstest.Table
	for _, tbl := range dynamicstest.SeedTables() {
		if tbl.LogicalName == "contact" {
			contact = tbl
		}
	}
	contact.Attributes = append(contact.Attributes, dynamicstest.Attribute{
		LogicalName: "crmkit_status", SchemaName: "crmkit_Status", DisplayName: "Customer Status",
		Type: dynamicstest.Picklist, Custom: true, DefaultOption: -1,
		Options: []dynamicstest.Choice{{Value: 100000000, Label: "New"}, {Value: 100000001, Label: "Customer"}, {Value: 100000002, Label: "Lost"}},
	})
	env, err := dynamicstest.NewServer(dynamicstest.WithTables(contact))
	if err != nil {
		return err
	}
	defer env.Close()
	dv, err := dynamics.New(dynamics.WithBaseURL(env.URL), dynamics.WithHTTPClient(env.Client()))
	if err != nil {
		return err
	}
	return firstSyncWith(ctx, out, db, "dynamics", dv, dynamicsFields, logger)
}

// firstSyncWith seeds a fresh customers_<name> table and the CRM as step 1
// does, syncs twice, and prints what the two runs did.
func firstSyncWith(ctx context.Context, out io.Writer, db *sql.DB, name string, drv crm.Driver, f contactFields, logger *slog.Logger) error {
	client, err := crm.NewClient(drv)
	if err != nil {
		return err
	}
	table := "customers_" + name
	app, err := createCustomerTable(ctx, db, table)
	if err != nil {
		return err
	}
	schema, err := client.Describe(ctx, f.Object)
	if err != nil {
		return err
	}
	m, err := customerMap(table, f, schema)
	if err != nil {
		return err
	}
	ep, err := syncengine.NewCRMEndpoint(client, f.Object, f.External,
		syncengine.WithCRMFields(m.CRMFields()...), syncengine.WithCRMIDField(f.IDField))
	if err != nil {
		return err
	}
	store, err := sqlite.New(ctx, db)
	if err != nil {
		return err
	}
	eng, err := syncengine.New(store, syncengine.Pairing{Map: m, App: app, CRM: ep,
		Match: []syncengine.MatchRule{{App: "email", CRM: f.Email}}},
		syncengine.WithLogger(logger), syncengine.WithBackoff(func(int) time.Duration { return 50 * time.Millisecond }))
	if err != nil {
		return err
	}
	if err := insertCustomers(ctx, db, table, appSeed); err != nil {
		return err
	}
	if err := createContacts(ctx, client, f, crmSeed); err != nil {
		return err
	}
	first, err := eng.RunOnce(ctx)
	if err != nil {
		return err
	}
	second, err := eng.RunOnce(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   %-9s matched %d, created %d in the CRM, %d in the app; dead letters %d; second run wrote %d\n",
		name+":", first.Matched, first.Created.CRM, first.Created.App, first.DeadLettered+second.DeadLettered, second.Writes())
	return nil
}
