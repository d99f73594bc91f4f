// Package dynamics is crmkit's driver for Microsoft Dataverse, the data
// platform of Dynamics 365 (Sales, Customer Service, ...) and Power Apps. It
// speaks the Dataverse Web API v9.2 (OData v4) and implements crm.Driver, so
// applications use it through a crm.Client like any other CRM:
//
//	drv, err := dynamics.New(
//		dynamics.WithBaseURL("https://contoso.crm.dynamics.com"),
//		dynamics.WithTokenSource(tokens), // an oauth2.TokenSource for https://contoso.crm.dynamics.com/.default
//	)
//	if err != nil {
//		return err
//	}
//	client, err := crm.NewClient(drv)
//	res, err := client.Upsert(ctx, "account", "accountnumber", "A-1001", crm.Fields{"name": "Contoso"})
//	for rec, err := range client.Query(ctx, crm.Query{Object: "contact", Where: crm.Eq("lastname", "O'Brien")}) {
//		...
//	}
//
// # Tables and columns
//
// Objects are tables by logical name ("account", "crmkit_project"); entity
// set names ("accounts") are accepted too. The driver reads each table's
// definition from EntityDefinitions once (cached for [WithMetadataTTL]) and
// uses it everywhere: the entity set to address, the primary key, and how
// each column is written, filtered and read. Fields are named by column
// logical name. Values follow the columns' types:
//
//   - choices (option sets) are their numbers as text ("7"); writes and
//     filters also take the number as an int, or the label ("Consulting").
//     Describe lists every choice with both its number and its label;
//   - multi-select choices are []string of numbers;
//   - lookups are the GUID of the record they point to, read from
//     _x_value and written with "<navigation property>@odata.bind" (custom
//     lookups' navigation properties, such as crmkit_AccountId, come from
//     the metadata, case and all); a lookup to several tables (Customer,
//     Owner) takes a reference such as "/contacts(<guid>)";
//   - money, decimal and double columns are exact crm.Decimal values;
//   - DateOnly columns are crm.Date: a date written from a time.Time is the
//     calendar date in that time's own zone, and it is sent and read as
//     YYYY-MM-DD, so it never shifts a day; UserLocal columns are UTC
//     instants; TimeZoneIndependent columns keep their wall-clock time (read
//     back as a time.Time in UTC whose clock reads what was written).
//
// Record.Version is the row's ETag (W/"12345"); pass it as Write.IfVersion
// to update or delete only if nobody changed the record since; anything
// but "*" or an ETag is refused before it is sent.
//
// # Queries
//
// The portable filter becomes a $filter: strings quoted with their quotes
// doubled, GUIDs, numbers, dates and date-times bare, choices as numbers,
// and every value percent-encoded, so a value never becomes syntax; a
// Contains value has the LIKE wildcards %, _ and [ escaped, so it matches as
// text. Pages come with Prefer: odata.maxpagesize and continue through the
// absolute @odata.nextLink, which the page's NextCursor holds. A cursor is
// tied to its query: the driver refuses one whose link points anywhere but
// this environment's entity set of the query's table, or carries other
// query options than the query's own (only the paging token may differ),
// so an edited cursor can neither send the access token elsewhere nor read
// more than the query asks. Query.Native (FetchXML) and Query.IncludeDeleted
// are not supported.
//
// # Writes
//
// Write sends up to 1000 writes in one $batch with Prefer:
// odata.continue-on-error and returns one result per write. Creates carry a
// primary key the driver chose, so a batch sent again after a lost response
// cannot create twice (and is retried like any idempotent request, a create
// found made by the first attempt reported as made); a batch holding a
// delete or a write with an IfVersion is sent once, since sent again it
// would report a write that was applied as failed; updates
// send If-Match: * so that they never create; upserts PATCH the alternate
// key, such as accounts(accountnumber='A-1001'), and report whether they
// created. [Driver.WriteAtomic] sends writes as one change set, applied all
// or nothing.
//
// # Changes
//
// Changes uses change tracking: the first read (empty cursor) returns every
// record with Prefer: odata.track-changes, later reads follow delta links,
// and deleted records come as ChangeDeleted. For a table without change
// tracking, Changes fails with a KindUnsupported error saying how to turn it
// on, unless the driver is built [WithModifiedOnPolling], which polls
// modifiedon with a lookback window instead (and cannot see deletes).
//
// # Errors and limits
//
// Every error is a *crm.Error built in one place from the Web API's
// {"error":{"code","message"}} body: codes such as 0x80040217 (not found),
// 0x80060882 (a stale ETag: KindConflict), 0x80060892 (a duplicate
// alternate key) and the service protection codes 0x80072322, 0x80072321
// and 0x80072326 (429, KindRateLimited) map to crm kinds; the service's
// request id (REQ_ID) and Retry-After are kept; the column an error is about
// is named in Error.Fields.
//
//	var ce *crm.Error
//	if errors.As(err, &ce) && ce.Kind == crm.KindConflict {
//		// re-read, merge, write again with the new Version
//	}
//
// Requests go through crmkit's HTTP transport: TLS 1.2 or newer, retries of
// idempotent requests (honouring Retry-After), tracing, and a rate limiter
// that the driver feeds from x-ms-ratelimit-burst-remaining-xrm-requests, so
// that it slows down before Dataverse answers 429, and that a 429 pauses.
//
// # Acting for a user
//
// [WithCallerObjectID] (or [ContextWithCaller] for one call) sends the
// CallerObjectId header, so that Dataverse records the person behind an
// integration's write in createdby, modifiedby and audit history.
//
// The emulator in adapters/dynamics/dynamicstest serves the same protocol
// for tests.
package dynamics
