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
				cfg := Config{Base: handlerTransport{h}, Retry: retry.New(retry.WithBackoff(time.Millisecond, time.Millisecond))}
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
				// The wait is the Retry-After (longer than any 1ms backoff);
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
		_, err := hs.c.Do(mustRequest(t, http.MethodGet, "https://crm.example/data", "").WithContext(ctx))
		if !errors.Is(err, context.DeadlineExceeded) || crm.KindOf(err) != crm.KindUnknown {
			t.Fatalf("err = %v; want the deadline, not a CRM error", err)
		}
		if len(got.times) != 0 {
			t.Errorf("a request went out during the pause")
		}
	})
}
