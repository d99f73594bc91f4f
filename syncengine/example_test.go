package syncengine_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/memcrm"
	"github.com/crmkit/crmkit/mapping"
	"github.com/crmkit/crmkit/syncengine"
	"github.com/crmkit/crmkit/syncengine/conflict"
	"github.com/crmkit/crmkit/syncengine/memtable"
	"github.com/crmkit/crmkit/syncengine/store/memory"
)

// Sync an application table with a CRM both ways: first contact matches
// people by email, later runs carry each side's edits, and a run over a
// quiet pair writes nothing.
func Example() {
	ctx := context.Background()

	// The CRM (in memory here; any crm.Driver) and the application's table.
	drv, _ := memcrm.New()
	client, _ := crm.NewClient(drv)
	app := memtable.New()

	m, err := mapping.New(mapping.ObjectMap{
		Name: "customers",
		App: mapping.AppSchema{Object: "customer", Fields: []mapping.AppField{
			{Name: "email", Kind: crm.ValueString, Length: 80},
			{Name: "name", Kind: crm.ValueString, Length: 80},
		}},
		CRMObject: "Contact",
		Rules:     []mapping.Rule{{App: "email", CRM: "Email"}, {App: "name", CRM: "LastName"}},
	}, memcrm.ContactSchema())
	if err != nil {
		panic(err)
	}
	crmSide, err := syncengine.NewCRMEndpoint(client, "Contact", "ExternalId", syncengine.WithCRMFields(m.CRMFields()...))
	if err != nil {
		panic(err)
	}
	eng, err := syncengine.New(memory.New(), syncengine.Pairing{
		Map: m, App: app, CRM: crmSide,
		Match:    []syncengine.MatchRule{{App: "email", CRM: "Email"}},
		Resolver: conflict.NewestWins(2*time.Second, conflict.CRM),
	}, syncengine.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		panic(err)
	}

	_, _ = app.Insert(crm.Fields{"email": "ada@example.com", "name": "Lovelace"})
	_, _ = app.Insert(crm.Fields{"email": "grace@example.com", "name": "Hopper"})
	_, _ = client.Create(ctx, "Contact", crm.Fields{"Email": "ada@example.com", "LastName": "Lovelace"})
	_, _ = client.Create(ctx, "Contact", crm.Fields{"Email": "alan@example.com", "LastName": "Turing"})

	rep, err := eng.RunOnce(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Printf("first run: matched %d, created %d in the CRM and %d in the app\n", rep.Matched, rep.Created.CRM, rep.Created.App)

	rep, _ = eng.RunOnce(ctx)
	fmt.Printf("second run: %d writes, %d echoes of its own writes skipped\n", rep.Writes(), rep.Echoes)

	// Output:
	// first run: matched 1, created 1 in the CRM and 1 in the app
	// second run: 0 writes, 2 echoes of its own writes skipped
}
