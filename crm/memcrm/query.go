package memcrm

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/memstore"
)

var (
	_ crm.Driver         = (*Driver)(nil)
	_ crm.ObjectLister   = (*Driver)(nil)
	_ crm.Searcher       = (*Driver)(nil)
	_ crm.LimitsReporter = (*Driver)(nil)
)

// Query returns one page of a query. Cursors are opaque: they hold the
// position after the page's last record and a hash of the query, so a cursor
// keeps working after records are written between pages, and a cursor passed
// with a different query is refused with KindInvalidRequest.
func (d *Driver) Query(ctx context.Context, req crm.QueryRequest) (*crm.Page, error) {
	q := req.Query
	if err := d.begin(ctx, "query", q.Object); err != nil {
		return nil, err
	}
	if q.Native != "" {
		return nil, &crm.Error{Kind: crm.KindUnsupported, CRM: d.name, Operation: "query", Object: q.Object,
			Message: fmt.Sprintf("%s has no native query language (feature %q): use Where, OrderBy and Limit", d.name, crm.FeatureNativeQuery)}
	}
	if err := q.Validate(); err != nil {
		return nil, d.fail(err)
	}
	return d.page("query", q, req.Cursor, req.PageSize, "query:"+queryKey(q))
}

// Search finds records with a text field (any string field but ids and
// references) that contains req.Text, without regard to case. req.Fields
// selects the fields returned (nil for all).
func (d *Driver) Search(ctx context.Context, req crm.SearchRequest) (*crm.Page, error) {
	if err := d.begin(ctx, "search", req.Object); err != nil {
		return nil, err
	}
	text := strings.TrimSpace(req.Text)
	if text == "" {
		return nil, d.invalid("search", req.Object, "SearchRequest.Text is empty: give the text to look for")
	}
	schema, err := d.store.Schema(req.Object)
	if err != nil {
		return nil, d.fail(err)
	}
	var ors []crm.Filter
	for _, f := range schema.Fields {
		if f.Type.Value() == crm.ValueString && f.Type != crm.TypeID && f.Type != crm.TypeReference {
			ors = append(ors, crm.Contains(f.Name, text))
		}
	}
	q := crm.Query{Object: schema.Object, Fields: req.Fields, Where: crm.Or(ors...)}
	return d.page("search", q, req.Cursor, req.PageSize, "search:"+queryKey(q))
}

func (d *Driver) page(op string, q crm.Query, cursor string, pageSize int, key string) (*crm.Page, error) {
	size, err := d.pageSize(op, q.Object, pageSize)
	if err != nil {
		return nil, err
	}
	hash := hashOf(key)
	var after *memstore.Position
	served, total := 0, -1
	if cursor != "" {
		c, err := d.decodeQueryCursor(op, q.Object, cursor, hash)
		if err != nil {
			return nil, err
		}
		if q.Limit > 0 && c.N >= q.Limit {
			return nil, d.invalid(op, q.Object, "the cursor is past the query's Limit of %d: the query has ended", q.Limit)
		}
		after, served, total = c.pos, c.N, c.T
	}
	if q.Limit > 0 {
		size = min(size, q.Limit-served)
	}
	res, err := d.store.Query(memstore.Query{
		Object: q.Object, Where: q.Where, OrderBy: q.OrderBy, Fields: q.Fields,
		IncludeDeleted: q.IncludeDeleted, After: after, Limit: size,
	})
	if err != nil {
		return nil, d.fail(err)
	}
	if res.Total >= 0 {
		total = res.Total // counted on the first page, then carried in the cursor
	}
	p := &crm.Page{Records: make([]*crm.Record, len(res.Records)), Total: total}
	if q.Limit > 0 && total >= 0 {
		p.Total = min(p.Total, q.Limit)
	}
	for i, r := range res.Records {
		p.Records[i] = r.CRM()
	}
	served += len(res.Records)
	if res.Next != nil && (q.Limit == 0 || served < q.Limit) {
		if p.NextCursor, err = encodeQueryCursor(hash, res.Next, served, total); err != nil {
			return nil, &crm.Error{Kind: crm.KindUnknown, CRM: d.name, Operation: op, Object: q.Object, Message: "encoding the next cursor", Err: err}
		}
	}
	return p, nil
}

func (d *Driver) pageSize(op, object string, n int) (int, error) {
	switch {
	case n < 0:
		return 0, d.invalid(op, object, "the page size is %d: use 0 for the default (%d) or a positive number", n, d.defPage)
	case n == 0:
		return d.defPage, nil
	}
	return min(n, d.maxPage), nil
}

// queryCursor is what a query cursor holds, before base64.
type queryCursor struct {
	V   int    `json:"v"` // the format, 1
	Q   string `json:"q"` // the hash of the query
	P   string `json:"p"` // the memstore position after the last record served
	N   int    `json:"n"` // records served so far, for Limit
	T   int    `json:"t"` // the total the first page counted, as Salesforce keeps totalSize
	pos *memstore.Position
}

const maxCursorLen = 16 << 10

func encodeQueryCursor(hash string, pos *memstore.Position, served, total int) (string, error) {
	p, err := pos.MarshalText()
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(queryCursor{V: 1, Q: hash, P: string(p), N: served, T: total})
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func (d *Driver) decodeQueryCursor(op, object, s, hash string) (*queryCursor, error) {
	bad := func(why string) error {
		return d.invalid(op, object, "the cursor %s: pass the NextCursor of a page of the same query unchanged, or an empty cursor to start over", why)
	}
	if len(s) > maxCursorLen {
		return nil, bad("is too long to be one this driver issued")
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad("is not one this driver issued (not base64url)")
	}
	var c queryCursor
	if err := json.Unmarshal(b, &c); err != nil || c.V != 1 || c.N < 0 || c.T < -1 || c.P == "" {
		return nil, bad("is not one this driver issued")
	}
	if c.Q != hash {
		return nil, bad("was issued for a different query (object, fields, filter, order, limit or deleted records differ)")
	}
	c.pos = new(memstore.Position)
	if err := c.pos.UnmarshalText([]byte(c.P)); err != nil {
		return nil, bad("holds no valid position")
	}
	return &c, nil
}

// queryKey is a canonical text of everything that decides a query's
// results, so that a cursor can be tied to its query.
func queryKey(q crm.Query) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(q.Object))
	b.WriteString("|fields:")
	for _, f := range q.Fields {
		b.WriteString(strings.ToLower(f))
		b.WriteByte(',')
	}
	b.WriteString("|where:")
	if q.Where != nil {
		b.WriteString(filterKey(q.Where))
	}
	b.WriteString("|order:")
	for _, o := range q.OrderBy {
		b.WriteString(strings.ToLower(o.Field))
		if o.Desc {
			b.WriteString(" desc")
		}
		b.WriteByte(',')
	}
	b.WriteString("|limit:" + strconv.Itoa(q.Limit))
	b.WriteString("|deleted:" + strconv.FormatBool(q.IncludeDeleted))
	return b.String()
}

// filterKey renders a filter with each literal's Go type, so that Eq("n", 1)
// and Eq("n", "1") differ.
func filterKey(f crm.Filter) string {
	lit := canonicalLiteral
	switch x := f.(type) {
	case *crm.Compare:
		return fmt.Sprintf("(%s %s %s)", strings.ToLower(x.Field), x.Op, lit(x.Value))
	case *crm.InFilter:
		parts := make([]string, len(x.Values))
		for i, v := range x.Values {
			parts[i] = lit(v)
		}
		return fmt.Sprintf("(%s in %s)", strings.ToLower(x.Field), strings.Join(parts, ","))
	case *crm.AndFilter:
		return "and" + filterList(x.Filters)
	case *crm.OrFilter:
		return "or" + filterList(x.Filters)
	case *crm.NotFilter:
		if x.Filter == nil {
			return "not()"
		}
		return "not(" + filterKey(x.Filter) + ")"
	case *crm.NullFilter:
		return fmt.Sprintf("(%s null %v)", strings.ToLower(x.Field), x.IsNull)
	case nil:
		return "nil"
	}
	return fmt.Sprintf("%T(%s)", f, f)
}

// canonicalLiteral renders a filter value so that the same value gives the
// same text however it was built: a time by its instant (never with Go's
// monotonic clock reading or zone), a decimal by its exact value, an int of
// any width as an int64.
func canonicalLiteral(v any) string {
	switch x := v.(type) {
	case time.Time:
		return "time:" + x.UTC().Format(time.RFC3339Nano)
	case crm.Decimal:
		return "num:" + x.Rat().RatString()
	case int, int32, int64:
		return fmt.Sprintf("int64:%d", x)
	}
	return fmt.Sprintf("%T:%q", v, fmt.Sprint(v))
}

func filterList(fs []crm.Filter) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = filterKey(f)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func hashOf(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:12])
}

// Changes returns one page of the object's change feed after req.Cursor
// (from the first write when it is empty). Each record appears once per
// page, as its latest write left it; deletes come with Record.Deleted set.
// The cursor holds the object and a write sequence number, so it stays valid
// for as long as the Driver lives.
func (d *Driver) Changes(ctx context.Context, req crm.ChangesRequest) (*crm.ChangePage, error) {
	if err := d.begin(ctx, "changes", req.Object); err != nil {
		return nil, err
	}
	size, err := d.pageSize("changes", req.Object, req.PageSize)
	if err != nil {
		return nil, err
	}
	schema, err := d.store.Schema(req.Object)
	if err != nil {
		return nil, d.fail(err)
	}
	var after uint64
	if req.Cursor != "" {
		if after, err = d.decodeChangeCursor(schema.Object, req.Cursor); err != nil {
			return nil, err
		}
	}
	b, err := d.store.ChangesSince(schema.Object, after, size, req.Fields)
	if err != nil {
		return nil, d.fail(err)
	}
	p := &crm.ChangePage{Changes: make([]crm.Change, len(b.Changes)), Cursor: encodeChangeCursor(schema.Object, b.Next), More: b.More}
	for i, c := range b.Changes {
		p.Changes[i] = crm.Change{Kind: c.Kind, Record: c.Record.CRM()}
	}
	return p, nil
}

const changePrefix = "memcrm-changes/1/"

func encodeChangeCursor(object string, seq uint64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(changePrefix + strings.ToLower(object) + "/" + strconv.FormatUint(seq, 10)))
}

func (d *Driver) decodeChangeCursor(object, s string) (uint64, error) {
	bad := func(why string) error {
		return d.invalid("changes", object, "the change cursor %s: pass the Cursor of a change page of this object unchanged, or an empty cursor to start from the beginning", why)
	}
	if len(s) > maxCursorLen {
		return 0, bad("is too long to be one this driver issued")
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, bad("is not one this driver issued (not base64url)")
	}
	rest, ok := strings.CutPrefix(string(b), changePrefix)
	i := strings.LastIndexByte(rest, '/')
	if !ok || i < 0 {
		return 0, bad("is not one this driver issued")
	}
	if obj := rest[:i]; obj != strings.ToLower(object) {
		return 0, bad(fmt.Sprintf("belongs to object %q, not %s", obj, object))
	}
	seq, err := strconv.ParseUint(rest[i+1:], 10, 64)
	if err != nil {
		return 0, bad("is not one this driver issued (bad position)")
	}
	return seq, nil
}
