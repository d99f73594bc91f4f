package salesforcetest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/crmkit/crmkit/internal/memstore"
)

// decodeObject reads a JSON object body, keeping numbers exact.
func decodeObject(b []byte) (map[string]any, *failure) {
	var m map[string]any
	if err := decodeJSON(b, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fail(http.StatusBadRequest, "JSON_PARSER_ERROR", "The request body is empty or not a JSON object")
	}
	return m, nil
}

func decodeJSON(b []byte, v any) *failure {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		line, col := 1, 1
		var off int64 = -1
		switch e := err.(type) {
		case *json.SyntaxError:
			off = e.Offset
		case *json.UnmarshalTypeError:
			off = e.Offset
		}
		if off >= 0 {
			for _, c := range b[:min(int(off), len(b))] {
				col++
				if c == '\n' {
					line, col = line+1, 1
				}
			}
		}
		return fail(http.StatusBadRequest, "JSON_PARSER_ERROR", "Unexpected character or value in the request body (%s) at [line:%d, column:%d]", jsonProblem(err), line, col)
	}
	return nil
}

func jsonProblem(err error) string {
	msg := err.Error()
	return strings.TrimPrefix(msg, "json: ")
}

// writeFailed answers a failed single-record write.
func (s *Server) writeFailed(w http.ResponseWriter, werr *writeError) {
	status := http.StatusBadRequest
	switch werr.errs[0].Code {
	case "ENTITY_IS_DELETED", "NOT_FOUND":
		status = http.StatusNotFound
	}
	s.writeErrors(w, status, werr.errs...)
}

type saveResult struct {
	ID      string     `json:"id,omitempty"`
	Success bool       `json:"success"`
	Errors  []dmlError `json:"errors"`
	Created *bool      `json:"created,omitempty"`
}

func apiVersionAtLeast(v string, min float64) bool {
	f, err := strconv.ParseFloat(v, 64)
	return err == nil && f >= min
}

// recordID checks an id from a URL or a body for an object: its canonical
// 18-character form, or MALFORMED_ID.
func recordID(o *object, id string) (string, *failure) {
	c, ok := canonicalID(id)
	if !ok || (o != nil && c[:3] != o.KeyPrefix) {
		label := "Record"
		if o != nil {
			label = o.Label
		}
		return "", failFields(http.StatusBadRequest, "MALFORMED_ID", []string{"Id"}, "%s ID: id value of incorrect type: %s", label, clipText(id, 80))
	}
	return c, nil
}

func (s *Server) serveSObject(w http.ResponseWriter, r *http.Request, c call) *failure {
	o, ok := s.object(c.segs[1])
	if !ok {
		return notFound()
	}
	switch c.route {
	case "sobject.create":
		body, f := readBody(r)
		if f != nil {
			return f
		}
		in, f := decodeObject(body)
		if f != nil {
			return f
		}
		s.writeMu.Lock()
		id, werr := s.createRecord(o, in)
		s.writeMu.Unlock()
		if werr != nil {
			s.writeFailed(w, werr)
			return nil
		}
		w.Header().Set("Location", "/services/data/v"+c.version+"/sobjects/"+o.Name+"/"+id)
		s.writeJSON(w, http.StatusCreated, saveResult{ID: id, Success: true, Errors: []dmlError{}})
		return nil

	case "sobject.get":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return methodNotAllowed(w, r.Method, "GET", "PATCH", "DELETE", "HEAD")
		}
		raw := c.segs[2]
		if !looksLikeID(raw) {
			return fail(http.StatusNotFound, "NOT_FOUND", "Provided external ID field does not exist or is not accessible: %s", clipText(raw, 80))
		}
		id, f := recordID(o, raw)
		if f != nil {
			return f
		}
		fields, f := selectedFields(o, r.URL.Query().Get("fields"))
		if f != nil {
			return f
		}
		rec, err := s.store.Get(o.Name, id, nil)
		if err != nil {
			return notFound()
		}
		s.writeRaw(w, http.StatusOK, s.appendRecord(nil, c.version, o, rec, fields))
		return nil

	case "sobject.update", "sobject.delete":
		id, f := recordID(o, c.segs[2])
		if f != nil {
			return f
		}
		var in map[string]any
		if c.route == "sobject.update" {
			body, f := readBody(r)
			if f != nil {
				return f
			}
			if in, f = decodeObject(body); f != nil {
				return f
			}
		}
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
		rec, werr := s.existing(o, id, &writeError{errs: []apiError{{Code: "NOT_FOUND", Message: "The requested resource does not exist"}}})
		if werr == nil {
			if c.route == "sobject.update" {
				werr = s.updateRecord(o, rec, in, func(k string) bool { return strings.EqualFold(k, "Id") && in[k] == id })
			} else {
				werr = s.deleteRecord(o, rec)
			}
		}
		if werr != nil {
			s.writeFailed(w, werr)
			return nil
		}
		w.WriteHeader(http.StatusNoContent)
		return nil

	case "sobject.getByExternalId", "sobject.upsert", "sobject.deleteByExternalId":
		ext, ok := o.field(c.segs[2])
		if !ok || !(ext.ExternalID || ext.Type == "id") {
			return fail(http.StatusNotFound, "NOT_FOUND", "Provided external ID field does not exist or is not accessible: %s", clipText(c.segs[2], 80))
		}
		value := c.segs[3]
		if ext.Type == "id" {
			return fail(http.StatusBadRequest, "INVALID_FIELD", "Id is not an external id field: use the record's own URL, /sobjects/%s/{id}", o.Name)
		}
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
		key, perr := fromJSON(ext, value)
		if perr != nil {
			return &failure{status: http.StatusBadRequest, errs: []apiError{*perr}}
		}
		ids := s.indexLookup(o, ext.Name, key)
		switch c.route {
		case "sobject.getByExternalId":
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				return methodNotAllowed(w, r.Method, "GET", "PATCH", "DELETE", "HEAD")
			}
			if len(ids) > 1 {
				return s.multipleChoices(w, c.version, o, ids)
			}
			if len(ids) == 0 {
				return notFound()
			}
			rec, err := s.store.Get(o.Name, ids[0], nil)
			if err != nil {
				return notFound()
			}
			fields, f := selectedFields(o, r.URL.Query().Get("fields"))
			if f != nil {
				return f
			}
			s.writeRaw(w, http.StatusOK, s.appendRecord(nil, c.version, o, rec, fields))
			return nil
		case "sobject.deleteByExternalId":
			if len(ids) > 1 {
				return s.multipleChoices(w, c.version, o, ids)
			}
			if len(ids) == 0 {
				return notFound()
			}
			rec, werr := s.existing(o, ids[0], &writeError{errs: []apiError{{Code: "NOT_FOUND", Message: "The requested resource does not exist"}}})
			if werr == nil {
				werr = s.deleteRecord(o, rec)
			}
			if werr != nil {
				s.writeFailed(w, werr)
				return nil
			}
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		// Upsert.
		body, f := readBody(r)
		if f != nil {
			return f
		}
		in, f := decodeObject(body)
		if f != nil {
			return f
		}
		if len(ids) == 0 && r.URL.Query().Get("updateOnly") == "true" {
			return notFound()
		}
		id, created, matches, werr := s.upsertRecord(o, ext, value, in)
		if matches != nil {
			return s.multipleChoices(w, c.version, o, matches)
		}
		if werr != nil {
			s.writeFailed(w, werr)
			return nil
		}
		switch {
		case created:
			t := true
			s.writeJSON(w, http.StatusCreated, saveResult{ID: id, Success: true, Errors: []dmlError{}, Created: &t})
		case apiVersionAtLeast(c.version, 46):
			f := false
			s.writeJSON(w, http.StatusOK, saveResult{ID: id, Success: true, Errors: []dmlError{}, Created: &f})
		default:
			w.WriteHeader(http.StatusNoContent)
		}
		return nil
	}
	return notFound()
}

// multipleChoices is the 300 answer when several records share an
// external id: the list of their URLs.
func (s *Server) multipleChoices(w http.ResponseWriter, version string, o *object, ids []string) *failure {
	urls := make([]string, len(ids))
	for i, id := range ids {
		urls[i] = "/services/data/v" + version + "/sobjects/" + o.Name + "/" + id
	}
	s.writeJSON(w, http.StatusMultipleChoices, urls)
	return nil
}

// selectedFields resolves a fields= parameter; empty means every field.
func selectedFields(o *object, param string) ([]*field, *failure) {
	if strings.TrimSpace(param) == "" {
		return o.fields, nil
	}
	idf, _ := o.field("Id")
	out := []*field{idf} // Salesforce always returns the id
	for _, name := range strings.Split(param, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		f, ok := o.field(name)
		if !ok {
			return nil, fail(http.StatusBadRequest, "INVALID_FIELD", "No such column '%s' on entity '%s'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.", name, o.Name)
		}
		if f != idf {
			out = append(out, f)
		}
	}
	return out, nil
}

// appendRecord renders a record as Salesforce does: attributes first, then
// the fields in the order asked for, under their own names.
func (s *Server) appendRecord(b []byte, version string, o *object, rec *memstore.Record, fields []*field) []byte {
	b = append(b, `{"attributes":{"type":`...)
	b = appendString(b, o.Name)
	b = append(b, `,"url":`...)
	b = appendString(b, "/services/data/v"+version+"/sobjects/"+o.Name+"/"+rec.ID)
	b = append(b, '}')
	for _, f := range fields {
		b = append(b, ',')
		b = appendString(b, f.Name)
		b = append(b, ':')
		if f.virtual {
			b = appendValue(b, rec.Deleted)
			continue
		}
		b = appendValue(b, rec.Fields[f.Name])
	}
	return append(b, '}')
}
