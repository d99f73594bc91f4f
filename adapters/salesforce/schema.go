package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// describeResult is the part of an sObject describe the driver reads.
type describeResult struct {
	Name       string          `json:"name"`
	Label      string          `json:"label"`
	Custom     bool            `json:"custom"`
	KeyPrefix  string          `json:"keyPrefix"`
	Queryable  bool            `json:"queryable"`
	Createable bool            `json:"createable"`
	Updateable bool            `json:"updateable"`
	Deletable  bool            `json:"deletable"`
	Fields     []describeField `json:"fields"`
}

type describeField struct {
	Name              string   `json:"name"`
	Label             string   `json:"label"`
	Type              string   `json:"type"`
	Length            int      `json:"length"`
	Precision         int      `json:"precision"`
	Scale             int      `json:"scale"`
	Digits            int      `json:"digits"`
	Nillable          bool     `json:"nillable"`
	Createable        bool     `json:"createable"`
	Updateable        bool     `json:"updateable"`
	DefaultedOnCreate bool     `json:"defaultedOnCreate"`
	ExternalID        bool     `json:"externalId"`
	Unique            bool     `json:"unique"`
	Custom            bool     `json:"custom"`
	Filterable        bool     `json:"filterable"`
	Sortable          bool     `json:"sortable"`
	ReferenceTo       []string `json:"referenceTo"`
	PicklistValues    []struct {
		Active       bool   `json:"active"`
		DefaultValue bool   `json:"defaultValue"`
		Label        string `json:"label"`
		Value        string `json:"value"`
	} `json:"picklistValues"`
}

// fieldTypes maps Salesforce field types to crm's. Compound and binary
// types (address, location, base64, anyType) have no crm type and are left
// out of the schema; their parts (BillingCity, ...) are fields of their own.
var fieldTypes = map[string]crm.FieldType{
	"id": crm.TypeID, "string": crm.TypeString, "combobox": crm.TypeString, "encryptedstring": crm.TypeString,
	"time": crm.TypeString, "textarea": crm.TypeText, "email": crm.TypeEmail, "phone": crm.TypePhone,
	"url": crm.TypeURL, "boolean": crm.TypeBool, "int": crm.TypeInt, "long": crm.TypeInt,
	"double": crm.TypeDecimal, "currency": crm.TypeCurrency, "percent": crm.TypePercent,
	"date": crm.TypeDate, "datetime": crm.TypeDateTime, "picklist": crm.TypePicklist,
	"multipicklist": crm.TypeMultiPicklist, "reference": crm.TypeReference,
}

// sfSchema is a described object as the driver uses it.
type sfSchema struct {
	schema *crm.Schema
	fields map[string]*sfField // by lower-cased name
	names  []string            // the fields the driver selects by default, in describe order
}

type sfField struct {
	*crm.Field
	sfType     string
	filterable bool
	sortable   bool
}

func (s *sfSchema) field(name string) (*sfField, bool) {
	f, ok := s.fields[strings.ToLower(name)]
	return f, ok
}

type cachedSchema struct {
	s  *sfSchema
	at time.Time
}

// Describe returns an object's schema, from the driver's cache when it was
// described less than the schema TTL ago. An unknown object is
// KindNotFound. Field-level security shows in each field's Createable and
// Updateable, as Salesforce describes them for the integration user.
func (d *Driver) Describe(ctx context.Context, object string) (*crm.Schema, error) {
	s, err := d.describe(ctx, object)
	if err != nil {
		return nil, err
	}
	return s.schema.Clone(), nil
}

// ForgetSchema drops an object's cached schema, so that the next call
// describes it again (after a deploy added a field, say).
func (d *Driver) ForgetSchema(object string) {
	d.schemaMu.Lock()
	defer d.schemaMu.Unlock()
	delete(d.schemas, strings.ToLower(object))
}

func (d *Driver) describe(ctx context.Context, object string) (*sfSchema, error) {
	if err := checkObjectName("describe", object); err != nil {
		return nil, err
	}
	key := strings.ToLower(object)
	d.schemaMu.Lock()
	c, ok := d.schemas[key]
	d.schemaMu.Unlock()
	if ok && d.now().Sub(c.at) < d.schemaTTL {
		return c.s, nil
	}
	var res describeResult
	if _, err := d.call(ctx, request{op: "describe", object: object, method: http.MethodGet,
		path: "/sobjects/" + url.PathEscape(object) + "/describe"}, &res); err != nil {
		return nil, err
	}
	if !objectNameRE.MatchString(res.Name) {
		return nil, d.badAnswer("describe", object, fmt.Errorf("the describe names the object %q, which is not an sObject API name", res.Name))
	}
	s := buildSchema(&res)
	d.schemaMu.Lock()
	d.schemas[key] = cachedSchema{s: s, at: d.now()}
	d.schemaMu.Unlock()
	return s, nil
}

// objectNameRE is the shape of an sObject API name ("Contact",
// "Invoice__c", "ns__Thing__c"). Only names of this shape go into a URL
// path, so that no name can climb out of /sobjects/ ("..") or reach
// another resource.
var objectNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// checkObjectName rejects an object name that is not an sObject API name.
func checkObjectName(op, object string) error {
	if objectNameRE.MatchString(object) {
		return nil
	}
	return &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: op, Object: object,
		Message: fmt.Sprintf("the object name %q is not an sObject API name: it must start with a letter and hold only letters, digits and underscores, such as \"Contact\" or \"Invoice__c\"", object)}
}

func buildSchema(res *describeResult) *sfSchema {
	sc := &crm.Schema{Object: res.Name, Label: res.Label, Custom: res.Custom, IDField: "Id"}
	var kept []describeField
	for _, f := range res.Fields {
		t, ok := fieldTypes[f.Type]
		if !ok {
			continue
		}
		cf := crm.Field{
			Name: f.Name, Label: f.Label, Type: t, NativeType: f.Type,
			Nillable: f.Nillable, Createable: f.Createable, Updateable: f.Updateable,
			Required:   !f.Nillable && f.Createable && !f.DefaultedOnCreate,
			ExternalID: f.ExternalID, Unique: f.Unique, Custom: f.Custom,
			References: slices.Clone(f.ReferenceTo),
		}
		switch t.Value() {
		case crm.ValueString, crm.ValueStrings:
			cf.Length = f.Length
		case crm.ValueInt64:
			cf.Precision = f.Digits
		case crm.ValueDecimal:
			cf.Precision, cf.Scale = f.Precision, f.Scale
		}
		for _, p := range f.PicklistValues {
			cf.Picklist = append(cf.Picklist, crm.PicklistValue{Value: p.Value, Label: p.Label, Active: p.Active, Default: p.DefaultValue})
		}
		sc.Fields = append(sc.Fields, cf)
		kept = append(kept, f)
		if f.Name == "SystemModstamp" {
			sc.ModifiedField = f.Name
		}
	}
	s := &sfSchema{schema: sc, fields: make(map[string]*sfField, len(sc.Fields))}
	for i := range sc.Fields {
		f := &sfField{Field: &sc.Fields[i], sfType: kept[i].Type, filterable: kept[i].Filterable, sortable: kept[i].Sortable}
		s.fields[strings.ToLower(f.Name)] = f
		s.names = append(s.names, f.Name)
	}
	return s
}

// ListObjects lists the org's sObjects (describe-global).
func (d *Driver) ListObjects(ctx context.Context) ([]crm.ObjectInfo, error) {
	var res struct {
		SObjects []struct {
			Name       string `json:"name"`
			Label      string `json:"label"`
			Custom     bool   `json:"custom"`
			Queryable  bool   `json:"queryable"`
			Createable bool   `json:"createable"`
			Updateable bool   `json:"updateable"`
			Deletable  bool   `json:"deletable"`
		} `json:"sobjects"`
	}
	if _, err := d.call(ctx, request{op: "list_objects", method: http.MethodGet, path: "/sobjects"}, &res); err != nil {
		return nil, err
	}
	out := make([]crm.ObjectInfo, len(res.SObjects))
	for i, o := range res.SObjects {
		out[i] = crm.ObjectInfo{Name: o.Name, Label: o.Label, Custom: o.Custom, Queryable: o.Queryable,
			Createable: o.Createable, Updateable: o.Updateable, Deletable: o.Deletable}
	}
	return out, nil
}

// Limits reports the org's allocations (GET /limits): the daily API
// requests as Daily, every other allocation under its Salesforce name.
func (d *Driver) Limits(ctx context.Context) (*crm.Limits, error) {
	var res map[string]struct {
		Max       int64 `json:"Max"`
		Remaining int64 `json:"Remaining"`
	}
	if _, err := d.call(ctx, request{op: "limits", method: http.MethodGet, path: "/limits"}, &res); err != nil {
		return nil, err
	}
	out := &crm.Limits{Other: map[string]crm.Quota{}, At: d.now().UTC()}
	for name, q := range res {
		quota := crm.Quota{Used: q.Max - q.Remaining, Max: q.Max}
		if name == "DailyApiRequests" {
			out.Daily = quota
			continue
		}
		out.Other[name] = quota
	}
	return out, nil
}

// encodeValue converts a field value to what Salesforce's JSON takes.
func encodeValue(f *sfField, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	nv, err := crm.NormalizeValue(f.Type, v)
	if err != nil {
		return nil, err
	}
	switch x := nv.(type) {
	case crm.Decimal:
		return json.RawMessage(x.String()), nil
	case time.Time:
		return x.UTC().Format("2006-01-02T15:04:05.000Z"), nil
	case crm.Date:
		return x.String(), nil
	case []string:
		return strings.Join(x, ";"), nil
	}
	return nv, nil
}

// decodeValue converts a field value from Salesforce's JSON.
func decodeValue(f *sfField, raw json.RawMessage) (any, error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	switch f.Type.Value() {
	case crm.ValueBool:
		var b bool
		err := json.Unmarshal(raw, &b)
		return b, err
	case crm.ValueInt64, crm.ValueDecimal:
		return crm.NormalizeValue(f.Type, json.Number(bytes.Trim(raw, `"`)))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	switch f.Type.Value() {
	case crm.ValueStrings:
		if s == "" {
			return []string{}, nil
		}
		return strings.Split(s, ";"), nil
	case crm.ValueString:
		return s, nil
	}
	return crm.NormalizeValue(f.Type, s)
}

// decodeRecord turns one record of a query or retrieve answer into a
// *crm.Record, its values typed by the schema. Fields the schema does not
// describe (relationship objects of a native query) are kept as decoded
// JSON.
func decodeRecord(s *sfSchema, raw json.RawMessage) (*crm.Record, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	r := &crm.Record{Object: s.schema.Object, Fields: make(crm.Fields, len(m))}
	for k, v := range m {
		if k == "attributes" {
			continue
		}
		f, ok := s.field(k)
		if !ok {
			var x any
			if err := json.Unmarshal(v, &x); err != nil {
				return nil, err
			}
			r.Fields[k] = x
			continue
		}
		val, err := decodeValue(f, v)
		if err != nil {
			return nil, fmt.Errorf("field %s (%s): %w", f.Name, f.sfType, err)
		}
		setField(r, f, val)
	}
	return r, nil
}
