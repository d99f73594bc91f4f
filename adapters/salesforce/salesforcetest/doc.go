// Package salesforcetest is an emulated Salesforce org, in the standard
// library's httptest habit: an HTTP server that speaks Salesforce's REST
// API from the org's side, faithfully enough that an integration is tested
// against it instead of a shared sandbox. crmkit's Salesforce adapter is
// tested against it, and so can any Salesforce client, in any language.
//
//	func TestSync(t *testing.T) {
//		org := salesforcetest.New(t, salesforcetest.WithFields("Contact",
//			salesforcetest.Field{Name: "External_Id__c", Type: "string", ExternalID: true, Unique: true}))
//		drv, err := salesforce.New(
//			salesforce.WithInstanceURL(org.URL),
//			salesforce.WithTokenSource(org.TokenSource()),
//			salesforce.WithHTTPClient(org.Client()),
//		)
//		...
//		if n := org.Count("collections.upsert"); n != 3 { ... }
//	}
//
// New starts an org for one test and closes it when the test ends;
// NewServer starts one for a program (WithAddr picks the address). Each org
// starts with Account, Contact, Lead, Opportunity and User, with the fields
// an integration most often uses and realistic describe output (types,
// lengths, picklists, createable and updateable, key prefixes), and the
// integration user the access token belongs to. WithFields adds fields
// (usually custom, __c) to an object; WithObject and AddObject declare
// custom objects, which get Id, Name, OwnerId, IsDeleted and the audit
// fields automatically.
//
// # What it serves
//
// Every path sits under /services/data/vNN.N/ for a version the org lists
// (WithAPIVersions; 31.0 to 67.0 by default), and needs the bearer token
// (Token, TokenSource; ExpireSession and RevokeToken make 401
// INVALID_SESSION_ID happen):
//
//	GET    /services/data/                           versions (no token needed, not counted)
//	GET    /services/data/vNN.N/                     resources
//	GET    .../sobjects                              describe-global (maxBatchSize 200)
//	GET    .../sobjects/{object}[/describe]          basic info, describe (If-Modified-Since: 304)
//	POST   .../sobjects/{object}                     create: 201 {"id","success","errors"}
//	GET    .../sobjects/{object}/{id}[?fields=]      retrieve
//	PATCH  .../sobjects/{object}/{id}                update: 204
//	DELETE .../sobjects/{object}/{id}                delete: 204
//	GET    .../sobjects/{object}/{field}/{value}     retrieve by external id (300 for several)
//	PATCH  .../sobjects/{object}/{field}/{value}     upsert: 201 created, 200 updated (204 before v46), 300
//	GET    .../sobjects/{object}/updated|deleted     getUpdated, getDeleted (?start=&end=)
//	GET    .../query?q=, .../queryAll?q=             SOQL, with nextRecordsUrl locators
//	GET    .../query/{locator}, .../queryAll/{loc}   queryMore (both paths serve every locator)
//	POST   .../composite/sobjects                    Collections create (200 records, allOrNone)
//	PATCH  .../composite/sobjects                    Collections update
//	PATCH  .../composite/sobjects/{object}/{field}   Collections upsert, with "created"
//	DELETE .../composite/sobjects?ids=               Collections delete
//	GET|POST .../composite/sobjects/{object}         Collections retrieve
//	GET    .../limits                                limits
//	POST   .../jobs/ingest                           Bulk API 2.0 ingest job (insert, update, upsert, delete)
//	PUT    .../jobs/ingest/{id}/batches              its CSV upload (one per job; 201)
//	PATCH  .../jobs/ingest/{id}                      UploadComplete or Aborted
//	GET    .../jobs/ingest/{id}[/successfulResults|/failedResults|/unprocessedrecords]
//	POST   .../jobs/query, GET .../jobs/query/{id}[/results?locator=&maxRecords=]
//	DELETE .../jobs/ingest/{id}, .../jobs/query/{id}
//
// Answers are what the real org sends: Content-Type
// application/json;charset=UTF-8, Sforce-Limit-Info: api-usage=N/M on every
// call but the versions list, request ids in X-Sfdc-Request-Id and
// X-Request-Id, 18-character ids with the object's key prefix (15-character
// ones are accepted), date-times as 2024-01-02T03:04:05.000+0000, and
// errors as [{"message","errorCode","fields"}] arrays, or per record as
// {"statusCode","message","fields"} inside Collections results:
// REQUIRED_FIELD_MISSING, STRING_TOO_LONG,
// INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST, INVALID_FIELD_FOR_INSERT_UPDATE,
// INVALID_FIELD, JSON_PARSER_ERROR, INVALID_EMAIL_ADDRESS,
// NUMBER_OUTSIDE_VALID_RANGE, MALFORMED_ID, INVALID_CROSS_REFERENCE_KEY,
// DUPLICATE_VALUE, DUPLICATE_EXTERNAL_ID, ENTITY_IS_DELETED, NOT_FOUND,
// METHOD_NOT_ALLOWED, MALFORMED_QUERY, INVALID_TYPE, INVALID_QUERY_LOCATOR,
// EXCEEDED_ID_LIMIT, ALL_OR_NONE_OPERATION_ROLLED_BACK and
// REQUEST_LIMIT_EXCEEDED, with their statuses.
//
// It is lenient where Salesforce is and clients depend on it: trailing
// slashes, '+' or %20 for spaces in q, an attributes object in
// single-record bodies, field names in any case ("id" in Collections
// updates), a locator followed under another API version, gzip request
// bodies.
//
// # SOQL
//
// The org parses SELECT field list, COUNT() or FIELDS(ALL|STANDARD|CUSTOM)
// FROM one object, WHERE with =, !=, <>, <, <=, >, >=, LIKE, IN, NOT IN,
// NOT, AND and OR (never mixed at one level without parentheses, as SOQL
// requires), null, true and false, numbers, dates, date-times, TODAY,
// YESTERDAY, TOMORROW, LAST_N_DAYS:n and NEXT_N_DAYS:n, then ORDER BY (ASC,
// DESC), LIMIT and OFFSET. String literals accept exactly SOQL's escape
// sequences, so a client that escapes badly gets MALFORMED_QUERY, as from
// a real org. Text comparisons ignore case. Relationship fields
// (Owner.Name), subqueries and aggregates other than COUNT() are not
// emulated and are refused with a message that says so. Pages hold 2000
// rows, or the Sforce-Query-Options batchSize (200 to 2000); a locator
// lives 15 idle minutes (WithLocatorTTL).
//
// # Bulk API 2.0
//
// A bulk job moves one state per poll of GET .../jobs/{ingest|query}/{id}, as
// a real org's does over seconds: an ingest job is UploadComplete after its
// close, InProgress at the next poll (when its records are written, with
// the same checks as the REST writes), then JobComplete, or Failed with an
// errorMessage when its CSV names a field the object lacks. Results are CSV
// with sf__Id and sf__Created, or sf__Id and sf__Error
// ("STATUS_CODE:message:fields --"), before the uploaded columns; an empty
// cell leaves a field unchanged and #N/A sets it to null. Query job results
// page with the Sforce-Locator and Sforce-NumberOfRecords headers. Every
// delimiter and line ending Bulk API 2.0 names is accepted.
//
// # The org's own behaviour
//
// Every write stamps CreatedDate, LastModifiedDate, SystemModstamp (never
// the same millisecond twice for one record), CreatedById and
// LastModifiedById (UserID), defaults OwnerId, booleans and picklist
// defaults, and computes a person's Name. Deletes move rows to the recycle
// bin: queryAll returns them with IsDeleted true, and getDeleted lists them.
// Empty strings are stored as null, as Salesforce does. WithClock sets the
// org's clock; moving it back before a write makes a row that "committed
// late", with a SystemModstamp older than rows already read.
//
// # OAuth
//
// POST /services/oauth2/token serves the JWT-bearer, refresh-token and
// client-credentials grants for the connected apps registered with
// WithConnectedApp: a JWT-bearer assertion must be RS256, signed by the
// app's Certificate, for https://login.salesforce.com,
// https://test.salesforce.com or the org's URL, with an exp (a number or a
// string of one) no more than three minutes past; IssueRefreshToken makes a
// refresh token; client credentials may come in the form or as HTTP Basic.
// Answers and errors ({"error","error_description"}) have Salesforce's
// shape: no expires_in, issued_at and an HMAC-SHA256 signature on refresh
// and client-credentials answers. WithSessionTimeout makes issued tokens
// expire. POST /services/oauth2/revoke revokes a token. Neither counts
// against the allocation.
//
// # Limits and faults
//
// A daily allocation (WithDailyLimit, DefaultDailyLimit; counted over a
// rolling day) gives 403 REQUEST_LIMIT_EXCEEDED once spent; SetDailyUsage
// starts a test near the limit. WithConcurrencyLimit and WithRateLimit
// refuse requests beyond a concurrency or a per-second rate. Inject,
// InjectRandom and InjectRule break requests by route with StatusFault
// (any status and error code), Unavailable, ServerError, TooManyRequests,
// Timeout, ConnectionReset or Slow, before the org does the work or, with
// Fault.AfterWork, after it. InjectRecordFault fails chosen records of a
// Collections call, UNABLE_TO_LOCK_ROW by default.
//
// # Counting calls
//
// Requests, Count, Counts and Total report what the org served, by route
// name: versions, resources, describeGlobal, describe, sobject.basic,
// sobject.create, sobject.get, sobject.update, sobject.delete,
// sobject.getByExternalId, sobject.upsert, sobject.deleteByExternalId,
// sobject.updated, sobject.deleted, query, queryAll, queryMore,
// collections.create, collections.update, collections.upsert,
// collections.delete, collections.retrieve, limits, bulk.ingest (create or
// list jobs), bulk.ingest.job, bulk.ingest.upload, bulk.ingest.results,
// bulk.query, bulk.query.job, bulk.query.results, oauth2.token,
// oauth2.revoke. Record faults aimed at
// "bulk.ingest" fail records of ingest jobs. Authorization headers in the
// log are redacted.
//
// # Outside tests
//
// NewServer(WithAddr("127.0.0.1:8081")) serves the org on a loopback port,
// for clients in other languages or for curl; LoadSeed fills it from a JSON
// file:
//
//	TOKEN=...   # Server.Token()
//	BASE=http://127.0.0.1:8081/services/data/v63.0
//	curl -s $BASE/sobjects/Contact/describe -H "Authorization: Bearer $TOKEN"
//	curl -s $BASE/sobjects/Contact -H "Authorization: Bearer $TOKEN" \
//	     -H 'Content-Type: application/json' -d '{"LastName":"Lovelace"}'
//	# {"id":"003Dm0000000001IAA","success":true,"errors":[]}
//	curl -s -X PATCH $BASE/sobjects/Contact/003Dm0000000001IAA -H "Authorization: Bearer $TOKEN" \
//	     -H 'Content-Type: application/json' -d '{"FirstName":"Ada"}'      # 204
//	curl -s -G $BASE/query -H "Authorization: Bearer $TOKEN" \
//	     --data-urlencode "q=SELECT Id, Name FROM Contact WHERE LastName = 'Lovelace'"
//	# {"totalSize":1,"done":true,"records":[{"attributes":{...},"Id":"003Dm0000000001IAA","Name":"Ada Lovelace"}]}
package salesforcetest
