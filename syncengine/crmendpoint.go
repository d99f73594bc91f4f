package syncengine

import (
	"context"
	"errors"
	"fmt"

	"github.com/crmkit/crmkit/crm"
)

// CRMEndpoint is the CRM side of a pairing: one object of a CRM, through a
// crm.Client, as an Endpoint. Creates go out as upserts on the external-id
// field named at construction, whose value is the sync key (the application
// record's id), so that a create sent twice updates the record the first one
// made.
type CRMEndpoint struct {
	client   *crm.Client
	object   string
	extField string
	fields   []string
	idField  string
	pageSize int
}

// CRMOption configures a CRMEndpoint.
type CRMOption func(*CRMEndpoint)

// WithCRMFields sets the fields read from the CRM (the driver's default
// fields otherwise). Pass the map's CRMFields; the external-id field is
// added.
func WithCRMFields(fields ...string) CRMOption {
	return func(e *CRMEndpoint) { e.fields = append([]string(nil), fields...) }
}

// WithCRMPageSize sets the change-feed page size asked of the CRM.
func WithCRMPageSize(n int) CRMOption { return func(e *CRMEndpoint) { e.pageSize = n } }

// WithCRMIDField names the object's id field, used to read records back by
// id ("Id" by default; "hs_object_id" for HubSpot, the entity's key such as
// "contactid" for Dataverse).
func WithCRMIDField(name string) CRMOption { return func(e *CRMEndpoint) { e.idField = name } }

// NewCRMEndpoint returns the Endpoint for one object of the CRM behind
// client. externalIDField is the object's external-id field that holds the
// sync key; the engine upserts on it.
func NewCRMEndpoint(client *crm.Client, object, externalIDField string, opts ...CRMOption) (*CRMEndpoint, error) {
	switch {
	case client == nil:
		return nil, errors.New("syncengine: NewCRMEndpoint needs a crm.Client")
	case object == "":
		return nil, errors.New("syncengine: NewCRMEndpoint needs the CRM object's name")
	case externalIDField == "":
		return nil, fmt.Errorf("syncengine: NewCRMEndpoint for %q needs an external-id field to upsert on: creates are sent as upserts so that a retried create never makes a duplicate; add one to the object (a unique external-id text field) and name it", object)
	}
	e := &CRMEndpoint{client: client, object: object, extField: externalIDField, idField: "Id"}
	for _, o := range opts {
		o(e)
	}
	if e.fields != nil {
		e.fields = appendMissing(e.fields, externalIDField)
	}
	return e, nil
}

func appendMissing(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// Object returns the CRM object's name.
func (e *CRMEndpoint) Object() string { return e.object }

// BatchSize is the CRM's batch size, so that the engine fills every call.
func (e *CRMEndpoint) BatchSize() int {
	if n := e.client.Info().MaxBatchSize; n > 0 {
		return n
	}
	return 1
}

func (e *CRMEndpoint) callOpts(cursor string) []crm.CallOption {
	var o []crm.CallOption
	if cursor != "" {
		o = append(o, crm.WithCursor(cursor))
	}
	if e.fields != nil {
		o = append(o, crm.WithFields(e.fields...))
	}
	if e.pageSize > 0 {
		o = append(o, crm.WithPageSize(e.pageSize))
	}
	return o
}

func (e *CRMEndpoint) record(r *crm.Record) *Record {
	out := &Record{ID: r.ID, Fields: r.Fields, ModifiedAt: r.ModifiedAt, Version: r.Version, Deleted: r.Deleted}
	if k, ok := r.Fields[e.extField].(string); ok {
		out.Key = k
	}
	if out.Fields != nil {
		delete(out.Fields, e.extField)
	}
	return out
}

// Changes reads one page of the object's change feed.
func (e *CRMEndpoint) Changes(ctx context.Context, cursor string) (*ChangePage, error) {
	for page, err := range e.client.Changes(ctx, e.object, cursor, e.callOpts("")...) {
		if err != nil {
			return nil, err
		}
		out := &ChangePage{Cursor: page.Cursor, More: page.More, Records: make([]*Record, 0, len(page.Changes))}
		for _, c := range page.Changes {
			r := e.record(c.Record)
			if c.Kind == crm.ChangeDeleted {
				r.Deleted = true
			}
			out.Records = append(out.Records, r)
		}
		return out, nil
	}
	return &ChangePage{Cursor: cursor}, nil
}

// Get reads records by id, in as few queries as the CRM allows.
func (e *CRMEndpoint) Get(ctx context.Context, ids []string) (map[string]*Record, error) {
	out := make(map[string]*Record, len(ids))
	const chunk = 100 // keeps a query's text well under every CRM's limit
	for start := 0; start < len(ids); start += chunk {
		part := ids[start:min(start+chunk, len(ids))]
		vals := make([]any, len(part))
		for i, id := range part {
			vals[i] = id
		}
		q := crm.Query{Object: e.object, Fields: e.fields, Where: crm.In(e.idField, vals...)}
		for r, err := range e.client.Query(ctx, q) {
			if err != nil {
				return nil, err
			}
			out[r.ID] = e.record(r)
		}
	}
	return out, nil
}

// Find reads the records whose field equals value.
func (e *CRMEndpoint) Find(ctx context.Context, field string, value any) ([]*Record, error) {
	var out []*Record
	q := crm.Query{Object: e.object, Fields: e.fields, Where: crm.Eq(field, value), Limit: 10}
	for r, err := range e.client.Query(ctx, q) {
		if err != nil {
			return nil, err
		}
		out = append(out, e.record(r))
	}
	return out, nil
}

// FindAny reads the records whose field equals any of values, a hundred
// values to a query.
func (e *CRMEndpoint) FindAny(ctx context.Context, field string, values []any) ([]*Record, error) {
	var out []*Record
	const chunk = 100
	for start := 0; start < len(values); start += chunk {
		part := values[start:min(start+chunk, len(values))]
		q := crm.Query{Object: e.object, Fields: e.fields, Where: crm.In(field, part...)}
		for r, err := range e.client.Query(ctx, q) {
			if err != nil {
				return nil, err
			}
			out = append(out, e.record(r))
		}
	}
	return out, nil
}

// Apply sends writes through the Client, which batches them to the CRM's
// size. Deleting a record that is already gone counts as done.
func (e *CRMEndpoint) Apply(ctx context.Context, writes []Write) ([]WriteResult, error) {
	ws := make([]crm.Write, len(writes))
	for i, w := range writes {
		switch w.Op {
		case Upsert:
			ws[i] = crm.Write{Op: crm.OpUpsert, ExternalField: e.extField, ExternalValue: w.Key, Fields: w.Fields}
		case Update:
			ws[i] = crm.Write{Op: crm.OpUpdate, ID: w.ID, Fields: w.Fields}
		case Delete:
			ws[i] = crm.Write{Op: crm.OpDelete, ID: w.ID}
		default:
			return nil, fmt.Errorf("syncengine: write %d has no operation", i)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res, err := e.client.Write(ctx, e.object, ws, crm.WithBulk(crm.BulkNever))
	if err != nil {
		// The context ended: some batches may have landed, others not.
		// Every write is idempotent, so the engine sends them all again.
		return nil, err
	}
	out := make([]WriteResult, len(writes))
	for i, r := range res {
		out[i] = WriteResult{ID: r.ID, Version: r.Version, Created: r.Created, Err: r.Err}
		if writes[i].Op == Delete && errors.Is(r.Err, crm.ErrNotFound) {
			out[i] = WriteResult{ID: writes[i].ID}
		}
		if out[i].ID == "" && writes[i].Op != Upsert {
			out[i].ID = writes[i].ID
		}
	}
	return out, nil
}
