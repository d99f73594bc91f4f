package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/retry"
)

// DefaultLane is the lane of a CRM's ordinary API calls. A request that names
// no lane ("") goes in it too.
const DefaultLane = "default"

// DefaultSlowdownThreshold is the share of a window's allocation below which
// a lane slows down: when fewer than 10% of the window's requests remain.
const DefaultSlowdownThreshold = 0.10

// Limiter paces the requests of one client (one tenant, one CRM org) so that
// they stay inside the CRM's limits, and learns those limits from what the
// CRM says in its responses.
//
// It has lanes, each with its own token bucket, for APIs the CRM limits
// separately (HubSpot's search has its own 5 requests a second); a pause per
// lane, for a CRM that answered 429 with Retry-After; a slowdown per lane,
// when a response says little of the window's allocation is left; and a guard
// on the daily allocation, which refuses requests before the CRM starts to.
//
// A Limiter is safe for concurrent use. Give each tenant its own.
type Limiter struct {
	now       func() time.Time
	guard     float64 // share of the daily allocation; 0 means no guard
	threshold float64 // slowdown below this share of Limit remaining
	nextReset func(observed time.Time) time.Time

	mu         sync.Mutex
	lanes      map[string]*lane
	daily      crm.Quota
	dailyReset time.Time // when the observed daily figures go stale
}

type lane struct {
	name       string
	configured rate.Limit
	burst      int
	lim        *rate.Limiter

	// guarded by Limiter.mu
	slowed      bool
	window      time.Duration // the last window the CRM reported
	pausedUntil time.Time
}

// Option configures a Limiter.
type Option func(*Limiter)

// New returns a Limiter. Without options every lane is unlimited and there is
// no daily guard; the limiter then only honours pauses and the slowdowns that
// responses ask for.
func New(opts ...Option) *Limiter {
	l := &Limiter{
		now:       time.Now,
		threshold: DefaultSlowdownThreshold,
		nextReset: nextMidnight,
		lanes:     make(map[string]*lane),
	}
	for _, o := range opts {
		if o != nil {
			o(l)
		}
	}
	return l
}

// WithLane sets a lane's steady rate, in requests a second, and its burst (see
// golang.org/x/time/rate). The default lane and lanes never configured are
// unlimited (rate.Inf) unless a response slows them. Use a separate lane for
// an API that the CRM limits separately, such as HubSpot's search:
//
//	ratelimit.WithLane("search", 5, 1)
//
// A negative or NaN rate counts as 0, which lets only the burst through, and
// then refuses; a burst below 1 counts as 1.
func WithLane(name string, r rate.Limit, burst int) Option {
	return func(l *Limiter) {
		if name == "" {
			name = DefaultLane
		}
		if !(r >= 0) {
			r = 0
		}
		burst = max(burst, 1)
		l.lanes[name] = &lane{name: name, configured: r, burst: burst, lim: rate.NewLimiter(r, burst)}
	}
}

// WithDailyGuard makes Wait refuse, with a *crm.Error of KindQuotaExhausted,
// once the observed daily use reaches share of the daily allocation (0.8 stops
// at 80%), leaving the rest for the org's other integrations and its users.
// The guard holds until the figures go stale at the next day boundary (see
// [WithDailyReset]) or a response reports a different allocation (DailyLimit).
// Lower use reported before then does not lift it: concurrent responses
// arrive out of order, and the highest use seen in a day is the true one. A
// share above 1 counts as 1; zero, negative or NaN turns the guard off.
func WithDailyGuard(share float64) Option {
	return func(l *Limiter) {
		switch {
		case !(share > 0):
			l.guard = 0
		case share > 1:
			l.guard = 1
		default:
			l.guard = share
		}
	}
}

// WithDailyReset tells the guard when daily figures observed at a time go
// stale: when the CRM's day turns. The default is the next midnight in the
// location of the clock's time, which suits HubSpot (midnight in the
// account's time zone, if the clock's times carry it). The day begins with
// the first daily figures observed after the last one went stale, and ends at
// next(that observation's time). Salesforce's allocation is a rolling 24
// hours, so after a reset the guard lets requests through until a response
// shows the use is still high.
func WithDailyReset(next func(observed time.Time) time.Time) Option {
	return func(l *Limiter) {
		if next != nil {
			l.nextReset = next
		}
	}
}

// WithSlowdownThreshold sets the share of a window's allocation (Remaining
// over Limit) below which a lane slows down; the default is 0.1. Zero turns
// the slowdown off.
func WithSlowdownThreshold(share float64) Option {
	return func(l *Limiter) {
		if !(share >= 0) {
			share = 0
		}
		l.threshold = min(share, 1)
	}
}

// WithClock replaces time.Now. The token buckets, the guard's day boundaries
// and the pauses all read it; waits themselves are real timers.
func WithClock(now func() time.Time) Option {
	return func(l *Limiter) {
		if now != nil {
			l.now = now
		}
	}
}

// clock returns the time, for a zero Limiter too.
func (l *Limiter) clock() time.Time {
	if l.now == nil {
		return time.Now()
	}
	return l.now()
}

func nextMidnight(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, t.Location())
}

// lane returns the named lane, creating an unlimited one if it is new.
// l.mu must be held.
func (l *Limiter) lane(name string) *lane {
	if name == "" {
		name = DefaultLane
	}
	ln, ok := l.lanes[name]
	if !ok {
		if l.lanes == nil { // a zero Limiter
			l.lanes = make(map[string]*lane)
		}
		ln = &lane{name: name, configured: rate.Inf, burst: 1, lim: rate.NewLimiter(rate.Inf, 1)}
		l.lanes[name] = ln
	}
	return ln
}

// Wait blocks until the lane may send one request. It returns at once:
//
//   - with ctx's error if ctx is done;
//   - with a *crm.Error of KindQuotaExhausted if the daily guard has tripped;
//   - with a *crm.Error of KindRateLimited, whose RetryAfter is the pause
//     left, if the lane is paused (see [Limiter.Pause]) past ctx's deadline:
//     the CRM, not the caller, decided that the request cannot go in time;
//   - with an error wrapping context.DeadlineExceeded if the lane's pace
//     (its token bucket) would hold the request past ctx's deadline.
//
// Otherwise it sleeps through the lane's pause and its turn in the bucket on
// timers, never in a busy loop, and returns as soon as ctx is done.
func (l *Limiter) Wait(ctx context.Context, laneName string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	ln := l.lane(laneName)
	l.mu.Unlock()

	if err := l.gate(ctx, ln); err != nil {
		return err
	}
	now := l.clock()
	r := ln.lim.ReserveN(now, 1)
	if !r.OK() || r.DelayFrom(now) == rate.InfDuration {
		r.CancelAt(now)
		return fmt.Errorf("ratelimit: lane %q allows no more requests (rate %v, burst %d); configure a positive rate with WithLane",
			ln.name, ln.lim.Limit(), ln.lim.Burst())
	}
	if d := r.DelayFrom(now); d > 0 {
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
			r.CancelAt(now)
			return fmt.Errorf("ratelimit: lane %q cannot send for %v, after the context's deadline: %w", ln.name, d, context.DeadlineExceeded)
		}
		if err := retry.Sleep(ctx, d); err != nil {
			r.CancelAt(l.clock())
			return err
		}
	}
	// A pause or the guard may have begun while this request waited its turn.
	return l.gate(ctx, ln)
}

// gate returns the guard's error, or waits out the lane's pause.
func (l *Limiter) gate(ctx context.Context, ln *lane) error {
	for {
		l.mu.Lock()
		now := l.clock()
		err := l.guardErrLocked(now)
		var pause time.Duration
		if now.Before(ln.pausedUntil) {
			pause = ln.pausedUntil.Sub(now)
		}
		l.mu.Unlock()
		if err != nil {
			return err
		}
		if pause <= 0 {
			return nil
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < pause {
			return &crm.Error{
				Kind:      crm.KindRateLimited,
				Operation: "rate limit",
				Message: fmt.Sprintf("lane %q is paused for another %v at the CRM's request (Retry-After), past the context's deadline; "+
					"retry after the pause, or give the call a longer deadline", ln.name, pause),
				RetryAfter: pause,
			}
		}
		// Loop: the pause may have been extended meanwhile.
		if err := retry.Sleep(ctx, pause); err != nil {
			return err
		}
	}
}

// guardErrLocked returns the daily guard's error, if it has tripped.
func (l *Limiter) guardErrLocked(now time.Time) error {
	q := l.daily
	if l.guard <= 0 || q.Max <= 0 || !now.Before(l.dailyReset) {
		return nil
	}
	// The small allowance keeps 0.8*100 from becoming 80.00000000000001.
	if float64(q.Used) < l.guard*float64(q.Max)-1e-9 {
		return nil
	}
	return &crm.Error{
		Kind:      crm.KindQuotaExhausted,
		Operation: "rate limit",
		Message: fmt.Sprintf("daily API use %d/%d (%.0f%%) has reached crmkit's daily guard of %.0f%% of the allocation, "+
			"so requests are held until %s or until a response reports lower use; to continue, %s, or set a higher share with ratelimit.WithDailyGuard",
			q.Used, q.Max, 100*float64(q.Used)/float64(q.Max), 100*l.guard,
			l.dailyReset.Format(time.RFC3339), crm.KindQuotaExhausted.Remedy()),
		RetryAfter: l.dailyReset.Sub(now),
	}
}

// Observation is what one response said about the CRM's limits. A zero field
// means the response did not say, with one exception: Remaining is taken as
// said whenever Limit is, since an exhausted window reports 0.
//
// How the three CRMs fill it:
//
//   - Salesforce: DailyUsed and DailyLimit from Sforce-Limit-Info
//     (see [ParseSalesforceLimitInfo]); 403 REQUEST_LIMIT_EXCEEDED means the
//     daily allocation is gone.
//   - HubSpot: Remaining, Limit and Window from X-HubSpot-RateLimit-Remaining,
//     -Max and -Interval-Milliseconds; DailyLimit from -Daily and DailyUsed as
//     -Daily minus -Daily-Remaining (absent for OAuth apps); search
//     responses carry none of these and belong in their own lane.
//   - Dynamics 365: Remaining from x-ms-ratelimit-burst-remaining-xrm-requests
//     with the documented Limit (6000) and Window (300s) of its service
//     protection limits; RetryAfter from a 429's Retry-After.
type Observation struct {
	// Remaining and Limit are the requests left, and allowed, in the lane's
	// current window.
	Remaining, Limit int64
	// Window is the length of that window.
	Window time.Duration
	// DailyUsed and DailyLimit are the daily allocation's use and size.
	DailyUsed, DailyLimit int64
	// RetryAfter is a pause the CRM asked for, as on a 429.
	RetryAfter time.Duration
}

// Observe feeds the limiter what one response said.
//
// When Remaining falls below the slowdown threshold (10% of Limit by default)
// the lane slows so that what remains spreads over the window: its rate
// becomes Remaining/Window (at least one request a window, and never above
// the lane's configured rate), its burst 1. Crmkit thus slows down before the
// CRM answers 429. When a later response shows Remaining above the threshold
// again, the lane's configured rate comes back. Without a Window in this or an
// earlier observation of the lane, Observe cannot spread and does not slow.
//
// Daily figures update the guard's: within one day (see [WithDailyReset]) and
// for the same DailyLimit the highest DailyUsed is kept, since responses to
// concurrent requests arrive out of order; a new day or a different
// DailyLimit replaces them. RetryAfter pauses the lane (see [Limiter.Pause]).
func (l *Limiter) Observe(laneName string, o Observation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock()
	ln := l.lane(laneName)

	if o.Window > 0 {
		ln.window = o.Window
	}
	if o.Limit > 0 && ln.window > 0 && l.threshold > 0 {
		remaining := max(o.Remaining, 0)
		if float64(remaining) < l.threshold*float64(o.Limit) {
			spread := rate.Limit(float64(max(remaining, 1)) / ln.window.Seconds())
			ln.lim.SetLimitAt(now, min(spread, ln.configured))
			ln.lim.SetBurstAt(now, 1)
			ln.slowed = true
		} else if ln.slowed {
			ln.lim.SetLimitAt(now, ln.configured)
			ln.lim.SetBurstAt(now, ln.burst)
			ln.slowed = false
		}
	}
	if o.DailyLimit > 0 {
		used := max(o.DailyUsed, 0)
		if now.Before(l.dailyReset) && o.DailyLimit == l.daily.Max {
			l.daily.Used = max(l.daily.Used, used)
		} else {
			l.daily = crm.Quota{Used: used, Max: o.DailyLimit}
			if l.nextReset != nil {
				l.dailyReset = l.nextReset(now)
			} else {
				l.dailyReset = nextMidnight(now)
			}
		}
	}
	if o.RetryAfter > 0 {
		l.pauseLocked(ln, now, o.RetryAfter)
	}
}

// Pause holds every request of the lane for d from now, as a CRM's 429 with
// Retry-After asks. A pause never shortens one already in force.
func (l *Limiter) Pause(laneName string, d time.Duration) {
	if d <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pauseLocked(l.lane(laneName), l.clock(), d)
}

func (l *Limiter) pauseLocked(ln *lane, now time.Time, d time.Duration) {
	if until := now.Add(d); until.After(ln.pausedUntil) {
		ln.pausedUntil = until
	}
}

// Daily returns the daily use last observed, whether or not it has gone stale.
func (l *Limiter) Daily() crm.Quota {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.daily
}

// Rate returns the lane's current rate in requests a second: its configured
// rate, or less while a response has slowed it; rate.Inf when unlimited. It
// is for metrics and logs.
func (l *Limiter) Rate(laneName string) rate.Limit {
	if laneName == "" {
		laneName = DefaultLane
	}
	l.mu.Lock()
	ln, ok := l.lanes[laneName]
	l.mu.Unlock()
	if !ok {
		return rate.Inf
	}
	return ln.lim.Limit()
}
