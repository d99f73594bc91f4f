// Package postgres is a syncengine.Store in a PostgreSQL database, for sync
// workers on several machines that share one pairing: whichever worker holds
// the pairing's lease runs it, and when that worker dies another takes over
// from the state it committed.
//
// # Choosing it over SQLite
//
// syncengine/store/sqlite is the default: one file, no server, enough for
// one process or several on one machine. Choose this package when the
// workers run on more than one machine (several replicas of a service, a
// scheduler that starts the job anywhere), or when the sync state should
// live with the rest of the application's data, in a database that is
// already backed up, replicated and watched. It costs a network round trip
// or two per call, where SQLite costs none.
//
// # Use
//
// Open connects with a DSN and owns the connection pool; New takes a
// *pgxpool.Pool the application already has and leaves it open on Close:
//
//	st, err := postgres.Open(ctx, os.Getenv("SYNC_DATABASE_URL"), postgres.WithSchema("crmkit"))
//	if err != nil {
//		return err
//	}
//	defer st.Close()
//	// hand st to syncengine.New, on every worker
//
// # Connection settings
//
// The DSN is a postgres:// URL or a key=value string, as libpq reads it,
// plus pgx's pool settings. The ones that matter here:
//
//   - sslmode=verify-full, for any server that is not on the worker's own
//     machine: crmkit's TLS policy is TLS 1.2 or newer with the server's
//     certificate verified, and only verify-full checks that the
//     certificate names the host. Add sslrootcert=/path/ca.pem when the
//     server's certificate comes from a private CA. sslmode=disable is for
//     a server on the loopback interface only, as in crmkit's own tests.
//   - pool_max_conns: a Store uses one connection per call in flight; a
//     sync run makes one call at a time, so a handful is plenty (pgx's
//     default is the larger of 4 and the number of CPUs).
//   - connect_timeout (seconds) bounds a connection attempt; each call's
//     context bounds the rest.
//   - application_name=crmkit-sync makes the workers' sessions easy to pick
//     out in pg_stat_activity.
//
// A lock_timeout or statement_timeout on the role also bounds Commit's wait
// for another worker's commit of the same pairing (see below), and a
// timed-out commit fails and changes nothing; keep either well above the
// time a commit takes. Behind PgBouncer in transaction mode, the store works
// as is (it keeps no session state: its locks are transaction-level), but
// pgx's prepared statements need PgBouncer 1.21 or newer with
// max_prepared_statements set, or default_query_exec_mode=simple_protocol
// in the DSN (the conformance suite runs in that mode too).
//
// The DSN's password never appears in an error, nor in the chain of
// errors errors.As can reach.
//
// # Commits, leases and time
//
// Commit runs in one READ COMMITTED transaction, which first takes a
// transaction-level advisory lock on the pairing (pg_advisory_xact_lock):
// the commits of one pairing take turns, across every Store on the
// database, while other pairings commit in parallel. Each statement so sees
// the state the previous commit left (a link that replaces another never
// meets it half-written), and the ids of one pairing's outbox entries,
// decisions and parked conflicts become visible in increasing order, so a
// reader paging the decision log by id misses none. Ids come from identity
// columns, which never give an id twice. Links go in with one statement
// however many there are, lookups use = ANY($1) arrays, and the other
// statements of a commit go to the server in batches, one round trip each.
//
// AcquireLease is one statement, an INSERT ... ON CONFLICT (pairing) DO
// UPDATE ... WHERE owner = $owner OR expires_at <= $now RETURNING owner,
// which the server applies to the lease's row one worker at a time. The
// time in it is the worker's clock (see WithClock), not the server's: keep
// the workers' clocks synchronised, and the lease ttl well above a sync
// step plus any skew between them.
//
// # Schema
//
// The store's tables go in the schema WithSchema names ("public" by
// default), each named crmkit_sync_something, as in the SQLite store:
// links, cursors, outbox, decisions, parked, leases, and schema, which
// records the version. Open and New create the schema and tables when
// missing, and migrate older ones, in one transaction under an advisory
// lock, so workers starting together migrate once; a schema written by a
// newer crmkit is refused with an error saying to upgrade crmkit.
//
// That first start, and each start after an upgrade, needs a role that may
// create tables in the schema (and the schema, if missing). Every other
// start only reads the version, so for least privilege migrate once as the
// schema's owner and give the workers' role no more than:
//
//	GRANT USAGE ON SCHEMA crmkit TO sync_worker;
//	GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA crmkit TO sync_worker;
//
// The database's encoding must be UTF8. Times are timestamptz, stored to
// the microsecond and returned in UTC. Cursors and payloads are bytea and
// may hold any bytes; a link's field hashes are a JSON object in a text
// column (not jsonb, which cannot hold the escape for a NUL byte). Other
// strings are PostgreSQL text, which cannot hold NUL bytes nor invalid
// UTF-8: a Commit with such an id, version, key or field name fails with an
// error naming it, before anything is sent; text written for people (an
// entry's error, a decision's rendered values and reason) is stored with
// those bytes replaced by U+FFFD, so that a strange message from a CRM never
// keeps an entry from being settled.
//
// # Tests
//
// The package passes syncengine/store/storetest, the conformance suite every
// Store must pass. Its tests need a server:
//
//	scripts/postgres.sh start && source .tools/run/postgres.env
//	go test -race ./syncengine/store/postgres/
//	scripts/postgres.sh stop
//
// Without CRMKIT_TEST_POSTGRES_DSN they skip (they fail instead when
// CRMKIT_REQUIRE_SERVERS=1). Each test works in a schema of its own, dropped
// at its end.
package postgres
