package auth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/crmkit/crmkit/auth"
)

func TestTokenStringHidesCredentials(t *testing.T) {
	tok := &auth.Token{AccessToken: "access-SECRET-1", RefreshToken: "refresh-SECRET-1", TokenType: "bearer",
		InstanceURL: "https://x.my.salesforce.com", Expiry: time.Unix(1700000000, 0), Extra: map[string]any{"signature": "sig-SECRET-1"}}
	secret(tok.AccessToken, tok.RefreshToken, "sig-SECRET-1")
	var buf strings.Builder
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("got", "token", tok)
	outs := []string{fmt.Sprint(tok), fmt.Sprintf("%+v", tok), fmt.Sprintf("%#v", tok), buf.String()}
	for _, o := range outs {
		observe(o)
		if strings.Contains(o, "SECRET") {
			t.Errorf("output reveals a credential: %s", o)
		}
	}
	if !strings.Contains(outs[0], "instance_url=https://x.my.salesforce.com") || !strings.Contains(outs[0], "type=Bearer") {
		t.Errorf("String lost the useful fields: %s", outs[0])
	}
	if !strings.Contains(buf.String(), `"access_token":"[REDACTED]"`) {
		t.Errorf("LogValue: %s", buf.String())
	}
}

func TestOAuth2RoundTrip(t *testing.T) {
	ot := (&oauth2.Token{AccessToken: "ot-access-token", TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}).
		WithExtra(map[string]any{"instance_url": "https://i.example"})
	secret(ot.AccessToken)
	src := auth.FromOAuth2(oauth2.StaticTokenSource(ot))
	tok, err := src.Token(context.Background())
	if err != nil || tok.AccessToken != "ot-access-token" || tok.InstanceURL != "https://i.example" {
		t.Fatalf("FromOAuth2: %v %v", tok, err)
	}
	back, err := auth.Reuse(src).OAuth2(context.Background()).Token()
	if err != nil || back.AccessToken != "ot-access-token" || back.Extra("instance_url") != "https://i.example" {
		t.Fatalf("OAuth2: %v %v", back, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := src.Token(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}
}

// countingSource issues tok-1, tok-2, ... with the given lifetime, and
// counts its calls.
type countingSource struct {
	n     atomic.Int64
	life  time.Duration
	now   func() time.Time
	gate  chan struct{} // when set, each fetch waits for it
	fail  atomic.Bool
	calls atomic.Int64
}

func (c *countingSource) Token(ctx context.Context) (*auth.Token, error) {
	c.calls.Add(1)
	if c.gate != nil {
		select {
		case <-c.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if c.fail.Load() {
		return nil, errors.New("token endpoint down")
	}
	n := c.n.Add(1)
	t := &auth.Token{AccessToken: fmt.Sprintf("tok-%d", n)}
	if c.life > 0 {
		t.Expiry = c.now().Add(c.life)
	}
	return t, nil
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeClock) Now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *fakeClock) Add(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

func TestReuseRefreshesAt80Percent(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	src := &countingSource{life: 100 * time.Second, now: clk.Now}
	r := auth.Reuse(src, auth.WithClock(clk.Now), auth.WithLogger(testLogger()))
	ctx := context.Background()
	get := func() string {
		t.Helper()
		tok, err := r.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}
	if got := get(); got != "tok-1" {
		t.Fatalf("first: %s", got)
	}
	clk.Add(79 * time.Second)
	if got := get(); got != "tok-1" {
		t.Fatalf("at 79%%: %s, want the cached tok-1", got)
	}
	clk.Add(1 * time.Second)
	if got := get(); got != "tok-2" {
		t.Fatalf("at 80%%: %s, want a refresh", got)
	}
	// A refresh ahead of expiry that fails keeps the still-valid token.
	clk.Add(85 * time.Second)
	src.fail.Store(true)
	if got := get(); got != "tok-2" {
		t.Fatalf("failed early refresh: %s, want tok-2", got)
	}
	clk.Add(20 * time.Second) // now expired
	if _, err := r.Token(ctx); err == nil {
		t.Fatal("expired token and failing source: want an error")
	}
	src.fail.Store(false)
	r.Invalidate()
	if got := get(); got != "tok-3" {
		t.Fatalf("after Invalidate: %s", got)
	}
	r.Invalidate()
	if got := get(); got != "tok-4" {
		t.Fatalf("after second Invalidate: %s", got)
	}
}

func TestReuseSingleFlight(t *testing.T) {
	src := &countingSource{gate: make(chan struct{}), now: time.Now}
	r := auth.Reuse(src)
	var wg sync.WaitGroup
	got := make([]string, 32)
	for i := range got {
		wg.Go(func() {
			tok, err := r.Token(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = tok.AccessToken
		})
	}
	// Wait until the one fetch has started, then let it finish.
	for src.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(src.gate)
	wg.Wait()
	if n := src.calls.Load(); n != 1 {
		t.Errorf("%d fetches for 32 concurrent callers, want 1", n)
	}
	for _, g := range got {
		if g != "tok-1" {
			t.Errorf("caller got %q, want tok-1", g)
		}
	}
}

func TestReuseWaiterHonoursCtx(t *testing.T) {
	src := &countingSource{gate: make(chan struct{}), now: time.Now}
	r := auth.Reuse(src)
	done := make(chan error)
	go func() { _, err := r.Token(context.Background()); done <- err }()
	for src.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Token(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("waiter with a cancelled ctx: %v", err)
	}
	close(src.gate)
	if err := <-done; err != nil {
		t.Error(err)
	}
}

func TestTransportRetriesOnceAfter401(t *testing.T) {
	var valid atomic.Value
	valid.Store("tok-1")
	var bodies []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+valid.Load().(string) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	src := &countingSource{now: time.Now}
	client := &http.Client{Transport: &auth.Transport{Source: auth.Reuse(src), Base: srv.Client().Transport}}

	post := func() *http.Response {
		t.Helper()
		resp, err := client.Post(srv.URL, "text/plain", strings.NewReader("payload"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := post(); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	valid.Store("tok-2") // the server revokes tok-1
	if resp := post(); resp.StatusCode != 200 {
		t.Fatalf("after revocation: status %d, want 200 after one refresh", resp.StatusCode)
	}
	if n := src.calls.Load(); n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}
	mu.Lock()
	if len(bodies) != 3 || bodies[2] != "payload" {
		t.Errorf("bodies %q: the retry must replay the body", bodies)
	}
	mu.Unlock()

	valid.Store("never")
	if resp := post(); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("persistent 401: status %d", resp.StatusCode)
	}
	if n := src.calls.Load(); n != 3 {
		t.Errorf("%d fetches after a persistent 401, want exactly one more (3)", n)
	}

	// Without GetBody the request is not retried.
	req, _ := http.NewRequest(http.MethodPost, srv.URL, io.NopCloser(strings.NewReader("x")))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := src.calls.Load(); n != 3 || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no GetBody: %d fetches, status %d; want no refresh and the 401", n, resp.StatusCode)
	}
}

func TestStaticEmpty(t *testing.T) {
	_, err := auth.HubSpotPrivateApp("").Token(context.Background())
	observeErr(err)
	if !auth.IsUnauthorized(err) || !strings.Contains(err.Error(), "private app") {
		t.Errorf("empty static token: %v", err)
	}
	s := auth.HubSpotPrivateApp("pat-na1-secret-value")
	secret("pat-na1-secret-value")
	observe(fmt.Sprint(s))
	tok, err := s.Token(context.Background())
	if err != nil || tok.AccessToken != "pat-na1-secret-value" {
		t.Errorf("static: %v %v", tok, err)
	}
}
