// Package crmkit connects custom applications to enterprise CRMs: Salesforce,
// HubSpot and Dynamics 365 / Dataverse, behind one contract.
//
// This root package holds no code; it is the module's front page. Start with:
//
//   - crm: the contract. Records, schemas, portable filters, the change feed,
//     batched writes with per-record results, one error type, and the Client
//     that applications use over any adapter.
//   - crm/memcrm: an in-memory CRM driver for tests and demonstrations.
//   - crm/crmtest: the conformance suite every adapter must pass.
//   - crm/retry and crm/ratelimit: the retry policy and the quota-aware rate
//     limiter that every adapter's HTTP transport uses.
//   - adapters/salesforce, adapters/hubspot, adapters/dynamics: the drivers,
//     each with an emulator (salesforcetest, hubspottest, dynamicstest) that
//     runs inside a test or as a server (go run ./cmd/crmkit emulate ...).
//   - mapping: field maps, conversions and protection of personal data.
//   - auth: OAuth 2.0 token sources for each CRM, refresh and rotation, and
//     the TLS policy.
//   - syncengine: bidirectional sync embedded in the application: links,
//     conflicts (syncengine/conflict), an outbox, retries, dead letters and
//     replay, over a SQLite file (syncengine/store/sqlite) with the
//     application's side in a database/sql table (syncengine/sqltable).
//
// Run `go run ./examples/quickstart` for a tour in one program.
package crmkit
