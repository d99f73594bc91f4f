package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmkit/crmkit/auth"
	"github.com/crmkit/crmkit/auth/secretstore/postgres"
	"github.com/crmkit/crmkit/auth/secretstore/secretstoretest"
)

const (
	envDSN     = "CRMKIT_TEST_POSTGRES_DSN"
	envRequire = "CRMKIT_REQUIRE_SERVERS"
)

// testDSN returns the test server's DSN, or skips the test when there is
// none (failing it when CRMKIT_REQUIRE_SERVERS=1, as CI sets).
func testDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv(envDSN)
	if dsn == "" {
		msg := envDSN + " is not set: start a server with scripts/postgres.sh start, then source .tools/run/postgres.env"
		if os.Getenv(envRequire) == "1" {
			t.Fatal(msg + " (" + envRequire + "=1 requires it)")
		}
		t.Skip(msg)
	}
	return dsn
}

// scratchTable returns a table name no other test uses, dropped at the end.
func scratchTable(t *testing.T, pool *pgxpool.Pool) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "crmkit_secrets_test_" + hex.EncodeToString(b)
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), "DROP TABLE IF EXISTS "+name) })
	return name
}

func testPool(t *testing.T) *pgxpool.Pool {
	pool, err := pgxpool.New(context.Background(), testDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func TestConformance(t *testing.T) {
	pool := testPool(t)
	table := scratchTable(t, pool)
	secretstoretest.Run(t, func(t *testing.T) auth.SecretStore {
		s, err := postgres.New(context.Background(), pool, postgres.WithTable(table))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// Open with the DSN, on the default table: the way most applications use it.
func TestOpenDefaultTable(t *testing.T) {
	ctx := context.Background()
	s, err := postgres.Open(ctx, testDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := fmt.Sprint(s); got != "postgres.Store{table=crmkit_secrets}" || strings.Contains(got, "postgres://") {
		t.Errorf("String: %s", got)
	}
	key := "open-" + rand.Text()
	v, err := s.CompareAndSwap(ctx, key, 0, []byte(`{"refresh_token":"x"}`))
	if err != nil || v != 1 {
		t.Fatalf("create: %d %v", v, err)
	}
	if v, err := s.CompareAndSwap(ctx, key, 1, []byte("next")); err != nil || v != 2 {
		t.Fatalf("update: %d %v", v, err)
	}
	// A second store on the same table sees the write: the state is the
	// database's, not the process's.
	other, err := postgres.Open(ctx, testDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	sec, err := other.Get(ctx, key)
	if err != nil || string(sec.Value) != "next" || sec.Version != 2 {
		t.Errorf("other store: %q v%d %v", sec.Value, sec.Version, err)
	}
}

// A pool passed to New stays the caller's: Close leaves it open.
func TestNewLeavesPoolOpen(t *testing.T) {
	pool := testPool(t)
	s, err := postgres.New(context.Background(), pool, postgres.WithTable(scratchTable(t, pool)))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := pool.Ping(context.Background()); err != nil {
		t.Errorf("the caller's pool was closed: %v", err)
	}
}

// Workers starting together all create-or-find the table without an error.
func TestConcurrentCreateTable(t *testing.T) {
	pool := testPool(t)
	table := scratchTable(t, pool)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			s, err := postgres.New(context.Background(), pool, postgres.WithTable(table))
			if err != nil {
				t.Errorf("store %d: %v", i, err)
				return
			}
			if _, err := s.CompareAndSwap(context.Background(), fmt.Sprint("k", i), 0, []byte("v")); err != nil {
				t.Errorf("store %d: %v", i, err)
			}
		})
	}
	wg.Wait()
}

func TestWithoutCreate(t *testing.T) {
	pool := testPool(t)
	ctx := context.Background()
	table := scratchTable(t, pool)
	_, err := postgres.New(ctx, pool, postgres.WithTable(table), postgres.WithoutCreate())
	if err == nil || !strings.Contains(err.Error(), table+" does not exist") || !strings.Contains(err.Error(), "SELECT, INSERT and UPDATE") {
		t.Fatalf("missing table without create: %v", err)
	}
	var exists bool
	if err := pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&exists); err != nil || exists {
		t.Fatalf("WithoutCreate created the table (%v)", err)
	}
	if _, err := postgres.New(ctx, pool, postgres.WithTable(table)); err != nil {
		t.Fatal(err)
	}
	s, err := postgres.New(ctx, pool, postgres.WithTable(table), postgres.WithoutCreate())
	if err != nil {
		t.Fatalf("existing table without create: %v", err)
	}
	if _, err := s.CompareAndSwap(ctx, "k", 0, []byte("v")); err != nil {
		t.Fatal(err)
	}
}

// The store refuses what it cannot store faithfully, naming the fix, before
// any database is involved.
func TestBadInput(t *testing.T) {
	ctx := context.Background()
	if _, err := postgres.New(ctx, nil); err == nil || !strings.Contains(err.Error(), "pool is nil") {
		t.Errorf("nil pool: %v", err)
	}
	pool, err := pgxpool.New(ctx, "postgres://nobody@127.0.0.1:1/none?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for _, name := range []string{"", "secrets; DROP TABLE users", "a.b.c", "1abc", `"quoted"`, strings.Repeat("x", 64)} {
		if _, err := postgres.New(ctx, pool, postgres.WithTable(name)); err == nil || !strings.Contains(err.Error(), "table name") {
			t.Errorf("table %q: %v", name, err)
		}
	}
}

func TestKeysChecked(t *testing.T) {
	pool := testPool(t)
	s, err := postgres.New(context.Background(), pool, postgres.WithTable(scratchTable(t, pool)))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"", "nul\x00byte", "bad\xffutf8", strings.Repeat("k", 1025)} {
		if _, err := s.Get(context.Background(), key); err == nil || !strings.Contains(err.Error(), "UTF-8 text without NUL") {
			t.Errorf("Get(%q): %v", key, err)
		}
		if _, err := s.CompareAndSwap(context.Background(), key, 0, nil); err == nil || !strings.Contains(err.Error(), "UTF-8 text without NUL") {
			t.Errorf("CompareAndSwap(%q): %v", key, err)
		}
	}
}

// The DSN's password stays out of every error Open returns: one that does
// not parse and one whose server is not there.
func TestOpenErrorsHidePassword(t *testing.T) {
	const pw = "dsn-password-Zq81x"
	ctx := context.Background()
	for _, dsn := range []string{
		"postgres://crmkit:" + pw + "@127.0.0.1:notaport/crmkit",
		"postgres://crmkit:" + pw + "@127.0.0.1:1/crmkit?sslmode=disable&connect_timeout=2",
		"host=127.0.0.1 port=1 user=crmkit password=" + pw + " dbname=crmkit connect_timeout=2 sslmode=disable",
		"postgres://crmkit:" + pw + "@[::1/crmkit",
	} {
		s, err := postgres.Open(ctx, dsn)
		if err == nil {
			// pgxpool connects lazily; the table check is the first query.
			s.Close()
			t.Errorf("Open(%s) succeeded without a server", strings.ReplaceAll(dsn, pw, "***"))
			continue
		}
		if out := fmt.Sprintf("%v %+v %#v", err, err, err); strings.Contains(out, pw) {
			t.Errorf("the DSN's password shows in an error: %s", strings.ReplaceAll(out, pw, "***"))
		}
		if !strings.Contains(err.Error(), "postgres secret store") {
			t.Errorf("error does not name the store: %v", err)
		}
	}
}

// Errors from the database keep their chain: a cancelled context is
// context.Canceled.
func TestErrorsKeepCause(t *testing.T) {
	pool := testPool(t)
	s, err := postgres.New(context.Background(), pool, postgres.WithTable(scratchTable(t, pool)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Get(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a cancelled context: %v", err)
	}
	if _, err := s.CompareAndSwap(ctx, "k", 0, []byte("v")); !errors.Is(err, context.Canceled) {
		t.Errorf("CompareAndSwap with a cancelled context: %v", err)
	}
}
