// Package crmtest is the crm contract in executable form: a conformance
// suite that any [crm.Driver] must pass. Each crmkit adapter runs it against
// its emulator, the reference driver crm/memcrm runs it against itself, and
// a team that writes its own adapter runs it against theirs:
//
//	func TestConformance(t *testing.T) {
//		crmtest.Run(t, func(t *testing.T) crmtest.Target {
//			srv := acmetest.New(t)              // a fresh emulated org per subtest
//			drv, err := acme.New(acme.WithBaseURL(srv.URL), acme.WithHTTPClient(srv.Client()))
//			if err != nil {
//				t.Fatal(err)
//			}
//			return crmtest.Target{
//				Driver:          drv,
//				Object:          "Contact",
//				NameField:       "LastName",    // createable, updateable string
//				TextField:       "Description", // createable, updateable, nillable string, filterable with Eq
//				NumberField:     "Score",       // optional: int or decimal
//				ExternalIDField: "ExternalId",  // optional: external-id string
//				ReadOnlyField:   "CreatedDate", // optional: neither createable nor updateable
//				PageSize:        5,             // the paging tests write 3*PageSize+1 records
//			}
//		})
//	}
//
// [Run] runs one named subtest per behaviour, so a failure reads like
// "TestConformance/Paging: resuming from page 2's cursor: missing [...]":
//
//   - Info and Describe: the driver's description; the schema's shape, the
//     Target's fields with fitting types and flags, case-insensitive lookup,
//     KindNotFound for an unknown object.
//   - CreateGetUpdateDelete, AbsentAndNil: the round trip; an absent field is
//     left alone, a nil field is cleared.
//   - Upsert: create, then update the same record by external id, alone and
//     in batches, never making a duplicate.
//   - GetMissing, UnknownField, ReadOnlyField, PartialBatch, WriteResults,
//     StaleVersion: errors of the right Kind naming the right field; one
//     result per write, in order; a bad record never fails the others;
//     KindConflict for a stale IfVersion; versions change on update.
//   - Paging: 3*PageSize+1 records, each exactly once, resumed from a stored
//     cursor by a new Client.
//   - Filters, Literals, OrderBy, Limit, IncludeDeleted: every filter type;
//     literals full of quotes, backslashes, wildcards and query keywords come
//     back as data, never as syntax.
//   - Cancel: a cancelled context stops an iteration at once and fails every
//     driver call.
//   - Changes: creates, updates and deletes after a stored cursor, read by a
//     new Client, including from a cursor taken mid-feed.
//
// Features a driver lists in Info().Unsupported are skipped, with the
// feature's name in the skip message, so a skip is never silent.
//
// # Real orgs
//
// The suite calls newTarget at the start of every subtest; return a fresh
// org where you can. It also works on one shared org, such as a sandbox: it
// writes its run tag into TextField on every record it creates and only ever
// reads back records with that tag, fills other required fields with sample
// values, and deletes what it created when each subtest ends.
package crmtest
