package salesforcetest

import (
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/memstore"
)

// The writes below run with s.writeMu held, so that each one's checks and
// the store change together.

// writeError is a write's failure: parse-level problems (an unknown field,
// a value of the wrong JSON type) fail a whole request; the others are the
// record's own DML errors.
type writeError struct {
	parse bool
	errs  []apiError
}

func parseError(e apiError) *writeError { return &writeError{parse: true, errs: []apiError{e}} }
func dmlError1(code string, fields []string, format string, args ...any) *writeError {
	return &writeError{errs: []apiError{{Code: code, Message: fmt.Sprintf(format, args...), Fields: fields}}}
}

// checkParse finds the problems that stop Salesforce from reading a
// record at all: a field the object lacks, a value of the wrong JSON type.
func checkParse(o *object, in map[string]any) *writeError {
	for name, v := range in {
		if strings.EqualFold(name, "attributes") {
			continue
		}
		f, ok := o.field(name)
		if !ok {
			return parseError(apiError{Code: "INVALID_FIELD", Message: fmt.Sprintf("No such column '%s' on sobject of type %s", name, o.Name), Fields: []string{name}})
		}
		if _, perr := fromJSON(f, v); perr != nil {
			return parseError(*perr)
		}
	}
	return nil
}

// prepare converts and checks a record's fields for a create (existing nil)
// or an update. skip names body keys that are not fields (attributes, and
// the id of an update).
func (s *Server) prepare(o *object, in map[string]any, existing *memstore.Record, skip func(string) bool) (crm.Fields, *writeError) {
	create := existing == nil
	names := make([]string, 0, len(in))
	for k := range in {
		names = append(names, k)
	}
	slices.Sort(names)
	vals := make(crm.Fields, len(in))
	var readOnly []string
	for _, name := range names {
		if strings.EqualFold(name, "attributes") || (skip != nil && skip(name)) {
			continue
		}
		f, ok := o.field(name)
		if !ok {
			return nil, parseError(apiError{Code: "INVALID_FIELD", Message: fmt.Sprintf("No such column '%s' on sobject of type %s", name, o.Name), Fields: []string{name}})
		}
		v, perr := fromJSON(f, in[name])
		if perr != nil {
			return nil, parseError(*perr)
		}
		if f.virtual || (create && !f.createable) || (!create && !f.updateable) {
			readOnly = append(readOnly, f.Name)
			continue
		}
		vals[f.Name] = v
	}
	if len(readOnly) > 0 {
		return nil, dmlError1("INVALID_FIELD_FOR_INSERT_UPDATE", readOnly,
			"Unable to create/update fields: %s. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", strings.Join(readOnly, ", "))
	}
	var missing []string
	for _, f := range o.fields {
		v, given := vals[f.Name]
		if !given {
			if create && f.createable && !f.nillable && !f.defaulted {
				missing = append(missing, f.Name)
			}
			continue
		}
		if v == nil {
			if !f.nillable {
				missing = append(missing, f.Name)
			}
			continue
		}
		if werr := s.checkValue(o, f, v); werr != nil {
			return nil, werr
		}
	}
	if len(missing) > 0 {
		return nil, dmlError1("REQUIRED_FIELD_MISSING", missing, "Required fields are missing: [%s]", strings.Join(missing, ", "))
	}
	self := ""
	if existing != nil {
		self = existing.ID
	}
	for _, f := range o.fields {
		if !f.Unique {
			continue
		}
		if v := vals[f.Name]; v != nil {
			for _, id := range s.indexLookup(o, f.Name, v) {
				if id != self {
					return nil, dmlError1("DUPLICATE_VALUE", []string{f.Name}, "duplicate value found: %s duplicates value on record with id: %s", f.Name, id)
				}
			}
		}
	}
	return vals, nil
}

// checkValue applies the per-value rules: lengths, restricted picklists,
// email syntax, numeric range and lookups.
func (s *Server) checkValue(o *object, f *field, v any) *writeError {
	switch x := v.(type) {
	case string:
		if isText(f.Type) && f.Type != "picklist" && utf8.RuneCountInString(x) > f.Length {
			return dmlError1("STRING_TOO_LONG", []string{f.Name}, "%s: data value too large: %s (max length=%d)", f.Label, clipText(x, 80), f.Length)
		}
		switch f.Type {
		case "picklist":
			if !f.Unrestricted && !contains(f.Picklist, x) {
				return dmlError1("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", []string{f.Name}, "%s: bad value for restricted picklist field: %s", f.Label, clipText(x, 80))
			}
		case "email":
			if a, err := mail.ParseAddress(x); err != nil || a.Address != x || !strings.Contains(x[strings.LastIndexByte(x, '@')+1:], ".") {
				return dmlError1("INVALID_EMAIL_ADDRESS", []string{f.Name}, "%s: invalid email address: %s", f.Label, clipText(x, 80))
			}
		case "reference":
			return s.checkReference(f, x)
		}
	case []string:
		if !f.Unrestricted {
			for _, e := range x {
				if !contains(f.Picklist, e) {
					return dmlError1("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", []string{f.Name}, "%s: bad value for restricted picklist field: %s", f.Label, clipText(e, 80))
				}
			}
		}
	case crm.Decimal:
		if intDigits(x) > f.Precision-f.Scale {
			return dmlError1("NUMBER_OUTSIDE_VALID_RANGE", []string{f.Name}, "%s: value outside of valid range on numeric field: %s", f.Label, x)
		}
	}
	return nil
}

func (s *Server) checkReference(f *field, v string) *writeError {
	id, ok := canonicalID(v)
	var target *object
	if ok {
		if t, found := s.objectByPrefix(id); found && slices.ContainsFunc(f.ReferenceTo, func(n string) bool { return strings.EqualFold(n, t.Name) }) {
			target = t
		} else if found {
			ok = false
		}
	}
	if !ok {
		return dmlError1("MALFORMED_ID", []string{f.Name}, "%s: id value of incorrect type: %s", f.Label, clipText(v, 80))
	}
	if target == nil {
		return nil // an object the emulator does not hold, such as Profile
	}
	if _, err := s.store.Get(target.Name, id, []string{"Id"}); err != nil {
		return dmlError1("INVALID_CROSS_REFERENCE_KEY", []string{f.Name}, "%s: invalid cross reference id", f.Label)
	}
	return nil
}

// normalizeRefs stores lookups in their 18-character form.
func normalizeRefs(o *object, vals crm.Fields) {
	for name, v := range vals {
		if f, _ := o.field(name); f != nil && f.Type == "reference" {
			if s, ok := v.(string); ok {
				if id, ok := canonicalID(s); ok {
					vals[name] = id
				}
			}
		}
	}
}

// fillCreate sets what the org fills on create: defaults, the owner, the
// audit fields and computed names.
func (s *Server) fillCreate(o *object, vals crm.Fields) {
	for _, f := range o.fields {
		if f.virtual {
			continue
		}
		if _, given := vals[f.Name]; given {
			continue
		}
		switch {
		case f.Type == "boolean":
			vals[f.Name] = false
		case f.DefaultValue != "":
			vals[f.Name] = f.DefaultValue
		case f.Name == "OwnerId":
			vals[f.Name] = s.userID
		}
	}
	for _, n := range []string{"CreatedById", "LastModifiedById"} {
		if _, ok := o.field(n); ok {
			if _, given := vals[n]; !given {
				vals[n] = s.userID
			}
		}
	}
	stamp := s.stampFor(time.Time{})
	if _, ok := o.field("LastModifiedDate"); ok {
		if _, given := vals["LastModifiedDate"]; !given {
			vals["LastModifiedDate"] = stamp
		}
	}
	s.fillName(o, nil, vals)
}

// stampFor sets the time the next store write is stamped with (CreatedDate,
// SystemModstamp) and returns it: the org's clock, but always after prev,
// the record's current SystemModstamp, so that every change of a record has
// a stamp of its own, as on a real org, where two changes of one row never
// share a millisecond. s.writeMu is held.
func (s *Server) stampFor(prev time.Time) time.Time {
	t := s.now()
	if !prev.IsZero() && !t.After(prev) {
		t = prev.Add(time.Millisecond)
	}
	s.writeAt = t
	return t
}

func modstamp(rec *memstore.Record) time.Time {
	t, _ := rec.Fields["SystemModstamp"].(time.Time)
	return t
}

func (s *Server) fillUpdate(o *object, existing *memstore.Record, vals crm.Fields) {
	if _, ok := o.field("LastModifiedById"); ok {
		vals["LastModifiedById"] = s.userID
	}
	stamp := s.stampFor(modstamp(existing))
	if _, ok := o.field("LastModifiedDate"); ok {
		vals["LastModifiedDate"] = stamp
	}
	s.fillName(o, existing, vals)
}

// fillName computes a person's Name from FirstName and LastName, as
// Contact, Lead and User do.
func (s *Server) fillName(o *object, existing *memstore.Record, vals crm.Fields) {
	f, ok := o.field("Name")
	if !ok || !f.Calculated {
		return
	}
	get := func(n string) string {
		if v, ok := vals[n]; ok {
			s, _ := v.(string)
			return s
		}
		if existing != nil {
			s, _ := existing.Fields[n].(string)
			return s
		}
		return ""
	}
	_, first := vals["FirstName"]
	_, last := vals["LastName"]
	if existing == nil || first || last {
		vals["Name"] = strings.TrimSpace(get("FirstName") + " " + get("LastName"))
	}
}

// storeError turns an unexpected store failure into a DML error.
func storeError(err error) *writeError {
	var ce *crm.Error
	if errors.As(err, &ce) {
		code := "FIELD_CUSTOM_VALIDATION_EXCEPTION"
		switch ce.Kind {
		case crm.KindDuplicate:
			code = "DUPLICATE_VALUE"
		case crm.KindNotFound:
			code = "ENTITY_IS_DELETED"
		}
		return dmlError1(code, ce.Fields, "%s", ce.Message)
	}
	return dmlError1("UNKNOWN_EXCEPTION", nil, "%v", err)
}

func (s *Server) createRecord(o *object, in map[string]any) (string, *writeError) {
	vals, werr := s.prepare(o, in, nil, nil)
	if werr != nil {
		return "", werr
	}
	normalizeRefs(o, vals)
	s.fillCreate(o, vals)
	rec, err := s.store.Create(o.Name, vals, memstore.AsSystem())
	if err != nil {
		return "", storeError(err)
	}
	return rec.ID, nil
}

// existing finds a live record for an update or delete, or says why not:
// ENTITY_IS_DELETED for one in the recycle bin, notFound otherwise.
func (s *Server) existing(o *object, id string, notFound *writeError) (*memstore.Record, *writeError) {
	if rec, err := s.store.Get(o.Name, id, nil); err == nil {
		return rec, nil
	}
	if rec, ok := s.lookup(o, id); ok && rec.Deleted {
		return nil, dmlError1("ENTITY_IS_DELETED", nil, "entity is deleted")
	}
	return nil, notFound
}

func (s *Server) updateRecord(o *object, rec *memstore.Record, in map[string]any, skip func(string) bool) *writeError {
	vals, werr := s.prepare(o, in, rec, skip)
	if werr != nil {
		return werr
	}
	normalizeRefs(o, vals)
	s.fillUpdate(o, rec, vals)
	if _, err := s.store.Update(o.Name, rec.ID, vals, memstore.AsSystem()); err != nil {
		return storeError(err)
	}
	return nil
}

// upsertRecord updates the record whose external-id field holds value, or
// creates one. matches lists the ids when several records hold it.
func (s *Server) upsertRecord(o *object, ext *field, value string, in map[string]any) (id string, created bool, matches []string, werr *writeError) {
	key, perr := fromJSON(ext, value)
	if perr != nil {
		return "", false, nil, parseError(*perr)
	}
	// The body may repeat the key only with the same value.
	body := make(map[string]any, len(in))
	for k, v := range in {
		if strings.EqualFold(k, ext.Name) {
			if bv, err := fromJSON(ext, v); err != nil || !memstore.SameValue(bv, key) {
				return "", false, nil, dmlError1("INVALID_FIELD", []string{ext.Name}, "The value of the external id field %s in the record body does not match the value in the request URL or key", ext.Name)
			}
			continue
		}
		body[k] = v
	}
	ids := s.indexLookup(o, ext.Name, key)
	switch len(ids) {
	case 0:
		body[ext.Name] = value
		id, werr := s.createRecord(o, body)
		return id, werr == nil, nil, werr
	case 1:
		rec, werr := s.existing(o, ids[0], dmlError1("ENTITY_IS_DELETED", nil, "entity is deleted"))
		if werr != nil {
			return "", false, nil, werr
		}
		return rec.ID, false, nil, s.updateRecord(o, rec, body, nil)
	}
	return "", false, slices.Clone(ids), dmlError1("DUPLICATE_EXTERNAL_ID", []string{ext.Name},
		"%s: more than one record found for external id field: [%s]", ext.Label, strings.Join(ids, ", "))
}

func (s *Server) deleteRecord(o *object, rec *memstore.Record) *writeError {
	if o.NotDeletable {
		return dmlError1("INSUFFICIENT_ACCESS_OR_READONLY", nil, "insufficient access rights on object id")
	}
	s.stampFor(modstamp(rec))
	if _, err := s.store.Delete(o.Name, rec.ID); err != nil {
		return storeError(err)
	}
	return nil
}

// indexed reports whether records can be found by a field's value: an
// external id or a unique field.
func indexed(f *field) bool { return f.ExternalID || f.Unique }

// indexLookup lists the live records whose external-id or unique field
// holds v, matched as the store matches (text without regard to case,
// numbers by value). The store's unique index answers for a unique field;
// an external id that is not unique, which Salesforce lets several records
// share, is answered by a query.
func (s *Server) indexLookup(o *object, name string, v any) []string {
	f, ok := o.field(name)
	if !ok || !indexed(f) || v == nil {
		return nil
	}
	if f.Unique {
		rec, err := s.store.Lookup(o.Name, f.Name, v)
		if err != nil {
			return nil
		}
		return []string{rec.ID}
	}
	res, err := s.store.Query(memstore.Query{Object: o.Name, Where: crm.Eq(f.Name, v), Fields: []string{"Id"}})
	if err != nil || len(res.Records) == 0 {
		return nil
	}
	ids := make([]string, len(res.Records))
	for i, r := range res.Records {
		ids[i] = r.ID
	}
	return ids
}
