package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/crmkit/crmkit/adapters/salesforce"
	"github.com/crmkit/crmkit/adapters/salesforce/salesforcetest"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/retry"
	"github.com/crmkit/crmkit/mapping"
	"github.com/crmkit/crmkit/syncengine"
	"github.com/crmkit/crmkit/syncengine/sqltable"
)

// contactFields are one CRM's names for the contact fields the tour syncs,
// and how its status field spells the application's statuses.
type contactFields struct {
	Object, Email, FirstName, LastName, Phone, Status, Notes string
	// External is the external-id field the engine upserts on: it holds
	// the application's id of every contact the engine creates.
	External string
	// IDField is the object's id field, for reading records back by id.
	IDField string
	// StatusValues maps the application's statuses to the CRM's values;
	// nil when they are the same.
	StatusValues map[string]string
}

var salesforceFields = contactFields{Object: "Contact", Email: "Email", FirstName: "FirstName", LastName: "LastName",
	Phone: "Phone", Status: "Status__c", Notes: "Description", External: "App_Id__c", IDField: "Id"}

// customerColumns are the application's columns, in the order of the
// person type's fields.
var customerColumns = []string{"email", "first_name", "last_name", "phone", "status", "notes"}

// crmName returns the CRM's name for an application column.
func (f contactFields) crmName(column string) string {
	return map[string]string{"email": f.Email, "first_name": f.FirstName, "last_name": f.LastName,
		"phone": f.Phone, "status": f.Status, "notes": f.Notes}[column]
}

// emulatedOrg starts the Salesforce emulator on a loopback port with the
// two custom Contact fields the tour needs, as an admin would add them in
// Setup. Its clock runs offset ahead of this machine's, so the tour can
// make an edit "later" by the org's clock without waiting.
func emulatedOrg(offset *atomic.Int64) (*salesforcetest.Server, error) {
	return salesforcetest.NewServer(
		salesforcetest.WithFields("Contact",
			salesforcetest.Field{Name: "App_Id__c", Type: "string", Length: 64, ExternalID: true, Unique: true},
			salesforcetest.Field{Name: "Status__c", Type: "picklist", Picklist: []string{"New", "Customer", "Lost"}},
		),
		salesforcetest.WithClock(func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }),
	)
}

// salesforceClient builds the Salesforce driver and its crm.Client: against
// the emulator when org is set, else against the real org at instanceURL
// with a fixed access token.
func salesforceClient(org *salesforcetest.Server, instanceURL, token string) (*crm.Client, error) {
	opts := []salesforce.Option{
		salesforce.WithAppName("crmkit-quickstart"),
		// Each call is tried twice by the driver, quickly; a write whose
		// call still fails goes back to the engine's outbox, which
		// retries it on its own schedule (see syncengine.WithBackoff).
		salesforce.WithRetry(retry.New(retry.WithMaxAttempts(2), retry.WithBackoff(20*time.Millisecond, 200*time.Millisecond))),
	}
	if org != nil {
		opts = append(opts,
			salesforce.WithInstanceURL(org.URL),
			salesforce.WithTokenSource(org.TokenSource()),
			salesforce.WithHTTPClient(org.Client()))
	} else {
		opts = append(opts,
			salesforce.WithInstanceURL(instanceURL),
			salesforce.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token})))
	}
	drv, err := salesforce.New(opts...)
	if err != nil {
		return nil, err
	}
	return crm.NewClient(drv)
}

// openAppDB creates the application's database: one SQLite file in a new
// temporary directory, opened as sqltable's and the sqlite store's docs
// ask (writers take the lock at BEGIN and wait for each other; WAL).
func openAppDB() (db *sql.DB, path string, err error) {
	dir, err := os.MkdirTemp("", "crmkit-quickstart-")
	if err != nil {
		return nil, "", err
	}
	path = filepath.Join(dir, "app.db")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	db, err = sql.Open("sqlite", dsn)
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", err
	}
	return db, path, nil
}

// customerTable declares an application table of customers for sqltable:
// the mapped columns, plus an updated_at column that conflict resolution
// by time reads. sqltable adds id, sync_key, sync_version and deleted.
func customerTable(name string) sqltable.Table {
	t := sqltable.Table{Name: name, ModifiedColumn: "updated_at"}
	for _, c := range customerColumns {
		t.Columns = append(t.Columns, sqltable.Column{Name: c, Kind: crm.ValueString})
	}
	return t
}

// createCustomerTable runs sqltable's DDL for the table (the table, its
// sync_key index and the triggers that keep sync_version) and returns the
// application endpoint over it.
func createCustomerTable(ctx context.Context, db *sql.DB, name string) (*sqltable.Endpoint, error) {
	t := customerTable(name)
	stmts, err := sqltable.SQLiteSchema(t)
	if err != nil {
		return nil, err
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return nil, err
		}
	}
	return sqltable.New(db, t)
}

// customerMap maps the application's customers to one CRM's contacts. The
// application's columns are as long as the CRM's fields; email and phone
// are personal, so the decision log masks them.
func customerMap(name string, f contactFields, schema *crm.Schema) (*mapping.Map, error) {
	length := func(field string) int {
		if sf, ok := schema.Field(field); ok {
			return sf.Length
		}
		return 0
	}
	var fields []mapping.AppField
	var rules []mapping.Rule
	for _, c := range customerColumns {
		crmField := f.crmName(c)
		fields = append(fields, mapping.AppField{Name: c, Kind: crm.ValueString, Length: length(crmField),
			Personal: c == "email" || c == "phone"})
		rule := mapping.Rule{App: c, CRM: crmField}
		if c == "status" && f.StatusValues != nil {
			rule.Convert = mapping.Picklist{Values: f.StatusValues}
		}
		rules = append(rules, rule)
	}
	return mapping.New(mapping.ObjectMap{
		Name:      name,
		App:       mapping.AppSchema{Object: "customer", Fields: fields},
		CRMObject: f.Object,
		Rules:     rules,
	}, schema)
}

// scoped is the CRM side of the tour's pairing: a CRMEndpoint whose change
// feed keeps only contacts with an email under one domain. Against a real
// org that is the run's own domain, so the tour never touches anyone
// else's contacts; in the emulator every contact is under example.com.
// Embedding keeps the endpoint's Get, Find, Apply and BatchSize.
type scoped struct {
	*syncengine.CRMEndpoint
	email, suffix string
}

func (s scoped) Changes(ctx context.Context, cursor string) (*syncengine.ChangePage, error) {
	page, err := s.CRMEndpoint.Changes(ctx, cursor)
	if err != nil {
		return nil, err
	}
	kept := page.Records[:0]
	for _, r := range page.Records {
		if e, _ := r.Fields[s.email].(string); strings.HasSuffix(strings.ToLower(e), s.suffix) {
			kept = append(kept, r)
		}
	}
	page.Records = kept
	return page, nil
}

// person is one seeded customer or contact.
type person struct {
	Email, First, Last, Phone, Status, Notes string
}

func (p person) values() []any {
	v := []any{p.Email, p.First, p.Last, p.Phone, p.Status, p.Notes}
	for i := range v {
		if v[i] == "" {
			v[i] = nil
		}
	}
	return v
}

// insertCustomers adds rows with plain SQL, as the application does; the
// table's triggers give each row its sync_version.
func insertCustomers(ctx context.Context, db *sql.DB, table string, people []person) error {
	q := fmt.Sprintf("INSERT INTO %s (%s) VALUES (?, ?, ?, ?, ?, ?)", table, strings.Join(customerColumns, ", "))
	for _, p := range people {
		if _, err := db.ExecContext(ctx, q, p.values()...); err != nil {
			return err
		}
	}
	return nil
}

// createContacts creates CRM contacts in one batched write, as the sales
// team's tools would have.
func createContacts(ctx context.Context, client *crm.Client, f contactFields, people []person) error {
	writes := make([]crm.Write, len(people))
	for i, p := range people {
		fields := crm.Fields{}
		for j, v := range p.values() {
			if v == nil {
				continue
			}
			if customerColumns[j] == "status" && f.StatusValues != nil {
				v = f.StatusValues[v.(string)]
			}
			fields[f.crmName(customerColumns[j])] = v
		}
		writes[i] = crm.Write{Op: crm.OpCreate, Fields: fields}
	}
	res, err := client.Write(ctx, f.Object, writes)
	if err != nil {
		return err
	}
	if failed := res.Failed(); len(failed) > 0 {
		i := failed[0]
		return fmt.Errorf("seeding %s %s: %w", f.Object, people[i].Email, res[i].Err)
	}
	return nil
}

// contacts reads the CRM's contacts under the domain, by lower-cased email.
func contacts(ctx context.Context, client *crm.Client, f contactFields, suffix string) (map[string]*crm.Record, error) {
	out := map[string]*crm.Record{}
	q := crm.Query{Object: f.Object, Where: crm.Contains(f.Email, suffix),
		Fields: []string{f.IDField, f.Email, f.FirstName, f.LastName, f.Phone, f.Status, f.Notes}}
	for r, err := range client.Query(ctx, q) {
		if err != nil {
			return nil, err
		}
		if e, _ := r.Fields[f.Email].(string); strings.HasSuffix(strings.ToLower(e), suffix) {
			out[strings.ToLower(e)] = r
		}
	}
	return out, nil
}

// customers reads the application's live rows, by lower-cased email.
func customers(ctx context.Context, db *sql.DB, table string) (map[string]map[string]any, error) {
	rows, err := db.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM %s WHERE deleted = 0", strings.Join(customerColumns, ", "), table))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]map[string]any{}
	for rows.Next() {
		vals := make([]sql.NullString, len(customerColumns))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := map[string]any{}
		for i, c := range customerColumns {
			if vals[i].Valid {
				row[c] = vals[i].String
			}
		}
		email, _ := row["email"].(string)
		out[strings.ToLower(email)] = row
	}
	return out, rows.Err()
}

// compare reports how the two sides differ: people on one side only, and
// fields whose values differ (by the map's names); nil when they agree.
func compare(app map[string]map[string]any, crmSide map[string]*crm.Record, f contactFields) []string {
	var diffs []string
	for email, row := range app {
		c, ok := crmSide[email]
		if !ok {
			diffs = append(diffs, email+" is only in the app")
			continue
		}
		for _, col := range customerColumns {
			want := row[col]
			if col == "status" && f.StatusValues != nil && want != nil {
				want = f.StatusValues[want.(string)]
			}
			if col == "email" {
				continue // matched without case; each side keeps its spelling
			}
			if !crm.EqualValues(want, c.Fields[f.crmName(col)]) {
				diffs = append(diffs, fmt.Sprintf("%s: app %s %v, crm %s %v", email, col, row[col], f.crmName(col), c.Fields[f.crmName(col)]))
			}
		}
	}
	for email := range crmSide {
		if _, ok := app[email]; !ok {
			diffs = append(diffs, email+" is only in the CRM")
		}
	}
	return diffs
}

// deleteContacts deletes the CRM's contacts under the domain: the real-org
// run's cleanup. It returns how many it deleted.
func deleteContacts(ctx context.Context, client *crm.Client, f contactFields, suffix string) (int, error) {
	cs, err := contacts(ctx, client, f, suffix)
	if err != nil {
		return 0, err
	}
	var writes []crm.Write
	for _, r := range cs {
		writes = append(writes, crm.Write{Op: crm.OpDelete, ID: r.ID})
	}
	if len(writes) == 0 {
		return 0, nil
	}
	res, err := client.Write(ctx, f.Object, writes)
	if err != nil {
		return 0, err
	}
	if failed := res.Failed(); len(failed) > 0 {
		return len(writes) - len(failed), fmt.Errorf("deleting contacts: %d failed, the first: %w", len(failed), res[failed[0]].Err)
	}
	return len(writes), nil
}
