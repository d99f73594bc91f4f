package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmkit/crmkit/syncengine"
	"github.com/crmkit/crmkit/syncengine/store/postgres"
	"github.com/crmkit/crmkit/syncengine/store/storetest"
)

// TestConformance runs the suite on Stores made by Open, each in a fresh
// schema.
func TestConformance(t *testing.T) {
	admin := testPool(t)
	storetest.Run(t, func(t *testing.T, now func() time.Time) syncengine.Store {
		return open(t, admin, postgres.WithClock(now))
	})
}

// TestConformanceSimpleProtocol runs the suite on Stores made by New on one
// shared pool that sends every statement as a simple query, as a pool
// behind a PgBouncer in transaction mode is set up, each Store in a fresh
// schema of that pool's database.
func TestConformanceSimpleProtocol(t *testing.T) {
	admin := testPool(t)
	cfg, err := pgxpool.ParseConfig(testDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	storetest.Run(t, func(t *testing.T, now func() time.Time) syncengine.Store {
		s, err := postgres.New(t.Context(), pool, postgres.WithSchema(scratchSchema(t, admin)), postgres.WithClock(now))
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		return s
	})
}

func TestNewLeavesPoolOpen(t *testing.T) {
	pool := testPool(t)
	s, err := postgres.New(t.Context(), pool, postgres.WithSchema(scratchSchema(t, pool)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := pool.Ping(t.Context()); err != nil {
		t.Fatalf("the caller's pool after Store.Close: %v, want it still open", err)
	}
	if _, err := postgres.New(t.Context(), nil); err == nil {
		t.Fatal("New(nil) succeeded")
	}
}

func TestBadSchemaName(t *testing.T) {
	dsn := testDSN(t)
	for _, name := range []string{"", strings.Repeat("s", 64), "a\x00b", "bad\xff"} {
		if s, err := postgres.Open(t.Context(), dsn, postgres.WithSchema(name)); err == nil {
			s.Close()
			t.Errorf("Open with schema %q succeeded, want an error", name)
		} else if !strings.Contains(err.Error(), "schema name") {
			t.Errorf("Open with schema %q: err = %v, want one naming the schema name", name, err)
		}
	}
}

// TestSchemaNameQuoted uses a schema whose name needs quoting.
func TestSchemaNameQuoted(t *testing.T) {
	admin := testPool(t)
	name := `Odd "Name"; ` + scratchSchema(t, admin)
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE")
	})
	s := openIn(t, postgres.WithSchema(name))
	commitLink(t, s, "p", "a1", "c1")
	var n int
	if err := admin.QueryRow(t.Context(), `SELECT count(*) FROM `+pgx.Identifier{name, "crmkit_sync_links"}.Sanitize()).Scan(&n); err != nil || n != 1 {
		t.Fatalf("links in schema %q = %d, %v; want 1", name, n, err)
	}
	if got := s.String(); !strings.Contains(got, name) {
		t.Errorf("String() = %q, want the schema name", got)
	}
}

func commitLink(t *testing.T, s *postgres.Store, pairing, app, crm string) {
	t.Helper()
	if err := s.Commit(t.Context(), pairing, &syncengine.Changeset{Links: []*syncengine.Link{{AppID: app, CRMID: crm}}}); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentOpenOfNewSchema opens one new schema from several Stores
// (pools) at once, as workers starting together do: every Open succeeds and
// the schema is migrated once.
func TestConcurrentOpenOfNewSchema(t *testing.T) {
	admin := testPool(t)
	for round := range 3 {
		schema := scratchSchema(t, admin)
		var wg sync.WaitGroup
		errs := make(chan error, 6)
		for range 6 {
			wg.Go(func() {
				s, err := postgres.Open(t.Context(), testDSN(t), postgres.WithSchema(schema))
				if err != nil {
					errs <- err
					return
				}
				defer s.Close()
				errs <- s.Commit(t.Context(), "p", &syncengine.Changeset{Decisions: []*syncengine.DecisionRecord{{Field: "f"}}})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("round %d: %v", round, err)
			}
		}
		var n, v int
		if err := admin.QueryRow(t.Context(), `SELECT count(*), max(version) FROM `+pgx.Identifier{schema, "crmkit_sync_schema"}.Sanitize()).Scan(&n, &v); err != nil {
			t.Fatal(err)
		}
		if n != 1 || v != 1 {
			t.Errorf("round %d: schema versions recorded = %d, latest %d; want 1 row, version 1", round, n, v)
		}
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	admin := testPool(t)
	schema := scratchSchema(t, admin)
	s, err := postgres.Open(t.Context(), testDSN(t), postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := admin.Exec(t.Context(), `INSERT INTO `+pgx.Identifier{schema, "crmkit_sync_schema"}.Sanitize()+` (version) VALUES (99)`); err != nil {
		t.Fatal(err)
	}
	_, err = postgres.Open(t.Context(), testDSN(t), postgres.WithSchema(schema))
	if err == nil || !strings.Contains(err.Error(), "upgrade crmkit") || !strings.Contains(err.Error(), "99") {
		t.Fatalf("Open of a newer schema: err = %v, want one naming version 99 and saying to upgrade crmkit", err)
	}
	_, err = postgres.New(t.Context(), admin, postgres.WithSchema(schema))
	if err == nil || !strings.Contains(err.Error(), "upgrade crmkit") {
		t.Fatalf("New on a newer schema: err = %v, want one saying to upgrade crmkit", err)
	}
}

// TestPasswordNeverInErrors makes Open fail in the ways a DSN can (it does
// not parse, the server refuses the password, nothing listens) and requires
// that the password shows in no error's text, and that no error keeps
// pgx's *pgconn.ConnectError, whose Config holds the password.
func TestPasswordNeverInErrors(t *testing.T) {
	dsn := testDSN(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "s3cret-Pa55-word"
	wrong := fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable&connect_timeout=5", cfg.User, secret, cfg.Host, cfg.Port, cfg.Database)
	cases := map[string]string{
		"bad port in a URL":           "postgres://u:" + secret + "@localhost:notaport/db",
		"password parsed as the port": "postgres://u:" + secret + "@h:sec:ret@h/db",
		"bad keyword form":            "host=localhost password=" + secret + " port=abc",
		"unterminated quote":          "host=localhost password='" + secret,
		"nothing listening":           "postgres://u:" + secret + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=5",
		"wrong password":              wrong,
	}
	for name, d := range cases {
		t.Run(name, func(t *testing.T) {
			s, err := postgres.Open(t.Context(), d)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			t.Logf("error: %v", err)
			if strings.Contains(err.Error(), secret) || strings.Contains(fmt.Sprintf("%+v", err), secret) {
				t.Fatalf("error shows the password: %v", err)
			}
			var ce *pgconn.ConnectError
			if errors.As(err, &ce) {
				t.Fatalf("error keeps a *pgconn.ConnectError (its Config has the password): %v", err)
			}
			var pe *pgconn.ParseConfigError
			if errors.As(err, &pe) {
				t.Fatalf("error keeps a *pgconn.ParseConfigError (its ConnString has the password): %v", err)
			}
		})
	}
	// The server's refusal stays reachable for callers that branch on it.
	_, err = postgres.Open(t.Context(), wrong)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
		t.Errorf("wrong password: err = %v, want the server's 28P01 (invalid_password) reachable with errors.As", err)
	}
}

// TestTwoStoresShareADatabase runs two Stores, on two pools, against one
// schema, as two workers on two machines would.
func TestTwoStoresShareADatabase(t *testing.T) {
	admin := testPool(t)
	schema := scratchSchema(t, admin)
	a, b := openIn(t, postgres.WithSchema(schema)), openIn(t, postgres.WithSchema(schema))

	commitLink(t, a, "p", "a1", "c1")
	got, err := b.Links(t.Context(), "p", syncengine.App, []string{"a1"})
	if err != nil || got["a1"] == nil || got["a1"].CRMID != "c1" {
		t.Fatalf("second store's Links = %v, %v; want the first store's link", got, err)
	}
	e := &syncengine.OutboxEntry{Target: syncengine.CRM, Op: syncengine.Upsert, Key: "k"}
	if err := b.Commit(t.Context(), "p", &syncengine.Changeset{Enqueue: []*syncengine.OutboxEntry{e}, Cursors: map[syncengine.Side]string{syncengine.CRM: "x"}}); err != nil {
		t.Fatal(err)
	}
	es, err := a.Outbox(t.Context(), "p", syncengine.OutboxQuery{})
	if err != nil || len(es) != 1 || es[0].ID != e.ID {
		t.Fatalf("first store's Outbox = %v, %v; want the second store's entry %d", es, err, e.ID)
	}
	if cur, err := a.Cursor(t.Context(), "p", syncengine.CRM); err != nil || cur != "x" {
		t.Fatalf("first store's Cursor = %q, %v; want %q", cur, err, "x")
	}
	// Settling through one what the other enqueued.
	if err := a.Commit(t.Context(), "p", &syncengine.Changeset{Settle: []int64{e.ID}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(t.Context(), "p", &syncengine.Changeset{Settle: []int64{e.ID}}); !errors.Is(err, syncengine.ErrNotFound) {
		t.Fatalf("settling again through the other store: err = %v, want ErrNotFound", err)
	}
}

// TestTwoStoresConcurrent commits from two Stores on two pools at once, in
// one pairing and another, and races their workers for the lease: no
// enqueue is lost, no id is given twice, and one owner at a time holds the
// lease across both.
func TestTwoStoresConcurrent(t *testing.T) {
	admin := testPool(t)
	schema := scratchSchema(t, admin)
	clock := &fakeClock{now: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)}
	stores := []*postgres.Store{
		openIn(t, postgres.WithSchema(schema), postgres.WithClock(clock.Now)),
		openIn(t, postgres.WithSchema(schema), postgres.WithClock(clock.Now)),
	}
	const workers, commits, perCommit = 4, 12, 3
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		ids  = map[int64]bool{}
	)
	for si, s := range stores {
		for w := range workers {
			wg.Go(func() {
				for c := range commits {
					pairing := []string{"p", "q"}[c%2]
					batch := make([]*syncengine.OutboxEntry, perCommit)
					for i := range batch {
						batch[i] = &syncengine.OutboxEntry{Target: syncengine.CRM, Op: syncengine.Upsert, Key: fmt.Sprint(si, w, c, i)}
					}
					// A read, then a write, as the engine does.
					_, rerr := s.Outbox(t.Context(), pairing, syncengine.OutboxQuery{Limit: 1})
					werr := s.Commit(t.Context(), pairing, &syncengine.Changeset{
						Enqueue: batch,
						// Links that collide across workers: each relinks a
						// shared app id, so commits replace each other's.
						Links:   []*syncengine.Link{{AppID: fmt.Sprint("shared-", c%3), CRMID: fmt.Sprint("c", si, w, c)}},
						Cursors: map[syncengine.Side]string{syncengine.App: fmt.Sprint(si, w, c)},
					})
					mu.Lock()
					errs = append(errs, rerr, werr)
					if werr == nil {
						for _, e := range batch {
							if ids[e.ID] {
								errs = append(errs, fmt.Errorf("ID %d given twice", e.ID))
							}
							ids[e.ID] = true
						}
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	total := 0
	for _, p := range []string{"p", "q"} {
		es, err := stores[0].Outbox(t.Context(), p, syncengine.OutboxQuery{})
		if err != nil {
			t.Fatal(err)
		}
		total += len(es)
		for _, e := range es {
			if !ids[e.ID] {
				t.Errorf("outbox of %q holds id %d, which no commit was given", p, e.ID)
			}
		}
		// Each shared app id ended up linked exactly once, to one CRM id.
		ls, err := stores[1].Links(t.Context(), p, syncengine.App, []string{"shared-0", "shared-1", "shared-2"})
		if err != nil {
			t.Fatal(err)
		}
		for app, l := range ls {
			back, err := stores[0].Links(t.Context(), p, syncengine.CRM, []string{l.CRMID})
			if err != nil || back[l.CRMID] == nil || back[l.CRMID].AppID != app {
				t.Errorf("link %s-%s of %q is not found by its CRM id: %v, %v", app, l.CRMID, p, back, err)
			}
		}
	}
	if want := 2 * workers * commits * perCommit; total != want || len(ids) != want {
		t.Errorf("outbox holds %d entries, %d ids written back; want %d of each: an enqueue was lost", total, len(ids), want)
	}

	// The lease: rounds of every worker of both stores racing for it. In
	// each round exactly one owner holds it; the holder's lease keeps the
	// others out until it expires, and then exactly one takes it over.
	const ttl = time.Minute
	holder := ""
	for round := range 5 {
		var winners []string
		var lerrs []error
		var wg sync.WaitGroup
		for si, s := range stores {
			for w := range workers {
				wg.Go(func() {
					owner := fmt.Sprint("worker-", si, "-", w)
					ok, err := s.AcquireLease(t.Context(), "p", owner, ttl)
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						lerrs = append(lerrs, err)
					}
					if ok {
						winners = append(winners, owner)
					}
				})
			}
		}
		wg.Wait()
		if len(lerrs) > 0 {
			t.Fatalf("round %d: AcquireLease errors: %v", round, lerrs)
		}
		if len(winners) != 1 {
			t.Fatalf("round %d: owners holding the lease = %v, want exactly one", round, winners)
		}
		if holder != "" && round%2 == 1 && winners[0] != holder {
			t.Fatalf("round %d: %s took %s's unexpired lease", round, winners[0], holder)
		}
		holder = winners[0]
		if round%2 == 1 {
			clock.Advance(ttl) // the lease is free at its expiry
		} else {
			clock.Advance(ttl / 2) // half way: still the holder's
		}
	}
}

// TestDecisionPagingAcrossStores pages through the decision log while
// writers on two Stores log decisions in the same pairing: because a
// pairing's commits take turns, ids become visible in increasing order, and
// a reader that remembers the last id it saw misses none.
func TestDecisionPagingAcrossStores(t *testing.T) {
	admin := testPool(t)
	schema := scratchSchema(t, admin)
	a, b := openIn(t, postgres.WithSchema(schema)), openIn(t, postgres.WithSchema(schema))
	const writers, commits = 4, 25
	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, 2*writers+1)
	for i, s := range []*postgres.Store{a, b, a, b}[:writers] {
		wg.Go(func() {
			for c := range commits {
				ds := []*syncengine.DecisionRecord{{Field: fmt.Sprint(i, "-", c, "-a")}, {Field: fmt.Sprint(i, "-", c, "-b")}}
				if err := s.Commit(t.Context(), "p", &syncengine.Changeset{Decisions: ds, Cursors: map[syncengine.Side]string{syncengine.CRM: fmt.Sprint(c)}}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	seen := map[int64]bool{}
	var last int64
	page := func() error {
		ds, err := b.Decisions(t.Context(), "p", last, 7)
		if err != nil {
			return err
		}
		for _, d := range ds {
			if d.ID <= last {
				return fmt.Errorf("decision %d came after %d", d.ID, last)
			}
			seen[d.ID], last = true, d.ID
		}
		return nil
	}
	go func() { wg.Wait(); close(done) }()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		if err := page(); err != nil {
			t.Fatal(err)
		}
	}
	for { // what is left after the writers finished
		n := len(seen)
		if err := page(); err != nil {
			t.Fatal(err)
		}
		if len(seen) == n {
			break
		}
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	all, err := a.Decisions(t.Context(), "p", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2*writers*commits {
		t.Fatalf("decision log holds %d, want %d", len(all), 2*writers*commits)
	}
	for _, d := range all {
		if !seen[d.ID] {
			t.Errorf("the pager skipped decision %d (%s)", d.ID, d.Field)
		}
	}
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestTextPostgresCannotHold: ids and names are stored exactly or refused
// with an error naming the field; text written for people (error messages,
// reasons) is stored with what PostgreSQL's text cannot hold replaced.
func TestTextPostgresCannotHold(t *testing.T) {
	admin := testPool(t)
	s := open(t, admin)
	ctx := t.Context()
	for name, c := range map[string]*syncengine.Changeset{
		"Links[0].CRMID":      {Links: []*syncengine.Link{{AppID: "a1", CRMID: "c\x001"}}},
		"Links[0].AppHashes":  {Links: []*syncengine.Link{{AppID: "a1", CRMID: "c1", AppHashes: map[string]string{"f": "\xff"}}}},
		"Enqueue[0].SourceID": {Enqueue: []*syncengine.OutboxEntry{{Target: syncengine.CRM, Op: syncengine.Upsert, SourceID: "s\xc3"}}},
		"Decisions[0].Field":  {Decisions: []*syncengine.DecisionRecord{{Field: "\x00"}}},
		"Park[0].AppID":       {Park: []*syncengine.ParkedConflict{{AppID: "\xfe"}}},
	} {
		c.Cursors = map[syncengine.Side]string{syncengine.App: "must-not-stick"}
		err := s.Commit(ctx, "p", c)
		if err == nil || !strings.Contains(err.Error(), name) || errors.Is(err, syncengine.ErrNotFound) {
			t.Errorf("Commit with a bad %s: err = %v, want an input error naming it", name, err)
		}
	}
	if cur, err := s.Cursor(ctx, "p", syncengine.App); err != nil || cur != "" {
		t.Fatalf("cursor after refused commits = %q, %v; want none", cur, err)
	}
	if err := s.Commit(ctx, "p\x00", &syncengine.Changeset{Settle: []int64{1}}); err == nil || errors.Is(err, syncengine.ErrNotFound) {
		t.Errorf("Commit to a pairing with NUL: err = %v, want an input error", err)
	}

	e := &syncengine.OutboxEntry{Target: syncengine.CRM, Op: syncengine.Upsert, Error: "bad byte \xff and NUL \x00 from a server"}
	if err := s.Commit(ctx, "p", &syncengine.Changeset{Enqueue: []*syncengine.OutboxEntry{e}}); err != nil {
		t.Fatal(err)
	}
	es, err := s.Outbox(ctx, "p", syncengine.OutboxQuery{})
	if err != nil || len(es) != 1 || es[0].Error != "bad byte \uFFFD and NUL \uFFFD from a server" {
		t.Fatalf("entry with a malformed error message = %+v, %v; want it stored with U+FFFD in place of the bad bytes", es, err)
	}
	// An id that cannot be stored has no link, and looking it up is no error.
	commitLink(t, s, "p", "a1", "c1")
	ls, err := s.Links(ctx, "p", syncengine.App, []string{"a\x00", "a1", "\xff"})
	if err != nil || len(ls) != 1 || ls["a1"] == nil {
		t.Fatalf("Links with unstorable ids = %v, %v; want only a1", ls, err)
	}
	// Removing a link by an id that cannot be stored removes nothing.
	if err := s.Commit(ctx, "p", &syncengine.Changeset{RemoveLinks: []*syncengine.Link{{AppID: "\xff"}}}); err != nil {
		t.Fatal(err)
	}
	if ls, _ := s.Links(ctx, "p", syncengine.App, []string{"a1"}); ls["a1"] == nil {
		t.Error("a removal by an unstorable id removed a1's link")
	}
}

// TestLargeCommit commits more statements than one batch carries: ids are
// still increasing in order, and a commit that fails in its last batch
// leaves nothing of its earlier batches.
func TestLargeCommit(t *testing.T) {
	s := open(t, testPool(t))
	ctx := t.Context()
	const n = 2500
	es := make([]*syncengine.OutboxEntry, n)
	ds := make([]*syncengine.DecisionRecord, n/2)
	for i := range es {
		es[i] = &syncengine.OutboxEntry{Target: syncengine.CRM, Op: syncengine.Upsert, Key: fmt.Sprint(i)}
	}
	for i := range ds {
		ds[i] = &syncengine.DecisionRecord{Field: fmt.Sprint(i)}
	}
	if err := s.Commit(ctx, "p", &syncengine.Changeset{Enqueue: es, Decisions: ds}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Outbox(ctx, "p", syncengine.OutboxQuery{})
	if err != nil || len(got) != n {
		t.Fatalf("Outbox = %d entries, %v; want %d", len(got), err, n)
	}
	for i, e := range got {
		if e.ID != es[i].ID || e.Key != fmt.Sprint(i) || (i > 0 && e.ID <= got[i-1].ID) {
			t.Fatalf("entry %d: id %d key %q, written back %d; want increasing ids in enqueue order", i, e.ID, e.Key, es[i].ID)
		}
	}

	more := make([]*syncengine.OutboxEntry, n)
	for i := range more {
		more[i] = &syncengine.OutboxEntry{Target: syncengine.App, Op: syncengine.Delete}
	}
	err = s.Commit(ctx, "p", &syncengine.Changeset{Enqueue: more, Settle: []int64{es[0].ID}, Release: []int64{12345}})
	if !errors.Is(err, syncengine.ErrNotFound) || !strings.Contains(err.Error(), "12345") {
		t.Fatalf("Commit releasing an unknown conflict: err = %v, want ErrNotFound naming 12345", err)
	}
	if got, err := s.Outbox(ctx, "p", syncengine.OutboxQuery{}); err != nil || len(got) != n || got[0].ID != es[0].ID {
		t.Fatalf("Outbox after the failed commit = %d entries, %v; want the %d from before, the settled one included", len(got), err, n)
	}
	if more[0].ID != 0 || more[n-1].ID != 0 {
		t.Errorf("failed commit wrote ids back: %d, %d", more[0].ID, more[n-1].ID)
	}
}
