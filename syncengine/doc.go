// Package syncengine will keep application data and CRM data consistent in
// both directions: links, cursors, conflict resolution, echo suppression, an
// outbox, retries and dead letters, over an embedded SQLite store or
// PostgreSQL.
//
// It is not built yet. Its tests will run against crm/memcrm, which already
// provides the change feed (crm.Client.Changes) and idempotent upserts by
// external id (crm.OpUpsert) that the engine is built on.
package syncengine
