package memcrm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/memstore"
)

// Driver is an in-memory CRM that implements [crm.Driver], and also
// [crm.ObjectLister], [crm.Searcher] and [crm.LimitsReporter]. It is safe for
// concurrent use. Its state lives as long as the Driver: a new Driver is an
// empty org.
type Driver struct {
	store    *memstore.Store
	name     string
	maxBatch int
	defPage  int
	maxPage  int
	now      func() time.Time
	daily    int64

	mu       sync.Mutex
	countDay time.Time // the UTC day that calls counts
	calls    int64
}

// Option configures a Driver.
type Option func(*config)

type config struct {
	schemas  []*crm.Schema
	objects  bool // WithObjects was given
	maxBatch int
	defPage  int
	maxPage  int
	now      func() time.Time
	name     string
	daily    int64
}

// WithObjects sets the objects the org has, replacing the sample Contact and
// Account. A datetime field named CreatedAt, when the schema has one, is set
// to each record's creation time; the schema's IDField and ModifiedField are
// set to the id and the last write time.
func WithObjects(schemas ...*crm.Schema) Option {
	return func(c *config) { c.schemas, c.objects = schemas, true }
}

// WithMaxBatchSize sets the most writes one Write call takes (200 by
// default, as Salesforce's sObject Collections). A smaller size makes tests
// exercise the Client's batching.
func WithMaxBatchSize(n int) Option { return func(c *config) { c.maxBatch = n } }

// WithPageSize sets the page size used when a request asks for none, and the
// most a request may ask for; larger requests get max (defaults 100 and 2000).
func WithPageSize(def, max int) Option {
	return func(c *config) { c.defPage, c.maxPage = def, max }
}

// WithClock sets the clock that stamps records and counts daily calls
// (time.Now by default).
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithName sets the driver's name, as it appears in Info, errors, spans and
// audit events ("memcrm" by default).
func WithName(name string) Option { return func(c *config) { c.name = name } }

// WithDailyLimit sets the daily API call allocation (100000 by default; 0
// for none). Every driver call but Limits counts; once the day's calls are
// used up, calls fail with KindQuotaExhausted until midnight UTC, so that
// applications can rehearse running out.
func WithDailyLimit(n int64) Option { return func(c *config) { c.daily = n } }

// New returns an in-memory org with the given objects, ContactSchema and
// AccountSchema unless WithObjects says otherwise.
func New(opts ...Option) (*Driver, error) {
	c := config{maxBatch: 200, defPage: 100, maxPage: 2000, now: time.Now, name: "memcrm", daily: 100000}
	for _, o := range opts {
		o(&c)
	}
	switch {
	case c.name == "":
		return nil, errors.New("memcrm: WithName(\"\"): the driver needs a name")
	case c.maxBatch < 1:
		return nil, fmt.Errorf("memcrm: WithMaxBatchSize(%d): the batch size must be at least 1", c.maxBatch)
	case c.defPage < 1 || c.maxPage < c.defPage:
		return nil, fmt.Errorf("memcrm: WithPageSize(%d, %d): want 1 <= default <= max", c.defPage, c.maxPage)
	case c.now == nil:
		return nil, errors.New("memcrm: WithClock(nil): give a clock function, such as time.Now")
	case c.daily < 0:
		return nil, fmt.Errorf("memcrm: WithDailyLimit(%d): use 0 for no limit or a positive number", c.daily)
	}
	if !c.objects {
		c.schemas = []*crm.Schema{ContactSchema(), AccountSchema()}
	}
	if len(c.schemas) == 0 {
		return nil, errors.New("memcrm: WithObjects(): give at least one schema")
	}
	st := memstore.New(memstore.WithClock(c.now))
	for _, s := range c.schemas {
		var opts []memstore.TableOption
		if s != nil {
			if f, ok := s.Field("CreatedAt"); ok && f.Type == crm.TypeDateTime {
				opts = append(opts, memstore.WithCreatedField(f.Name))
			}
		}
		if err := st.AddTable(s, opts...); err != nil {
			return nil, fmt.Errorf("memcrm: WithObjects: %w", err)
		}
	}
	return &Driver{store: st, name: c.name, maxBatch: c.maxBatch, defPage: c.defPage, maxPage: c.maxPage, now: c.now, daily: c.daily}, nil
}

// Info describes the driver. Native queries are its one unsupported feature.
func (d *Driver) Info() crm.DriverInfo {
	return crm.DriverInfo{
		Name:            d.name,
		MaxBatchSize:    d.maxBatch,
		MaxPageSize:     d.maxPage,
		DefaultPageSize: d.defPage,
		Unsupported:     []crm.Feature{crm.FeatureNativeQuery},
	}
}

// begin starts a driver call: it refuses a cancelled ctx and counts the call
// against the daily allocation.
func (d *Driver) begin(ctx context.Context, op, object string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", strings.TrimSpace(d.name+": "+op+" "+object), err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now().UTC()
	today := now.Truncate(24 * time.Hour)
	if !today.Equal(d.countDay) {
		d.countDay, d.calls = today, 0
	}
	if d.daily > 0 && d.calls >= d.daily {
		return &crm.Error{Kind: crm.KindQuotaExhausted, CRM: d.name, Operation: op, Object: object,
			RetryAfter: today.Add(24 * time.Hour).Sub(now),
			Message:    fmt.Sprintf("the daily allocation of %d API calls is used up; it resets at midnight UTC", d.daily)}
	}
	d.calls++
	return nil
}

// fail names the driver in a *crm.Error from the store.
func (d *Driver) fail(err error) error {
	var ce *crm.Error
	if errors.As(err, &ce) && ce.CRM == "" {
		ce.CRM = d.name
	}
	return err
}

func (d *Driver) invalid(op, object, format string, args ...any) error {
	return &crm.Error{Kind: crm.KindInvalidRequest, CRM: d.name, Operation: op, Object: object, Message: fmt.Sprintf(format, args...)}
}

// Describe returns a copy of the object's schema; an unknown object is
// KindNotFound.
func (d *Driver) Describe(ctx context.Context, object string) (*crm.Schema, error) {
	if err := d.begin(ctx, "describe", object); err != nil {
		return nil, err
	}
	s, err := d.store.Schema(object)
	return s, d.fail(err)
}

// ListObjects lists the org's objects, in the order they were configured.
func (d *Driver) ListObjects(ctx context.Context) ([]crm.ObjectInfo, error) {
	if err := d.begin(ctx, "list_objects", ""); err != nil {
		return nil, err
	}
	var out []crm.ObjectInfo
	for _, name := range d.store.Objects() {
		s, err := d.store.Schema(name)
		if err != nil {
			return nil, d.fail(err)
		}
		out = append(out, crm.ObjectInfo{Name: s.Object, Label: s.Label, Custom: s.Custom,
			Queryable: true, Createable: true, Updateable: true, Deletable: true})
	}
	return out, nil
}

// Get reads one live record.
func (d *Driver) Get(ctx context.Context, req crm.GetRequest) (*crm.Record, error) {
	if err := d.begin(ctx, "get", req.Object); err != nil {
		return nil, err
	}
	if req.ID == "" {
		return nil, d.invalid("get", req.Object, "GetRequest.ID is empty: give the id of the record to read")
	}
	r, err := d.store.Get(req.Object, req.ID, req.Fields)
	if err != nil {
		return nil, d.fail(err)
	}
	return r.CRM(), nil
}

// Write applies up to MaxBatchSize writes, each on its own: a bad write gets
// its error in its result and never stops the others.
func (d *Driver) Write(ctx context.Context, req crm.WriteRequest) ([]crm.WriteResult, error) {
	if err := d.begin(ctx, "write", req.Object); err != nil {
		return nil, err
	}
	if len(req.Writes) > d.maxBatch {
		return nil, d.invalid("write", req.Object, "the batch has %d writes, more than the %d the driver takes in one call: split it, or use crm.Client.Write, which splits for you", len(req.Writes), d.maxBatch)
	}
	schema, err := d.store.Schema(req.Object)
	if err != nil {
		return nil, d.fail(err)
	}
	results := make([]crm.WriteResult, len(req.Writes))
	for i, w := range req.Writes {
		results[i] = d.writeOne(schema, w)
	}
	return results, nil
}

func (d *Driver) writeOne(schema *crm.Schema, w crm.Write) crm.WriteResult {
	object := schema.Object
	bad := func(format string, args ...any) crm.WriteResult {
		return crm.WriteResult{ID: w.ID, Err: &crm.Error{Kind: crm.KindInvalidRequest, CRM: d.name, Operation: w.Op.String(), Object: object, RecordID: w.ID, Message: fmt.Sprintf(format, args...)}}
	}
	var (
		rec     *memstore.Record
		created bool
		err     error
	)
	switch w.Op {
	case crm.OpCreate:
		if w.ID != "" {
			return bad("a create cannot carry an ID (the CRM assigns it): use OpUpdate or OpUpsert")
		}
		rec, err = d.store.Create(object, w.Fields)
		created = err == nil
	case crm.OpUpdate:
		if w.ID == "" {
			return bad("an update needs Write.ID; to create or update by an external key use OpUpsert")
		}
		rec, err = d.store.Update(object, w.ID, w.Fields, memstore.IfVersion(w.IfVersion))
	case crm.OpUpsert:
		if w.ExternalField == "" || w.ExternalValue == "" {
			return bad("an upsert needs Write.ExternalField and Write.ExternalValue")
		}
		if f, ok := schema.Field(w.ExternalField); ok && !f.ExternalID {
			return crm.WriteResult{Err: &crm.Error{Kind: crm.KindValidation, CRM: d.name, Operation: "upsert", Object: object, Fields: []string{f.Name},
				Message: fmt.Sprintf("field %s is not an external id, so it cannot key an upsert: use one of %s", f.Name, strings.Join(schema.ExternalIDFields(), ", "))}}
		}
		rec, created, err = d.store.Upsert(object, w.ExternalField, w.ExternalValue, w.Fields, memstore.IfVersion(w.IfVersion))
	case crm.OpDelete:
		if w.ID == "" {
			return bad("a delete needs Write.ID")
		}
		rec, err = d.store.Delete(object, w.ID, memstore.IfVersion(w.IfVersion))
	default:
		return bad("Write.Op is %d: use OpCreate, OpUpdate, OpUpsert or OpDelete", w.Op)
	}
	if err != nil {
		return crm.WriteResult{ID: w.ID, Err: d.fail(err)}
	}
	return crm.WriteResult{ID: rec.ID, Created: created, Version: rec.Version}
}

// Seed writes records as the CRM itself, for test fixtures: read-only
// fields may be set and required fields may be left out, but types, lengths,
// picklists and uniqueness are checked. It does not count as API calls. It
// returns the new ids; at the first failure it stops and returns the ids
// made so far with an error that names the failing record's index.
func (d *Driver) Seed(object string, records ...crm.Fields) ([]string, error) {
	ids := make([]string, 0, len(records))
	for i, f := range records {
		r, err := d.store.Create(object, f, memstore.AsSystem())
		if err != nil {
			return ids, fmt.Errorf("memcrm: seed record %d: %w", i, d.fail(err))
		}
		ids = append(ids, r.ID)
	}
	return ids, nil
}

// Limits reports the daily allocation and the calls made today (UTC). It is
// not counted itself.
func (d *Driver) Limits(ctx context.Context) (*crm.Limits, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: limits: %w", d.name, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now().UTC()
	used := d.calls
	if !now.Truncate(24 * time.Hour).Equal(d.countDay) {
		used = 0
	}
	return &crm.Limits{Daily: crm.Quota{Used: used, Max: d.daily}, At: now}, nil
}
