package dynamicstest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/memstore"
)

// serve answers one Web API request (not a $batch).
func (e *env) serve(o *request) *response {
	q, err := parseQuery(o.query)
	if err != nil {
		return errResponse(errBadRequest("The query string is malformed: " + err.Error()))
	}
	if o.path == "" {
		if o.method != http.MethodGet {
			return errResponse(errMethod(o.method))
		}
		return e.serviceDocument(o)
	}
	rawSegs := strings.Split(o.path, "/")
	segs := make([]string, len(rawSegs))
	for i, s := range rawSegs {
		if segs[i], err = url.PathUnescape(s); err != nil {
			return errResponse(errBadRequest(fmt.Sprintf("The path segment '%s' is not validly escaped.", s)))
		}
	}
	name, key, hasKey, err := splitSegment(segs[0])
	if err != nil {
		return errResponse(errBadRequest(err.Error()))
	}
	_, rawKey, _, _ := splitSegment(rawSegs[0])
	switch name {
	case "$metadata":
		if o.method != http.MethodGet {
			return errResponse(errMethod(o.method))
		}
		return e.metadataDocument()
	case "EntityDefinitions":
		if o.method != http.MethodGet {
			return errResponse(errNotImplemented("Changing table definitions"))
		}
		return e.entityDefinitions(o, key, hasKey, segs[1:], q)
	case "WhoAmI", "WhoAmI()":
		return jsonResponse(http.StatusOK, map[string]any{
			"@odata.context": o.base + "$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
			"BusinessUnitId": e.buID, "UserId": o.caller, "OrganizationId": e.orgID,
		})
	case "$batch":
		return errResponse(errMethod(o.method))
	}
	t := e.bySet[name]
	if t == nil {
		if hint := e.setHint(name); hint != "" {
			return errResponse(&apiError{status: http.StatusNotFound, code: codeHTTP, message: fmt.Sprintf("Resource not found for the segment '%s'. %s", name, hint)})
		}
		return errResponse(&apiError{status: http.StatusNotFound, code: codeHTTP, message: fmt.Sprintf("Resource not found for the segment '%s'.", name)})
	}
	switch {
	case !hasKey && len(segs) == 1:
		switch o.method {
		case http.MethodGet:
			return e.query(o, t, q)
		case http.MethodPost:
			return e.create(o, t, q)
		}
	case !hasKey && len(segs) == 2 && segs[1] == "$count":
		if o.method == http.MethodGet {
			return e.count(t)
		}
	case hasKey && len(segs) == 1:
		switch o.method {
		case http.MethodGet:
			return e.retrieve(o, t, key, q)
		case http.MethodPatch:
			return e.patch(o, t, key, rawKey, q)
		case http.MethodDelete:
			return e.delete(o, t, key)
		}
	case hasKey && len(segs) == 2:
		return e.property(o, t, key, segs[1])
	default:
		return errResponse(errNotImplemented("The path '" + o.path + "'"))
	}
	return errResponse(errMethod(o.method))
}

// parseQuery reads a query string, splitting options only at '&': OData
// puts ';' between the nested options of $expand.
func parseQuery(raw string) (url.Values, error) {
	q := url.Values{}
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, fmt.Errorf("the query option %q is not validly escaped", k)
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("the value of %s is not validly escaped", key)
		}
		if q.Has(key) {
			return nil, fmt.Errorf("the query option %s is given twice", key)
		}
		q.Set(key, val)
	}
	return q, nil
}

func errMethod(m string) *apiError {
	return &apiError{status: http.StatusMethodNotAllowed, code: codeHTTP, message: fmt.Sprintf("The HTTP method '%s' is not allowed on this resource.", m)}
}

// setHint suggests the entity set for a logical name used by mistake.
func (e *env) setHint(name string) string {
	if t := e.byName[strings.ToLower(name)]; t != nil {
		return fmt.Sprintf("Use the entity set name '%s' for the table '%s'.", t.EntitySetName, t.LogicalName)
	}
	for set := range e.bySet {
		if strings.EqualFold(set, name) {
			return fmt.Sprintf("Entity set names are case sensitive: use '%s'.", set)
		}
	}
	return ""
}

func (e *env) serviceDocument(o *request) *response {
	var sets []map[string]string
	for _, t := range e.tables {
		sets = append(sets, map[string]string{"name": t.EntitySetName, "kind": "EntitySet", "url": t.EntitySetName})
	}
	for _, n := range []string{"EntityDefinitions", "RelationshipDefinitions", "GlobalOptionSetDefinitions"} {
		sets = append(sets, map[string]string{"name": n, "kind": "EntitySet", "url": n})
	}
	return jsonResponse(http.StatusOK, map[string]any{"@odata.context": o.base + "$metadata", "value": sets})
}

// prefs are the preferences of a Prefer header.
type prefs struct {
	representation  bool
	maxPageSize     int
	trackChanges    bool
	continueOnError bool
	annotations     string
}

func parsePrefer(h http.Header) (prefs, *apiError) {
	var p prefs
	for _, line := range h.Values("Prefer") {
		for _, item := range splitQuoted(line, ',') {
			k, v, _ := strings.Cut(strings.TrimSpace(item), "=")
			k = strings.ToLower(strings.TrimSpace(k))
			v = strings.Trim(strings.TrimSpace(v), `"`)
			switch k {
			case "return":
				p.representation = v == "representation"
			case "odata.maxpagesize":
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 {
					return p, errBadRequest(fmt.Sprintf("The odata.maxpagesize preference '%s' is not a positive whole number.", v))
				}
				p.maxPageSize = n
			case "odata.track-changes":
				p.trackChanges = true
			case "odata.continue-on-error":
				p.continueOnError = true
			case "odata.include-annotations":
				p.annotations = v
			}
		}
	}
	return p, nil
}

// splitQuoted splits s at sep outside double quotes.
func splitQuoted(s string, sep byte) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case sep:
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func (p prefs) wants(annotation string) bool {
	if p.annotations == "" {
		return false
	}
	for _, a := range strings.Split(p.annotations, ",") {
		a = strings.TrimSpace(a)
		if a == "*" || a == annotation || (strings.HasSuffix(a, "*") && strings.HasPrefix(annotation, strings.TrimSuffix(a, "*"))) {
			return true
		}
	}
	return false
}

// parseSelect resolves a $select list; nil means every column.
func parseSelect(t *etable, s string) ([]*eattr, *apiError) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []*eattr
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimSpace(n)
		a := t.wireAttr(n)
		if a == nil || a.LogicalName != strings.TrimSuffix(strings.TrimPrefix(n, "_"), "_value") && a.LogicalName != n {
			return nil, errNoProperty(t, n)
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	if !slices.Contains(out, t.pk) {
		out = append(out, t.pk)
	}
	return out, nil
}

func selectNames(sel []*eattr) []string {
	if sel == nil {
		return nil
	}
	out := make([]string, len(sel))
	for i, a := range sel {
		out[i] = a.LogicalName
	}
	return out
}

func contextSuffix(t *etable, sel []*eattr) string {
	if sel == nil {
		return t.EntitySetName
	}
	names := make([]string, len(sel))
	for i, a := range sel {
		names[i] = a.wireName()
	}
	return t.EntitySetName + "(" + strings.Join(names, ",") + ")"
}

// jsonObject writes a JSON object with keys in the order added.
type jsonObject struct {
	buf bytes.Buffer
	n   int
}

func (j *jsonObject) add(key string, v any) {
	if j.n == 0 {
		j.buf.WriteByte('{')
	} else {
		j.buf.WriteByte(',')
	}
	j.n++
	k, _ := json.Marshal(key)
	j.buf.Write(k)
	j.buf.WriteByte(':')
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte("null")
	}
	j.buf.Write(b)
}

func (j *jsonObject) bytes() []byte {
	if j.n == 0 {
		return []byte("{}")
	}
	j.buf.WriteByte('}')
	return j.buf.Bytes()
}

func etag(version string) string { return `W/"` + version + `"` }

// row renders one record as the Web API does: its ETag, then its columns.
func (e *env) row(t *etable, rec *memstore.Record, sel []*eattr, p prefs, context string) json.RawMessage {
	var j jsonObject
	if context != "" {
		j.add("@odata.context", context)
	}
	j.add("@odata.etag", etag(rec.Version))
	attrs := sel
	if attrs == nil {
		attrs = t.attrs
	}
	for _, a := range attrs {
		v := rec.Fields[a.LogicalName]
		name := a.wireName()
		if a.isLookup() && v != nil {
			id, _ := v.(string)
			target := e.lookupTarget(a, id)
			if p.wants("OData.Community.Display.V1.FormattedValue") && target != nil && target.PrimaryNameAttribute != "" {
				if r, err := e.store.Get(target.LogicalName, id, []string{target.PrimaryNameAttribute}); err == nil {
					if s, ok := r.Fields[target.PrimaryNameAttribute].(string); ok {
						j.add(name+"@OData.Community.Display.V1.FormattedValue", s)
					}
				}
			}
			if p.wants("Microsoft.Dynamics.CRM.associatednavigationproperty") {
				j.add(name+"@Microsoft.Dynamics.CRM.associatednavigationproperty", a.NavigationProperty)
			}
			if p.wants("Microsoft.Dynamics.CRM.lookuplogicalname") && target != nil {
				j.add(name+"@Microsoft.Dynamics.CRM.lookuplogicalname", target.LogicalName)
			}
		} else if p.wants("OData.Community.Display.V1.FormattedValue") {
			if f, ok := a.formatted(v); ok {
				j.add(name+"@OData.Community.Display.V1.FormattedValue", f)
			}
		}
		j.add(name, a.jsonValue(v))
	}
	return j.bytes()
}

// lookupTarget returns the table a lookup value points into: the one target
// that holds the id.
func (e *env) lookupTarget(a *eattr, id string) *etable {
	for _, name := range a.Targets {
		t := e.byName[name]
		if len(a.Targets) == 1 {
			return t
		}
		if _, err := e.store.Get(t.LogicalName, id, []string{t.PrimaryIDAttribute}); err == nil {
			return t
		}
	}
	return nil
}

func (e *env) lockFor(o *request) func() {
	if o.cs != nil {
		return func() {} // the change set holds the lock
	}
	e.mu.Lock()
	return e.mu.Unlock
}

// decodeBody reads the JSON body of a create or update into stored values.
// It checks types, lengths and options, not whether a column may be written
// (that depends on whether an upsert creates); writable does that.
func (e *env) decodeBody(o *request, t *etable) (crm.Fields, string, *apiError) {
	if len(bytes.TrimSpace(o.body)) == 0 {
		return nil, "", errPayload("The request body is empty: send the record as a JSON object.", "")
	}
	dec := json.NewDecoder(bytes.NewReader(o.body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, "", errPayload(fmt.Sprintf("Error identified in Payload provided by the user for Entity :'%s'. The payload is not a JSON object: %v", t.EntitySetName, err), "")
	}
	fields := crm.Fields{}
	id := ""
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := m[k]
		if nav, ok := strings.CutSuffix(k, "@odata.bind"); ok {
			a := t.byNav[nav]
			if a == nil {
				return nil, "", errPayload(fmt.Sprintf("An undeclared property '%s' which only has property annotations in the payload but no property value was found in the payload. In OData, only declared navigation properties and declared named streams can be represented as properties without values.", nav), nav)
			}
			if v == nil {
				fields[a.LogicalName] = nil
				continue
			}
			ref, ok := v.(string)
			if !ok {
				return nil, "", errPayload(fmt.Sprintf("The value of '%s' must be a URL of a record, such as /%s(<guid>).", k, e.byName[a.Targets[0]].EntitySetName), nav)
			}
			target, rid, aerr := e.resolveRef(o, ref)
			if aerr != nil {
				return nil, "", aerr
			}
			if !slices.Contains(a.Targets, target.LogicalName) {
				return nil, "", errPayload(fmt.Sprintf("The navigation property '%s' cannot point to a %s record; it points to %s.", nav, target.LogicalName, strings.Join(a.Targets, " or ")), nav)
			}
			fields[a.LogicalName] = rid
			continue
		}
		if strings.Contains(k, "@") {
			continue // instance annotations, such as @odata.type
		}
		a := t.byName[k]
		if a == nil {
			return nil, "", errInvalidProperty(t, k)
		}
		if a.isLookup() {
			return nil, "", errPayload(fmt.Sprintf("A 'PrimitiveValue' node with non-null value was found when trying to read the value of the navigation property '%s'; however, a 'StartArray' node, a 'StartObject' node, or a 'PrimitiveValue' node with null value was expected. Set a lookup with \"%s@odata.bind\": \"/%s(<guid>)\".", k, a.NavigationProperty, e.byName[a.Targets[0]].EntitySetName), k)
		}
		if a.pk {
			s, ok := v.(string)
			if !ok || !guidRE.MatchString(s) {
				return nil, "", errPayload(fmt.Sprintf("Cannot convert the literal '%v' to the expected type 'Edm.Guid'.", v), k)
			}
			id = strings.ToLower(s)
			continue
		}
		val, aerr := a.fromJSON(v)
		if aerr != nil {
			return nil, "", aerr
		}
		fields[a.LogicalName] = val
	}
	return fields, id, nil
}

// writable checks that every column in fields may be written by a create or
// an update.
func writable(t *etable, fields crm.Fields, create bool) *apiError {
	for _, name := range fields.Names() {
		a := t.byName[name]
		if a == nil {
			continue
		}
		if create && !a.validCreate || !create && !a.validUpdate {
			what := "update"
			if create {
				what = "create"
			}
			return errPayload(fmt.Sprintf("The property '%s' of 'Microsoft.Dynamics.CRM.%s' is not valid for %s: it is read-only.", a.LogicalName, t.LogicalName, what), a.LogicalName)
		}
	}
	return nil
}

// resolveRef resolves a reference to a record: /accounts(<guid>), a
// relative or absolute URL, or $n inside a change set.
func (e *env) resolveRef(o *request, ref string) (*etable, string, *apiError) {
	orig := ref
	if strings.HasPrefix(ref, "$") && o.cs != nil {
		r, ok := o.cs.refs[strings.TrimPrefix(ref, "$")]
		if !ok {
			return nil, "", errBadRequest(fmt.Sprintf("Content-ID Reference: '%s' does not exist in the batch context.", ref))
		}
		ref = r
	}
	if i := strings.Index(ref, APIPath); i >= 0 {
		ref = ref[i+len(APIPath):]
	}
	ref = strings.TrimPrefix(ref, "/")
	seg, err := url.PathUnescape(ref)
	if err != nil {
		seg = ref
	}
	name, key, hasKey, serr := splitSegment(seg)
	t := e.bySet[name]
	if serr != nil || !hasKey || t == nil {
		return nil, "", errPayload(fmt.Sprintf("The reference '%s' is not the URL of a record, such as /accounts(<guid>).", clipText(orig)), "")
	}
	id, _, found, aerr := e.resolve(o, t, key)
	if aerr != nil {
		return nil, "", aerr
	}
	if !found {
		return nil, "", errNotFound(t, id)
	}
	return t, id, nil
}

// resolve finds the record a key segment names. It returns its id (the
// GUID of a primary key even when no record has it), the key's column
// values for an upsert that creates, and whether the record exists.
func (e *env) resolve(o *request, t *etable, keyText string) (string, crm.Fields, bool, *apiError) {
	parts, err := parseKey(keyText)
	if err != nil {
		return "", nil, false, errBadRequest(err.Error())
	}
	pending := func(id string) bool { return o.cs != nil && o.cs.deleted[t.LogicalName+"/"+id] }
	if len(parts) == 1 && (parts[0].name == "" || parts[0].name == t.PrimaryIDAttribute) {
		if parts[0].lit.kind != litGUID {
			return "", nil, false, errBadRequest(fmt.Sprintf("The key value '%s' of %s is not a GUID.", parts[0].lit.raw, t.PrimaryIDAttribute))
		}
		id := parts[0].lit.str
		if _, err := e.store.Get(t.LogicalName, id, []string{t.PrimaryIDAttribute}); err != nil || pending(id) {
			return id, nil, false, nil
		}
		return id, nil, true, nil
	}
	var key *ekey
	if len(parts) == 1 {
		for i := range t.keys {
			if t.keys[i].attr.LogicalName == parts[0].name {
				key = &t.keys[i]
			}
		}
	}
	if key == nil {
		names := make([]string, len(parts))
		for i, p := range parts {
			names[i] = p.name
		}
		return "", nil, false, &apiError{status: http.StatusBadRequest, code: codeKeyNotDefined,
			message: fmt.Sprintf("The key attributes (%s) are not a defined alternate key of the %s table.", strings.Join(names, ","), t.LogicalName)}
	}
	a := key.attr
	v, aerr := a.keyValue(parts[0].lit)
	if aerr != nil {
		return "", nil, false, aerr
	}
	keyFields := crm.Fields{a.LogicalName: v}
	if rec, err := e.store.Lookup(t.LogicalName, a.LogicalName, v); err == nil && !pending(rec.ID) {
		return rec.ID, keyFields, true, nil
	}
	return "", keyFields, false, nil
}

// keyValue converts a key or filter literal to the column's stored value.
func (a *eattr) keyValue(l literal) (any, *apiError) {
	bad := func() *apiError {
		return errQuery(fmt.Sprintf("A binary operator with incompatible types was detected. Found operand types '%s' and '%s' for operator kind 'Equal'.", a.edm(), l.kind.edm()))
	}
	switch a.Type {
	case String, Memo:
		if l.kind != litString {
			return nil, bad()
		}
		return l.str, nil
	case Uniqueidentifier, Lookup, Customer, Owner:
		if l.kind != litGUID {
			return nil, bad()
		}
		return l.str, nil
	case Integer, BigInt:
		switch l.kind {
		case litInt:
			return l.i, nil
		case litDecimal:
			return l.num, nil
		}
	case Decimal, Money, Double:
		if l.kind == litInt || l.kind == litDecimal {
			return l.num, nil
		}
	case Boolean:
		if l.kind == litBool {
			return l.b, nil
		}
	case DateTime:
		if a.DateTimeBehavior == DateOnly {
			if l.kind == litDate {
				return l.d, nil
			}
			return nil, bad()
		}
		switch l.kind {
		case litDateTime:
			return l.t, nil
		case litDate:
			return l.d.In(time.UTC), nil
		}
	case Picklist, State, Status:
		if l.kind == litInt {
			return strconv.FormatInt(l.i, 10), nil
		}
	}
	return nil, bad()
}

func (e *env) create(o *request, t *etable, q url.Values) *response {
	p, aerr := parsePrefer(o.header)
	if aerr != nil {
		return errResponse(aerr)
	}
	sel, aerr := parseSelect(t, q.Get("$select"))
	if aerr != nil {
		return errResponse(aerr)
	}
	unlock := e.lockFor(o)
	defer unlock()
	fields, id, aerr := e.decodeBody(o, t)
	if aerr == nil {
		aerr = writable(t, fields, true)
	}
	if aerr != nil {
		return errResponse(aerr)
	}
	rec, aerr := e.createRow(o, t, fields, id)
	if aerr != nil {
		return errResponse(aerr)
	}
	return e.written(o, t, rec, sel, p, t.EntitySetName+"("+rec.ID+")", http.StatusCreated)
}

// written answers a successful create or update: 204 with OData-EntityId, or
// the record with return=representation.
func (e *env) written(o *request, t *etable, rec *memstore.Record, sel []*eattr, p prefs, entityPath string, repStatus int) *response {
	h := http.Header{"Odata-Entityid": {o.base + entityPath}, "Etag": {etag(rec.Version)}}
	if !p.representation {
		return &response{status: http.StatusNoContent, header: h}
	}
	if sel != nil {
		fresh, err := e.store.Get(t.LogicalName, rec.ID, selectNames(sel))
		if err == nil {
			rec = fresh
		}
	}
	h.Set("Content-Type", "application/json; odata.metadata=minimal")
	h.Set("Preference-Applied", "return=representation")
	return &response{status: repStatus, header: h, body: e.row(t, rec, sel, p, o.base+"$metadata#"+contextSuffix(t, sel)+"/$entity")}
}

func (e *env) createRow(o *request, t *etable, fields crm.Fields, id string) (*memstore.Record, *apiError) {
	for _, a := range t.attrs {
		if _, given := fields[a.LogicalName]; !given && a.DefaultOption >= 0 {
			fields[a.LogicalName] = strconv.Itoa(a.DefaultOption)
		}
		if a.Required == SystemRequired && !a.pk && !a.system && fields[a.LogicalName] == nil && a.DefaultOption < 0 {
			return nil, errValidation(fmt.Sprintf("Attribute '%s' cannot be NULL.", a.LogicalName), a.LogicalName)
		}
	}
	if o.caller != "" {
		fields["createdby"], fields["modifiedby"] = o.caller, o.caller
	}
	opts := []memstore.WriteOption{memstore.AsSystem()}
	if id != "" {
		opts = append(opts, memstore.WithID(id))
	}
	rec, err := e.store.Create(t.LogicalName, fields, opts...)
	if err != nil {
		return nil, fromStore(t, err)
	}
	if o.cs != nil {
		o.cs.undo = append(o.cs.undo, func() { _, _ = e.store.Delete(t.LogicalName, rec.ID) })
	}
	return rec, nil
}

func (e *env) updateRow(o *request, t *etable, id string, fields crm.Fields, ifVersion string) (*memstore.Record, *apiError) {
	var before *memstore.Record
	if o.cs != nil {
		var err error
		if before, err = e.store.Get(t.LogicalName, id, nil); err != nil {
			return nil, fromStore(t, err)
		}
	}
	if o.caller != "" {
		fields["modifiedby"] = o.caller
	}
	rec, err := e.store.Update(t.LogicalName, id, fields, memstore.AsSystem(), memstore.IfVersion(ifVersion))
	if err != nil {
		return nil, fromStore(t, err)
	}
	if before != nil {
		old := before.Fields.Clone()
		delete(old, t.PrimaryIDAttribute)
		o.cs.undo = append(o.cs.undo, func() { _, _ = e.store.Update(t.LogicalName, id, old, memstore.AsSystem()) })
	}
	return rec, nil
}

// ifMatchVersion reads an If-Match or If-None-Match value: "*" or a (weak)
// ETag, returned as the version it carries.
func ifMatchVersion(v string) (version string, any bool) {
	v = strings.TrimSpace(v)
	if v == "*" {
		return "", true
	}
	v = strings.TrimPrefix(v, "W/")
	return strings.Trim(v, `"`), false
}

func (e *env) patch(o *request, t *etable, key, rawKey string, q url.Values) *response {
	p, aerr := parsePrefer(o.header)
	if aerr != nil {
		return errResponse(aerr)
	}
	sel, aerr := parseSelect(t, q.Get("$select"))
	if aerr != nil {
		return errResponse(aerr)
	}
	unlock := e.lockFor(o)
	defer unlock()
	fields, bodyID, aerr := e.decodeBody(o, t)
	if aerr != nil {
		return errResponse(aerr)
	}
	id, keyFields, found, aerr := e.resolve(o, t, key)
	if aerr != nil {
		return errResponse(aerr)
	}
	if bodyID != "" && id != "" && bodyID != id {
		return errResponse(errBadRequest(fmt.Sprintf("The %s in the body (%s) does not match the key in the URL (%s).", t.PrimaryIDAttribute, bodyID, id)))
	}
	ifMatch := o.header.Get("If-Match")
	ifNoneMatch := o.header.Get("If-None-Match")
	if _, star := ifMatchVersion(ifNoneMatch); star && found {
		return errResponse(&apiError{status: http.StatusPreconditionFailed, code: codeDuplicate, message: "A record with matching key values already exists."})
	}
	entityPath := t.EntitySetName + "(" + rawKey + ")"
	if !found {
		if ifMatch != "" {
			if id == "" {
				return errResponse(&apiError{status: http.StatusNotFound, code: codeNotFound, message: fmt.Sprintf("%s With Ids = %s Do Not Exist", t.LogicalName, key)})
			}
			return errResponse(errNotFound(t, id))
		}
		if aerr := writable(t, fields, true); aerr != nil {
			return errResponse(aerr)
		}
		for k, v := range keyFields {
			fields[k] = v // the key in the URL wins over the body
		}
		rec, aerr := e.createRow(o, t, fields, id)
		if aerr != nil {
			return errResponse(aerr)
		}
		return e.written(o, t, rec, sel, p, entityPath, http.StatusCreated)
	}
	if aerr := writable(t, fields, false); aerr != nil {
		return errResponse(aerr)
	}
	for k := range keyFields {
		delete(fields, k)
	}
	version, _ := ifMatchVersion(ifMatch)
	rec, aerr := e.updateRow(o, t, id, fields, version)
	if aerr != nil {
		return errResponse(aerr)
	}
	return e.written(o, t, rec, sel, p, entityPath, http.StatusOK)
}

func (e *env) delete(o *request, t *etable, key string) *response {
	unlock := e.lockFor(o)
	defer unlock()
	id, _, found, aerr := e.resolve(o, t, key)
	if aerr != nil {
		return errResponse(aerr)
	}
	if !found {
		return errResponse(errNotFound(t, id))
	}
	version, _ := ifMatchVersion(o.header.Get("If-Match"))
	if o.cs != nil {
		// Deletes in a change set are applied when it commits, so that a
		// rollback never has to bring a record back.
		rec, err := e.store.Get(t.LogicalName, id, []string{t.PrimaryIDAttribute})
		if err != nil {
			return errResponse(fromStore(t, err))
		}
		if version != "" && version != rec.Version {
			return errResponse(fromStore(t, &crm.Error{Kind: crm.KindConflict}))
		}
		o.cs.deleted[t.LogicalName+"/"+id] = true
		o.cs.deletes = append(o.cs.deletes, pendingDelete{table: t, id: id})
		return &response{status: http.StatusNoContent, header: http.Header{}}
	}
	if _, err := e.store.Delete(t.LogicalName, id, memstore.IfVersion(version)); err != nil {
		return errResponse(fromStore(t, err))
	}
	return &response{status: http.StatusNoContent, header: http.Header{}}
}

func (e *env) retrieve(o *request, t *etable, key string, q url.Values) *response {
	for k := range q {
		switch k {
		case "$select":
		case "$expand":
			return errResponse(errNotImplemented("$expand"))
		default:
			if strings.HasPrefix(k, "$") {
				return errResponse(errQuery(fmt.Sprintf("The query parameter '%s' is not supported when retrieving one record.", k)))
			}
		}
	}
	p, aerr := parsePrefer(o.header)
	if aerr != nil {
		return errResponse(aerr)
	}
	sel, aerr := parseSelect(t, q.Get("$select"))
	if aerr != nil {
		return errResponse(aerr)
	}
	id, _, found, aerr := e.resolve(o, t, key)
	if aerr != nil {
		return errResponse(aerr)
	}
	if !found {
		if id == "" {
			return errResponse(&apiError{status: http.StatusNotFound, code: codeNotFound, message: fmt.Sprintf("%s With Ids = %s Do Not Exist", t.LogicalName, key)})
		}
		return errResponse(errNotFound(t, id))
	}
	rec, err := e.store.Get(t.LogicalName, id, selectNames(sel))
	if err != nil {
		return errResponse(fromStore(t, err))
	}
	if v, star := ifMatchVersion(o.header.Get("If-None-Match")); !star && v != "" && v != "null" && v == rec.Version {
		return &response{status: http.StatusNotModified, header: http.Header{"Etag": {etag(rec.Version)}}}
	}
	h := http.Header{"Etag": {etag(rec.Version)}, "Content-Type": {"application/json; odata.metadata=minimal"}}
	if p.annotations != "" {
		h.Set("Preference-Applied", `odata.include-annotations="`+p.annotations+`"`)
	}
	return &response{status: http.StatusOK, header: h, body: e.row(t, rec, sel, p, o.base+"$metadata#"+contextSuffix(t, sel)+"/$entity")}
}

// property serves accounts(<id>)/name: GET its value, PUT {"value":...} to
// set it, DELETE to clear it.
func (e *env) property(o *request, t *etable, key, name string) *response {
	a := t.wireAttr(name)
	if a == nil {
		if t.byNav[strings.TrimSuffix(name, "/$ref")] != nil || strings.HasSuffix(name, "$ref") {
			return errResponse(errNotImplemented("Navigation property requests"))
		}
		return errResponse(errNoProperty(t, name))
	}
	unlock := e.lockFor(o)
	defer unlock()
	id, _, found, aerr := e.resolve(o, t, key)
	if aerr != nil {
		return errResponse(aerr)
	}
	if !found {
		return errResponse(errNotFound(t, id))
	}
	switch o.method {
	case http.MethodGet:
		rec, err := e.store.Get(t.LogicalName, id, []string{a.LogicalName})
		if err != nil {
			return errResponse(fromStore(t, err))
		}
		v := rec.Fields[a.LogicalName]
		if v == nil {
			return &response{status: http.StatusNoContent, header: http.Header{}}
		}
		return jsonResponse(http.StatusOK, map[string]any{"@odata.context": o.base + "$metadata#" + t.EntitySetName + "(" + id + ")/" + name, "value": a.jsonValue(v)})
	case http.MethodPut, http.MethodDelete:
		if a.isLookup() || !a.validUpdate {
			return errResponse(errPayload(fmt.Sprintf("The property '%s' cannot be set this way.", name), name))
		}
		var val any
		if o.method == http.MethodPut {
			var body struct {
				Value json.RawMessage `json:"value"`
			}
			if err := json.Unmarshal(o.body, &body); err != nil || body.Value == nil {
				return errResponse(errPayload(`The body of a property update is {"value": ...}.`, name))
			}
			dec := json.NewDecoder(bytes.NewReader(body.Value))
			dec.UseNumber()
			var raw any
			if err := dec.Decode(&raw); err != nil {
				return errResponse(errPayload("The value is not valid JSON.", name))
			}
			if val, aerr = a.fromJSON(raw); aerr != nil {
				return errResponse(aerr)
			}
		}
		if _, aerr := e.updateRow(o, t, id, crm.Fields{a.LogicalName: val}, ""); aerr != nil {
			return errResponse(aerr)
		}
		return &response{status: http.StatusNoContent, header: http.Header{}}
	}
	return errResponse(errMethod(o.method))
}

func (e *env) count(t *etable) *response {
	n, err := e.store.Len(t.LogicalName)
	if err != nil {
		return errResponse(fromStore(t, err))
	}
	return &response{status: http.StatusOK, header: http.Header{"Content-Type": {"text/plain"}}, body: []byte(strconv.Itoa(min(n, 5000)))}
}
