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
	"net/http"
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
	// means no rate limiting.
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
	// means NewTransport(RootCAs). A Base built elsewhere should use
	// [TLSConfig] for its connections.
	Base http.RoundTripper

	// RootCAs are the certificate authorities trusted when Base is nil; nil
	// means the system's roots.
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

// checkRedirect follows at most 10 redirects and never from https to
// plain http, where a bearer token would travel in the clear.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if len(via) > 0 && via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
		return fmt.Errorf("refusing a redirect from https to %s", req.URL.Scheme)
	}
	return nil
}

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

// RedactError returns err with the URL of any *url.Error stripped of its
// query and user info, and with secrets redacted from its text; it still
// unwraps to the network cause. Use it on errors from [Client.HTTPClient].
// [Client.Do] applies it already.
func RedactError(err error) error { return redactError(err) }

// replayable wraps req so that every attempt sends the whole body again.
// A body that net/http can rebuild (GetBody, set by http.NewRequest for
// bytes, strings and buffers) is rebuilt per attempt without a copy; any
// other body is read into memory once. req itself is left unchanged, apart
// from its body being consumed and closed.
func replayable(req *http.Request) (*retryablehttp.Request, error) {
	shallow := *req // retryablehttp sets Body on the request it is given
	if req.Body == nil || req.Body == http.NoBody || req.GetBody == nil {
		rreq, err := retryablehttp.FromRequest(&shallow)
		if req.Body != nil {
			req.Body.Close()
		}
		return rreq, err
	}
	req.Body.Close()
	shallow.Body = nil
	rreq, err := retryablehttp.FromRequest(&shallow)
	if err != nil {
		return nil, err
	}
	if err := rreq.SetBody(retryablehttp.ReaderFunc(func() (io.Reader, error) { return req.GetBody() })); err != nil {
		return nil, err
	}
	rreq.ContentLength = req.ContentLength // SetBody cannot see the length through GetBody
	return rreq, nil
}

// idempotent reports whether req may be sent twice without doing its work
// twice: its method says so, its context was marked with
// retry.MarkIdempotent, or it carries an Idempotency-Key.
func idempotent(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodTrace:
		return true
	}
	return retry.IsIdempotent(req.Context()) || req.Header.Get("Idempotency-Key") != ""
}

// Do sends req with retries, rate limiting and tracing.
//
// A response with status below 400 is returned with its body capped at
// MaxResponseBytes; the caller closes it. A final status of 400 or above is
// returned as a *crm.Error, built by CheckResponse and completed with the
// status, the request id, Retry-After and the operation and object from
// [WithOperation]; its body is closed. A transport failure is a *crm.Error
// of KindUnavailable wrapping the cause, redacted. When req's context ends
// first, the error wraps the context's error and is not a *crm.Error.
//
// req's body is read once and replayed on every attempt.
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
				if permanentTransportError(err) || hasContextSentinel(err) {
					return false, nil
				}
				lastErr, lastResp = c.transportError(err, op, obj), nil
				// The policy classifies the network cause itself (a reset
				// is worth a retry, a refused credential is not), so it
				// gets the cause, not the KindUnavailable wrapper; a
				// *crm.Error from the limiter or the size cap stays one.
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
		if ctxErr := ctx.Err(); ctxErr != nil || hasContextSentinel(err) {
			var cause error = ctxErr
			if cause == nil {
				cause = redactError(err)
			}
			if lastErr != nil {
				return nil, fmt.Errorf("%s: %s: %w (last attempt: %v)", c.cfg.CRM, where, cause, lastErr)
			}
			return nil, fmt.Errorf("%s: %s: %w", c.cfg.CRM, where, cause)
		}
		ce := c.transportError(err, op, obj)
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

// transportError turns a failure to get a response into a *crm.Error: the
// limiter's and the size cap's own *crm.Error as they are, anything else as
// KindUnavailable wrapping the redacted cause.
func (c *Client) transportError(err error, op, obj string) *crm.Error {
	var ce *crm.Error
	if errors.As(err, &ce) {
		cp := *ce
		fill(&cp, c.cfg.CRM, op, obj)
		return &cp
	}
	return &crm.Error{Kind: crm.KindUnavailable, CRM: c.cfg.CRM, Operation: op, Object: obj, Err: redactError(err)}
}

// permanentTransportError reports failures that sending again cannot fix:
// certificates that do not verify, a TLS version or protocol mismatch, a
// malformed URL or header.
func permanentTransportError(err error) bool {
	var (
		unknownAuth *x509.UnknownAuthorityError
		invalidCert x509.CertificateInvalidError
		hostErr     x509.HostnameError
		verifyErr   *tls.CertificateVerificationError
		alert       tls.AlertError
		recordErr   tls.RecordHeaderError
		ce          *crm.Error
	)
	switch {
	case errors.As(err, &unknownAuth), errors.As(err, &invalidCert), errors.As(err, &hostErr),
		errors.As(err, &verifyErr), errors.As(err, &alert), errors.As(err, &recordErr):
		return true
	case errors.As(err, &ce):
		return !ce.Kind.Retryable()
	}
	msg := err.Error()
	for _, s := range []string{"unsupported protocol scheme", "invalid header", "unsupported protocol version",
		"stopped after 10 redirects", "refusing a redirect"} {
		if strings.Contains(msg, s) {
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
	ce.Message = Redact(ce.Message)
	ce.Code = Redact(ce.Code)
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
	ce.Err = cleanChain(ce.Err)
	fill(ce, c.cfg.CRM, op, obj)
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

// hasContextSentinel reports whether err's chain holds context.Canceled or
// context.DeadlineExceeded themselves, not merely an error (such as a
// network timeout) that says it matches them.
func hasContextSentinel(err error) bool {
	for n := 0; err != nil && n < 64; n++ {
		if err == context.Canceled || err == context.DeadlineExceeded {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if hasContextSentinel(e) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}
