package retry

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"syscall"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/errchain"
)

// Defaults of a Policy built by [New] with no options.
const (
	DefaultMaxAttempts   = 5
	DefaultMaxElapsed    = 2 * time.Minute
	DefaultBase          = 250 * time.Millisecond
	DefaultCap           = 30 * time.Second
	DefaultMaxRetryAfter = 5 * time.Minute
)

// Policy decides whether a failed CRM call is tried again and how long to wait
// first. One Policy holds the whole decision, so the HTTP transport, the sync
// engine and a host application that retries by hand all agree on it: which
// errors are worth another try, the exponential backoff with full jitter, the
// server's Retry-After, the bounds on attempts and elapsed time, and an
// optional [Budget] shared by every caller of one tenant's client.
//
// A Policy is immutable once built and safe for concurrent use.
type Policy struct {
	maxAttempts   int
	maxElapsed    time.Duration
	base, cap     time.Duration
	maxRetryAfter time.Duration
	budget        *Budget
	random        func() float64
}

// Option configures a Policy.
type Option func(*Policy)

// New returns a Policy. Without options it makes at most 5 attempts in all
// (the first one included) within 2 minutes, waits a full-jitter exponential
// backoff from 250ms capped at 30s, honours a Retry-After of up to 5 minutes,
// and has no budget.
func New(opts ...Option) *Policy {
	p := &Policy{
		maxAttempts:   DefaultMaxAttempts,
		maxElapsed:    DefaultMaxElapsed,
		base:          DefaultBase,
		cap:           DefaultCap,
		maxRetryAfter: DefaultMaxRetryAfter,
		random:        rand.Float64,
	}
	for _, o := range opts {
		if o != nil {
			o(p)
		}
	}
	return p
}

// WithMaxAttempts bounds the attempts a call gets, the first one included, so
// a call that keeps failing fails in bounded time. n below 1 means 1: no
// retries at all.
func WithMaxAttempts(n int) Option {
	return func(p *Policy) { p.maxAttempts = max(n, 1) }
}

// WithMaxElapsed bounds the time from the start of the first attempt to the
// start of the last one: a retry whose wait would end later than this is not
// made. Zero or less means no bound on elapsed time (MaxAttempts still holds).
func WithMaxElapsed(d time.Duration) Option {
	return func(p *Policy) { p.maxElapsed = d }
}

// WithBackoff sets the backoff's base (the largest wait before the first
// retry) and its cap (the largest wait ever). A negative base counts as zero;
// a cap below the base is raised to the base.
func WithBackoff(base, max time.Duration) Option {
	return func(p *Policy) {
		p.base = base
		if p.base < 0 {
			p.base = 0
		}
		p.cap = max
		if p.cap < p.base {
			p.cap = p.base
		}
	}
}

// WithMaxRetryAfter sets the longest Retry-After the policy will wait for. A
// CRM that asks for a longer pause (an exhausted hourly or daily allocation,
// say) gets no retry at all: holding a goroutine and a connection for that
// long helps nobody, and the caller is better told at once.
func WithMaxRetryAfter(d time.Duration) Option {
	return func(p *Policy) { p.maxRetryAfter = max(d, 0) }
}

// WithBudget makes every retry draw from b; when b cannot pay, the call fails
// with its last error instead of retrying. Give each tenant's client its own
// Budget: sharing one across tenants lets one tenant's outage stop the
// others' retries.
func WithBudget(b *Budget) Option {
	return func(p *Policy) { p.budget = b }
}

// WithRandom replaces the jitter source, which must return values in [0, 1)
// and be safe for concurrent use if the Policy is. Tests use it to pin the
// backoff; values outside [0, 1) are clamped into it.
func WithRandom(f func() float64) Option {
	return func(p *Policy) {
		if f != nil {
			p.random = f
		}
	}
}

// MaxAttempts returns the most attempts a call gets, the first one included.
func (p *Policy) MaxAttempts() int { return p.maxAttempts }

// MaxRetryAfter returns the longest Retry-After the policy waits for. A
// transport that also pauses a rate limiter's lane on a Retry-After bounds
// the pause by it: a CRM that asks for a longer pause has run out of an
// allocation, and every caller is better told at once than held.
func (p *Policy) MaxRetryAfter() time.Duration { return p.maxRetryAfter }

// Backoff returns the wait before retry number n (n >= 1; smaller n counts as
// 1): full jitter, drawn uniformly from [0, min(cap, base*2^(n-1))]. Full
// jitter spreads a crowd of clients that failed together, so they do not come
// back together. It never overflows, however large n is.
func (p *Policy) Backoff(n int) time.Duration {
	ceiling := p.ceiling(n)
	if ceiling <= 0 {
		return 0
	}
	random := p.random
	if random == nil { // a zero Policy
		random = rand.Float64
	}
	r := random()
	if !(r >= 0) { // also catches NaN
		r = 0
	}
	w := time.Duration(r * float64(ceiling))
	if w > ceiling || w < 0 {
		w = ceiling
	}
	return w
}

// ceiling returns min(cap, base*2^(n-1)) without overflow.
func (p *Policy) ceiling(n int) time.Duration {
	d := p.base
	if d <= 0 {
		return 0
	}
	for i := 1; i < n; i++ {
		if d > p.cap/2 {
			return p.cap
		}
		d *= 2
	}
	return min(d, p.cap)
}

// Retryable reports whether err is worth another attempt, in this order:
//
//   - context.Canceled and context.DeadlineExceeded themselves, anywhere in
//     err's chain, are not (see [IsCallerCancellation]): the caller gave up,
//     even when a *crm.Error of a retryable Kind wraps the cancellation;
//   - a *crm.Error in err's chain answers with its Kind's Retryable (rate
//     limited and unavailable are retryable); one of KindUnknown is looked
//     through, to its cause;
//   - transient network failures are: a net.Error that timed out (including
//     net/http's own client and header timeouts, which match
//     context.DeadlineExceeded without being it), a connection reset,
//     refused, aborted or broken, a temporary DNS failure,
//     io.ErrUnexpectedEOF, and io.EOF beneath a *url.Error or *net.OpError
//     (the server closed the connection before it answered); an io.EOF
//     anywhere else (a decoder that ran out of input, say) is not;
//   - anything else is not.
//
// Retryable cannot know whose deadline a timeout belongs to. [Policy.Do]
// stops as soon as its own ctx is done whatever Retryable says, and a
// transport that calls [Policy.Decide] must check its request's context first.
func (p *Policy) Retryable(err error) bool {
	if err == nil || IsCallerCancellation(err) {
		return false
	}
	var ce *crm.Error
	if errors.As(err, &ce) && ce.Kind != crm.KindUnknown {
		return ce.Kind.Retryable()
	}
	if isTimeout(err) {
		return true
	}
	for _, errno := range transientErrnos {
		if errors.Is(err, errno) {
			return true
		}
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.IsTemporary || dns.IsTimeout
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || eofFromNetwork(err, false)
}

// eofFromNetwork reports whether io.EOF itself sits in err's chain beneath a
// *url.Error or a *net.OpError: a connection the server closed, not a reader
// of ours that reached the end of its input.
func eofFromNetwork(err error, beneath bool) bool {
	for n := 0; err != nil && n < errchain.Max; n++ {
		if err == io.EOF {
			return beneath
		}
		switch err.(type) {
		case *url.Error, *net.OpError:
			beneath = true
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if eofFromNetwork(e, beneath) {
					return true
				}
			}
			return false
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		default:
			return false
		}
	}
	return false
}

var transientErrnos = []error{
	syscall.ECONNRESET, syscall.ECONNREFUSED, syscall.ECONNABORTED, syscall.EPIPE,
}

// IsCallerCancellation reports whether err's chain holds context.Canceled or
// context.DeadlineExceeded themselves: the caller cancelled, or its deadline
// passed (or would pass before the call could be made). Such a failure is the
// caller's own decision, not the CRM's, and is never retried.
//
// It differs from errors.Is(err, context.DeadlineExceeded), which also holds
// for net/http's client and header timeouts: those only say they match the
// sentinel, are network timeouts, and are worth a retry.
func IsCallerCancellation(err error) bool {
	for _, e := range errchain.Walk(err) {
		if e == context.Canceled || e == context.DeadlineExceeded {
			return true
		}
	}
	return false
}

// isTimeout reports whether err is a timeout of the network or the transport,
// not the bare context sentinel.
func isTimeout(err error) bool {
	for _, e := range errchain.Walk(err) {
		if e == context.DeadlineExceeded {
			continue
		}
		if dns, ok := e.(*net.DNSError); ok && dns.IsTimeout {
			return true
		}
		// A wrapper (url.Error, net.OpError) answers Timeout from its cause,
		// which the walk visits too; asking it would count a bare
		// context.DeadlineExceeded as a network timeout.
		if wraps(e) {
			continue
		}
		if t, ok := e.(interface{ Timeout() bool }); ok && t.Timeout() {
			return true
		}
	}
	return false
}

func wraps(e error) bool {
	switch e.(type) {
	case interface{ Unwrap() error }, interface{ Unwrap() []error }:
		return true
	}
	return false
}

// Attempt describes one failed attempt, for [Policy.Decide].
type Attempt struct {
	// Number counts the attempts made so far, this one included (>= 1).
	Number int
	// Err is why the attempt failed.
	Err error
	// Elapsed is the time since the first attempt started.
	Elapsed time.Duration
	// Idempotent says the request may be repeated safely: GET, PUT or DELETE,
	// or a POST or PATCH that carries an idempotency key or writes by
	// external id. Nothing else is ever retried, since a retry of a create
	// whose response was lost makes a duplicate.
	Idempotent bool
	// RetryAfter is the pause the server asked for. When zero it is taken
	// from a *crm.Error's RetryAfter in Err's chain.
	RetryAfter time.Duration
}

// Decide says whether to retry after a failed attempt, and how long to wait
// first. It says no when the error is not [Policy.Retryable], when the request
// is not idempotent, when Number has reached MaxAttempts, when the server's
// Retry-After is longer than MaxRetryAfter, when Elapsed plus the wait would
// pass MaxElapsed, or when the budget cannot pay for the retry.
//
// Without a Retry-After the wait is [Policy.Backoff](Number). With one, it is
// the Retry-After plus a jitter drawn like the backoff, cut short where it
// would pass MaxElapsed: callers throttled by the same 429 then come back
// spread out rather than all at the moment the CRM named.
//
// A yes has drawn the retry's cost from the budget, so call Decide once per
// failed attempt.
func (p *Policy) Decide(a Attempt) (wait time.Duration, retry bool) {
	if !a.Idempotent || !p.Retryable(a.Err) {
		return 0, false
	}
	n := max(a.Number, 1)
	if n >= p.maxAttempts {
		return 0, false
	}
	retryAfter := a.RetryAfter
	if retryAfter <= 0 {
		retryAfter = RetryAfter(a.Err)
	}
	if retryAfter > p.maxRetryAfter {
		return 0, false
	}
	jitter := p.Backoff(n)
	if retryAfter > 0 && p.maxElapsed > 0 {
		// The Retry-After is what the CRM needs; the jitter gives way to
		// the elapsed bound.
		jitter = min(jitter, max(p.maxElapsed-a.Elapsed-retryAfter, 0))
	}
	wait = retryAfter + jitter
	if p.maxElapsed > 0 && a.Elapsed+wait > p.maxElapsed {
		return 0, false
	}
	if p.budget != nil {
		cost := RetryCost
		if isTimeout(a.Err) {
			cost = TimeoutCost
		}
		if !p.budget.take(cost) {
			return 0, false
		}
	}
	return wait, true
}

// RetryAfter returns the RetryAfter of the first *crm.Error in err's chain,
// or zero.
func RetryAfter(err error) time.Duration {
	var ce *crm.Error
	if errors.As(err, &ce) && ce.RetryAfter > 0 {
		return ce.RetryAfter
	}
	return 0
}

// Success tells the policy that a call succeeded, which refunds its budget one
// token. [Policy.Do] calls it itself; a transport that uses Decide calls it
// after each successful response.
func (p *Policy) Success() {
	if p.budget != nil {
		p.budget.refund(1)
	}
}

// Do calls fn until it succeeds or [Policy.Decide] says to stop, waiting with
// [Sleep] between attempts, and returns the last attempt's error. If ctx ends
// (before an attempt, or during a wait) Do returns ctx.Err() at once. idempotent
// is as in [Attempt]: when false, fn is called once whatever happens.
//
// fn receives ctx unchanged; it should build its request afresh on every call,
// so a retry never sends a body the previous attempt already consumed.
func (p *Policy) Do(ctx context.Context, idempotent bool, fn func(ctx context.Context) error) error {
	start := time.Now()
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := fn(ctx)
		if err == nil {
			p.Success()
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		wait, ok := p.Decide(Attempt{Number: n, Err: err, Elapsed: time.Since(start), Idempotent: idempotent})
		if !ok {
			return err
		}
		if serr := Sleep(ctx, wait); serr != nil {
			return serr
		}
	}
}

// Sleep waits for d or until ctx is done, whichever comes first, and returns
// ctx.Err() if ctx ended it (or was already done), nil otherwise. Unlike
// time.Sleep it lets a cancelled sync or a shutting-down server stop waiting
// at once.
func Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

type idempotentKey struct{}

// MarkIdempotent returns a context that marks its request as safe to repeat,
// for a transport that decides per request. An adapter marks, for example, a
// PATCH that upserts by external id: its method alone would say no.
//
// The mark passes to every context derived from the one returned, and so to
// every later request made with one of them: mark only the request's own
// context, right where the request is built, never a context that a sync
// run or a caller passes on (a later create made with it would be retried,
// and could be made twice). crmkit's HTTP transport also offers a mark on
// the request itself (httpx.MarkIdempotent), which cannot spread.
func MarkIdempotent(ctx context.Context) context.Context {
	return context.WithValue(ctx, idempotentKey{}, true)
}

// IsIdempotent reports whether ctx was marked by [MarkIdempotent].
func IsIdempotent(ctx context.Context) bool {
	v, _ := ctx.Value(idempotentKey{}).(bool)
	return v
}
