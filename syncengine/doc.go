// Package syncengine keeps an application's records and a CRM's records
// consistent in both directions, embedded in the host application: without
// loops, duplicates, lost updates or silent drops.
//
// # The pieces
//
// A Pairing joins two Endpoints through a mapping.Map. An Endpoint has three
// verbs: give me your changes since a cursor, give me these records, apply
// these writes. NewCRMEndpoint makes one from a crm.Client (Salesforce,
// HubSpot, Dynamics, or crm/memcrm in tests); the host application is the
// other, through syncengine/sqltable for a table in any database/sql
// database, syncengine/memtable in memory, or its own implementation (check
// it with syncengine/endpointtest). The engine keeps its state in a Store:
// syncengine/store/sqlite is the embedded default (one file),
// syncengine/store/postgres serves workers on several machines, and
// syncengine/store/memory is for tests.
//
//	store, err := sqlite.Open(ctx, "sync.db")
//	crmSide, err := syncengine.NewCRMEndpoint(client, "Contact", "App_Id__c", syncengine.WithCRMFields(m.CRMFields()...))
//	eng, err := syncengine.New(store, syncengine.Pairing{
//		Map: m, App: appSide, CRM: crmSide,
//		Match:    []syncengine.MatchRule{{App: "email", CRM: "Email"}},
//		Resolver: conflict.NewestWins(2*time.Second, conflict.CRM),
//	})
//	report, err := eng.RunOnce(ctx) // or eng.Run(ctx, time.Minute), with eng.Notify() from a webhook
//
// # What a run does
//
//  1. It re-sends what the outbox still holds: writes a crash interrupted,
//     and writes whose retry is due.
//  2. It reads both sides' change feeds from their stored cursors (up to a
//     window of changes each), and joins the changes through links.
//  3. A record seen for the first time is matched: by its sync key (below),
//     by the pairing's natural keys (such as email, compared without case),
//     then by the host's MatchFunc. A record that matches several is parked
//     rather than guessed. A record that matches nothing is created on the
//     other side.
//  4. For each record it compares, field by field, what each side holds now
//     with what it held at the last sync. A link stores a hash of every
//     field's value (never the value), so the engine tells a real change from
//     the echo of its own write: an echo is skipped, and a quiet pair reaches
//     a fixed point where a run writes nothing.
//  5. When both sides changed the same field to different values, that is a
//     conflict: the pairing's conflict.Resolver decides each contested field
//     (newest wins with a clock-skew allowance, a side as the source of
//     truth, per-field rules, the host's function), or parks the record for a
//     person. Fields changed on one side only are merged. Every decision goes
//     to the decision log with both values (personal fields masked) and the
//     reason.
//  6. The writes go to the outbox in the same store transaction as the new
//     cursors; only then are they sent, in batches of the target's size, and
//     each is settled with its link once it lands.
//
// # Never a duplicate
//
// Every create is an upsert on a sync key: a CRM record is created by an
// upsert on its external-id field holding the application record's id, and
// an application row by an upsert on a key column holding the CRM id. A
// create sent twice, because the process died after the CRM answered and
// before the outbox was settled, updates the record the first one made; and
// the record's key links it even if the link was never stored.
//
// # Failures
//
// Failures are classified by crm.Error kind. Transient ones (rate limits,
// unavailability, timeouts, unknown outcomes) are retried with exponential
// backoff and full jitter, honouring Retry-After, and watching ctx; RunOnce
// waits for them while its patience lasts and leaves the rest to the next
// run. "Unauthorized" calls the WithRefresh hook once and retries; a second
// refusal ends the run, the writes kept. A spent API quota postpones the
// writes (WithQuotaWait) without counting an attempt, and the run calls that
// side no more; a batch refused whole as forbidden or unsupported ends the
// run, the writes kept. Anything else, or too many attempts, makes a dead
// letter, kept with its payload and its error. A batch refused as a whole
// for a record's reason is split until the bad record is alone, so its
// neighbours land. A newer change to a record supersedes its writes still
// waiting for a retry, so an old value never lands after a new one.
//
//	dead, err := eng.DeadLetters(ctx)
//	report, err := eng.Replay(ctx, dead[0].ID) // re-mapped from the source record as it is now
//
// # Deletes
//
// A delete on either side, including one a CRM only reports through its
// deleted-records feed, is carried to the other side, or turned into an
// archive (Pairing.ArchiveCRM, ArchiveApp), or ignored, as OnAppDelete and
// OnCRMDelete say. A delete wins over an update made on the other side in the
// same window, and the decision log says so.
//
// # Several workers
//
// A run takes the pairing's lease in the store and renews it before each
// batch, so runs of one pairing do not overlap, in one process or across
// processes sharing the store: several processes of one machine with the
// SQLite store, workers on several machines with the PostgreSQL store. A
// worker that dies leaves its lease to expire, and whichever worker takes it
// next goes on from the committed state (re-sending the outbox first).
//
// # Progress
//
// A run's Report counts what was read, matched, created, updated, deleted,
// echoed, merged, in conflict (by resolution), parked, retried and
// dead-lettered, and the API calls made on each side. It is returned by
// RunOnce, passed to WithProgress's callback after each step, and logged
// through slog; each run and step is an OpenTelemetry span.
package syncengine
