package salesforcetest

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/memstore"
)

// compiled is a query checked against its object, ready to run against the
// store: the part of WHERE the store evaluates (filter) and the part the
// emulator evaluates on each record (residual).
type compiled struct {
	o        *object
	count    bool
	fields   []*field
	store    []string // stored fields to read
	filter   crm.Filter
	residual func(*memstore.Record) bool
	order    []crm.Order
	limit    int // -1 for none
	offset   int
	all      bool
}

// pred is a condition the emulator evaluates itself: one the store cannot
// (IsDeleted, a LIKE pattern that is not a plain substring).
type pred func(*memstore.Record) bool

// cond is a compiled WHERE node: a store filter, or a predicate when some
// part of it needs the emulator.
type cond struct {
	filter crm.Filter
	pred   pred
}

func (c cond) eval(r *memstore.Record) bool {
	if c.pred != nil {
		return c.pred(r)
	}
	return evalFilter(c.filter, r)
}

const noSuchColumn = "No such column '%s' on entity '%s'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names."

func (s *Server) compile(q *soqlQuery, all bool) (*compiled, *failure) {
	o, ok := s.object(q.object.name)
	if !ok {
		return nil, queryError(q.src, q.object.pos, "INVALID_TYPE", "sObject type '%s' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.", q.object.name)
	}
	c := &compiled{o: o, count: q.count, limit: q.limit, offset: q.offset, all: all}
	resolve := func(ref nameRef) (*field, *failure) {
		if strings.Contains(ref.name, ".") {
			return nil, queryError(q.src, ref.pos, "INVALID_FIELD", "salesforcetest does not emulate relationship fields such as %s: select the lookup id instead", ref.name)
		}
		f, ok := o.field(ref.name)
		if !ok {
			return nil, queryError(q.src, ref.pos, "INVALID_FIELD", noSuchColumn, ref.name, o.Name)
		}
		return f, nil
	}
	switch q.fieldFn {
	case "ALL", "STANDARD", "CUSTOM":
		if q.fieldFn != "STANDARD" && (q.limit < 0 || q.limit > 200) {
			return nil, queryError(q.src, 0, "MALFORMED_QUERY", "The SOQL FIELDS function must have a LIMIT of at most 200")
		}
		for _, f := range o.fields {
			if q.fieldFn == "ALL" || (q.fieldFn == "CUSTOM") == f.custom {
				c.fields = append(c.fields, f)
			}
		}
	}
	seen := map[string]bool{}
	for _, ref := range q.fields {
		f, err := resolve(ref)
		if err != nil {
			return nil, err
		}
		if seen[f.Name] {
			return nil, queryError(q.src, ref.pos, "INVALID_FIELD", "duplicate field selected: %s", f.Name)
		}
		seen[f.Name] = true
		c.fields = append(c.fields, f)
	}
	for _, f := range c.fields {
		if !f.virtual {
			c.store = append(c.store, f.Name)
		}
	}
	if q.where != nil {
		root, err := s.compileNode(q, o, q.where)
		if err != nil {
			return nil, err
		}
		// Split a top-level AND: the store evaluates what it can, the
		// emulator the rest.
		if and, ok := q.where.(andNode); ok && root.pred != nil {
			var filters []crm.Filter
			var preds []cond
			for _, k := range and.kids {
				kc, _ := s.compileNode(q, o, k)
				if kc.pred == nil {
					filters = append(filters, kc.filter)
				} else {
					preds = append(preds, kc)
				}
			}
			if len(filters) > 0 {
				c.filter = crm.And(filters...)
			}
			c.residual = func(r *memstore.Record) bool {
				for _, p := range preds {
					if !p.eval(r) {
						return false
					}
				}
				return true
			}
		} else if root.pred != nil {
			c.residual = root.pred
		} else {
			c.filter = root.filter
		}
	}
	for _, it := range q.orderBy {
		f, err := resolve(it.field)
		if err != nil {
			return nil, err
		}
		if !f.sortable || f.virtual {
			return nil, queryError(q.src, it.field.pos, "INVALID_FIELD", "field '%s' can not be sorted in a query call", f.Name)
		}
		if (it.nulls == "LAST" && !it.desc) || (it.nulls == "FIRST" && it.desc) {
			return nil, queryError(q.src, it.field.pos, "MALFORMED_QUERY", "salesforcetest emulates only the default null order (NULLS FIRST ascending, NULLS LAST descending)")
		}
		c.order = append(c.order, crm.Order{Field: f.Name, Desc: it.desc})
	}
	if q.hasOff && q.offset > 2000 {
		return nil, queryError(q.src, 0, "NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000")
	}
	return c, nil
}

func textual(t string) bool {
	switch t {
	case "string", "textarea", "email", "phone", "url", "picklist", "multipicklist", "combobox", "time", "encryptedstring":
		return true
	}
	return false
}

func (s *Server) compileNode(q *soqlQuery, o *object, n node) (cond, *failure) {
	switch x := n.(type) {
	case andNode, orNode:
		var kids []node
		isAnd := false
		if a, ok := x.(andNode); ok {
			kids, isAnd = a.kids, true
		} else {
			kids = x.(orNode).kids
		}
		cs := make([]cond, len(kids))
		pushable := true
		for i, k := range kids {
			c, err := s.compileNode(q, o, k)
			if err != nil {
				return cond{}, err
			}
			cs[i] = c
			pushable = pushable && c.pred == nil
		}
		if pushable {
			fs := make([]crm.Filter, len(cs))
			for i, c := range cs {
				fs[i] = c.filter
			}
			if isAnd {
				return cond{filter: crm.And(fs...)}, nil
			}
			return cond{filter: crm.Or(fs...)}, nil
		}
		return cond{pred: func(r *memstore.Record) bool {
			for _, c := range cs {
				if c.eval(r) != isAnd {
					return !isAnd
				}
			}
			return isAnd
		}}, nil
	case notNode:
		c, err := s.compileNode(q, o, x.kid)
		if err != nil {
			return cond{}, err
		}
		if c.pred == nil {
			return cond{filter: crm.Not(c.filter)}, nil
		}
		return cond{pred: func(r *memstore.Record) bool { return !c.eval(r) }}, nil
	case cmpNode:
		return s.compileCmp(q, o, x)
	case inNode:
		f, err := s.filterField(q, o, x.field)
		if err != nil {
			return cond{}, err
		}
		var vals []any
		hasNull := false
		for _, lit := range x.lits {
			v, err := s.literal(q, f, lit)
			if err != nil {
				return cond{}, err
			}
			if v == nil {
				hasNull = true
				continue
			}
			if _, isRange := v.(dayRange); isRange {
				return cond{}, queryError(q.src, lit.pos, "MALFORMED_QUERY", "unexpected token: %s", lit.text)
			}
			vals = append(vals, v)
		}
		if f.virtual {
			return cond{pred: func(r *memstore.Record) bool {
				in := slices.ContainsFunc(vals, func(v any) bool { return v == r.Deleted })
				return in != x.not
			}}, nil
		}
		var fl crm.Filter
		switch {
		case len(vals) > 0 && hasNull:
			fl = crm.Or(crm.In(f.Name, vals...), crm.IsNull(f.Name))
		case len(vals) > 0:
			fl = crm.In(f.Name, vals...)
		default:
			fl = crm.IsNull(f.Name)
		}
		if x.not {
			fl = crm.Not(fl)
		}
		return cond{filter: fl}, nil
	}
	return cond{}, queryError(q.src, 0, "MALFORMED_QUERY", "unexpected condition")
}

func (s *Server) filterField(q *soqlQuery, o *object, ref nameRef) (*field, *failure) {
	if strings.Contains(ref.name, ".") {
		return nil, queryError(q.src, ref.pos, "INVALID_FIELD", "salesforcetest does not emulate relationship fields such as %s: filter on the lookup id instead", ref.name)
	}
	f, ok := o.field(ref.name)
	if !ok {
		return nil, queryError(q.src, ref.pos, "INVALID_FIELD", noSuchColumn, ref.name, o.Name)
	}
	if !f.filterable {
		return nil, queryError(q.src, ref.pos, "INVALID_FIELD", "field '%s' can not be filtered in a query call", f.Name)
	}
	return f, nil
}

// dayRange is a date literal such as TODAY or LAST_N_DAYS:7: the days from
// start up to, not including, end.
type dayRange struct{ start, end crm.Date }

func (s *Server) compileCmp(q *soqlQuery, o *object, x cmpNode) (cond, *failure) {
	f, err := s.filterField(q, o, x.field)
	if err != nil {
		return cond{}, err
	}
	if x.op == "LIKE" {
		if !textual(f.Type) || f.Type == "multipicklist" {
			return cond{}, queryError(q.src, x.field.pos, "INVALID_QUERY_FILTER_OPERATOR", "invalid operator on %s field: LIKE works on text fields", f.Type)
		}
		return likeCond(f, x.lit.like), nil
	}
	v, ferr := s.literal(q, f, x.lit)
	if ferr != nil {
		return cond{}, ferr
	}
	ordered := x.op != "=" && x.op != "!="
	if v == nil {
		if ordered {
			return cond{}, queryError(q.src, x.lit.pos, "MALFORMED_QUERY", "null can only be compared with = or !=")
		}
		if f.virtual {
			return cond{pred: func(*memstore.Record) bool { return x.op == "!=" }}, nil
		}
		return cond{filter: &crm.NullFilter{Field: f.Name, IsNull: x.op == "="}}, nil
	}
	if ordered && (f.Type == "boolean" || f.Type == "multipicklist" || f.Type == "id" || f.Type == "reference") {
		return cond{}, queryError(q.src, x.field.pos, "INVALID_QUERY_FILTER_OPERATOR", "invalid operator on %s field", f.Type)
	}
	if f.virtual {
		b, _ := v.(bool)
		return cond{pred: func(r *memstore.Record) bool { return (r.Deleted == b) == (x.op == "=") }}, nil
	}
	if dr, ok := v.(dayRange); ok {
		lo, hi := any(dr.start), any(dr.end)
		if f.Type == "datetime" {
			lo, hi = dr.start.In(time.UTC), dr.end.In(time.UTC)
		}
		var fl crm.Filter
		switch x.op {
		case "=":
			fl = crm.And(crm.Ge(f.Name, lo), crm.Lt(f.Name, hi))
		case "!=":
			fl = crm.Or(crm.Lt(f.Name, lo), crm.Ge(f.Name, hi), crm.IsNull(f.Name))
		case "<":
			fl = crm.Lt(f.Name, lo)
		case "<=":
			fl = crm.Lt(f.Name, hi)
		case ">":
			fl = crm.Ge(f.Name, hi)
		default:
			fl = crm.Ge(f.Name, lo)
		}
		return cond{filter: fl}, nil
	}
	ops := map[string]crm.Operator{"=": crm.CmpEq, "!=": crm.CmpNe, "<": crm.CmpLt, "<=": crm.CmpLe, ">": crm.CmpGt, ">=": crm.CmpGe}
	return cond{filter: &crm.Compare{Field: f.Name, Op: ops[x.op], Value: v}}, nil
}

// likeCond compiles a LIKE pattern: a plain value is an equality and
// %text% a substring match, both of which the store evaluates (without
// regard to case, as SOQL does); any other pattern is matched here.
func likeCond(f *field, pattern string) cond {
	inner := strings.TrimPrefix(strings.TrimSuffix(pattern, string(likeAny)), string(likeAny))
	wild := func(s string) bool { return strings.ContainsAny(s, string([]byte{likeAny, likeOne})) }
	switch {
	case !wild(pattern):
		return cond{filter: crm.Eq(f.Name, pattern)}
	case len(pattern) >= 2 && pattern[0] == likeAny && pattern[len(pattern)-1] == likeAny && !wild(inner):
		return cond{filter: crm.Contains(f.Name, inner)}
	}
	pat := []rune(strings.ToLower(pattern))
	name := f.Name
	return cond{pred: func(r *memstore.Record) bool {
		v, ok := r.Fields[name].(string)
		return ok && globMatch(pat, []rune(strings.ToLower(v)))
	}}
}

// globMatch matches LIKE wildcards: likeAny is any run of characters,
// likeOne exactly one.
func globMatch(p, s []rune) bool {
	pi, si, star, mark := 0, 0, -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == likeOne || p[pi] == s[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == likeAny:
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == likeAny {
		pi++
	}
	return pi == len(p)
}

// literal converts a literal token to a value of the field's type, or
// explains the mismatch as Salesforce does.
func (s *Server) literal(q *soqlQuery, f *field, t token) (any, *failure) {
	mismatch := func() *failure {
		want, quotes := "string", "should be enclosed in quotes"
		switch {
		case f.Type == "boolean":
			want, quotes = "boolean", "should not be enclosed in quotes"
		case isNumber(f.Type):
			want, quotes = javaType(f.Type), "should not be enclosed in quotes"
		case f.Type == "date":
			want, quotes = "date", "should not be enclosed in quotes"
		case f.Type == "datetime":
			want, quotes = "dateTime", "should not be enclosed in quotes"
		}
		return queryError(q.src, t.pos, "INVALID_FIELD", "value of filter criterion for field '%s' must be of type %s and %s", f.Name, want, quotes)
	}
	if t.kind == tIdent && strings.EqualFold(t.text, "null") {
		return nil, nil
	}
	switch {
	case f.Type == "id" || f.Type == "reference":
		if t.kind != tString {
			return nil, mismatch()
		}
		id, ok := canonicalID(t.text)
		if !ok {
			return nil, queryError(q.src, t.pos, "INVALID_QUERY_FILTER_OPERATOR", "invalid ID field: %s", clipText(t.text, 80))
		}
		return id, nil
	case f.Type == "multipicklist":
		if t.kind != tString {
			return nil, mismatch()
		}
		return strings.Split(t.text, ";"), nil
	case textual(f.Type):
		if t.kind != tString {
			return nil, mismatch()
		}
		return t.text, nil
	case f.Type == "boolean":
		if t.kind == tIdent && (strings.EqualFold(t.text, "true") || strings.EqualFold(t.text, "false")) {
			return strings.EqualFold(t.text, "true"), nil
		}
		return nil, mismatch()
	case isNumber(f.Type):
		if t.kind != tNumber {
			return nil, mismatch()
		}
		d, err := crm.ParseDecimal(strings.TrimPrefix(t.text, "+"))
		if err != nil {
			return nil, mismatch()
		}
		return d, nil
	case f.Type == "date" || f.Type == "datetime":
		if t.kind == tIdent {
			return s.dateLiteral(q, t)
		}
		if f.Type == "date" && t.kind == tDate {
			d, err := crm.ParseDate(t.text)
			if err != nil {
				return nil, queryError(q.src, t.pos, "MALFORMED_QUERY", "line 1:%d no viable alternative at character '%s'", t.pos, t.text)
			}
			return d, nil
		}
		if f.Type == "datetime" && t.kind == tDateTime {
			ts, err := crm.ParseTime(t.text)
			if err != nil || !strings.ContainsAny(t.text[10:], "Z+-") {
				return nil, queryError(q.src, t.pos, "MALFORMED_QUERY", "line 1:%d no viable alternative at character '%s': a dateTime literal needs a time zone, such as 2024-01-31T10:00:00Z", t.pos, t.text)
			}
			return ts, nil
		}
		return nil, mismatch()
	}
	return nil, mismatch()
}

func (s *Server) dateLiteral(q *soqlQuery, t token) (any, *failure) {
	today := crm.DateOf(s.now())
	name, _, _ := strings.Cut(strings.ToUpper(t.text), ":")
	n := 0
	if _, arg, ok := strings.Cut(t.text, ":"); ok {
		n, _ = strconv.Atoi(arg)
	}
	switch name {
	case "TODAY":
		return dayRange{today, today.AddDays(1)}, nil
	case "YESTERDAY":
		return dayRange{today.AddDays(-1), today}, nil
	case "TOMORROW":
		return dayRange{today.AddDays(1), today.AddDays(2)}, nil
	case "LAST_N_DAYS":
		return dayRange{today.AddDays(-n), today.AddDays(1)}, nil
	case "NEXT_N_DAYS":
		return dayRange{today.AddDays(1), today.AddDays(1 + n)}, nil
	}
	return nil, queryError(q.src, t.pos, "MALFORMED_QUERY", "salesforcetest does not emulate the date literal %s (it knows TODAY, YESTERDAY, TOMORROW, LAST_N_DAYS:n and NEXT_N_DAYS:n)", t.text)
}

// evalFilter evaluates a store filter on a record the way the store does:
// text without regard to case, numbers by value, ordered comparisons never
// matching null.
func evalFilter(f crm.Filter, r *memstore.Record) bool {
	switch x := f.(type) {
	case nil:
		return true
	case *crm.Compare:
		v := r.Fields[x.Field]
		switch x.Op {
		case crm.CmpEq:
			return memstore.SameValue(v, x.Value)
		case crm.CmpNe:
			return !memstore.SameValue(v, x.Value)
		case crm.CmpContains:
			s, ok := v.(string)
			sub, _ := x.Value.(string)
			return ok && strings.Contains(strings.ToLower(s), strings.ToLower(sub))
		}
		if v == nil {
			return false
		}
		c := memstore.Compare(v, x.Value)
		switch x.Op {
		case crm.CmpGt:
			return c > 0
		case crm.CmpGe:
			return c >= 0
		case crm.CmpLt:
			return c < 0
		}
		return c <= 0
	case *crm.InFilter:
		return slices.ContainsFunc(x.Values, func(l any) bool { return memstore.SameValue(r.Fields[x.Field], l) })
	case *crm.NullFilter:
		return (r.Fields[x.Field] == nil) == x.IsNull
	case *crm.AndFilter:
		for _, k := range x.Filters {
			if !evalFilter(k, r) {
				return false
			}
		}
		return true
	case *crm.OrFilter:
		for _, k := range x.Filters {
			if evalFilter(k, r) {
				return true
			}
		}
		return false
	case *crm.NotFilter:
		return !evalFilter(x.Filter, r)
	case *crm.ModifiedSinceFilter:
		return !r.Modified.Before(x.Time)
	}
	return false
}

// locator is a query cursor: where each page the org handed out ends, so
// that nextRecordsUrl can be followed, and followed again, until it expires.
type locator struct {
	id        string
	q         *compiled
	batch     int
	total     int
	positions map[int]*memstore.Position // by records delivered before the page
	lastUsed  time.Time
}

func batchSize(r *http.Request) int {
	n := DefaultBatchSize
	for part := range strings.SplitSeq(r.Header.Get("Sforce-Query-Options"), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "batchSize") {
			if b, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
				n = min(max(b, MinBatchSize), DefaultBatchSize)
			}
		}
	}
	return n
}

func (s *Server) serveQuery(w http.ResponseWriter, r *http.Request, c call) *failure {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(w, r.Method, "GET", "HEAD")
	}
	if c.route == "queryMore" {
		return s.serveQueryMore(w, r, c)
	}
	src := r.URL.Query().Get("q")
	if strings.TrimSpace(src) == "" {
		return fail(http.StatusBadRequest, "MALFORMED_QUERY", "A query string has to be specified")
	}
	pq, f := parseSOQL(src)
	if f != nil {
		return f
	}
	cq, f := s.compile(pq, c.route == "queryAll")
	if f != nil {
		return f
	}
	if cq.count {
		n, err := s.countAll(cq)
		if err != nil {
			return fail(http.StatusBadRequest, "MALFORMED_QUERY", "%v", err)
		}
		if cq.offset > 0 {
			n = max(n-cq.offset, 0)
		}
		if cq.limit >= 0 {
			n = min(n, cq.limit)
		}
		s.writeRaw(w, http.StatusOK, []byte(`{"totalSize":`+strconv.Itoa(n)+`,"done":true,"records":[]}`))
		return nil
	}
	loc := &locator{q: cq, batch: batchSize(r), total: -1, positions: map[int]*memstore.Position{0: nil}}
	return s.servePage(w, c.version, loc, 0, true)
}

func (s *Server) serveQueryMore(w http.ResponseWriter, r *http.Request, c call) *failure {
	bad := fail(http.StatusBadRequest, "INVALID_QUERY_LOCATOR", "invalid query locator")
	seg := c.segs[len(c.segs)-1]
	id, offText, ok := strings.Cut(seg, "-")
	offset, err := strconv.Atoi(offText)
	if !ok || err != nil || offset < 0 {
		return bad
	}
	s.locMu.Lock()
	loc, found := s.locators[id]
	if found && s.now().Sub(loc.lastUsed) > s.cfg.locatorTTL {
		delete(s.locators, id)
		found = false
	}
	if found {
		_, found = loc.positions[offset]
		loc.lastUsed = s.now()
	}
	s.locMu.Unlock()
	if !found {
		return bad
	}
	if h := r.Header.Get("Sforce-Query-Options"); h != "" {
		loc = &locator{id: loc.id, q: loc.q, batch: batchSize(r), total: loc.total, positions: loc.positions, lastUsed: loc.lastUsed}
	}
	return s.servePage(w, c.version, loc, offset, false)
}

// servePage answers one page of a query: the records after the locator's
// position at offset, and a nextRecordsUrl while more follow.
func (s *Server) servePage(w http.ResponseWriter, version string, loc *locator, offset int, first bool) *failure {
	cq := loc.q
	s.locMu.Lock()
	after := loc.positions[offset]
	s.locMu.Unlock()
	want := loc.batch
	if cq.limit >= 0 {
		want = min(want, cq.limit-offset)
	}
	skip := 0
	if first {
		skip = cq.offset
	}
	var recs []*memstore.Record
	var next *memstore.Position
	more, total := false, -1
	if want > 0 {
		var err error
		recs, next, more, total, err = s.fetch(cq, after, skip, want)
		if err != nil {
			return fail(http.StatusBadRequest, "MALFORMED_QUERY", "%v", err)
		}
	}
	if first {
		n := total
		if n < 0 {
			var err error
			if n, err = s.countAll(cq); err != nil {
				return fail(http.StatusBadRequest, "MALFORMED_QUERY", "%v", err)
			}
		}
		n = max(n-cq.offset, 0)
		if cq.limit >= 0 {
			n = min(n, cq.limit)
		}
		loc.total = n
	}
	delivered := offset + len(recs)
	done := !more || (cq.limit >= 0 && delivered >= cq.limit)
	var nextURL string
	if !done {
		s.locMu.Lock()
		if loc.id == "" {
			s.locSeq++
			loc.id = makeID("01g", s.locSeq)
			s.sweepLocators()
			s.locators[loc.id] = loc
		}
		loc.positions[delivered] = next
		loc.lastUsed = s.now()
		s.locMu.Unlock()
		nextURL = "/services/data/v" + version + "/query/" + loc.id + "-" + strconv.Itoa(delivered)
	}
	b := make([]byte, 0, 256+len(recs)*256)
	b = append(b, `{"totalSize":`...)
	b = strconv.AppendInt(b, int64(loc.total), 10)
	b = append(b, `,"done":`...)
	b = strconv.AppendBool(b, done)
	if !done {
		b = append(b, `,"nextRecordsUrl":`...)
		b = appendString(b, nextURL)
	}
	b = append(b, `,"records":[`...)
	for i, rec := range recs {
		if i > 0 {
			b = append(b, ',')
		}
		b = s.appendRecord(b, version, cq.o, rec, cq.fields)
	}
	b = append(b, "]}"...)
	s.writeRaw(w, http.StatusOK, b)
	return nil
}

// sweepLocators drops expired locators; s.locMu is held.
func (s *Server) sweepLocators() {
	now := s.now()
	for id, l := range s.locators {
		if now.Sub(l.lastUsed) > s.cfg.locatorTTL {
			delete(s.locators, id)
		}
	}
}

// fetch reads up to want records after a position, skipping skip matching
// records first, and reports the position after the last one returned,
// whether more follow, and the number of matches when the store counted
// them (-1 otherwise).
func (s *Server) fetch(cq *compiled, after *memstore.Position, skip, want int) ([]*memstore.Record, *memstore.Position, bool, int, error) {
	if cq.residual == nil && skip == 0 {
		res, err := s.store.Query(memstore.Query{Object: cq.o.Name, Where: cq.filter, OrderBy: cq.order, Fields: cq.store,
			IncludeDeleted: cq.all, After: after, Limit: want})
		if err != nil {
			return nil, nil, false, -1, err
		}
		return res.Records, res.Next, res.Next != nil, res.Total, nil
	}
	var out []*memstore.Record
	pos := after
	chunk := max(want, MinBatchSize)
	for {
		res, err := s.store.Query(memstore.Query{Object: cq.o.Name, Where: cq.filter, OrderBy: cq.order,
			IncludeDeleted: cq.all, After: pos, Limit: chunk})
		if err != nil {
			return nil, nil, false, -1, err
		}
		for _, r := range res.Records {
			if cq.residual != nil && !cq.residual(r) {
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			if len(out) == want {
				return out, positionOf(cq, out[len(out)-1]), true, -1, nil
			}
			out = append(out, r)
		}
		if res.Next == nil {
			return out, nil, false, -1, nil
		}
		pos = res.Next
	}
}

func positionOf(cq *compiled, r *memstore.Record) *memstore.Position {
	p := &memstore.Position{ID: r.ID, Values: make([]any, len(cq.order))}
	for i, o := range cq.order {
		p.Values[i] = r.Fields[o.Field]
	}
	return p
}

// countAll counts the records a query matches.
func (s *Server) countAll(cq *compiled) (int, error) {
	if cq.residual == nil {
		res, err := s.store.Query(memstore.Query{Object: cq.o.Name, Where: cq.filter, IncludeDeleted: cq.all, Fields: []string{"Id"}, Limit: 1})
		if err != nil {
			return 0, err
		}
		return res.Total, nil
	}
	n := 0
	var pos *memstore.Position
	for {
		res, err := s.store.Query(memstore.Query{Object: cq.o.Name, Where: cq.filter, IncludeDeleted: cq.all, After: pos, Limit: 2000})
		if err != nil {
			return 0, err
		}
		for _, r := range res.Records {
			if cq.residual(r) {
				n++
			}
		}
		if res.Next == nil {
			return n, nil
		}
		pos = res.Next
	}
}

func (s *Server) serveReplication(w http.ResponseWriter, r *http.Request, c call) *failure {
	o, ok := s.object(c.segs[1])
	if !ok {
		return notFound()
	}
	if r.Method != http.MethodGet {
		return methodNotAllowed(w, r.Method, "GET", "HEAD")
	}
	q := r.URL.Query()
	start, err1 := crm.ParseTime(q.Get("start"))
	end, err2 := crm.ParseTime(q.Get("end"))
	if err1 != nil || err2 != nil {
		return fail(http.StatusBadRequest, "INVALID_REPLICATION_DATE", "give start and end as ISO 8601 date-times, such as 2024-01-01T00:00:00+00:00")
	}
	start, end = start.Truncate(time.Minute), end.Truncate(time.Minute)
	now := s.now()
	deleted := c.route == "sobject.deleted"
	window := 30 * 24 * time.Hour
	if deleted {
		window = 15 * 24 * time.Hour
	}
	switch {
	case !start.Before(end):
		return fail(http.StatusBadRequest, "INVALID_REPLICATION_DATE", "startDate must chronologically precede endDate")
	case start.Before(now.Add(-window)):
		return fail(http.StatusBadRequest, "INVALID_REPLICATION_DATE", "startDate can not be more than %d days ago", int(window.Hours()/24))
	}
	if cap := now.Truncate(time.Minute); end.After(cap) {
		end = cap
	}
	res, err := s.store.Query(memstore.Query{Object: o.Name, IncludeDeleted: deleted, Fields: []string{"Id", "SystemModstamp"},
		Where: crm.And(crm.Ge("SystemModstamp", start), crm.Lt("SystemModstamp", end))})
	if err != nil {
		return fail(http.StatusBadRequest, "INVALID_REPLICATION_DATE", "%v", err)
	}
	latest := appendValue(nil, end)
	if deleted {
		type del struct {
			ID          string        `json:"id"`
			DeletedDate jsonRawString `json:"deletedDate"`
		}
		out := []del{}
		for _, rec := range res.Records {
			if rec.Deleted {
				out = append(out, del{ID: rec.ID, DeletedDate: jsonRawString(appendValue(nil, rec.Modified))})
			}
		}
		if len(out) > 600000 {
			return fail(http.StatusBadRequest, "EXCEEDED_ID_LIMIT", "too many ids: use a narrower window")
		}
		s.writeJSON(w, http.StatusOK, map[string]any{"deletedRecords": out,
			"earliestDateAvailable": jsonRawString(appendValue(nil, now.Add(-window))), "latestDateCovered": jsonRawString(latest)})
		return nil
	}
	ids := []string{}
	for _, rec := range res.Records {
		ids = append(ids, rec.ID)
	}
	if len(ids) > 600000 {
		return fail(http.StatusBadRequest, "EXCEEDED_ID_LIMIT", "too many ids: use a narrower window")
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"ids": ids, "latestDateCovered": jsonRawString(latest)})
	return nil
}

// jsonRawString is JSON text already encoded.
type jsonRawString []byte

func (j jsonRawString) MarshalJSON() ([]byte, error) { return j, nil }
