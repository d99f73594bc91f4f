// Package memcrm is crmkit's reference driver: a complete CRM that lives in
// memory. It implements [crm.Driver] exactly as the contract describes, plus
// [crm.ObjectLister], [crm.Searcher] and [crm.LimitsReporter], and passes the
// conformance suite in crm/crmtest. Use it to test code that talks to a CRM
// without a network or an org, to try crmkit out, and as the model of what an
// adapter should do when the contract leaves a question open.
//
//	drv, err := memcrm.New() // Contact and Account, as ContactSchema and AccountSchema describe
//	if err != nil {
//		return err
//	}
//	client, err := crm.NewClient(drv)
//	id, err := client.Create(ctx, "Contact", crm.Fields{"LastName": "Lovelace", "Email": "ada@example.com"})
//
// # Objects and fixtures
//
// [WithObjects] replaces the sample objects with your own schemas. Fields are
// checked as a CRM checks them: unknown fields, values of the wrong type,
// read-only fields, missing required fields, nulls in non-nillable fields,
// over-long text and values outside a picklist fail with KindValidation
// naming the field; a second record with the same unique or external-id value
// fails with KindDuplicate. [Driver.Seed] loads fixtures as the CRM itself,
// so that they may set read-only fields.
//
// # Behaviour
//
//   - Ids are the object's name and a counter ("contact-1"); versions are a
//     store-wide write counter, so every write changes a record's Version.
//   - String comparisons in filters ignore case, as in Salesforce and
//     Dataverse; Contains is a case-insensitive substring match; Ne and Not
//     match nulls; ascending order puts nulls first.
//   - Query cursors hold the position after the page's last record and a
//     hash of the query, so paging resumes correctly after records are
//     inserted or deleted between pages (in id order, the default, after any
//     write), and a cursor used with another query is refused with
//     KindInvalidRequest. Change cursors hold a write sequence number.
//   - Deletes leave tombstones: the change feed reports them, and
//     Query.IncludeDeleted finds them.
//   - Writes are applied one by one, each with its own result; a batch larger
//     than [WithMaxBatchSize] is refused whole, as a real CRM would
//     ([crm.Client.Write] splits batches for you).
//   - Every call counts against a daily allocation ([WithDailyLimit]); when it
//     is used up, calls fail with KindQuotaExhausted until midnight UTC.
//   - A cancelled context makes every call fail with an error that matches
//     context.Canceled.
//   - Native queries are not supported (crm.FeatureNativeQuery).
//
// The data kernel underneath is shared with crmkit's CRM emulators, which put
// the Salesforce, HubSpot and Dynamics wire protocols on top of it.
package memcrm
