package httpx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/crmkit/crmkit/auth"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/ratelimit"
)

// TLSConfig is the policy crmkit uses for every connection that leaves the
// machine: TLS 1.2 or newer, the system's roots unless a pool is given, and
// certificate verification always on (InsecureSkipVerify is never set; a
// test trusts its server by passing that server's certificate in roots).
//
// Each call returns a new *tls.Config, so a caller may adjust its copy. It is
// auth.TLSConfig: the policy has one constructor for the whole module.
func TLSConfig(roots *x509.CertPool) *tls.Config { return auth.TLSConfig(roots) }

// NewTransport returns the *http.Transport crmkit uses when Config.Base is
// nil: [TLSConfig] for every connection, proxies from the environment for
// https (plain http, allowed only to a loopback emulator, never goes through
// a proxy, which could be on another machine), HTTP/2 when the server offers
// it, and bounded dial and handshake times. The auth layer wraps it (as
// Config.Base) to add credentials without giving up the TLS policy.
func NewTransport(roots *x509.CertPool) *http.Transport {
	return &http.Transport{
		Proxy: proxyHTTPS,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		TLSClientConfig:       TLSConfig(roots),
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
	}
}

// proxyHTTPS is http.ProxyFromEnvironment for https requests, and no proxy
// for anything else.
func proxyHTTPS(req *http.Request) (*url.URL, error) {
	if req.URL.Scheme != "https" {
		return nil, nil
	}
	return http.ProxyFromEnvironment(req)
}

// ErrResponseTooLarge is the cause of the *crm.Error returned when a response
// body is larger than Config.MaxResponseBytes. The body is never silently
// cut: a truncated JSON page would decode as fewer records than the CRM sent.
var ErrResponseTooLarge = errors.New("httpx: response body exceeds the size cap")

// spanTransport is the outermost layer: one OpenTelemetry client span per
// HTTP attempt, and the User-Agent header.
type spanTransport struct {
	c    *Client
	next http.RoundTripper
}

func (t *spanTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := t.c
	if err := checkScheme(c.cfg.CRM, req.URL); err != nil {
		return nil, err
	}
	op, obj := operationFrom(req.Context())
	attrs := []attribute.KeyValue{
		attribute.String("crm.system", c.cfg.CRM),
		attribute.String("http.request.method", req.Method),
		attribute.String("url.path", Redact(req.URL.Path)),
		attribute.String("server.address", req.URL.Hostname()),
	}
	if p := req.URL.Port(); p != "" {
		if n, err := strconv.Atoi(p); err == nil {
			attrs = append(attrs, attribute.Int("server.port", n))
		}
	}
	if op != "" {
		attrs = append(attrs, attribute.String("crm.operation", op))
	}
	if obj != "" {
		attrs = append(attrs, attribute.String("crm.object", obj))
	}
	ctx, span := c.tracer.Start(req.Context(), "HTTP "+req.Method,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	defer span.End()

	att := &attempt{}
	ctx = context.WithValue(ctx, attemptKey{}, att)
	_, marked := req.Header[idempotentHeader]
	if marked || req.Header.Get("User-Agent") == "" {
		req = req.Clone(ctx)             // never change the caller's header map
		req.Header.Del(idempotentHeader) // crmkit's own mark, not for the CRM
		if req.Header.Get("User-Agent") == "" {
			req.Header.Set("User-Agent", c.userAgent)
		}
	} else {
		req = req.WithContext(ctx)
	}

	resp, err := t.next.RoundTrip(req)
	if err != nil {
		err = redactError(err)
		span.RecordError(err)
		span.SetStatus(codes.Error, clip(err.Error(), 256))
		return nil, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if id := c.RequestID(resp.Header); id != "" {
		span.SetAttributes(attribute.String("crm.request_id", id))
	}
	if att.haveQuota {
		span.SetAttributes(attribute.Int64("crm.quota.remaining", att.quotaRemaining))
	}
	if resp.StatusCode >= 400 {
		span.SetStatus(codes.Error, "HTTP "+strconv.Itoa(resp.StatusCode)+" "+http.StatusText(resp.StatusCode))
	}
	return resp, nil
}

// capTransport enforces Config.MaxResponseBytes on every response body.
type capTransport struct {
	c    *Client
	next http.RoundTripper
}

func (t *capTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	limit := t.c.maxBytes
	if resp.ContentLength > limit && req.Method != http.MethodHead {
		resp.Body.Close()
		return nil, t.c.tooLarge(resp.StatusCode, resp.ContentLength)
	}
	resp.Body = &capBody{rc: resp.Body, left: limit, c: t.c, status: resp.StatusCode}
	return resp, nil
}

// tooLarge builds the error for a body over the cap; length is the declared
// Content-Length, or -1 when the body was streamed past the cap.
func (c *Client) tooLarge(status int, length int64) *crm.Error {
	msg := fmt.Sprintf("response body is larger than the %s cap (Config.MaxResponseBytes)", byteSize(c.maxBytes))
	if length >= 0 {
		msg = fmt.Sprintf("response body of %s (Content-Length) is larger than the %s cap (Config.MaxResponseBytes)",
			byteSize(length), byteSize(c.maxBytes))
	}
	msg += "; ask for a smaller page or raise the cap"
	return &crm.Error{
		Kind:       crm.KindInvalidRequest,
		CRM:        c.cfg.CRM,
		StatusCode: status,
		Message:    msg,
		Err:        ErrResponseTooLarge,
	}
}

// byteSize formats n bytes for a person: "32 MiB", "1500 bytes".
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// capBody lets at most left bytes through, then fails instead of stopping:
// a reader never mistakes a cut body for a whole one.
type capBody struct {
	rc     io.ReadCloser
	left   int64
	err    error
	c      *Client
	status int
}

func (b *capBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.left <= 0 {
		// At the cap: one more byte means the body is too large.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			b.err = b.c.tooLarge(b.status, -1)
			return 0, b.err
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *capBody) Close() error { return b.rc.Close() }

// limitTransport waits for the rate limiter before each attempt and tells it
// what the CRM said about quotas afterwards.
type limitTransport struct {
	c    *Client
	next http.RoundTripper
}

func (t *limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := t.c
	lane := c.lane(req)
	if c.cfg.Limiter != nil {
		if err := c.cfg.Limiter.Wait(req.Context(), lane); err != nil {
			return nil, err
		}
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if c.cfg.Observe != nil {
		o := c.cfg.Observe(resp)
		if att := attemptFrom(req.Context()); att != nil && (o.Limit > 0 || o.Remaining > 0) {
			att.quotaRemaining, att.haveQuota = o.Remaining, true
		}
		if c.cfg.Limiter != nil {
			if o.RetryAfter > c.maxPause {
				o.RetryAfter = 0 // see below
			}
			c.cfg.Limiter.Observe(lane, o)
		}
	}
	if c.cfg.Limiter != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		// A pause longer than the retry policy would wait for is an
		// exhausted allocation: holding every caller of the lane for it
		// (a day, say) helps nobody. Each caller gets the CRM's answer,
		// with its Retry-After, at once instead.
		if d := retryAfter(resp.Header, time.Now()); d > 0 && d <= c.maxPause {
			c.cfg.Limiter.Pause(lane, d)
		}
	}
	return resp, nil
}

func (c *Client) lane(req *http.Request) string {
	if c.cfg.Lane != nil {
		if l := c.cfg.Lane(req); l != "" {
			return l
		}
	}
	return ratelimit.DefaultLane
}

// retryAfter reads a Retry-After header, in seconds or as an HTTP date;
// zero when absent, malformed or in the past.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		const maxSecs = int64(1<<63-1) / int64(time.Second)
		return time.Duration(min(secs, maxSecs)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// checkScheme enforces the TLS policy's other half: a request that leaves the
// machine goes over https. Plain http is allowed only to "localhost" and to
// loopback IP literals, where crmkit's emulators listen. Other names, even
// under .localhost, are refused: a resolver or a proxy may send them
// elsewhere.
func checkScheme(crmName string, u *url.URL) error {
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if strings.EqualFold(host, "localhost") {
			return nil
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			return nil
		}
	}
	return &crm.Error{Kind: crm.KindInvalidRequest, CRM: crmName,
		Message: fmt.Sprintf("refusing to send a request to %s: crmkit talks to a CRM over https (TLS 1.2 or newer) only; "+
			"plain http is allowed to localhost and loopback IP addresses, for emulators", RedactURL(u))}
}
