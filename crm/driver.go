package crm

import (
	"context"
	"net/http"
	"time"
)

// Driver is the interface a CRM adapter implements: the driver side of crmkit,
// in the manner of database/sql/driver. It does only its CRM's protocol: one
// page, one batch, one call at a time. Applications do not call a Driver
// directly; they wrap it in a [Client], which adds batching, iteration,
// tracing and audit once for every CRM.
//
// Each method takes a request struct rather than positional arguments, so
// that crmkit can add fields to a request without breaking drivers. A driver
// reports failures as *Error values; a method it cannot perform returns an
// *Error of KindUnsupported and names the feature in Info().Unsupported.
//
// A Driver must be safe for concurrent use.
type Driver interface {
	// Info describes the driver: its name, its limits, what it cannot do.
	Info() DriverInfo

	// Describe returns the schema of one object.
	Describe(ctx context.Context, object string) (*Schema, error)

	// Get reads one record by id. A missing record is KindNotFound.
	Get(ctx context.Context, req GetRequest) (*Record, error)

	// Query returns one page of a query's results: the first page when
	// req.Cursor is empty, else the page that req.Cursor points at.
	Query(ctx context.Context, req QueryRequest) (*Page, error)

	// Changes returns one page of the object's change feed after req.Cursor
	// (from the beginning when it is empty).
	Changes(ctx context.Context, req ChangesRequest) (*ChangePage, error)

	// Write applies at most Info().MaxBatchSize writes to one object and
	// returns exactly one result per write, in order. The error is non-nil
	// only when the whole batch failed (the request never reached the CRM, or
	// the CRM refused all of it); a single record's failure goes in its
	// WriteResult.
	Write(ctx context.Context, req WriteRequest) ([]WriteResult, error)
}

// DriverInfo describes a driver.
type DriverInfo struct {
	// Name identifies the CRM, such as "salesforce"; it appears in errors,
	// spans and audit events.
	Name string

	// MaxBatchSize is the most writes the driver accepts in one Write call
	// (200 for Salesforce sObject Collections, 100 for HubSpot batches).
	// The Client splits larger writes. Zero means 1.
	MaxBatchSize int

	// MaxPageSize and DefaultPageSize bound QueryRequest.PageSize; zero
	// means the driver decides.
	MaxPageSize     int
	DefaultPageSize int

	// BulkThreshold is the number of writes above which the Client uses the
	// driver's BulkWriter, when it has one. Zero means never.
	BulkThreshold int

	// Unsupported names the contract features the driver cannot do; the
	// conformance suite skips their tests by these names.
	Unsupported []Feature
}

// Supports reports whether f is not listed in i.Unsupported.
func (i DriverInfo) Supports(f Feature) bool {
	for _, u := range i.Unsupported {
		if u == f {
			return false
		}
	}
	return true
}

// Feature names a part of the contract that a driver may not support.
type Feature string

// The features a driver may declare unsupported.
const (
	FeatureUpsert         Feature = "upsert"          // Write with OpUpsert
	FeatureIfVersion      Feature = "if-version"      // Write.IfVersion optimistic concurrency
	FeatureChangeDeletes  Feature = "change-deletes"  // deletes in the change feed
	FeatureIncludeDeleted Feature = "include-deleted" // Query.IncludeDeleted
	FeatureNativeQuery    Feature = "native-query"    // Query.Native
	FeatureOrderBy        Feature = "order-by"        // Query.OrderBy
	FeatureContains       Feature = "contains"        // the Contains filter
	FeatureNullFilter     Feature = "null-filter"     // IsNull and NotNull
	FeatureOr             Feature = "or"              // the Or and Not filters
	FeatureSetNull        Feature = "set-null"        // a nil field value clears the field
)

// GetRequest asks for one record.
type GetRequest struct {
	Object string
	ID     string
	Fields []string // nil for the driver's default fields
}

// QueryRequest asks for one page of a query.
type QueryRequest struct {
	Query    Query
	Cursor   string // empty for the first page
	PageSize int    // records per page; 0 for the driver's default
}

// Page is one page of query results.
type Page struct {
	Records []*Record
	// NextCursor resumes the query after this page; empty on the last page.
	// It is opaque and may be stored: a later QueryRequest with the same
	// Query and this Cursor continues where this page ended.
	NextCursor string
	// Total is the number of records the whole query matches, or -1 when
	// the CRM does not say.
	Total int
}

// ChangesRequest asks for one page of an object's change feed.
type ChangesRequest struct {
	Object   string
	Cursor   string   // empty to start from the beginning of the feed
	Fields   []string // nil for the driver's default fields
	PageSize int      // 0 for the driver's default
}

// ChangeKind says what happened to a record.
type ChangeKind uint8

// The change kinds. A driver that cannot tell a create from an update
// reports ChangeUpdated.
const (
	ChangeCreated ChangeKind = iota + 1
	ChangeUpdated
	ChangeDeleted
)

func (k ChangeKind) String() string {
	switch k {
	case ChangeCreated:
		return "created"
	case ChangeUpdated:
		return "updated"
	case ChangeDeleted:
		return "deleted"
	}
	return "unknown"
}

// Change is one entry of a change feed. For a delete, Record holds at least
// the object, the id and Deleted set; its fields may be empty.
type Change struct {
	Kind   ChangeKind
	Record *Record
}

// ChangePage is one page of a change feed.
type ChangePage struct {
	Changes []Change
	// Cursor is where the feed resumes after this page. The caller stores it
	// once it has processed the page, and passes it to the next
	// ChangesRequest, possibly after a restart. It is never empty.
	Cursor string
	// More reports whether the feed had more changes than fit in this page.
	More bool
}

// Op is the operation of a [Write].
type Op uint8

// The write operations.
const (
	OpCreate Op = iota + 1
	OpUpdate
	OpUpsert
	OpDelete
)

func (o Op) String() string {
	switch o {
	case OpCreate:
		return "create"
	case OpUpdate:
		return "update"
	case OpUpsert:
		return "upsert"
	case OpDelete:
		return "delete"
	}
	return "unknown"
}

// Write is one record write.
//
//   - OpCreate needs Fields.
//   - OpUpdate and OpDelete need ID.
//   - OpUpsert needs ExternalField and ExternalValue: the record whose
//     external-id field ExternalField holds ExternalValue is updated, or
//     created with that value when there is none. Retrying an upsert never
//     makes a duplicate, which is why the sync engine sends every create as one.
//
// IfVersion, when set, makes an update or delete conditional: it fails with
// KindConflict if the record's current Version differs.
type Write struct {
	Op            Op
	ID            string
	ExternalField string
	ExternalValue string
	Fields        Fields
	IfVersion     string
}

// WriteRequest asks a driver to apply a batch of writes to one object.
type WriteRequest struct {
	Object string
	Writes []Write
}

// WriteResult is the outcome of one Write.
type WriteResult struct {
	// ID is the record's id: the new id after a create or an upsert that
	// created, the given id otherwise.
	ID string
	// Created reports whether the write made a new record.
	Created bool
	// Version is the record's version after the write, when the CRM says.
	Version string
	// Err is the record's failure, an *Error; nil on success.
	Err error
}

// Optional abilities. A driver implements those its CRM offers; the Client
// finds them with a type assertion and returns KindUnsupported otherwise.

// ObjectLister lists the objects a CRM has (Salesforce describe-global,
// Dataverse EntityDefinitions, HubSpot schemas).
type ObjectLister interface {
	ListObjects(ctx context.Context) ([]ObjectInfo, error)
}

// Searcher runs a free-text search, where the CRM has one (SOSL, HubSpot
// search's query string, Dataverse search).
type Searcher interface {
	Search(ctx context.Context, req SearchRequest) (*Page, error)
}

// SearchRequest is a free-text search over one object.
type SearchRequest struct {
	Object   string
	Text     string
	Fields   []string
	Cursor   string
	PageSize int
}

// BulkWriter applies large write sets through the CRM's asynchronous bulk
// API (Salesforce Bulk API 2.0 ingest jobs). It takes any number of writes of
// one operation kind and maps the job's results back, one per write, in order.
type BulkWriter interface {
	BulkWrite(ctx context.Context, req WriteRequest) ([]WriteResult, error)
}

// BulkQuerier runs a query as an asynchronous bulk job and pages through its
// results.
type BulkQuerier interface {
	BulkQuery(ctx context.Context, req QueryRequest) (*Page, error)
}

// LimitsReporter reports the CRM's API allocations and their use.
type LimitsReporter interface {
	Limits(ctx context.Context) (*Limits, error)
}

// Limits is a snapshot of a CRM's allocations.
type Limits struct {
	// Daily is the daily API request allocation.
	Daily Quota
	// Other holds every other allocation the CRM reports, by its own name.
	Other map[string]Quota
	// At is when the snapshot was taken.
	At time.Time
}

// Quota is one allocation: how much of Max is used. Zero Max means unknown.
type Quota struct {
	Used int64
	Max  int64
}

// Remaining returns Max - Used, or -1 when Max is unknown.
func (q Quota) Remaining() int64 {
	if q.Max <= 0 {
		return -1
	}
	return q.Max - q.Used
}

// WebhookReceiver verifies and decodes a CRM's webhook (or outbound message)
// deliveries into changes. A request that is unsigned, tampered with or too
// old gives an *Error of KindUnauthorized and no changes.
type WebhookReceiver interface {
	ReceiveWebhook(ctx context.Context, r *http.Request) ([]Change, error)
}
