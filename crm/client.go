package crm

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Client is what applications use to talk to a CRM: the user side of crmkit,
// in the manner of database/sql.DB. It wraps a [Driver] and does, once for
// every CRM, what each adapter would otherwise repeat:
//
//   - splits writes into batches of the driver's size, or hands large sets
//     to its bulk API, and returns one result per record;
//   - turns pages into iterators that stream and stop promptly on cancel;
//   - opens an OpenTelemetry span and emits an audit event for every call
//     it makes to the driver.
//
// Retry, rate limiting and authentication happen below, in the HTTP transport
// each adapter is built with, so that every request is covered, including the
// ones a driver makes on its own.
//
// A Client is safe for concurrent use.
type Client struct {
	driver  Driver
	info    DriverInfo
	tp      trace.TracerProvider
	tracer  trace.Tracer
	auditor Auditor
	now     func() time.Time
	schemas *schemaCache // nil unless WithSchemaChecks
}

// Option configures a Client.
type Option func(*Client)

// WithTracerProvider sets where spans go; the default is otel's global
// provider.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *Client) { c.tp = tp }
}

// WithAuditor sets the receiver of audit events. The default sends none.
func WithAuditor(a Auditor) Option { return func(c *Client) { c.auditor = a } }

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

const instrumentationName = "github.com/crmkit/crmkit/crm"

// NewClient wraps a driver in a Client.
func NewClient(d Driver, opts ...Option) (*Client, error) {
	if d == nil {
		return nil, errors.New("crm: NewClient needs a driver, got nil")
	}
	c := &Client{
		driver: d,
		info:   d.Info(),
		tp:     otel.GetTracerProvider(),
		now:    time.Now,
	}
	for _, o := range opts {
		o(c)
	}
	if c.tp == nil || c.now == nil {
		return nil, errors.New("crm: WithTracerProvider and WithClock need a non-nil argument")
	}
	c.tracer = c.tp.Tracer(instrumentationName)
	if c.info.Name == "" {
		return nil, errors.New("crm: the driver's Info().Name is empty; drivers must name their CRM")
	}
	if c.info.MaxBatchSize <= 0 {
		c.info.MaxBatchSize = 1
	}
	return c, nil
}

// Driver returns the driver, for type assertions to optional abilities the
// Client does not wrap.
func (c *Client) Driver() Driver { return c.driver }

// Info returns the driver's description.
func (c *Client) Info() DriverInfo { return c.info }

// CallOption adjusts one call of a Client method.
type CallOption func(*callOptions)

type callOptions struct {
	pageSize  int
	cursor    string
	fields    []string
	batchSize int
	bulk      BulkMode
}

// BulkMode says when Write may use the driver's bulk API.
type BulkMode uint8

// The bulk modes.
const (
	BulkAuto   BulkMode = iota // above the driver's BulkThreshold
	BulkNever                  // always the synchronous batch API
	BulkAlways                 // always the bulk API, when the driver has one
)

// WithPageSize asks for pages of n records.
func WithPageSize(n int) CallOption { return func(o *callOptions) { o.pageSize = n } }

// WithCursor resumes a query from a stored page cursor. (Changes takes its
// cursor as an argument; WithCursor is used there when that argument is empty.)
func WithCursor(cursor string) CallOption { return func(o *callOptions) { o.cursor = cursor } }

// WithFields selects the fields a change feed returns (nil for the driver's
// default). Queries select fields with Query.Fields.
func WithFields(fields ...string) CallOption { return func(o *callOptions) { o.fields = fields } }

// WithBatchSize caps write batches below the driver's maximum.
func WithBatchSize(n int) CallOption { return func(o *callOptions) { o.batchSize = n } }

// WithBulk chooses when Write uses the bulk API.
func WithBulk(m BulkMode) CallOption { return func(o *callOptions) { o.bulk = m } }

func collect(opts []CallOption) callOptions {
	var o callOptions
	for _, f := range opts {
		f(&o)
	}
	return o
}

// call runs one driver call inside a span, emits its audit event, and tags
// any *Error it returns with the CRM, operation and object.
func (c *Client) call(ctx context.Context, op, object string, fn func(context.Context, *AuditEvent) error) error {
	ctx, span := c.tracer.Start(ctx, "crm."+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("crm.system", c.info.Name),
			attribute.String("crm.operation", op),
			attribute.String("crm.object", object),
		))
	defer span.End()
	ev := AuditEvent{CRM: c.info.Name, Operation: op, Object: object}
	start := c.now()
	err := fn(ctx, &ev)
	if err != nil {
		err = annotate(err, c.info.Name, op, object)
		span.RecordError(err)
		span.SetStatus(codes.Error, KindOf(err).String())
		span.SetAttributes(attribute.String("crm.error.kind", KindOf(err).String()))
	}
	span.SetAttributes(attribute.Int("crm.records", ev.Records), attribute.Int("crm.failed", ev.Failed))
	if c.auditor != nil {
		ev.Time = start.UTC()
		ev.Duration = c.now().Sub(start)
		ev.Err = err
		c.auditor.Audit(ctx, ev)
	}
	return err
}

// annotate fills in an *Error's CRM, operation and object when the driver
// left them empty, so every error names where it came from. It works on a
// copy: a driver may hand the same *Error to several callers.
func annotate(err error, crmName, op, object string) error {
	ce, ok := err.(*Error)
	if !ok || (ce.CRM != "" && ce.Operation != "" && ce.Object != "") {
		return err
	}
	c := *ce
	if c.CRM == "" {
		c.CRM = crmName
	}
	if c.Operation == "" {
		c.Operation = op
	}
	if c.Object == "" {
		c.Object = object
	}
	return &c
}

// Describe returns an object's schema.
func (c *Client) Describe(ctx context.Context, object string) (*Schema, error) {
	var s *Schema
	err := c.call(ctx, "describe", object, func(ctx context.Context, ev *AuditEvent) (err error) {
		s, err = c.driver.Describe(ctx, object)
		if s != nil {
			ev.Records = len(s.Fields)
		}
		return err
	})
	return s, err
}

// ListObjects lists the CRM's objects, when the driver is an [ObjectLister].
func (c *Client) ListObjects(ctx context.Context) ([]ObjectInfo, error) {
	l, ok := c.driver.(ObjectLister)
	if !ok {
		return nil, c.unsupported("list objects", "")
	}
	var out []ObjectInfo
	err := c.call(ctx, "list_objects", "", func(ctx context.Context, ev *AuditEvent) (err error) {
		out, err = l.ListObjects(ctx)
		ev.Records = len(out)
		return err
	})
	return out, err
}

// Get reads one record by id; fields selects what to read (nil for the
// driver's default). A missing record gives an error matching ErrNotFound.
func (c *Client) Get(ctx context.Context, object, id string, fields ...string) (*Record, error) {
	if id == "" {
		return nil, &Error{Kind: KindInvalidRequest, CRM: c.info.Name, Operation: "get", Object: object, Message: "the record id is empty"}
	}
	var r *Record
	err := c.call(ctx, "get", object, func(ctx context.Context, ev *AuditEvent) (err error) {
		ev.IDs = []string{id}
		r, err = c.driver.Get(ctx, GetRequest{Object: object, ID: id, Fields: fields})
		if r != nil {
			ev.Records = 1
		}
		return err
	})
	return r, err
}

// QueryPage returns one page of q: the first when cursor is empty, else the
// page the cursor points at. Use it to checkpoint a long read and resume it
// after a restart; for plain iteration use [Client.Query].
func (c *Client) QueryPage(ctx context.Context, q Query, cursor string, opts ...CallOption) (*Page, error) {
	o := collect(opts)
	if err := q.Validate(); err != nil {
		return nil, annotate(err, c.info.Name, "query", q.Object)
	}
	var p *Page
	err := c.call(ctx, "query", q.Object, func(ctx context.Context, ev *AuditEvent) (err error) {
		p, err = c.driver.Query(ctx, QueryRequest{Query: q, Cursor: cursor, PageSize: o.pageSize})
		if err == nil && p == nil {
			err = &Error{Kind: KindUnknown, Message: "the driver returned neither a page nor an error"}
		}
		if p != nil {
			ev.Records = len(p.Records)
		}
		return err
	})
	return p, err
}

// QueryPages iterates over the pages of q, from the start or from
// WithCursor. Each page's NextCursor may be stored to resume later. The
// iteration ends after the last page, at the first error (yielded once), or
// when ctx is cancelled.
func (c *Client) QueryPages(ctx context.Context, q Query, opts ...CallOption) iter.Seq2[*Page, error] {
	return func(yield func(*Page, error) bool) {
		o := collect(opts)
		cursor := o.cursor
		// The last few cursors, to stop a driver that cycles; a short
		// window keeps memory flat however many pages a read has.
		var recent [16]string
		recent[0] = cursor
		for n := 1; ; n++ {
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return
			}
			p, err := c.QueryPage(ctx, q, cursor, opts...)
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(p, nil) {
				return
			}
			if p.NextCursor == "" {
				return
			}
			if slices.Contains(recent[:], p.NextCursor) {
				yield(nil, &Error{Kind: KindUnknown, CRM: c.info.Name, Operation: "query", Object: q.Object,
					Message: "the driver returned the same cursor twice; stopping instead of looping forever"})
				return
			}
			cursor = p.NextCursor
			recent[n%len(recent)] = cursor
		}
	}
}

// Query streams the records q matches, fetching one page at a time, so that
// no more than a page is held in memory. It stops at q.Limit, at the first
// error (yielded once with a nil record), or promptly when ctx is cancelled.
//
//	for rec, err := range client.Query(ctx, crm.Query{Object: "Contact", Where: crm.Eq("Email", email)}) {
//		if err != nil {
//			return err
//		}
//		...
//	}
func (c *Client) Query(ctx context.Context, q Query, opts ...CallOption) iter.Seq2[*Record, error] {
	return func(yield func(*Record, error) bool) {
		done := ctx.Done()
		n := 0
		for page, err := range c.QueryPages(ctx, q, opts...) {
			if err != nil {
				yield(nil, err)
				return
			}
			for _, r := range page.Records {
				select {
				case <-done:
					yield(nil, ctx.Err())
					return
				default:
				}
				if !yield(r, nil) {
					return
				}
				n++
				if q.Limit > 0 && n >= q.Limit {
					return
				}
			}
		}
	}
}

// Changes iterates over the pages of an object's change feed after cursor
// (from the beginning when it is empty) until the feed is drained. After
// processing a page, store its Cursor: passing it to a later call resumes
// exactly there, even after a restart.
func (c *Client) Changes(ctx context.Context, object, cursor string, opts ...CallOption) iter.Seq2[*ChangePage, error] {
	return func(yield func(*ChangePage, error) bool) {
		o := collect(opts)
		if cursor == "" {
			cursor = o.cursor
		}
		for {
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return
			}
			var p *ChangePage
			err := c.call(ctx, "changes", object, func(ctx context.Context, ev *AuditEvent) (err error) {
				p, err = c.driver.Changes(ctx, ChangesRequest{Object: object, Cursor: cursor, Fields: o.fields, PageSize: o.pageSize})
				if err == nil && p == nil {
					err = &Error{Kind: KindUnknown, Message: "the driver returned neither a page nor an error"}
				}
				if p != nil {
					ev.Records = len(p.Changes)
				}
				return err
			})
			if err == nil && p.Cursor == "" {
				err = &Error{Kind: KindUnknown, CRM: c.info.Name, Operation: "changes", Object: object,
					Message: "the driver returned a change page without a cursor"}
			}
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(p, nil) || !p.More {
				return
			}
			if p.Cursor == cursor {
				yield(nil, &Error{Kind: KindUnknown, CRM: c.info.Name, Operation: "changes", Object: object,
					Message: "the driver reported more changes but did not advance its cursor"})
				return
			}
			cursor = p.Cursor
		}
	}
}

// Search runs a free-text search, when the driver is a [Searcher].
func (c *Client) Search(ctx context.Context, req SearchRequest) (*Page, error) {
	s, ok := c.driver.(Searcher)
	if !ok {
		return nil, c.unsupported("search", req.Object)
	}
	var p *Page
	err := c.call(ctx, "search", req.Object, func(ctx context.Context, ev *AuditEvent) (err error) {
		p, err = s.Search(ctx, req)
		if p != nil {
			ev.Records = len(p.Records)
		}
		return err
	})
	return p, err
}

// Limits reports the CRM's allocations, when the driver is a [LimitsReporter].
func (c *Client) Limits(ctx context.Context) (*Limits, error) {
	l, ok := c.driver.(LimitsReporter)
	if !ok {
		return nil, c.unsupported("limits", "")
	}
	var out *Limits
	err := c.call(ctx, "limits", "", func(ctx context.Context, _ *AuditEvent) (err error) {
		out, err = l.Limits(ctx)
		return err
	})
	return out, err
}

func (c *Client) unsupported(op, object string) error {
	return &Error{Kind: KindUnsupported, CRM: c.info.Name, Operation: op, Object: object,
		Message: fmt.Sprintf("the %s driver does not offer %s", c.info.Name, op)}
}
