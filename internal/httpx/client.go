package httpx

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/ratelimit"
	"github.com/crmkit/crmkit/crm/retry"
)

// DefaultMaxResponseBytes is the cap on a response body when
// Config.MaxResponseBytes is zero: large enough for any CRM's biggest page,
// small enough that a runaway response cannot exhaust memory.
const DefaultMaxResponseBytes = 32 << 20

const instrumentationName = "github.com/crmkit/crmkit/internal/httpx"

// Config says how to build a [Client]. Only CRM is required; every other
// field has a safe default.
type Config struct {
	// CRM is the driver name, such as "salesforce". It names spans, fills
	// the CRM field of errors, and goes into the default User-Agent.
	CRM string

	// Retry decides whether and when a failed attempt is sent again. Nil
	// means every request is sent once.
	Retry *retry.Policy

	// Limiter paces requests and learns from the CRM's quota headers. Nil
	// means no rate limiting. A 429's or 503's Retry-After pauses the
	// request's lane, unless it is longer than Retry's MaxRetryAfter
	// (retry.DefaultMaxRetryAfter without a Retry policy): a CRM that asks
	// for that long has run out of an allocation, and each caller is told so
	// at once instead of being held.
	Limiter *ratelimit.Limiter

	// Lane picks the limiter lane of a request (a CRM may meter its bulk or
	// search API apart from the rest). Nil, or an empty result, means
	// ratelimit.DefaultLane.
	Lane func(*http.Request) string

	// Observe reads the CRM's quota headers from a response (each adapter
	// has its own); the result goes to the limiter and to the span's
	// crm.quota.remaining. Nil means none are read.
	Observe func(*http.Response) ratelimit.Observation

	// CheckResponse turns a response with status 400 or above (and its body,
	// already read and capped) into a *crm.Error carrying the CRM's own code,
	// message, fields and kind. Nil, or a nil result, means
	// [DefaultCheckResponse]. The Message it returns is redacted again.
	CheckResponse func(resp *http.Response, body []byte) *crm.Error

	// RequestIDHeaders name the headers holding the CRM's request or
	// correlation id, in order; the first non-empty one wins.
	RequestIDHeaders []string

	// MaxResponseBytes caps every response body; zero means
	// DefaultMaxResponseBytes. A larger body is an error, never a silent
	// truncation.
	MaxResponseBytes int64

	// Base is the innermost transport, where the auth layer plugs in. Nil
	// means NewTransport(RootCAs). A Base built elsewhere should be built
	// over [NewTransport], or use [TLSConfig] for its connections: New
	// refuses an *http.Transport whose TLSClientConfig skips verification
	// or allows a version below TLS 1.2.
	Base http.RoundTripper

	// RootCAs are the certificate authorities trusted when Base is nil; nil
	// means the system's roots. New refuses RootCAs together with Base,
	// which would silently ignore them: build Base over NewTransport(roots)
	// instead.
	RootCAs *x509.CertPool

	// TracerProvider receives one span per HTTP attempt; nil means otel's
	// global provider.
	TracerProvider trace.TracerProvider

	// Logger receives debug messages about retries and failures; nil
	// discards them. Nothing logged holds a query string or a secret.
	Logger *slog.Logger

	// UserAgent is sent when a request has none; empty means
	// "crmkit (<CRM>)".
	UserAgent string
}

// Client sends an adapter's HTTP requests with retries, rate limiting,
// tracing, a size cap and the TLS policy. Build it once per adapter client
// with [New]; it is safe for concurrent use.
type Client struct {
	cfg       Config
	maxPause  time.Duration // the longest Retry-After that pauses a lane
	tracer    trace.Tracer
	logger    *slog.Logger
	maxBytes  int64
	userAgent string
	base      http.RoundTripper
	chain     http.RoundTripper
	http      *http.Client
}

// New checks cfg and builds the transport chain, outermost first: a span
// per attempt, the size cap, the rate limiter, then Base.
func New(cfg Config) (*Client, error) {
	if strings.TrimSpace(cfg.CRM) == "" {
		return nil, errors.New(`httpx: Config.CRM is empty; set it to the driver name, such as "salesforce"`)
	}
	if cfg.MaxResponseBytes < 0 {
		return nil, fmt.Errorf("httpx: Config.MaxResponseBytes is %d; use zero for the default (%s) or a positive cap",
			cfg.MaxResponseBytes, byteSize(DefaultMaxResponseBytes))
	}
	if err := checkBase(cfg); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, maxBytes: cfg.MaxResponseBytes, userAgent: cfg.UserAgent, logger: cfg.Logger}
	if c.maxBytes == 0 {
		c.maxBytes = DefaultMaxResponseBytes
	}
	if c.userAgent == "" {
		c.userAgent = "crmkit (" + cfg.CRM + ")"
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	c.maxPause = retry.DefaultMaxRetryAfter
	if cfg.Retry != nil {
		c.maxPause = cfg.Retry.MaxRetryAfter()
	}
	tp := cfg.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	c.tracer = tp.Tracer(instrumentationName)
	base := cfg.Base
	if base == nil {
		base = NewTransport(cfg.RootCAs)
	}
	c.base = base
	c.chain = &spanTransport{c: c, next: &capTransport{c: c, next: &limitTransport{c: c, next: base}}}
	c.http = c.HTTPClient()
	return c, nil
}

// checkBase refuses a Config whose Base would bypass the TLS policy, as far
// as it can see: an *http.Transport that skips verification or allows a
// version below TLS 1.2, or RootCAs that Base would ignore. A Base that
// wraps another transport cannot be inspected; build it over NewTransport.
func checkBase(cfg Config) error {
	if cfg.Base == nil {
		return nil
	}
	if cfg.RootCAs != nil {
		return errors.New("httpx: Config.RootCAs is set together with Config.Base, which would ignore it; " +
			"build Base over httpx.NewTransport(roots) and leave RootCAs nil")
	}
	tr, ok := cfg.Base.(*http.Transport)
	if !ok || tr.TLSClientConfig == nil {
		return nil // net/http's defaults verify certificates and start at TLS 1.2
	}
	if tr.TLSClientConfig.InsecureSkipVerify {
		return errors.New("httpx: Config.Base's TLSClientConfig.InsecureSkipVerify is set; crmkit always verifies certificates: " +
			"trust a test or private CA through TLSClientConfig.RootCAs (httpx.TLSConfig(roots)) instead")
	}
	if v := tr.TLSClientConfig.MinVersion; v != 0 && v < tls.VersionTLS12 {
		return fmt.Errorf("httpx: Config.Base's TLSClientConfig.MinVersion is %s; crmkit needs TLS 1.2 or newer: "+
			"set it to tls.VersionTLS12 or later, or start from httpx.TLSConfig", tls.VersionName(v))
	}
	return nil
}

// HTTPClient returns an *http.Client with the same transport chain (spans,
// size cap, limiter, TLS policy, Base) but without retries and without
// turning error statuses into errors, for code that needs a plain client,
// such as an OAuth token exchange. Its errors come from net/http and may
// hold the request URL: pass them through [RedactError] before printing.
func (c *Client) HTTPClient() *http.Client {
	return &http.Client{Transport: c.chain, CheckRedirect: checkRedirect}
}

// CloseIdleConnections closes the idle connections of Base, when Base can.
func (c *Client) CloseIdleConnections() {
	if ci, ok := c.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// Sentinels of the redirects crmkit refuses to follow, for errors.Is. A
// refused redirect fails [Client.Do] with a *crm.Error of KindInvalidRequest
// that wraps one of them.
var (
	// ErrRedirectRefused: a redirect to another scheme or host. The
	// request's credentials would go along (the auth layer adds them on
	// every hop, so net/http's own stripping of Authorization never
	// applies), and a redirect from https to http would send them in the
	// clear.
	ErrRedirectRefused = errors.New("httpx: redirect refused")
	// ErrTooManyRedirects: more than 10 redirects in a row.
	ErrTooManyRedirects = errors.New("httpx: too many redirects")
)

// checkRedirect follows at most 10 redirects, and only within the scheme and
// host of the original request.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) == 0 {
		return nil
	}
	if len(via) >= 10 {
		return fmt.Errorf("%w: stopped after 10 redirects, at %s", ErrTooManyRedirects, RedactURL(req.URL))
	}
	from, to := via[0].URL, req.URL
	switch {
	case from.Scheme == "https" && to.Scheme != "https":
		return fmt.Errorf("%w: refusing a redirect from https to %s (%s)", ErrRedirectRefused, to.Scheme, RedactURL(to))
	case !sameOrigin(from, to):
		return fmt.Errorf("%w: refusing a redirect from %s to another host, %s", ErrRedirectRefused, origin(from), RedactURL(to))
	}
	return nil
}

// sameOrigin reports whether a and b have the same scheme, host and port.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

func origin(u *url.URL) string { return u.Scheme + "://" + u.Host }

// RequestID returns the CRM's request or correlation id from h: the first
// non-empty header of Config.RequestIDHeaders.
func (c *Client) RequestID(h http.Header) string {
	for _, name := range c.cfg.RequestIDHeaders {
		if v := strings.TrimSpace(h.Get(name)); v != "" {
			return clip(Redact(v), 200)
		}
	}
	return ""
}

// replayable wraps req so that every attempt, and every hop of a 307 or 308
// redirect, sends the whole body again with its Content-Length. A body that
// net/http can rebuild (GetBody, set by http.NewRequest for bytes, strings
// and buffers) is rebuilt per attempt without a copy; any other body is read
// into memory once. req itself is left unchanged, apart from its body being
// consumed and closed.
func replayable(req *http.Request) (*retryablehttp.Request, error) {
	shallow := *req // retryablehttp sets Body on the request it is given
	shallow.Body, shallow.GetBody = nil, nil
	rreq, err := retryablehttp.FromRequest(&shallow)
	if err != nil {
		return nil, err
	}
	switch {
	case req.Body == nil || req.Body == http.NoBody:
		if req.Body != nil {
			req.Body.Close()
		}
		return rreq, nil
	case req.GetBody != nil:
		req.Body.Close()
		if err := rreq.SetBody(retryablehttp.ReaderFunc(func() (io.Reader, error) { return req.GetBody() })); err != nil {
			return nil, err
		}
		rreq.ContentLength = req.ContentLength // SetBody cannot see the length through GetBody
		return rreq, nil
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	// As bytes, the body gets a GetBody (for redirects) and a length (for
	// servers that refuse a chunked upload).
	if err := rreq.SetBody(body); err != nil {
		return nil, err
	}
	return rreq, nil
}

// idempotentHeader is the request-scoped mark of [MarkIdempotent]. The span
// layer removes it before the request leaves, so no CRM ever sees it.
const idempotentHeader = "X-Crmkit-Idempotent"

// MarkIdempotent marks req as safe to send more than once, so that [Client.Do]
// retries it despite its method: a PATCH that upserts by external id, or a
// POST that the CRM deduplicates by a key in its body. The mark belongs to
// req alone, unlike retry.MarkIdempotent on a context, which passes to every
// request made with a derived context. It travels as an internal header that
// the transport removes before sending.
func MarkIdempotent(req *http.Request) {
	if req.Header == nil {
		req.Header = make(http.Header)
	}
	req.Header.Set(idempotentHeader, "1")
}

// idempotent reports whether req may be sent twice without doing its work
// twice: its method says so, it was marked with [MarkIdempotent], its
// context was marked with retry.MarkIdempotent, or it carries an
// Idempotency-Key.
func idempotent(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodTrace:
		return true
	}
	return req.Header.Get(idempotentHeader) != "" || retry.IsIdempotent(req.Context()) || req.Header.Get("Idempotency-Key") != ""
}

// Do sends req with retries, rate limiting and tracing.
//
// A response with status below 400 is returned with its body capped at
// MaxResponseBytes; the caller closes it. Otherwise err is either a
// *crm.Error or, when the caller's context ended first, an error wrapping
// the context's error:
//
//   - a final status of 400 or above is a *crm.Error built by CheckResponse
//     and completed with the status, the request id, Retry-After and the
//     operation and object from [WithOperation]; its body is closed;
//   - a failure to get a response is a *crm.Error: KindUnavailable wrapping
//     the (redacted) cause when it is transient, KindInvalidRequest when
//     sending again cannot help (a certificate that does not verify, no
//     common TLS version, a refused redirect; the message says what to fix),
//     and the error's own Kind when it is a *crm.Error already (the
//     limiter's daily guard, a lane paused past the context's deadline, the
//     size cap, the auth layer's);
//   - when req's context ends, or its deadline would pass while the limiter
//     paces the lane, the error wraps context.Canceled or
//     context.DeadlineExceeded and is not a *crm.Error: the caller decided.
//
// req's body is read once and replayed on every attempt. A retry whose wait
// would outlast req's deadline is not made: the last attempt's error is
// returned at once.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	if req == nil || req.URL == nil {
		return nil, &crm.Error{Kind: crm.KindInvalidRequest, CRM: c.cfg.CRM, Message: "httpx: Do needs a request with a URL"}
	}
	ctx := req.Context()
	op, obj := operationFrom(ctx)
	where := req.Method + " " + RedactURL(req.URL)

	rreq, err := replayable(req)
	if err != nil {
		return nil, &crm.Error{Kind: crm.KindInvalidRequest, CRM: c.cfg.CRM, Operation: op, Object: obj,
			Message: "reading the request body for " + where + " failed", Err: redactError(err)}
	}

	policy := c.cfg.Retry
	var (
		idem     = idempotent(req)
		start    = time.Now()
		attempts int
		wait     time.Duration
		lastResp *http.Response
		lastErr  *crm.Error
	)
	rc := &retryablehttp.Client{
		HTTPClient: c.http,
		CheckRetry: func(ctx context.Context, resp *http.Response, err error) (bool, error) {
			attempts++
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			var (
				cause error
				ra    time.Duration
			)
			switch {
			case err != nil:
				if retry.IsCallerCancellation(err) {
					return false, nil
				}
				lastErr, lastResp = c.transportError(err, op, obj, where), nil
				if !lastErr.Kind.Retryable() {
					return false, nil
				}
				// The policy classifies the network cause itself (a reset
				// is worth a retry, a refused credential is not), so it
				// gets the cause, not the KindUnavailable wrapper; a
				// *crm.Error from the limiter or the auth layer stays one.
				cause = redactError(err)
				var ce *crm.Error
				if errors.As(err, &ce) {
					cause = lastErr
				}
			case resp.StatusCode >= 400:
				ce := c.errorFromResponse(resp, op, obj)
				lastErr, lastResp = ce, resp
				cause, ra = ce, ce.RetryAfter
			default:
				return false, nil
			}
			if policy == nil {
				return false, nil
			}
			w, again := policy.Decide(retry.Attempt{
				Number:     attempts,
				Err:        cause,
				Elapsed:    time.Since(start),
				Idempotent: idem,
				RetryAfter: ra,
			})
			if again {
				if dl, ok := ctx.Deadline(); ok && time.Until(dl) < w {
					return false, nil // the caller could not wait that long: tell it now
				}
				wait = w
				c.logger.LogAttrs(ctx, slog.LevelDebug, "crm http retry",
					slog.String("crm", c.cfg.CRM), slog.String("method", req.Method),
					slog.String("url.path", Redact(req.URL.Path)), slog.Int("attempt", attempts),
					slog.Duration("wait", w), slog.String("error", cause.Error()))
			}
			return again, nil
		},
		Backoff: func(_, _ time.Duration, _ int, _ *http.Response) time.Duration { return wait },
		ErrorHandler: func(resp *http.Response, err error, _ int) (*http.Response, error) {
			return resp, err
		},
	}
	if policy != nil {
		rc.RetryMax = max(policy.MaxAttempts()-1, 0)
	}

	resp, err := rc.Do(rreq)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		// The caller's own deadline or cancellation is not the CRM's fault
		// and is not reported as a *crm.Error: crm.KindOf says KindUnknown.
		// The limiter may see the deadline coming before ctx ends.
		if ctxErr := ctx.Err(); ctxErr != nil || retry.IsCallerCancellation(err) {
			var cause error = ctxErr
			if cause == nil {
				cause = redactError(err)
			}
			if lastErr != nil {
				return nil, fmt.Errorf("%s: %s: %w (last attempt: %v)", c.cfg.CRM, where, cause, lastErr)
			}
			return nil, fmt.Errorf("%s: %s: %w", c.cfg.CRM, where, cause)
		}
		ce := c.transportError(err, op, obj, where)
		c.logFailure(ctx, req, attempts, ce)
		return nil, ce
	}
	if resp.StatusCode >= 400 {
		ce := lastErr
		if resp != lastResp || ce == nil {
			ce = c.errorFromResponse(resp, op, obj)
		}
		resp.Body.Close()
		c.logFailure(ctx, req, attempts, ce)
		return nil, ce
	}
	if policy != nil {
		policy.Success()
	}
	return resp, nil
}

func (c *Client) logFailure(ctx context.Context, req *http.Request, attempts int, err *crm.Error) {
	c.logger.LogAttrs(ctx, slog.LevelDebug, "crm http failed",
		slog.String("crm", c.cfg.CRM), slog.String("method", req.Method),
		slog.String("url.path", Redact(req.URL.Path)), slog.Int("attempts", attempts),
		slog.String("kind", err.Kind.String()), slog.Int("status", err.StatusCode),
		slog.String("request_id", err.RequestID), slog.String("error", err.Error()))
}

// transportError turns a failure to get a response into a *crm.Error: a
// *crm.Error in err's chain (the limiter's, the size cap's, the auth
// layer's) as it is; a failure that sending again cannot cure as
// KindInvalidRequest, saying what to fix; anything else as KindUnavailable.
// The cause is redacted in every case.
func (c *Client) transportError(err error, op, obj, where string) *crm.Error {
	var ce *crm.Error
	if errors.As(redactError(err), &ce) {
		cp := *ce
		fill(&cp, c.cfg.CRM, op, obj)
		return &cp
	}
	if why, ok := permanentFailure(err); ok {
		return &crm.Error{Kind: crm.KindInvalidRequest, CRM: c.cfg.CRM, Operation: op, Object: obj,
			Message: where + ": " + why, Err: redactError(err)}
	}
	return &crm.Error{Kind: crm.KindUnavailable, CRM: c.cfg.CRM, Operation: op, Object: obj, Err: redactError(err)}
}

// permanentFailure says why a failure to get a response cannot be cured by
// sending the same request again, and what fixes it; ok is false for a
// failure that may be transient.
func permanentFailure(err error) (why string, ok bool) {
	var (
		hostErr     x509.HostnameError
		unknownAuth x509.UnknownAuthorityError
		invalidCert x509.CertificateInvalidError
		verifyErr   *tls.CertificateVerificationError
		alert       tls.AlertError
		recordErr   tls.RecordHeaderError
		opErr       *net.OpError
	)
	switch {
	case errors.Is(err, ErrRedirectRefused):
		return "the CRM redirected the request to another host or from https to http, which crmkit does not follow " +
			"because the request's credentials would go along; send the request to the URL it was redirected to " +
			"(such as the org's own instance URL) directly", true
	case errors.Is(err, ErrTooManyRedirects):
		return "the CRM redirected the request more than 10 times; check the URL", true
	case errors.As(err, &hostErr):
		return "the server's TLS certificate is not valid for the URL's host name; correct the host name in the URL", true
	case errors.As(err, &unknownAuth), errors.As(err, &invalidCert), errors.As(err, &verifyErr):
		return "the server's TLS certificate did not verify; if the server is the right one, trust the CA that signed its " +
			"certificate (Config.RootCAs, or the Base transport's TLSClientConfig.RootCAs), otherwise fix the server's certificate", true
	case errors.As(err, &alert), errors.As(err, &recordErr),
		errors.As(err, &opErr) && opErr.Op == "remote error", // a TLS alert from the server during the handshake
		containsAny(err.Error(), "protocol version", "server gave HTTP response to HTTPS client"):
		return "the TLS handshake failed: the server and crmkit share no TLS version or cipher suite (crmkit needs TLS 1.2 " +
			"or newer), or the server does not speak TLS; fix the server's TLS configuration, or check the URL's scheme and port", true
	case containsAny(err.Error(), "unsupported protocol scheme", "invalid header", "invalid method", "no Host in request URL"):
		return "the request is malformed; fix its URL or headers", true
	}
	return "", false
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// errorFromResponse reads resp's body (capped), builds the *crm.Error for
// it, and puts the body back so that the response can still be read.
func (c *Client) errorFromResponse(resp *http.Response, op, obj string) *crm.Error {
	body, readErr := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))

	var ce *crm.Error
	if c.cfg.CheckResponse != nil {
		ce = c.cfg.CheckResponse(resp, body)
	}
	if ce == nil {
		ce = DefaultCheckResponse(resp, body)
	}
	if ce.StatusCode == 0 {
		ce.StatusCode = resp.StatusCode
	}
	if ce.Kind == crm.KindUnknown {
		ce.Kind = crm.KindForStatus(resp.StatusCode)
	}
	if ce.RequestID == "" {
		ce.RequestID = c.RequestID(resp.Header)
	}
	if ce.RetryAfter == 0 {
		ce.RetryAfter = retryAfter(resp.Header, time.Now())
	}
	if ce.Err == nil && readErr != nil {
		ce.Err = readErr
	}
	fill(ce, c.cfg.CRM, op, obj)
	if red, ok := redactError(ce).(*crm.Error); ok { // Message, Code, RequestID and the cause
		ce = red
	}
	return ce
}

func fill(ce *crm.Error, crmName, op, obj string) {
	if ce.CRM == "" {
		ce.CRM = crmName
	}
	if ce.Operation == "" {
		ce.Operation = op
	}
	if ce.Object == "" {
		ce.Object = obj
	}
}

// DefaultCheckResponse builds a *crm.Error from an error status and body
// when the adapter has nothing better: the kind from crm.KindForStatus and
// the body text, redacted and clipped, as the message. Adapters call it for
// bodies their own parser does not recognise (an HTML page from a proxy).
func DefaultCheckResponse(resp *http.Response, body []byte) *crm.Error {
	const maxMessage = 512
	text := string(body)
	if len(text) > 16*maxMessage {
		text = text[:16*maxMessage] // redacting a clipped text still hides a clipped secret
	}
	msg := strings.Join(strings.Fields(Redact(text)), " ")
	msg = clip(msg, maxMessage)
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	return &crm.Error{Kind: crm.KindForStatus(resp.StatusCode), StatusCode: resp.StatusCode, Message: msg}
}
