package dynamicstest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/memstore"
)

// toFilter compiles a parsed $filter against a table's columns, checking
// every literal's type as OData does.
func toFilter(t *etable, x expr) (crm.Filter, *apiError) {
	switch x := x.(type) {
	case *logicExpr:
		l, err := toFilter(t, x.left)
		if err != nil {
			return nil, err
		}
		r, err := toFilter(t, x.right)
		if err != nil {
			return nil, err
		}
		if x.op == "and" {
			return &crm.AndFilter{Filters: []crm.Filter{l, r}}, nil
		}
		return &crm.OrFilter{Filters: []crm.Filter{l, r}}, nil
	case *notExpr:
		f, err := toFilter(t, x.x)
		if err != nil {
			return nil, err
		}
		return crm.Not(f), nil
	case *funcExpr:
		a := t.wireAttr(x.prop)
		if a == nil {
			return nil, errNoProperty(t, x.prop)
		}
		if a.Type != String && a.Type != Memo {
			return nil, errQuery(fmt.Sprintf("The function '%s' takes a string column; '%s' is %s.", x.name, x.prop, a.edm()))
		}
		if x.lit.kind != litString {
			return nil, errQuery(fmt.Sprintf("The second argument of '%s' must be a string literal.", x.name))
		}
		if x.name != "contains" {
			return nil, errNotImplemented("The function '" + x.name + "'")
		}
		text, ok := likeLiteral(x.lit.str)
		if !ok {
			return nil, errNotImplemented("A LIKE wildcard (%, _ or a [...] class other than one escaped character) in the argument of 'contains'")
		}
		return crm.Contains(a.LogicalName, text), nil
	case *cmpExpr:
		a := t.wireAttr(x.prop)
		if a == nil {
			return nil, errNoProperty(t, x.prop)
		}
		if x.lit.kind == litNull {
			switch x.op {
			case "eq":
				return crm.IsNull(a.LogicalName), nil
			case "ne":
				return crm.NotNull(a.LogicalName), nil
			}
			return nil, errQuery(fmt.Sprintf("The operator '%s' cannot compare '%s' with null.", x.op, x.prop))
		}
		if a.Type == MultiSelectPicklist {
			return nil, errQuery(fmt.Sprintf("'%s' is a multi-select choice column: filter it with Microsoft.Dynamics.CRM.ContainValues.", x.prop))
		}
		v, aerr := a.keyValue(x.lit)
		if aerr != nil {
			aerr.message = strings.Replace(aerr.message, "'Equal'", "'"+opKind(x.op)+"'", 1)
			return nil, aerr
		}
		if a.Type == Boolean && x.op != "eq" && x.op != "ne" {
			return nil, errQuery(fmt.Sprintf("The operator '%s' cannot be applied to the Boolean column '%s'.", x.op, x.prop))
		}
		op := map[string]crm.Operator{"eq": crm.CmpEq, "ne": crm.CmpNe, "gt": crm.CmpGt, "ge": crm.CmpGe, "lt": crm.CmpLt, "le": crm.CmpLe}[x.op]
		return &crm.Compare{Field: a.LogicalName, Op: op, Value: v}, nil
	}
	return nil, errQuery("The $filter expression is not supported.")
}

// likeLiteral reads the argument of contains as Dataverse does, as a SQL
// LIKE pattern: % and _ are wildcards and [x] a class. A class of one
// character, such as [%] or [[], is that character; the emulator matches
// only such literal patterns, and reports false for a real wildcard rather
// than match it as text, so that a client that forgets to escape one is
// caught.
func likeLiteral(p string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '%', '_':
			return "", false
		case '[':
			_, size := utf8.DecodeRuneInString(p[i+1:])
			if size == 0 || i+1+size >= len(p) || p[i+1+size] != ']' {
				return "", false
			}
			b.WriteString(p[i+1 : i+1+size])
			i += size + 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

func opKind(op string) string {
	return map[string]string{"eq": "Equal", "ne": "NotEqual", "gt": "GreaterThan", "ge": "GreaterThanOrEqual", "lt": "LessThan", "le": "LessThanOrEqual"}[op]
}

func parseOrderBy(t *etable, s string) ([]crm.Order, *apiError) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []crm.Order
	for _, item := range strings.Split(s, ",") {
		f := strings.Fields(item)
		if len(f) == 0 || len(f) > 2 {
			return nil, errQuery(fmt.Sprintf("The $orderby item '%s' is not 'column [asc|desc]'.", strings.TrimSpace(item)))
		}
		a := t.wireAttr(f[0])
		if a == nil {
			return nil, errNoProperty(t, f[0])
		}
		desc := false
		if len(f) == 2 {
			switch f[1] {
			case "asc":
			case "desc":
				desc = true
			default:
				return nil, errQuery(fmt.Sprintf("The $orderby direction '%s' is not asc or desc.", f[1]))
			}
		}
		out = append(out, crm.Order{Field: a.LogicalName, Desc: desc})
	}
	return out, nil
}

// A paging cookie is the $skiptoken of a next link. Dataverse's is an XML
// fragment holding the last row's keys; the emulator's holds the keyset
// position of memstore, URL-encoded the same way.
var cookieAttrRE = regexp.MustCompile(`(\w+)="([^"]*)"`)

type cookie struct {
	page     int
	pos      *memstore.Position
	tracking bool
	seq      uint64 // tracking: the store sequence the snapshot started at
}

func (c cookie) String() string {
	var pos string
	if c.pos != nil {
		b, _ := c.pos.MarshalText()
		pos = url.QueryEscape(string(b))
	}
	s := fmt.Sprintf(`<cookie pagenumber="%d" pagingcookie="%s" istracking="%s"`, c.page, pos, map[bool]string{true: "True", false: "False"}[c.tracking])
	if c.tracking {
		s += fmt.Sprintf(` trackingseq="%d"`, c.seq)
	}
	return s + " />"
}

func parseCookie(s string) (cookie, *apiError) {
	bad := errBadRequest("The $skiptoken is not a paging cookie from this environment: follow @odata.nextLink as it is.")
	var c cookie
	if !strings.HasPrefix(s, "<cookie") {
		return c, bad
	}
	for _, m := range cookieAttrRE.FindAllStringSubmatch(s, -1) {
		switch m[1] {
		case "pagenumber":
			c.page, _ = strconv.Atoi(m[2])
		case "pagingcookie":
			if m[2] == "" {
				continue
			}
			raw, err := url.QueryUnescape(m[2])
			if err != nil {
				return c, bad
			}
			var p memstore.Position
			if err := p.UnmarshalText([]byte(raw)); err != nil {
				return c, bad
			}
			c.pos = &p
		case "istracking":
			c.tracking = m[2] == "True"
		case "trackingseq":
			n, err := strconv.ParseUint(m[2], 10, 64)
			if err != nil {
				return c, bad
			}
			c.seq = n
		}
	}
	if c.page < 2 || c.pos == nil {
		return c, bad
	}
	return c, nil
}

// link builds an absolute link to the entity set with the query options in
// order, encoded as Dataverse does.
func link(base string, t *etable, opts [][2]string) string {
	var b strings.Builder
	b.WriteString(base + t.EntitySetName)
	for i, kv := range opts {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(kv[0] + "=" + strings.ReplaceAll(url.QueryEscape(kv[1]), "+", "%20"))
	}
	return b.String()
}

// query answers GET on an entity set: a filtered, sorted, paged read, the
// first read of change tracking, or a delta read.
func (e *env) query(o *request, t *etable, q url.Values) *response {
	p, aerr := parsePrefer(o.header)
	if aerr != nil {
		return errResponse(aerr)
	}
	for k := range q {
		switch k {
		case "$select", "$filter", "$orderby", "$top", "$count", "$skiptoken", "$deltatoken":
		case "$skip":
			return errResponse(errQuery("The query parameter $skip is not supported: page with Prefer: odata.maxpagesize and @odata.nextLink."))
		case "$expand":
			return errResponse(errNotImplemented("$expand"))
		case "$apply", "fetchXml", "savedQuery", "userQuery", "$search":
			return errResponse(errNotImplemented("The query parameter " + k))
		default:
			if strings.HasPrefix(k, "$") {
				return errResponse(errQuery(fmt.Sprintf("The query parameter '%s' is not supported.", k)))
			}
		}
	}
	sel, aerr := parseSelect(t, q.Get("$select"))
	if aerr != nil {
		return errResponse(aerr)
	}
	if q.Has("$deltatoken") {
		return e.delta(o, t, q, sel, p)
	}
	tracking := p.trackChanges && t.ChangeTracking
	var ck cookie
	if st := q.Get("$skiptoken"); st != "" {
		if ck, aerr = parseCookie(st); aerr != nil {
			return errResponse(aerr)
		}
		tracking = tracking || ck.tracking
	}
	if tracking {
		for _, k := range []string{"$filter", "$orderby", "$expand", "$top"} {
			if q.Has(k) {
				return errResponse(errQuery(fmt.Sprintf("The \"%s\" query parameter isn't supported when Change Tracking is enabled.", k)))
			}
		}
	}
	var where crm.Filter
	if f := q.Get("$filter"); f != "" {
		x, err := parseFilter(f)
		if err != nil {
			return errResponse(errQuery(err.Error()))
		}
		if where, aerr = toFilter(t, x); aerr != nil {
			return errResponse(aerr)
		}
	}
	order, aerr := parseOrderBy(t, q.Get("$orderby"))
	if aerr != nil {
		return errResponse(aerr)
	}
	top := 0
	if s := q.Get("$top"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return errResponse(errQuery(fmt.Sprintf("The $top value '%s' is not a non-negative whole number.", s)))
		}
		top = n
	}
	count := false
	if s := q.Get("$count"); s != "" {
		count = s == "true"
	}
	size := e.maxPage
	if p.maxPageSize > 0 {
		size = min(p.maxPageSize, e.maxPage)
	} else if top > 0 {
		size = min(top, e.maxPage)
	}
	if ck.page == 0 {
		ck.page = 1
	}
	if tracking && ck.seq == 0 && ck.pos == nil {
		ck.seq = e.store.Seq()
	}
	res, err := e.store.Query(memstore.Query{Object: t.LogicalName, Where: where, OrderBy: order, Fields: selectNames(sel), After: ck.pos, Limit: size})
	if err != nil {
		return errResponse(fromStore(t, err))
	}
	h := http.Header{"Content-Type": {"application/json; odata.metadata=minimal"}}
	var applied []string
	if p.maxPageSize > 0 {
		applied = append(applied, "odata.maxpagesize="+strconv.Itoa(p.maxPageSize))
	}
	if tracking {
		applied = append(applied, "odata.track-changes")
	}
	if p.annotations != "" {
		applied = append(applied, `odata.include-annotations="`+p.annotations+`"`)
	}
	if len(applied) > 0 {
		h.Set("Preference-Applied", strings.Join(applied, ","))
	}
	var j jsonObject
	j.add("@odata.context", o.base+"$metadata#"+contextSuffix(t, sel))
	if count && res.Total >= 0 {
		j.add("@odata.count", min(res.Total, 5000))
		if res.Total > 5000 {
			j.add("@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded", true)
		}
	}
	rows := make([]json.RawMessage, len(res.Records))
	for i, r := range res.Records {
		rows[i] = e.row(t, r, sel, p, "")
	}
	j.add("value", rows)
	var opts [][2]string
	for _, k := range []string{"$select", "$filter", "$orderby", "$count"} {
		if q.Has(k) {
			opts = append(opts, [2]string{k, q.Get(k)})
		}
	}
	stopAtTop := top > 0 && p.maxPageSize == 0
	switch {
	case res.Next != nil && !stopAtTop:
		next := cookie{page: ck.page + 1, pos: res.Next, tracking: tracking, seq: ck.seq}
		j.add("@odata.nextLink", link(o.base, t, append(opts, [2]string{"$skiptoken", next.String()})))
	case tracking:
		j.add("@odata.deltaLink", link(o.base, t, append(opts, [2]string{"$deltatoken", e.deltaToken(ck.seq)})))
	}
	return &response{status: http.StatusOK, header: h, body: j.bytes()}
}

// A delta token is the store sequence number it follows, then the time it
// was made, as in Dataverse's "919042!08/22/2017 08:10:44".
func (e *env) deltaToken(seq uint64) string {
	return strconv.FormatUint(seq, 10) + "!" + e.now().UTC().Format("01/02/2006 15:04:05")
}

// delta answers a read of a delta link: the rows changed since its token,
// new and updated ones first, deleted ones last, in pages.
func (e *env) delta(o *request, t *etable, q url.Values, sel []*eattr, p prefs) *response {
	if !t.ChangeTracking {
		return errResponse(&apiError{status: http.StatusBadRequest, code: codeInvalidArgument,
			message: fmt.Sprintf("Change tracking is not enabled for the entity '%s'. Enable it (ChangeTrackingEnabled) before reading changes with a delta token.", t.LogicalName)})
	}
	for _, k := range []string{"$filter", "$orderby", "$expand", "$top", "$skiptoken"} {
		if q.Has(k) {
			return errResponse(errQuery(fmt.Sprintf("The \"%s\" query parameter isn't supported when Change Tracking is enabled.", k)))
		}
	}
	tok := q.Get("$deltatoken")
	seqText, _, _ := strings.Cut(tok, "!")
	after, err := strconv.ParseUint(seqText, 10, 64)
	if err != nil || after > e.store.Seq() {
		return errResponse(errBadRequest(fmt.Sprintf("The delta token '%s' is not valid for this environment: start again with Prefer: odata.track-changes.", clipText(tok))))
	}
	size := e.maxPage
	if p.maxPageSize > 0 {
		size = min(p.maxPageSize, e.maxPage)
	}
	batch, serr := e.store.ChangesSince(t.LogicalName, after, size, selectNames(sel))
	if serr != nil {
		return errResponse(fromStore(t, serr))
	}
	var live, gone []json.RawMessage
	for _, c := range batch.Changes {
		if c.Kind == crm.ChangeDeleted {
			var d jsonObject
			d.add("@odata.context", o.base+"$metadata#"+t.EntitySetName+"/$deletedEntity")
			d.add("id", c.Record.ID)
			d.add("reason", "deleted")
			gone = append(gone, d.bytes())
			continue
		}
		live = append(live, e.row(t, c.Record, sel, p, ""))
	}
	var j jsonObject
	j.add("@odata.context", o.base+"$metadata#"+contextSuffix(t, sel)+"/$delta")
	j.add("value", append(live, gone...))
	var opts [][2]string
	if q.Has("$select") {
		opts = append(opts, [2]string{"$select", q.Get("$select")})
	}
	next := link(o.base, t, append(opts, [2]string{"$deltatoken", e.deltaToken(batch.Next)}))
	if batch.More {
		j.add("@odata.nextLink", next)
	} else {
		j.add("@odata.deltaLink", next)
	}
	h := http.Header{"Content-Type": {"application/json; odata.metadata=minimal"}}
	if p.maxPageSize > 0 {
		h.Set("Preference-Applied", "odata.maxpagesize="+strconv.Itoa(p.maxPageSize))
	}
	return &response{status: http.StatusOK, header: h, body: j.bytes()}
}
