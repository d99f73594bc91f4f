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
	"github.com/crmkit/crmkit/internal/errchain"
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
		// Quoted values and colon forms.
		{"quoted value", `invalid_client: client_secret="CS-SECRET" rejected`, []string{"CS-SECRET"}, []string{`client_secret="[REDACTED]" rejected`}},
		{"colon form", "password: PW-SECRET; access_token: AT-SECRET", []string{"PW-SECRET", "AT-SECRET"}, []string{"password: [REDACTED]"}},
		{"colon in prose", "invalid client_secret: FREETEXT3", []string{"FREETEXT3"}, []string{"client_secret"}},
		{"single-quoted keys", `{'access_token': 'PYDICT-SECRET', 'x': 1}`, []string{"PYDICT-SECRET"}, []string{`{'access_token': '[REDACTED]', 'x': 1}`}},
		{"json spaced", `"client_secret":  "SP18"`, []string{"SP18"}, []string{`"client_secret":  "[REDACTED]"`}},
		{"json camel api key", `{"apiKey":"AK19"}`, []string{"AK19"}, []string{`"apiKey"`}},
		{"json private key", `{"private_key":"MIIEvQIBADANPK20"}`, []string{"MIIEvQIBADANPK20"}, nil},
		{"json unterminated", `{"access_token": "AT22`, []string{"AT22"}, nil},
		{"json escaped quote in value", `{"password":"p\"w-SECRET","n":1}`, []string{"w-SECRET"}, []string{`"n":1`}},
		{"doubly escaped json", `{"body":"{\\\"access_token\\\":\\\"DOUBLEESC6\\\"}"}`, []string{"DOUBLEESC6"}, nil},
		{"authorization json value", `"Authorization":"Bearer AB\"CD24"`, []string{"AB", "CD24"}, []string{`"Authorization":"[REDACTED]"`}},
		{"authorization list", `"Authorization": ["Bearer HDRSLICE14"]`, []string{"HDRSLICE14"}, nil},
		{"go header map", `map[Authorization:[Zoho-oauthtoken MAPHDR15]]`, []string{"MAPHDR15"}, nil},
		{"api key header", "X-Api-Key: abc KEY16", []string{"abc", "KEY16"}, []string{"X-Api-Key"}},
		{"url-encoded header", "Authorization%3A+Bearer+URLENC-SECRET7", []string{"URLENC-SECRET7"}, nil},
		{"password with delimiters", "password=pa#ss;WORD10", []string{"#ss", "WORD10"}, []string{"password=[REDACTED]"}},
		{"xml", "<access_token>XMLSECRET11</access_token><password>XMLPW13</password>", []string{"XMLSECRET11", "XMLPW13"}, []string{"</password>"}},
		{"soap session", "<sf:sessionId>00D5g000004ABCD!AQ8AQXMLSF12</sf:sessionId>", []string{"AQ8AQXMLSF12"}, []string{"<sf:sessionId>"}},
		{"url-encoded session", "session 00D5g000004ABCD%21AQ8AQURLENCSF9 expired", []string{"AQ8AQURLENCSF9"}, []string{"expired"}},
		{"userinfo", "Get https://admin:USERINFO-SECRET@crm.example/x failed", []string{"admin", "USERINFO-SECRET"}, []string{"https://[REDACTED]@crm.example/x"}},
		{"bare jwt", `{"jwt":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.SIGJWT-SECRET5"}`, []string{"SIGJWT-SECRET5", "eyJzdWIiOiIxIn0"}, []string{`"jwt"`}},
		{"jwt in prose", "assertion eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln rejected", []string{"c2ln", "eyJpc3MiOiJ4In0"}, []string{"rejected"}},
		{"hubspot private app token", "token pat-na1-11111111-2222-3333-4444-HUBPAT21 is expired", []string{"HUBPAT21", "11111111"}, []string{"is expired"}},
		{"bearer then basic", "Bearer Basic dXNlcjpwYXNzd29yZA==", []string{"dXNlcjpwYXNzd29yZA"}, nil},
		// Prose after an auth scheme is no credential (finding 15).
		{"basic prose kept", "Basic authentication is not enabled for this org", nil, []string{"Basic authentication is not enabled for this org"}},
		{"bearer prose kept", "invalid Bearer token", nil, []string{"invalid Bearer token"}},
		{"bearer word kept", "Bearer Authentication required", nil, []string{"Bearer Authentication required"}},
		{"status code kept", "status code: 400", nil, []string{"status code: 400"}},
		// Letters whose lower case is longer or shorter than themselves.
		{"non-ascii case", "\u0130\u0130\u0130\u212a access_token=AT-U1-SECRET \u212aey password: PW-U2-SECRET", []string{"U1-SECRET", "U2-SECRET"}, []string{"\u0130\u0130\u0130\u212a access_token=[REDACTED]"}},
		{"token URL kept", `Post "https://login.salesforce.com/services/oauth2/token": unexpected EOF`, nil,
			[]string{`Post "https://login.salesforce.com/services/oauth2/token": unexpected EOF`}},
		{"half-quoted key kept", `path/token": dial tcp`, nil, []string{`path/token": dial tcp`}},
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
	f.Add("\u0130\u212a", "password=", "zzzzzzzzzz", "\u0130 token: x")
	f.Fuzz(func(t *testing.T, prefix, key, secret, suffix string) {
		out := Redact(prefix + key + secret + suffix)
		if Redact(out) != out {
			t.Errorf("not idempotent on %q: %q then %q", prefix+key+secret+suffix, out, Redact(out))
		}
		// A planted secret in a known position never survives.
		if !plantable(prefix, key, secret) {
			return
		}
		if strings.Contains(out, secret) {
			t.Errorf("Redact(%q) = %q keeps %q", prefix+key+secret+suffix, out, secret)
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
	planted := 0
	for range 5000 {
		prefix, key, suffix := pick(), keys[r.IntN(len(keys))], pick()
		in := prefix + key + secret + suffix
		out := Redact(in)
		if again := Redact(out); again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, out, again)
		}
		if !plantable(prefix, key, secret) {
			continue
		}
		planted++
		// Not merely "key+secret is gone": no part of the output may keep
		// the secret, whatever another rule did to its key.
		if strings.Contains(out, secret) {
			t.Fatalf("Redact(%q) = %q keeps the secret", in, out)
		}
	}
	if planted < 3000 {
		t.Errorf("only %d of 5000 cases planted a secret; the test lost its power", planted)
	}
}

// A *url.Error anywhere in a chain, not only at its head, loses its user
// info and query, in the text and in every error of the chain.
func TestRedactErrorNestedURLError(t *testing.T) {
	inner := &url.Error{Op: "Post", URL: "https://client:USERINFO-N1-SECRET@login.example/token?q=SELECT+Email+FROM+Contact", Err: io.ErrUnexpectedEOF}
	for _, err := range []error{
		fmt.Errorf("auth: refresh: %w", inner),
		fmt.Errorf("outer: %w", fmt.Errorf("auth: %w", inner)),
		errors.Join(errors.New("first"), fmt.Errorf("auth: %w", inner)),
		&crm.Error{Kind: crm.KindUnauthorized, Err: fmt.Errorf("refresh: %w", inner)},
	} {
		red := RedactError(err)
		if s := renderError(red); strings.Contains(s, "USERINFO-N1-SECRET") || strings.Contains(s, "client:") || strings.Contains(s, "SELECT") {
			t.Errorf("RedactError(%v) leaks:\n%s", err, s)
		}
		for _, e := range errchain.Walk(red) {
			if s := fmt.Sprintf("%v %+v %#v", e, e, e); strings.Contains(s, "USERINFO-N1-SECRET") || strings.Contains(s, "SELECT") {
				t.Errorf("an error of the chain leaks: %s", s)
			}
		}
		// The chain keeps its shape: errors.Unwrap, step by step, reaches
		// the *url.Error where the original did.
		if reachable(err) != reachable(red) {
			t.Errorf("RedactError(%v): errors.Unwrap reaches the *url.Error: %v; the original's chain: %v", err, reachable(red), reachable(err))
		}
		if !strings.Contains(red.Error(), "https://login.example/token") {
			t.Errorf("RedactError(%v) = %q; want the cleaned URL kept", err, red)
		}
		if !errors.Is(red, io.ErrUnexpectedEOF) {
			t.Errorf("RedactError(%v) lost its cause", err)
		}
		var ue *url.Error
		if !errors.As(red, &ue) || ue.URL != "https://login.example/token" {
			t.Errorf("errors.As(*url.Error) = %v; want the cleaned *url.Error", ue)
		}
	}

	// Through Do, from the auth layer.
	h := newHarness(t, Config{Base: countingErrBase{&counter{}, fmt.Errorf("auth: refresh: %w", inner)}, Retry: fastRetry()})
	_, err := h.c.Do(mustRequest(t, http.MethodGet, "https://crm.example/data", ""))
	if all := renderError(err) + h.everything(); strings.Contains(all, "USERINFO-N1-SECRET") || strings.Contains(all, "SELECT") {
		t.Errorf("Do leaks the nested URL:\n%s", all)
	}
}

// reachable reports whether walking err with errors.Unwrap reaches a
// *url.Error.
func reachable(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if _, ok := e.(*url.Error); ok {
			return true
		}
	}
	return false
}

// Redaction keeps what callers inspect: a *crm.Error's type and Kind, the
// shape of errors.Join, and, for other types, the original for Is and As.
func TestRedactErrorKeepsTypes(t *testing.T) {
	ce := &crm.Error{Kind: crm.KindUnauthorized, Code: "INVALID_SESSION_ID", Message: `{"access_token":"AT-T1-SECRET"}`, RequestID: "r1",
		Err: errors.New("password=PW-T2-SECRET")}
	red := RedactError(ce)
	got, ok := red.(*crm.Error)
	if !ok || got.Kind != crm.KindUnauthorized || got.Code != "INVALID_SESSION_ID" || got.RequestID != "r1" {
		t.Fatalf("RedactError(*crm.Error) = %#v; want a *crm.Error of the same Kind, Code and RequestID", red)
	}
	if got == ce || ce.Message != `{"access_token":"AT-T1-SECRET"}` {
		t.Error("RedactError changed the caller's *crm.Error instead of a copy")
	}
	if s := renderError(red); strings.Contains(s, "T1-SECRET") || strings.Contains(s, "T2-SECRET") {
		t.Errorf("leaks: %s", s)
	}
	clean := &crm.Error{Kind: crm.KindValidation, Message: "Email: invalid"}
	if RedactError(clean) != error(clean) {
		t.Error("a clean *crm.Error should be returned as is")
	}

	orig := &tokenError{body: "refresh_token=RT-T3-SECRET", code: 400}
	joined := errors.Join(fmt.Errorf("a: %w", orig), &url.Error{Op: "Get", URL: "https://h/?token=TK-T4-SECRET", Err: syscall.ECONNRESET})
	red = RedactError(joined)
	if s := renderError(red); strings.Contains(s, "T3-SECRET") || strings.Contains(s, "T4-SECRET") {
		t.Errorf("leaks: %s", s)
	}
	if u, ok := red.(interface{ Unwrap() []error }); !ok || len(u.Unwrap()) != 2 {
		t.Errorf("RedactError(errors.Join(a, b)) = %#v; want two causes", red)
	}
	if !errors.Is(red, syscall.ECONNRESET) || !errors.Is(red, errTokenSentinel) {
		t.Error("errors.Is lost a sentinel of the original chain")
	}
	var te *tokenError
	if !errors.As(red, &te) || te.code != 400 {
		t.Errorf("errors.As(*tokenError) = %v; want the original", te)
	}
}

// tokenError stands in for an auth library's error type, which quotes the
// token endpoint's body.
type tokenError struct {
	body string
	code int
}

var errTokenSentinel = errors.New("token sentinel")

func (e *tokenError) Error() string        { return fmt.Sprintf("oauth2: %d: %s", e.code, e.body) }
func (e *tokenError) Is(target error) bool { return target == errTokenSentinel }

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
		"SECRETE1", "SECRETF1", "SECRETG1", "SECRETG2", "SECRETG3", "SECRETH1", "SECRETH2", "SECRETI1",
	}
	var gotAuth atomic.Value
	var otherHost string
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
		case "/quoted":
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `invalid_client: client_secret="SECRETG1" rejected; password: SECRETG2; {'access_token': 'SECRETG3'}`)
		case "/redirect":
			http.Redirect(w, r, otherHost+"/steal", http.StatusTemporaryRedirect)
		}
	})
	var stolen atomic.Value
	other := newServer(t, func(w http.ResponseWriter, r *http.Request) { stolen.Store(r.Header.Get("Authorization")) })
	otherHost = strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	dead := newServer(t, func(http.ResponseWriter, *http.Request) {})
	deadURL, _ := url.Parse(dead.URL)
	dead.Close() // connections to it are refused from now on

	policy := retry.New(retry.WithBackoff(0, 0), retry.WithMaxAttempts(2))
	h := newHarness(t, Config{Retry: policy, RequestIDHeaders: []string{"X-Request-Id"}})
	hBase := newHarness(t, Config{Retry: policy, Base: failingBase{}})
	// The auth layer adds a token on every hop, and another one nests
	// net/http's error for its token exchange inside its own.
	hAuth := newHarness(t, Config{Retry: policy, Base: authBase{"SECRETH1", NewTransport(nil)}})
	hNested := newHarness(t, Config{Retry: policy, Base: countingErrBase{&counter{}, fmt.Errorf("auth: refresh: %w",
		&url.Error{Op: "Post", URL: "https://client:SECRETH2@login.example/token?assertion=SECRETI1", Err: io.ErrUnexpectedEOF})}})

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
	do(h.c, http.MethodGet, srv.URL+"/quoted", nil)
	if errR := do(hAuth.c, http.MethodGet, srv.URL+"/redirect", nil); !errors.Is(errR, ErrRedirectRefused) {
		t.Errorf("redirect to another host: err = %v; want it refused", errR)
	}
	if got, _ := stolen.Load().(string); got != "" {
		t.Errorf("the other host received Authorization %q", got)
	}
	do(hNested.c, http.MethodGet, srv.URL+"/nested", nil)

	// The plain client: net/http's own error holds the URL; RedactError
	// cleans it, and the span it recorded must be clean already.
	resp, err := h.c.HTTPClient().Get("http://" + deadURL.Host + "/y?access_token=SECRETF1")
	if err == nil {
		resp.Body.Close()
		t.Fatal("HTTPClient reached a closed server")
	}
	rendered.WriteString(renderError(RedactError(err)))

	all := rendered.String() + h.everything() + hBase.everything() + hAuth.everything() + hNested.everything()
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

// BenchmarkRedact measures Redact on an 8 KiB error body, the most
// DefaultCheckResponse quotes, with secrets and without.
func BenchmarkRedact(b *testing.B) {
	clean := strings.Repeat(`{"errorCode":"INVALID_FIELD","message":"No such column 'Emial' on entity 'Contact'"},`, 100)[:8<<10]
	dirty := strings.Repeat(`{"access_token":"00D5g000004ABCD!AQ8AQxyz","error":"invalid_grant"} Bearer abc123XYZ== `, 100)[:8<<10]
	for _, bc := range []struct{ name, in string }{{"clean", clean}, {"secrets", dirty}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				Redact(bc.in)
			}
		})
	}
}
