package emulator

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func routeByPath(r *http.Request) string { return strings.Trim(r.URL.Path, "/") }

// server wires a handler the way the emulators do: log, faults, handler.
func server(t *testing.T, h http.Handler, opts ...InjectorOption) (*httptest.Server, *Log, *Injector, *atomic.Int64) {
	t.Helper()
	var served atomic.Int64
	work := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		h.ServeHTTP(w, r)
	})
	log := NewLog(0)
	in := NewInjector(opts...)
	srv := httptest.NewServer(log.Middleware(routeByPath, in.Middleware(routeByPath, work)))
	t.Cleanup(srv.Close)
	t.Cleanup(in.Stop)
	return srv, log, in, &served
}

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }

func get(t *testing.T, c *http.Client, url string, header ...string) (int, string, error) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func TestLogCountsAndRedacts(t *testing.T) {
	srv, log, _, _ := server(t, http.HandlerFunc(ok))
	for _, p := range []string{"/a", "/a", "/b"} {
		if _, _, err := get(t, srv.Client(), srv.URL+p+"?x=1", "Authorization", "Bearer secret", "X-Trace", "t1"); err != nil {
			t.Fatal(err)
		}
	}
	if log.Count("a") != 2 || log.Count("b") != 1 || log.Total() != 3 {
		t.Errorf("counts %v total %d", log.Counts(), log.Total())
	}
	if got := log.Routes(); len(got) != 2 || got[0] != "a" {
		t.Errorf("routes %v", got)
	}
	e := log.Entries()[0]
	if e.Status != 200 || e.Method != "GET" || e.Path != "/a" || e.Query != "x=1" || e.Route != "a" {
		t.Errorf("entry %+v", e)
	}
	if e.Header.Get("Authorization") != "[redacted]" || e.Header.Get("X-Trace") != "t1" {
		t.Errorf("headers %v", e.Header)
	}
	log.Reset()
	if log.Total() != 0 || len(log.Entries()) != 0 {
		t.Error("Reset kept entries")
	}
}

func TestLogRing(t *testing.T) {
	log := NewLog(3)
	for i := range 5 {
		log.add(Entry{Route: "r", Status: i})
	}
	es := log.Entries()
	if len(es) != 3 || es[0].Status != 2 || es[2].Status != 4 || log.Count("r") != 5 {
		t.Errorf("entries %+v count %d", es, log.Count("r"))
	}
}

func TestStatusFaultSkipAndTimes(t *testing.T) {
	srv, log, in, served := server(t, http.HandlerFunc(ok))
	in.Add(Rule{Route: "q", Skip: 1, Times: 2, Faults: []Fault{Status(503, http.Header{"Retry-After": {"2"}}, []byte("busy"))}})
	var got []int
	for range 5 {
		code, _, err := get(t, srv.Client(), srv.URL+"/q")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, code)
	}
	if want := []int{200, 503, 503, 200, 200}; !equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	if served.Load() != 3 || in.Injected() != 2 {
		t.Errorf("the handler ran %d times, %d faults", served.Load(), in.Injected())
	}
	if es := log.Entries(); es[1].Fault != "status 503" || es[1].Status != 503 {
		t.Errorf("log entry %+v", es[1])
	}
	// Another route is untouched by the rule.
	in.Inject("q", 0, Status(500, nil, nil))
	if code, _, _ := get(t, srv.Client(), srv.URL+"/other"); code != 200 {
		t.Errorf("other route: %d", code)
	}
	in.Clear()
	if code, _, _ := get(t, srv.Client(), srv.URL+"/q"); code != 200 {
		t.Errorf("after Clear: %d", code)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRandomFaultsRepeatable(t *testing.T) {
	run := func() []int {
		srv, _, in, _ := server(t, http.HandlerFunc(ok), WithSeed(42))
		in.Random("", 0.5, Status(500, nil, nil), Status(503, nil, nil))
		var got []int
		for range 40 {
			code, _, err := get(t, srv.Client(), srv.URL+"/x")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, code)
		}
		return got
	}
	a, b := run(), run()
	if !equal(a, b) {
		t.Errorf("the same seed gave different faults:\n%v\n%v", a, b)
	}
	kinds := map[int]int{}
	for _, c := range a {
		kinds[c]++
	}
	if kinds[200] == 0 || kinds[500] == 0 || kinds[503] == 0 {
		t.Errorf("40 requests at p=0.5 gave %v", kinds)
	}
}

func TestResetAndTimeout(t *testing.T) {
	srv, _, in, served := server(t, http.HandlerFunc(ok))
	in.Inject("reset", 1, Reset())
	if _, _, err := get(t, srv.Client(), srv.URL+"/reset"); err == nil {
		t.Error("a reset connection gave an answer")
	}
	in.Inject("late", 1, Reset().AfterWork())
	if _, _, err := get(t, srv.Client(), srv.URL+"/late"); err == nil {
		t.Error("a reset after work gave an answer")
	}
	if served.Load() != 1 {
		t.Errorf("the handler ran %d times, want once (for the fault after work)", served.Load())
	}

	in.Inject("hang", 1, Timeout())
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/hang", nil)
	if _, err := srv.Client().Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a held request ended with %v, want the client's deadline", err)
	}

	// Stop releases held requests.
	in.Inject("hang", 1, Timeout())
	var wg sync.WaitGroup
	wg.Add(1)
	var err error
	go func() {
		defer wg.Done()
		_, _, err = get(t, srv.Client(), srv.URL+"/hang")
	}()
	for in.Injected() < 4 {
		time.Sleep(time.Millisecond)
	}
	in.Stop()
	wg.Wait()
	if err == nil {
		t.Error("a request released by Stop got an answer")
	}
}

func TestSlowAndAfterWorkStatus(t *testing.T) {
	srv, _, in, served := server(t, http.HandlerFunc(ok))
	in.Inject("slow", 1, Slow(time.Millisecond))
	if code, body, err := get(t, srv.Client(), srv.URL+"/slow"); err != nil || code != 200 || body != "ok" {
		t.Errorf("slow: %d %q %v", code, body, err)
	}
	in.Inject("lost", 1, Status(502, nil, []byte("gateway")).AfterWork())
	if code, body, _ := get(t, srv.Client(), srv.URL+"/lost"); code != 502 || body != "gateway" {
		t.Errorf("after work: %d %q", code, body)
	}
	if served.Load() != 2 {
		t.Errorf("handler ran %d times", served.Load())
	}
	if s := Slow(time.Second).AfterWork().String(); s != "slow 1s after work" {
		t.Errorf("String() = %q", s)
	}
}

func TestAllocationRollingWindow(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := NewAllocation(3, WithClock(func() time.Time { return now }))
	for i := int64(1); i <= 3; i++ {
		if used, max, ok := a.Take(); !ok || used != i || max != 3 {
			t.Fatalf("take %d: %d/%d %v", i, used, max, ok)
		}
	}
	if _, _, ok := a.Take(); ok {
		t.Fatal("a fourth call within the day was allowed")
	}
	now = now.Add(23 * time.Hour)
	if _, _, ok := a.Take(); ok {
		t.Fatal("the calls left the window early")
	}
	now = now.Add(2 * time.Hour)
	if used, _, ok := a.Take(); !ok || used != 1 {
		t.Fatalf("a day later: used %d ok %v", used, ok)
	}
	a.SetUsed(3)
	if used, _ := a.Usage(); used != 3 {
		t.Errorf("SetUsed: %d", used)
	}
	a.SetMax(0)
	if _, _, ok := a.Take(); !ok {
		t.Error("an unlimited allocation refused")
	}
}

func TestGateAndRateLimit(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 2)
	block := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	})
	reject := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(429) })
	srv := httptest.NewServer(Gate(1, reject, block))
	defer srv.Close()
	done := make(chan int, 1)
	go func() {
		code, _, _ := get(t, srv.Client(), srv.URL)
		done <- code
	}()
	<-entered
	if code, _, _ := get(t, srv.Client(), srv.URL); code != 429 {
		t.Errorf("a second request past a gate of 1: %d", code)
	}
	close(release)
	if code := <-done; code != 200 {
		t.Errorf("the first request: %d", code)
	}

	limited := httptest.NewServer(RateLimit(0.001, 1, reject, http.HandlerFunc(ok)))
	defer limited.Close()
	first, _, _ := get(t, limited.Client(), limited.URL)
	second, _, _ := get(t, limited.Client(), limited.URL)
	if first != 200 || second != 429 {
		t.Errorf("rate limit: %d then %d", first, second)
	}
	if Gate(0, reject, http.HandlerFunc(ok)) == nil || RateLimit(0, 1, reject, http.HandlerFunc(ok)) == nil {
		t.Error("a zero limit returned no handler")
	}
}
