package hubspottest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/memstore"
)

// maxBatch is the most inputs an object batch endpoint takes.
const maxBatch = 100

// maxSearchResults is the most results one search query can page through.
const maxSearchResults = 10_000

// wireRecord is a record as the objects API sends it.
type wireRecord struct {
	ID                 string               `json:"id"`
	Properties         map[string]string    `json:"properties"`
	CreatedAt          string               `json:"createdAt"`
	UpdatedAt          string               `json:"updatedAt"`
	Archived           bool                 `json:"archived"`
	ArchivedAt         string               `json:"archivedAt,omitempty"`
	New                *bool                `json:"new,omitempty"`
	ObjectWriteTraceID string               `json:"objectWriteTraceId,omitempty"`
	Associations       map[string]assocPage `json:"associations,omitempty"`
}

type assocPage struct {
	Results []assocRef `json:"results"`
}

type assocRef struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

func (s *Server) objectRoute(method, typeName string, rest []string) route {
	ot, e := s.objectType(typeName)
	if e != nil {
		return route{handle: func(http.ResponseWriter, *http.Request) *apiError { return e }}
	}
	switch {
	case len(rest) == 0 && method == http.MethodGet:
		return route{handle: func(w http.ResponseWriter, r *http.Request) *apiError { return s.list(w, r, ot) }}
	case len(rest) == 0 && method == http.MethodPost:
		return route{handle: func(w http.ResponseWriter, r *http.Request) *apiError { return s.createOne(w, r, ot) }}
	case len(rest) == 1 && rest[0] == "search" && method == http.MethodPost:
		return route{handle: func(w http.ResponseWriter, r *http.Request) *apiError { return s.search(w, r, ot) }, search: true}
	case len(rest) == 2 && rest[0] == "batch" && method == http.MethodPost:
		op := rest[1]
		return route{handle: func(w http.ResponseWriter, r *http.Request) *apiError { return s.batch(w, r, ot, op) }}
	case len(rest) >= 3 && rest[1] == "associations":
		// /crm/objects/2026-03/{t}/{id}/associations/...: the dated form of
		// the v4 per-record association routes.
		return s.assocRoute(method, typeName, rest[0], rest[2:])
	case len(rest) == 1:
		id := rest[0]
		switch method {
		case http.MethodGet:
			return route{handle: func(w http.ResponseWriter, r *http.Request) *apiError { return s.getOne(w, r, ot, id) }}
		case http.MethodPatch:
			return route{handle: func(w http.ResponseWriter, r *http.Request) *apiError { return s.updateOne(w, r, ot, id) }}
		case http.MethodDelete:
			return route{handle: func(w http.ResponseWriter, r *http.Request) *apiError { return s.archiveOne(w, r, ot, id) }}
		}
		return methodNotAllowed(method)
	}
	return route{handle: func(http.ResponseWriter, *http.Request) *apiError {
		return newError(http.StatusNotFound, catNotFound, "No route for %s %s/%s", method, ot.name, strings.Join(rest, "/"))
	}}
}

// propertyList reads a properties parameter in both forms real clients
// send: repeated (properties=a&properties=b) and comma-joined
// (properties=a,b), or a mixture.
func propertyList(q url.Values, key string) []string {
	vals, ok := q[key]
	if !ok {
		return nil
	}
	out := []string{}
	for _, v := range vals {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// selection resolves requested property names to those the type has
// (unknown names are ignored, as HubSpot ignores them), or the type's
// defaults when none were asked for, plus the properties every record
// carries.
func (ot *objectType) selection(requested []string) []string {
	want := requested
	if requested == nil {
		want = ot.defaults
	}
	out := slices.Clone(ot.alwaysReturned())
	for _, p := range want {
		if _, ok := ot.byName[p]; ok && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// render turns a stored record into its wire form, with the properties in
// show that have a value. Empty properties are left out, which the API
// allows.
func (ot *objectType) render(rec *memstore.Record, show []string) wireRecord {
	w := wireRecord{
		ID:         rec.ID,
		Properties: make(map[string]string, len(show)),
		CreatedAt:  formatTime(rec.Created),
		UpdatedAt:  formatTime(rec.Modified),
		Archived:   rec.Deleted,
	}
	if rec.Deleted {
		w.ArchivedAt = formatTime(rec.Modified)
	}
	for _, name := range show {
		if s, ok := formatValue(rec.Fields[name]); ok {
			w.Properties[name] = s
		}
	}
	return w
}

func boolParam(q url.Values, key string) (bool, *apiError) {
	v := q.Get(key)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest("%s must be true or false, got %q", key, clip(v))
	}
	return b, nil
}

// list serves GET /objects/{t}: pages in id order, after the `after`
// cursor, which is the id of the first record of the next page.
func (s *Server) list(w http.ResponseWriter, r *http.Request, ot *objectType) *apiError {
	q := r.URL.Query()
	limit := 10
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return badRequest("limit must be a positive whole number, got %q", clip(v))
		}
		limit = min(n, 100)
	}
	archived, e := boolParam(q, "archived")
	if e != nil {
		return e
	}
	var after *memstore.Position
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 {
			return badRequest("after must be the paging.next.after of a previous page, got %q", clip(v))
		}
		after = &memstore.Position{ID: strconv.FormatUint(n-1, 10)}
	}
	show := ot.selection(propertyList(q, "properties"))
	assocTypes := propertyList(q, "associations")
	var recs []*memstore.Record
	for {
		res, err := s.store.Query(memstore.Query{Object: ot.name, Fields: show, After: after, Limit: limit + 1, IncludeDeleted: archived})
		if err != nil {
			return ot.fromStore(err)
		}
		for _, rec := range res.Records {
			if rec.Deleted == archived {
				recs = append(recs, rec)
			}
		}
		if len(recs) > limit || res.Next == nil {
			break
		}
		after = res.Next
	}
	out := struct {
		Results []wireRecord `json:"results"`
		Paging  *paging      `json:"paging,omitempty"`
	}{Results: []wireRecord{}}
	if len(recs) > limit {
		next := recs[limit].ID
		recs = recs[:limit]
		link := *r.URL
		lq := link.Query()
		lq.Set("after", next)
		link.RawQuery = lq.Encode()
		out.Paging = &paging{Next: &pagingNext{After: next, Link: "http://" + r.Host + link.RequestURI()}}
	}
	for _, rec := range recs {
		wr := ot.render(rec, show)
		s.addAssociations(&wr, ot, assocTypes)
		out.Results = append(out.Results, wr)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type paging struct {
	Next *pagingNext `json:"next,omitempty"`
}

type pagingNext struct {
	After string `json:"after"`
	Link  string `json:"link,omitempty"`
}

// find reads one record by id, or by a unique property's value; archived
// selects archived records only.
func (s *Server) find(ot *objectType, id, idProperty string, archived bool, read []string) (*memstore.Record, *apiError) {
	if idProperty == "" || idProperty == "hs_object_id" {
		if !archived {
			rec, err := s.store.Get(ot.name, id, read)
			if err != nil {
				var ce *crm.Error
				if errors.As(err, &ce) && ce.Kind == crm.KindNotFound {
					return nil, notFound(id)
				}
				return nil, ot.fromStore(err)
			}
			return rec, nil
		}
		idProperty = "hs_object_id"
	}
	p, ok := ot.prop(idProperty)
	if !ok || !(ot.unique(p) || p.Name == "hs_object_id") {
		return nil, badRequest("%s is not a unique property of %s, so it cannot be an idProperty", clip(idProperty), ot.name)
	}
	res, err := s.store.Query(memstore.Query{Object: ot.name, Fields: read, Where: crm.Eq(p.Name, id), IncludeDeleted: archived})
	if err != nil {
		return nil, notFound(id)
	}
	for _, rec := range res.Records {
		if rec.Deleted == archived {
			return rec, nil
		}
	}
	return nil, notFound(id)
}

func (s *Server) getOne(w http.ResponseWriter, r *http.Request, ot *objectType, id string) *apiError {
	q := r.URL.Query()
	archived, e := boolParam(q, "archived")
	if e != nil {
		return e
	}
	show := ot.selection(propertyList(q, "properties"))
	rec, e := s.find(ot, id, q.Get("idProperty"), archived, show)
	if e != nil {
		return e
	}
	wr := ot.render(rec, show)
	s.addAssociations(&wr, ot, propertyList(q, "associations"))
	writeJSON(w, http.StatusOK, wr)
	return nil
}

// decode reads a JSON body into v.
func decode(r *http.Request, v any) *apiError {
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		return badRequest("reading the request body: %v", err)
	}
	d := json.NewDecoder(strings.NewReader(string(body)))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return badRequest("Invalid input JSON: %v", err)
	}
	return nil
}

// wireProps are the properties of a write, as sent: strings mostly, but
// clients also send numbers, booleans and nulls.
type wireProps map[string]any

// readOnlyProp reports whether the API refuses writes to a property.
func (ot *objectType) readOnlyProp(p *Property) bool {
	return p.ReadOnlyValue || p.Calculated || p.Name == ot.modProp || p.Name == ot.createdBy || p.Name == "hs_object_id"
}

// check validates the properties of a write and converts them for memstore.
// A null value is accepted and changes nothing; "" clears.
func (ot *objectType) check(in wireProps, create bool) (crm.Fields, []propError) {
	out := crm.Fields{}
	var errs []propError
	names := make([]string, 0, len(in))
	for k := range in {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, name := range names {
		v := in[name]
		p, ok := ot.prop(name)
		if !ok {
			errs = append(errs, propError{name: name, code: "PROPERTY_DOESNT_EXIST", message: fmt.Sprintf("Property %q does not exist", clip(name))})
			continue
		}
		if ot.readOnlyProp(p) {
			errs = append(errs, propError{name: name, code: "READ_ONLY_VALUE", message: fmt.Sprintf("%q is a read only property; its value cannot be set.", name)})
			continue
		}
		var raw string
		switch x := v.(type) {
		case nil:
			continue
		case string:
			raw = x
		case json.Number:
			raw = x.String()
		case bool:
			raw = strconv.FormatBool(x)
		default:
			errs = append(errs, propError{name: name, code: "INVALID_VALUE", message: fmt.Sprintf("the value of %q must be a string, number or boolean", name)})
			continue
		}
		val, pe := parseValue(p, raw)
		if pe != nil {
			errs = append(errs, *pe)
			continue
		}
		out[name] = val
	}
	if create {
		errs = append(errs, ot.missing(out)...)
	}
	return out, errs
}

// missing reports the required properties a create leaves out.
func (ot *objectType) missing(vals crm.Fields) []propError {
	var errs []propError
	for _, group := range ot.required {
		if slices.ContainsFunc(group, func(p string) bool { return vals[p] != nil }) {
			continue
		}
		msg := fmt.Sprintf("Required property %q was not set", group[0])
		if len(group) > 1 {
			msg = fmt.Sprintf("At least one of %s is required", strings.Join(group, ", "))
		}
		errs = append(errs, propError{name: group[0], code: "REQUIRED_PROPERTY", message: msg})
	}
	return errs
}

// conflict is HubSpot's 409 for a unique value already taken.
func (s *Server) conflict(ot *objectType, err error, vals crm.Fields) *apiError {
	var ce *crm.Error
	if !errors.As(err, &ce) || ce.Kind != crm.KindDuplicate || len(ce.Fields) == 0 {
		return ot.fromStore(err)
	}
	prop := ce.Fields[0]
	existing := ""
	if v := vals[prop]; v != nil {
		if res, qerr := s.store.Query(memstore.Query{Object: ot.name, Where: crm.Eq(prop, v), Limit: 1, Fields: []string{"hs_object_id"}}); qerr == nil && len(res.Records) > 0 {
			existing = res.Records[0].ID
		}
	}
	if ot.name == "contacts" && prop == "email" {
		e := newError(http.StatusConflict, catConflict, "Contact already exists. Existing ID: %s", existing)
		return e
	}
	e := newError(http.StatusConflict, catConflict, "A %s with %s %q already exists. Existing ID: %s", ot.singular, prop, fmt.Sprint(vals[prop]), existing)
	e.Context = map[string]any{"propertyName": []string{prop}}
	return e
}

func (s *Server) createOne(w http.ResponseWriter, r *http.Request, ot *objectType) *apiError {
	var body struct {
		Properties   wireProps     `json:"properties"`
		Associations []assocCreate `json:"associations"`
	}
	if e := decode(r, &body); e != nil {
		return e
	}
	s.beginWrite()
	defer s.endWrite()
	vals, errs := ot.check(body.Properties, true)
	if len(errs) > 0 {
		return invalidProperties(errs)
	}
	if e := s.checkAssocCreate(ot, body.Associations); e != nil {
		return e
	}
	rec, err := s.store.Create(ot.name, vals)
	if err != nil {
		return s.conflict(ot, err, vals)
	}
	s.applyAssocCreate(ot, rec.ID, body.Associations)
	writeJSON(w, http.StatusCreated, ot.render(rec, written(ot, body.Properties)))
	return nil
}

// written lists the properties a write response shows: those written and
// those every record carries.
func written(ot *objectType, in wireProps) []string {
	out := slices.Clone(ot.alwaysReturned())
	for k := range in {
		if _, ok := ot.byName[k]; ok && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

func (s *Server) updateOne(w http.ResponseWriter, r *http.Request, ot *objectType, id string) *apiError {
	var body struct {
		Properties wireProps `json:"properties"`
	}
	if e := decode(r, &body); e != nil {
		return e
	}
	s.beginWrite()
	defer s.endWrite()
	if idp := r.URL.Query().Get("idProperty"); idp != "" {
		rec, e := s.find(ot, id, idp, false, []string{"hs_object_id"})
		if e != nil {
			return e
		}
		id = rec.ID
	}
	vals, errs := ot.check(body.Properties, false)
	if len(errs) > 0 {
		return invalidProperties(errs)
	}
	rec, err := s.store.Update(ot.name, id, vals)
	if err != nil {
		var ce *crm.Error
		if errors.As(err, &ce) && ce.Kind == crm.KindNotFound {
			return notFound(id)
		}
		return s.conflict(ot, err, vals)
	}
	writeJSON(w, http.StatusOK, ot.render(rec, written(ot, body.Properties)))
	return nil
}

// archiveOne answers 204 whether or not the record exists, as HubSpot does.
func (s *Server) archiveOne(w http.ResponseWriter, _ *http.Request, ot *objectType, id string) *apiError {
	s.beginWrite()
	defer s.endWrite()
	if _, err := s.store.Delete(ot.name, id); err == nil {
		s.assoc.dropRecord(ot.name, id)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// batchInput is one input of a batch endpoint.
type batchInput struct {
	ID                 string        `json:"id"`
	IDProperty         string        `json:"idProperty"`
	Properties         wireProps     `json:"properties"`
	ObjectWriteTraceID string        `json:"objectWriteTraceId"`
	Associations       []assocCreate `json:"associations"`
}

type batchRequest struct {
	Inputs     []batchInput `json:"inputs"`
	Properties []string     `json:"properties"`
	IDProperty string       `json:"idProperty"`
}

// batchResponse is the envelope of every batch endpoint; numErrors and
// errors appear only with a 207.
type batchResponse struct {
	Status      string       `json:"status"`
	Results     []wireRecord `json:"results"`
	NumErrors   int          `json:"numErrors,omitempty"`
	Errors      []*apiError  `json:"errors,omitempty"`
	RequestedAt string       `json:"requestedAt,omitempty"`
	StartedAt   string       `json:"startedAt"`
	CompletedAt string       `json:"completedAt"`
}

func (s *Server) batch(w http.ResponseWriter, r *http.Request, ot *objectType, op string) *apiError {
	var req batchRequest
	if e := decode(r, &req); e != nil {
		return e
	}
	if len(req.Inputs) > maxBatch {
		e := badRequest("Batch input limit exceeded: %d inputs were sent, and the maximum is %d.", len(req.Inputs), maxBatch)
		return e
	}
	started := time.Now().UTC()
	resp := &batchResponse{Status: "COMPLETE", Results: []wireRecord{}, StartedAt: formatTime(started)}
	var e *apiError
	switch op {
	case "read":
		e = s.batchRead(r, ot, &req, resp)
	case "create":
		e = s.batchCreate(ot, &req, resp)
	case "update":
		e = s.batchUpdate(ot, &req, resp)
	case "upsert":
		e = s.batchUpsert(ot, &req, resp)
	case "archive":
		if e = s.batchArchive(ot, &req); e == nil {
			w.WriteHeader(http.StatusNoContent)
		}
		return e
	default:
		return newError(http.StatusNotFound, catNotFound, "No batch operation %q: use read, create, update, upsert or archive", clip(op))
	}
	if e != nil {
		return e
	}
	// HubSpot does not promise results in input order, and neither does
	// the emulator: they come back in reverse, so a client that relies on
	// the order finds out here rather than in production.
	slices.Reverse(resp.Results)
	resp.CompletedAt = formatTime(time.Now().UTC())
	status := http.StatusOK
	if op == "create" {
		status = http.StatusCreated
	}
	if len(resp.Errors) > 0 {
		resp.NumErrors = len(resp.Errors)
		status = http.StatusMultiStatus
	}
	writeJSON(w, status, resp)
	return nil
}

// duplicateIDs refuses a batch that names a record twice.
func duplicateIDs(inputs []batchInput) *apiError {
	seen := map[string]bool{}
	var dups []string
	for _, in := range inputs {
		key := in.IDProperty + "\x00" + in.ID
		if seen[key] && !slices.Contains(dups, in.ID) {
			dups = append(dups, in.ID)
		}
		seen[key] = true
	}
	if len(dups) == 0 {
		return nil
	}
	e := badRequest("Duplicate IDs found in batch input: [%s]. IDs must be unique", strings.Join(dups, ", "))
	e.Context = map[string]any{"ids": dups}
	return e
}

// traced reports whether every input carries a distinct objectWriteTraceId,
// which lets a create or update batch fail input by input (207) instead of
// as a whole (400).
func traced(inputs []batchInput) bool {
	seen := map[string]bool{}
	for _, in := range inputs {
		if in.ObjectWriteTraceID == "" || seen[in.ObjectWriteTraceID] {
			return false
		}
		seen[in.ObjectWriteTraceID] = true
	}
	return len(inputs) > 0
}

// inputError is the error of one input of a traced batch.
func inputError(e *apiError, in batchInput) *apiError {
	c := *e
	c.CorrelationID = ""
	c.httpStatus = 0
	if in.ObjectWriteTraceID != "" {
		c.Context = map[string]any{"objectWriteTraceId": []string{in.ObjectWriteTraceID}}
	} else {
		c.Context = map[string]any{"ids": []string{in.ID}}
	}
	return &c
}

func (ot *objectType) notFoundGroup(ids []string) *apiError {
	return &apiError{Status: "error", Category: catNotFound,
		Message: fmt.Sprintf("Could not get some %s objects, they may be deleted or not exist. Check that ids are valid.", ot.upper),
		Context: map[string]any{"ids": ids}}
}

func (s *Server) batchRead(r *http.Request, ot *objectType, req *batchRequest, resp *batchResponse) *apiError {
	archived, e := boolParam(r.URL.Query(), "archived")
	if e != nil {
		return e
	}
	if e := duplicateIDs(req.Inputs); e != nil {
		return e
	}
	show := ot.selection(req.Properties)
	var missing []string
	for _, in := range req.Inputs {
		rec, e := s.find(ot, in.ID, req.IDProperty, archived, show)
		if e != nil {
			missing = append(missing, in.ID)
			continue
		}
		resp.Results = append(resp.Results, ot.render(rec, show))
	}
	if len(missing) > 0 {
		resp.Errors = append(resp.Errors, ot.notFoundGroup(missing))
	}
	return nil
}

func (s *Server) batchCreate(ot *objectType, req *batchRequest, resp *batchResponse) *apiError {
	s.beginWrite()
	defer s.endWrite()
	partial := traced(req.Inputs)
	vals := make([]crm.Fields, len(req.Inputs))
	bad := make([]*apiError, len(req.Inputs))
	for i, in := range req.Inputs {
		v, errs := ot.check(in.Properties, true)
		switch {
		case len(errs) > 0:
			bad[i] = invalidProperties(errs)
		default:
			bad[i] = s.checkAssocCreate(ot, in.Associations)
		}
		if bad[i] != nil && !partial {
			return bad[i]
		}
		vals[i] = v
	}
	if !partial {
		// All or nothing: refuse the batch before writing anything if a
		// unique value is taken, or repeated within the batch.
		if e := s.uniqueClash(ot, vals); e != nil {
			return e
		}
	}
	for i, in := range req.Inputs {
		if bad[i] != nil {
			resp.Errors = append(resp.Errors, inputError(bad[i], in))
			continue
		}
		rec, err := s.store.Create(ot.name, vals[i])
		if err != nil {
			resp.Errors = append(resp.Errors, inputError(s.conflict(ot, err, vals[i]), in))
			continue
		}
		s.applyAssocCreate(ot, rec.ID, in.Associations)
		wr := ot.render(rec, written(ot, in.Properties))
		wr.ObjectWriteTraceID = in.ObjectWriteTraceID
		resp.Results = append(resp.Results, wr)
	}
	return nil
}

// uniqueClash finds a unique value that the creates would repeat.
func (s *Server) uniqueClash(ot *objectType, vals []crm.Fields) *apiError {
	seen := map[string]bool{}
	for _, v := range vals {
		for _, p := range ot.props {
			if !ot.unique(p) || v[p.Name] == nil {
				continue
			}
			key := p.Name + "\x00" + strings.ToLower(fmt.Sprint(v[p.Name]))
			if seen[key] {
				return badRequest("Duplicate values found in batch input for unique property %s", p.Name)
			}
			seen[key] = true
			res, err := s.store.Query(memstore.Query{Object: ot.name, Where: crm.Eq(p.Name, v[p.Name]), Limit: 1, Fields: []string{"hs_object_id"}})
			if err == nil && len(res.Records) > 0 {
				return s.conflict(ot, &crm.Error{Kind: crm.KindDuplicate, Fields: []string{p.Name}}, v)
			}
		}
	}
	return nil
}

func (s *Server) batchUpdate(ot *objectType, req *batchRequest, resp *batchResponse) *apiError {
	if e := duplicateIDs(req.Inputs); e != nil {
		return e
	}
	s.beginWrite()
	defer s.endWrite()
	partial := traced(req.Inputs)
	vals := make([]crm.Fields, len(req.Inputs))
	ids := make([]string, len(req.Inputs))
	bad := make([]*apiError, len(req.Inputs))
	var missing []string
	for i, in := range req.Inputs {
		ids[i] = in.ID
		if in.IDProperty != "" && in.IDProperty != "hs_object_id" {
			rec, e := s.find(ot, in.ID, in.IDProperty, false, []string{"hs_object_id"})
			if e != nil && e.httpStatus != http.StatusNotFound {
				return e
			}
			if rec != nil {
				ids[i] = rec.ID
			}
		}
		v, errs := ot.check(in.Properties, false)
		if len(errs) > 0 {
			bad[i] = invalidProperties(errs)
			if !partial {
				return bad[i]
			}
		}
		vals[i] = v
	}
	for i, in := range req.Inputs {
		if bad[i] != nil {
			resp.Errors = append(resp.Errors, inputError(bad[i], in))
			continue
		}
		rec, err := s.store.Update(ot.name, ids[i], vals[i])
		if err != nil {
			var ce *crm.Error
			if errors.As(err, &ce) && ce.Kind == crm.KindNotFound {
				missing = append(missing, in.ID)
				continue
			}
			resp.Errors = append(resp.Errors, inputError(s.conflict(ot, err, vals[i]), in))
			continue
		}
		wr := ot.render(rec, written(ot, in.Properties))
		wr.ObjectWriteTraceID = in.ObjectWriteTraceID
		resp.Results = append(resp.Results, wr)
	}
	if len(missing) > 0 {
		resp.Errors = append(resp.Errors, ot.notFoundGroup(missing))
	}
	return nil
}

// batchUpsert creates or updates by a unique property. With idProperty
// email on contacts the batch is all or nothing, as HubSpot documents.
func (s *Server) batchUpsert(ot *objectType, req *batchRequest, resp *batchResponse) *apiError {
	if e := duplicateIDs(req.Inputs); e != nil {
		return e
	}
	s.beginWrite()
	defer s.endWrite()
	type prepared struct {
		key  *Property
		kval any
		vals crm.Fields
	}
	preps := make([]prepared, len(req.Inputs))
	bad := make([]*apiError, len(req.Inputs))
	byEmail := false
	for i, in := range req.Inputs {
		idp := in.IDProperty
		if idp == "" {
			idp = req.IDProperty
		}
		p, ok := ot.prop(idp)
		if !ok || !ot.unique(p) {
			bad[i] = badRequest("idProperty %q is not a unique property of %s: upserts need a property with hasUniqueValue", clip(idp), ot.name)
			continue
		}
		if ot.name == "contacts" && p.Name == "email" {
			byEmail = true
		}
		kval, pe := parseValue(p, in.ID)
		if pe != nil || kval == nil {
			if pe == nil {
				pe = &propError{name: p.Name, code: "INVALID_VALUE", message: "the id of an upsert input is empty"}
			}
			bad[i] = invalidProperties([]propError{*pe})
			continue
		}
		v, errs := ot.check(in.Properties, false)
		if len(errs) > 0 {
			bad[i] = invalidProperties(errs)
			continue
		}
		preps[i] = prepared{key: p, kval: kval, vals: v}
	}
	if byEmail {
		for _, e := range bad {
			if e != nil {
				return e
			}
		}
	}
	for i, in := range req.Inputs {
		if bad[i] != nil {
			resp.Errors = append(resp.Errors, inputError(bad[i], in))
			continue
		}
		p := preps[i]
		if len(ot.required) > 0 && len(ot.missing(p.vals)) > 0 {
			// A create would lack required properties: find out whether
			// this upsert creates before writing anything.
			res, err := s.store.Query(memstore.Query{Object: ot.name, Where: crm.Eq(p.key.Name, p.kval), Limit: 1, Fields: []string{"hs_object_id"}})
			if err == nil && len(res.Records) == 0 {
				withKey := p.vals.Clone()
				withKey[p.key.Name] = p.kval
				if errs := ot.missing(withKey); len(errs) > 0 {
					resp.Errors = append(resp.Errors, inputError(invalidProperties(errs), in))
					continue
				}
			}
		}
		rec, created, err := s.store.Upsert(ot.name, p.key.Name, p.kval, p.vals)
		if err != nil {
			resp.Errors = append(resp.Errors, inputError(s.conflict(ot, err, p.vals), in))
			continue
		}
		wr := ot.render(rec, append(written(ot, in.Properties), p.key.Name))
		wr.New = &created
		wr.ObjectWriteTraceID = in.ObjectWriteTraceID
		resp.Results = append(resp.Results, wr)
	}
	return nil
}

// batchArchive archives every input that exists and answers 204 either way.
func (s *Server) batchArchive(ot *objectType, req *batchRequest) *apiError {
	if e := duplicateIDs(req.Inputs); e != nil {
		return e
	}
	s.beginWrite()
	defer s.endWrite()
	for _, in := range req.Inputs {
		if _, err := s.store.Delete(ot.name, in.ID); err == nil {
			s.assoc.dropRecord(ot.name, in.ID)
		}
	}
	return nil
}

// Seed creates records directly, without a request: no rate limit, no
// request log. Each record's properties are checked as a create's would
// be; the first failure stops the seeding and is returned with the ids made
// so far. Seed is for fixtures, such as the 10,000 records a test of
// search's result cap needs.
func (s *Server) Seed(objectType string, records ...map[string]string) ([]string, error) {
	ot, e := s.objectType(objectType)
	if e != nil {
		return nil, e
	}
	s.beginWrite()
	defer s.endWrite()
	ids := make([]string, 0, len(records))
	for i, props := range records {
		in := make(wireProps, len(props))
		for k, v := range props {
			in[k] = v
		}
		vals, errs := ot.check(in, true)
		if len(errs) > 0 {
			return ids, fmt.Errorf("hubspottest: Seed(%s) record %d: %w", ot.name, i, invalidProperties(errs))
		}
		rec, err := s.store.Create(ot.name, vals)
		if err != nil {
			return ids, fmt.Errorf("hubspottest: Seed(%s) record %d: %w", ot.name, i, s.conflict(ot, err, vals))
		}
		ids = append(ids, rec.ID)
	}
	return ids, nil
}
