package retry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/retry"
)

func constant(v float64) func() float64 { return func() float64 { return v } }

// ceiling is min(cap, base*2^(n-1)) computed with big floats, independently of
// the package's integer arithmetic.
func ceiling(base, cap time.Duration, n int) time.Duration {
	c := float64(base) * math.Pow(2, float64(n-1))
	if c > float64(cap) {
		return cap
	}
	return time.Duration(c)
}

func TestBackoffWithinBounds(t *testing.T) {
	const base, cap = 250 * time.Millisecond, 30 * time.Second
	t.Run("random draws", func(t *testing.T) {
		p := retry.New(retry.WithBackoff(base, cap))
		for n := 1; n <= 64; n++ {
			hi := ceiling(base, cap, n)
			var biggest time.Duration
			for range 2000 {
				w := p.Backoff(n)
				if w < 0 || w > hi {
					t.Fatalf("Backoff(%d) = %v, want within [0, %v]", n, w, hi)
				}
				biggest = max(biggest, w)
			}
			// 2000 uniform draws all below 80% of the ceiling would mean the
			// jitter does not span the range.
			if biggest < hi*8/10 {
				t.Errorf("Backoff(%d): largest of 2000 draws %v, want near %v", n, biggest, hi)
			}
		}
	})
	t.Run("random 0", func(t *testing.T) {
		p := retry.New(retry.WithBackoff(base, cap), retry.WithRandom(constant(0)))
		for n := 1; n <= 64; n++ {
			if w := p.Backoff(n); w != 0 {
				t.Errorf("Backoff(%d) with random 0 = %v, want 0", n, w)
			}
		}
	})
	t.Run("random 0.999999", func(t *testing.T) {
		p := retry.New(retry.WithBackoff(base, cap), retry.WithRandom(constant(0.999999)))
		for n := 1; n <= 64; n++ {
			hi := ceiling(base, cap, n)
			w := p.Backoff(n)
			if w > hi || w < hi-hi/100000 {
				t.Errorf("Backoff(%d) with random 0.999999 = %v, want just under %v", n, w, hi)
			}
		}
	})
	t.Run("huge n does not overflow", func(t *testing.T) {
		p := retry.New(retry.WithBackoff(time.Hour, math.MaxInt64), retry.WithRandom(constant(0.999999)))
		for _, n := range []int{63, 64, 65, 1000, math.MaxInt32, math.MaxInt} {
			if w := p.Backoff(n); w <= 0 {
				t.Errorf("Backoff(%d) = %v, want positive (no overflow into negatives)", n, w)
			}
		}
	})
	t.Run("out of range input", func(t *testing.T) {
		p := retry.New(retry.WithBackoff(base, cap), retry.WithRandom(constant(7)))
		if w := p.Backoff(0); w != base {
			t.Errorf("Backoff(0) with random 7 = %v, want clamped to %v", w, base)
		}
		p = retry.New(retry.WithBackoff(base, cap), retry.WithRandom(constant(math.NaN())))
		if w := p.Backoff(-3); w != 0 {
			t.Errorf("Backoff(-3) with random NaN = %v, want 0", w)
		}
	})
}

func TestDecideHonoursRetryAfter(t *testing.T) {
	// Random 0.5 makes Backoff(1) half the 250ms base: the jitter is 125ms.
	p := retry.New(retry.WithRandom(constant(0.5)))
	const jitter = 125 * time.Millisecond
	rateLimited := &crm.Error{Kind: crm.KindRateLimited, StatusCode: 429, RetryAfter: 7 * time.Second}
	tests := []struct {
		name       string
		err        error
		retryAfter time.Duration
		want       time.Duration
	}{
		{"from the attempt", &crm.Error{Kind: crm.KindUnavailable}, 10 * time.Second, 10*time.Second + jitter},
		{"from a crm.Error", rateLimited, 0, 7*time.Second + jitter},
		{"from a wrapped crm.Error", fmt.Errorf("sync contact 42: %w", fmt.Errorf("push: %w", rateLimited)), 0, 7*time.Second + jitter},
		{"attempt's wins over the error's", rateLimited, 9 * time.Second, 9*time.Second + jitter},
		{"short retry-after", &crm.Error{Kind: crm.KindRateLimited, RetryAfter: time.Millisecond}, 0, time.Millisecond + jitter},
		{"no retry-after: the backoff alone", &crm.Error{Kind: crm.KindUnavailable}, 0, jitter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wait, ok := p.Decide(retry.Attempt{Number: 1, Err: tt.err, Idempotent: true, RetryAfter: tt.retryAfter})
			if !ok {
				t.Fatal("Decide said no retry")
			}
			if wait != tt.want {
				t.Errorf("wait = %v, want %v", wait, tt.want)
			}
		})
	}
}

// Callers throttled by the same 429 must not all come back at the moment the
// CRM named: the waits after a Retry-After are spread over a backoff's width.
func TestRetryAfterWaitsAreJittered(t *testing.T) {
	p := retry.New() // the real random source
	const retryAfter = 2 * time.Second
	lo, hi := time.Duration(math.MaxInt64), time.Duration(0)
	for range 1000 {
		wait, ok := p.Decide(retry.Attempt{Number: 1, Err: errFlaky, Idempotent: true, RetryAfter: retryAfter})
		if !ok {
			t.Fatal("Decide said no retry")
		}
		if wait < retryAfter || wait > retryAfter+retry.DefaultBase {
			t.Fatalf("wait %v outside [Retry-After, Retry-After + base] = [%v, %v]", wait, retryAfter, retryAfter+retry.DefaultBase)
		}
		lo, hi = min(lo, wait), max(hi, wait)
	}
	// 1000 uniform draws over 250ms span well over half of it.
	if hi-lo < retry.DefaultBase/2 {
		t.Errorf("1000 waits after the same Retry-After spread over only %v (%v..%v)", hi-lo, lo, hi)
	}

	// The jitter gives way to MaxElapsed; the Retry-After itself never does.
	p = retry.New(retry.WithRandom(constant(0.999)), retry.WithMaxElapsed(time.Minute))
	wait, ok := p.Decide(retry.Attempt{Number: 1, Err: errFlaky, Idempotent: true, Elapsed: 50 * time.Second, RetryAfter: 9950 * time.Millisecond})
	if !ok || wait != 10*time.Second {
		t.Errorf("Decide 9.95s before MaxElapsed with Retry-After 9.95s = %v, %v; want 10s (jitter cut to 50ms), true", wait, ok)
	}
	if _, ok := p.Decide(retry.Attempt{Number: 1, Err: errFlaky, Idempotent: true, Elapsed: 50 * time.Second, RetryAfter: 10*time.Second + 1}); ok {
		t.Error("Decide accepted a Retry-After that alone passes MaxElapsed")
	}
}

func TestDecideRefuses(t *testing.T) {
	p := retry.New(retry.WithMaxAttempts(3), retry.WithMaxElapsed(time.Minute), retry.WithMaxRetryAfter(time.Minute))
	unavailable := &crm.Error{Kind: crm.KindUnavailable}
	tests := []struct {
		name string
		a    retry.Attempt
	}{
		{"not retryable", retry.Attempt{Number: 1, Err: &crm.Error{Kind: crm.KindValidation}, Idempotent: true}},
		{"not idempotent", retry.Attempt{Number: 1, Err: unavailable}},
		{"attempts used up", retry.Attempt{Number: 3, Err: unavailable, Idempotent: true}},
		{"elapsed used up", retry.Attempt{Number: 1, Err: unavailable, Idempotent: true, Elapsed: time.Minute}},
		{"retry-after past the deadline", retry.Attempt{Number: 1, Err: unavailable, Idempotent: true, Elapsed: 30 * time.Second, RetryAfter: 31 * time.Second}},
		{"retry-after too long", retry.Attempt{Number: 1, Err: unavailable, Idempotent: true, RetryAfter: 61 * time.Second}},
		{"crm.Error's retry-after too long", retry.Attempt{Number: 1, Idempotent: true,
			Err: fmt.Errorf("wrapped: %w", &crm.Error{Kind: crm.KindRateLimited, RetryAfter: time.Hour})}},
		{"nil error", retry.Attempt{Number: 1, Idempotent: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if wait, ok := p.Decide(tt.a); ok || wait != 0 {
				t.Errorf("Decide(%+v) = %v, %v; want 0, false", tt.a, wait, ok)
			}
		})
	}
	// The same attempt within the bounds is retried, so the refusals above
	// are down to the bound each one breaks.
	if _, ok := p.Decide(retry.Attempt{Number: 2, Err: unavailable, Idempotent: true, Elapsed: 30 * time.Second, RetryAfter: 29 * time.Second}); !ok {
		t.Error("Decide refused an attempt within every bound")
	}
}

func TestDefaults(t *testing.T) {
	p := retry.New()
	if got := p.MaxAttempts(); got != 5 {
		t.Errorf("MaxAttempts() = %d, want 5", got)
	}
	if got := p.MaxRetryAfter(); got != 5*time.Minute {
		t.Errorf("MaxRetryAfter() = %v, want 5m", got)
	}
	if got := retry.New(retry.WithMaxRetryAfter(time.Minute)).MaxRetryAfter(); got != time.Minute {
		t.Errorf("MaxRetryAfter() after WithMaxRetryAfter(1m) = %v", got)
	}
	// Without the elapsed bound (2m), which a 5m pause would break.
	p = retry.New(retry.WithMaxElapsed(0))
	if got := p.MaxAttempts(); got != 5 {
		t.Errorf("MaxAttempts() = %d, want 5", got)
	}
	unavailable := &crm.Error{Kind: crm.KindUnavailable}
	if _, ok := p.Decide(retry.Attempt{Number: 1, Err: unavailable, Idempotent: true, RetryAfter: 5 * time.Minute}); !ok {
		t.Error("a Retry-After of 5m was refused; the default MaxRetryAfter is 5m")
	}
	if _, ok := p.Decide(retry.Attempt{Number: 1, Err: unavailable, Idempotent: true, RetryAfter: 5*time.Minute + time.Second}); ok {
		t.Error("a Retry-After of 5m1s was accepted; the default MaxRetryAfter is 5m")
	}
	if _, ok := retry.New().Decide(retry.Attempt{Number: 1, Err: unavailable, Idempotent: true, Elapsed: 2 * time.Minute}); ok {
		t.Error("a retry after 2m was accepted; the default MaxElapsed is 2m")
	}
	for range 100 {
		if w := p.Backoff(1); w > 250*time.Millisecond {
			t.Fatalf("default Backoff(1) = %v, want <= 250ms", w)
		}
		if w := p.Backoff(50); w > 30*time.Second {
			t.Fatalf("default Backoff(50) = %v, want <= 30s", w)
		}
	}
	if retry.WithMaxAttempts(0) == nil {
		t.Fatal("nil option")
	}
	if got := retry.New(retry.WithMaxAttempts(-2)).MaxAttempts(); got != 1 {
		t.Errorf("MaxAttempts after WithMaxAttempts(-2) = %d, want 1", got)
	}
}

func TestSleepEndsWhenContextIsCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(time.Second, cancel)
		start := time.Now()
		err := retry.Sleep(ctx, time.Hour)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Sleep = %v, want context.Canceled", err)
		}
		if got := time.Since(start); got != time.Second {
			t.Errorf("Sleep returned after %v, want 1s (when ctx was cancelled)", got)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if err := retry.Sleep(t.Context(), 90*time.Second); err != nil {
			t.Errorf("Sleep = %v, want nil", err)
		}
		if got := time.Since(start); got != 90*time.Second {
			t.Errorf("Sleep(90s) took %v", got)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := retry.Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
			t.Errorf("Sleep(cancelled ctx, 0) = %v, want context.Canceled", err)
		}
	})
}

var errFlaky = &crm.Error{Kind: crm.KindUnavailable, StatusCode: 503, Message: "server busy"}

func TestDoStopsWhenContextIsCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := retry.New(retry.WithBackoff(time.Hour, time.Hour), retry.WithRandom(constant(0.999)),
			retry.WithMaxElapsed(0))
		ctx, cancel := context.WithCancel(t.Context())
		calls := 0
		start := time.Now()
		err := p.Do(ctx, true, func(context.Context) error {
			calls++
			time.AfterFunc(time.Second, cancel)
			return errFlaky
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Do = %v, want context.Canceled", err)
		}
		if calls != 1 {
			t.Errorf("fn called %d times, want 1", calls)
		}
		if got := time.Since(start); got != time.Second {
			t.Errorf("Do returned after %v, want 1s: the cancel should end the 1h wait", got)
		}
	})
	t.Run("already cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		calls := 0
		err := retry.New().Do(ctx, true, func(context.Context) error { calls++; return nil })
		if !errors.Is(err, context.Canceled) || calls != 0 {
			t.Errorf("Do with a cancelled ctx = %v after %d calls, want context.Canceled after 0", err, calls)
		}
	})
}

func TestDoRetriesUntilSuccess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := retry.New(retry.WithRandom(constant(0)))
		calls := 0
		start := time.Now()
		err := p.Do(t.Context(), true, func(context.Context) error {
			calls++
			if calls < 3 {
				return &crm.Error{Kind: crm.KindRateLimited, RetryAfter: 2 * time.Second}
			}
			return nil
		})
		if err != nil || calls != 3 {
			t.Errorf("Do = %v after %d calls, want nil after 3", err, calls)
		}
		if got := time.Since(start); got != 4*time.Second {
			t.Errorf("two retries after Retry-After 2s took %v, want 4s", got)
		}
	})
}

func TestDoDoesNotRetryNonIdempotent(t *testing.T) {
	calls := 0
	err := retry.New().Do(t.Context(), false, func(context.Context) error { calls++; return errFlaky })
	if calls != 1 {
		t.Errorf("fn called %d times, want 1", calls)
	}
	if err != errFlaky {
		t.Errorf("Do = %v, want the attempt's own error", err)
	}
}

func TestDoDoesNotRetryPermanentErrors(t *testing.T) {
	calls := 0
	perm := &crm.Error{Kind: crm.KindValidation, Fields: []string{"Email"}}
	err := retry.New().Do(t.Context(), true, func(context.Context) error { calls++; return perm })
	if calls != 1 || !errors.Is(err, crm.ErrValidation) {
		t.Errorf("Do = %v after %d calls, want the validation error after 1", err, calls)
	}
}

func TestDoBoundedByMaxAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, n := range []int{1, 3, 5} {
			calls := 0
			err := retry.New(retry.WithMaxAttempts(n)).Do(t.Context(), true, func(context.Context) error {
				calls++
				return errFlaky
			})
			if calls != n {
				t.Errorf("WithMaxAttempts(%d): fn called %d times", n, calls)
			}
			if err != errFlaky {
				t.Errorf("WithMaxAttempts(%d): Do = %v, want the last error", n, err)
			}
		}
	})
}

func TestDoBoundedByMaxElapsed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Every wait is exactly 1s (half of a 2s ceiling), so attempts start at
		// 0s, 1s, ... 10s; the retry after the one at 10s would start at 11s.
		p := retry.New(retry.WithMaxAttempts(1000), retry.WithMaxElapsed(10*time.Second),
			retry.WithBackoff(2*time.Second, 2*time.Second), retry.WithRandom(constant(0.5)))
		calls := 0
		start := time.Now()
		err := p.Do(t.Context(), true, func(context.Context) error { calls++; return errFlaky })
		if calls != 11 {
			t.Errorf("fn called %d times, want 11", calls)
		}
		if got := time.Since(start); got != 10*time.Second {
			t.Errorf("Do took %v, want 10s", got)
		}
		if err != errFlaky {
			t.Errorf("Do = %v, want the last error", err)
		}
	})
}

func TestBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := retry.NewBudget(10)
		p := retry.New(retry.WithMaxAttempts(100), retry.WithBudget(b), retry.WithRandom(constant(0)))
		calls := 0
		fail := func(context.Context) error { calls++; return errFlaky }

		// 10 tokens pay for two retries of cost 5: three calls in all.
		if err := p.Do(t.Context(), true, fail); err != errFlaky {
			t.Fatalf("Do = %v", err)
		}
		if calls != 3 || b.Available() != 0 {
			t.Fatalf("drained budget: %d calls, %d tokens left; want 3 calls, 0 left", calls, b.Available())
		}
		calls = 0
		_ = p.Do(t.Context(), true, fail)
		if calls != 1 {
			t.Errorf("with an empty budget fn was called %d times, want 1", calls)
		}

		// Successes refill it one token each, up to the capacity.
		for range 5 {
			p.Success()
		}
		if got := b.Available(); got != 5 {
			t.Fatalf("after 5 successes Available() = %d, want 5", got)
		}
		calls = 0
		_ = p.Do(t.Context(), true, fail)
		if calls != 2 {
			t.Errorf("with 5 tokens fn was called %d times, want 2 (one retry)", calls)
		}
		for range 50 {
			p.Success()
		}
		if got := b.Available(); got != 10 {
			t.Errorf("after many successes Available() = %d, want the capacity 10", got)
		}
		// A timeout costs 10: it takes the whole budget.
		timeout := &crm.Error{Kind: crm.KindUnavailable, Err: osTimeout(t)}
		if _, ok := p.Decide(retry.Attempt{Number: 1, Err: timeout, Idempotent: true}); !ok {
			t.Fatal("Decide refused a timeout with a full budget")
		}
		if got := b.Available(); got != 0 {
			t.Errorf("after a timeout retry Available() = %d, want 0", got)
		}
	})
	if got := retry.NewBudget(-1).Available(); got != 0 {
		t.Errorf("NewBudget(-1).Available() = %d, want 0", got)
	}
}

func TestBudgetConcurrent(t *testing.T) {
	const capacity = 1000
	b := retry.NewBudget(capacity)
	p := retry.New(retry.WithBudget(b), retry.WithMaxAttempts(2))
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		granted int
	)
	for range 16 {
		wg.Go(func() {
			n := 0
			for range 100 {
				if _, ok := p.Decide(retry.Attempt{Number: 1, Err: errFlaky, Idempotent: true}); ok {
					n++
				}
				_ = b.Available()
			}
			mu.Lock()
			granted += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if granted != capacity/retry.RetryCost || b.Available() != 0 {
		t.Fatalf("granted %d retries leaving %d tokens, want %d leaving 0", granted, b.Available(), capacity/retry.RetryCost)
	}
	for range 16 {
		wg.Go(func() {
			for range 200 {
				p.Success()
			}
		})
	}
	wg.Wait()
	if got := b.Available(); got != capacity {
		t.Errorf("after 3200 refunds Available() = %d, want the capacity %d", got, capacity)
	}
}

// osTimeout returns a real read timeout from a loopback TCP connection.
func osTimeout(t *testing.T) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			_, _ = io.Copy(io.Discard, c)
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(-time.Second))
	_, err = c.Read(make([]byte, 1))
	if err == nil {
		t.Fatal("read past its deadline succeeded")
	}
	return err
}

func connRefused(t *testing.T) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := net.Dial("tcp", addr)
	if err == nil {
		c.Close()
		t.Skip("nothing refused a dial to a closed port")
	}
	return err
}

// connReset returns the error of a read on a connection the server aborted.
func connReset(t *testing.T) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		// Wait for the client's byte, so the dial has completed, then
		// close with SO_LINGER 0, which sends a RST.
		_, _ = c.Read(make([]byte, 1))
		_ = c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	<-closed
	time.Sleep(10 * time.Millisecond) // let the RST arrive
	_, err = c.Read(make([]byte, 1))
	if err == nil {
		t.Fatal("read on an aborted connection succeeded")
	}
	return err
}

// httpErrors returns real errors from net/http: a Client.Timeout, the caller's
// own deadline, and a server that hangs up without answering.
func httpErrors(t *testing.T) (clientTimeout, callerDeadline, hangUp error) {
	t.Helper()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer slow.Close()
	c := &http.Client{Timeout: 20 * time.Millisecond}
	_, clientTimeout = c.Get(slow.URL)

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, slow.URL, nil)
	_, callerDeadline = http.DefaultClient.Do(req)

	hang := httptest.NewUnstartedServer(nil)
	hang.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	hang.Start()
	defer hang.Close()
	_, hangUp = (&http.Client{Transport: &http.Transport{}}).Post(hang.URL, "text/plain", nil)
	if clientTimeout == nil || callerDeadline == nil || hangUp == nil {
		t.Fatalf("want three errors, got %v, %v, %v", clientTimeout, callerDeadline, hangUp)
	}
	return
}

func TestRetryable(t *testing.T) {
	p := retry.New()
	clientTimeout, callerDeadline, hangUp := httpErrors(t)
	if !errors.Is(clientTimeout, context.DeadlineExceeded) {
		t.Logf("note: net/http's timeout no longer matches context.DeadlineExceeded: %v", clientTimeout)
	}
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	req, _ := http.NewRequestWithContext(cancelled, http.MethodGet, "http://127.0.0.1:1/", nil)
	_, callerCancel := http.DefaultClient.Do(req)

	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain error", errors.New("boom"), false},
		{"context.Canceled", context.Canceled, false},
		{"context.DeadlineExceeded", context.DeadlineExceeded, false},
		{"wrapped context.Canceled", fmt.Errorf("query: %w", context.Canceled), false},
		{"http request with a cancelled ctx", callerCancel, false},
		{"http request past the caller's deadline", callerDeadline, false},
		{"http Client.Timeout", clientTimeout, true},
		{"server hung up (EOF)", hangUp, true},
		{"read timeout", osTimeout(t), true},
		{"connection refused", connRefused(t), true},
		{"connection reset", connReset(t), true},
		{"io.ErrUnexpectedEOF", fmt.Errorf("decode: %w", io.ErrUnexpectedEOF), true},
		{"dns not found", &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}, false},
		{"dns temporary", &net.DNSError{Err: "server misbehaving", Name: "x.example", IsTemporary: true}, true},
		{"dns timeout", &net.DNSError{Err: "i/o timeout", Name: "x.example", IsTimeout: true}, true},
		{"crm unknown wrapping a reset", &crm.Error{Err: connReset(t)}, true},
		{"crm unknown wrapping a plain error", &crm.Error{Err: errors.New("odd")}, false},
		// The caller's cancellation wins over a retryable Kind.
		{"crm unavailable wrapping context.Canceled", &crm.Error{Kind: crm.KindUnavailable, Err: context.Canceled}, false},
		{"crm rate limited wrapping a passed deadline", fmt.Errorf("q: %w", &crm.Error{Kind: crm.KindRateLimited,
			Err: fmt.Errorf("lane: %w", context.DeadlineExceeded)}), false},
		// io.EOF is a closed connection only beneath the network's errors.
		{"io.EOF from a decoder", fmt.Errorf("decode: %w", io.EOF), false},
		{"bare io.EOF", io.EOF, false},
		{"io.EOF beneath a url.Error", fmt.Errorf("query: %w", &url.Error{Op: "Get", URL: "https://crm.example/", Err: io.EOF}), true},
		{"io.EOF beneath a net.OpError", &net.OpError{Op: "read", Net: "tcp", Err: io.EOF}, true},
		{"io.EOF beneath a joined url.Error", errors.Join(errors.New("a"), &url.Error{Op: "Get", URL: "u", Err: io.EOF}), true},
		{"io.EOF joined beside a url.Error", errors.Join(io.EOF, &url.Error{Op: "Get", URL: "u", Err: errors.New("x")}), false},
		{"crm validation wrapping a timeout", &crm.Error{Kind: crm.KindValidation, Err: osTimeout(t)}, false},
	}
	for k := crm.KindUnknown; k <= crm.KindInvalidRequest; k++ {
		want := k == crm.KindRateLimited || k == crm.KindUnavailable
		tests = append(tests,
			struct {
				name string
				err  error
				want bool
			}{"crm " + k.String(), fmt.Errorf("sync: %w", &crm.Error{Kind: k, StatusCode: 400}), want})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Retryable(tt.err); got != tt.want {
				t.Errorf("Retryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestIdempotencyMark(t *testing.T) {
	ctx := t.Context()
	if retry.IsIdempotent(ctx) {
		t.Error("an unmarked context is idempotent")
	}
	marked := retry.MarkIdempotent(ctx)
	if !retry.IsIdempotent(marked) {
		t.Error("a marked context is not idempotent")
	}
	child, cancel := context.WithTimeout(marked, time.Minute)
	defer cancel()
	if !retry.IsIdempotent(child) {
		t.Error("the mark did not pass to a child context")
	}
}

func TestIsCallerCancellation(t *testing.T) {
	clientTimeout, callerDeadline, _ := httpErrors(t)
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"context.Canceled", context.Canceled, true},
		{"wrapped deadline", fmt.Errorf("wait: %w", context.DeadlineExceeded), true},
		{"joined", errors.Join(errors.New("a"), fmt.Errorf("b: %w", context.Canceled)), true},
		{"inside a crm.Error", &crm.Error{Kind: crm.KindUnavailable, Err: context.Canceled}, true},
		{"http request past the caller's deadline", callerDeadline, true},
		// net/http's Client.Timeout matches the sentinel without being it.
		{"http Client.Timeout", clientTimeout, false},
		{"plain", errors.New("deadline exceeded"), false},
	} {
		if got := retry.IsCallerCancellation(tt.err); got != tt.want {
			t.Errorf("%s: IsCallerCancellation(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func BenchmarkDecide(b *testing.B) {
	p := retry.New(retry.WithBudget(retry.NewBudget(retry.DefaultBudgetCapacity)))
	err := fmt.Errorf("wrapped: %w", &crm.Error{Kind: crm.KindRateLimited, RetryAfter: time.Second})
	for b.Loop() {
		p.Decide(retry.Attempt{Number: 1, Err: err, Idempotent: true})
		p.Success()
	}
}
