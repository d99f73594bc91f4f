package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/crmkit/crmkit/crm"
)

// This file holds the single-record write forms, which Write uses when a
// request carries exactly one write: POST /sobjects/{object}, PATCH and
// DELETE /sobjects/{object}/{id}, and PATCH
// /sobjects/{object}/{field}/{value} for an upsert. Their answers are HTTP
// statuses rather than a results array, so this file turns each status
// back into the crm.WriteResult that a Collections call would have given.

// singleForm reports whether a write can go through its single-record
// route. An upsert key with '.', '/' or '\' cannot travel safely in a URL
// path segment (Salesforce reads a dotted suffix as a file extension and
// answers 404, and an encoded slash may be refused), so such an upsert goes
// through Collections, which carries the key in the body.
func singleForm(w *crm.Write) bool {
	return w.Op != crm.OpUpsert || !strings.ContainsAny(w.ExternalValue, `./\`)
}

// sendOne sends the write run[0] through its single-record route and puts
// its outcome in results, as sendRun does for a Collections call. An error
// means the call as a whole failed (a transport failure, an expired
// session, a spent quota, a server error); the record's own failure (a
// 400 or 404 error body, or a 300 for an ambiguous upsert key) goes in its
// result, as a failed record of a Collections call does.
func (d *Driver) sendOne(ctx context.Context, s *sfSchema, writes []crm.Write, bodies []map[string]any, run []int, results []crm.WriteResult) error {
	i := run[0]
	w := writes[i]
	op, object := w.Op.String(), s.schema.Object
	base := "/sobjects/" + url.PathEscape(object)
	r := request{op: op, object: object}
	key := "" // the body key the URL already carries
	switch w.Op {
	case crm.OpCreate:
		r.method, r.path = http.MethodPost, base
	case crm.OpUpdate:
		r.method, r.path, r.idempotent, key = http.MethodPatch, base+"/"+url.PathEscape(w.ID), true, "Id"
	case crm.OpDelete:
		r.method, r.path = http.MethodDelete, base+"/"+url.PathEscape(w.ID)
	case crm.OpUpsert:
		f, _ := s.field(w.ExternalField)
		key = f.Name
		r.method, r.path, r.idempotent = http.MethodPatch, base+"/"+url.PathEscape(f.Name)+"/"+url.PathEscape(w.ExternalValue), true
	}
	if w.Op != crm.OpDelete {
		r.body = singleBody(bodies[i], key)
	}
	var raw []byte
	resp, err := d.call(ctx, r, &raw)
	if err != nil {
		ce, ok := recordFailure(err)
		if !ok {
			return err
		}
		ce.RecordID = w.ID
		results[i] = crm.WriteResult{ID: w.ID, Err: ce}
		return nil
	}
	rid := d.hc.RequestID(resp.Header)
	unknown := func(why string) error {
		return &crm.Error{Kind: crm.KindUnknown, CRM: Name, Operation: op, Object: object, RecordID: w.ID, StatusCode: resp.StatusCode, RequestID: rid,
			Message: why + "; the outcome is unknown: re-read the record before sending again"}
	}
	if resp.StatusCode == http.StatusMultipleChoices && w.Op == crm.OpUpsert {
		results[i] = crm.WriteResult{Err: d.multipleMatches(s, &w, raw, rid)}
		return nil
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return unknown(fmt.Sprintf("Salesforce answered %d %s to a single-record %s", resp.StatusCode, http.StatusText(resp.StatusCode), op))
	}
	res := crm.WriteResult{ID: longID(w.ID)}
	if w.Op == crm.OpCreate || w.Op == crm.OpUpsert {
		// 201 (created) or 200 (an upsert that updated) with a save result;
		// an upsert's 204 comes only from versions before 46.0, which the
		// driver does not speak, and says "updated" without the id.
		if resp.StatusCode != http.StatusNoContent || w.Op == crm.OpCreate {
			var a saveResult
			if err := json.Unmarshal(raw, &a); err != nil {
				return unknown(fmt.Sprintf("Salesforce answered %d to a single-record %s with a body that is not a save result", resp.StatusCode, op))
			}
			if !a.Success && len(a.Errors) > 0 {
				ce := recordError(a.Errors)
				ce.CRM, ce.Operation, ce.Object, ce.RequestID, ce.RecordID = Name, op, object, rid, w.ID
				results[i] = crm.WriteResult{ID: w.ID, Err: ce}
				return nil
			}
			if a.ID == "" {
				return unknown(fmt.Sprintf("Salesforce answered %d to a single-record %s without the record's id", resp.StatusCode, op))
			}
			res.ID = a.ID
		}
		res.Created = w.Op == crm.OpCreate || resp.StatusCode == http.StatusCreated
	}
	results[i] = res
	return nil
}

// singleBody is a record body for a single-record route: the URL names the
// object and carries the record's id or the upsert key, so the body holds
// only the fields.
func singleBody(body map[string]any, key string) map[string]any {
	out := make(map[string]any, len(body))
	for k, v := range body {
		if k == "attributes" || (key != "" && strings.EqualFold(k, key)) {
			continue
		}
		out[k] = v
	}
	return out
}

// recordFailure tells a single-record write's own failure from a failure of
// the call: a 400 or 404 with Salesforce's error array (the DML errors a
// Collections result would carry for the record, such as
// REQUIRED_FIELD_MISSING, DUPLICATE_VALUE, NOT_FOUND or ENTITY_IS_DELETED),
// or a 403 for the record's access rights. Its kind is classified as a DML
// result's would be, so that one record's failure has the same kind through
// either form. The error returned is a copy.
func recordFailure(err error) (*crm.Error, bool) {
	var ce *crm.Error
	if !errors.As(err, &ce) || ce.Code == "" {
		return nil, false
	}
	status := ce.StatusCode
	switch {
	case status == http.StatusBadRequest:
		status = 0 // as inside a DML result: an unlisted code is the record's data
	case status == http.StatusNotFound:
	case status == http.StatusForbidden && (ce.Code == "INSUFFICIENT_ACCESS_OR_READONLY" || ce.Code == "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY"):
	default:
		return nil, false
	}
	cp := *ce
	cp.Fields = append([]string(nil), ce.Fields...)
	cp.Kind = refineKind(cp.Code, status, cp.Message, cp.Fields, true)
	return &cp, true
}

// multipleMatches is the error of an upsert answered 300 Multiple Choices:
// several records hold the key, so Salesforce changed none. The answer
// lists the matching records' URLs; the error counts them and names their
// ids, but never repeats the key's value, which may be personal data.
func (d *Driver) multipleMatches(s *sfSchema, w *crm.Write, raw []byte, rid string) *crm.Error {
	f, _ := s.field(w.ExternalField)
	var urls []string
	if json.Unmarshal(raw, &urls) != nil {
		urls = nil // an unreadable list still means several matches
	}
	var ids []string
	for _, u := range urls {
		if id := u[strings.LastIndexByte(u, '/')+1:]; isRecordID(id) {
			ids = append(ids, id)
		}
	}
	count := "several"
	if len(urls) > 0 {
		count = fmt.Sprint(len(urls))
	}
	msg := fmt.Sprintf("%s %s records hold the upsert's value of %s, which is an external id but not unique, so Salesforce cannot tell which to update and changed none",
		count, s.schema.Object, f.Name)
	if len(ids) > 0 {
		shown := ids[:min(len(ids), 5)]
		msg += " (" + strings.Join(shown, ", ")
		if len(ids) > len(shown) {
			msg += fmt.Sprintf(" and %d more", len(ids)-len(shown))
		}
		msg += ")"
	}
	msg += fmt.Sprintf(": merge or re-key the duplicates, or mark %s Unique in Salesforce so that each value keys one record", f.Name)
	return &crm.Error{Kind: crm.KindDuplicate, CRM: Name, Operation: w.Op.String(), Object: s.schema.Object, StatusCode: http.StatusMultipleChoices,
		Code: "MULTIPLE_CHOICES", Message: msg, Fields: []string{f.Name}, RequestID: rid}
}

// longID returns the 18-character form of a 15-character record id, as
// Salesforce's answers give it, so that an update or delete reports the
// same id through either write form; other ids are returned as they are.
// The three added characters encode, five letters at a time, which of the
// id's letters are upper case.
func longID(id string) string {
	if len(id) != 15 || !isRecordID(id) {
		return id
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	var suffix [3]byte
	for chunk := range 3 {
		n := 0
		for j := range 5 {
			if c := id[chunk*5+j]; c >= 'A' && c <= 'Z' {
				n |= 1 << j
			}
		}
		suffix[chunk] = alphabet[n]
	}
	return id + string(suffix[:])
}
