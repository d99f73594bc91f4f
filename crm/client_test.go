package crm_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/memcrm"
)

// auditLog collects audit events, safe for concurrent use.
type auditLog struct {
	mu     sync.Mutex
	events []crm.AuditEvent
}

func (a *auditLog) Audit(_ context.Context, ev crm.AuditEvent) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, ev)
}

func (a *auditLog) ops(op string) []crm.AuditEvent {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []crm.AuditEvent
	for _, ev := range a.events {
		if ev.Operation == op {
			out = append(out, ev)
		}
	}
	return out
}

func newClient(t *testing.T, drvOpts []memcrm.Option, opts ...crm.Option) (*crm.Client, *auditLog) {
	t.Helper()
	drv, err := memcrm.New(drvOpts...)
	if err != nil {
		t.Fatal(err)
	}
	audit := &auditLog{}
	c, err := crm.NewClient(drv, append([]crm.Option{crm.WithAuditor(audit)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c, audit
}

func creates(n int) []crm.Write {
	ws := make([]crm.Write, n)
	for i := range ws {
		ws[i] = crm.Write{Op: crm.OpCreate, Fields: crm.Fields{"LastName": fmt.Sprintf("Person %03d", i), "Score": int64(i)}}
	}
	return ws
}

func TestClientWriteSplitsIntoDriverBatches(t *testing.T) {
	c, audit := newClient(t, []memcrm.Option{memcrm.WithMaxBatchSize(10)})
	results, err := c.Write(t.Context(), "Contact", creates(35))
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 35 || results.Err() != nil {
		t.Fatalf("got %d results, err %v", len(results), results.Err())
	}
	ids := map[string]bool{}
	for _, r := range results {
		if r.ID == "" || !r.Created || ids[r.ID] {
			t.Fatalf("bad result %+v", r)
		}
		ids[r.ID] = true
	}
	var sizes []int
	for _, ev := range audit.ops("write") {
		sizes = append(sizes, ev.Records)
	}
	if fmt.Sprint(sizes) != "[10 10 10 5]" {
		t.Fatalf("batches sent: %v, want [10 10 10 5]", sizes)
	}
	// WithBatchSize lowers the size further.
	if _, err := c.Write(t.Context(), "Contact", creates(7), crm.WithBatchSize(3)); err != nil {
		t.Fatal(err)
	}
	if n := len(audit.ops("write")); n != 4+3 {
		t.Fatalf("write calls after a 7-write batch of 3: %d, want 7", n)
	}
}

func TestClientWriteKeepsOrderAndIsolatesBadRecords(t *testing.T) {
	c, audit := newClient(t, nil)
	ws := creates(5)
	ws[1] = crm.Write{Op: crm.OpUpdate, Fields: crm.Fields{"LastName": "no id"}} // malformed: never sent
	ws[3].Fields["NoSuchField"] = "x"                                            // refused by the driver
	results, err := c.Write(t.Context(), "Contact", ws)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(results.Failed()); got != "[1 3]" {
		t.Fatalf("failed writes %s, want [1 3]", got)
	}
	if !errors.Is(results[1].Err, crm.ErrInvalidRequest) {
		t.Errorf("write 1: %v, want invalid request", results[1].Err)
	}
	var ce *crm.Error
	if !errors.As(results[3].Err, &ce) || ce.Kind != crm.KindValidation || !strings.Contains(strings.Join(ce.Fields, ","), "NoSuchField") {
		t.Errorf("write 3: %v, want a validation error naming NoSuchField", results[3].Err)
	}
	if ce != nil && (ce.CRM != "memcrm" || ce.Object != "Contact") {
		t.Errorf("the error does not say where it came from: %+v", ce)
	}
	if sent := audit.ops("write")[0].Records; sent != 4 {
		t.Errorf("sent %d writes to the driver, want 4 (the malformed one stays home)", sent)
	}
	if err := results.Err(); err == nil || !strings.Contains(err.Error(), "write 3:") {
		t.Errorf("WriteResults.Err() = %v", err)
	}
}

func TestClientWriteWithCancelledContextSendsNothing(t *testing.T) {
	c, audit := newClient(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	results, err := c.Write(ctx, "Contact", creates(3))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	for i, r := range results {
		if !errors.Is(r.Err, context.Canceled) || !errors.Is(r.Err, crm.ErrUnavailable) {
			t.Errorf("write %d: %v, want an unavailable error wrapping context.Canceled", i, r.Err)
		}
	}
	if n := len(audit.ops("write")); n != 0 {
		t.Fatalf("%d write calls made after cancel", n)
	}
}

func TestClientSchemaChecksRefuseBeforeAnyCall(t *testing.T) {
	c, audit := newClient(t, nil, crm.WithSchemaChecks(0))
	ws := creates(4)
	ws[0].Fields["CreatedAt"] = "2020-01-01T00:00:00Z" // read-only
	ws[1].Fields["Nope"] = "x"                         // unknown
	ws[2].Fields["Score"] = "many"                     // not an int
	ws = append(ws, crm.Write{Op: crm.OpUpsert, ExternalField: "Email", ExternalValue: "a@example.com", Fields: crm.Fields{"LastName": "x"}})
	results, err := c.Write(t.Context(), "Contact", ws)
	if err != nil {
		t.Fatal(err)
	}
	for i, field := range []string{"CreatedAt", "Nope", "Score", "", "Email"} {
		if field == "" {
			continue
		}
		var ce *crm.Error
		if !errors.As(results[i].Err, &ce) || ce.Kind != crm.KindValidation || len(ce.Fields) != 1 || ce.Fields[0] != field {
			t.Errorf("write %d: %v, want a validation error naming %s", i, results[i].Err, field)
		}
	}
	if results[3].Err != nil {
		t.Errorf("the good write failed: %v", results[3].Err)
	}
	if got := audit.ops("write"); len(got) != 1 || got[0].Records != 1 {
		t.Errorf("write calls %+v, want one call carrying only the good write", got)
	}
	// The schema is described once and cached.
	if _, err := c.Write(t.Context(), "Contact", creates(1)); err != nil {
		t.Fatal(err)
	}
	if n := len(audit.ops("describe")); n != 1 {
		t.Errorf("describe calls %d, want 1 (cached)", n)
	}
	c.ForgetSchema("Contact")
	_, _ = c.Write(t.Context(), "Contact", creates(1))
	if n := len(audit.ops("describe")); n != 2 {
		t.Errorf("describe calls after ForgetSchema %d, want 2", n)
	}
}

func TestClientQueryStreamsPagesAndHonoursLimit(t *testing.T) {
	c, audit := newClient(t, nil)
	if _, err := c.Write(t.Context(), "Contact", creates(23)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for rec, err := range c.Query(t.Context(), crm.Query{Object: "Contact", Where: crm.Ge("Score", int64(3))}, crm.WithPageSize(5)) {
		if err != nil {
			t.Fatal(err)
		}
		if rec.Fields["Score"].(int64) < 3 {
			t.Fatalf("record %v does not match the filter", rec.Fields)
		}
		n++
	}
	if n != 20 {
		t.Fatalf("got %d records, want 20", n)
	}
	if pages := len(audit.ops("query")); pages != 4 {
		t.Fatalf("fetched %d pages, want 4 of 5 records", pages)
	}
	n = 0
	for _, err := range c.Query(t.Context(), crm.Query{Object: "Contact", Limit: 7}, crm.WithPageSize(5)) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 7 {
		t.Fatalf("Limit 7 gave %d records", n)
	}
	// Breaking out of the loop stops fetching.
	before := len(audit.ops("query"))
	for range c.Query(t.Context(), crm.Query{Object: "Contact"}, crm.WithPageSize(5)) {
		break
	}
	if after := len(audit.ops("query")); after != before+1 {
		t.Fatalf("breaking after the first record fetched %d pages, want 1", after-before)
	}
}

func TestClientQueryRefusesInvalidQueryBeforeAnyCall(t *testing.T) {
	c, audit := newClient(t, nil)
	for _, err := range c.Query(t.Context(), crm.Query{Object: "Contact", Where: crm.Eq("Email", nil)}) {
		if !errors.Is(err, crm.ErrInvalidRequest) {
			t.Fatalf("err = %v, want invalid request", err)
		}
	}
	if n := len(audit.ops("query")); n != 0 {
		t.Fatalf("%d query calls for an invalid query", n)
	}
}

// loopingDriver is a broken driver that hands out the same cursor forever:
// the Client must notice instead of looping.
type loopingDriver struct{ crm.Driver }

func (d loopingDriver) Query(ctx context.Context, req crm.QueryRequest) (*crm.Page, error) {
	if req.Cursor == "same" {
		req.Cursor = ""
	}
	p, err := d.Driver.Query(ctx, req)
	if err != nil {
		return nil, err
	}
	p.NextCursor = "same"
	return p, nil
}

func TestClientStopsOnARepeatedCursor(t *testing.T) {
	drv, err := memcrm.New()
	if err != nil {
		t.Fatal(err)
	}
	c, _ := crm.NewClient(loopingDriver{drv})
	if _, err := c.Write(t.Context(), "Contact", creates(3)); err != nil {
		t.Fatal(err)
	}
	var last error
	pages := 0
	for _, err := range c.QueryPages(t.Context(), crm.Query{Object: "Contact"}, crm.WithPageSize(1)) {
		pages++
		last = err
		if pages > 10 {
			t.Fatal("the client looped on a repeated cursor")
		}
	}
	if last == nil || !strings.Contains(last.Error(), "same cursor twice") {
		t.Fatalf("last = %v", last)
	}
}

func TestClientOptionalAbilities(t *testing.T) {
	drv, err := memcrm.New()
	if err != nil {
		t.Fatal(err)
	}
	// Hiding every method but the Driver's: the optional abilities vanish.
	plain, _ := crm.NewClient(struct{ crm.Driver }{drv})
	if _, err := plain.Limits(t.Context()); !errors.Is(err, crm.ErrUnsupported) || !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Limits on a driver without it: %v", err)
	}
	if _, err := plain.Search(t.Context(), crm.SearchRequest{Object: "Contact", Text: "x"}); !errors.Is(err, crm.ErrUnsupported) {
		t.Fatalf("Search on a driver without it: %v", err)
	}
	full, _ := crm.NewClient(drv)
	objs, err := full.ListObjects(t.Context())
	if err != nil || len(objs) < 2 {
		t.Fatalf("ListObjects = %v, %v", objs, err)
	}
}

func TestClientSpansAndAuditNeverCarryValues(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	c, audit := newClient(t, nil, crm.WithTracerProvider(tp))
	secret := "ada.secret@example.com"
	_, err := c.Write(t.Context(), "Contact", []crm.Write{
		{Op: crm.OpUpsert, ExternalField: "ExternalId", ExternalValue: "app-1", Fields: crm.Fields{"LastName": "Lovelace", "Email": secret}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(t.Context(), "Contact", "no-such-id"); !errors.Is(err, crm.ErrNotFound) {
		t.Fatalf("Get of a missing id: %v", err)
	}

	spans := sr.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2", len(spans))
	}
	attrs := map[attribute.Key]string{}
	for _, kv := range spans[0].Attributes() {
		attrs[kv.Key] = kv.Value.String()
	}
	if spans[0].Name() != "crm.write" || attrs["crm.system"] != "memcrm" || attrs["crm.object"] != "Contact" || attrs["crm.records"] != "1" {
		t.Fatalf("write span %s %v", spans[0].Name(), attrs)
	}
	if spans[1].Status().Description != "not found" {
		t.Fatalf("get span status %+v", spans[1].Status())
	}
	w := audit.ops("write")[0].Writes[0]
	if w.Op != crm.OpUpsert || w.ExternalField != "ExternalId" || fmt.Sprint(w.Fields) != "[Email LastName]" || w.ID == "" {
		t.Fatalf("audit write %+v", w)
	}
	everything := fmt.Sprintf("%+v %+v", audit.events, spans)
	for _, s := range spans {
		everything += fmt.Sprintf("%+v %+v", s.Attributes(), s.Events())
	}
	if strings.Contains(everything, secret) || strings.Contains(everything, "app-1") {
		t.Fatal("a field value reached the audit log or a span")
	}
}

func TestChangesResumeFromStoredCursor(t *testing.T) {
	c, _ := newClient(t, nil)
	res, err := c.Write(t.Context(), "Contact", creates(5))
	if err != nil {
		t.Fatal(err)
	}
	var cursor string
	seen := 0
	for page, err := range c.Changes(t.Context(), "Contact", "", crm.WithPageSize(2)) {
		if err != nil {
			t.Fatal(err)
		}
		seen += len(page.Changes)
		cursor = page.Cursor
	}
	if seen != 5 {
		t.Fatalf("saw %d changes, want 5", seen)
	}
	if err := c.Delete(t.Context(), "Contact", res[2].ID); err != nil {
		t.Fatal(err)
	}
	var got []crm.Change
	for page, err := range c.Changes(t.Context(), "Contact", cursor) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Changes...)
	}
	if len(got) != 1 || got[0].Kind != crm.ChangeDeleted || got[0].Record.ID != res[2].ID || !got[0].Record.Deleted {
		t.Fatalf("changes after the cursor: %+v", got)
	}
}

// stuckFeed is a broken driver whose change feed says "more" without moving
// its cursor.
type stuckFeed struct{ crm.Driver }

func (d stuckFeed) Changes(ctx context.Context, req crm.ChangesRequest) (*crm.ChangePage, error) {
	p, err := d.Driver.Changes(ctx, crm.ChangesRequest{Object: req.Object, PageSize: 1})
	if err != nil {
		return nil, err
	}
	p.Cursor, p.More = "stuck", true
	return p, nil
}

func TestClientStopsOnAStuckChangeFeed(t *testing.T) {
	drv, err := memcrm.New()
	if err != nil {
		t.Fatal(err)
	}
	c, _ := crm.NewClient(stuckFeed{drv})
	if _, err := c.Write(t.Context(), "Contact", creates(3)); err != nil {
		t.Fatal(err)
	}
	pages := 0
	var last error
	for _, err := range c.Changes(t.Context(), "Contact", "") {
		pages++
		last = err
		if pages > 10 {
			t.Fatal("the client looped on a feed that does not advance")
		}
	}
	if pages != 3 || last == nil || !strings.Contains(last.Error(), "did not advance its cursor") {
		t.Fatalf("pages %d, last error %v; want 2 pages then the error", pages, last)
	}
}

// cancelMidBatch is a driver whose CRM call is interrupted: the context ends
// while the first batch is in flight.
type cancelMidBatch struct {
	crm.Driver
	cancel context.CancelFunc
}

func (d cancelMidBatch) Write(ctx context.Context, req crm.WriteRequest) ([]crm.WriteResult, error) {
	d.cancel()
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestClientWriteCancelledInFlight(t *testing.T) {
	drv, err := memcrm.New(memcrm.WithMaxBatchSize(2))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	c, _ := crm.NewClient(cancelMidBatch{drv, cancel})
	results, err := c.Write(ctx, "Contact", creates(5))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	for i, r := range results {
		inFlight := i < 2
		switch {
		case inFlight && (crm.KindOf(r.Err) != crm.KindUnknown || crm.IsRetryable(r.Err) || !strings.Contains(r.Err.Error(), "outcome unknown")):
			t.Errorf("write %d was in flight: %v, want a non-retryable 'outcome unknown' error", i, r.Err)
		case !inFlight && (!errors.Is(r.Err, crm.ErrUnavailable) || !strings.Contains(r.Err.Error(), "not sent")):
			t.Errorf("write %d was never sent: %v, want an unavailable 'not sent' error", i, r.Err)
		}
	}
}

// bulkDriver adds a bulk API to memcrm: it applies a whole job through the
// driver's own batches and records each job's operation.
type bulkDriver struct {
	*memcrm.Driver
	mu   sync.Mutex
	jobs []string
}

func (d *bulkDriver) Info() crm.DriverInfo {
	info := d.Driver.Info()
	info.BulkThreshold = 3
	return info
}

func (d *bulkDriver) BulkWrite(ctx context.Context, req crm.WriteRequest) ([]crm.WriteResult, error) {
	d.mu.Lock()
	d.jobs = append(d.jobs, fmt.Sprintf("%s×%d", req.Writes[0].Op, len(req.Writes)))
	d.mu.Unlock()
	var out []crm.WriteResult
	for start := 0; start < len(req.Writes); start += 2 {
		rs, err := d.Driver.Write(ctx, crm.WriteRequest{Object: req.Object, Writes: req.Writes[start:min(start+2, len(req.Writes))]})
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	return out, nil
}

func TestClientBulkKeepsTheOrderOfOperations(t *testing.T) {
	mem, err := memcrm.New(memcrm.WithMaxBatchSize(2))
	if err != nil {
		t.Fatal(err)
	}
	drv := &bulkDriver{Driver: mem}
	audit := &auditLog{}
	c, err := crm.NewClient(drv, crm.WithAuditor(audit))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := mem.Seed("Contact", crm.Fields{"LastName": "A"})
	if err != nil {
		t.Fatal(err)
	}
	a := ids[0]
	ws := append(creates(2),
		crm.Write{Op: crm.OpUpdate, ID: a, Fields: crm.Fields{"Title": "b"}},
		crm.Write{Op: crm.OpDelete, ID: a},
		crm.Write{Op: crm.OpUpdate, ID: a, Fields: crm.Fields{"Title": "c"}}, // after the delete: must fail
	)
	results, err := c.Write(t.Context(), "Contact", ws)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(drv.jobs); got != "[create×2 update×1 delete×1 update×1]" {
		t.Fatalf("bulk jobs %s, want runs in the writes' order", got)
	}
	if got := fmt.Sprint(results.Failed()); got != "[4]" || !errors.Is(results[4].Err, crm.ErrNotFound) {
		t.Fatalf("failed %s (%v), want only the update after the delete, not found", got, results[4].Err)
	}
	if n := len(audit.ops("bulk_write")); n != 4 {
		t.Fatalf("%d bulk_write audit events, want 4", n)
	}
	// Below the threshold, or with BulkNever, the batch API is used.
	drv.jobs = nil
	if _, err := c.Write(t.Context(), "Contact", creates(5), crm.WithBulk(crm.BulkNever)); err != nil || len(drv.jobs) != 0 {
		t.Fatalf("BulkNever used the bulk API: %v %v", drv.jobs, err)
	}
}

// nilPage is a broken driver that returns neither a page nor an error.
type nilPage struct{ crm.Driver }

func (nilPage) Query(context.Context, crm.QueryRequest) (*crm.Page, error)           { return nil, nil }
func (nilPage) Changes(context.Context, crm.ChangesRequest) (*crm.ChangePage, error) { return nil, nil }

func TestClientSurvivesADriverReturningNothing(t *testing.T) {
	drv, _ := memcrm.New()
	c, _ := crm.NewClient(nilPage{drv})
	for _, err := range c.Query(t.Context(), crm.Query{Object: "Contact"}) {
		if err == nil || !strings.Contains(err.Error(), "neither a page nor an error") {
			t.Fatalf("Query: %v", err)
		}
	}
	for _, err := range c.Changes(t.Context(), "Contact", "") {
		if err == nil || !strings.Contains(err.Error(), "neither a page nor an error") {
			t.Fatalf("Changes: %v", err)
		}
	}
}

func TestClientChangesOptions(t *testing.T) {
	c, _ := newClient(t, nil)
	if _, err := c.Write(t.Context(), "Contact", creates(2)); err != nil {
		t.Fatal(err)
	}
	var cursor string
	for page, err := range c.Changes(t.Context(), "Contact", "", crm.WithFields("LastName")) {
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range page.Changes {
			if _, ok := ch.Record.Fields["Score"]; ok {
				t.Fatalf("WithFields(LastName) returned Score: %v", ch.Record.Fields)
			}
		}
		cursor = page.Cursor
	}
	if _, err := c.Write(t.Context(), "Contact", creates(1)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for page, err := range c.Changes(t.Context(), "Contact", "", crm.WithCursor(cursor)) {
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.Changes)
	}
	if n != 1 {
		t.Fatalf("WithCursor resumed with %d changes, want 1", n)
	}
}

func TestNewClientRefusesNilOptions(t *testing.T) {
	drv, _ := memcrm.New()
	if _, err := crm.NewClient(drv, crm.WithTracerProvider(nil)); err == nil {
		t.Error("a nil tracer provider was accepted")
	}
	if _, err := crm.NewClient(drv, crm.WithClock(nil)); err == nil {
		t.Error("a nil clock was accepted")
	}
	if _, err := crm.NewClient(nil); err == nil {
		t.Error("a nil driver was accepted")
	}
}

// Failures must not carry field values into spans or audit logs either.
func TestFailuresCarryNoValues(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	var logs strings.Builder
	c, _ := newClient(t, nil, crm.WithTracerProvider(tp), crm.WithAuditor(crm.SlogAuditor(slog.New(slog.NewTextHandler(&logs, nil)))))
	secret := "ada.secret@example.com"
	for _, err := range c.Query(t.Context(), crm.Query{Object: "Contact", Where: crm.Eq("Score", secret)}) {
		if !errors.Is(err, crm.ErrValidation) && !errors.Is(err, crm.ErrInvalidRequest) {
			t.Fatalf("a string compared with an int field: %v", err)
		}
	}
	rs, err := c.Write(t.Context(), "Contact", []crm.Write{
		{Op: crm.OpCreate, Fields: crm.Fields{"LastName": "A", "Email": secret}},
		{Op: crm.OpCreate, Fields: crm.Fields{"LastName": "B", "Email": secret}}, // duplicate
		{Op: crm.OpCreate, Fields: crm.Fields{"LastName": "C", "Birthdate": secret}},
		{Op: crm.OpUpsert, ExternalField: "ExternalId", ExternalValue: "k", Fields: crm.Fields{"ExternalId": secret}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(rs.Failed()); got != "[1 2 3]" {
		t.Fatalf("failed %s, want [1 2 3]", got)
	}
	everything := logs.String() + rs.Err().Error()
	for _, s := range sr.Ended() {
		everything += fmt.Sprintf("%v %v %v", s.Attributes(), s.Events(), s.Status())
	}
	if strings.Contains(everything, "secret") {
		t.Fatalf("a field value leaked:\n%s", everything)
	}
	if !strings.Contains(logs.String(), "crm call") {
		t.Fatal("the audit log is empty: the scan proves nothing")
	}
}
