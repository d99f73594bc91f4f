package syncengine_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/crmkit/crmkit/adapters/salesforce"
	"github.com/crmkit/crmkit/adapters/salesforce/salesforcetest"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/syncengine"
	"github.com/crmkit/crmkit/syncengine/sqltable"
	"github.com/crmkit/crmkit/syncengine/store/sqlite"

	_ "modernc.org/sqlite"
)

// The crash test runs the engine in a child process, the test binary itself
// started again with crashChildEnv set; TestMain sends it to crashChild
// instead of the tests.
const crashChildEnv = "CRMKIT_SYNC_CRASH_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(crashChild())
	}
	os.Exit(m.Run())
}

// crashTable is the application's customers table in the crash test.
var crashTable = sqltable.Table{Name: "customers", Columns: []sqltable.Column{
	{Name: "email", Kind: crm.ValueString}, {Name: "name", Kind: crm.ValueString},
	{Name: "phone", Kind: crm.ValueString}, {Name: "status", Kind: crm.ValueString},
	{Name: "notes", Kind: crm.ValueString},
}}

// appDSN opens the application's SQLite file as sqltable asks: WAL, a busy
// timeout, and write transactions that take the lock up front.
func appDSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate"
}

// crashChild syncs until the pair is quiet, printing each run's report, and
// returns the exit code. It holds no state of its own: everything is in the
// SQLite file and the org, so a SIGKILL at any instant must lose nothing.
func crashChild() int {
	ctx := context.Background()
	dir, url, token := os.Getenv("CRASH_DIR"), os.Getenv("CRASH_ORG_URL"), os.Getenv("CRASH_ORG_TOKEN")
	fail := func(err error) int { fmt.Println("child error:", err); return 3 }

	drv, err := salesforce.New(salesforce.WithInstanceURL(url),
		salesforce.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token})))
	if err != nil {
		return fail(err)
	}
	client, err := crm.NewClient(drv)
	if err != nil {
		return fail(err)
	}
	schema, err := client.Describe(ctx, "Contact")
	if err != nil {
		return fail(err)
	}
	m, err := buildCustomerMap(salesforceNames, schema)
	if err != nil {
		return fail(err)
	}
	crmSide, err := syncengine.NewCRMEndpoint(client, "Contact", salesforceNames.External, syncengine.WithCRMFields(m.CRMFields()...))
	if err != nil {
		return fail(err)
	}
	path := filepath.Join(dir, "app.db")
	db, err := sql.Open("sqlite", appDSN(path))
	if err != nil {
		return fail(err)
	}
	app, err := sqltable.New(db, crashTable)
	if err != nil {
		return fail(err)
	}
	// The engine's state lives in the application's own database file.
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		return fail(err)
	}
	eng, err := syncengine.New(store, syncengine.Pairing{
		Map: m, App: app, CRM: crmSide,
		Match: []syncengine.MatchRule{{App: "email", CRM: "Email"}},
	},
		syncengine.WithOwner("crash-worker"), // a restarted worker takes its own lease back
		syncengine.WithBatchSize(10),         // many small steps, so kills land between them
		syncengine.WithBackoff(func(int) time.Duration { return time.Millisecond }),
		syncengine.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		// One line per batch that lands: the parent times its kills by them.
		syncengine.WithProgress(func(r syncengine.Report) {
			if r.Finished.IsZero() {
				fmt.Printf("progress writes=%d\n", r.Writes())
			}
		}),
	)
	if err != nil {
		return fail(err)
	}
	for range 20 {
		rep, err := eng.RunOnce(ctx)
		if err != nil {
			fmt.Println("run error:", err)
			continue
		}
		fmt.Printf("run writes=%d created=%d/%d updated=%d/%d matched=%d echoes=%d pending=%d dead=%d\n",
			rep.Writes(), rep.Created.App, rep.Created.CRM, rep.Updated.App, rep.Updated.CRM, rep.Matched, rep.Echoes, rep.Pending, rep.DeadLettered)
		if rep.Writes() == 0 && rep.Pending == 0 && rep.DeadLettered == 0 {
			fmt.Println("converged")
			return 0
		}
	}
	return fail(fmt.Errorf("no fixed point after 20 runs"))
}

// A real child process running the engine is killed with SIGKILL at 50
// random points of a 2,000-record sync (1,000 application rows, 1,000 CRM
// contacts, 200 people on both sides) and restarted each time. At the end
// both sides hold exactly the 1,800 people, none missing, none twice, with
// the values the sync should have given them.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 50+ processes")
	}
	const (
		appOnly, crmOnly, shared = 800, 800, 200
		kills                    = 50
	)
	ctx := context.Background()
	dir := t.TempDir()
	org := salesforceOrg(t, nil)

	// The application's table, and its rows, written with plain SQL.
	db, err := sql.Open("sqlite", appDSN(filepath.Join(dir, "app.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stmts, err := sqltable.SQLiteSchema(crashTable)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	insert := func(email, name, phone string) {
		if _, err := db.Exec(`INSERT INTO customers (email, name, phone) VALUES (?, ?, ?)`, email, name, phone); err != nil {
			t.Fatal(err)
		}
	}
	var contacts []crm.Fields
	for i := range appOnly {
		insert(fmt.Sprintf("app-%04d@example.com", i), fmt.Sprintf("App%d", i), "555-0100")
	}
	for i := range crmOnly {
		contacts = append(contacts, crm.Fields{"Email": fmt.Sprintf("crm-%04d@example.com", i), "LastName": fmt.Sprintf("Crm%d", i), "Description": "from the CRM"})
	}
	for i := range shared {
		email := fmt.Sprintf("both-%04d@example.com", i)
		insert(email, fmt.Sprintf("Both%d", i), "555-0199")
		contacts = append(contacts, crm.Fields{"Email": email, "LastName": fmt.Sprintf("Both%d", i), "Description": "known to both"})
	}
	if _, err := org.Seed("Contact", contacts...); err != nil {
		t.Fatal(err)
	}

	// Every request takes a while, half of them after the org has done the
	// work: a kill then lands between a write and its answer, the window
	// in which a careless engine makes duplicates.
	org.InjectRandom("", 1, salesforcetest.Slow(40*time.Millisecond), salesforcetest.Slow(40*time.Millisecond).AfterWork())

	seed := uint64(time.Now().UnixNano())
	t.Logf("kill schedule seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	start := func() (*exec.Cmd, *bytes.Buffer, <-chan string) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"=1", "CRASH_DIR="+dir, "CRASH_ORG_URL="+org.URL, "CRASH_ORG_TOKEN="+org.Token())
		out := new(bytes.Buffer)
		cmd.Stderr = out
		pipe, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(pipe)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		return cmd, out, lines
	}
	// Each child is killed at a random point: during start-up or planning
	// (after a random delay), or a random number of landed batches into its
	// work and then a random moment more, which falls inside the next
	// batch: before its request, while the org works, after the org has
	// written but before the answer, or between the answer and the commit.
	where := map[string]int{}
	// The sync is about 200 batches (2,000 writes, 10 to a batch). Each
	// child's budget of batches is drawn so the kills spread over all of it.
	remaining := 2000 / 10
	for i := range kills {
		cmd, out, lines := start()
		budget := rng.IntN(max(1, 6*remaining/(5*(kills-i+1))))
		var seen []string
		deadline := time.After(time.Duration(rng.Int64N(int64(300*time.Millisecond))) + 5*time.Millisecond)
		if budget > 0 {
			deadline = nil
		}
		landed := 0
	wait:
		for {
			select {
			case <-deadline:
				where["start-up or planning"]++
				break wait
			case line, ok := <-lines:
				if !ok {
					_ = cmd.Wait()
					t.Fatalf("the sync finished after only %d kills; kill sooner:\n%s\n%s", i, strings.Join(seen, "\n"), out)
				}
				seen = append(seen, line)
				if strings.HasPrefix(line, "progress") {
					landed++
					if landed == budget {
						time.Sleep(time.Duration(rng.Int64N(int64(25 * time.Millisecond))))
						where[fmt.Sprintf("%d batches in", budget)]++
						break wait
					}
				}
				if strings.Contains(line, "converged") || strings.Contains(line, "error") {
					_ = cmd.Process.Kill()
					_ = cmd.Wait()
					t.Fatalf("child %d: %s\n%s", i, strings.Join(seen, "\n"), out)
				}
			case <-time.After(time.Minute):
				t.Fatalf("child %d made no progress for a minute:\n%s\n%s", i, strings.Join(seen, "\n"), out)
			}
		}
		if err := cmd.Process.Kill(); err != nil { // SIGKILL: no defer, no flush, no goodbye
			t.Fatal(err)
		}
		_ = cmd.Wait()
		for l := range lines {
			seen = append(seen, l)
		}
		remaining -= len(filterPrefix(seen, "progress"))
		if os.Getenv("CRASH_DEBUG") != "" {
			t.Logf("child %d (budget %d): %q", i, budget, seen)
		}
	}
	t.Logf("kill points: %v", where)
	org.ClearFaults()

	// Now let it finish, twice: the second must find nothing to do.
	left := ""
	for round := range 2 {
		cmd, out, lines := start()
		var got []string
		collected := make(chan struct{})
		go func() {
			for l := range lines {
				got = append(got, l)
			}
			close(collected)
		}()
		done := make(chan error, 1)
		go func() { <-collected; done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("final child %d: %v\n%s", round, err, out)
			}
		case <-time.After(3 * time.Minute):
			_ = cmd.Process.Kill()
			t.Fatalf("final child %d did not finish:\n%s", round, out)
		}
		runs := filterPrefix(got, "run ")
		if len(runs) == 0 {
			t.Fatalf("final child %d printed no run:\n%s", round, strings.Join(got, "\n"))
		}
		if round == 0 {
			left = runs[0]
		}
		if round == 1 {
			first := runs[0]
			if !strings.HasPrefix(first, "run writes=0 ") {
				t.Fatalf("a run after convergence should write nothing, got %q", first)
			}
		}
	}

	// Both sides hold exactly the expected people.
	want := map[string]string{} // email -> name
	for i := range appOnly {
		want[fmt.Sprintf("app-%04d@example.com", i)] = fmt.Sprintf("App%d", i)
	}
	for i := range crmOnly {
		want[fmt.Sprintf("crm-%04d@example.com", i)] = fmt.Sprintf("Crm%d", i)
	}
	for i := range shared {
		want[fmt.Sprintf("both-%04d@example.com", i)] = fmt.Sprintf("Both%d", i)
	}

	rows, err := db.Query(`SELECT email, name, phone, notes FROM customers WHERE deleted = 0`)
	if err != nil {
		t.Fatal(err)
	}
	appSeen := map[string]int{}
	for rows.Next() {
		var email, name string
		var phone, notes sql.NullString
		if err := rows.Scan(&email, &name, &phone, &notes); err != nil {
			t.Fatal(err)
		}
		appSeen[email]++
		if want[email] != name {
			t.Errorf("app %s: name %q, want %q", email, name, want[email])
		}
		if strings.HasPrefix(email, "both-") && (notes.String != "known to both" || phone.String != "555-0199") {
			t.Errorf("app %s: notes %q phone %q: the merge should keep both sides' fields", email, notes.String, phone.String)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	client := salesforceClient(t, org)
	crmSeen := map[string]int{}
	for r, err := range client.Query(ctx, crm.Query{Object: "Contact", Fields: []string{"Email", "LastName", "Phone"}}) {
		if err != nil {
			t.Fatal(err)
		}
		email, _ := r.Fields["Email"].(string)
		crmSeen[email]++
		if want[email] != r.Fields["LastName"] {
			t.Errorf("crm %s: name %v, want %q", email, r.Fields["LastName"], want[email])
		}
		if strings.HasPrefix(email, "app-") && r.Fields["Phone"] != "555-0100" {
			t.Errorf("crm %s: phone %v", email, r.Fields["Phone"])
		}
	}
	for side, seen := range map[string]map[string]int{"app": appSeen, "crm": crmSeen} {
		missing, dup := 0, 0
		for email := range want {
			switch n := seen[email]; {
			case n == 0:
				missing++
			case n > 1:
				dup++
			}
		}
		extra := len(seen) - (len(want) - missing)
		if missing+dup+extra > 0 || len(seen) != len(want) {
			t.Errorf("%s side: %d people, want %d: %d missing, %d duplicated, %d unexpected", side, len(seen), len(want), missing, dup, extra)
		}
	}
	t.Logf("the run after the last kill: %s", left)
	t.Logf("after %d kills: app %d people, crm %d people; org served %d requests", kills, len(appSeen), len(crmSeen), org.Total())
}

func filterPrefix(lines []string, prefix string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}
