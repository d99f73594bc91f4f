// Package hubspot is crmkit's HubSpot driver: a [crm.Driver] that speaks
// HubSpot's CRM API (objects, properties, search, batches, associations v4,
// webhooks) for contacts, companies, deals, tickets and custom objects.
// Applications wrap it in a crm.Client, which batches, iterates, traces and
// audits:
//
//	drv, err := hubspot.New(hubspot.WithPrivateAppToken(os.Getenv("HUBSPOT_TOKEN")))
//	if err != nil {
//		return err
//	}
//	client, err := crm.NewClient(drv)
//	if err != nil {
//		return err
//	}
//	for rec, err := range client.Query(ctx, crm.Query{Object: "contacts", Where: crm.Eq("email", email)}) {
//		...
//	}
//
// # Authentication
//
// A private app's (or service key's) static token with
// [WithPrivateAppToken], or OAuth 2.0 access tokens from any
// oauth2.TokenSource with [WithTokenSource]; either is sent as a bearer
// token and never appears in an error, a log or a span.
//
// # Paths
//
// HubSpot's date-versioned paths (/crm/objects/2026-03/contacts) are the
// default; [WithAPIVersion](APIVersionLegacy) uses the numbered ones
// (/crm/v3/objects/contacts), which lose support in September 2027. Objects
// are named as HubSpot names them: "contacts", "0-1", or a custom object's
// fullyQualifiedName ("p12345_cars") or objectTypeId ("2-3456").
//
// # Schemas and values
//
// Describe reads the properties API: each property's type (number with a
// currency display is crm.TypeCurrency; an enumeration a picklist, or a
// multi-select when it is a checkbox), whether the integration may write it
// (modificationMetadata.readOnlyValue), whether it is unique
// (hasUniqueValue, and a contact's email), its options. HubSpot sends every
// value as text; the driver converts it by the described type, so a
// record's Fields hold crm.Decimal, time.Time, crm.Date, bool and []string
// as the crm contract says. A nil value in a write clears the property.
//
// Reads return HubSpot's default properties unless the caller names fields
// (or sets defaults with [WithDefaultFields]); asking for every property is
// not offered, since a contact has hundreds.
//
// # Queries
//
// A query without a filter or order lists the object. One with them is a
// search: the portable filter is compiled into filter groups (ORed) of
// filters (ANDed), with Not pushed down to the comparisons; a filter that
// would need more than HubSpot's 5 groups, 6 filters in a group or 18 in
// all fails with KindUnsupported before anything is sent. String In values
// go in lower case, as HubSpot matches them. Search stops at 10,000 results:
// the driver pages a search without an order by record id, which never
// reaches the cap, and restarts an ordered one from the last value read
// when it nears the cap, skipping the records already returned. Queries
// cannot include archived records, which search cannot see
// (crm.FeatureIncludeDeleted), and Contains works only for whole words
// (crm.FeatureContains).
//
// # Writes
//
// Write sends up to 100 writes per call to the batch endpoints (create,
// update, upsert by a unique property, archive), one call per run of one
// operation, so 250 upserts through crm.Client cost 3 calls. Every input
// carries an objectWriteTraceId: HubSpot then answers 207 naming the inputs
// that failed, and each write gets its own result. HubSpot has no
// conditional writes (crm.FeatureIfVersion).
//
// # Change feed
//
// Changes searches on the object's last-modified property (lastmodifieddate
// for contacts, hs_lastmodifieddate for the rest; the other one misbehaves)
// in ascending order, restarting from the last time read on every page, so
// 10,000 results are no limit, and reading a millisecond that several
// records share by id, so none is lost or read twice. It then lists the
// archived records, which search cannot see, and reports those archived
// since its last scan as deletes. [WithIndexLag] keeps the feed that far
// behind the present (30 seconds by default), so that a write HubSpot has
// not yet indexed is not passed over.
//
// # Limits
//
// Requests are paced under the ten-secondly limit ([WithTenSecondlyLimit],
// 100 by default) and slow further when the X-HubSpot-RateLimit-* headers
// show the window nearly spent; search, which HubSpot limits to 5 a second
// apart from the rest, has its own lane ([SearchLane]). A 429 whose policy
// is TEN_SECONDLY_ROLLING is KindRateLimited and waited out (10 seconds,
// pausing the lane for every caller); a DAILY one is KindQuotaExhausted and
// is not retried. [WithLimiter] takes a limiter with a daily guard, to stop
// before the account's shared daily allocation is gone.
//
// # Errors
//
// Every failure is a *crm.Error built in one place from HubSpot's error
// body: category (or a 429's errorType and policyName) gives the Kind and
// the Code, correlationId the RequestID, and the properties a validation
// error names the Fields:
//
//	var ce *crm.Error
//	if errors.As(err, &ce) {
//		switch ce.Kind {
//		case crm.KindValidation:
//			log.Printf("fix %v: %s (HubSpot correlation id %s)", ce.Fields, ce.Message, ce.RequestID)
//		case crm.KindQuotaExhausted:
//			// the account's daily allocation is spent: stop until midnight
//		}
//	}
//
// # Webhooks
//
// The Driver is a crm.WebhookReceiver: [Driver.ReceiveWebhook] verifies
// signature v3 (with its 5-minute window) against the app's secret
// ([WithWebhookSecret]) and turns the event batch into changes. Signatures
// v1 and v2 sign no timestamp, so a captured delivery could be replayed
// forever: they are refused unless the driver is built with
// [WithWebhookRequireV3](false), for apps that still send them.
//
//	http.HandleFunc("/hooks/hubspot", func(w http.ResponseWriter, r *http.Request) {
//		changes, err := drv.ReceiveWebhook(r.Context(), r)
//		if err != nil {
//			http.Error(w, "refused", http.StatusUnauthorized)
//			return
//		}
//		queue(changes) // answer fast: HubSpot retries slow deliveries
//		w.WriteHeader(http.StatusNoContent)
//	})
//
// # Associations
//
// [Driver.Associate], [Driver.Associations], [Driver.BatchAssociations] and
// [Driver.Dissociate] use associations v4, such as contact to company (type
// [ContactToCompany]) and deal to company ([DealToCompany]).
//
// # Testing
//
// Package hubspottest is an emulated portal that speaks the same protocol,
// limits and errors included; point the driver at it with [WithBaseURL] and
// [WithHTTPClient].
package hubspot
