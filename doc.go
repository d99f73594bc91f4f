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
//   - adapters: the CRM adapters and their emulators.
//   - mapping, syncengine, auth: field mapping, bidirectional sync and OAuth
//     flows (see each package's documentation for its state).
//
// Run `go run ./examples/quickstart` for a tour in one program.
package crmkit
