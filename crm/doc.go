// Package crm is crmkit's CRM contract: what a record, a schema, a query, a
// change and a write are, what an adapter must do, and what an application
// gets back. Every CRM crmkit speaks to (Salesforce, HubSpot, Dynamics 365 /
// Dataverse, or one a team adds itself) looks the same from here.
//
// # Two sides
//
// The package follows the split that database/sql made familiar. Adapters
// implement [Driver], a small interface that does one CRM call at a time: one
// page of a query, one batch of writes, one page of a change feed.
// Applications use [Client], which wraps a Driver and does, once for every
// CRM, what each adapter would otherwise repeat: splitting writes into
// batches of the CRM's size, turning pages into iterators, and opening an
// OpenTelemetry span and emitting an [AuditEvent] for every call.
//
//	drv, err := salesforce.New(...)       // any crm.Driver; crm/memcrm for tests
//	client, err := crm.NewClient(drv, crm.WithAuditor(crm.SlogAuditor(logger)))
//
// # Records and values
//
// A [Record] carries its object, id, fields, last-modified time, a version for
// optimistic concurrency, and a deleted flag. In a write, a field absent from
// [Fields] is left unchanged and a field present with a nil value is set to
// null. Values are normalised by the field's described [FieldType]: string,
// bool, int64, [Decimal] (exact; crmkit never carries money in a float64),
// time.Time in UTC, [Date] (a calendar date that never shifts a day), and
// []string for multi-select picklists. [NormalizeValue] converts the usual
// wire encodings into these.
//
// # Reading
//
// [Client.Describe] returns an object's [Schema]. Queries use a portable
// filter model ([Eq], [Ne], [In], [Gt], [Lt], [Contains], [IsNull],
// [ModifiedSince], [And], [Or], [Not]) that each adapter compiles into its
// CRM's query language with every literal escaped; [Query.Native] is the
// explicit escape hatch for a query in the CRM's own language.
//
// Reads stream. [Client.Query] returns an iter.Seq2 that fetches one page at
// a time and stops promptly when the context is cancelled:
//
//	q := crm.Query{Object: "Contact", Where: crm.And(crm.Eq("Status", "Active"), crm.ModifiedSince(since))}
//	for rec, err := range client.Query(ctx, q) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(rec.ID, rec.Fields["Email"])
//	}
//
// To checkpoint a long read, use [Client.QueryPages] or [Client.QueryPage]:
// each [Page] has a NextCursor that can be stored and passed back later with
// [WithCursor], even from another process.
//
// # The change feed
//
// [Client.Changes] yields the creates, updates and deletes of an object since
// an opaque cursor, page by page. Store each page's Cursor after processing
// the page; passing it to the next call resumes exactly there. Feeds are at
// least once: a change may be delivered again (adapters re-read a lookback
// window to catch rows that committed late), so apply changes idempotently.
//
// # Writing
//
// [Client.Write] takes a slice of [Write] (create, update, upsert by an
// external id, delete, each optionally conditional on a version) and returns
// one [WriteResult] per write, in order, so that one bad record never hides
// the outcome of the others:
//
//	results, err := client.Write(ctx, "Contact", writes)
//	if err != nil {
//		return err // the context ended before every batch was sent
//	}
//	for i, r := range results {
//		if r.Err != nil {
//			log.Printf("write %d: %v (remedy: %s)", i, r.Err, crm.KindOf(r.Err).Remedy())
//		}
//	}
//
// With [WithSchemaChecks] the Client describes each object once and checks
// every write against its schema before sending it: a write to an unknown or
// read-only field, or with a value of the wrong type, fails alone with
// KindValidation, naming the field, and costs no CRM call.
//
// # Errors
//
// Every failure from a CRM is an [*Error] with a [Kind] (unauthorized,
// forbidden, not found, conflict, duplicate, validation, rate limited, quota
// exhausted, unavailable, unsupported, invalid request), the HTTP status, the
// CRM's own code and message, its request id, Retry-After and the fields
// involved. Inspect it with errors.As, or match a kind with the sentinels:
//
//	var ce *crm.Error
//	switch {
//	case errors.Is(err, crm.ErrRateLimited):
//		// back off; ce.RetryAfter says how long, when the CRM said
//	case errors.As(err, &ce) && ce.Kind == crm.KindValidation:
//		// fix the fields named in ce.Fields
//	}
//
// Each Kind says whether it is retryable ([Kind.Retryable]) and what the
// remedy is ([Kind.Remedy]). Errors never carry credentials.
//
// # Optional abilities
//
// What not every CRM offers is a separate small interface that a driver may
// also implement: [ObjectLister], [Searcher], [BulkWriter], [BulkQuerier],
// [LimitsReporter] and [WebhookReceiver]. The Client finds them by type
// assertion and returns an error of KindUnsupported when they are missing.
// A driver lists the contract features it cannot do in
// [DriverInfo.Unsupported]; the conformance suite in crm/crmtest skips those.
//
// # Retry, rate limits, authentication
//
// These sit below the Client, in the HTTP transport each adapter is built
// with (see crm/retry and crm/ratelimit), so that they cover every request,
// including those a driver makes on its own behalf.
//
// # Writing a driver
//
// Implement [Driver], build every error in one place as an [*Error], and run
// the conformance suite against it:
//
//	func TestConformance(t *testing.T) {
//		crmtest.Run(t, func(t *testing.T) crmtest.Target {
//			return crmtest.Target{Driver: newTestDriver(t), Object: "Contact", NameField: "LastName", TextField: "Description"}
//		})
//	}
package crm
