package vault

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/crmkit/crmkit/auth"
)

func TestCompareAndSwapCreatesAndUpdates(t *testing.T) {
	s, root := newTestStore(t)
	ctx := t.Context()

	if _, err := s.Get(ctx, "hubspot"); !errors.Is(err, auth.ErrSecretNotFound) {
		t.Fatalf("Get of a key never written: err = %v, want ErrSecretNotFound", err)
	}
	v1, err := s.CompareAndSwap(ctx, "hubspot", 0, []byte("refresh-1"))
	if err != nil || v1 != 1 {
		t.Fatalf("CompareAndSwap(0) = %d, %v; want 1, nil", v1, err)
	}
	got, err := s.Get(ctx, "hubspot")
	if err != nil || string(got.Value) != "refresh-1" || got.Version != 1 {
		t.Fatalf("Get = %v %q, %v; want version 1 refresh-1", got.Version, got.Value, err)
	}
	v2, err := s.CompareAndSwap(ctx, "hubspot", v1, []byte("refresh-2"))
	if err != nil || v2 != 2 {
		t.Fatalf("CompareAndSwap(1) = %d, %v; want 2, nil", v2, err)
	}
	got, err = s.Get(ctx, "hubspot")
	if err != nil || string(got.Value) != "refresh-2" || got.Version != 2 {
		t.Fatalf("Get = %v %q, %v; want version 2 refresh-2", got.Version, got.Value, err)
	}

	// The secret is where the docs say, in the documented shape, so that
	// an operator can read or seed it with the vault CLI.
	kvs, err := root.KVv2(testMount).Get(ctx, s.prefix+"/hubspot")
	if err != nil {
		t.Fatal(err)
	}
	if kvs.Data["value"] != "cmVmcmVzaC0y" || kvs.VersionMetadata.Version != 2 {
		t.Errorf("stored data = %v (version %d); want value=base64(refresh-2) at version 2", kvs.Data, kvs.VersionMetadata.Version)
	}
}

func TestCompareAndSwapConflicts(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := t.Context()

	if _, err := s.CompareAndSwap(ctx, "k", 0, []byte("first")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		key  string
		old  int64
	}{
		{"create over an existing key", "k", 0},
		{"stale version", "k", 0},
		{"version from the future", "k", 7},
		{"update of a missing key", "missing", 1},
	} {
		_, err := s.CompareAndSwap(ctx, tc.key, tc.old, []byte("loser"))
		if !errors.Is(err, auth.ErrVersionConflict) {
			t.Errorf("%s: CompareAndSwap(%q, %d) err = %v, want ErrVersionConflict", tc.name, tc.key, tc.old, err)
		}
	}
	got, err := s.Get(ctx, "k")
	if err != nil || string(got.Value) != "first" || got.Version != 1 {
		t.Errorf("after refused writes Get = %d %q, %v; want 1 first", got.Version, got.Value, err)
	}
	if _, err := s.Get(ctx, "missing"); !errors.Is(err, auth.ErrSecretNotFound) {
		t.Errorf("a refused create left something behind: Get err = %v", err)
	}
}

// Workers with their own clients race to write over each version; Vault's
// check-and-set must let exactly one through each time.
func TestConcurrentCompareAndSwapOneWinnerPerVersion(t *testing.T) {
	s, _ := newTestStore(t)
	addr, token := vaultServer(t)
	const workers, rounds = 24, 8
	stores := make([]*Store, workers)
	for i := range stores {
		c, err := NewClient(addr, token, nil)
		if err != nil {
			t.Fatal(err)
		}
		if stores[i], err = New(c, testMount, WithPrefix(s.prefix)); err != nil {
			t.Fatal(err)
		}
	}
	ctx := t.Context()
	for round := range rounds {
		old := int64(round)
		var wins atomic.Int32
		var winner atomic.Value
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w, ws := range stores {
			wg.Go(func() {
				<-start
				val := fmt.Appendf(nil, "round %d worker %d", round, w)
				v, err := ws.CompareAndSwap(ctx, "shared", old, val)
				switch {
				case err == nil:
					if v != old+1 {
						t.Errorf("round %d: winner got version %d, want %d", round, v, old+1)
					}
					wins.Add(1)
					winner.Store(string(val))
				case !errors.Is(err, auth.ErrVersionConflict):
					t.Errorf("round %d worker %d: %v", round, w, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if n := wins.Load(); n != 1 {
			t.Fatalf("round %d: %d writers won version %d, want exactly 1", round, n, old+1)
		}
		got, err := s.Get(ctx, "shared")
		if err != nil || got.Version != old+1 || string(got.Value) != winner.Load() {
			t.Fatalf("round %d: Get = %d %q, %v; want %d %q", round, got.Version, got.Value, err, old+1, winner.Load())
		}
	}
}

func TestValuesKeepEveryByte(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := t.Context()
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	big := make([]byte, 64<<10)
	_, _ = rand.Read(big)
	for i, val := range [][]byte{
		{},
		{0},
		all,
		[]byte("\xff\xfe not UTF-8 \xc3\x28"),
		[]byte(`{"json":"inside", "quote":"\"", "nul":"\u0000"}`),
		[]byte("line\r\nbreaks\tand spaces  "),
		big,
	} {
		key := fmt.Sprintf("bytes-%d", i)
		v, err := s.CompareAndSwap(ctx, key, 0, val)
		if err != nil {
			t.Fatalf("value %d: %v", i, err)
		}
		got, err := s.Get(ctx, key)
		if err != nil {
			t.Fatalf("value %d: %v", i, err)
		}
		if !bytes.Equal(got.Value, val) || got.Version != v {
			t.Errorf("value %d: read back %d bytes (version %d), wrote %d bytes (version %d)", i, len(got.Value), got.Version, len(val), v)
		}
	}
}

// A key whose latest version an operator deleted or destroyed reads as
// missing, and can be written again with version 0, once.
func TestDeletedLatestVersionIsMissing(t *testing.T) {
	s, root := newTestStore(t)
	ctx := t.Context()
	kv := root.KVv2(testMount)
	for _, remove := range []struct {
		name string
		do   func(path string, version int) error
	}{
		{"delete", func(p string, _ int) error { return kv.Delete(ctx, p) }},
		{"destroy", func(p string, v int) error { return kv.Destroy(ctx, p, []int{v}) }},
	} {
		key := "gone-" + remove.name
		v, err := s.CompareAndSwap(ctx, key, 0, []byte("before"))
		if err != nil {
			t.Fatal(err)
		}
		if err := remove.do(s.prefix+"/"+key, int(v)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, key); !errors.Is(err, auth.ErrSecretNotFound) {
			t.Fatalf("%s: Get err = %v, want ErrSecretNotFound", remove.name, err)
		}
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				_, err := s.CompareAndSwap(ctx, key, 0, []byte("after"))
				if err == nil {
					wins.Add(1)
				} else if !errors.Is(err, auth.ErrVersionConflict) {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%s: %d writers re-created the key, want 1", remove.name, wins.Load())
		}
		got, err := s.Get(ctx, key)
		if err != nil || string(got.Value) != "after" || got.Version != v+1 {
			t.Errorf("%s: Get = %d %q, %v; want %d after", remove.name, got.Version, got.Value, err, v+1)
		}
	}
}

// A write whose response is lost is retried by the Vault API client; the
// retry meets check-and-set's refusal, yet the write landed and must be
// reported as won. A real reverse proxy in front of Vault drops the first
// write's response after Vault has applied it.
func TestLostResponseOfALandedWriteIsAWin(t *testing.T) {
	addr, token := vaultServer(t)
	root := rootClient(t)
	target, _ := url.Parse(addr)
	var puts atomic.Int32
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(r *http.Response) error {
		if r.Request.Method == http.MethodPut && puts.Add(1) == 1 {
			return errors.New("dropping the response")
		}
		return nil
	}
	proxy.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) }
	srv := httptest.NewServer(proxy)
	defer srv.Close()

	c, err := NewClient(srv.URL, token, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SetMinRetryWait(10 * time.Millisecond)
	c.SetMaxRetryWait(20 * time.Millisecond)
	s, err := New(c, testMount, WithPrefix(testPrefix(t, root)))
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.CompareAndSwap(t.Context(), "k", 0, []byte("landed"))
	if err != nil || v != 1 {
		t.Fatalf("CompareAndSwap = %d, %v; want 1, nil (the first attempt landed)", v, err)
	}
	if n := puts.Load(); n != 2 {
		t.Fatalf("the proxy saw %d writes, want 2 (the dropped one and the client's retry)", n)
	}
	// A true conflict through the same proxy is still a conflict.
	if _, err := s.CompareAndSwap(t.Context(), "k", 0, []byte("late")); !errors.Is(err, auth.ErrVersionConflict) {
		t.Fatalf("second create: err = %v, want ErrVersionConflict", err)
	}
}

// allErrorText is err's message and that of everything it wraps.
func allErrorText(err error) string {
	var b strings.Builder
	for e := range walk(err) {
		b.WriteString(e.Error())
		b.WriteString("\n")
		b.WriteString(fmt.Sprintf("%+v %#v\n", e, e))
	}
	return b.String()
}

func walk(err error) func(func(error) bool) {
	return func(yield func(error) bool) {
		stack := []error{err}
		for len(stack) > 0 {
			e := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if e == nil {
				continue
			}
			if !yield(e) {
				return
			}
			switch u := e.(type) {
			case interface{ Unwrap() error }:
				stack = append(stack, u.Unwrap())
			case interface{ Unwrap() []error }:
				stack = append(stack, u.Unwrap()...)
			}
		}
	}
}

func TestErrorsNeverContainTokenOrValue(t *testing.T) {
	addr, _ := vaultServer(t)
	root := rootClient(t)
	ctx := t.Context()
	prefix := testPrefix(t, root)
	const value = "rt-very-secret-refresh-token-0123456789"

	// A real token that Vault refuses for the store's paths (403), and one
	// Vault does not know at all.
	weak, err := root.Auth().Token().CreateWithContext(ctx, &vaultapi.TokenCreateRequest{
		Policies: []string{"default"}, NoParent: true, TTL: "10m",
	})
	if err != nil {
		t.Fatal(err)
	}
	weakToken := weak.Auth.ClientToken
	unknownToken := "hvs." + randomID() + randomID()

	// A port nothing listens on: the connection is refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := "http://" + l.Addr().String()
	l.Close()

	for _, tc := range []struct {
		name, addr, token, wantInMsg string
	}{
		{"forbidden", addr, weakToken, "403"},
		{"unknown token", addr, unknownToken, "403"},
		{"unreachable", closedAddr, weakToken, "cannot reach Vault"},
	} {
		c, err := NewClient(tc.addr, tc.token, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.SetMaxRetries(0)
		s, err := New(c, testMount, WithPrefix(prefix))
		if err != nil {
			t.Fatal(err)
		}
		_, werr := s.CompareAndSwap(ctx, "k", 0, []byte(value))
		_, gerr := s.Get(ctx, "k")
		cerr := s.Check(ctx)
		for op, err := range map[string]error{"CompareAndSwap": werr, "Get": gerr, "Check": cerr} {
			if err == nil {
				t.Errorf("%s: %s succeeded, want an error", tc.name, op)
				continue
			}
			text := allErrorText(err)
			for _, secret := range []string{tc.token, value, "cnQtdmVyeS1zZWNyZXQtcmVmcmVzaC10b2tlbi0wMTIzNDU2Nzg5"} {
				if strings.Contains(text, secret) {
					t.Errorf("%s: %s error reveals a secret: %s", tc.name, op, text)
				}
			}
			want := tc.wantInMsg
			if want == "403" && op == "Check" {
				want = "policy" // Vault's 403 here cannot tell a missing mount from a forbidden one
			}
			if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "vault secret store") {
				t.Errorf("%s: %s error %q does not say %q", tc.name, op, err, want)
			}
			if tc.wantInMsg == "403" && !strings.Contains(err.Error(), "policy") {
				t.Errorf("%s: %s error %q does not point at the token's policy", tc.name, op, err)
			}
		}
	}
}

// A request that Vault (here a loopback server that accepts and never
// answers, standing in for a hung Vault) does not answer ends when its
// context does. This test needs no Vault.
func TestContextCancellationEndsTheWait(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns sync.WaitGroup
	done := make(chan struct{})
	defer func() { close(done); l.Close(); conns.Wait() }()
	conns.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Go(func() { <-done; c.Close() })
		}
	})
	c, err := NewClient("http://"+l.Addr().String(), "hvs.test-token", nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(c, testMount)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []struct {
		name string
		do   func(context.Context) error
	}{
		{"Get", func(ctx context.Context) error { _, err := s.Get(ctx, "k"); return err }},
		{"CompareAndSwap", func(ctx context.Context) error {
			_, err := s.CompareAndSwap(ctx, "k", 3, []byte("value"))
			return err
		}},
		{"Check", s.Check},
	} {
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { errc <- op.do(ctx) }()
		time.Sleep(20 * time.Millisecond)
		cancel()
		err := <-errc
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s after cancel: err = %v, want context.Canceled", op.name, err)
		}
		if err != nil && !strings.Contains(err.Error(), "vault secret store") {
			t.Errorf("%s: error %q does not say where it came from", op.name, err)
		}

		// An already cancelled context makes no request at all.
		if err := op.do(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: err = %v", op.name, err)
		}
	}
}

func TestCancelledContextWritesNothing(t *testing.T) {
	s, _ := newTestStore(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.CompareAndSwap(ctx, "k", 0, []byte("v")); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if _, err := s.Get(t.Context(), "k"); !errors.Is(err, auth.ErrSecretNotFound) {
		t.Fatalf("a cancelled write left a secret: Get err = %v", err)
	}
}

func TestCheck(t *testing.T) {
	s, root := newTestStore(t)
	ctx := t.Context()
	if err := s.Check(ctx); err != nil {
		t.Fatalf("Check of the dev server's secret/ mount: %v", err)
	}

	addr, token := vaultServer(t)
	c, err := NewClient(addr, token, nil)
	if err != nil {
		t.Fatal(err)
	}
	missing, err := New(c, "no-such-mount-"+randomID())
	if err != nil {
		t.Fatal(err)
	}
	if err := missing.Check(ctx); err == nil || !strings.Contains(err.Error(), "secrets enable") {
		t.Errorf("Check of a missing mount: err = %v, want one saying how to enable it", err)
	}

	v1 := "kv1-" + randomID()
	if err := root.Sys().MountWithContext(ctx, v1, &vaultapi.MountInput{Type: "kv", Options: map[string]string{"version": "1"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = root.Sys().UnmountWithContext(context.Background(), v1) })
	old, err := New(c, v1)
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Check(ctx); err == nil || !strings.Contains(err.Error(), "not a KV version 2") {
		t.Errorf("Check of a KV v1 mount: err = %v, want it refused", err)
	}
	if _, err := old.CompareAndSwap(ctx, "k", 0, []byte("v")); err == nil || errors.Is(err, auth.ErrVersionConflict) {
		t.Errorf("CompareAndSwap on KV v1 (no check-and-set): err = %v, want a clear error", err)
	}
}

// The store reaches Vault over TLS with crmkit's policy: through a real
// TLS server (a reverse proxy to the dev server) it works when the
// server's CA is given, and fails when it is not.
func TestTLSWithCrmkitPolicy(t *testing.T) {
	addr, token := vaultServer(t)
	root := rootClient(t)
	target, _ := url.Parse(addr)
	srv := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(target))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below
	srv.StartTLS()
	defer srv.Close()
	prefix := testPrefix(t, root)

	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	c, err := NewClient(srv.URL, token, pool)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(c, testMount, WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompareAndSwap(t.Context(), "k", 0, []byte("over tls")); err != nil {
		t.Fatalf("through TLS with the server's CA: %v", err)
	}

	untrusting, err := NewClient(srv.URL, token, nil)
	if err != nil {
		t.Fatal(err)
	}
	untrusting.SetMaxRetries(0)
	s2, err := New(untrusting, testMount, WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s2.Get(t.Context(), "k")
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without the server's CA: err = %v, want a certificate error", err)
	}
	if strings.Contains(allErrorText(err), token) {
		t.Fatal("the TLS error reveals the token")
	}
}
