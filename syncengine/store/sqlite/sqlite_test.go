package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crmkit/crmkit/syncengine"
	"github.com/crmkit/crmkit/syncengine/store/sqlite"
	"github.com/crmkit/crmkit/syncengine/store/storetest"
)

func open(t testing.TB, path string, opts ...sqlite.Option) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path, opts...)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) syncengine.Store {
		return open(t, filepath.Join(t.TempDir(), "sync.db"), sqlite.WithClock(now))
	})
}

// TestConformanceNew runs the suite on a Store made by New on a host's
// *sql.DB that also holds a table of the host's own.
func TestConformanceNew(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) syncengine.Store {
		db := hostDB(t, filepath.Join(t.TempDir(), "app.db"), "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
		if _, err := db.Exec(`CREATE TABLE links (id INTEGER PRIMARY KEY)`); err != nil {
			t.Fatal(err)
		}
		s, err := sqlite.New(t.Context(), db, sqlite.WithClock(now))
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func hostDB(t *testing.T, path, params string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?"+params)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestNewWithoutBusyTimeout(t *testing.T) {
	db := hostDB(t, filepath.Join(t.TempDir(), "app.db"), "_pragma=journal_mode(WAL)")
	_, err := sqlite.New(t.Context(), db)
	if err == nil || !strings.Contains(err.Error(), "busy_timeout") {
		t.Fatalf("New on a DB without busy_timeout: err = %v, want one naming busy_timeout", err)
	}
	if _, err := sqlite.New(t.Context(), nil); err == nil {
		t.Fatal("New(nil) succeeded")
	}
}

func TestNewLeavesHostDBOpen(t *testing.T) {
	db := hostDB(t, filepath.Join(t.TempDir(), "app.db"), "_pragma=busy_timeout(5000)")
	s, err := sqlite.New(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.PingContext(t.Context()); err != nil {
		t.Fatalf("host DB after Store.Close: %v, want it still open", err)
	}
}

func TestOpenBadPath(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db?mode=memory"} {
		if s, err := sqlite.Open(t.Context(), p); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded, want an error saying what to pass", p)
		}
	}
	if _, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "no-such-dir", "sync.db")); err == nil {
		t.Error("Open in a missing directory succeeded")
	}
}

func TestOpenPathWithURICharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir?with#odd%chars")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "sync 1.db")
	s := open(t, path)
	commitLink(t, s, "p", "a1", "c1")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the store did not write the file it was given: %v", err)
	}
}

func TestPragmas(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sync.db")
	open(t, path)
	db := hostDB(t, path, "_pragma=busy_timeout(5000)")
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
}

func TestSchemaVersionRecordedOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sync.db")
	for range 3 {
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	db := hostDB(t, path, "_pragma=busy_timeout(5000)")
	var n, v int
	if err := db.QueryRow("SELECT count(*), max(version) FROM crmkit_sync_schema").Scan(&n, &v); err != nil {
		t.Fatal(err)
	}
	if n != 1 || v != 1 {
		t.Errorf("schema versions recorded = %d, latest %d; want 1 row, version 1", n, v)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sync.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db := hostDB(t, path, "_pragma=busy_timeout(5000)")
	if _, err := db.Exec("INSERT INTO crmkit_sync_schema (version) VALUES (99)"); err != nil {
		t.Fatal(err)
	}
	_, err = sqlite.Open(t.Context(), path)
	if err == nil || !strings.Contains(err.Error(), "upgrade crmkit") {
		t.Fatalf("Open of a newer schema: err = %v, want one saying to upgrade", err)
	}
}

func commitLink(t *testing.T, s *sqlite.Store, pairing, app, crm string) {
	t.Helper()
	if err := s.Commit(t.Context(), pairing, &syncengine.Changeset{Links: []*syncengine.Link{{AppID: app, CRMID: crm}}}); err != nil {
		t.Fatal(err)
	}
}

func TestTwoStoresShareAFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sync.db")
	a, b := open(t, path), open(t, path)

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
	// A lease taken through one is seen by the other.
	if ok, err := a.AcquireLease(t.Context(), "p", "A", time.Minute); err != nil || !ok {
		t.Fatalf("AcquireLease via a = %v, %v", ok, err)
	}
	if ok, err := b.AcquireLease(t.Context(), "p", "B", time.Minute); err != nil || ok {
		t.Fatalf("AcquireLease via b = %v, %v; want false: a's lease holds", ok, err)
	}
}

// TestConcurrentStoresNeverBusy commits from several Stores on one file at
// once, as several processes would, and requires every commit to succeed:
// BEGIN IMMEDIATE and the busy timeout make writers wait their turn.
func TestConcurrentStoresNeverBusy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sync.db")
	const stores, workers, commits = 3, 3, 15
	var all []*sqlite.Store
	for range stores {
		all = append(all, open(t, path))
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		ids  = map[int64]bool{}
	)
	for si, s := range all {
		for w := range workers {
			wg.Go(func() {
				for c := range commits {
					e := &syncengine.OutboxEntry{Target: syncengine.CRM, Op: syncengine.Upsert}
					// A read, then a write, as the engine does: the pattern
					// that fails with SQLITE_BUSY under deferred transactions.
					_, rerr := s.Outbox(t.Context(), "p", syncengine.OutboxQuery{Limit: 1})
					werr := s.Commit(t.Context(), "p", &syncengine.Changeset{
						Enqueue: []*syncengine.OutboxEntry{e},
						Links:   []*syncengine.Link{{AppID: fmt.Sprint("a", si, w, c), CRMID: fmt.Sprint("c", si, w, c)}},
						Cursors: map[syncengine.Side]string{syncengine.App: fmt.Sprint(si, w, c)},
					})
					_, lerr := s.AcquireLease(t.Context(), "p", fmt.Sprint("owner", si), time.Millisecond)
					mu.Lock()
					for _, err := range []error{rerr, werr, lerr} {
						if err != nil {
							errs = append(errs, err)
						}
					}
					if werr == nil {
						ids[e.ID] = true
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	if len(ids) != stores*workers*commits {
		t.Errorf("distinct IDs = %d, want %d", len(ids), stores*workers*commits)
	}
	es, err := all[0].Outbox(t.Context(), "p", syncengine.OutboxQuery{})
	if err != nil || len(es) != stores*workers*commits {
		t.Fatalf("Outbox = %d entries, %v; want %d", len(es), err, stores*workers*commits)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sync.db")
	at := time.Date(2025, 5, 6, 7, 8, 9, 123456000, time.UTC)
	link := &syncengine.Link{AppID: "a1", CRMID: "c1", AppVersion: "3", CRMVersion: "v9", AppHashes: map[string]string{"email": "h"}, SyncedAt: at}
	entry := &syncengine.OutboxEntry{Target: syncengine.CRM, Op: syncengine.Upsert, Key: "a1", Payload: []byte{1, 2, 3}, NextAttempt: at, Dead: true, Error: "bad"}
	dec := &syncengine.DecisionRecord{At: at, AppID: "a1", Field: "email", Winner: "app"}
	park := &syncengine.ParkedConflict{AppID: "a2", CRMID: "c2", Payload: []byte("x"), At: at}

	s, err := sqlite.Open(t.Context(), path, sqlite.WithClock(func() time.Time { return at }))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(t.Context(), "p", &syncengine.Changeset{
		Cursors: map[syncengine.Side]string{syncengine.App: "app-cur", syncengine.CRM: "crm-cur"},
		Links:   []*syncengine.Link{link}, Enqueue: []*syncengine.OutboxEntry{entry},
		Decisions: []*syncengine.DecisionRecord{dec}, Park: []*syncengine.ParkedConflict{park},
	}); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.AcquireLease(t.Context(), "p", "A", time.Hour); err != nil || !ok {
		t.Fatalf("AcquireLease = %v, %v", ok, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	r := open(t, path, sqlite.WithClock(func() time.Time { return at.Add(time.Minute) }))
	ctx := t.Context()
	if cur, _ := r.Cursor(ctx, "p", syncengine.CRM); cur != "crm-cur" {
		t.Errorf("cursor after reopen = %q", cur)
	}
	if ls, _ := r.Links(ctx, "p", syncengine.CRM, []string{"c1"}); ls["c1"] == nil || ls["c1"].AppHashes["email"] != "h" || !ls["c1"].SyncedAt.Equal(at) {
		t.Errorf("link after reopen = %+v", ls["c1"])
	}
	if es, _ := r.Outbox(ctx, "p", syncengine.OutboxQuery{Dead: true}); len(es) != 1 || es[0].ID != entry.ID || string(es[0].Payload) != "\x01\x02\x03" {
		t.Errorf("dead letters after reopen = %+v", es)
	}
	if ds, _ := r.Decisions(ctx, "p", 0, 0); len(ds) != 1 || ds[0].ID != dec.ID {
		t.Errorf("decisions after reopen = %+v", ds)
	}
	if ps, _ := r.Parked(ctx, "p"); len(ps) != 1 || ps[0].ID != park.ID {
		t.Errorf("parked after reopen = %+v", ps)
	}
	if ok, err := r.AcquireLease(ctx, "p", "B", time.Hour); err != nil || ok {
		t.Errorf("AcquireLease by B after reopen = %v, %v; want false: A's lease survives", ok, err)
	}
	// IDs keep increasing across a reopen, even after the newest is settled.
	if err := r.Commit(ctx, "p", &syncengine.Changeset{Settle: []int64{entry.ID}}); err != nil {
		t.Fatal(err)
	}
	next := &syncengine.OutboxEntry{Target: syncengine.App, Op: syncengine.Delete}
	if err := r.Commit(ctx, "p", &syncengine.Changeset{Enqueue: []*syncengine.OutboxEntry{next}}); err != nil {
		t.Fatal(err)
	}
	if next.ID <= entry.ID {
		t.Errorf("ID after reopen and settle = %d, want above %d", next.ID, entry.ID)
	}
}

func TestNotFoundWrapped(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "sync.db"))
	err := s.Commit(t.Context(), "p", &syncengine.Changeset{Settle: []int64{12345}})
	if !errors.Is(err, syncengine.ErrNotFound) || !strings.Contains(err.Error(), "12345") {
		t.Fatalf("err = %v, want ErrNotFound naming the id", err)
	}
}

// TestConcurrentOpenOfNewFile opens one new file from several Stores at
// once, as processes starting together do: the schema is created once and
// every Open succeeds.
func TestConcurrentOpenOfNewFile(t *testing.T) {
	for round := range 5 {
		path := filepath.Join(t.TempDir(), fmt.Sprint("sync", round, ".db"))
		var wg sync.WaitGroup
		errs := make(chan error, 6)
		for range 6 {
			wg.Go(func() {
				s, err := sqlite.Open(t.Context(), path)
				if err != nil {
					errs <- err
					return
				}
				errs <- s.Commit(t.Context(), "p", &syncengine.Changeset{Decisions: []*syncengine.DecisionRecord{{Field: "f"}}})
				s.Close()
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("round %d: %v", round, err)
			}
		}
	}
}
