package httpx

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// harness is one test's client with everything it produces recorded: spans
// in memory and logs in a buffer.
type harness struct {
	t     *testing.T
	c     *Client
	spans *tracetest.SpanRecorder
	logs  *syncBuffer
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newHarness builds a Client from cfg, filling in CRM, the tracer provider
// and the logger when the test left them empty.
func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, spans: tracetest.NewSpanRecorder(), logs: &syncBuffer{}}
	if cfg.CRM == "" {
		cfg.CRM = "testcrm"
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(h.spans))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	if cfg.TracerProvider == nil {
		cfg.TracerProvider = tp
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.c = c
	return h
}

// ended returns the spans ended so far.
func (h *harness) ended() []sdktrace.ReadOnlySpan { return h.spans.Ended() }

// attr returns the value of a span attribute as text, and whether it is set.
func attr(s sdktrace.ReadOnlySpan, key string) (string, bool) {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.String(), true
		}
	}
	return "", false
}

// everything renders all that the harness recorded, as text to scan.
func (h *harness) everything() string {
	var b strings.Builder
	for _, s := range h.ended() {
		fmt.Fprintln(&b, "span:", s.Name())
		for _, kv := range s.Attributes() {
			fmt.Fprintf(&b, "  attr %s=%s\n", kv.Key, kv.Value.String())
		}
		for _, ev := range s.Events() {
			fmt.Fprintln(&b, "  event:", ev.Name)
			for _, kv := range ev.Attributes {
				fmt.Fprintf(&b, "    attr %s=%s\n", kv.Key, kv.Value.String())
			}
		}
		fmt.Fprintln(&b, "  status:", s.Status().Code, s.Status().Description)
	}
	b.WriteString(h.logs.String())
	return b.String()
}

// renderError renders err every way a program might print it: %v, %+v, %#v,
// %s, %q, and each error of its chain.
func renderError(err error) string {
	if err == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%v\n%+v\n%#v\n%s\n%q\n", err, err, err, err, err)
	for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
		fmt.Fprintf(&b, "chain: %v | %+v | %#v\n", e, e, e)
	}
	return b.String()
}

// counter counts requests to a handler.
type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) inc() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return c.n
}

func (c *counter) get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// handlerTransport serves requests with an http.Handler in memory. The
// synctest tests use it as Base: a real server's network reads are not
// "durably blocked", so the fake clock could not advance past them.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	if req.Body != nil {
		req.Body.Close()
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// newServer starts a fresh plain-HTTP test server and closes it at cleanup.
func newServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func mustRequest(t *testing.T, method, url string, body string) *http.Request {
	t.Helper()
	var req *http.Request
	var err error
	if body == "" {
		req, err = http.NewRequestWithContext(t.Context(), method, url, nil)
	} else {
		req, err = http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	}
	if err != nil {
		t.Fatal(err)
	}
	return req
}
