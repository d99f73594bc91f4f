package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmkit/crmkit/syncengine"
)

// DefaultSchema is the PostgreSQL schema the store's tables go in unless
// WithSchema names another.
const DefaultSchema = "public"

// batchSize is how many statements Commit sends to the server at once. A
// batch is one round trip; splitting a commit of thousands of rows keeps
// each batch's buffers small.
const batchSize = 1000

// Option configures Open and New.
type Option func(*options)

type options struct {
	now    func() time.Time
	schema string
}

// WithClock sets the clock the store reads for leases: a lease taken now
// with a ttl expires at now+ttl by this clock, and is free to another owner
// once this clock (in that owner's store) reaches the expiry. The default
// is time.Now. Tests pass a fake clock, so that a lease expires without a
// real wait.
//
// In production the clock is the worker's own, and workers on several
// machines compare their clocks with the expiry another worker wrote. A
// worker whose clock runs ahead by s takes over a lease s early, so keep the
// machines' clocks synchronised (NTP) and choose a lease ttl that leaves a
// margin for skew beyond the longest sync step: the engine renews its lease
// at every step, so with the default ttl of five minutes a skew of a few
// seconds is harmless, while a ttl close to a step's duration is not.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// WithSchema puts the store's tables in the named PostgreSQL schema
// (DefaultSchema if not set), creating the schema if it does not exist: for
// keeping crmkit's tables apart from the host's, or several independent
// sets of sync state in one database. The name is used as is (quoted), so
// it is case-sensitive; it must be 1 to 63 bytes of UTF-8 without NUL.
func WithSchema(name string) Option {
	return func(o *options) { o.schema = name }
}

// Store is a syncengine.Store in a PostgreSQL database. Make one with Open
// or New. It is safe for concurrent use, and any number of Stores, in any
// number of processes on any number of machines, may share one database and
// schema.
type Store struct {
	pool    *pgxpool.Pool
	owned   bool // Open made the pool, so Close closes it
	schema  string
	now     func() time.Time
	secrets []string // the connection's password, scrubbed from every error
	sql     statements
}

var _ syncengine.Store = (*Store)(nil)

// Open connects to the database dsn names (a postgres:// URL or a
// key=value string, as libpq and pgx read them), brings the schema up to
// date and returns a Store that owns its connection pool; Close it when
// done. The DSN's password never appears in an error.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx quotes the DSN with the password masked as well as it can
		// guess, and keeps the DSN itself in the error; neither is kept.
		return nil, errors.New("postgres store: Open: the DSN does not parse (its text is left out: it may hold a password); " +
			"write it as postgres://user:password@host:5432/database?sslmode=verify-full")
	}
	var secrets []string
	if pw := cfg.ConnConfig.Password; pw != "" {
		secrets = append(secrets, pw)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres store: Open: %w", scrub(err, secrets))
	}
	s, err := newStore(ctx, pool, newOptions(opts), secrets)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres store: Open: %w", err)
	}
	s.owned = true
	return s, nil
}

// New makes a Store on a connection pool the host already has, and brings
// the schema up to date. Close does not close the pool; the host does.
func New(ctx context.Context, pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	if pool == nil {
		return nil, errors.New("postgres store: New: the pool is nil; pass a *pgxpool.Pool, or use Open with a DSN")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var secrets []string
	if pw := pool.Config().ConnConfig.Password; pw != "" {
		secrets = append(secrets, pw)
	}
	s, err := newStore(ctx, pool, newOptions(opts), secrets)
	if err != nil {
		return nil, fmt.Errorf("postgres store: New: %w", err)
	}
	return s, nil
}

func newOptions(opts []Option) options {
	o := options{now: time.Now, schema: DefaultSchema}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

func newStore(ctx context.Context, pool *pgxpool.Pool, o options, secrets []string) (*Store, error) {
	if o.schema == "" || len(o.schema) > 63 || !textOK(o.schema) {
		return nil, fmt.Errorf("schema name %.80q: give 1 to 63 bytes of UTF-8 without NUL (PostgreSQL cuts longer names short), or leave WithSchema out for %q",
			o.schema, DefaultSchema)
	}
	s := &Store{pool: pool, schema: o.schema, now: o.now, secrets: secrets, sql: newStatements(o.schema)}
	if err := s.migrate(ctx); err != nil {
		return nil, withCtx(ctx, fmt.Errorf("prepare schema %q: %w", o.schema, scrub(err, secrets)))
	}
	return s, nil
}

// Close closes the connection pool if Open made it. A Store made by New
// leaves the host's pool open. It always returns nil; the error is there so
// a Store is an io.Closer, as the SQLite store is.
func (s *Store) Close() error {
	if s.owned {
		s.pool.Close()
	}
	return nil
}

// String names the schema; it never shows the DSN.
func (s *Store) String() string { return "postgres.Store{schema=" + s.schema + "}" }

// lockKey makes a key for pg_advisory_xact_lock from parts. The same parts
// give the same key in every process on every machine; two different sets
// of parts sharing a key only costs some needless waiting.
func lockKey(parts ...string) int64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return int64(h.Sum64())
}

// commitKey is the advisory lock a pairing's commits take.
func (s *Store) commitKey(pairing string) int64 {
	return lockKey("crmkit_sync commit", s.schema, pairing)
}

// inTx runs fn in a READ COMMITTED transaction (set explicitly, so that a
// database whose default_transaction_isolation is serializable does not make
// commits fail with serialization errors): committed when fn returns nil,
// rolled back otherwise.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		// With ctx done, pgx closes the connection instead, and the server
		// rolls back; either way the pool gets no half-done transaction.
		_ = tx.Rollback(ctx)
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// batch queues statements for one transaction and sends them batchSize at
// a time, in order. Callbacks check results as they arrive; the first error
// stops the rest.
type batch struct {
	tx pgx.Tx
	b  *pgx.Batch
}

func (b *batch) queue(query string, args ...any) *pgx.QueuedQuery {
	if b.b == nil {
		b.b = &pgx.Batch{}
	}
	return b.b.Queue(query, args...)
}

// full reports whether the batch should be sent before more is queued.
func (b *batch) full() bool { return b.b != nil && b.b.Len() >= batchSize }

func (b *batch) send(ctx context.Context) error {
	if b.b == nil || b.b.Len() == 0 {
		return nil
	}
	err := b.tx.SendBatch(ctx, b.b).Close()
	b.b = nil
	return err
}

// fail wraps err for the caller: the DSN's password scrubbed from its
// text, and a done context in its chain so that errors.Is(err,
// context.Canceled) holds whatever the driver reported.
func (s *Store) fail(ctx context.Context, err error, format string, args ...any) error {
	return fmt.Errorf("postgres store: %s: %w", fmt.Sprintf(format, args...), withCtx(ctx, scrub(err, s.secrets)))
}

// withCtx puts ctx's error in err's chain when ctx is done and err does not
// already say so: the driver does not always report a cancellation as one.
func withCtx(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%w)", cerr, err)
	}
	return err
}

// cleanError is an error whose text was scrubbed of secrets. It keeps, for
// errors.Is and errors.As, only the parts of the original chain that hold
// no configuration: a context's error and the server's *pgconn.PgError.
type cleanError struct {
	msg    string
	causes []error
}

func (e *cleanError) Error() string   { return e.msg }
func (e *cleanError) Unwrap() []error { return e.causes }

// scrub returns err with every secret in its text replaced. An error that
// carries the connection's configuration (pgx's *pgconn.ConnectError holds
// the password in its Config) is replaced too, even when its text is clean,
// so that errors.As cannot reach the password either. Other errors come
// back as they are.
func scrub(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := msg
	for _, s := range secrets {
		clean = strings.ReplaceAll(clean, s, "[REDACTED]")
	}
	var connErr *pgconn.ConnectError
	var parseErr *pgconn.ParseConfigError
	if clean == msg && !errors.As(err, &connErr) && !errors.As(err, &parseErr) {
		return err
	}
	e := &cleanError{msg: clean}
	for _, c := range []error{context.Canceled, context.DeadlineExceeded, syncengine.ErrNotFound} {
		if errors.Is(err, c) {
			e.causes = append(e.causes, c)
		}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		e.causes = append(e.causes, pgErr)
	}
	return e
}

// textOK reports whether PostgreSQL's text type can hold s: valid UTF-8
// without NUL bytes.
func textOK(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// humanText makes text written for people storable: invalid UTF-8 and NUL
// bytes become U+FFFD. It is applied to error messages, rendered values and
// reasons only, never to ids, versions, hashes or names.
func humanText(s string) string {
	if textOK(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// checkText reports an error naming what when s cannot be stored exactly.
func checkText(what, s string) error {
	if textOK(s) {
		return nil
	}
	return fmt.Errorf("%s %.60q is not valid UTF-8 or holds a NUL byte, which PostgreSQL text cannot store; ids, versions and names must be text", what, s)
}
