package httpx

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/ratelimit"
	"github.com/crmkit/crmkit/crm/retry"
)

func fastRetry() *retry.Policy {
	return retry.New(retry.WithBackoff(0, 0), retry.WithMaxAttempts(3))
}

func TestNewValidatesConfig(t *testing.T) {
	if _, err := New(Config{}); err == nil || !strings.Contains(err.Error(), "Config.CRM") {
		t.Errorf("New without CRM: err = %v; want it to name Config.CRM", err)
	}
	if _, err := New(Config{CRM: "x", MaxResponseBytes: -1}); err == nil || !strings.Contains(err.Error(), "MaxResponseBytes") {
		t.Errorf("New with a negative cap: err = %v; want it to name MaxResponseBytes", err)
	}
}

func TestRetry503ThenOKReplaysBody(t *testing.T) {
	var (
		mu     sync.Mutex
		bodies []string
	)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.ContentLength != int64(len(b)) {
			t.Errorf("Content-Length %d for a body of %d bytes", r.ContentLength, len(b))
		}
		mu.Lock()
		bodies = append(bodies, string(b))
		n := len(bodies)
		mu.Unlock()
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, `{"id":"003"}`)
	})
	h := newHarness(t, Config{Retry: fastRetry()})
	req := mustRequest(t, http.MethodPost, srv.URL+"/sobjects/Contact", `{"LastName":"Lovelace"}`)
	req = req.WithContext(retry.MarkIdempotent(req.Context()))
	resp, err := h.c.Do(req)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); string(b) != `{"id":"003"}` {
		t.Errorf("body %q", b)
	}
	if len(bodies) != 2 {
		t.Fatalf("%d attempts; want 2", len(bodies))
	}
	for i, b := range bodies {
		if b != `{"LastName":"Lovelace"}` {
			t.Errorf("attempt %d sent body %q; want it replayed whole", i+1, b)
		}
	}
	spans := h.ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans; want one per attempt", len(spans))
	}
	if code, _ := attr(spans[0], "http.response.status_code"); code != "503" || spans[0].Status().Code != codes.Error {
		t.Errorf("first span: status %s, %v; want 503 and error", code, spans[0].Status())
	}
	if code, _ := attr(spans[1], "http.response.status_code"); code != "200" || spans[1].Status().Code == codes.Error {
		t.Errorf("second span: status %s, %v; want 200 and no error", code, spans[1].Status())
	}
	if spans[0].Name() != "HTTP POST" {
		t.Errorf("span name %q", spans[0].Name())
	}
}

func TestRetryReplaysStreamedBody(t *testing.T) {
	var (
		mu     sync.Mutex
		bodies []string
	)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		n := len(bodies)
		mu.Unlock()
		if n < 3 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	h := newHarness(t, Config{Retry: fastRetry()})
	// A body net/http cannot rebuild by itself (no GetBody).
	body := io.MultiReader(strings.NewReader("Id,LastName\n"), strings.NewReader("003,Hopper\n"))
	req, err := http.NewRequestWithContext(retry.MarkIdempotent(t.Context()), http.MethodPut, srv.URL+"/ingest/batches", body)
	if err != nil {
		t.Fatal(err)
	}
	if req.GetBody != nil {
		t.Fatal("test needs a body without GetBody")
	}
	resp, err := h.c.Do(req)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	resp.Body.Close()
	if len(bodies) != 3 {
		t.Fatalf("%d attempts; want 3", len(bodies))
	}
	for i, b := range bodies {
		if b != "Id,LastName\n003,Hopper\n" {
			t.Errorf("attempt %d sent %q", i+1, b)
		}
	}
}

func TestPOSTWithoutKeyIsTriedOnce(t *testing.T) {
	var n counter
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n.inc()
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	h := newHarness(t, Config{Retry: fastRetry()})
	_, err := h.c.Do(mustRequest(t, http.MethodPost, srv.URL, `{"LastName":"X"}`))
	if !errors.Is(err, crm.ErrUnavailable) {
		t.Fatalf("err = %v; want unavailable", err)
	}
	var ce *crm.Error
	if errors.As(err, &ce); ce.StatusCode != http.StatusServiceUnavailable || ce.CRM != "testcrm" {
		t.Errorf("error %+v; want status 503 and CRM filled in", ce)
	}
	if n.get() != 1 {
		t.Errorf("%d attempts; a POST without a key must be sent once", n.get())
	}
}

func TestPOSTWithIdempotencyKeyIsRetried(t *testing.T) {
	var n counter
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Idempotency-Key") != "k-1" {
			t.Errorf("attempt without the key")
		}
		if n.inc() == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	h := newHarness(t, Config{Retry: fastRetry()})
	req := mustRequest(t, http.MethodPost, srv.URL, `{}`)
	req.Header.Set("Idempotency-Key", "k-1")
	resp, err := h.c.Do(req)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || n.get() != 2 {
		t.Errorf("status %d after %d attempts; want 201 after 2", resp.StatusCode, n.get())
	}
}

func TestTransportErrorOnGETIsRetried(t *testing.T) {
	var n counter
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if n.inc() == 1 {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close() // the client sees the connection close before any answer
			}
			return
		}
		io.WriteString(w, "ok")
	})
	h := newHarness(t, Config{Retry: fastRetry()})
	resp, err := h.c.Do(mustRequest(t, http.MethodGet, srv.URL, ""))
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	resp.Body.Close()
	if n.get() != 2 {
		t.Errorf("%d attempts; want 2", n.get())
	}
	if s := h.ended()[0]; s.Status().Code != codes.Error || len(s.Events()) == 0 {
		t.Errorf("the failed attempt's span has status %v and %d events; want an error and its event", s.Status(), len(s.Events()))
	}
}

func TestFinal4xxUsesCheckResponse(t *testing.T) {
	var n counter
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n.inc()
		w.Header().Set("Sforce-Call-Id", "call-77")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `[{"errorCode":"INVALID_EMAIL_ADDRESS","message":"Email: invalid email address: x","fields":["Email"]}]`)
	})
	check := func(resp *http.Response, body []byte) *crm.Error {
		var errs []struct {
			ErrorCode string   `json:"errorCode"`
			Message   string   `json:"message"`
			Fields    []string `json:"fields"`
		}
		if json.Unmarshal(body, &errs) != nil || len(errs) == 0 {
			return nil
		}
		return &crm.Error{Kind: crm.KindValidation, Code: errs[0].ErrorCode, Message: errs[0].Message, Fields: errs[0].Fields}
	}
	h := newHarness(t, Config{CRM: "salesforce", Retry: fastRetry(), CheckResponse: check, RequestIDHeaders: []string{"X-Request-Id", "Sforce-Call-Id"}})
	req := tagged(mustRequest(t, http.MethodPatch, srv.URL+"/sobjects/Contact/003", `{"Email":"x"}`), "write", "Contact")
	_, err := h.c.Do(retryMarked(req))
	if !errors.Is(err, crm.ErrValidation) {
		t.Fatalf("err = %v; want validation", err)
	}
	var ce *crm.Error
	errors.As(err, &ce)
	want := crm.Error{Kind: crm.KindValidation, CRM: "salesforce", Operation: "write", Object: "Contact", StatusCode: 400,
		Code: "INVALID_EMAIL_ADDRESS", Message: "Email: invalid email address: x", RequestID: "call-77"}
	if ce.Kind != want.Kind || ce.CRM != want.CRM || ce.Operation != want.Operation || ce.Object != want.Object ||
		ce.StatusCode != want.StatusCode || ce.Code != want.Code || ce.Message != want.Message || ce.RequestID != want.RequestID ||
		len(ce.Fields) != 1 || ce.Fields[0] != "Email" {
		t.Errorf("error %+v;\nwant %+v", *ce, want)
	}
	if n.get() != 1 {
		t.Errorf("%d attempts; a validation error is not retried", n.get())
	}
	s := h.ended()[0]
	for key, want := range map[string]string{"crm.system": "salesforce", "crm.operation": "write", "crm.object": "Contact",
		"http.request.method": "PATCH", "url.path": "/sobjects/Contact/003", "server.address": "127.0.0.1",
		"crm.request_id": "call-77", "http.response.status_code": "400"} {
		if got, _ := attr(s, key); got != want {
			t.Errorf("span attribute %s = %q; want %q", key, got, want)
		}
	}
}

// retryMarked marks req idempotent, as an adapter does for an upsert.
func retryMarked(req *http.Request) *http.Request {
	return req.WithContext(retry.MarkIdempotent(req.Context()))
}

func TestDefaultCheckResponse(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "rid-1")
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, "slow down\n   please "+strings.Repeat("x", 2000))
	})
	h := newHarness(t, Config{RequestIDHeaders: []string{"X-Request-Id"}})
	_, err := h.c.Do(mustRequest(t, http.MethodGet, srv.URL+"/q?q=SELECT+Id", ""))
	var ce *crm.Error
	if !errors.As(err, &ce) || ce.Kind != crm.KindRateLimited {
		t.Fatalf("err = %v; want rate limited", err)
	}
	if ce.RetryAfter.Seconds() != 7 || ce.RequestID != "rid-1" {
		t.Errorf("RetryAfter %v, RequestID %q; want 7s and rid-1", ce.RetryAfter, ce.RequestID)
	}
	if !strings.HasPrefix(ce.Message, "slow down please xxx") || !strings.HasSuffix(ce.Message, "(clipped)") || len(ce.Message) > 600 {
		t.Errorf("message %q; want the body, spaces folded, clipped", ce.Message)
	}
	if p, _ := attr(h.ended()[0], "url.path"); p != "/q" {
		t.Errorf("url.path = %q; want the path without its query", p)
	}
}

func TestRequestIDFirstNonEmptyWins(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Ms-Service-Request-Id", "ms-9")
		w.Header().Set("Request-Id", "generic-1")
		w.WriteHeader(http.StatusNotFound)
	})
	h := newHarness(t, Config{RequestIDHeaders: []string{"X-Absent", "x-ms-service-request-id", "Request-Id"}})
	_, err := h.c.Do(mustRequest(t, http.MethodGet, srv.URL, ""))
	var ce *crm.Error
	if !errors.As(err, &ce) || ce.RequestID != "ms-9" || !errors.Is(err, crm.ErrNotFound) {
		t.Fatalf("err = %v; want not found with request id ms-9", err)
	}
	if !strings.Contains(err.Error(), "ms-9") {
		t.Errorf("error text %q does not name the request id", err)
	}
	if id, _ := attr(h.ended()[0], "crm.request_id"); id != "ms-9" {
		t.Errorf("span crm.request_id = %q", id)
	}
}

func TestSizeCapStreamedBody(t *testing.T) {
	const limit = 1024
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		for range n / 256 {
			w.Write([]byte(strings.Repeat("a", 256)))
			http.NewResponseController(w).Flush() // chunked: no Content-Length
		}
		w.Write([]byte(strings.Repeat("a", n%256)))
	})
	h := newHarness(t, Config{MaxResponseBytes: limit})

	resp, err := h.c.Do(mustRequest(t, http.MethodGet, srv.URL+"/?n=1024", ""))
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || len(b) != limit {
		t.Fatalf("a body of exactly the cap: %d bytes, err %v", len(b), err)
	}

	resp, err = h.c.Do(mustRequest(t, http.MethodGet, srv.URL+"/?n=1025", ""))
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	defer resp.Body.Close()
	if resp.ContentLength != -1 {
		t.Fatalf("server sent Content-Length %d; the test needs a streamed body", resp.ContentLength)
	}
	b, err = io.ReadAll(resp.Body)
	if !errors.Is(err, ErrResponseTooLarge) || !errors.Is(err, crm.ErrInvalidRequest) {
		t.Fatalf("reading past the cap: err = %v; want ErrResponseTooLarge", err)
	}
	if !strings.Contains(err.Error(), "1 KiB cap") || !strings.Contains(err.Error(), "MaxResponseBytes") {
		t.Errorf("err = %v; want it to name the cap and the setting", err)
	}
	if len(b) > limit {
		t.Errorf("read %d bytes past a %d cap", len(b), limit)
	}
	if _, err := resp.Body.Read(make([]byte, 1)); !errors.Is(err, ErrResponseTooLarge) {
		t.Errorf("a later read returned %v; want the same error", err)
	}
}

func TestSizeCapContentLengthFailsEarly(t *testing.T) {
	var n counter
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n.inc()
		w.Header().Set("Content-Length", "4096")
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		// Send none of the body: a client that tried to read it would hang.
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	h := newHarness(t, Config{MaxResponseBytes: 1024, Retry: fastRetry()})
	_, err := h.c.Do(mustRequest(t, http.MethodGet, srv.URL, ""))
	if !errors.Is(err, ErrResponseTooLarge) {
		t.Fatalf("err = %v; want ErrResponseTooLarge before reading", err)
	}
	if !strings.Contains(err.Error(), "4 KiB (Content-Length)") || !strings.Contains(err.Error(), "1 KiB cap") {
		t.Errorf("err = %v; want the declared length and the cap", err)
	}
	if n.get() != 1 {
		t.Errorf("%d attempts; an oversized response is not retried", n.get())
	}
	// The plain client enforces the cap too.
	if _, err := h.c.HTTPClient().Get(srv.URL); !errors.Is(err, ErrResponseTooLarge) {
		t.Errorf("HTTPClient: err = %v; want ErrResponseTooLarge", err)
	}
}

func TestHTTPClientKeepsStatusesAndSpans(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, "boom")
	})
	var observed counter
	h := newHarness(t, Config{Retry: fastRetry(), Observe: func(*http.Response) ratelimit.Observation {
		observed.inc()
		return ratelimit.Observation{}
	}})
	resp, err := h.c.HTTPClient().Get(srv.URL)
	if err != nil {
		t.Fatalf("HTTPClient Get: %v", err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 500 || string(b) != "boom" {
		t.Errorf("status %d body %q; want the 500 as is", resp.StatusCode, b)
	}
	if len(h.ended()) != 1 || observed.get() != 1 {
		t.Errorf("%d spans, %d observations; want 1 and 1 (no retry)", len(h.ended()), observed.get())
	}
}

func TestUserAgent(t *testing.T) {
	var (
		mu  sync.Mutex
		got []string
	)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.UserAgent())
		mu.Unlock()
	})
	h := newHarness(t, Config{CRM: "hubspot"})
	req := mustRequest(t, http.MethodGet, srv.URL, "")
	resp, err := h.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if req.Header.Get("User-Agent") != "" {
		t.Error("Do changed the caller's request headers")
	}
	req = mustRequest(t, http.MethodGet, srv.URL, "")
	req.Header.Set("User-Agent", "host-app/2")
	if resp, err = h.c.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(got) != 2 || got[0] != "crmkit (hubspot)" || got[1] != "host-app/2" {
		t.Errorf("User-Agents %q", got)
	}
}

// quotaObserver reads test quota headers and counts its calls.
type quotaObserver struct {
	calls   counter
	mu      sync.Mutex
	seenRem []string
}

func (q *quotaObserver) observe(resp *http.Response) ratelimit.Observation {
	q.calls.inc()
	q.mu.Lock()
	q.seenRem = append(q.seenRem, resp.Header.Get("X-Remaining"))
	q.mu.Unlock()
	atoi := func(k string) int64 { n, _ := strconv.ParseInt(resp.Header.Get(k), 10, 64); return n }
	return ratelimit.Observation{
		Remaining: atoi("X-Remaining"), Limit: atoi("X-Limit"),
		DailyUsed: atoi("X-Daily-Used"), DailyLimit: atoi("X-Daily-Limit"),
	}
}

func TestLimiterObservesEveryResponse(t *testing.T) {
	var n counter
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		i := n.inc()
		w.Header().Set("X-Remaining", strconv.Itoa(100-i))
		w.Header().Set("X-Limit", "100")
		w.Header().Set("X-Daily-Limit", "1000")
		w.Header().Set("X-Daily-Used", strconv.Itoa([]int{0, 500, 900}[min(i-1, 2)]))
		if i == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // observed too, then retried
		}
	})
	var q quotaObserver
	lim := ratelimit.New(ratelimit.WithDailyGuard(0.8))
	h := newHarness(t, Config{Retry: fastRetry(), Limiter: lim, Observe: q.observe})

	for i := range 2 {
		resp, err := h.c.Do(mustRequest(t, http.MethodGet, srv.URL, ""))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		resp.Body.Close()
	}
	if q.calls.get() != 3 || strings.Join(q.seenRem, ",") != "99,98,97" {
		t.Fatalf("Observe called %d times with remaining %v; want once per response (99,98,97)", q.calls.get(), q.seenRem)
	}
	if got := lim.Daily(); got.Used != 900 || got.Max != 1000 {
		t.Errorf("limiter's daily figures %+v; want the last observation's 900/1000", got)
	}
	if rem, ok := attr(h.ended()[2], "crm.quota.remaining"); !ok || rem != "97" {
		t.Errorf("span crm.quota.remaining = %q, %v; want 97", rem, ok)
	}
	// 900 of 1000 is past the 80% guard: the next request never leaves.
	_, err := h.c.Do(mustRequest(t, http.MethodGet, srv.URL, ""))
	if !errors.Is(err, crm.ErrQuotaExhausted) {
		t.Fatalf("err = %v; want quota exhausted from the limiter", err)
	}
	if n.get() != 3 {
		t.Errorf("server saw %d requests; the guarded one must not be sent", n.get())
	}
	var ce *crm.Error
	if errors.As(err, &ce); ce.CRM != "testcrm" {
		t.Errorf("quota error's CRM = %q; want it filled in", ce.CRM)
	}
}

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"0", 0}, {"-5", 0}, {"soon", 0}, {"120", 2 * time.Minute},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"99999999999999999999", 0}, // does not parse as int64, nor as a date
		{"9223372036854775807", time.Duration(1<<63-1) / time.Second * time.Second},
	} {
		h := http.Header{}
		if tt.in != "" {
			h.Set("Retry-After", tt.in)
		}
		if got := retryAfter(h, now); got != tt.want {
			t.Errorf("Retry-After %q = %v; want %v", tt.in, got, tt.want)
		}
	}
}

func TestCloseIdleConnections(t *testing.T) {
	var closed counter
	h := newHarness(t, Config{Base: closeCounter{&closed}})
	h.c.CloseIdleConnections()
	if closed.get() != 1 {
		t.Error("CloseIdleConnections did not reach Base")
	}
	newHarness(t, Config{Base: failingBase{}}).c.CloseIdleConnections() // a Base without it is fine
}

type closeCounter struct{ n *counter }

func (closeCounter) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("unused")
}
func (c closeCounter) CloseIdleConnections() { c.n.inc() }

// A body without GetBody is sent with its Content-Length (strict servers
// answer a chunked upload with 411), on the first attempt as on a retry.
func TestStreamedBodyHasContentLength(t *testing.T) {
	var (
		mu      sync.Mutex
		lengths []int64
		chunked []bool
	)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		lengths = append(lengths, r.ContentLength)
		chunked = append(chunked, len(r.TransferEncoding) > 0)
		n := len(lengths)
		mu.Unlock()
		if r.ContentLength != int64(len(b)) {
			t.Errorf("Content-Length %d for a body of %d bytes", r.ContentLength, len(b))
		}
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	h := newHarness(t, Config{Retry: fastRetry()})
	body := io.MultiReader(strings.NewReader("Id\n"), strings.NewReader("003\n"))
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, srv.URL+"/ingest", body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := h.c.Do(req)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	resp.Body.Close()
	if len(lengths) != 2 || lengths[0] != 7 || lengths[1] != 7 || chunked[0] || chunked[1] {
		t.Errorf("Content-Lengths %v, chunked %v; want 7 on both attempts, never chunked", lengths, chunked)
	}
}

// A 307 or 308 makes net/http send the body again; a body without GetBody
// must still be replayable then, not returned as the 307 itself.
func TestStreamedBodyFollows307(t *testing.T) {
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/x" {
				http.Redirect(w, r, "/moved", status)
				return
			}
			b, _ := io.ReadAll(r.Body)
			io.WriteString(w, "got "+string(b))
		})
		h := newHarness(t, Config{})
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, srv.URL+"/x",
			io.MultiReader(strings.NewReader("pay"), strings.NewReader("load")))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := h.c.Do(req)
		if err != nil {
			t.Fatalf("%d: Do: %v", status, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(b) != "got payload" {
			t.Errorf("%d: status %d body %q; want 200 \"got payload\"", status, resp.StatusCode, b)
		}
	}
}

// httpx.MarkIdempotent marks one request; retry.MarkIdempotent marks a
// context and everything derived from it.
func TestMarkIdempotentIsRequestScoped(t *testing.T) {
	var (
		mu    sync.Mutex
		calls = map[string]int{}
		marks []string
	)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls[r.URL.Path]++
		marks = append(marks, r.Header.Get(idempotentHeader))
		mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	h := newHarness(t, Config{Retry: fastRetry()})
	ctx := t.Context()

	upsert := mustRequest(t, http.MethodPatch, srv.URL+"/upsert", `{"Email":"a@example.com"}`).WithContext(ctx)
	MarkIdempotent(upsert)
	if _, err := h.c.Do(upsert); !errors.Is(err, crm.ErrUnavailable) {
		t.Fatalf("upsert: err = %v", err)
	}
	if upsert.Header.Get(idempotentHeader) == "" {
		t.Error("Do removed the mark from the caller's request")
	}
	// A later create with the same context is not retried.
	create := mustRequest(t, http.MethodPost, srv.URL+"/create", `{"LastName":"X"}`).WithContext(ctx)
	if _, err := h.c.Do(create); !errors.Is(err, crm.ErrUnavailable) {
		t.Fatalf("create: err = %v", err)
	}
	if calls["/upsert"] != 3 || calls["/create"] != 1 {
		t.Errorf("attempts %v; want the marked upsert retried (3) and the create sent once", calls)
	}
	for _, m := range marks {
		if m != "" {
			t.Errorf("the CRM received crmkit's internal header %s: %q", idempotentHeader, m)
		}
	}
	if idempotent(create) || !idempotent(upsert) {
		t.Error("idempotent() disagrees with the marks")
	}
}
