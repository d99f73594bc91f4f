package dynamics

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/crmkit/crmkit/crm"
)

// Get reads one record by its GUID.
func (d *Driver) Get(ctx context.Context, req crm.GetRequest) (*crm.Record, error) {
	if err := begin(ctx, "get", req.Object); err != nil {
		return nil, err
	}
	if !isGUID(req.ID) {
		return nil, &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: "get", Object: req.Object, RecordID: req.ID,
			Message: "Dataverse record ids are GUIDs, such as 00000000-0000-0000-0000-000000000001"}
	}
	t, err := d.table(ctx, req.Object)
	if err != nil {
		return nil, err
	}
	sel, err := selectList(t, req.Fields)
	if err != nil {
		return nil, err
	}
	u := d.base + t.set + "(" + strings.ToLower(req.ID) + ")"
	if sel != "" {
		u += "?$select=" + escapeValue(sel)
	}
	var row map[string]any
	if _, err := d.getJSON(ctx, "get", t.logical, u, "", &row); err != nil {
		return nil, withRecord(err, req.ID)
	}
	return decodeRow(t, row)
}

func withRecord(err error, id string) error {
	if ce, ok := err.(*crm.Error); ok && ce.RecordID == "" {
		c := *ce
		c.RecordID = id
		return &c
	}
	return err
}

// selectList renders the $select of fields; "" selects every column. A
// field the definition does not know is passed on as written, so that the
// service names it in its error.
func selectList(t *table, fields []string) (string, error) {
	if fields == nil {
		return "", nil
	}
	names := []string{t.pk}
	for _, f := range fields {
		n, err := wireName(t, f)
		if err != nil {
			return "", err
		}
		if n != t.pk && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	// Record.ModifiedAt comes from modifiedon: without it a named-field read
	// would report no modification time, and "newest wins" could not tell
	// which side changed last.
	if t.col("modifiedon") != nil && !slices.Contains(names, "modifiedon") {
		names = append(names, "modifiedon")
	}
	return strings.Join(names, ","), nil
}

// wireName is the name of a field in a query: the column's logical name,
// _x_value for a lookup, or the field as written when it is unknown (but
// never anything that is not a plain name, which would be query syntax).
func wireName(t *table, field string) (string, error) {
	if c := t.col(field); c != nil {
		return c.wire(), nil
	}
	if !validName(field) {
		return "", &crm.Error{Kind: crm.KindValidation, CRM: Name, Object: t.logical, Fields: []string{field},
			Message: fmt.Sprintf("%q is not a column name: Dataverse column names are letters, digits and underscores", field)}
	}
	return field, nil
}

// cursor is what a query's NextCursor holds: the table it reads, the
// absolute next link to GET as it is, the page size it was made with, and
// how many records the query's Limit still allows (0 for no limit).
type cursor struct {
	Table     string `json:"t"`
	Link      string `json:"l"`
	PageSize  int    `json:"p"`
	Remaining int    `json:"r,omitempty"`
}

func encodeCursor(v any) string {
	b, _ := json.Marshal(v)
	return "v1." + base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string, v any) error {
	rest, ok := strings.CutPrefix(s, "v1.")
	if !ok {
		return fmt.Errorf("not a cursor of the %s driver", Name)
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return fmt.Errorf("not a cursor of the %s driver", Name)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("not a cursor of the %s driver", Name)
	}
	return nil
}

// checkLink makes sure a link, from a cursor or from the service, reads the
// table t with the query options of the request at hand (want), so that a
// cursor, however edited, never sends the access token elsewhere, nor reads
// another table or with other options than the caller's query. Only the
// paging and delta tokens ($skiptoken, $deltatoken) may differ, and the
// host is compared as a URL's host: case-insensitive, with the default port
// the same as none.
func (d *Driver) checkLink(op string, t *table, link string, want url.Values) error {
	bad := func(why string) error {
		return &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: op, Object: t.logical,
			Message: "the cursor " + why + ": pass a cursor this driver returned for the same query, or start over with an empty cursor"}
	}
	u, err := url.Parse(link)
	if err != nil || !u.IsAbs() {
		return bad("does not hold a URL of this environment's Web API")
	}
	if u.User != nil || !strings.EqualFold(u.Scheme, d.baseURL.Scheme) || hostPort(u) != hostPort(d.baseURL) {
		return bad("points outside this environment's Web API")
	}
	if !strings.EqualFold(u.Path, d.baseURL.Path+t.set) {
		return bad("reads another table or path than " + t.set)
	}
	got, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad("holds a query string that cannot be read")
	}
	for _, k := range []string{"$skiptoken", "$deltatoken"} {
		got.Del(k)
	}
	if len(got) != len(want) {
		return bad("was made for other query options")
	}
	for k, vs := range want {
		if !slices.Equal(got[k], vs) {
			return bad("was made for another " + k)
		}
	}
	return nil
}

// hostPort is a URL's host as it names a server: lower case, with the
// scheme's default port made explicit.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch strings.ToLower(u.Scheme) {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return strings.ToLower(u.Hostname()) + ":" + port
}

// checkCursorTable refuses a cursor made for another table.
func checkCursorTable(op string, t *table, cursorTable string) error {
	if cursorTable != t.logical {
		return &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: op, Object: t.logical,
			Message: fmt.Sprintf("the cursor was made for another table than %s: pass a cursor this driver returned for the same query", t.logical)}
	}
	return nil
}

func (d *Driver) pageSize(n int) int {
	switch {
	case n <= 0:
		return d.defPage
	case n > d.maxPage:
		return d.maxPage
	}
	return n
}

// collection is a page of rows as the Web API sends it.
type collection struct {
	Value        []map[string]any `json:"value"`
	NextLink     string           `json:"@odata.nextLink"`
	DeltaLink    string           `json:"@odata.deltaLink"`
	Count        *int             `json:"@odata.count"`
	CountCapped  bool             `json:"@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"`
	MoreRecords  bool             `json:"@Microsoft.Dynamics.CRM.morerecords"`
	PagingCookie string           `json:"@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"`
}

// Query reads one page of a query: $select, $filter and $orderby from the
// portable query, pages of Prefer: odata.maxpagesize, and the next page
// through the absolute @odata.nextLink, kept in the cursor. The driver
// itself stops at Query.Limit. The first page asks for $count, so Total is
// the number of matches (or -1 beyond Dataverse's count limit of 5000).
func (d *Driver) Query(ctx context.Context, req crm.QueryRequest) (*crm.Page, error) {
	q := req.Query
	if err := begin(ctx, "query", q.Object); err != nil {
		return nil, err
	}
	unsupported := func(f crm.Feature, what string) error {
		return &crm.Error{Kind: crm.KindUnsupported, CRM: Name, Operation: "query", Object: q.Object,
			Message: fmt.Sprintf("%s is not supported by the %s driver (feature %q)", what, Name, f)}
	}
	switch {
	case q.Native != "":
		return nil, unsupported(crm.FeatureNativeQuery, "a native (FetchXML) query")
	case q.IncludeDeleted:
		return nil, unsupported(crm.FeatureIncludeDeleted, "reading deleted records")
	}
	t, err := d.table(ctx, q.Object)
	if err != nil {
		return nil, err
	}
	opts, err := d.queryOptions(t, q)
	if err != nil {
		return nil, err
	}
	want, _ := url.ParseQuery(opts) // the driver's own rendering: it parses
	var c cursor
	first := req.Cursor == ""
	if !first {
		if err := decodeCursor(req.Cursor, &c); err != nil {
			return nil, &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: "query", Object: t.logical, Message: err.Error() + ": pass a NextCursor of the same query"}
		}
		if err := checkCursorTable("query", t, c.Table); err != nil {
			return nil, err
		}
		if err := d.checkLink("query", t, c.Link, want); err != nil {
			return nil, err
		}
		if c.PageSize <= 0 || c.PageSize > d.maxPage || c.Remaining < 0 {
			return nil, &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: "query", Object: t.logical, Message: "the cursor's page size or limit is out of range: pass a NextCursor of the same query"}
		}
	} else {
		c.Table = t.logical
		c.PageSize = d.pageSize(req.PageSize)
		if q.Limit > 0 {
			c.Remaining = q.Limit
			c.PageSize = min(c.PageSize, q.Limit)
		}
		c.Link = d.base + t.set + "?" + opts
	}
	var col collection
	if _, err := d.getJSON(ctx, "query", t.logical, c.Link, "odata.maxpagesize="+strconv.Itoa(c.PageSize), &col); err != nil {
		return nil, err
	}
	page := &crm.Page{Total: -1}
	if first && col.Count != nil && !col.CountCapped {
		page.Total = *col.Count
	}
	for _, row := range col.Value {
		r, err := decodeRow(t, row)
		if err != nil {
			return nil, err
		}
		page.Records = append(page.Records, r)
	}
	if c.Remaining > 0 {
		if len(page.Records) >= c.Remaining {
			page.Records = page.Records[:c.Remaining]
			col.NextLink = ""
		}
		c.Remaining -= len(page.Records)
	}
	if col.NextLink != "" {
		if err := d.checkLink("query", t, col.NextLink, want); err != nil {
			return nil, err
		}
		c.Link = col.NextLink
		page.NextCursor = encodeCursor(c)
	}
	return page, nil
}

// queryOptions renders a portable query's $select, $filter, $orderby and
// $count.
func (d *Driver) queryOptions(t *table, q crm.Query) (string, error) {
	var opts []string
	sel, err := selectList(t, q.Fields)
	if err != nil {
		return "", err
	}
	if sel != "" {
		opts = append(opts, "$select="+escapeValue(sel))
	}
	if q.Where != nil {
		f, err := compileFilter(t, q.Where)
		if err != nil {
			return "", err
		}
		opts = append(opts, "$filter="+escapeValue(f))
	}
	if len(q.OrderBy) > 0 {
		parts := make([]string, len(q.OrderBy))
		for i, o := range q.OrderBy {
			n, err := wireName(t, o.Field)
			if err != nil {
				return "", err
			}
			dir := " asc"
			if o.Desc {
				dir = " desc"
			}
			parts[i] = n + dir
		}
		opts = append(opts, "$orderby="+escapeValue(strings.Join(parts, ",")))
	}
	opts = append(opts, "$count=true")
	return strings.Join(opts, "&"), nil
}

// likeEscape makes s match as text in contains, which Dataverse runs as a
// SQL LIKE where %, _ and [ are pattern syntax: each becomes a class of that
// one character. The [ goes first, so that the brackets added for the
// others are not escaped again.
func likeEscape(s string) string {
	s = strings.ReplaceAll(s, "[", "[[]")
	s = strings.ReplaceAll(s, "%", "[%]")
	return strings.ReplaceAll(s, "_", "[_]")
}

// compileFilter compiles a portable filter into an OData $filter. Every
// literal is rendered by its column's type (see column.literal), so a value
// never becomes syntax.
func compileFilter(t *table, f crm.Filter) (string, error) {
	bad := func(field, format string, args ...any) error {
		return &crm.Error{Kind: crm.KindValidation, CRM: Name, Operation: "query", Object: t.logical, Fields: []string{field},
			Message: fmt.Sprintf(format, args...)}
	}
	// lit renders a value for a field the definition may not know; an
	// unknown field is sent as written so that the service names it.
	lit := func(field string, v any) (string, string, error) {
		n, err := wireName(t, field)
		if err != nil {
			return "", "", err
		}
		c := t.col(field)
		if c == nil {
			return n, literalOf(v), nil
		}
		s, err := c.literal(v)
		if err != nil {
			return "", "", bad(c.name, "filter on %s: %v", c.name, err)
		}
		return n, s, nil
	}
	switch x := f.(type) {
	case *crm.Compare:
		if x.Value == nil {
			return "", bad(x.Field, "filter %s %s compares with nil: use crm.IsNull or crm.NotNull", x.Field, x.Op)
		}
		if x.Op == crm.CmpContains {
			s, ok := x.Value.(string)
			if !ok {
				return "", bad(x.Field, "Contains on %s needs a string", x.Field)
			}
			n, err := wireName(t, x.Field)
			if err != nil {
				return "", err
			}
			if c := t.col(x.Field); c != nil {
				switch c.field.Type {
				case crm.TypeString, crm.TypeText, crm.TypeEmail, crm.TypePhone, crm.TypeURL:
				default:
					return "", bad(c.name, "Contains works on text columns, and %s is %s", c.name, c.field.Type)
				}
			}
			return "contains(" + n + "," + literalOf(likeEscape(s)) + ")", nil
		}
		op, ok := map[crm.Operator]string{crm.CmpEq: "eq", crm.CmpNe: "ne", crm.CmpGt: "gt", crm.CmpGe: "ge", crm.CmpLt: "lt", crm.CmpLe: "le"}[x.Op]
		if !ok {
			return "", &crm.Error{Kind: crm.KindUnsupported, CRM: Name, Operation: "query", Object: t.logical, Message: fmt.Sprintf("operator %q is not one of crm's operators", x.Op)}
		}
		n, l, err := lit(x.Field, x.Value)
		if err != nil {
			return "", err
		}
		return n + " " + op + " " + l, nil
	case *crm.InFilter:
		if len(x.Values) == 0 {
			return "", bad(x.Field, "In(%s) has no values: it would match nothing", x.Field)
		}
		parts := make([]string, len(x.Values))
		for i, v := range x.Values {
			if v == nil {
				return "", bad(x.Field, "In(%s) has a nil value: use crm.IsNull", x.Field)
			}
			n, l, err := lit(x.Field, v)
			if err != nil {
				return "", err
			}
			parts[i] = n + " eq " + l
		}
		if len(parts) == 1 {
			return parts[0], nil
		}
		return "(" + strings.Join(parts, " or ") + ")", nil
	case *crm.NullFilter:
		n, err := wireName(t, x.Field)
		if err != nil {
			return "", err
		}
		if x.IsNull {
			return n + " eq null", nil
		}
		return n + " ne null", nil
	case *crm.ModifiedSinceFilter:
		if t.col("modifiedon") == nil {
			return "", &crm.Error{Kind: crm.KindUnsupported, CRM: Name, Operation: "query", Object: t.logical, Message: "the table has no modifiedon column to filter on"}
		}
		return "modifiedon ge " + literalOf(x.Time.UTC()), nil
	case *crm.AndFilter, *crm.OrFilter:
		var fs []crm.Filter
		sep := " and "
		if a, ok := x.(*crm.AndFilter); ok {
			fs = a.Filters
		} else {
			fs, sep = x.(*crm.OrFilter).Filters, " or "
		}
		if len(fs) == 0 {
			return "", &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: "query", Object: t.logical, Message: "an And or Or has no filters"}
		}
		parts := make([]string, len(fs))
		for i, sub := range fs {
			s, err := compileFilter(t, sub)
			if err != nil {
				return "", err
			}
			parts[i] = "(" + s + ")"
		}
		return strings.Join(parts, sep), nil
	case *crm.NotFilter:
		if x.Filter == nil {
			return "", &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: "query", Object: t.logical, Message: "Not(nil) negates nothing"}
		}
		s, err := compileFilter(t, x.Filter)
		if err != nil {
			return "", err
		}
		return "not (" + s + ")", nil
	}
	return "", &crm.Error{Kind: crm.KindUnsupported, CRM: Name, Operation: "query", Object: t.logical,
		Message: fmt.Sprintf("filter type %T is not one of crm's filter types", f)}
}
