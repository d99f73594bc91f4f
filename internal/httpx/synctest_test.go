package httpx

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/ratelimit"
	"github.com/crmkit/crmkit/crm/retry"
)

// These tests run in a synctest bubble, on its fake clock, so that waits of
// seconds take no real time and are measured exactly. The CRM side is a real
// http.Handler served in memory (handlerTransport).

// arrivals records when each request reached the handler.
type arrivals struct {
	mu    sync.Mutex
	times []time.Time
	paths []string
}

func (a *arrivals) add(r *http.Request) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.times = append(a.times, time.Now())
	a.paths = append(a.paths, r.URL.Path)
	return len(a.times)
}

func TestRetryAfterIsHonoured(t *testing.T) {
	for _, withLimiter := range []bool{false, true} {
		t.Run(map[bool]string{false: "retry alone", true: "with limiter"}[withLimiter], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var got arrivals
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if got.add(r) == 1 {
						w.Header().Set("Retry-After", "2")
						w.WriteHeader(http.StatusTooManyRequests)
						return
					}
					w.WriteHeader(http.StatusOK)
				})
				// Random 0 pins the jitter added to the Retry-After at zero.
				cfg := Config{Base: handlerTransport{h}, Retry: retry.New(retry.WithBackoff(time.Millisecond, time.Millisecond),
					retry.WithRandom(func() float64 { return 0 }))}
				if withLimiter {
					cfg.Limiter = ratelimit.New()
				}
				hs := newHarness(t, cfg)
				resp, err := hs.c.Do(mustRequest(t, http.MethodGet, "https://crm.example/data", ""))
				if err != nil {
					t.Fatalf("Do: %v", err)
				}
				resp.Body.Close()
				if len(got.times) != 2 {
					t.Fatalf("%d attempts; want 2", len(got.times))
				}
				// The wait is the Retry-After (plus a jitter, pinned at 0);
				// the limiter's pause for the same Retry-After does not add to it.
				if gap := got.times[1].Sub(got.times[0]); gap != 2*time.Second {
					t.Errorf("retried after %v; want exactly the Retry-After of 2s", gap)
				}
			})
		})
	}
}

func TestLanePauseAfterRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got arrivals
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if got.add(r) == 1 {
				w.Header().Set("Retry-After", "3")
				w.WriteHeader(http.StatusTooManyRequests)
			}
		})
		lane := func(r *http.Request) string {
			if strings.HasPrefix(r.URL.Path, "/search") {
				return "search"
			}
			return "" // the default lane
		}
		hs := newHarness(t, Config{Base: handlerTransport{h}, Limiter: ratelimit.New(), Lane: lane}) // no retries
		start := time.Now()
		_, err := hs.c.Do(mustRequest(t, http.MethodGet, "https://crm.example/data", ""))
		var ce *crm.Error
		if !errors.As(err, &ce) || ce.Kind != crm.KindRateLimited || ce.RetryAfter != 3*time.Second {
			t.Fatalf("err = %v; want rate limited with RetryAfter 3s", err)
		}
		// Another lane is not paused.
		resp, err := hs.c.Do(mustRequest(t, http.MethodGet, "https://crm.example/search", ""))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		// The paused lane holds the next request until the Retry-After is over.
		resp, err = hs.c.Do(mustRequest(t, http.MethodGet, "https://crm.example/data", ""))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if len(got.times) != 3 {
			t.Fatalf("%d requests served; want 3", len(got.times))
		}
		if d := got.times[1].Sub(start); d != 0 {
			t.Errorf("the search lane waited %v; want no wait", d)
		}
		if d := got.times[2].Sub(start); d != 3*time.Second {
			t.Errorf("the paused lane's next request went at +%v; want +3s", d)
		}
	})
}

func TestCancelDuringBackoffReturnsPromptly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got arrivals
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got.add(r)
			w.Header().Set("Retry-After", "60")
			w.WriteHeader(http.StatusServiceUnavailable)
		})
		hs := newHarness(t, Config{Base: handlerTransport{h}, Retry: retry.New()})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		time.AfterFunc(time.Second, cancel)
		start := time.Now()
		_, err := hs.c.Do(mustRequest(t, http.MethodGet, "https://crm.example/data", "").WithContext(ctx))
		if elapsed := time.Since(start); elapsed != time.Second {
			t.Errorf("Do returned after %v on the fake clock; want at the cancel, 1s", elapsed)
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v; want context.Canceled", err)
		}
		if crm.KindOf(err) != crm.KindUnknown {
			t.Errorf("a cancelled call reported kind %v; the caller's cancel is not the CRM's error", crm.KindOf(err))
		}
		if !strings.Contains(err.Error(), "503") {
			t.Errorf("err = %v; want it to mention the last attempt's 503", err)
		}
		if len(got.times) != 1 {
			t.Errorf("%d attempts; want 1", len(got.times))
		}
	})
}

func TestDeadlineBeforeLanePauseEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got arrivals
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.add(r) })
		lim := ratelimit.New()
		lim.Pause(ratelimit.DefaultLane, time.Minute)
		hs := newHarness(t, Config{Base: handlerTransport{h}, Limiter: lim, Retry: retry.New()})
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		_, err := hs.c.Do(tagged(mustRequest(t, http.MethodGet, "https://crm.example/data", "").WithContext(ctx), "query", "Contact"))
		// The CRM's pause, not the caller, decided: a rate-limited
		// *crm.Error with the pause left, at once.
		var ce *crm.Error
		if !errors.As(err, &ce) || ce.Kind != crm.KindRateLimited || ce.RetryAfter != time.Minute {
			t.Fatalf("err = %v; want a rate-limited *crm.Error with RetryAfter 1m", err)
		}
		if ce.CRM != "testcrm" || ce.Object != "Contact" {
			t.Errorf("error %+v; want the CRM and object filled in", ce)
		}
		if time.Since(start) != 0 {
			t.Errorf("Do took %v; want an answer at once", time.Since(start))
		}
		if len(got.times) != 0 {
			t.Errorf("a request went out during the pause")
		}
	})
}

// A Retry-After longer than the policy's MaxRetryAfter (an exhausted daily
// allocation) is the caller's answer at once; it must not pause the lane for
// everyone else for a day.
func TestLongRetryAfterDoesNotPauseLane(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got arrivals
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if got.add(r) == 1 {
				w.Header().Set("Retry-After", "86400")
				w.WriteHeader(http.StatusTooManyRequests)
			}
		})
		hs := newHarness(t, Config{Base: handlerTransport{h}, Retry: retry.New(), Limiter: ratelimit.New()})
		start := time.Now()
		_, err := hs.c.Do(mustRequest(t, http.MethodGet, "https://crm.example/data", ""))
		var ce *crm.Error
		if !errors.As(err, &ce) || ce.Kind != crm.KindRateLimited || ce.RetryAfter != 24*time.Hour {
			t.Fatalf("first: err = %v; want rate limited with RetryAfter 24h", err)
		}
		resp, err := hs.c.Do(mustRequest(t, http.MethodGet, "https://crm.example/data", ""))
		if err != nil {
			t.Fatalf("second: %v", err)
		}
		resp.Body.Close()
		if d := time.Since(start); d != 0 {
			t.Errorf("two calls took %v; the lane must not be paused for a Retry-After past MaxRetryAfter", d)
		}
		// An Observation's RetryAfter is bounded the same way.
		lim := ratelimit.New()
		hs = newHarness(t, Config{Base: handlerTransport{h}, Retry: retry.New(retry.WithMaxRetryAfter(time.Minute)), Limiter: lim,
			Observe: func(*http.Response) ratelimit.Observation { return ratelimit.Observation{RetryAfter: time.Hour} }})
		for range 2 {
			resp, err := hs.c.Do(mustRequest(t, http.MethodGet, "https://crm.example/data", ""))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("calls after an observed 1h Retry-After took %v; want no pause (MaxRetryAfter 1m)", d)
		}
	})
}

// A Retry-After within MaxRetryAfter still pauses the lane; a caller whose
// deadline ends first is told at once, with the CRM's rate limit, and a
// retry whose wait outlasts the deadline is not made.
func TestPauseOutlastsDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got arrivals
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if got.add(r) == 1 {
				w.Header().Set("Retry-After", "120")
				w.WriteHeader(http.StatusTooManyRequests)
			}
		})
		hs := newHarness(t, Config{Base: handlerTransport{h}, Retry: retry.New(), Limiter: ratelimit.New()})
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		start := time.Now()
		_, err := hs.c.Do(mustRequest(t, http.MethodGet, "https://crm.example/data", "").WithContext(ctx))
		var ce *crm.Error
		if !errors.As(err, &ce) || ce.Kind != crm.KindRateLimited || ce.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("first: err = %v; want the 429 at once (its 2m wait outlasts the 1m deadline)", err)
		}
		_, err = hs.c.Do(mustRequest(t, http.MethodGet, "https://crm.example/data", "").WithContext(ctx))
		if !errors.As(err, &ce) || ce.Kind != crm.KindRateLimited || ce.RetryAfter != 2*time.Minute {
			t.Fatalf("second: err = %v; want the lane's pause as a rate-limited *crm.Error", err)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v matches DeadlineExceeded; the CRM decided", err)
		}
		if d := time.Since(start); d != 0 || len(got.times) != 1 {
			t.Errorf("took %v and sent %d requests; want at once and 1", d, len(got.times))
		}
		// Without a deadline, the caller waits out the pause and succeeds.
		resp, err := hs.c.Do(mustRequest(t, http.MethodGet, "https://crm.example/data", ""))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if d := time.Since(start); d != 2*time.Minute {
			t.Errorf("the next request went at +%v; want +2m", d)
		}
	})
}
