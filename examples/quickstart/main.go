// Command quickstart is crmkit's tour in one program: a two-way sync
// between an application's own SQLite table and Salesforce contacts, run
// end to end on this machine, with no account, no configuration and no
// network:
//
//	go run ./examples/quickstart         # -keep keeps the SQLite file it makes
//
// It starts an emulated Salesforce org in-process on a loopback port
// (adapters/salesforce/salesforcetest), with two custom Contact fields:
// App_Id__c, the external id the sync engine upserts on, so that a retried
// create never makes a duplicate, and Status__c, a restricted picklist
// (New, Customer, Lost). It creates the application's database, a SQLite
// file holding a customers table made with syncengine/sqltable and, in
// the same file, the sync engine's state (links, cursors, the outbox, dead
// letters, the decision log; syncengine/store/sqlite). Then, step by step:
//
//  1. It seeds both sides: six customers inserted with plain SQL, as the
//     application would, and six contacts in the org; three people are on
//     both sides, one of them with an email that differs in case.
//  2. The first sync matches those three by email and creates the others
//     on the side that lacks them. Alan's email, spelt differently on each
//     side, is a conflict the resolver decides like any other.
//  3. Both sides edit the same field of the same person (the CRM's edit
//     30 seconds later by the org's clock) and different fields of
//     another. The next sync resolves the conflict by the default
//     resolver, newest wins, logs the decision with both values, and
//     merges the other edits.
//  4. The org answers 503 to three upsert calls while the application adds
//     two customers, one with a status the picklist refuses. The good
//     write is retried and lands; the bad one becomes a dead letter. The
//     application fixes the row with SQL and the dead letter is replayed.
//  5. A last sync writes nothing: the two sides are at a fixed point, and
//     hold the same people with the same values.
//
// It closes with a summary (records on each side, API calls the org
// served, writes, conflicts, retries, replays), then runs the same first
// sync against the HubSpot and Dynamics 365 emulators, one line each, and
// removes the SQLite file. The sync engine's warnings, if any, go to stderr.
//
// # Against a real org
//
// With CRMKIT_SALESFORCE_URL (the org's instance URL) and
// CRMKIT_SALESFORCE_TOKEN (an access token) set, the same program runs
// against a real org, such as a Developer Edition org or a sandbox. The
// Salesforce CLI gives both for an org it is logged in to:
//
//	sf org display --target-org my-dev-org                  # Instance Url
//	sf org auth show-access-token --target-org my-dev-org   # the access token (older CLIs: org display shows it)
//	export CRMKIT_SALESFORCE_URL=https://mydomain.my.salesforce.com
//	export CRMKIT_SALESFORCE_TOKEN='00D...!...'
//	go run ./examples/quickstart
//
// The token is used as it is, never refreshed: get a fresh one if the org
// answers 401 (sessions expire after the org's timeout, two hours by default).
//
// The org needs the two custom fields on Contact, readable and editable by
// the user the token belongs to:
//
//	App_Id__c  Text(64), External ID, Unique
//	Status__c  Picklist: New, Customer, Lost; "Restrict picklist to the values defined in the value set"
//
// Against a real org the tour seeds its contacts under an email domain of
// its own (run-<random>.example.com), syncs only those (the first sync
// still pages once through the org's contacts to find them), injects no
// outage (it says so; the dead letter still happens, since the org refuses
// the bad status), and deletes every contact under that domain at the end.
// The conflict goes to whichever edit the org's and this machine's clocks
// call newer, or to the CRM when they are within two seconds.
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/crmkit/crmkit/adapters/salesforce/salesforcetest"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/syncengine"
	"github.com/crmkit/crmkit/syncengine/store/sqlite"
)

// config is what main reads from its flags and environment.
type config struct {
	// keep keeps the SQLite file instead of removing it at the end.
	keep bool
	// instanceURL and token, when both are set, select a real org instead
	// of the emulator.
	instanceURL, token string
	// skipOthers skips the HubSpot and Dynamics runs.
	skipOthers bool
	// log receives the engine's log (nothing when nil).
	log *slog.Logger
}

func main() {
	keep := flag.Bool("keep", false, "keep the SQLite file instead of removing it at the end")
	flag.Parse()
	cfg := config{
		keep:        *keep,
		instanceURL: os.Getenv("CRMKIT_SALESFORCE_URL"),
		token:       os.Getenv("CRMKIT_SALESFORCE_TOKEN"),
		log:         slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if err := run(context.Background(), os.Stdout, cfg); err != nil {
		log.Fatal(err)
	}
}

// The people of the tour. Ada, Grace and Alan are on both sides; Alan's
// email differs in case. Donald and Niklaus join in step 4.
var (
	appSeed = []person{
		{Email: "ada@example.com", First: "Ada", Last: "Lovelace", Status: "Customer"},
		{Email: "grace@example.com", First: "Grace", Last: "Hopper", Phone: "555-0100"},
		{Email: "Alan.Turing@Example.com", First: "Alan", Last: "Turing", Status: "New"},
		{Email: "katherine@example.com", First: "Katherine", Last: "Johnson", Status: "Customer"},
		{Email: "edsger@example.com", First: "Edsger", Last: "Dijkstra", Status: "New"},
		{Email: "barbara@example.com", First: "Barbara", Last: "Liskov", Status: "Lost"},
	}
	crmSeed = []person{
		{Email: "ada@example.com", First: "Ada", Last: "Lovelace", Notes: "met at the fair"},
		{Email: "grace@example.com", First: "Grace", Last: "Hopper", Status: "Customer"},
		{Email: "alan.turing@example.com", First: "Alan", Last: "Turing", Phone: "555-0199"},
		{Email: "margaret@example.com", First: "Margaret", Last: "Hamilton", Status: "Customer"},
		{Email: "radia@example.com", First: "Radia", Last: "Perlman", Status: "New"},
		{Email: "frances@example.com", First: "Frances", Last: "Allen"},
	}
	newcomers = []person{
		{Email: "donald@example.com", First: "Donald", Last: "Knuth", Status: "New"},
		{Email: "niklaus@example.com", First: "Niklaus", Last: "Wirth", Status: "VIP"}, // not in the picklist
	}
)

// tour holds what the steps share.
type tour struct {
	out    io.Writer
	cfg    config
	org    *salesforcetest.Server // nil against a real org
	offset atomic.Int64           // how far the emulated org's clock runs ahead
	client *crm.Client
	db     *sql.DB
	eng    *syncengine.Engine
	domain string // the contacts' email domain, "@example.com" or the run's own

	lastDecision int64
	writes       int
	conflicts    int
	retried      int
	replayed     int
	engineCalls  int
}

func run(ctx context.Context, out io.Writer, cfg config) (err error) {
	if cfg.log == nil {
		cfg.log = slog.New(slog.DiscardHandler)
	}
	t := &tour{out: out, cfg: cfg, domain: "@example.com"}
	realOrg := cfg.instanceURL != "" || cfg.token != ""
	if realOrg && (cfg.instanceURL == "" || cfg.token == "") {
		return errors.New("quickstart: to run against a real org set both CRMKIT_SALESFORCE_URL (the instance URL) and CRMKIT_SALESFORCE_TOKEN (an access token); set neither to use the emulator")
	}

	fmt.Fprintln(out, "crmkit quickstart: a SQLite table and Salesforce contacts, synced both ways")
	if realOrg {
		var b [4]byte
		_, _ = rand.Read(b[:])
		t.domain = "@run-" + hex.EncodeToString(b[:]) + ".example.com"
		fmt.Fprintf(out, "org:      %s (a real org; contacts under %s only)\n", cfg.instanceURL, t.domain[1:])
	} else {
		if t.org, err = emulatedOrg(&t.offset); err != nil {
			return err
		}
		defer t.org.Close()
		fmt.Fprintln(out, "org:      emulated Salesforce org on a loopback port (salesforcetest)")
	}
	fmt.Fprintln(out, "          Contact.App_Id__c: external id for the sync key; Contact.Status__c: picklist New/Customer/Lost")
	if t.client, err = salesforceClient(t.org, cfg.instanceURL, cfg.token); err != nil {
		return err
	}

	db, path, err := openAppDB()
	if err != nil {
		return err
	}
	t.db = db
	defer func() {
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if cfg.keep {
			fmt.Fprintf(out, "kept the database:\n%s\n", path)
			return
		}
		if rerr := os.RemoveAll(filepath.Dir(path)); err == nil {
			err = rerr
		}
		fmt.Fprintln(out, "removed the database")
	}()
	fmt.Fprintln(out, "database: a customers table and the sync state (crmkit_sync_*) in one SQLite file:")
	fmt.Fprintln(out, path)
	fmt.Fprintln(out, "map:      email first_name last_name phone status notes <-> Email FirstName LastName Phone Status__c Description")
	fmt.Fprintln(out, "          (email and phone are personal: the decision log masks them)")

	if realOrg {
		// Whatever happens, leave the org as it was: delete every contact
		// under the run's domain, the seeded ones and the synced ones.
		defer func() {
			n, cerr := deleteContacts(context.WithoutCancel(ctx), t.client, salesforceFields, t.domain)
			if err == nil {
				err = cerr
			}
			fmt.Fprintf(out, "cleanup: deleted the %d contacts under %s\n", n, t.domain[1:])
		}()
	}
	if err := t.setup(ctx); err != nil {
		return err
	}
	steps := []func(context.Context) error{t.seed, t.firstSync, t.editBothSides, t.outageAndBadRecord, t.fixedPoint}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return err
		}
	}
	if !cfg.skipOthers {
		return otherCRMs(ctx, out, db, cfg.log)
	}
	return nil
}

// setup builds the pairing: the application's table, the map (checked
// against the org's describe of Contact), the CRM endpoint, the store in
// the same database, and the engine.
func (t *tour) setup(ctx context.Context) error {
	app, err := createCustomerTable(ctx, t.db, "customers")
	if err != nil {
		return err
	}
	schema, err := t.client.Describe(ctx, "Contact")
	if err != nil {
		return err
	}
	m, err := customerMap("customers", salesforceFields, schema)
	if err != nil {
		return err
	}
	ep, err := syncengine.NewCRMEndpoint(t.client, "Contact", "App_Id__c", syncengine.WithCRMFields(m.CRMFields()...))
	if err != nil {
		return err
	}
	// The outbox lives in the application's own database: a write the
	// application commits and the engine's record of it share one file.
	store, err := sqlite.New(ctx, t.db)
	if err != nil {
		return err
	}
	t.eng, err = syncengine.New(store, syncengine.Pairing{
		Map:   m,
		App:   app,
		CRM:   scoped{CRMEndpoint: ep, email: "Email", suffix: t.domain},
		Match: []syncengine.MatchRule{{App: "email", CRM: "Email"}},
		// Resolver: nil takes the default, conflict.NewestWins(2*time.Second, conflict.CRM).
	},
		syncengine.WithLogger(t.cfg.log),
		syncengine.WithBackoff(func(int) time.Duration { return 50 * time.Millisecond }),
	)
	return err
}

// email puts a seed address under the run's domain.
func (t *tour) email(addr string) string {
	local, _, _ := strings.Cut(addr, "@")
	if t.domain == "@example.com" {
		return addr
	}
	return local + t.domain
}

func (t *tour) people(ps []person) []person {
	out := append([]person(nil), ps...)
	for i := range out {
		out[i].Email = t.email(out[i].Email)
	}
	return out
}

func (t *tour) seed(ctx context.Context) error {
	if err := insertCustomers(ctx, t.db, "customers", t.people(appSeed)); err != nil {
		return err
	}
	if err := createContacts(ctx, t.client, salesforceFields, t.people(crmSeed)); err != nil {
		return err
	}
	fmt.Fprintf(t.out, "\n== 1. Seed: %d customers in the app (plain SQL INSERTs), %d contacts in the CRM\n", len(appSeed), len(crmSeed))
	fmt.Fprintln(t.out, "   on both sides: Ada, Grace, and Alan, whose email is Alan.Turing@... in the app, alan.turing@... in the CRM")
	return nil
}

func (t *tour) firstSync(ctx context.Context) error {
	fmt.Fprintln(t.out, "\n== 2. First sync")
	rep, err := t.sync(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(t.out, indent(rep.String()))
	return t.showDecisions(ctx)
}

func (t *tour) editBothSides(ctx context.Context) error {
	fmt.Fprintln(t.out, "\n== 3. Edits on both sides")
	ids, err := contacts(ctx, t.client, salesforceFields, t.domain)
	if err != nil {
		return err
	}
	if _, err := t.db.ExecContext(ctx, `UPDATE customers SET notes = 'renewal due in May' WHERE email = ?`, t.email("grace@example.com")); err != nil {
		return err
	}
	if _, err := t.db.ExecContext(ctx, `UPDATE customers SET phone = '555-0142' WHERE email = ?`, t.email("ada@example.com")); err != nil {
		return err
	}
	fmt.Fprintln(t.out, `   app (SQL UPDATEs): Grace's notes = "renewal due in May"; Ada's phone = 555-0142`)
	when := "just after, by the org's clock"
	if t.org != nil {
		t.offset.Add(int64(30 * time.Second)) // as if the sales rep typed half a minute later
		when = "30s later by the org's clock"
	}
	for _, edit := range []struct {
		email  string
		fields crm.Fields
	}{
		{"grace@example.com", crm.Fields{"Description": "renewal signed"}},
		{"ada@example.com", crm.Fields{"Status__c": "Lost"}},
	} {
		c := ids[t.email(edit.email)]
		if c == nil {
			return fmt.Errorf("quickstart: the first sync left no CRM contact %s", t.email(edit.email))
		}
		if err := t.client.Update(ctx, "Contact", c.ID, edit.fields); err != nil {
			return err
		}
	}
	fmt.Fprintf(t.out, "   crm (%s): Grace's Description = \"renewal signed\"; Ada's Status__c = Lost\n", when)
	rep, err := t.sync(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(t.out, "   sync:", brief(rep))
	if err := t.showDecisions(ctx); err != nil {
		return err
	}
	var status sql.NullString
	if err := t.db.QueryRowContext(ctx, `SELECT status FROM customers WHERE email = ?`, t.email("ada@example.com")).Scan(&status); err != nil {
		return err
	}
	if ids, err = contacts(ctx, t.client, salesforceFields, t.domain); err != nil {
		return err
	}
	var phone any
	if ada := ids[t.email("ada@example.com")]; ada != nil {
		phone = ada.Fields["Phone"]
	}
	fmt.Fprintf(t.out, "   merged: Ada's app status is now %s, her CRM Phone %v\n", status.String, phone)
	return nil
}

func (t *tour) outageAndBadRecord(ctx context.Context) error {
	fmt.Fprintln(t.out, "\n== 4. An outage and a bad record")
	logged := 0
	if t.org != nil {
		logged = len(t.org.Requests())
		t.org.Inject("collections.upsert", 3, salesforcetest.Unavailable())
		fmt.Fprintln(t.out, "   the org will answer 503 to the next 3 upsert calls")
	} else {
		fmt.Fprintln(t.out, "   (a real org: no outage injected)")
	}
	if err := insertCustomers(ctx, t.db, "customers", t.people(newcomers)); err != nil {
		return err
	}
	fmt.Fprintln(t.out, `   app: new customers Donald (status New) and Niklaus (status "VIP", which the picklist refuses)`)
	rep, err := t.sync(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(t.out, "   sync:", brief(rep))
	cs, err := contacts(ctx, t.client, salesforceFields, t.domain)
	if err != nil {
		return err
	}
	landed := "Donald did not land"
	if cs[t.email("donald@example.com")] != nil {
		landed = "Donald landed"
	}
	if t.org != nil {
		upserts, refused := 0, 0
		for _, r := range t.org.Requests()[logged:] {
			if r.Route == "collections.upsert" {
				upserts++
				if r.Status == 503 {
					refused++
				}
			}
		}
		fmt.Fprintf(t.out, "   retry: the org answered 503 to %d of %d upsert requests (the driver tries a call twice, then the engine resent from its outbox); %s\n",
			refused, upserts, landed)
	} else {
		fmt.Fprintf(t.out, "   %s\n", landed)
	}
	dead, err := t.eng.DeadLetters(ctx)
	if err != nil {
		return err
	}
	for _, d := range dead {
		var who sql.NullString
		if err := t.db.QueryRowContext(ctx, `SELECT first_name FROM customers WHERE id = ?`, d.SourceID).Scan(&who); err != nil {
			return err
		}
		fmt.Fprintf(t.out, "   dead letter: %s (app customer %s) -> %s %s, kind %s, attempts %d:\n      %s\n",
			who.String, d.SourceID, d.Target, d.Op, d.ErrorKind, d.Attempts, d.Error)
	}
	if _, err := t.db.ExecContext(ctx, `UPDATE customers SET status = 'Customer' WHERE email = ?`, t.email("niklaus@example.com")); err != nil {
		return err
	}
	fmt.Fprintf(t.out, "   fix: UPDATE customers SET status = 'Customer' WHERE email = '%s'\n", t.email("niklaus@example.com"))
	for _, d := range dead {
		rep, err := t.eng.Replay(ctx, d.ID)
		if err != nil {
			return err
		}
		t.count(rep)
		t.replayed++
		fmt.Fprintf(t.out, "   replay: %s\n", brief(rep))
	}
	if cs, err = contacts(ctx, t.client, salesforceFields, t.domain); err != nil {
		return err
	}
	if n := cs[t.email("niklaus@example.com")]; n != nil {
		fmt.Fprintf(t.out, "   Niklaus is in the CRM with Status__c %v", n.Fields["Status__c"])
	}
	left, err := t.eng.DeadLetters(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(t.out, "; dead letters left: %d\n", len(left))
	return nil
}

func (t *tour) fixedPoint(ctx context.Context) error {
	fmt.Fprintln(t.out, "\n== 5. Once more: the fixed point")
	rep, err := t.sync(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(t.out, "   sync:", brief(rep))
	app, err := customers(ctx, t.db, "customers")
	if err != nil {
		return err
	}
	cs, err := contacts(ctx, t.client, salesforceFields, t.domain)
	if err != nil {
		return err
	}
	agree := "the same people with the same values"
	if diffs := compare(app, cs, salesforceFields); len(diffs) > 0 {
		agree = "DIFFERENCES: " + strings.Join(diffs, "; ")
	}
	fmt.Fprintln(t.out, "\n== Summary")
	fmt.Fprintf(t.out, "   app %d customers, CRM %d contacts: %s\n", len(app), len(cs), agree)
	if t.org != nil {
		fmt.Fprintf(t.out, "   the org served %d API requests; %d were the sync engine's calls (the rest: versions, describe, seeding, the tour's reads, retries)\n",
			t.org.Total(), t.engineCalls)
	} else {
		fmt.Fprintf(t.out, "   the sync engine made %d API calls\n", t.engineCalls)
	}
	fmt.Fprintf(t.out, "   writes %d (both sides), conflicts %d, retries %d, dead letters replayed %d\n", t.writes, t.conflicts, t.retried, t.replayed)
	return nil
}

// sync runs the engine once and adds the report to the tour's totals.
func (t *tour) sync(ctx context.Context) (*syncengine.Report, error) {
	rep, err := t.eng.RunOnce(ctx)
	if err != nil {
		return nil, err
	}
	t.count(rep)
	return rep, nil
}

func (t *tour) count(rep *syncengine.Report) {
	t.writes += rep.Writes()
	t.conflicts += rep.ConflictCount()
	t.retried += rep.Retried
	t.engineCalls += rep.Calls.CRM
}

// showDecisions prints the decision log's new entries.
func (t *tour) showDecisions(ctx context.Context) error {
	ds, err := t.eng.Decisions(ctx, t.lastDecision, 0)
	if err != nil {
		return err
	}
	for _, d := range ds {
		t.lastDecision = d.ID
		var who sql.NullString
		if err := t.db.QueryRowContext(ctx, `SELECT first_name FROM customers WHERE id = ?`, d.AppID).Scan(&who); err != nil {
			return err
		}
		fmt.Fprintf(t.out, "   decision: %s's %s: app %s, crm %s -> %s wins (%s)\n      reason: %s\n",
			who.String, d.Field, d.AppValue, d.CRMValue, d.Winner, d.Resolver, d.Reason)
	}
	return nil
}

// brief renders a report on one line, leaving out what is zero.
func brief(r *syncengine.Report) string {
	parts := []string{fmt.Sprintf("read app %d, crm %d", r.Read.App, r.Read.CRM)}
	add := func(format string, n int, args ...any) {
		if n != 0 {
			parts = append(parts, fmt.Sprintf(format, args...))
		}
	}
	add("matched %d", r.Matched, r.Matched)
	add("created crm %d, app %d", r.Created.Total(), r.Created.CRM, r.Created.App)
	add("updated crm %d, app %d", r.Updated.Total(), r.Updated.CRM, r.Updated.App)
	add("deleted crm %d, app %d", r.Deleted.Total(), r.Deleted.CRM, r.Deleted.App)
	add("echoes %d", r.Echoes, r.Echoes)
	add("merged %d", r.Merged, r.Merged)
	if n := r.ConflictCount(); n > 0 {
		keys := make([]string, 0, len(r.Conflicts))
		for k := range r.Conflicts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts = append(parts, fmt.Sprintf("conflicts %d (%s)", n, strings.Join(keys, ", ")))
	}
	add("retried %d", r.Retried, r.Retried)
	add("dead-lettered %d", r.DeadLettered, r.DeadLettered)
	add("pending %d", r.Pending, r.Pending)
	parts = append(parts, fmt.Sprintf("writes %d", r.Writes()))
	return strings.Join(parts, "; ")
}

func indent(s string) string { return "   " + strings.ReplaceAll(s, "\n", "\n   ") }
