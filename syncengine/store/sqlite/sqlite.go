package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	// The pure-Go SQLite driver, registered as "sqlite".
	_ "modernc.org/sqlite"

	"github.com/crmkit/crmkit/syncengine"
)

// DefaultBusyTimeout is how long Open lets a connection wait for another
// connection's write transaction (in this process or another) before it
// fails with SQLITE_BUSY. A sync step's commit takes milliseconds, so ten
// seconds is only reached when something is badly stuck.
const DefaultBusyTimeout = 10 * time.Second

// chunk is how many ids one IN list carries. SQLite accepts far more bound
// variables (32766 since 3.32), but short statements are cached and planned
// faster, and 500 keeps each one well inside any build's limit.
const chunk = 500

// Option configures a Store.
type Option func(*options)

type options struct {
	now         func() time.Time
	busyTimeout time.Duration
}

// WithClock sets the clock the store reads for lease expiry. Tests pass a
// fake clock so that a lease expires without a real wait; the default is
// time.Now. Processes sharing a file compare their own clocks with the
// expiry another wrote, so keep the machine's clock synchronised.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// WithBusyTimeout sets how long Open's connections wait for a lock another
// connection holds (DefaultBusyTimeout if not set). New ignores it: a host's
// *sql.DB brings its own.
func WithBusyTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.busyTimeout = d
		}
	}
}

// Store is a syncengine.Store in one SQLite file. Make one with Open or New;
// it is safe for concurrent use, and several Stores (in one process or
// several) may share one file.
type Store struct {
	db    *sql.DB
	owned bool // Close closes db
	now   func() time.Time
	// writeLock lets one of this Store's goroutines at a time hold the
	// file's write lock, so they queue here, watching their contexts,
	// rather than in SQLite's busy handler. Other Stores and processes
	// still meet at the file's lock, under busy_timeout.
	writeLock chan struct{}
}

var _ syncengine.Store = (*Store)(nil)

// Open opens (creating it if needed) the SQLite file at path as a Store,
// with WAL journaling, synchronous=NORMAL and a busy timeout, and brings its
// schema up to date. Close the Store when done.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	switch {
	case path == "":
		return nil, errors.New("sqlite store: Open: path is empty; give the file to keep the sync state in, such as \"sync.db\"")
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		return nil, fmt.Errorf("sqlite store: Open: path %q is not a file path; give a file path (for state in memory use syncengine/store/memory, for a DSN of your own use New)", path)
	}
	o := newOptions(opts)
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", o.busyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite store: Open %q: %w", path, err)
	}
	s, err := newStore(ctx, db, o)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite store: Open %q: %w", path, err)
	}
	s.owned = true
	return s, nil
}

// New makes a Store on a *sql.DB the host already has, opened with the
// driver modernc.org/sqlite ("sqlite"), and brings the schema up to date.
// The store's tables all start with crmkit_sync_, so the file may hold the
// host's own tables too.
//
// Every connection of db must have a busy timeout, or two writers meeting
// fail with SQLITE_BUSY instead of waiting; New checks one connection and
// returns an error if its busy_timeout is 0. WAL journaling is expected (it
// lets readers and the writer proceed at once) and synchronous=NORMAL is
// enough with it. A DSN that sets all three:
//
//	file:app.db?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)
//
// Close does not close db; the host does.
func New(ctx context.Context, db *sql.DB, opts ...Option) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlite store: New: db is nil; pass an open *sql.DB, or use Open with a file path")
	}
	s, err := newStore(ctx, db, newOptions(opts))
	if err != nil {
		return nil, fmt.Errorf("sqlite store: New: %w", err)
	}
	return s, nil
}

func newOptions(opts []Option) options {
	o := options{now: time.Now, busyTimeout: DefaultBusyTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

func newStore(ctx context.Context, db *sql.DB, o options) (*Store, error) {
	var busy int64
	if err := db.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil {
		return nil, fmt.Errorf("read busy_timeout: %w", err)
	}
	if busy <= 0 {
		return nil, errors.New("the database's connections have no busy timeout, so writers meeting would fail with SQLITE_BUSY; open it with _pragma=busy_timeout(10000) in the DSN")
	}
	s := &Store{db: db, now: o.now, writeLock: make(chan struct{}, 1)}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Close closes the database if Open opened it. A Store made by New leaves
// the host's *sql.DB open.
func (s *Store) Close() error {
	if !s.owned {
		return nil
	}
	return s.db.Close()
}

// txn is a write transaction on one connection, with the statements it has
// prepared, so a commit of a hundred links prepares the insert once.
type txn struct {
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
}

func (t *txn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st := t.stmts[query]
	if st == nil {
		var err error
		if st, err = t.conn.PrepareContext(ctx, query); err != nil {
			return nil, err
		}
		t.stmts[query] = st
	}
	return st.ExecContext(ctx, args...)
}

func (t *txn) closeStmts() {
	for _, st := range t.stmts {
		st.Close()
	}
	clear(t.stmts)
}

// write runs fn in a write transaction taken up front (BEGIN IMMEDIATE):
// the file's write lock is held from the start, so the transaction never
// has to upgrade a read into a write, which is what fails with SQLITE_BUSY
// (under WAL, without waiting) when another writer got there first.
func (s *Store) write(ctx context.Context, fn func(ctx context.Context, t *txn) error) error {
	select {
	case s.writeLock <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.writeLock }()

	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	t := &txn{conn: conn, stmts: map[string]*sql.Stmt{}}
	err = fn(ctx, t)
	t.closeStmts()
	if err == nil {
		// Once every statement has run, the outcome no longer depends on
		// ctx: commit even if it is done now, and report what happened.
		if _, err = conn.ExecContext(context.WithoutCancel(ctx), "COMMIT"); err == nil {
			return nil
		}
		err = fmt.Errorf("commit: %w", err)
	}
	if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil {
		// SQLite may have rolled back already (an interrupted statement
		// does that). Either way, never hand the pool a connection that
		// might still be inside a transaction.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	return err
}

// read runs fn on a consistent snapshot when it needs more than one
// statement; one statement is a snapshot by itself.
func (s *Store) read(ctx context.Context, statements int, fn func(q querier) error) error {
	if statements <= 1 {
		return fn(s.db)
	}
	// ReadOnly keeps a deferred BEGIN even on a DSN with _txlock=immediate.
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(tx)
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// fail wraps err for the caller, making sure a done context shows in it so
// errors.Is(err, context.Canceled) holds whatever the driver reported.
func fail(ctx context.Context, err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("sqlite store: %s: %w (%v)", what, cerr, err)
	}
	return fmt.Errorf("sqlite store: %s: %w", what, err)
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// placeholders returns "?,?,...,?" with n marks.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?,", n-1) + "?"
}
