// Package salesforce is crmkit's driver for Salesforce: a crm.Driver that
// speaks the REST API of a Salesforce org (describe, sObject Collections,
// SOQL query and queryAll, limits), for use inside a crm.Client, which adds
// batching, iteration, tracing and audit on top.
//
//	drv, err := salesforce.New(
//		salesforce.WithInstanceURL("https://mydomain.my.salesforce.com"),
//		salesforce.WithTokenSource(tokens), // an oauth2.TokenSource, such as a JWT-bearer flow's
//		salesforce.WithAppName("billing-sync"),
//	)
//	if err != nil {
//		return err
//	}
//	client, err := crm.NewClient(drv)
//	...
//	for rec, err := range client.Query(ctx, crm.Query{Object: "Contact", Where: crm.Eq("Email", email)}) {
//		...
//	}
//
// # Versions
//
// The driver pins one REST API version (DefaultAPIVersion, or
// WithAPIVersion). Before its first call it reads the versions the org
// offers (GET /services/data/) and refuses, with a KindUnsupported error
// naming what the org offers, a version the org does not list.
//
// # Authentication
//
// WithTokenSource takes any oauth2.TokenSource; the driver caches its token,
// sends it as a bearer token, and when Salesforce answers 401
// INVALID_SESSION_ID (a session that timed out or was revoked) asks the
// source once for a new token and replays the request. The OAuth flows
// themselves (JWT bearer, refresh token, client credentials) belong to
// crmkit's auth packages.
//
// # Reads
//
// Describe reads an object's fields, types, lengths, picklists and
// field-level security (createable, updateable) for the integration user;
// schemas are cached (WithSchemaTTL). Query compiles the portable filter
// into SOQL: field names are allow-listed against the describe, and every
// literal is escaped (only ' and \ are special inside a SOQL string; LIKE
// patterns also escape % and _). Pages follow Salesforce's nextRecordsUrl,
// which is the page cursor; IncludeDeleted uses queryAll. A native query
// (raw SOQL) is sent as it is.
//
// # Writes
//
// Write uses sObject Collections with allOrNone false: up to 200 records a
// call, one result per record. Upserts go to the Collections upsert
// endpoint keyed by an external-id field, and report whether they created.
// A request of exactly one write (Client.Create, Update, Upsert and Delete,
// or a Write of one) uses the single-record form Salesforce documents for
// one record instead: POST /sobjects/{object}, PATCH or DELETE
// /sobjects/{object}/{id}, and PATCH /sobjects/{object}/{field}/{value},
// which also works where an org restricts Collections. It is one call
// either way and the result has the same shape (ID, Created, and an Err
// with the code, fields and request id). An upsert is answered 201 when
// it created and 200 when it updated; 300, when several records hold the
// key of an external id that is not unique, fails that write with
// crm.KindDuplicate, counting the matches and naming the field but never
// the value. An upsert key with '.', '/' or '\' goes through Collections,
// since Salesforce can misread such a value in a URL path.
//
// Each write is checked against the describe first, so that a write to an
// unknown or read-only field, or with a value of the wrong type, fails
// before any call and names the field. Conditional writes (IfVersion) are
// not supported.
//
// Above the bulk threshold (WithBulkThreshold; 2,000 writes by default, as
// Salesforce advises) the crm.Client hands writes to BulkWrite instead:
// one Bulk API 2.0 ingest job per operation (split so that no upload
// passes 100 MB), a CSV upload, polling with
// backoff, and the job's successful, failed and unprocessed results mapped
// back to one result per write, in order. BulkQuery runs a query as a bulk
// query job and pages through its CSV results.
//
// # Change feed
//
// Changes reads creates, updates and deletes by SystemModstamp through
// queryAll, with a lookback window (WithLookback) that catches rows whose
// transaction committed after later rows were read. The window is read
// once per drain (the first call after a page without More, and again if a
// long drain moves half a window past its last read); the other calls page
// forward from the stamp of the last row read, so draining N changes costs
// about N/PageSize calls. Its cursor is self-contained and survives
// restarts: it remembers up to 10,000 rows delivered inside the window (about
// 12 bytes each) so that a window read skips them. Beyond that the oldest
// are forgotten and may be delivered again: the feed is at least once, and
// a consumer should apply changes idempotently.
//
// # Limits and errors
//
// Every call carries Sforce-Call-Options: client=<app name>. The
// Sforce-Limit-Info header of every answer feeds the rate limiter
// (WithLimiter), whose daily guard can stop calls before the org does. An
// exhausted daily allocation (403 REQUEST_LIMIT_EXCEEDED) is
// crm.KindQuotaExhausted. Every error is a *crm.Error built from
// Salesforce's error array or a record's statusCode, with the code, the
// message, the fields and the request id kept; KindOfCode says how each
// code is classified.
//
// The emulator in package salesforcetest speaks the same protocol from the
// other side, for tests.
package salesforce
