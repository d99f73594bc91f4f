package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/retry"
)

func TestRedact(t *testing.T) {
	tests := []struct {
		name, in string
		secrets  []string // must be gone
		keep     []string // must remain
	}{
		{"bearer", "Authorization: Bearer eyJhbGciOi.JIUzI1NiJ9.sig-nat_ure", []string{"eyJhbGciOi", "sig-nat_ure"}, []string{"Authorization"}},
		{"bearer in prose", "token Bearer abc123XYZ== expired", []string{"abc123XYZ"}, []string{"Bearer [REDACTED]", "expired"}},
		{"basic", "basic dXNlcjpwYXNz", []string{"dXNlcjpwYXNz"}, []string{"basic [REDACTED]"}},
		{"other auth scheme", "Authorization: Zoho-oauthtoken 1000.abc.def", []string{"1000.abc.def", "Zoho-oauthtoken"}, []string{"Authorization: [REDACTED]"}},
		{"cookie", "Cookie: sid=00D000000000001!AQ0AQxyz; other=1", []string{"AQ0AQxyz"}, []string{"Cookie"}},
		{"query", "GET /x?access_token=tok1&refresh_token=tok2&id=5", []string{"tok1", "tok2"}, []string{"id=5", "access_token=[REDACTED]"}},
		{"form", "grant_type=password&client_id=abc&client_secret=cs1&password=pw1&username=u", []string{"cs1", "pw1"}, []string{"client_id=abc", "username=u", "grant_type=password"}},
		{"assertion", "grant_type=urn%3Aietf&assertion=eyJhbG.payload.sig", []string{"eyJhbG", "payload.sig"}, []string{"assertion=[REDACTED]"}},
		{"code", "redirect?code=aPrxSplendid&state=s1", []string{"aPrxSplendid"}, []string{"state=s1"}},
		{"error_code kept", "error_code=INVALID_FIELD", nil, []string{"error_code=INVALID_FIELD"}},
		{"json", `{"access_token":"at1","refresh_token": "rt1","client_secret":"cs\"1","password":"p w","name":"Ann"}`,
			[]string{"at1", "rt1", `cs\"1`, "p w"}, []string{`"name":"Ann"`, `"access_token":"[REDACTED]"`}},
		{"json case", `{"Password": "Hunter2"}`, []string{"Hunter2"}, []string{"Password"}},
		{"escaped json", `{"body":"{\"access_token\":\"at9\",\"x\":1}"}`, []string{"at9"}, []string{`\"x\":1`}},
		{"json error code kept", `{"errorCode":"INVALID_FIELD","message":"No such column 'Foo'"}`, nil, []string{"INVALID_FIELD", "No such column"}},
		{"salesforce session", "sessionId 00D5g000004XXXX!AQ8AQJ.bX_3kLp1 rest", []string{"AQ8AQJ.bX_3kLp1"}, []string{"rest"}},
		{"salesforce 18-char org", "00D5g000004XXXXEAA!ARQAQabc", []string{"ARQAQabc"}, nil},
		{"pem", "key: -----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKC\nAQEA\n-----END RSA PRIVATE KEY----- end", []string{"MIIEpAIBAAKC", "AQEA"}, []string{"key: ", " end"}},
		{"pem pkcs8", "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN\n-----END PRIVATE KEY-----", []string{"MIIEvQIBADAN"}, nil},
		{"pem clipped", "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI", []string{"MHcCAQEEI"}, nil},
		{"certificate kept", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", nil, []string{"MIIB"}},
		{"hubspot api key", "GET /contacts?hapikey=hk-123", []string{"hk-123"}, nil},
		{"plain text kept", "No such column 'Emial' on entity 'Contact'", nil, []string{"No such column 'Emial' on entity 'Contact'"}},
		{"empty", "", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Redact(tt.in)
			for _, s := range tt.secrets {
				if strings.Contains(got, s) {
					t.Errorf("Redact(%q) = %q; still holds %q", tt.in, got, s)
				}
			}
			for _, s := range tt.keep {
				if !strings.Contains(got, s) {
					t.Errorf("Redact(%q) = %q; lost %q", tt.in, got, s)
				}
			}
			if len(tt.secrets) > 0 && !strings.Contains(got, redacted) {
				t.Errorf("Redact(%q) = %q; no %s marker", tt.in, got, redacted)
			}
			if again := Redact(got); again != got {
				t.Errorf("Redact is not idempotent: %q then %q", got, again)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	u, _ := url.Parse("https://user:pw@example.my.salesforce.com/services/data/v62.0/query?q=SELECT+Id&access_token=x#frag")
	got := RedactURL(u)
	if got != "https://example.my.salesforce.com/services/data/v62.0/query" {
		t.Errorf("RedactURL = %q", got)
	}
	if RedactURL(nil) != "" {
		t.Error("RedactURL(nil) not empty")
	}
	//lint:ignore SA1007 the URL is invalid on purpose: redactRawURL must cope with what url.Parse refuses
	if _, err := url.Parse("http://u:pw@h%zz/p?token=x"); err == nil {
		t.Fatal("test needs an unparsable URL")
	}
	if got := redactRawURL("http://u:pw@h%zz/p?token=x"); strings.Contains(got, "pw") || strings.Contains(got, "token") || !strings.Contains(got, "/p") {
		t.Errorf("redactRawURL of an unparsable URL = %q", got)
	}
}

func TestRedactErrorKeepsCause(t *testing.T) {
	ue := &url.Error{Op: "Get", URL: "http://h/p?access_token=SEKRIT", Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	err := RedactError(ue)
	if strings.Contains(renderError(err), "SEKRIT") {
		t.Fatalf("redacted error still holds the token: %s", renderError(err))
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Error("the network cause is lost")
	}
	if RedactError(nil) != nil {
		t.Error("RedactError(nil) != nil")
	}
	plain := errors.New("connection reset")
	if RedactError(plain) != plain {
		t.Error("a clean error should be returned as is")
	}
	timeout := RedactError(&url.Error{Op: "Get", URL: "http://h/?password=p", Err: context.DeadlineExceeded})
	if !errors.Is(timeout, context.DeadlineExceeded) {
		t.Error("deadline cause lost")
	}
	var te interface{ Timeout() bool }
	if !errors.As(timeout, &te) || !te.Timeout() {
		t.Error("a redacted timeout does not report Timeout")
	}
}

func FuzzRedact(f *testing.F) {
	f.Add("x", "access_token=", "abcDEF123456", "&y=1")
	f.Add(`{"a":1,`, `"password":"`, "hunter2hunter2", `"}`)
	f.Add("Authorization: ", "Bearer ", "tok.en-value_123", "\n")
	f.Add("", "code=", "0123456789ab", "")
	f.Add("sid ", "00D000000000001!", "AQ0AQsess1on", " x")
	f.Add("\xff\xfe", "client_secret=", "zzzzzzzzzz", "\x00")
	f.Fuzz(func(t *testing.T, prefix, key, secret, suffix string) {
		out := Redact(prefix + key + secret + suffix)
		if Redact(out) != out {
			t.Errorf("not idempotent on %q: %q then %q", prefix+key+secret+suffix, out, Redact(out))
		}
		// A planted secret in a known position never survives.
		if !plantable(prefix, key, secret) {
			return
		}
		if strings.Contains(out, key+secret) {
			t.Errorf("Redact(%q) = %q keeps %q", prefix+key+secret+suffix, out, key+secret)
		}
	})
}

// plantable reports whether key introduces a secret that Redact promises to
// hide, and secret is token-like (letters and digits, at least 8). A key
// glued to a preceding word ("xcode=") is another key.
func plantable(prefix, key, secret string) bool {
	if prefix != "" && isWordByte(prefix[len(prefix)-1]) {
		return false
	}
	switch key {
	case "access_token=", "refresh_token=", "client_secret=", "password=", "assertion=", "code=",
		`"password":"`, `"access_token":"`, "Bearer ", "Authorization: Bearer ":
	default:
		return false
	}
	if len(secret) < 8 {
		return false
	}
	for _, r := range secret {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// TestRedactRandomCombinations is a deterministic companion to FuzzRedact:
// secrets planted among random fragments of the syntax Redact knows (quotes,
// escapes, separators, PEM armour, markers) never survive, and Redact is
// idempotent.
func TestRedactRandomCombinations(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	atoms := []string{"access_token=", "refresh_token=", "client_secret=", "password=", "assertion=", "code=",
		`"password":"`, `"access_token":"`, "Bearer ", "Basic ", "Authorization: ", "Cookie: ", `\"`, `"`, `\`,
		"=", "&", "?", " ", "\n", "00D000000000001!", "-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----",
		redacted, "abcDEF123", "x", ":", ",", "{", "}", "sid=", "_code=", "é", "\xff"}
	keys := []string{"access_token=", "refresh_token=", "client_secret=", "password=", "assertion=", "code=",
		`"password":"`, `"access_token":"`, "Bearer ", "Authorization: Bearer "}
	const secret = "S3cr3tV4lue"
	pick := func() string {
		var b strings.Builder
		for n := r.IntN(12); n > 0; n-- {
			b.WriteString(atoms[r.IntN(len(atoms))])
		}
		return b.String()
	}
	for range 5000 {
		prefix, key, suffix := pick(), keys[r.IntN(len(keys))], pick()
		in := prefix + key + secret + suffix
		out := Redact(in)
		if again := Redact(out); again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, out, again)
		}
		if plantable(prefix, key, secret) && strings.Contains(out, secret) && strings.Contains(out, key+secret) {
			t.Fatalf("Redact(%q) = %q keeps the secret", in, out)
		}
	}
}

// failingBase stands in for the auth layer when its token exchange fails with
// an error that quotes the token endpoint's answer.
type failingBase struct{}

func (failingBase) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, fmt.Errorf(`oauth2: cannot fetch token: 400 Bad Request Response: {"access_token":"SECRETD1","client_secret":"SECRETD2"} assertion=SECRETD3`)
}

// TestNoSecretLeaks drives every kind of failure with secrets in bodies,
// URLs, headers and causes, then scans all that crmkit produced: error texts
// (every formatting verb, every error of the chain), spans (names,
// attributes, events, statuses) and logs.
func TestNoSecretLeaks(t *testing.T) {
	secrets := []string{
		"SECRETA1", "SECRETA2", "SECRETA3", "SECRETA4", "SECRETA5", "SECRETA6", "SECRETA7",
		"SECRETB1", "SECRETC1", "SECRETC2", "SECRETC3", "SECRETD1", "SECRETD2", "SECRETD3",
		"SECRETE1", "SECRETF1",
	}
	var gotAuth atomic.Value
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/unauthorized":
			gotAuth.Store(r.Header.Get("Authorization"))
			w.Header().Set("X-Request-Id", "req-401")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"invalid_token","error_description":"token Bearer SECRETA1 expired",`+
				`"access_token":"SECRETA2","refresh_token":"SECRETA3"} password=SECRETA4&client_secret=SECRETA5`)
		case "/unavailable":
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `<faultstring>INVALID_SESSION_ID: 00D5g000004ABCD!AQ8AQSECRETB1xyz</faultstring>`)
		case "/key":
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "config dump: -----BEGIN RSA PRIVATE KEY-----\nSECRETE1\n-----END RSA PRIVATE KEY-----")
		}
	})
	dead := newServer(t, func(http.ResponseWriter, *http.Request) {})
	deadURL, _ := url.Parse(dead.URL)
	dead.Close() // connections to it are refused from now on

	policy := retry.New(retry.WithBackoff(0, 0), retry.WithMaxAttempts(2))
	h := newHarness(t, Config{Retry: policy, RequestIDHeaders: []string{"X-Request-Id"}})
	hBase := newHarness(t, Config{Retry: policy, Base: failingBase{}})

	var rendered strings.Builder
	do := func(c *Client, method, rawURL string, hdr map[string]string) error {
		req := mustRequest(t, method, rawURL, "")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(tagged(req, "query", "Contact"))
		if err == nil {
			resp.Body.Close()
			t.Fatalf("%s %s succeeded; want an error", method, rawURL)
		}
		rendered.WriteString(renderError(err))
		return err
	}

	errA := do(h.c, http.MethodGet, srv.URL+"/unauthorized?access_token=SECRETA6&q=SELECT+Id", map[string]string{"Authorization": "Bearer SECRETA7"})
	if got, _ := gotAuth.Load().(string); got != "Bearer SECRETA7" {
		t.Fatalf("the Authorization header was not sent (server saw %q)", got)
	}
	if !errors.Is(errA, crm.ErrUnauthorized) || !strings.Contains(errA.Error(), "invalid_token") {
		t.Errorf("401 error = %v; want unauthorized quoting the body", errA)
	}
	do(h.c, http.MethodGet, srv.URL+"/unavailable", nil)
	do(h.c, http.MethodGet, srv.URL+"/key", nil)
	errC := do(h.c, http.MethodGet, "http://user:SECRETC1@"+deadURL.Host+"/x?access_token=SECRETC2&id=SECRETC3", nil)
	if !errors.Is(errC, crm.ErrUnavailable) || !errors.Is(errC, syscall.ECONNREFUSED) {
		t.Errorf("transport error = %v; want unavailable wrapping ECONNREFUSED", errC)
	}
	errD := do(hBase.c, http.MethodPost, srv.URL+"/token", nil)
	if !strings.Contains(errD.Error(), "cannot fetch token") {
		t.Errorf("base error = %v; want its (redacted) text", errD)
	}

	// The plain client: net/http's own error holds the URL; RedactError
	// cleans it, and the span it recorded must be clean already.
	resp, err := h.c.HTTPClient().Get("http://" + deadURL.Host + "/y?access_token=SECRETF1")
	if err == nil {
		resp.Body.Close()
		t.Fatal("HTTPClient reached a closed server")
	}
	rendered.WriteString(renderError(RedactError(err)))

	all := rendered.String() + h.everything() + hBase.everything()
	for _, s := range secrets {
		if strings.Contains(all, s) {
			i := strings.Index(all, s)
			t.Errorf("secret %s leaked: ...%s...", s, all[max(0, i-120):min(len(all), i+40)])
		}
	}
	// The scan saw real output: spans, retry logs and redaction markers.
	if len(h.ended()) < 5 || !strings.Contains(h.logs.String(), "crm http retry") || !strings.Contains(all, redacted) {
		t.Errorf("too little recorded to trust the scan: %d spans, logs %q", len(h.ended()), h.logs.String())
	}
}

// tagged tags req with an operation, as adapters do.
func tagged(req *http.Request, op, object string) *http.Request {
	return req.WithContext(WithOperation(req.Context(), op, object))
}
