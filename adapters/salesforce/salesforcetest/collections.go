package salesforcetest

import (
	"net/http"
	"strings"

	"github.com/crmkit/crmkit/internal/memstore"
)

type collectionRequest struct {
	AllOrNone bool             `json:"allOrNone"`
	Records   []map[string]any `json:"records"`
	// For POST retrieve.
	IDs    []string `json:"ids"`
	Fields []string `json:"fields"`
}

// pending is one record of a collection write, checked and ready to run.
type pending struct {
	result saveResult
	run    func() (string, bool, *writeError) // nil when the record already failed
}

func failedResult(id string, werr *writeError) saveResult {
	return saveResult{ID: id, Success: false, Errors: dmlErrors(werr.errs)}
}

func (s *Server) serveCollections(w http.ResponseWriter, r *http.Request, c call) *failure {
	switch c.route {
	case "collections.delete":
		return s.collectionDelete(w, r, c)
	case "collections.retrieve":
		return s.collectionRetrieve(w, r, c)
	case "collections":
		switch len(c.segs) {
		case 2:
			return methodNotAllowed(w, r.Method, "POST", "PATCH", "DELETE")
		case 4:
			return methodNotAllowed(w, r.Method, "PATCH")
		}
		return notFound()
	}
	body, f := readBody(r)
	if f != nil {
		return f
	}
	var req collectionRequest
	if f := decodeJSON(body, &req); f != nil {
		return f
	}
	if len(req.Records) > MaxCollectionSize {
		return fail(http.StatusBadRequest, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than %d records into this call", MaxCollectionSize)
	}
	var upsertObj *object
	var ext *field
	if c.route == "collections.upsert" {
		o, ok := s.object(c.segs[2])
		if !ok {
			return notFound()
		}
		e, ok := o.field(c.segs[3])
		if !ok || !e.ExternalID {
			return fail(http.StatusBadRequest, "INVALID_FIELD", "Field %s is not an external id field of %s: upsert by one of its external id fields", clipText(c.segs[3], 80), o.Name)
		}
		upsertObj, ext = o, e
	}

	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	items := make([]pending, len(req.Records))
	var keys []any // the external ids the records give, to refuse repeats
	if ext != nil {
		for _, rec := range req.Records {
			if v, ok := fieldValue(rec, ext.Name); ok {
				if key, err := fromJSON(ext, v); err == nil && key != nil {
					keys = append(keys, key)
				}
			}
		}
	}
	repeated := func(key any) bool {
		n := 0
		for _, k := range keys {
			if memstore.SameValue(k, key) {
				n++
			}
		}
		return n > 1
	}
	for i, rec := range req.Records {
		o, werr := s.recordObject(rec)
		if werr != nil {
			items[i].result = failedResult("", werr)
			continue
		}
		switch c.route {
		case "collections.create":
			items[i].run = func() (string, bool, *writeError) {
				id, werr := s.createRecord(o, rec)
				return id, werr == nil, werr
			}
		case "collections.update":
			rawID, _ := fieldValue(rec, "Id")
			idText, _ := rawID.(string)
			id, f := recordID(o, idText)
			if f != nil {
				items[i].result = failedResult(idText, &writeError{errs: f.errs})
				continue
			}
			items[i].result.ID = id
			items[i].run = func() (string, bool, *writeError) {
				cur, werr := s.existing(o, id, dmlError1("INVALID_CROSS_REFERENCE_KEY", nil, "invalid cross reference id"))
				if werr == nil {
					werr = s.updateRecord(o, cur, rec, func(k string) bool { return strings.EqualFold(k, "Id") })
				}
				return id, false, werr
			}
		case "collections.upsert":
			if !strings.EqualFold(o.Name, upsertObj.Name) {
				items[i].result = failedResult("", dmlError1("INVALID_TYPE", nil, "the records of an upsert must all be %s (attributes.type is %s)", upsertObj.Name, o.Name))
				continue
			}
			v, ok := fieldValue(rec, ext.Name)
			value, isText := v.(string)
			if n, isNum := v.(interface{ String() string }); isNum && !isText {
				value, isText = n.String(), true
			}
			if !ok || !isText || value == "" {
				items[i].result = failedResult("", dmlError1("MISSING_ARGUMENT", []string{ext.Name}, "%s not specified: each record of an upsert needs its external id", ext.Name))
				continue
			}
			if key, err := fromJSON(ext, value); err == nil && repeated(key) {
				items[i].result = failedResult("", dmlError1("DUPLICATE_EXTERNAL_ID", []string{ext.Name}, "Duplicate external id specified: %s", clipText(value, 80)))
				continue
			}
			items[i].run = func() (string, bool, *writeError) {
				id, created, _, werr := s.upsertRecord(o, ext, value, rec)
				return id, created, werr
			}
		}
	}
	// Every record's fields must be readable before anything is written.
	for i, rec := range req.Records {
		if items[i].run == nil {
			continue
		}
		o, _ := s.recordObject(rec)
		if werr := checkParse(o, rec); werr != nil {
			return &failure{status: http.StatusBadRequest, errs: werr.errs}
		}
	}
	if req.AllOrNone {
		if f := s.checkAllOrNone(c.route, items, req.Records); f != nil {
			return f
		}
		for i := range items {
			if items[i].run == nil {
				return s.rollback(w, items, i)
			}
		}
	}
	for i := range items {
		it := &items[i]
		if it.run == nil {
			continue
		}
		if werr := s.recordFault(c.route); werr != nil {
			it.result = failedResult(it.result.ID, werr)
			continue
		}
		id, created, werr := it.run()
		if werr != nil {
			if werr.parse {
				// The real org fails the whole call when it cannot read a
				// record's fields.
				return &failure{status: http.StatusBadRequest, errs: werr.errs}
			}
			it.result = failedResult(it.result.ID, werr)
			if c.route == "collections.create" || c.route == "collections.upsert" {
				it.result.ID = ""
			}
			continue
		}
		it.result = saveResult{ID: id, Success: true, Errors: []dmlError{}}
		if c.route == "collections.upsert" {
			cr := created
			it.result.Created = &cr
		}
	}
	out := make([]saveResult, len(items))
	for i, it := range items {
		out[i] = it.result
		if out[i].Errors == nil {
			out[i].Errors = []dmlError{}
		}
	}
	s.writeJSON(w, http.StatusOK, out)
	return nil
}

// checkAllOrNone reads every record before anything is written, so that a
// request with allOrNone fails whole when its fields cannot be read.
func (s *Server) checkAllOrNone(route string, items []pending, records []map[string]any) *failure {
	for i, rec := range records {
		if items[i].run == nil {
			continue
		}
		o, _ := s.recordObject(rec)
		var existing *memstore.Record
		if route == "collections.update" {
			cur, werr := s.existing(o, items[i].result.ID, dmlError1("INVALID_CROSS_REFERENCE_KEY", nil, "invalid cross reference id"))
			if werr != nil {
				items[i].result = failedResult(items[i].result.ID, werr)
				items[i].run = nil
				continue
			}
			existing = cur
		}
		if route == "collections.upsert" {
			continue // whether it creates is known only when it runs
		}
		if _, werr := s.prepare(o, rec, existing, func(k string) bool { return strings.EqualFold(k, "Id") && existing != nil }); werr != nil {
			if werr.parse {
				return &failure{status: http.StatusBadRequest, errs: werr.errs}
			}
			items[i].result = failedResult(items[i].result.ID, werr)
			items[i].run = nil
		}
	}
	return nil
}

// rollback answers an allOrNone request in which a record failed: nothing
// is written, the failing records show their errors and the others
// ALL_OR_NONE_OPERATION_ROLLED_BACK.
func (s *Server) rollback(w http.ResponseWriter, items []pending, _ int) *failure {
	out := make([]saveResult, len(items))
	for i, it := range items {
		if it.run == nil {
			out[i] = it.result
			continue
		}
		out[i] = saveResult{Success: false, Errors: []dmlError{{StatusCode: "ALL_OR_NONE_OPERATION_ROLLED_BACK",
			Message: "Record rolled back because not all records were valid and the request was using AllOrNone header", Fields: []string{}}}}
	}
	s.writeJSON(w, http.StatusOK, out)
	return nil
}

// recordObject finds the object of a collection record from its
// attributes.type.
func (s *Server) recordObject(rec map[string]any) (*object, *writeError) {
	attrs, _ := rec["attributes"].(map[string]any)
	typ, _ := attrs["type"].(string)
	if typ == "" {
		return nil, dmlError1("INVALID_TYPE", nil, "sObject type must be specified in attributes.type")
	}
	o, ok := s.object(typ)
	if !ok {
		return nil, dmlError1("INVALID_TYPE", nil, "sObject type '%s' is not supported.", clipText(typ, 80))
	}
	return o, nil
}

// fieldValue reads a record field, its name matched without regard to
// case.
func fieldValue(rec map[string]any, name string) (any, bool) {
	if v, ok := rec[name]; ok {
		return v, true
	}
	for k, v := range rec {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

func (s *Server) collectionDelete(w http.ResponseWriter, r *http.Request, c call) *failure {
	q := r.URL.Query()
	var ids []string
	for _, part := range strings.Split(q.Get("ids"), ",") {
		if p := strings.TrimSpace(part); p != "" {
			ids = append(ids, p)
		}
	}
	if len(ids) == 0 {
		return fail(http.StatusBadRequest, "MISSING_ARGUMENT", "ids not specified: give the ids to delete as ?ids=id1,id2")
	}
	if len(ids) > MaxCollectionSize {
		return fail(http.StatusBadRequest, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than %d records into this call", MaxCollectionSize)
	}
	allOrNone := q.Get("allOrNone") == "true"
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	type target struct {
		o   *object
		rec *memstore.Record
	}
	targets := make([]target, len(ids))
	out := make([]saveResult, len(ids))
	failed := false
	for i, raw := range ids {
		id, ok := canonicalID(raw)
		if !ok {
			out[i] = failedResult(raw, dmlError1("MALFORMED_ID", nil, "malformed id %s", clipText(raw, 80)))
			failed = true
			continue
		}
		o, ok := s.objectByPrefix(id)
		if !ok {
			out[i] = failedResult(raw, dmlError1("INVALID_CROSS_REFERENCE_KEY", nil, "invalid cross reference id"))
			failed = true
			continue
		}
		rec, werr := s.existing(o, id, dmlError1("INVALID_CROSS_REFERENCE_KEY", nil, "invalid cross reference id"))
		if werr == nil && o.NotDeletable {
			werr = dmlError1("INSUFFICIENT_ACCESS_OR_READONLY", nil, "insufficient access rights on object id")
		}
		if werr != nil {
			out[i] = failedResult(id, werr)
			failed = true
			continue
		}
		targets[i] = target{o, rec}
	}
	for i, t := range targets {
		if t.rec == nil {
			continue
		}
		if allOrNone && failed {
			out[i] = saveResult{ID: t.rec.ID, Errors: []dmlError{{StatusCode: "ALL_OR_NONE_OPERATION_ROLLED_BACK",
				Message: "Record rolled back because not all records were valid and the request was using AllOrNone header", Fields: []string{}}}}
			continue
		}
		if werr := s.recordFault(c.route); werr != nil {
			out[i] = failedResult(t.rec.ID, werr)
			continue
		}
		if werr := s.deleteRecord(t.o, t.rec); werr != nil {
			out[i] = failedResult(t.rec.ID, werr)
			continue
		}
		out[i] = saveResult{ID: t.rec.ID, Success: true, Errors: []dmlError{}}
	}
	s.writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) collectionRetrieve(w http.ResponseWriter, r *http.Request, c call) *failure {
	o, ok := s.object(c.segs[2])
	if !ok {
		return notFound()
	}
	var ids, names []string
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query()
		ids = splitList(q.Get("ids"))
		names = splitList(q.Get("fields"))
	case http.MethodPost:
		body, f := readBody(r)
		if f != nil {
			return f
		}
		var req collectionRequest
		if f := decodeJSON(body, &req); f != nil {
			return f
		}
		ids, names = req.IDs, req.Fields
	default:
		return methodNotAllowed(w, r.Method, "GET", "POST")
	}
	if len(ids) == 0 || len(names) == 0 {
		return fail(http.StatusBadRequest, "MISSING_ARGUMENT", "give both ids and fields")
	}
	if len(ids) > 2000 {
		return fail(http.StatusBadRequest, "EXCEEDED_ID_LIMIT", "cannot retrieve more than 2000 records in one call")
	}
	fields, f := selectedFields(o, strings.Join(names, ","))
	if f != nil {
		return f
	}
	b := []byte{'['}
	for i, raw := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		id, ok := canonicalID(raw)
		var rec *memstore.Record
		if ok {
			rec, _ = s.store.Get(o.Name, id, nil)
		}
		if rec == nil {
			b = append(b, "null"...)
			continue
		}
		b = s.appendRecord(b, c.version, o, rec, fields)
	}
	s.writeRaw(w, http.StatusOK, append(b, ']'))
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
