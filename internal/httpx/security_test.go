package httpx

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/crmkit/crmkit/crm"
)

// authBase adds a bearer token on every hop, as an OAuth transport does; so
// net/http's own removal of Authorization on a cross-host redirect never
// applies, and only checkRedirect stands between the token and another host.
type authBase struct {
	token string
	next  http.RoundTripper
}

func (a authBase) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+a.token)
	return a.next.RoundTrip(r)
}

// seen records the Authorization headers a server received.
type seen struct {
	mu   sync.Mutex
	auth []string
}

func (s *seen) add(r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auth = append(s.auth, r.Header.Get("Authorization"))
}

func (s *seen) get() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auth...)
}

func TestRedirectToAnotherHostIsRefused(t *testing.T) {
	var other seen
	evil := newServer(t, func(w http.ResponseWriter, r *http.Request) { other.add(r) })
	// The same loopback server under another host name: "localhost" for
	// "127.0.0.1" is another origin to net/http and to crmkit alike.
	evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)
	var hits counter
	crmSrv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		hits.inc()
		http.Redirect(w, r, evilURL+"/steal?x=1", http.StatusFound)
	})
	h := newHarness(t, Config{Base: authBase{"TOKEN-R1-SECRET", NewTransport(nil)}, Retry: fastRetry()})

	_, err := h.c.Do(mustRequest(t, http.MethodGet, crmSrv.URL+"/data", ""))
	if got := other.get(); len(got) != 0 {
		t.Fatalf("the other host received %d requests (Authorization %q)", len(got), got)
	}
	var ce *crm.Error
	if !errors.As(err, &ce) || ce.Kind != crm.KindInvalidRequest || crm.IsRetryable(err) {
		t.Fatalf("err = %v; want a *crm.Error of KindInvalidRequest", err)
	}
	if !errors.Is(err, ErrRedirectRefused) {
		t.Errorf("err = %v; want it to match ErrRedirectRefused", err)
	}
	if !strings.Contains(ce.Message, "another host") || !strings.Contains(ce.Message, "directly") {
		t.Errorf("message %q; want the cause and the remedy", ce.Message)
	}
	if hits.get() != 1 {
		t.Errorf("the CRM saw %d requests; a refused redirect is permanent, tried once", hits.get())
	}
	if s := renderError(err); strings.Contains(s, "TOKEN-R1-SECRET") || strings.Contains(s, "x=1") {
		t.Errorf("the error leaks the token or the query: %s", s)
	}

	// The plain client refuses it too.
	resp, err := h.c.HTTPClient().Get(crmSrv.URL + "/data")
	if err == nil {
		resp.Body.Close()
	}
	if !errors.Is(err, ErrRedirectRefused) || len(other.get()) != 0 {
		t.Errorf("HTTPClient: err = %v, other host saw %d requests; want the redirect refused", err, len(other.get()))
	}
}

func TestRedirectWithinHostIsFollowed(t *testing.T) {
	var got seen
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		got.add(r)
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new", http.StatusMovedPermanently)
			return
		}
		io.WriteString(w, "moved here")
	})
	h := newHarness(t, Config{Base: authBase{"tok", NewTransport(nil)}})
	resp, err := h.c.Do(mustRequest(t, http.MethodGet, srv.URL+"/old", ""))
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); string(b) != "moved here" {
		t.Errorf("body %q", b)
	}
	if a := got.get(); len(a) != 2 || a[1] != "Bearer tok" {
		t.Errorf("Authorization per hop %q; want the same-host redirect followed with credentials", a)
	}
}

func TestCheckRedirect(t *testing.T) {
	req := func(raw string) *http.Request {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		return &http.Request{URL: u}
	}
	from := []*http.Request{req("https://na1.my.salesforce.com/services/data")}
	for _, tt := range []struct {
		to   string
		want error
	}{
		{"https://na1.my.salesforce.com/services/data/v62.0", nil},
		{"https://NA1.my.salesforce.com:443/x", nil},
		{"https://eu5.my.salesforce.com/x", ErrRedirectRefused},
		{"https://na1.my.salesforce.com:8443/x", ErrRedirectRefused},
		{"http://na1.my.salesforce.com/x", ErrRedirectRefused},
	} {
		if err := checkRedirect(req(tt.to), from); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("redirect to %s: %v; want %v", tt.to, err, tt.want)
		}
	}
	many := make([]*http.Request, 10)
	for i := range many {
		many[i] = from[0]
	}
	if err := checkRedirect(req("https://na1.my.salesforce.com/y"), many); !errors.Is(err, ErrTooManyRedirects) {
		t.Errorf("11th redirect: %v; want ErrTooManyRedirects", err)
	}
	if err := checkRedirect(req("https://na1.my.salesforce.com/y"), many); !permanent(&url.Error{Op: "Get", URL: "u", Err: err}) {
		t.Error("too many redirects is not classified as permanent")
	}
}

func TestPlainHTTPNotToLocalhostSubdomains(t *testing.T) {
	h := newHarness(t, Config{})
	for _, raw := range []string{"http://emulator.localhost:8080/services/data", "http://localhost.example.com/x", "http://10.0.0.1/x"} {
		_, err := h.c.Do(mustRequest(t, http.MethodGet, raw, ""))
		if !errors.Is(err, crm.ErrInvalidRequest) || !strings.Contains(err.Error(), "over https") {
			t.Errorf("%s: err = %v; want refused before sending", raw, err)
		}
	}
	if n := len(h.ended()); n != 0 {
		t.Errorf("%d spans; want none, since refused requests are never sent", n)
	}
	for _, raw := range []string{"http://localhost:1/", "http://LOCALHOST/", "http://127.0.0.1/", "http://[::1]:8080/"} {
		u, _ := url.Parse(raw)
		if err := checkScheme("x", u); err != nil {
			t.Errorf("%s refused: %v", raw, err)
		}
	}
}

// TestPlainHTTPNeverProxied runs in a child process, since net/http reads the
// proxy environment once per process. With HTTP_PROXY and HTTPS_PROXY set,
// the child's https request goes to the proxy (the control) and its plain
// http one does not.
func TestPlainHTTPNeverProxied(t *testing.T) {
	if target := os.Getenv("CRMKIT_TEST_PROXY_CHILD"); target != "" {
		tr := NewTransport(nil)
		for _, raw := range []string{"http://emulator.localhost:9/plain", "https://crm.example.invalid/tls"} {
			req, _ := http.NewRequest(http.MethodGet, raw, nil)
			resp, err := tr.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
			}
			fmt.Printf("%s: %v\n", raw, err)
		}
		return
	}
	var (
		mu  sync.Mutex
		got []string
	)
	proxy := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Method+" "+r.Host)
		mu.Unlock()
		w.WriteHeader(http.StatusBadGateway)
	})
	cmd := exec.Command(os.Args[0], "-test.run=^TestPlainHTTPNeverProxied$", "-test.count=1")
	cmd.Env = append(os.Environ(), "CRMKIT_TEST_PROXY_CHILD=1", "HTTP_PROXY="+proxy.URL, "HTTPS_PROXY="+proxy.URL,
		"http_proxy="+proxy.URL, "https_proxy="+proxy.URL, "NO_PROXY=", "no_proxy=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || !strings.HasPrefix(got[0], "CONNECT crm.example.invalid") {
		t.Errorf("the proxy saw %q; want only the https request's CONNECT\nchild output:\n%s", got, out)
	}
}

func TestNewRefusesBaseThatBypassesTLSPolicy(t *testing.T) {
	insecure := NewTransport(nil)
	insecure.TLSClientConfig.InsecureSkipVerify = true
	old := NewTransport(nil)
	old.TLSClientConfig.MinVersion = tls.VersionTLS10
	for _, tt := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"InsecureSkipVerify", Config{Base: insecure}, "InsecureSkipVerify"},
		{"MinVersion", Config{Base: old}, "MinVersion is TLS 1.0"},
		{"RootCAs with Base", Config{Base: NewTransport(nil), RootCAs: x509.NewCertPool()}, "Config.RootCAs"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.CRM = "x"
			if _, err := New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v; want an error naming %s", err, tt.want)
			}
		})
	}
	// What the policy allows.
	for _, base := range []http.RoundTripper{NewTransport(nil), &http.Transport{}, authBase{"t", NewTransport(nil)}} {
		if _, err := New(Config{CRM: "x", Base: base}); err != nil {
			t.Errorf("New with Base %T: %v", base, err)
		}
	}
}

// A *crm.Error from the auth layer keeps its Kind through the transport: a
// revoked token is not a retryable outage, whatever its message says.
func TestBaseCRMErrorKeepsKind(t *testing.T) {
	for _, msg := range []string{"refresh token revoked", "invalid Bearer token", "basic auth disabled",
		`token endpoint said {"refresh_token":"RT-K1-SECRET"}`} {
		var n counter
		inner := &crm.Error{Kind: crm.KindUnauthorized, Operation: "token refresh", Message: msg}
		h := newHarness(t, Config{Base: countingErrBase{&n, inner}, Retry: fastRetry()})
		_, err := h.c.Do(mustRequest(t, http.MethodGet, "https://crm.example/data", ""))
		var ce *crm.Error
		if !errors.As(err, &ce) || ce.Kind != crm.KindUnauthorized {
			t.Errorf("%q: err = %v (kind %v); want KindUnauthorized", msg, err, crm.KindOf(err))
			continue
		}
		if n.get() != 1 {
			t.Errorf("%q: %d attempts; want 1", msg, n.get())
		}
		if strings.Contains(renderError(err), "RT-K1-SECRET") {
			t.Errorf("%q: the secret leaked: %s", msg, renderError(err))
		}
		if !strings.Contains(msg, "SECRET") && ce.Message != msg {
			t.Errorf("message %q; want %q unchanged (nothing to hide)", ce.Message, msg)
		}
	}
}

type countingErrBase struct {
	n   *counter
	err error
}

func (b countingErrBase) RoundTrip(*http.Request) (*http.Response, error) {
	b.n.inc()
	return nil, b.err
}
