// Package adapters is the home of crmkit's CRM adapters: one sub-package per
// CRM, each a crm.Driver that speaks that CRM's real wire protocol, with an
// emulator beside it in the standard library's xxxtest habit:
//
//	adapters/salesforce, adapters/salesforce/salesforcetest
//	adapters/hubspot,    adapters/hubspot/hubspottest
//	adapters/dynamics,   adapters/dynamics/dynamicstest
//
// Each emulator runs inside a test (New(t)) or as a server on a loopback
// port (NewServer), holds its data in crmkit's in-memory kernel, and can
// inject the faults and limits a real org produces. Each driver passes the
// conformance suite against its emulator. crm/memcrm is the protocol-free
// reference driver, for tests that need no wire at all.
//
// # Writing an adapter
//
// An adapter implements crm.Driver and nothing it does not need: the
// crm.Client above it already batches writes, iterates pages, traces and
// audits. Build the HTTP client with crmkit's shared transport (TLS 1.2 and
// up, retries driven by crm/retry, the rate limiter of crm/ratelimit, spans,
// redaction), build every error in one function from the CRM's error body as
// a *crm.Error, and prove the result with the conformance suite:
//
//	func TestConformance(t *testing.T) {
//		crmtest.Run(t, func(t *testing.T) crmtest.Target { ... })
//	}
package adapters
