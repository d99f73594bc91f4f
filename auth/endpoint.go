package auth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// TLSConfig is the TLS policy for every connection crmkit's token sources
// make: TLS 1.2 or newer, the system roots unless roots is given (a test
// or a non-production CRM passes its own CA pool), and certificate
// verification always on. Each call returns a new config.
func TLSConfig(roots *x509.CertPool) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
}

// defaultClient is the client flows use when their HTTPClient is nil: the
// standard transport with TLSConfig(nil). It holds no credentials.
var defaultClient = sync.OnceValue(func() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = TLSConfig(nil)
	return &http.Client{Transport: tr, Timeout: time.Minute}
})

func clientOr(c *http.Client) *http.Client {
	if c != nil {
		return c
	}
	return defaultClient()
}

func nowOr(now func() time.Time) func() time.Time {
	if now != nil {
		return now
	}
	return time.Now
}

// endpoint is one token request: where it goes, how the client
// authenticates, and what it must never reveal.
type endpoint struct {
	flow     string
	tokenURL string
	client   *http.Client
	now      func() time.Time
	basic    [2]string // client id and secret for HTTP Basic, when set
	secrets  []string  // values to scrub from any error text
	hint     func(code string) string
}

const maxTokenResponse = 1 << 20

// fetch posts form to the token endpoint and parses the answer.
func (e endpoint) fetch(ctx context.Context, form url.Values) (*Token, error) {
	for _, k := range []string{"client_secret", "assertion", "client_assertion", "refresh_token", "code", "code_verifier", "password"} {
		e.secrets = append(e.secrets, form[k]...)
	}
	e.secrets = append(e.secrets, e.basic[1])
	fail := func(status int, code, desc string, cause error) error {
		re := &RetrieveError{Flow: e.flow, StatusCode: status, ErrorCode: scrub(code, e.secrets),
			ErrorDescription: scrub(desc, e.secrets), unauthorized: unauthorizedCodes[code] || status == http.StatusUnauthorized}
		if cause != nil {
			re.Err = scrubbedError{msg: scrub(cause.Error(), e.secrets), cause: cause}
		}
		if e.hint != nil && re.unauthorized {
			re.Hint = e.hint(code)
		}
		return re
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, &RetrieveError{Flow: e.flow, Err: err, Hint: "check the token URL"}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if e.basic[0] != "" {
		req.SetBasicAuth(url.QueryEscape(e.basic[0]), url.QueryEscape(e.basic[1]))
	}
	resp, err := clientOr(e.client).Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fail(0, "", "", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse))
	if err != nil {
		return nil, fail(resp.StatusCode, "", "reading the answer", err)
	}
	var m map[string]any
	jsonErr := json.Unmarshal(body, &m)
	if resp.StatusCode != http.StatusOK {
		code, desc := errorFields(m)
		if jsonErr != nil {
			desc = "the answer is not JSON (" + resp.Header.Get("Content-Type") + ")"
		}
		return nil, fail(resp.StatusCode, code, desc, nil)
	}
	if jsonErr != nil {
		return nil, fail(resp.StatusCode, "", "the answer is not a JSON object", nil)
	}
	t, err := parseToken(m, e.now())
	if err != nil {
		return nil, fail(resp.StatusCode, "", err.Error(), nil)
	}
	return t, nil
}

type scrubbedError struct {
	msg   string
	cause error
}

func (e scrubbedError) Error() string { return e.msg }
func (e scrubbedError) Unwrap() error { return e.cause }

// errorFields reads an error answer: RFC 6749's error and
// error_description, or HubSpot's status and message.
func errorFields(m map[string]any) (code, desc string) {
	str := func(k string) string { s, _ := m[k].(string); return s }
	code, desc = str("error"), str("error_description")
	if code == "" {
		code, desc = str("status"), str("message")
	}
	return code, desc
}

// parseToken reads a successful token answer.
func parseToken(m map[string]any, now time.Time) (*Token, error) {
	t := &Token{Extra: map[string]any{}}
	for k, v := range m {
		s, _ := v.(string)
		switch k {
		case "access_token":
			t.AccessToken = s
		case "token_type":
			t.TokenType = s
		case "refresh_token":
			t.RefreshToken = s
		case "instance_url":
			t.InstanceURL = s
		case "scope":
			t.Scope = s
		case "expires_in":
			var secs int64
			switch n := v.(type) {
			case float64:
				secs = int64(n)
			case string:
				secs, _ = strconv.ParseInt(n, 10, 64)
			}
			if secs > 0 {
				t.Expiry = now.Add(time.Duration(secs) * time.Second)
			}
		default:
			t.Extra[k] = v
		}
	}
	if t.AccessToken == "" {
		return nil, fmt.Errorf("the answer has no access_token")
	}
	if len(t.Extra) == 0 {
		t.Extra = nil
	}
	return t, nil
}
