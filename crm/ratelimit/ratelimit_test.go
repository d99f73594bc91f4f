package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/ratelimit"
)

// waits calls Wait n times on lane and returns how long they took. It stops
// the test on an error, so call it only from the test's own goroutine; other
// goroutines use tryWaits.
func waits(t *testing.T, l *ratelimit.Limiter, lane string, n int) time.Duration {
	t.Helper()
	d, err := tryWaits(t.Context(), l, lane, n)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// tryWaits calls Wait n times on lane and returns how long they took, or the
// first error.
func tryWaits(ctx context.Context, l *ratelimit.Limiter, lane string, n int) (time.Duration, error) {
	start := time.Now()
	for i := range n {
		if err := l.Wait(ctx, lane); err != nil {
			return time.Since(start), fmt.Errorf("Wait %d on %q: %w", i, lane, err)
		}
	}
	return time.Since(start), nil
}

func TestSteadyRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New(ratelimit.WithLane(ratelimit.DefaultLane, 50, 1))
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		count := 0
		for l.Wait(ctx, ratelimit.DefaultLane) == nil {
			count++
		}
		if count < 95 || count > 105 {
			t.Errorf("%d Waits in 2s at 50/s, want 100 ± 5%%", count)
		}
	})
}

func TestUnconfiguredLanesAreUnlimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New(ratelimit.WithLane("search", 5, 1))
		if got := waits(t, l, ratelimit.DefaultLane, 1000); got != 0 {
			t.Errorf("1000 Waits on the unconfigured default lane took %v, want 0", got)
		}
		if got := waits(t, l, "", 10); got != 0 {
			t.Errorf("Waits on lane \"\" took %v, want 0", got)
		}
		if got := waits(t, l, "bulk", 1000); got != 0 {
			t.Errorf("1000 Waits on an unknown lane took %v, want 0", got)
		}
		if got := l.Rate("bulk"); got != rate.Inf {
			t.Errorf("Rate(bulk) = %v, want Inf", got)
		}
	})
}

func TestDailyGuard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New(ratelimit.WithDailyGuard(0.8))
		l.Observe(ratelimit.DefaultLane, ratelimit.Observation{DailyUsed: 79, DailyLimit: 100})
		if err := l.Wait(t.Context(), ratelimit.DefaultLane); err != nil {
			t.Fatalf("Wait at 79/100 with guard 0.8: %v", err)
		}
		l.Observe(ratelimit.DefaultLane, ratelimit.Observation{DailyUsed: 80, DailyLimit: 100})
		start := time.Now()
		err := l.Wait(t.Context(), "search") // the guard covers every lane
		if time.Since(start) != 0 {
			t.Errorf("a tripped guard made Wait wait %v", time.Since(start))
		}
		if !errors.Is(err, crm.ErrQuotaExhausted) {
			t.Fatalf("Wait at 80/100 with guard 0.8 = %v, want crm.ErrQuotaExhausted", err)
		}
		var ce *crm.Error
		if !errors.As(err, &ce) || ce.Kind != crm.KindQuotaExhausted {
			t.Fatalf("Wait's error is not a *crm.Error of KindQuotaExhausted: %#v", err)
		}
		for _, want := range []string{"80/100", "80%", "raise the CRM's allocation", "WithDailyGuard"} {
			if !strings.Contains(ce.Message, want) {
				t.Errorf("message %q does not mention %q", ce.Message, want)
			}
		}
		if ce.RetryAfter != 24*time.Hour { // synctest's clock starts at midnight
			t.Errorf("RetryAfter = %v, want the 24h until the day turns", ce.RetryAfter)
		}
		if got := l.Daily(); got != (crm.Quota{Used: 80, Max: 100}) {
			t.Errorf("Daily() = %+v, want 80/100", got)
		}

		// A different allocation (raised by the org's admin) lifts the guard.
		l.Observe(ratelimit.DefaultLane, ratelimit.Observation{DailyUsed: 81, DailyLimit: 200})
		if err := l.Wait(t.Context(), ratelimit.DefaultLane); err != nil {
			t.Errorf("Wait after the allocation grew to 81/200: %v", err)
		}
		// Figures that are not said leave the guard's alone.
		l.Observe(ratelimit.DefaultLane, ratelimit.Observation{DailyUsed: 199})
		if got := l.Daily(); got != (crm.Quota{Used: 81, Max: 200}) {
			t.Errorf("Daily() after an observation without DailyLimit = %+v, want 81/200", got)
		}

		// So does the turn of the day.
		l.Observe(ratelimit.DefaultLane, ratelimit.Observation{DailyUsed: 190, DailyLimit: 200})
		if err := l.Wait(t.Context(), ratelimit.DefaultLane); !errors.Is(err, crm.ErrQuotaExhausted) {
			t.Fatalf("Wait at 190/200 = %v", err)
		}
		time.Sleep(24 * time.Hour)
		if err := l.Wait(t.Context(), ratelimit.DefaultLane); err != nil {
			t.Errorf("Wait the next day: %v", err)
		}
	})
}

// Responses to concurrent requests arrive out of order: an older response
// reporting lower use must not lift a guard that a newer one tripped.
func TestDailyGuardOutOfOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New(ratelimit.WithDailyGuard(0.8))
		for _, used := range []int64{70, 85, 79, 60} { // 85 was the latest; 79 and 60 left the CRM earlier
			l.Observe(ratelimit.DefaultLane, ratelimit.Observation{DailyUsed: used, DailyLimit: 100})
		}
		if got := l.Daily(); got != (crm.Quota{Used: 85, Max: 100}) {
			t.Errorf("Daily() = %+v, want the highest use of the day, 85/100", got)
		}
		if err := l.Wait(t.Context(), ratelimit.DefaultLane); !errors.Is(err, crm.ErrQuotaExhausted) {
			t.Errorf("Wait after late responses reported lower use = %v, want the guard still tripped", err)
		}
		// The next day's figures start afresh, lower or not.
		time.Sleep(24 * time.Hour)
		l.Observe(ratelimit.DefaultLane, ratelimit.Observation{DailyUsed: 3, DailyLimit: 100})
		if got := l.Daily(); got != (crm.Quota{Used: 3, Max: 100}) {
			t.Errorf("Daily() the next day = %+v, want 3/100", got)
		}
		if err := l.Wait(t.Context(), ratelimit.DefaultLane); err != nil {
			t.Errorf("Wait the next day: %v", err)
		}
	})
}

func TestDailyGuardWithClock(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	now := time.Date(2025, 3, 10, 22, 30, 0, 0, berlin)
	l := ratelimit.New(
		ratelimit.WithDailyGuard(0.5),
		ratelimit.WithClock(func() time.Time { return now }),
		ratelimit.WithDailyReset(func(t time.Time) time.Time { return t.Add(6 * time.Hour) }),
	)
	l.Observe(ratelimit.DefaultLane, ratelimit.Observation{DailyUsed: 500, DailyLimit: 1000})
	err := l.Wait(t.Context(), ratelimit.DefaultLane)
	var ce *crm.Error
	if !errors.As(err, &ce) || ce.Kind != crm.KindQuotaExhausted || ce.RetryAfter != 6*time.Hour {
		t.Fatalf("Wait at 500/1000 with guard 0.5 = %v, want KindQuotaExhausted with RetryAfter 6h", err)
	}
	if !strings.Contains(ce.Message, "2025-03-11T04:30:00+01:00") {
		t.Errorf("message %q does not say when the guard lifts", ce.Message)
	}
	now = now.Add(6*time.Hour - time.Second)
	if err := l.Wait(t.Context(), ratelimit.DefaultLane); !errors.Is(err, crm.ErrQuotaExhausted) {
		t.Errorf("Wait a second before the reset = %v, want the guard's error", err)
	}
	now = now.Add(time.Second)
	if err := l.Wait(t.Context(), ratelimit.DefaultLane); err != nil {
		t.Errorf("Wait at the reset: %v", err)
	}
}

func TestNoGuardByDefault(t *testing.T) {
	for _, l := range []*ratelimit.Limiter{ratelimit.New(), ratelimit.New(ratelimit.WithDailyGuard(0)), ratelimit.New(ratelimit.WithDailyGuard(-1))} {
		l.Observe(ratelimit.DefaultLane, ratelimit.Observation{DailyUsed: 100, DailyLimit: 100})
		if err := l.Wait(t.Context(), ratelimit.DefaultLane); err != nil {
			t.Errorf("Wait without a guard at 100/100: %v", err)
		}
	}
	l := ratelimit.New(ratelimit.WithDailyGuard(3)) // counts as 1
	l.Observe(ratelimit.DefaultLane, ratelimit.Observation{DailyUsed: 99, DailyLimit: 100})
	if err := l.Wait(t.Context(), ratelimit.DefaultLane); err != nil {
		t.Errorf("Wait with guard 1 at 99/100: %v", err)
	}
	l.Observe(ratelimit.DefaultLane, ratelimit.Observation{DailyUsed: 100, DailyLimit: 100})
	if err := l.Wait(t.Context(), ratelimit.DefaultLane); !errors.Is(err, crm.ErrQuotaExhausted) {
		t.Errorf("Wait with guard 1 at 100/100 = %v, want crm.ErrQuotaExhausted", err)
	}
}

func TestLanesAreIndependent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New(
			ratelimit.WithLane(ratelimit.DefaultLane, 100, 1),
			ratelimit.WithLane("search", 5, 1),
		)
		// A crawl of the search lane, slowed further by a response...
		l.Observe("search", ratelimit.Observation{Remaining: 0, Limit: 5, Window: 10 * time.Second})
		var (
			searchTook time.Duration
			searchErr  error
			wg         sync.WaitGroup
		)
		wg.Go(func() { searchTook, searchErr = tryWaits(t.Context(), l, "search", 4) })
		// ...does not slow the default lane: 50 Waits at 100/s, burst 1.
		defaultTook := waits(t, l, ratelimit.DefaultLane, 50)
		wg.Wait()
		if searchErr != nil {
			t.Fatal(searchErr)
		}
		if defaultTook < 480*time.Millisecond || defaultTook > 500*time.Millisecond {
			t.Errorf("50 Waits on the default lane took %v beside a slow search lane, want 490ms", defaultTook)
		}
		if searchTook < 29*time.Second {
			t.Errorf("4 Waits on the slowed search lane took %v, want 30s (one a 10s window)", searchTook)
		}
		if got := l.Rate(ratelimit.DefaultLane); got != 100 {
			t.Errorf("default lane's rate = %v, want 100", got)
		}
	})
}

func TestObserveSlowsAndRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New(ratelimit.WithLane(ratelimit.DefaultLane, 100, 10))
		// The configured pace: burst 10, then 10ms apart.
		if got := waits(t, l, ratelimit.DefaultLane, 20); got > 110*time.Millisecond {
			t.Fatalf("20 Waits at 100/s took %v, want about 100ms", got)
		}

		// 5 of 100 left in a 10s window: spread them, one every 2s.
		l.Observe(ratelimit.DefaultLane, ratelimit.Observation{Remaining: 5, Limit: 100, Window: 10 * time.Second})
		if got := l.Rate(ratelimit.DefaultLane); got != 0.5 {
			t.Errorf("slowed rate = %v, want 0.5", got)
		}
		if got := waits(t, l, ratelimit.DefaultLane, 3); got < 4*time.Second {
			t.Errorf("3 Waits after Remaining 5/100 per 10s took %v, want at least 4s", got)
		}

		// Above the threshold (10% of Limit) the configured rate comes back.
		l.Observe(ratelimit.DefaultLane, ratelimit.Observation{Remaining: 10, Limit: 100})
		if got := l.Rate(ratelimit.DefaultLane); got != 100 {
			t.Errorf("recovered rate = %v, want the configured 100", got)
		}
		if got := waits(t, l, ratelimit.DefaultLane, 20); got > 210*time.Millisecond {
			t.Errorf("20 Waits after recovery took %v, want about 200ms", got)
		}

		// The window is remembered from an earlier response.
		l.Observe(ratelimit.DefaultLane, ratelimit.Observation{Remaining: 2, Limit: 100})
		if got := l.Rate(ratelimit.DefaultLane); got != 0.2 {
			t.Errorf("rate with a remembered 10s window = %v, want 0.2", got)
		}
		// A spread never goes above the configured rate.
		l.Observe(ratelimit.DefaultLane, ratelimit.Observation{Remaining: 9, Limit: 100, Window: 10 * time.Millisecond})
		if got := l.Rate(ratelimit.DefaultLane); got != 100 {
			t.Errorf("spread of 9 over 10ms = %v, want capped at the configured 100", got)
		}
	})
}

func TestObserveSlowsUnlimitedLane(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New()
		// Without a window nothing can be spread.
		l.Observe("api", ratelimit.Observation{Remaining: 1, Limit: 6000})
		if got := waits(t, l, "api", 100); got != 0 {
			t.Errorf("Waits after an observation without a window took %v, want 0", got)
		}
		// Dynamics-style figures: 300 left of 6000 over 300s is 5%: 1 a second.
		l.Observe("api", ratelimit.Observation{Remaining: 300, Limit: 6000, Window: 300 * time.Second})
		if got := waits(t, l, "api", 11); got < 10*time.Second {
			t.Errorf("11 Waits at a spread of 300 over 300s took %v, want 10s", got)
		}
		l.Observe("api", ratelimit.Observation{Remaining: 5999, Limit: 6000})
		if got := waits(t, l, "api", 1000); got != 0 {
			t.Errorf("1000 Waits after recovery took %v, want 0 (unlimited again)", got)
		}
		// The threshold is configurable, and zero turns slowing off.
		off := ratelimit.New(ratelimit.WithSlowdownThreshold(0))
		off.Observe("api", ratelimit.Observation{Remaining: 0, Limit: 6000, Window: 300 * time.Second})
		if got := off.Rate("api"); got != rate.Inf {
			t.Errorf("rate with slowing off = %v, want Inf", got)
		}
	})
}

func TestPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New()
		l.Pause(ratelimit.DefaultLane, 3*time.Second)
		if got := waits(t, l, "search", 1); got != 0 {
			t.Errorf("a pause of the default lane held the search lane %v", got)
		}
		if got := waits(t, l, ratelimit.DefaultLane, 1); got != 3*time.Second {
			t.Errorf("Wait after Pause(3s) took %v, want 3s", got)
		}
		if got := waits(t, l, ratelimit.DefaultLane, 1); got != 0 {
			t.Errorf("Wait after the pause ended took %v, want 0", got)
		}

		// A 429's Retry-After pauses the lane for everyone.
		l.Observe("search", ratelimit.Observation{RetryAfter: 2 * time.Second})
		var wg sync.WaitGroup
		took := make([]time.Duration, 5)
		errs := make([]error, 5)
		for i := range took {
			wg.Go(func() { took[i], errs[i] = tryWaits(t.Context(), l, "search", 1) })
		}
		wg.Wait()
		for i := range took {
			if errs[i] != nil || took[i] != 2*time.Second {
				t.Errorf("caller %d: Wait after RetryAfter 2s took %v (err %v), want 2s", i, took[i], errs[i])
			}
		}

		// A shorter pause does not cut a longer one short; a longer one
		// given while callers wait extends it.
		l.Pause(ratelimit.DefaultLane, 5*time.Second)
		l.Pause(ratelimit.DefaultLane, time.Second)
		time.AfterFunc(4*time.Second, func() { l.Pause(ratelimit.DefaultLane, 4*time.Second) })
		if got := waits(t, l, ratelimit.DefaultLane, 1); got != 8*time.Second {
			t.Errorf("Wait through a pause extended at 4s by 4s took %v, want 8s", got)
		}
		l.Pause(ratelimit.DefaultLane, -time.Second)
		if got := waits(t, l, ratelimit.DefaultLane, 1); got != 0 {
			t.Errorf("a negative pause held the lane %v", got)
		}
	})
}

func TestPauseAfterReservation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A request waiting its turn in the bucket also honours a pause that
		// begins meanwhile.
		l := ratelimit.New(ratelimit.WithLane(ratelimit.DefaultLane, 1, 1))
		waits(t, l, ratelimit.DefaultLane, 1)
		time.AfterFunc(500*time.Millisecond, func() { l.Pause(ratelimit.DefaultLane, 3*time.Second) })
		if got := waits(t, l, ratelimit.DefaultLane, 1); got != 3500*time.Millisecond {
			t.Errorf("Wait took %v, want 3.5s (token at 1s, pause from 0.5s to 3.5s)", got)
		}
	})
}

func TestWaitCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New(ratelimit.WithLane("slow", rate.Every(time.Hour), 1))
		l.Pause("paused", time.Hour)
		waits(t, l, "slow", 1) // use the burst

		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		for _, lane := range []string{ratelimit.DefaultLane, "paused", "slow"} {
			start := time.Now()
			if err := l.Wait(ctx, lane); !errors.Is(err, context.Canceled) {
				t.Errorf("Wait(%s) with a cancelled ctx = %v, want context.Canceled", lane, err)
			}
			if got := time.Since(start); got != 0 {
				t.Errorf("Wait(%s) with a cancelled ctx took %v", lane, got)
			}
		}

		for _, lane := range []string{"paused", "slow"} {
			ctx, cancel := context.WithCancel(t.Context())
			time.AfterFunc(time.Second, cancel)
			start := time.Now()
			if err := l.Wait(ctx, lane); !errors.Is(err, context.Canceled) {
				t.Errorf("Wait(%s) cancelled while waiting = %v, want context.Canceled", lane, err)
			}
			if got := time.Since(start); got != time.Second {
				t.Errorf("Wait(%s) returned %v after it began, want 1s (at the cancel)", lane, got)
			}
		}

		// A deadline the wait cannot meet ends it at once: for the lane's own
		// pace, with the deadline; for the CRM's pause, with the CRM's
		// rate limit and the pause left.
		ctx, cancel = context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		start := time.Now()
		err := l.Wait(ctx, "slow")
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "slow") {
			t.Errorf("Wait(slow) with a 1m deadline = %v, want DeadlineExceeded naming the lane", err)
		}
		err = l.Wait(ctx, "paused")
		var ce *crm.Error
		if !errors.As(err, &ce) || ce.Kind != crm.KindRateLimited || !strings.Contains(ce.Message, `"paused"`) {
			t.Errorf("Wait(paused) with a 1m deadline = %v, want a rate-limited *crm.Error naming the lane", err)
		} else if ce.RetryAfter != time.Hour-2*time.Second { // paused at 0 for 1h; two 1s cancels since
			t.Errorf("RetryAfter = %v, want the pause left, %v", ce.RetryAfter, time.Hour-2*time.Second)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Wait(paused) = %v matches DeadlineExceeded; the CRM decided, not the caller", err)
		}
		if got := time.Since(start); got != 0 {
			t.Errorf("Waits with a deadline they cannot meet took %v, want 0", got)
		}
	})
}

func TestZeroRateLane(t *testing.T) {
	l := ratelimit.New(ratelimit.WithLane("closed", 0, 0))
	if err := l.Wait(t.Context(), "closed"); err != nil {
		t.Fatalf("first Wait on a zero-rate lane with burst 1: %v", err)
	}
	err := l.Wait(t.Context(), "closed")
	if err == nil || !strings.Contains(err.Error(), `"closed"`) || !strings.Contains(err.Error(), "WithLane") {
		t.Errorf("second Wait on a zero-rate lane = %v, want an error naming the lane and the fix", err)
	}
}

// TestConcurrentWaits runs Wait, Observe, Pause and the readers at once, so
// that -race sees every path that takes the lock: observations alternately
// slow the lane and let it recover, and daily figures trip the guard and then
// lift it with a larger allocation.
func TestConcurrentWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New(ratelimit.WithLane(ratelimit.DefaultLane, 1000, 10), ratelimit.WithDailyGuard(0.9))
		const goroutines, each = 8, 50
		var (
			wg               sync.WaitGroup
			mu               sync.Mutex
			passed, guarded  int
			unexpected       []error
			slowed, tripped  bool
			observerFinished = make(chan struct{})
		)
		for range goroutines {
			wg.Go(func() {
				for range each {
					err := l.Wait(t.Context(), ratelimit.DefaultLane)
					mu.Lock()
					switch {
					case err == nil:
						passed++
					case errors.Is(err, crm.ErrQuotaExhausted):
						guarded++
						mu.Unlock()
						time.Sleep(time.Millisecond) // let the observer lift the guard
						continue
					default:
						unexpected = append(unexpected, err)
					}
					mu.Unlock()
				}
			})
		}
		wg.Go(func() {
			defer close(observerFinished)
			for i := range 100 {
				o := ratelimit.Observation{Remaining: 900, Limit: 1000, Window: time.Second, DailyUsed: int64(i), DailyLimit: 1000}
				if i%2 == 1 {
					o.Remaining = 20 // under 10%: slow to 20 a second
				}
				if i >= 40 && i < 60 {
					o.DailyUsed = 950 // past the 90% guard
				}
				if i >= 60 {
					o.DailyLimit = 2000 // a larger allocation lifts it
				}
				l.Observe(ratelimit.DefaultLane, o)
				if l.Rate(ratelimit.DefaultLane) < 1000 {
					slowed = true
				}
				if q := l.Daily(); float64(q.Used) >= 0.9*float64(q.Max) {
					tripped = true
				}
				l.Pause("other", time.Millisecond)
				time.Sleep(time.Millisecond)
			}
			// End recovered, so that the waiters finish at the full rate.
			l.Observe(ratelimit.DefaultLane, ratelimit.Observation{Remaining: 1000, Limit: 1000, DailyUsed: 0, DailyLimit: 4000})
		})
		wg.Wait()
		<-observerFinished
		if len(unexpected) > 0 {
			t.Errorf("%d Waits failed unexpectedly, first: %v", len(unexpected), unexpected[0])
		}
		if passed+guarded != goroutines*each {
			t.Errorf("%d passed + %d guarded != %d Waits", passed, guarded, goroutines*each)
		}
		if !slowed || !tripped {
			t.Errorf("the observations slowed the lane: %v, tripped the guard: %v; want both, so both paths ran concurrently", slowed, tripped)
		}
		if passed == 0 {
			t.Error("no Wait passed")
		}
		if got := l.Rate(ratelimit.DefaultLane); got != 1000 {
			t.Errorf("rate after recovery = %v, want 1000", got)
		}
	})
}

func BenchmarkWaitUnlimited(b *testing.B) {
	l := ratelimit.New()
	ctx := context.Background()
	for b.Loop() {
		_ = l.Wait(ctx, ratelimit.DefaultLane)
	}
}

func BenchmarkObserve(b *testing.B) {
	l := ratelimit.New(ratelimit.WithLane(ratelimit.DefaultLane, 100, 10), ratelimit.WithDailyGuard(0.8))
	o := ratelimit.Observation{Remaining: 140, Limit: 150, Window: 10 * time.Second, DailyUsed: 1000, DailyLimit: 500000}
	for b.Loop() {
		l.Observe(ratelimit.DefaultLane, o)
	}
}

func TestZeroLimiter(t *testing.T) {
	var l ratelimit.Limiter
	l.Observe(ratelimit.DefaultLane, ratelimit.Observation{DailyUsed: 1, DailyLimit: 10, RetryAfter: time.Millisecond})
	if err := l.Wait(t.Context(), ratelimit.DefaultLane); err != nil {
		t.Errorf("Wait on a zero Limiter: %v", err)
	}
	if got := l.Daily(); got != (crm.Quota{Used: 1, Max: 10}) {
		t.Errorf("Daily() = %+v", got)
	}
}
