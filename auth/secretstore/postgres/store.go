package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmkit/crmkit/auth"
)

// DefaultTable is the table the store uses unless WithTable names another.
const DefaultTable = "crmkit_secrets"

// Store is an auth.SecretStore in a PostgreSQL table. It is safe for
// concurrent use by many goroutines and many processes.
type Store struct {
	pool    *pgxpool.Pool
	owned   bool // Open made the pool, so Close closes it
	table   string
	secrets []string // the DSN's password, scrubbed from every error

	getSQL, insertSQL, updateSQL string
}

var _ auth.SecretStore = (*Store)(nil)

// Option configures New and Open.
type Option func(*config)

type config struct {
	table  string
	create bool
}

// WithTable keeps the secrets in table (letters, digits and '_', optionally
// schema.table) instead of DefaultTable, for several sets of secrets in one
// database or a schema of their own.
func WithTable(table string) Option { return func(c *config) { c.table = table } }

// WithoutCreate makes New and Open check that the table exists instead of
// creating it, for a role that may only SELECT, INSERT and UPDATE (the
// package documentation has the table's definition).
func WithoutCreate() Option { return func(c *config) { c.create = false } }

var tablePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$`)

// New returns a store that uses pool, which stays the caller's: Close does
// not close it. The table is created if it is missing (unless
// WithoutCreate).
func New(ctx context.Context, pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	if pool == nil {
		return nil, errors.New("postgres secret store: the pool is nil: pass a *pgxpool.Pool, or use Open with a DSN")
	}
	return newStore(ctx, pool, false, nil, opts)
}

// Open connects to the database dsn names (a postgres:// URL or key=value
// string) and returns a store that owns the connection pool; Close it when
// done. The DSN's password never appears in an error.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message quotes the DSN with the password masked as well as
		// it can guess; a malformed DSN can defeat the guess, so its text
		// stays out.
		return nil, hiddenError{msg: "postgres secret store: the DSN does not parse (its text is left out: it may hold a password): " +
			"write it as postgres://user:password@host:5432/database?sslmode=verify-full", cause: err}
	}
	var secrets []string
	if pw := cfg.ConnConfig.Password; pw != "" {
		secrets = append(secrets, pw)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres secret store: connecting: %w", scrubbed(err, secrets))
	}
	s, err := newStore(ctx, pool, true, secrets, opts)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

func newStore(ctx context.Context, pool *pgxpool.Pool, owned bool, secrets []string, opts []Option) (*Store, error) {
	c := config{table: DefaultTable, create: true}
	for _, o := range opts {
		o(&c)
	}
	if !tablePattern.MatchString(c.table) {
		return nil, fmt.Errorf("postgres secret store: table name %q: use letters, digits and '_' (at most 63), optionally schema.table", c.table)
	}
	t := pgx.Identifier(strings.Split(c.table, ".")).Sanitize()
	s := &Store{pool: pool, owned: owned, table: c.table, secrets: secrets,
		getSQL:    `SELECT value, version FROM ` + t + ` WHERE key = $1`,
		insertSQL: `INSERT INTO ` + t + ` (key, value, version) VALUES ($1, $2, 1) ON CONFLICT (key) DO NOTHING RETURNING version`,
		updateSQL: `UPDATE ` + t + ` SET value = $2, version = version + 1, updated_at = now() WHERE key = $1 AND version = $3 RETURNING version`,
	}
	if err := s.prepareTable(ctx, t, c.create); err != nil {
		return nil, err
	}
	return s, nil
}

// prepareTable checks that the table exists and, when create is set,
// creates it if not. Workers starting together serialise on an advisory
// lock, since concurrent CREATE TABLE IF NOT EXISTS can still collide.
func (s *Store) prepareTable(ctx context.Context, quoted string, create bool) error {
	fail := func(what string, err error) error {
		return fmt.Errorf("postgres secret store: %s table %s: %w", what, s.table, scrubbed(err, s.secrets))
	}
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, quoted).Scan(&exists); err != nil {
		return fail("checking", err)
	}
	if exists {
		return nil
	}
	if !create {
		return fmt.Errorf("postgres secret store: table %s does not exist: create it as its owner (the package documentation has the statement) and grant the workers' role SELECT, INSERT and UPDATE, or open the store without WithoutCreate", s.table)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "crmkit secret store "+quoted); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+quoted+` (
	key        text PRIMARY KEY,
	value      bytea NOT NULL,
	version    bigint NOT NULL CHECK (version > 0),
	updated_at timestamptz NOT NULL DEFAULT now()
)`)
		return err
	})
	if err != nil {
		return fail("creating", err)
	}
	return nil
}

// Close closes the connection pool if Open made it; a pool given to New
// stays open.
func (s *Store) Close() {
	if s.owned {
		s.pool.Close()
	}
}

// String names the table; it never shows the DSN.
func (s *Store) String() string { return "postgres.Store{table=" + s.table + "}" }

func checkKey(key string) error {
	if key == "" || len(key) > 1024 || !utf8.ValidString(key) || strings.IndexByte(key, 0) >= 0 {
		return fmt.Errorf("postgres secret store: key %.80q: use 1 to 1024 bytes of UTF-8 text without NUL", key)
	}
	return nil
}

// Get implements auth.SecretStore.
func (s *Store) Get(ctx context.Context, key string) (auth.Secret, error) {
	if err := checkKey(key); err != nil {
		return auth.Secret{}, err
	}
	var sec auth.Secret
	err := s.pool.QueryRow(ctx, s.getSQL, key).Scan(&sec.Value, &sec.Version)
	if errors.Is(err, pgx.ErrNoRows) {
		return auth.Secret{}, auth.ErrSecretNotFound
	}
	if err != nil {
		return auth.Secret{}, fmt.Errorf("postgres secret store: reading %q from %s: %w", key, s.table, scrubbed(err, s.secrets))
	}
	if sec.Value == nil {
		sec.Value = []byte{}
	}
	return sec, nil
}

// CompareAndSwap implements auth.SecretStore in one statement.
func (s *Store) CompareAndSwap(ctx context.Context, key string, oldVersion int64, newValue []byte) (int64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if oldVersion < 0 {
		return 0, auth.ErrVersionConflict
	}
	if newValue == nil {
		newValue = []byte{} // the column is NOT NULL; nil means empty here
	}
	var row pgx.Row
	if oldVersion == 0 {
		row = s.pool.QueryRow(ctx, s.insertSQL, key, newValue)
	} else {
		row = s.pool.QueryRow(ctx, s.updateSQL, key, newValue, oldVersion)
	}
	var v int64
	err := row.Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, auth.ErrVersionConflict
	}
	if err != nil {
		return 0, fmt.Errorf("postgres secret store: writing %q to %s: %w", key, s.table, scrubbed(err, s.secrets))
	}
	return v, nil
}

// hiddenError prints msg and keeps its cause for errors.Is and errors.As
// without printing it.
type hiddenError struct {
	msg   string
	cause error
}

func (e hiddenError) Error() string { return e.msg }
func (e hiddenError) Unwrap() error { return e.cause }

// scrubbed returns err with every secret in its text replaced, keeping
// the chain for errors.Is and errors.As; err itself when no secret shows.
func scrubbed(err error, secrets []string) error {
	msg := err.Error()
	clean := msg
	for _, s := range secrets {
		clean = strings.ReplaceAll(clean, s, "[REDACTED]")
	}
	if clean == msg {
		return err
	}
	return hiddenError{msg: clean, cause: err}
}
