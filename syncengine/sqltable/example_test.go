package sqltable_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/syncengine"
	"github.com/crmkit/crmkit/syncengine/sqltable"

	_ "modernc.org/sqlite"
)

// Create a table with SQLiteSchema, write a row as the application would,
// let the engine upsert one from the CRM, and read the change feed.
func Example() {
	ctx := context.Background()
	// One connection: each connection to ":memory:" is a database of its own.
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	table := sqltable.Table{
		Name: "contacts",
		Columns: []sqltable.Column{
			{Name: "name", Kind: crm.ValueString},
			{Name: "balance", Kind: crm.ValueDecimal},
		},
	}
	stmts, err := sqltable.SQLiteSchema(table)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			log.Fatal(err)
		}
	}

	// The application's own SQL: the triggers give the row its version.
	if _, err := db.ExecContext(ctx, `INSERT INTO contacts (name, balance) VALUES ('Ada', '12.50')`); err != nil {
		log.Fatal(err)
	}

	app, err := sqltable.New(db, table, sqltable.WithClock(func() time.Time { return time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC) }))
	if err != nil {
		log.Fatal(err)
	}
	res, err := app.Apply(ctx, []syncengine.Write{
		{Op: syncengine.Upsert, Key: "003A", Fields: crm.Fields{"name": "Grace", "balance": crm.MustDecimal("0.10")}},
		{Op: syncengine.Upsert, Key: "003A", Fields: crm.Fields{"balance": crm.MustDecimal("0.30")}}, // the same record
		{Op: syncengine.Update, ID: "1", Fields: crm.Fields{"email": "ada@example.com"}},             // no such column
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range res {
		fmt.Printf("id=%s created=%v err=%v\n", r.ID, r.Created, r.Err)
	}

	page, err := app.Changes(ctx, "")
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range page.Records {
		fmt.Printf("%s key=%q version=%s name=%v balance=%v\n", r.ID, r.Key, r.Version, r.Fields["name"], r.Fields["balance"])
	}
	fmt.Println("resume after version", page.Cursor)
	// Output:
	// id=2 created=true err=<nil>
	// id=2 created=false err=<nil>
	// id=1 created=false err=sqltable: update contacts 1: validation: email is not a declared column of contacts (declared: name, balance) [fields: email]
	// 1 key="" version=1 name=Ada balance=12.50
	// 2 key="003A" version=3 name=Grace balance=0.30
	// resume after version 3
}
