package auth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crmkit/crmkit/auth"
)

// rotatingServer issues a new refresh token on every refresh and, like
// Hydra, revokes the whole chain when a used one is replayed.
type rotatingServer struct {
	mu       sync.Mutex
	current  string
	used     map[string]bool
	refreshs int
	reuse    bool
}

func (s *rotatingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := r.PostForm.Get("refresh_token")
	if s.used[rt] {
		s.reuse, s.current = true, ""
	}
	if rt == "" || rt != s.current {
		w.WriteHeader(400)
		_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"refresh token reused or revoked"}`))
		return
	}
	s.used[rt] = true
	s.refreshs++
	s.current = fmt.Sprintf("rotated-refresh-%d", s.refreshs)
	secret(s.current, fmt.Sprintf("rotated-access-%d", s.refreshs))
	fmt.Fprintf(w, `{"access_token":"rotated-access-%d","refresh_token":%q,"expires_in":3600,"token_type":"bearer"}`, s.refreshs, s.current)
}

func TestRotatingSingleRefreshAcrossWorkers(t *testing.T) {
	ts := &rotatingServer{current: "initial-refresh-token", used: map[string]bool{}}
	secret(ts.current, "expired-access-token")
	srv := httptest.NewServer(ts)
	defer srv.Close()
	dir := t.TempDir()
	ctx := context.Background()
	seedStore, err := auth.NewFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	expired := &auth.Token{AccessToken: "expired-access-token", RefreshToken: ts.current, Expiry: time.Now().Add(-time.Minute)}
	if err := auth.Seed(ctx, seedStore, "hubspot-portal-1", expired); err != nil {
		t.Fatal(err)
	}
	flow := &auth.AuthCodeFlow{Name: "test", TokenURL: srv.URL, ClientID: "c", HTTPClient: srv.Client()}
	var wg sync.WaitGroup
	got := make([]string, 16)
	for i := range got {
		wg.Go(func() {
			store, err := auth.NewFileStore(dir) // each worker its own store, as separate processes would
			if err != nil {
				t.Error(err)
				return
			}
			rot := &auth.Rotating{Store: store, Key: "hubspot-portal-1", Refresher: flow, Poll: time.Millisecond}
			tok, err := rot.Token(ctx)
			observeErr(err)
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = tok.AccessToken
		})
	}
	wg.Wait()
	if ts.refreshs != 1 || ts.reuse {
		t.Errorf("%d refreshes reached the server (reuse detected: %v), want exactly 1", ts.refreshs, ts.reuse)
	}
	for i, g := range got {
		if g != "rotated-access-1" {
			t.Errorf("worker %d ended with %q, want rotated-access-1", i, g)
		}
	}
	sec, err := seedStore.Get(ctx, "hubspot-portal-1")
	observe(fmt.Sprint(sec))
	if err != nil || sec.Version != 3 {
		t.Errorf("store: version %d (%v), want 3 (seed, claim, rotated)", sec.Version, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "hubspot-portal-1.secret"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode: %v %v", fi, err)
	}
}

func TestStoresCompareAndSwap(t *testing.T) {
	fs, err := auth.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, s := range map[string]auth.SecretStore{"memory": auth.NewMemoryStore(), "file": fs} {
		if _, err := s.Get(ctx, "k"); !errors.Is(err, auth.ErrSecretNotFound) {
			t.Errorf("%s: missing key: %v", name, err)
		}
		v, err := s.CompareAndSwap(ctx, "k", 0, []byte("one"))
		if err != nil || v != 1 {
			t.Fatalf("%s: create: %d %v", name, v, err)
		}
		if _, err := s.CompareAndSwap(ctx, "k", 0, []byte("again")); !errors.Is(err, auth.ErrVersionConflict) {
			t.Errorf("%s: stale create: %v", name, err)
		}
		if v, err := s.CompareAndSwap(ctx, "k", 1, []byte("two")); err != nil || v != 2 {
			t.Errorf("%s: update: %d %v", name, v, err)
		}
		sec, err := s.Get(ctx, "k")
		if err != nil || string(sec.Value) != "two" || sec.Version != 2 {
			t.Errorf("%s: get: %v %v", name, sec, err)
		}
		if out := fmt.Sprintf("%v %+v %#v %s", sec, sec, sec, sec); out == "" || containsAny(out, "two") {
			t.Errorf("%s: Secret printed its value: %s", name, out)
		}
	}
	if _, err := fs.Get(ctx, "../escape"); err == nil {
		t.Error("file store accepted a key with a path")
	}
}

func containsAny(s, sub string) bool {
	return len(sub) > 0 && len(s) >= len(sub) && strings.Contains(s, sub)
}

// One Rotating shared by the goroutines of a process (as behind a
// Transport) refreshes once: its goroutines share one trip to the store.
func TestRotatingSharedByGoroutines(t *testing.T) {
	ts := &rotatingServer{current: "shared-initial-refresh", used: map[string]bool{}}
	secret(ts.current, "shared-expired-access")
	srv := httptest.NewServer(ts)
	defer srv.Close()
	ctx := context.Background()
	store := auth.NewMemoryStore()
	expired := &auth.Token{AccessToken: "shared-expired-access", RefreshToken: ts.current, Expiry: time.Now().Add(-time.Minute)}
	if err := auth.Seed(ctx, store, "k", expired); err != nil {
		t.Fatal(err)
	}
	rot := &auth.Rotating{Store: store, Key: "k", Poll: time.Millisecond,
		Refresher: &auth.AuthCodeFlow{Name: "test", TokenURL: srv.URL, ClientID: "c", HTTPClient: srv.Client()}}
	start := make(chan struct{})
	var wg sync.WaitGroup
	got := make([]string, 32)
	for i := range got {
		wg.Go(func() {
			<-start
			tok, err := rot.Token(ctx)
			observeErr(err)
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = tok.AccessToken
		})
	}
	close(start)
	wg.Wait()
	if ts.refreshs != 1 || ts.reuse {
		t.Errorf("%d refreshes reached the server (reuse detected: %v), want exactly 1", ts.refreshs, ts.reuse)
	}
	for i, g := range got {
		if g != "rotated-access-1" {
			t.Errorf("goroutine %d ended with %q, want rotated-access-1", i, g)
		}
	}
}

// Reuse over Rotating: Invalidate reaches the store-backed source, so a
// token the API refused is refreshed rather than read back from the store.
func TestReuseInvalidatesRotating(t *testing.T) {
	ts := &rotatingServer{current: "reuse-initial-refresh", used: map[string]bool{}}
	secret(ts.current, "reuse-live-access")
	srv := httptest.NewServer(ts)
	defer srv.Close()
	ctx := context.Background()
	store := auth.NewMemoryStore()
	live := &auth.Token{AccessToken: "reuse-live-access", RefreshToken: ts.current, Expiry: time.Now().Add(time.Hour)}
	if err := auth.Seed(ctx, store, "k", live); err != nil {
		t.Fatal(err)
	}
	src := auth.Reuse(&auth.Rotating{Store: store, Key: "k", Poll: time.Millisecond,
		Refresher: &auth.AuthCodeFlow{Name: "test", TokenURL: srv.URL, ClientID: "c", HTTPClient: srv.Client()}})
	tok, err := src.Token(ctx)
	if err != nil || tok.AccessToken != "reuse-live-access" {
		t.Fatalf("first token: %v %v", tok, err)
	}
	src.Invalidate()
	tok, err = src.Token(ctx)
	if err != nil || tok.AccessToken != "rotated-access-1" || ts.refreshs != 1 {
		t.Fatalf("after Invalidate: %v %v (%d refreshes), want rotated-access-1 from one refresh", tok, err, ts.refreshs)
	}
}
