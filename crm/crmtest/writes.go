package crmtest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/crmkit/crmkit/crm"
)

// knownFeatures are the features a driver may declare unsupported.
var knownFeatures = []crm.Feature{
	crm.FeatureUpsert, crm.FeatureIfVersion, crm.FeatureChangeDeletes, crm.FeatureIncludeDeleted,
	crm.FeatureNativeQuery, crm.FeatureOrderBy, crm.FeatureContains, crm.FeatureNullFilter,
	crm.FeatureOr, crm.FeatureSetNull,
}

// unknownFieldName is a field no CRM object has.
const unknownFieldName = "CrmtestNoSuchField"

func testInfo(t *testing.T, h *harness) {
	i := h.info
	if i.Name == "" {
		t.Error("Info().Name is empty: drivers must name their CRM")
	}
	if i.MaxBatchSize < 0 || i.MaxPageSize < 0 || i.DefaultPageSize < 0 || i.BulkThreshold < 0 {
		t.Errorf("Info() has a negative size: %+v", i)
	}
	if i.MaxPageSize > 0 && i.DefaultPageSize > i.MaxPageSize {
		t.Errorf("Info().DefaultPageSize %d is more than MaxPageSize %d", i.DefaultPageSize, i.MaxPageSize)
	}
	for _, f := range i.Unsupported {
		if !slices.Contains(knownFeatures, f) {
			t.Errorf("Info().Unsupported lists %q, which is not a crm.Feature constant", f)
		}
	}
}

func testDescribe(t *testing.T, h *harness) {
	s := h.schema
	if !strings.EqualFold(s.Object, h.tg.Object) {
		t.Errorf("Describe(%q).Object = %q, want the object's name", h.tg.Object, s.Object)
	}
	if s.IDField == "" {
		t.Error("Schema.IDField is empty: name the field that holds the record id")
	} else if f, ok := s.Field(s.IDField); !ok {
		t.Errorf("Schema.IDField %q is not one of the described fields", s.IDField)
	} else if f.Type.Value() != crm.ValueString {
		t.Errorf("id field %s has type %s, want a string type", f.Name, f.Type)
	}
	if s.ModifiedField != "" {
		if _, ok := s.Field(s.ModifiedField); !ok {
			t.Errorf("Schema.ModifiedField %q is not one of the described fields", s.ModifiedField)
		}
	}
	seen := map[string]bool{}
	for _, f := range s.Fields {
		if f.Name == "" {
			t.Errorf("a field of %s has no name: %+v", s.Object, f)
			continue
		}
		if f.Type.Value() == crm.ValueUnknown {
			t.Errorf("field %s has type %q, which is not a crm.FieldType", f.Name, f.Type)
		}
		if seen[strings.ToLower(f.Name)] {
			t.Errorf("field %s is described twice (names match without regard to case)", f.Name)
		}
		seen[strings.ToLower(f.Name)] = true
		if f.Required && f.Nillable {
			t.Errorf("field %s is both Required and Nillable", f.Name)
		}
	}
	for _, name := range []string{h.tg.NameField, h.tg.TextField, h.tg.NumberField, h.tg.ExternalIDField, h.tg.ReadOnlyField, s.IDField} {
		if name == "" {
			continue
		}
		want, _ := s.Field(name)
		for _, variant := range []string{strings.ToUpper(name), strings.ToLower(name)} {
			got, ok := s.Field(variant)
			if !ok || want == nil || got.Name != want.Name {
				t.Errorf("Schema.Field(%q) = %v, %v; want field %s (lookup ignores case)", variant, got, ok, name)
			}
		}
	}
	if h.ext != nil && !slices.Contains(s.ExternalIDFields(), h.ext.Name) {
		t.Errorf("ExternalIDFields() = %q, want it to include %s", s.ExternalIDFields(), h.ext.Name)
	}

	// Through the Client, and for an object that does not exist.
	again, err := h.client.Describe(t.Context(), h.tg.Object)
	if err != nil {
		t.Errorf("Client.Describe(%q): %v", h.tg.Object, err)
	} else if len(again.Fields) != len(s.Fields) {
		t.Errorf("a second Describe has %d fields, the first %d", len(again.Fields), len(s.Fields))
	}
	_, err = h.client.Describe(t.Context(), "CrmtestNoSuchObject")
	wantKind(t, err, crm.KindNotFound, "Describe of an object that does not exist")
}

func testCRUD(t *testing.T, h *harness) {
	id := h.create(t, h.record("Ada", nil))
	r := h.get(t, id)
	if !strings.EqualFold(r.Object, h.schema.Object) {
		t.Errorf("Get: Record.Object = %q, want %q", r.Object, h.schema.Object)
	}
	if v, _ := value(r, h.name.Name); v != "Ada" {
		t.Errorf("Get after create: %s = %#v, want \"Ada\"", h.name.Name, v)
	}
	if v, _ := value(r, h.text.Name); v != h.tag {
		t.Errorf("Get after create: %s = %#v, want %q", h.text.Name, v, h.tag)
	}
	if h.info.Supports(crm.FeatureIfVersion) && r.Version == "" {
		t.Errorf("Get: Record.Version is empty, though the driver supports %q", crm.FeatureIfVersion)
	}

	if err := h.client.Update(t.Context(), h.schema.Object, id, crm.Fields{h.name.Name: "Ada Lovelace"}); err != nil {
		t.Fatalf("Client.Update: %v", err)
	}
	r = h.get(t, id)
	if v, _ := value(r, h.name.Name); v != "Ada Lovelace" {
		t.Errorf("Get after update: %s = %#v, want \"Ada Lovelace\"", h.name.Name, v)
	}

	// Only the selected fields, when the driver is asked for some.
	sel, err := h.client.Get(t.Context(), h.schema.Object, id, h.name.Name)
	if err != nil {
		t.Fatalf("Get(%s, %s): %v", id, h.name.Name, err)
	}
	if v, _ := value(sel, h.name.Name); v != "Ada Lovelace" {
		t.Errorf("Get with field selection: %s = %#v, want \"Ada Lovelace\"", h.name.Name, v)
	}

	if err := h.client.Delete(t.Context(), h.schema.Object, id); err != nil {
		t.Fatalf("Client.Delete: %v", err)
	}
	_, err = h.client.Get(t.Context(), h.schema.Object, id)
	wantKind(t, err, crm.KindNotFound, "Get after delete")
}

func testAbsentAndNil(t *testing.T, h *harness) {
	id := h.create(t, h.record("Absent", nil))
	h.update(t, id, crm.Fields{h.name.Name: "Absent 2"})
	r := h.get(t, id)
	if v, _ := value(r, h.text.Name); v != h.tag {
		t.Errorf("after an update without %s, it is %#v; want it unchanged (%q): an absent field means leave it", h.text.Name, v, h.tag)
	}
	if v, _ := value(r, h.name.Name); v != "Absent 2" {
		t.Errorf("after the update %s = %#v, want \"Absent 2\"", h.name.Name, v)
	}

	t.Run("NilClears", func(t *testing.T) {
		h.need(t, crm.FeatureSetNull)
		h.update(t, id, crm.Fields{h.text.Name: nil})
		r := h.get(t, id)
		if v, _ := value(r, h.text.Name); v != nil {
			t.Errorf("after an update with %s: nil, it is %#v; want null (nil)", h.text.Name, v)
		}
		if v, _ := value(r, h.name.Name); v != "Absent 2" {
			t.Errorf("clearing %s changed %s to %#v", h.text.Name, h.name.Name, v)
		}
	})
}

func testUpsert(t *testing.T, h *harness) {
	h.need(t, crm.FeatureUpsert)
	if h.ext == nil {
		t.Skip("skipped: Target.ExternalIDField is empty")
	}
	key := h.tag + "-upsert"
	ctx := t.Context()
	first, err := h.client.Upsert(ctx, h.schema.Object, h.ext.Name, key, h.record("Upsert 1", nil))
	h.track(first.ID)
	if err != nil {
		t.Fatalf("first Upsert(%s=%s): %v", h.ext.Name, key, err)
	}
	if first.ID == "" || !first.Created {
		t.Errorf("first upsert: ID %q Created %v, want a new id and Created=true", first.ID, first.Created)
	}
	second, err := h.client.Upsert(ctx, h.schema.Object, h.ext.Name, key, crm.Fields{h.name.Name: "Upsert 2"})
	h.track(second.ID)
	if err != nil {
		t.Fatalf("second Upsert(%s=%s): %v", h.ext.Name, key, err)
	}
	if second.Created || second.ID != first.ID {
		t.Errorf("second upsert of the same key: ID %q Created %v, want ID %q and Created=false", second.ID, second.Created, first.ID)
	}
	found := h.query(t, crm.Query{Where: crm.Eq(h.ext.Name, key)})
	if len(found) != 1 {
		t.Fatalf("query %s = %q found %d records (%q), want exactly 1: an upsert must never make a duplicate", h.ext.Name, key, len(found), ids(found))
	}
	if found[0].ID != first.ID {
		t.Errorf("query by external id found %s, want %s", found[0].ID, first.ID)
	}
	r := h.get(t, first.ID)
	if v, _ := value(r, h.name.Name); v != "Upsert 2" {
		t.Errorf("after the second upsert %s = %#v, want \"Upsert 2\"", h.name.Name, v)
	}
	if v, _ := value(r, h.text.Name); v != h.tag {
		t.Errorf("the second upsert left out %s, but it became %#v; want %q kept", h.text.Name, v, h.tag)
	}

	// In one batch: two new keys and the existing one; retried, nothing new.
	ws := []crm.Write{
		{Op: crm.OpUpsert, ExternalField: h.ext.Name, ExternalValue: key + "-a", Fields: h.record("Upsert a", nil)},
		{Op: crm.OpUpsert, ExternalField: h.ext.Name, ExternalValue: key, Fields: crm.Fields{h.name.Name: "Upsert 3"}},
		{Op: crm.OpUpsert, ExternalField: h.ext.Name, ExternalValue: key + "-b", Fields: h.record("Upsert b", nil)},
	}
	for round := range 2 {
		rs := h.write(t, ws)
		for i, r := range rs {
			if r.Err != nil {
				t.Fatalf("batch upsert round %d, write %d: %v", round, i, r.Err)
			}
			wantCreated := round == 0 && i != 1
			if r.Created != wantCreated {
				t.Errorf("batch upsert round %d, write %d (%s=%s): Created=%v, want %v", round, i, h.ext.Name, ws[i].ExternalValue, r.Created, wantCreated)
			}
		}
		if rs[1].ID != first.ID {
			t.Errorf("batch upsert round %d of the existing key gave ID %q, want %q", round, rs[1].ID, first.ID)
		}
	}
	all := h.query(t, crm.Query{Where: h.tagged(nil)})
	if len(all) != 3 {
		t.Errorf("after upserting 3 keys twice there are %d tagged records (%q), want 3", len(all), ids(all))
	}
}

func testGetMissing(t *testing.T, h *harness) {
	id := h.create(t, h.record("Missing", nil))
	if err := h.client.Delete(t.Context(), h.schema.Object, id); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err := h.drv.Get(t.Context(), crm.GetRequest{Object: h.schema.Object, ID: id})
	wantKind(t, err, crm.KindNotFound, "Driver.Get of a deleted record")
	if !errors.Is(err, crm.ErrNotFound) {
		t.Errorf("errors.Is(%v, crm.ErrNotFound) = false, want true", err)
	}
	_, err = h.client.Get(t.Context(), h.schema.Object, id)
	if !errors.Is(err, crm.ErrNotFound) {
		t.Errorf("Client.Get of a deleted record: errors.Is(%v, crm.ErrNotFound) = false, want true", err)
	}
	rs := h.write(t, []crm.Write{{Op: crm.OpUpdate, ID: id, Fields: crm.Fields{h.name.Name: "ghost"}}})
	wantKind(t, rs[0].Err, crm.KindNotFound, "update of a deleted record")
}

func testUnknownField(t *testing.T, h *harness) {
	rs := h.write(t, []crm.Write{{Op: crm.OpCreate, Fields: h.record("Unknown", crm.Fields{unknownFieldName: "x"})}})
	ce := wantKind(t, rs[0].Err, crm.KindValidation, "create with an unknown field")
	wantFieldNamed(t, ce, unknownFieldName, "create with an unknown field")

	id := h.create(t, h.record("Unknown ok", nil))
	rs = h.write(t, []crm.Write{{Op: crm.OpUpdate, ID: id, Fields: crm.Fields{unknownFieldName: "x", h.name.Name: "changed"}}})
	ce = wantKind(t, rs[0].Err, crm.KindValidation, "update with an unknown field")
	wantFieldNamed(t, ce, unknownFieldName, "update with an unknown field")
	if v, _ := value(h.get(t, id), h.name.Name); v != "Unknown ok" {
		t.Errorf("a failed update changed %s to %#v", h.name.Name, v)
	}

	_, err := h.client.QueryPage(t.Context(), crm.Query{Object: h.schema.Object, Where: h.tagged(crm.Eq(unknownFieldName, "x"))}, "")
	if err == nil {
		t.Fatalf("query filtering on unknown field %s succeeded, want an error", unknownFieldName)
	}
	if k := crm.KindOf(err); k != crm.KindValidation && k != crm.KindInvalidRequest {
		t.Errorf("query on an unknown field: kind %q (%v), want %q or %q", k, err, crm.KindValidation, crm.KindInvalidRequest)
	}
	var qe *crm.Error
	if errors.As(err, &qe) && !slices.ContainsFunc(qe.Fields, func(f string) bool { return strings.EqualFold(f, unknownFieldName) }) &&
		!strings.Contains(strings.ToLower(err.Error()), strings.ToLower(unknownFieldName)) {
		t.Errorf("query on an unknown field: the error %q does not name %s", err, unknownFieldName)
	}
}

func testReadOnlyField(t *testing.T, h *harness) {
	if h.readOnly == nil {
		t.Skip("skipped: Target.ReadOnlyField is empty")
	}
	ro := h.readOnly
	v := sample(ro, 1, h.tag)
	rs := h.write(t, []crm.Write{{Op: crm.OpCreate, Fields: h.record("ReadOnly", crm.Fields{ro.Name: v})}})
	ce := wantKind(t, rs[0].Err, crm.KindValidation, fmt.Sprintf("create setting read-only field %s", ro.Name))
	wantFieldNamed(t, ce, ro.Name, "create setting a read-only field")

	id := h.create(t, h.record("ReadOnly ok", nil))
	rs = h.write(t, []crm.Write{{Op: crm.OpUpdate, ID: id, Fields: crm.Fields{ro.Name: v}}})
	ce = wantKind(t, rs[0].Err, crm.KindValidation, fmt.Sprintf("update setting read-only field %s", ro.Name))
	wantFieldNamed(t, ce, ro.Name, "update setting a read-only field")
}

// badBatch returns six creates of which writes 1 and 4 are invalid, and the
// field each invalid one gets wrong.
func (h *harness) badBatch(prefix string) ([]crm.Write, map[int]string) {
	ws := make([]crm.Write, 6)
	for i := range ws {
		ws[i] = crm.Write{Op: crm.OpCreate, Fields: h.record(fmt.Sprintf("%s %d", prefix, i), nil)}
	}
	bad := map[int]string{1: unknownFieldName}
	ws[1].Fields[unknownFieldName] = "x"
	if h.number != nil {
		ws[4].Fields[h.number.Name] = "not a number"
		bad[4] = h.number.Name
	} else {
		ws[4].Fields["CrmtestOtherMissingField"] = 1
		bad[4] = "CrmtestOtherMissingField"
	}
	return ws, bad
}

func testPartialBatch(t *testing.T, h *harness) {
	check := func(t *testing.T, how string, ws []crm.Write, rs []crm.WriteResult, bad map[int]string) {
		t.Helper()
		if len(rs) != len(ws) {
			t.Fatalf("%s: %d results for %d writes, want one per write", how, len(rs), len(ws))
		}
		for i, r := range rs {
			if field, isBad := bad[i]; isBad {
				ce := wantKind(t, r.Err, crm.KindValidation, fmt.Sprintf("%s: write %d (bad %s)", how, i, field))
				wantFieldNamed(t, ce, field, fmt.Sprintf("%s: write %d", how, i))
				continue
			}
			if r.Err != nil {
				t.Errorf("%s: valid write %d failed: %v (a bad record must not fail the others)", how, i, r.Err)
				continue
			}
			if r.ID == "" || !r.Created {
				t.Errorf("%s: write %d: ID %q Created %v, want a new id and Created=true", how, i, r.ID, r.Created)
				continue
			}
			rec := h.get(t, r.ID)
			if v, _ := value(rec, h.name.Name); v != ws[i].Fields[h.name.Name] {
				t.Errorf("%s: record of write %d has %s = %#v, want %#v", how, i, h.name.Name, v, ws[i].Fields[h.name.Name])
			}
		}
	}

	ws, bad := h.badBatch("Client batch")
	rs := h.write(t, ws)
	check(t, "Client.Write", ws, rs, bad)

	t.Run("Driver", func(t *testing.T) {
		if max := h.info.MaxBatchSize; max < 6 {
			t.Skipf("skipped: Info().MaxBatchSize is %d, less than the 6 writes of the batch", max)
		}
		ws, bad := h.badBatch("Driver batch")
		rs, err := h.drv.Write(t.Context(), crm.WriteRequest{Object: h.schema.Object, Writes: ws})
		for _, r := range rs {
			if r.Err == nil {
				h.track(r.ID)
			}
		}
		if err != nil {
			t.Fatalf("Driver.Write of a batch with 2 bad records failed as a whole: %v; want one result per record", err)
		}
		check(t, "Driver.Write", ws, rs, bad)
	})
}

func testWriteResults(t *testing.T, h *harness) {
	keep := h.create(t, h.record("Results keep", nil))
	drop := h.create(t, h.record("Results drop", nil))
	ws := []crm.Write{
		{Op: crm.OpCreate, Fields: h.record("Results new", nil)},
		{Op: crm.OpUpdate, ID: keep, Fields: crm.Fields{h.name.Name: "Results kept"}},
		{Op: crm.OpDelete, ID: drop},
		{Op: crm.OpCreate, Fields: h.record("Results bad", crm.Fields{unknownFieldName: 1})},
	}
	if h.ext != nil && h.info.Supports(crm.FeatureUpsert) {
		ws = append(ws, crm.Write{Op: crm.OpUpsert, ExternalField: h.ext.Name, ExternalValue: h.tag + "-results", Fields: h.record("Results upsert", nil)})
	}
	rs := h.write(t, ws)
	if rs[0].Err != nil || rs[0].ID == "" || !rs[0].Created {
		t.Errorf("result 0 (create): %+v, want a new id and Created=true", rs[0])
	}
	if rs[1].Err != nil || rs[1].ID != keep || rs[1].Created {
		t.Errorf("result 1 (update %s): %+v, want ID %s, Created=false, no error", keep, rs[1], keep)
	}
	if rs[2].Err != nil || rs[2].ID != drop {
		t.Errorf("result 2 (delete %s): %+v, want ID %s and no error", drop, rs[2], drop)
	}
	if rs[3].Err == nil {
		t.Errorf("result 3 (create with an unknown field) succeeded: results are out of order or the field was ignored")
	}
	if len(ws) > 4 && (rs[4].Err != nil || !rs[4].Created || rs[4].ID == "") {
		t.Errorf("result 4 (upsert of a new key): %+v, want a new id and Created=true", rs[4])
	}

	// More writes than one batch: the Client splits them (into at least
	// three batches, whatever the driver's own batch size) and the driver's
	// results still come back one per write, in order.
	n := min(max(h.info.MaxBatchSize, 1)+1, 3*h.tg.PageSize+1)
	fs := make([]crm.Fields, n)
	for i := range fs {
		fs[i] = h.record(fmt.Sprintf("Results many %02d", i), nil)
	}
	many := h.createAll(t, fs, crm.WithBatchSize(max(1, n/3)))
	for i, id := range many {
		if v, _ := value(h.get(t, id), h.name.Name); v != fs[i][h.name.Name] {
			t.Errorf("result %d of %d points at a record named %#v, want %#v: results are out of order", i, n, v, fs[i][h.name.Name])
		}
	}

	// WriteResult.Version changes after an update, when the driver reports it.
	created := h.write(t, []crm.Write{{Op: crm.OpCreate, Fields: h.record("Results version", nil)}})[0]
	if created.Err != nil {
		t.Fatalf("create: %v", created.Err)
	}
	updated := h.update(t, created.ID, crm.Fields{h.name.Name: "Results version 2"})
	if created.Version != "" && updated.Version != "" && created.Version == updated.Version {
		t.Errorf("WriteResult.Version is %q after the create and after the update; want it to change", created.Version)
	}
}

func testStaleVersion(t *testing.T, h *harness) {
	h.need(t, crm.FeatureIfVersion)
	id := h.create(t, h.record("Version 1", nil))
	v1 := h.get(t, id).Version
	if v1 == "" {
		t.Fatalf("Get: Record.Version is empty, though the driver supports %q", crm.FeatureIfVersion)
	}
	h.update(t, id, crm.Fields{h.name.Name: "Version 2"})
	v2 := h.get(t, id).Version
	if v2 == v1 {
		t.Fatalf("Record.Version is %q before and after an update; want it to change", v1)
	}

	rs := h.write(t, []crm.Write{{Op: crm.OpUpdate, ID: id, IfVersion: v1, Fields: crm.Fields{h.name.Name: "Version stale"}}})
	wantKind(t, rs[0].Err, crm.KindConflict, "update with a stale IfVersion")
	if !errors.Is(rs[0].Err, crm.ErrConflict) {
		t.Errorf("errors.Is(%v, crm.ErrConflict) = false, want true", rs[0].Err)
	}
	if v, _ := value(h.get(t, id), h.name.Name); v != "Version 2" {
		t.Errorf("a stale update changed %s to %#v; want \"Version 2\" kept", h.name.Name, v)
	}

	rs = h.write(t, []crm.Write{{Op: crm.OpDelete, ID: id, IfVersion: v1}})
	wantKind(t, rs[0].Err, crm.KindConflict, "delete with a stale IfVersion")
	h.get(t, id) // still there

	rs = h.write(t, []crm.Write{{Op: crm.OpUpdate, ID: id, IfVersion: v2, Fields: crm.Fields{h.name.Name: "Version 3"}}})
	if rs[0].Err != nil {
		t.Errorf("update with the current IfVersion %q: %v", v2, rs[0].Err)
	}
}
