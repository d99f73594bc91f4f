package salesforce

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/crmkit/crmkit/crm"
)

// Write applies up to MaxBatchSize writes to one object through sObject
// Collections, with allOrNone false, so that each record succeeds or fails
// on its own. Runs of consecutive writes of one operation (and, for
// upserts, one external-id field) go in one call each, in order: a batch of
// creates is one POST, of upserts one PATCH to
// /composite/sobjects/{object}/{field}, of deletes one DELETE.
//
// A request of exactly one write uses the single-record form instead, as
// Salesforce documents for one record: POST /sobjects/{object}, PATCH or
// DELETE /sobjects/{object}/{id}, PATCH /sobjects/{object}/{field}/{value}.
// It is one call either way, but the single-record forms also work where
// an org's profile or gateway restricts Collections, and an upsert answers
// with the exact outcome: 201 created, 200 updated, or 300 when several
// records hold the key, which is reported as crm.KindDuplicate naming the
// field and the number of matches. The one exception is an upsert whose
// key holds '.', '/' or '\': Salesforce can misread such a value in a URL
// path (a suffix like ".inc" is taken for a file extension, and the call
// fails with 404), so it goes through Collections, which carries the key in
// the body. Results have the same shape from either form.
//
// Each write is first checked against the object's describe, so that an
// unknown field, a field the integration user may not set, or a value of
// the wrong type fails that write alone, naming the field, and costs no
// call. Write.IfVersion is not supported (see Info).
func (d *Driver) Write(ctx context.Context, req crm.WriteRequest) ([]crm.WriteResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: write %s: %w", Name, req.Object, err)
	}
	if len(req.Writes) > MaxBatchSize {
		return nil, &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: "write", Object: req.Object,
			Message: fmt.Sprintf("the batch has %d writes, more than the %d sObject Collections takes: split it, or use crm.Client.Write, which splits for you", len(req.Writes), MaxBatchSize)}
	}
	s, err := d.describe(ctx, req.Object)
	if err != nil {
		return nil, err
	}
	results, bodies, pending := d.prepareAll(s, req.Writes)
	runs := runsOf(req.Writes, pending)
	var firstErr error
	failedRuns := 0
	for n, run := range runs {
		if err := ctx.Err(); err != nil {
			if n == 0 {
				return nil, fmt.Errorf("%s: write %s: %w", Name, s.schema.Object, err)
			}
			// Some runs were sent: their outcome is known, but the caller
			// cannot see it with an error, so report the context's end.
			return nil, fmt.Errorf("%s: write %s: %w (after %d of %d calls)", Name, s.schema.Object, err, n, len(runs))
		}
		send := d.sendRun
		if len(req.Writes) == 1 && singleForm(&req.Writes[run[0]]) {
			send = d.sendOne
		}
		if err := send(ctx, s, req.Writes, bodies, run, results); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			failedRuns++
			if ctxErr := ctx.Err(); ctxErr != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return nil, err
			}
			for _, i := range run {
				results[i] = crm.WriteResult{ID: req.Writes[i].ID, Err: err}
			}
		}
	}
	if len(runs) > 0 && failedRuns == len(runs) && len(pending) == len(req.Writes) {
		return nil, firstErr // the org refused the whole batch
	}
	return results, nil
}

// prepare checks one write against the schema and builds its record body.
func (d *Driver) prepare(s *sfSchema, w *crm.Write) (map[string]any, *crm.Error) {
	bad := func(kind crm.Kind, field, format string, args ...any) *crm.Error {
		e := &crm.Error{Kind: kind, CRM: Name, Operation: w.Op.String(), Object: s.schema.Object, RecordID: w.ID, Message: fmt.Sprintf(format, args...)}
		if field != "" {
			e.Fields = []string{field}
		}
		return e
	}
	if w.IfVersion != "" {
		return nil, bad(crm.KindUnsupported, "", "Salesforce cannot make a write conditional on a record's version (If-Unmodified-Since has one-second resolution): leave Write.IfVersion empty")
	}
	switch w.Op {
	case crm.OpCreate:
		if w.ID != "" {
			return nil, bad(crm.KindInvalidRequest, "", "a create cannot carry an ID (Salesforce assigns it): use OpUpdate or OpUpsert")
		}
	case crm.OpUpdate, crm.OpDelete:
		if !isRecordID(w.ID) {
			return nil, bad(crm.KindInvalidRequest, "Id", "%q is not a Salesforce record id (15 or 18 letters and digits)", w.ID)
		}
		if w.Op == crm.OpDelete {
			return nil, nil
		}
	case crm.OpUpsert:
		f, ok := s.field(w.ExternalField)
		if !ok || !f.ExternalID {
			return nil, bad(crm.KindValidation, w.ExternalField, "%s.%s is not an external-id field, so it cannot key an upsert: use one of %v", s.schema.Object, w.ExternalField, s.schema.ExternalIDFields())
		}
		if w.ExternalValue == "" {
			return nil, bad(crm.KindInvalidRequest, f.Name, "an upsert needs Write.ExternalValue")
		}
	default:
		return nil, bad(crm.KindInvalidRequest, "", "Write.Op is %d: use OpCreate, OpUpdate, OpUpsert or OpDelete", w.Op)
	}
	body := make(map[string]any, len(w.Fields)+2)
	body["attributes"] = map[string]string{"type": s.schema.Object}
	for name, v := range w.Fields {
		f, ok := s.field(name)
		if !ok {
			return nil, bad(crm.KindValidation, name, "%s has no field %q: check the field mapping against Describe(%q)", s.schema.Object, name, s.schema.Object)
		}
		if w.Op == crm.OpUpsert && strings.EqualFold(f.Name, w.ExternalField) {
			if sv, ok := v.(string); !ok || !strings.EqualFold(sv, w.ExternalValue) {
				return nil, bad(crm.KindValidation, f.Name, "the fields set %s to a value other than the upsert key: leave the key field out of the fields", f.Name)
			}
			continue
		}
		switch {
		case w.Op == crm.OpCreate && !f.Createable:
			return nil, bad(crm.KindValidation, f.Name, "%s.%s cannot be created by the integration user (read-only or no field-level access): remove it from the mapping, or grant access in Salesforce", s.schema.Object, f.Name)
		case w.Op == crm.OpUpdate && !f.Updateable:
			return nil, bad(crm.KindValidation, f.Name, "%s.%s cannot be updated by the integration user (read-only or no field-level access): remove it from the mapping, or grant access in Salesforce", s.schema.Object, f.Name)
		case w.Op == crm.OpUpsert && !f.Createable && !f.Updateable:
			return nil, bad(crm.KindValidation, f.Name, "%s.%s cannot be written by the integration user (read-only or no field-level access): remove it from the mapping, or grant access in Salesforce", s.schema.Object, f.Name)
		}
		if v == nil && !f.Nillable {
			return nil, bad(crm.KindValidation, f.Name, "%s.%s cannot be null: give it a value or leave it out of the write", s.schema.Object, f.Name)
		}
		enc, err := encodeValue(f, v)
		if err != nil {
			return nil, bad(crm.KindValidation, f.Name, "%s.%s: %s", s.schema.Object, f.Name, strings.TrimPrefix(err.Error(), "crm: "))
		}
		body[f.Name] = enc
	}
	switch w.Op {
	case crm.OpUpdate:
		body["Id"] = w.ID
	case crm.OpUpsert:
		f, _ := s.field(w.ExternalField)
		body[f.Name] = w.ExternalValue
	}
	return body, nil
}

// runsOf cuts the pending writes into runs that one Collections call each
// can carry: consecutive writes of one operation and, for upserts, one key
// field.
func runsOf(writes []crm.Write, pending []int) [][]int {
	var runs [][]int
	for k, i := range pending {
		if k > 0 {
			p := writes[pending[k-1]]
			w := writes[i]
			if p.Op == w.Op && (w.Op != crm.OpUpsert || strings.EqualFold(p.ExternalField, w.ExternalField)) {
				runs[len(runs)-1] = append(runs[len(runs)-1], i)
				continue
			}
		}
		runs = append(runs, []int{i})
	}
	return runs
}

// saveResult is one record's outcome in a Collections answer.
type saveResult struct {
	ID      string     `json:"id"`
	Success bool       `json:"success"`
	Created *bool      `json:"created"`
	Errors  []apiError `json:"errors"`
}

// sendRun sends one Collections call and spreads its answer over results.
// An error means the call as a whole failed.
func (d *Driver) sendRun(ctx context.Context, s *sfSchema, writes []crm.Write, bodies []map[string]any, run []int, results []crm.WriteResult) error {
	op := writes[run[0]].Op
	r := request{op: op.String(), object: s.schema.Object}
	switch op {
	case crm.OpCreate:
		r.method, r.path = http.MethodPost, "/composite/sobjects"
	case crm.OpUpdate:
		r.method, r.path, r.idempotent = http.MethodPatch, "/composite/sobjects", true
	case crm.OpUpsert:
		f, _ := s.field(writes[run[0]].ExternalField)
		r.method, r.path, r.idempotent = http.MethodPatch, "/composite/sobjects/"+url.PathEscape(s.schema.Object)+"/"+url.PathEscape(f.Name), true
	case crm.OpDelete:
		ids := make([]string, len(run))
		for j, i := range run {
			ids[j] = writes[i].ID
		}
		r.method, r.path = http.MethodDelete, "/composite/sobjects"
		r.query = url.Values{"ids": {strings.Join(ids, ",")}, "allOrNone": {"false"}}
	}
	if op != crm.OpDelete {
		records := make([]map[string]any, len(run))
		for j, i := range run {
			records[j] = bodies[i]
		}
		r.body = map[string]any{"allOrNone": false, "records": records}
	}
	var answer []saveResult
	resp, err := d.call(ctx, r, &answer)
	if err != nil {
		return err
	}
	if len(answer) != len(run) {
		return &crm.Error{Kind: crm.KindUnknown, CRM: Name, Operation: op.String(), Object: s.schema.Object, RequestID: d.hc.RequestID(resp.Header),
			Message: fmt.Sprintf("Salesforce answered %d results for %d records; the outcome of each is unknown: re-read them before sending again", len(answer), len(run))}
	}
	rid := d.hc.RequestID(resp.Header)
	for j, i := range run {
		a, w := answer[j], writes[i]
		if !a.Success {
			ce := recordError(a.Errors)
			ce.CRM, ce.Operation, ce.Object, ce.RequestID = Name, op.String(), s.schema.Object, rid
			ce.RecordID = w.ID
			if ce.RecordID == "" {
				ce.RecordID = a.ID
			}
			results[i] = crm.WriteResult{ID: w.ID, Err: ce}
			continue
		}
		res := crm.WriteResult{ID: a.ID}
		switch op {
		case crm.OpCreate:
			res.Created = true
		case crm.OpUpsert:
			res.Created = a.Created != nil && *a.Created
		}
		if res.ID == "" {
			res.ID = w.ID
		}
		results[i] = res
	}
	return nil
}

// prepareAll checks and encodes every write against the schema: the writes
// that cannot succeed get their result now and are never sent; pending lists
// the indexes of the others, whose request bodies are in bodies.
func (d *Driver) prepareAll(s *sfSchema, writes []crm.Write) (results []crm.WriteResult, bodies []map[string]any, pending []int) {
	results = make([]crm.WriteResult, len(writes))
	bodies = make([]map[string]any, len(writes))
	for i, w := range writes {
		body, err := d.prepare(s, &w)
		if err != nil {
			results[i] = crm.WriteResult{ID: w.ID, Err: err}
			continue
		}
		bodies[i] = body
		pending = append(pending, i)
	}
	return results, bodies, pending
}
