package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/crmkit/crmkit/crm"
)

// Get reads one record (GET /sobjects/{object}/{id}), with req.Fields or
// every field. A missing or deleted record is KindNotFound.
func (d *Driver) Get(ctx context.Context, req crm.GetRequest) (*crm.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: get %s: %w", Name, req.Object, err)
	}
	if !isRecordID(req.ID) {
		return nil, &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: "get", Object: req.Object, RecordID: req.ID,
			Message: "the id is not a Salesforce record id (15 or 18 letters and digits)"}
	}
	s, err := d.describe(ctx, req.Object)
	if err != nil {
		return nil, err
	}
	c := &compiler{s: s, op: "get"}
	var q url.Values
	if req.Fields != nil {
		fields, err := c.selectList(req.Fields, false)
		if err != nil {
			return nil, err
		}
		q = url.Values{"fields": {strings.Join(fields, ",")}}
	}
	var raw json.RawMessage
	if _, err := d.call(ctx, request{op: "get", object: s.schema.Object, method: http.MethodGet,
		path: "/sobjects/" + url.PathEscape(s.schema.Object) + "/" + req.ID, query: q}, &raw); err != nil {
		var ce *crm.Error
		if asError(err, &ce) && ce.RecordID == "" {
			ce.RecordID = req.ID
		}
		return nil, err
	}
	r, err := decodeRecord(s, raw)
	if err != nil {
		return nil, d.badAnswer("get", s.schema.Object, err)
	}
	return r, nil
}

func isRecordID(id string) bool {
	if len(id) != 15 && len(id) != 18 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// badAnswer reports an answer that does not decode by the object's
// describe. Sending the same request again would get the same answer, so
// the error is KindInvalidRequest, not retryable; the cached describe is
// dropped, so that a later call reads the object's current schema.
func (d *Driver) badAnswer(op, object string, err error) error {
	if object != "" {
		d.ForgetSchema(object)
	}
	return &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: op, Object: object,
		Message: "the answer does not match the object's describe (the schema may have changed; the cached describe is dropped, so a new call reads it again): " + err.Error()}
}

// checkURI refuses a request whose URI would be longer than the maxURI
// bytes Salesforce takes, before it is sent; fix says how to shorten it.
func (d *Driver) checkURI(op, object string, r request, fix string) error {
	if n := len(d.base) + len("/services/data/v") + len(d.version) + len(r.path) + 1 + len(r.query.Encode()); n > maxURI {
		return &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: op, Object: object,
			Message: fmt.Sprintf("the query's URI would be %d bytes, more than the %d Salesforce takes: %s", n, maxURI, fix)}
	}
	return nil
}

// queryPage is one page of a query answer.
type queryPage struct {
	TotalSize      int               `json:"totalSize"`
	Done           bool              `json:"done"`
	NextRecordsURL string            `json:"nextRecordsUrl"`
	Records        []json.RawMessage `json:"records"`
}

// cursorRE is the shape of a nextRecordsUrl: the driver follows only
// cursors of this shape, on its own instance.
var cursorRE = regexp.MustCompile(`^/services/data/v[0-9]+\.[0-9]+/(query|queryAll)/[A-Za-z0-9]+-[0-9]+$`)

func pageSize(n int) int {
	if n <= 0 {
		return MaxPageSize
	}
	return min(max(n, MinPageSize), MaxPageSize)
}

// Query returns one page of a query. The portable query becomes SOQL, with
// every field allow-listed against the object's describe and every value
// escaped; a native query (raw SOQL) is sent as it is. IncludeDeleted uses
// queryAll, which also returns rows in the recycle bin, with
// Record.Deleted set. PageSize becomes the batchSize of
// Sforce-Query-Options, between 200 and 2000 (Salesforce's bounds, and it
// may return fewer). The NextCursor is Salesforce's nextRecordsUrl: it can
// be stored, but Salesforce forgets it after about 15 idle minutes.
func (d *Driver) Query(ctx context.Context, req crm.QueryRequest) (*crm.Page, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: query %s: %w", Name, req.Query.Object, err)
	}
	q := req.Query
	if err := q.Validate(); err != nil {
		return nil, err
	}
	r := request{op: "query", object: q.Object, method: http.MethodGet,
		header: http.Header{"Sforce-Query-Options": {"batchSize=" + strconv.Itoa(pageSize(req.PageSize))}}}
	var s *sfSchema
	if q.Object != "" {
		var err error
		if s, err = d.describe(ctx, q.Object); err != nil {
			return nil, err
		}
		r.object = s.schema.Object
	}
	switch {
	case req.Cursor != "":
		if !cursorRE.MatchString(req.Cursor) {
			return nil, &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: "query", Object: q.Object,
				Message: "the cursor is not a Salesforce nextRecordsUrl from this driver: pass Page.NextCursor as it was returned"}
		}
		r.path, r.raw = req.Cursor, true
	case q.Native != "":
		r.path, r.query = "/query", url.Values{"q": {q.Native}}
		if q.IncludeDeleted {
			r.path = "/queryAll"
		}
	default:
		soql, err := (&compiler{s: s, op: "query"}).buildSOQL(&q)
		if err != nil {
			return nil, err
		}
		r.path, r.query = "/query", url.Values{"q": {soql}}
		if q.IncludeDeleted {
			r.path = "/queryAll"
		}
		if err := d.checkURI("query", q.Object, r, "select fewer fields or split a long In list"); err != nil {
			return nil, err
		}
	}
	var page queryPage
	if _, err := d.call(ctx, r, &page); err != nil {
		return nil, err
	}
	out := &crm.Page{Total: page.TotalSize, Records: make([]*crm.Record, 0, len(page.Records))}
	for _, raw := range page.Records {
		rs := s
		if rs == nil || q.Native != "" {
			// A native query may read another object than Query.Object
			// names (or a relationship's): each record says its own.
			var err error
			if rs, err = d.recordSchema(ctx, raw, s); err != nil {
				return nil, err
			}
		}
		rec, err := decodeRecord(rs, raw)
		if err != nil {
			return nil, d.badAnswer("query", rs.schema.Object, err)
		}
		out.Records = append(out.Records, rec)
	}
	if !page.Done {
		if !cursorRE.MatchString(page.NextRecordsURL) {
			return nil, &crm.Error{Kind: crm.KindUnavailable, CRM: Name, Operation: "query", Object: q.Object,
				Message: "Salesforce said more records follow but sent no usable nextRecordsUrl"}
		}
		out.NextCursor = page.NextRecordsURL
	}
	return out, nil
}

// recordSchema describes the object a record of a native query belongs to,
// by its attributes.type; a record without one (an aggregate row) is read
// by fallback, the describe of Query.Object, when there is one.
func (d *Driver) recordSchema(ctx context.Context, raw json.RawMessage, fallback *sfSchema) (*sfSchema, error) {
	var head struct {
		Attributes struct {
			Type string `json:"type"`
		} `json:"attributes"`
	}
	if err := json.Unmarshal(raw, &head); err != nil || head.Attributes.Type == "" {
		if fallback != nil {
			return fallback, nil
		}
		return nil, &crm.Error{Kind: crm.KindUnsupported, CRM: Name, Operation: "query",
			Message: "a record of the native query has no attributes.type (an aggregate query?): crmkit reads records of one object"}
	}
	return d.describe(ctx, head.Attributes.Type)
}

func asError(err error, target **crm.Error) bool {
	ce, ok := err.(*crm.Error)
	if ok {
		*target = ce
	}
	return ok
}
