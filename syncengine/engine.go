package syncengine

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/mapping"
	"github.com/crmkit/crmkit/syncengine/conflict"
)

// Direction says which ways a pairing syncs.
type Direction uint8

const (
	// Both syncs changes both ways (the default).
	Both Direction = iota
	// AppToCRM only sends application changes to the CRM.
	AppToCRM
	// CRMToApp only brings CRM changes into the application.
	CRMToApp
)

// DeletePolicy says what a delete on one side does to the other.
type DeletePolicy uint8

const (
	// DeletePropagate deletes the linked record on the other side (the
	// default).
	DeletePropagate DeletePolicy = iota
	// DeleteArchive writes the pairing's archive fields to the other side's
	// record instead (such as Status = "Inactive"), and keeps it.
	DeleteArchive
	// DeleteIgnore leaves the other side's record alone and forgets the
	// link: if that record changes later, it is synced back as a new record.
	DeleteIgnore
)

// MatchRule pairs records on first contact by a natural key: the
// application field App and the CRM field CRM hold the same value (such as an
// email address). Text is compared ignoring case and surrounding spaces.
type MatchRule struct {
	App string
	CRM string
}

// MatchFunc finds, for a record of side that has no link yet, the id of its
// counterpart on the other side; "" when it has none. It is the host's own
// matching, tried after the sync key and the MatchRules.
type MatchFunc func(ctx context.Context, side Side, rec *Record) (string, error)

// Pairing declares what to sync: an application object and a CRM object,
// the map between them, and the rules for matching, conflicts and deletes.
type Pairing struct {
	// Name identifies the pairing in the store; the map's name by default.
	Name string
	// Map converts records between the two sides (see package mapping).
	Map *mapping.Map
	// App and CRM are the two endpoints.
	App Endpoint
	CRM Endpoint
	// Direction restricts the sync to one way; Both by default.
	Direction Direction
	// Resolver decides conflicts; NewestWins(2s, CRM) by default.
	Resolver conflict.Resolver
	// Match lists the natural keys tried on first contact, in order, after
	// the sync key.
	Match []MatchRule
	// MatchFunc is the host's own matching, tried last.
	MatchFunc MatchFunc
	// OnAppDelete says what a delete in the application does in the CRM;
	// OnCRMDelete, the other way.
	OnAppDelete DeletePolicy
	OnCRMDelete DeletePolicy
	// ArchiveCRM are the fields (in the CRM's names) written to archive a
	// CRM record, for OnAppDelete: DeleteArchive; ArchiveApp the same for the
	// application.
	ArchiveCRM crm.Fields
	ArchiveApp crm.Fields
}

// Option configures an Engine.
type Option func(*Engine)

// WithLogger sets the logger (slog.Default() otherwise).
func WithLogger(l *slog.Logger) Option { return func(e *Engine) { e.log = l } }

// WithClock sets the clock used for retry schedules and timestamps.
func WithClock(now func() time.Time) Option { return func(e *Engine) { e.now = now } }

// WithProgress sets a callback that receives the run's report so far after
// each batch of writes lands and at the end of the run (Finished set), so a
// host can show progress. It is called on the run's goroutine: keep it quick.
func WithProgress(fn func(Report)) Option { return func(e *Engine) { e.progress = fn } }

// WithMaxAttempts sets how many times a write is sent before it becomes a
// dead letter (8 by default).
func WithMaxAttempts(n int) Option { return func(e *Engine) { e.maxAttempts = n } }

// WithBackoff sets the wait before retry n (n >= 1). The default is
// exponential with full jitter, from 200ms up to one minute. A CRM's
// Retry-After is honoured when it asks for longer.
func WithBackoff(fn func(n int) time.Duration) Option { return func(e *Engine) { e.backoff = fn } }

// WithPatience sets how long RunOnce waits for writes scheduled for a retry
// before it returns and leaves them to the next run (2 minutes by default).
func WithPatience(d time.Duration) Option { return func(e *Engine) { e.patience = d } }

// WithWindow sets how many changes per side one planning step reads
// (10,000 by default). Both sides are read before anything is decided, so a
// record changed on both sides within a window is seen as a conflict.
func WithWindow(n int) Option { return func(e *Engine) { e.window = n } }

// WithQuotaWait sets how long writes refused because a side's API quota is
// spent wait before they are sent again (15 minutes by default, or the
// CRM's Retry-After when it says). They are not dead-lettered and their
// attempts are not counted: the records are not at fault. The rest of the
// run sends that side nothing more.
func WithQuotaWait(d time.Duration) Option { return func(e *Engine) { e.quotaWait = d } }

// WithBatchSize caps the writes per call to either side below the side's own
// batch size (a smaller batch loses less work to a crash, and makes a
// refused batch cheaper to split).
func WithBatchSize(n int) Option { return func(e *Engine) { e.batchCap = n } }

// WithOwner names this worker in leases (a random name by default).
func WithOwner(name string) Option { return func(e *Engine) { e.owner = name } }

// WithLeaseTTL sets how long a run's lease on the pairing lasts before
// another worker may take it over (5 minutes by default); a run renews it at
// every step.
func WithLeaseTTL(d time.Duration) Option { return func(e *Engine) { e.leaseTTL = d } }

// WithRefresh sets the hook called when a side refuses a batch of writes as
// "unauthorized": it should force a token refresh (auth.Reuse's Invalidate,
// for example). The engine calls it once and retries; a second refusal ends
// the run with the error, and the writes stay pending. (Reads go through the
// endpoint's own transport, whose auth.Transport refreshes on a 401 itself.)
func WithRefresh(fn func(ctx context.Context, side Side) error) Option {
	return func(e *Engine) { e.refresh = fn }
}

// WithMeterProvider sets where the engine's metrics go (otel's global
// provider by default): counters of records read, writes, echoes,
// conflicts, retries, dead letters and API calls, by pairing and side, and a
// histogram of run durations.
func WithMeterProvider(mp metric.MeterProvider) Option { return func(e *Engine) { e.mp = mp } }

// WithTracerProvider sets where the engine's spans go (otel's global
// provider by default).
func WithTracerProvider(tp trace.TracerProvider) Option { return func(e *Engine) { e.tp = tp } }

// Engine keeps one Pairing in sync. Build it with New; run it with RunOnce,
// or Run for a loop. An Engine is safe for concurrent use, and runs of one
// pairing never overlap: they take the pairing's lease in the store, which
// also keeps two processes sharing a store from running it at once.
type Engine struct {
	p     Pairing
	store Store
	name  string

	log         *slog.Logger
	now         func() time.Time
	progress    func(Report)
	maxAttempts int
	backoff     func(int) time.Duration
	patience    time.Duration
	window      int
	batchCap    int
	quotaWait   time.Duration
	owner       string
	leaseTTL    time.Duration
	refresh     func(context.Context, Side) error
	tp          trace.TracerProvider
	tracer      trace.Tracer
	mp          metric.MeterProvider
	metrics     *metrics

	appSet, crmSet map[string]bool // the fields compared on each side
	// plainApp holds the application fields a plain rule fills from one
	// CRM field; the others are computed from the whole record.
	plainApp map[string]bool

	runMu  sync.Mutex
	notify chan struct{}
}

// ErrLeaseHeld is returned by RunOnce when another worker is running the
// pairing.
var ErrLeaseHeld = errors.New("syncengine: another worker holds the pairing's lease")

// New returns an Engine for a pairing over a store.
func New(store Store, p Pairing, opts ...Option) (*Engine, error) {
	var missing []string
	if store == nil {
		missing = append(missing, "a Store")
	}
	if p.Map == nil {
		missing = append(missing, "Pairing.Map")
	}
	if p.App == nil {
		missing = append(missing, "Pairing.App")
	}
	if p.CRM == nil {
		missing = append(missing, "Pairing.CRM")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("syncengine: New needs %s", strings.Join(missing, ", "))
	}
	if p.Name == "" {
		p.Name = p.Map.Name()
	}
	if p.Resolver == nil {
		p.Resolver = conflict.NewestWins(2*time.Second, conflict.CRM)
	}
	if p.OnAppDelete == DeleteArchive && len(p.ArchiveCRM) == 0 {
		return nil, fmt.Errorf("syncengine: pairing %q archives CRM records on an application delete but Pairing.ArchiveCRM is empty; name the fields that mark a record archived", p.Name)
	}
	if p.OnCRMDelete == DeleteArchive && len(p.ArchiveApp) == 0 {
		return nil, fmt.Errorf("syncengine: pairing %q archives application records on a CRM delete but Pairing.ArchiveApp is empty; name the fields that mark a record archived", p.Name)
	}
	e := &Engine{
		p: p, store: store, name: p.Name,
		log: slog.Default(), now: time.Now, maxAttempts: 8, patience: 2 * time.Minute,
		window: 10000, leaseTTL: 5 * time.Minute, quotaWait: 15 * time.Minute, tp: otel.GetTracerProvider(), mp: otel.GetMeterProvider(),
		notify: make(chan struct{}, 1),
	}
	for _, o := range opts {
		o(e)
	}
	if e.backoff == nil {
		e.backoff = defaultBackoff
	}
	if e.owner == "" {
		var b [8]byte
		_, _ = crand.Read(b[:])
		e.owner = "worker-" + hex.EncodeToString(b[:])
	}
	if e.maxAttempts < 1 {
		e.maxAttempts = 1
	}
	e.tracer = e.tp.Tracer("github.com/crmkit/crmkit/syncengine")
	var err error
	if e.metrics, err = newMetrics(e.mp, e.name); err != nil {
		return nil, fmt.Errorf("syncengine: metrics: %w", err)
	}
	e.appSet, e.crmSet = fieldSets(p.Map)
	e.plainApp = plainFields(p.Map)
	// A CRM endpoint built without a field list would read only the
	// driver's default fields (HubSpot's are a handful): read the map's.
	if ce, ok := p.CRM.(*CRMEndpoint); ok && ce.fields == nil {
		ce.fields = appendMissing(p.Map.CRMFields(), ce.extField)
	}
	return e, nil
}

// fieldSets finds the fields each side's changes are compared on: the
// fields the map reads from that side, and those it writes to it.
func fieldSets(m *mapping.Map) (app, crmSet map[string]bool) {
	app, crmSet = map[string]bool{}, map[string]bool{}
	ctx := context.Background()
	appNil, crmNil := crm.Fields{}, crm.Fields{}
	for _, f := range m.AppFields() {
		app[f] = true
		appNil[f] = nil
	}
	for _, f := range m.CRMFields() {
		crmSet[f] = true
		crmNil[f] = nil
	}
	if out, err := m.FromCRM(ctx, crmNil); err == nil {
		for f := range out {
			app[f] = true
		}
	}
	if out, err := m.ToCRM(ctx, appNil); err == nil {
		for f := range out {
			crmSet[f] = true
		}
	}
	return app, crmSet
}

// plainFields finds the application fields that plain rules fill from a
// single CRM field: each CRM field alone is converted, and what every one of
// them yields (constants) is left out. Fields outside the result are
// computed from several CRM fields, so a change to any CRM field may change
// them.
func plainFields(m *mapping.Map) map[string]bool {
	ctx := context.Background()
	var (
		outs   []map[string]bool
		common map[string]bool
	)
	for _, c := range m.CRMFields() {
		out, err := m.FromCRM(ctx, crm.Fields{c: nil})
		if err != nil {
			continue
		}
		keys := map[string]bool{}
		for f := range out {
			keys[f] = true
		}
		outs = append(outs, keys)
		if common == nil {
			common = maps.Clone(keys)
		} else {
			for f := range common {
				if !keys[f] {
					delete(common, f)
				}
			}
		}
	}
	plain := map[string]bool{}
	for _, keys := range outs {
		for f := range keys {
			if !common[f] || len(outs) == 1 {
				plain[f] = true
			}
		}
	}
	return plain
}

func defaultBackoff(n int) time.Duration {
	const base, ceiling = 200 * time.Millisecond, time.Minute
	d := base
	for i := 1; i < n && d < ceiling; i++ {
		d *= 2
	}
	d = min(d, ceiling)
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

// Name returns the pairing's name.
func (e *Engine) Name() string { return e.name }

// Notify asks a running Run loop to sync now instead of at its next tick: call
// it from a webhook handler. Polling stays the safety net; a change seen both
// through a webhook and through polling is applied once, because the feed is
// read from the stored cursor and applying is idempotent.
func (e *Engine) Notify() {
	select {
	case e.notify <- struct{}{}:
	default:
	}
}

// Run syncs every interval, and at once when Notify is called, until ctx
// ends. A failed run is logged and tried again at the next tick; Run returns
// ctx's error.
func (e *Engine) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := e.RunOnce(ctx); err != nil && ctx.Err() == nil {
			e.log.LogAttrs(ctx, slog.LevelError, "syncengine: run failed", slog.String("pairing", e.name), slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		case <-e.notify:
		}
	}
}

// RunOnce syncs the pairing once: it first re-sends writes left in the
// outbox (by a crash or a retry schedule), then reads both sides' changes
// since their cursors, plans the writes, stores them in the outbox with the
// new cursors, and sends them in batches. Writes that fail transiently are
// retried with backoff while the run's patience lasts; the rest wait for the
// next run. The report counts what happened; the error is non-nil only when
// the run could not go on (a side unreachable, the store failing, ctx ended).
func (e *Engine) RunOnce(ctx context.Context) (*Report, error) {
	e.runMu.Lock()
	defer e.runMu.Unlock()
	ctx, span := e.tracer.Start(ctx, "syncengine.run", trace.WithAttributes(attribute.String("crmkit.pairing", e.name)))
	defer span.End()

	rep := &Report{Pairing: e.name, Started: e.now()}
	r := &run{e: e, rep: rep}
	err := r.do(ctx)
	rep.Finished = e.now()
	if n, perr := e.countPending(ctx); perr == nil {
		rep.Pending = n
	}
	span.SetAttributes(
		attribute.Int("crmkit.sync.read", rep.Read.Total()),
		attribute.Int("crmkit.sync.writes", rep.Writes()),
		attribute.Int("crmkit.sync.dead_lettered", rep.DeadLettered),
	)
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelError
		span.RecordError(err)
	}
	e.log.LogAttrs(ctx, level, "syncengine: run finished", slog.Any("report", *rep), errAttr(err))
	e.metrics.record(ctx, rep, err)
	e.emit(rep)
	return rep, err
}

func errAttr(err error) slog.Attr {
	if err == nil {
		return slog.Attr{}
	}
	return slog.String("error", err.Error())
}

func (e *Engine) emit(rep *Report) {
	if e.progress != nil {
		e.progress(rep.clone())
	}
}

func (e *Engine) countPending(ctx context.Context) (int, error) {
	es, err := e.store.Outbox(context.WithoutCancel(ctx), e.name, OutboxQuery{})
	return len(es), err
}

// run is one RunOnce's state.
type run struct {
	e         *Engine
	rep       *Report
	refreshed map[Side]bool
	// fullRead marks a side whose whole feed, from the beginning, is in the
	// window: every record it has is in hand, so matching need not ask it.
	fullRead map[Side]bool
	// quotaOut holds, per side, the refusal that said its quota is spent.
	quotaOut map[Side]error
}

func (r *run) do(ctx context.Context) error {
	e := r.e
	ok, err := e.store.AcquireLease(ctx, e.name, e.owner, e.leaseTTL)
	if err != nil {
		return err
	}
	if !ok {
		return ErrLeaseHeld
	}
	defer func() {
		_ = e.store.ReleaseLease(context.WithoutCancel(ctx), e.name, e.owner)
	}()

	// Writes left by a crash go first, so that the feeds below show their
	// results rather than a half-done state.
	if err := r.drive(ctx, false); err != nil {
		return err
	}
	for {
		more, err := r.planStep(ctx)
		if err != nil {
			return err
		}
		if err := r.drive(ctx, false); err != nil {
			return err
		}
		e.emit(r.rep)
		if !more {
			break
		}
		if ok, err := e.store.AcquireLease(ctx, e.name, e.owner, e.leaseTTL); err != nil {
			return err
		} else if !ok {
			return ErrLeaseHeld
		}
	}
	return r.drive(ctx, true)
}
