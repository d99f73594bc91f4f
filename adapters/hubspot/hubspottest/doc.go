// Package hubspottest is an emulated HubSpot portal: an httptest-style
// server that speaks HubSpot's CRM API as the real service does, so that
// crmkit's HubSpot driver, and HubSpot's own client libraries in other
// languages, run against it unchanged and without an account.
//
//	srv := hubspottest.New(t)       // closed when the test ends
//	drv, err := hubspot.New(
//		hubspot.WithBaseURL(srv.URL),
//		hubspot.WithHTTPClient(srv.Client()),
//		hubspot.WithPrivateAppToken("pat-na1-test"),
//	)
//
// [NewServer] starts one standalone on a loopback port; [NewInProcess] one
// without a listener, served through [Server.Transport], for tests inside a
// testing/synctest bubble, where rate-limit waits cost no real time.
//
// # The portal
//
// Contacts, companies, deals and tickets, with their usual default
// properties; custom properties ([WithProperty]) and custom objects
// ([WithCustomObject], addressed by name, objectTypeId 2-NNN or
// fullyQualifiedName p{portalId}_{name}). Records keep HubSpot's shape: ids
// are numeric strings, every value is a string, times are UTC with
// milliseconds, createdate and the last-modified property (lastmodifieddate
// for contacts, hs_lastmodifieddate for the rest) are maintained, and
// archived records are kept and listable with archived=true. Contacts also
// have an hs_lastmodifieddate that is never set, so a search on it finds
// nothing, as integrations discover on HubSpot. [Server.Seed] makes fixtures
// without requests.
//
// # Routes
//
// Both path families, /crm/v3/objects/{type}/... and
// /crm/objects/2026-03/{type}/...: list with the `after` cursor, read by id
// or idProperty (path segments URL-decoded), create, update, archive, the
// batch endpoints (read, create, update, upsert, archive; at most 100
// inputs; 201, 204, 207 with numErrors, 400 for duplicate ids; results not in
// input order; with an objectWriteTraceId on every input, per-input
// failures), search, the properties API, the custom-object schemas API,
// associations v4, and the OAuth token endpoint (authorization-code and
// refresh-token grants; [Server.AuthorizationCode] stands in for the
// browser). The properties parameter is taken repeated or comma-joined.
//
// Search applies HubSpot's rules: filter groups ORed, filters ANDed, at
// most 5 groups, 6 filters in a group and 18 in all; one sort (as an object
// or a name); `after` an offset, with nothing past the 10,000th result (400);
// archived records never match; string IN values match only in lower case.
// CONTAINS_TOKEN is approximated by a substring match.
//
// # Limits and errors
//
// The ten-secondly limit ([WithBurstLimit], 190 by default), the daily limit
// ([WithDailyLimit], 625,000; [Server.UseDaily] spends some at once) and
// search's 5 requests a second ([WithSearchLimit]), with the
// X-HubSpot-RateLimit-* headers on every response but search (the daily pair
// left out for OAuth tokens) and 429 bodies with HubSpot's errorType and
// policyName. Errors carry HubSpot's body (status, message, correlationId,
// category, errors[] naming properties) and X-HubSpot-Correlation-Id.
//
// # Faults, log and webhooks
//
// [Server.Inject] makes the next matching requests fail: an error status
// with HubSpot's body (5xx, 423, a 429 of either policy), an expired token,
// a slow answer, a hang until the client gives up, a reset connection.
// [Server.Requests] and [Server.Stats] are the request log and counters.
// [Server.SendWebhook] delivers a signed event batch (v1, v2 or v3) to a
// URL, so a webhook receiver is tested end to end.
package hubspottest
