package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
	"golang.org/x/oauth2"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/ratelimit"
	"github.com/crmkit/crmkit/crm/retry"
	"github.com/crmkit/crmkit/internal/httpx"
)

// Name is the driver's name in errors, spans and audit events.
const Name = "salesforce"

// DefaultAPIVersion is the REST API version a Driver uses unless
// WithAPIVersion says otherwise.
const DefaultAPIVersion = "63.0"

// MinAPIVersion is the oldest version the driver can speak: sObject
// Collections upsert, with its created flag, arrived in 46.0.
const MinAPIVersion = 46.0

// Defaults of a Driver built without options.
const (
	// MaxBatchSize is the most records one sObject Collections call takes.
	MaxBatchSize = 200
	// MaxPageSize and MinPageSize bound a query page (Sforce-Query-Options:
	// batchSize); Salesforce may return fewer rows than asked for.
	MaxPageSize = 2000
	MinPageSize = 200
	// DefaultLookback is how far before its cursor the change feed looks
	// again for rows that committed late.
	DefaultLookback = 5 * time.Minute
	// DefaultSchemaTTL is how long a described schema is kept.
	DefaultSchemaTTL = 10 * time.Minute
	// DefaultAppName names the integration in Sforce-Call-Options.
	DefaultAppName = "crmkit"
	// DefaultBulkThreshold is the number of writes above which the
	// crm.Client uses Bulk API 2.0.
	DefaultBulkThreshold = 2000
	// DefaultBulkPollInterval and MaxBulkPollInterval bound the waits
	// between polls of a bulk job.
	DefaultBulkPollInterval = 500 * time.Millisecond
	MaxBulkPollInterval     = 10 * time.Second
)

// Driver is a crm.Driver for Salesforce's REST API. It also implements
// crm.ObjectLister and crm.LimitsReporter. Build one with New and wrap it in
// a crm.Client; it is safe for concurrent use.
type Driver struct {
	hc        *httpx.Client
	base      string // the instance URL, without a trailing slash
	version   string // such as "63.0"
	callOpts  string // the Sforce-Call-Options header
	lookback  time.Duration
	schemaTTL time.Duration
	now       func() time.Time
	bulkAbove int
	bulkPoll  time.Duration
	maxUpload int          // the most CSV bytes sent to one ingest job
	logger    *slog.Logger // never nil: discards when WithLogger was not given

	verMu sync.Mutex
	verOK bool

	schemaMu sync.Mutex
	schemas  map[string]cachedSchema // by lower-cased object name
}

type options struct {
	instanceURL string
	tokens      oauth2.TokenSource
	base        http.RoundTripper
	version     string
	appName     string
	retry       *retry.Policy
	retrySet    bool
	limiter     *ratelimit.Limiter
	tp          trace.TracerProvider
	logger      *slog.Logger
	lookback    time.Duration
	schemaTTL   time.Duration
	now         func() time.Time
	bulkAbove   int
	bulkPoll    time.Duration
}

// Option configures a Driver.
type Option func(*options)

// WithInstanceURL sets the org's instance URL, such as
// https://mydomain.my.salesforce.com: the instance_url of Salesforce's token
// response. It is required.
func WithInstanceURL(u string) Option { return func(o *options) { o.instanceURL = u } }

// WithTokenSource sets where access tokens come from. The driver asks it for
// a token when it has none or the one it has expired, and once more when
// Salesforce answers 401 INVALID_SESSION_ID (a session that timed out or was
// revoked), replaying the request with the new token. For that refresh to
// help, the source must return a fresh token when asked again, as a
// refresh-token or JWT-bearer source does; do not wrap it in
// oauth2.ReuseTokenSource, the driver caches tokens itself. Without a token
// source, the transport (see WithHTTPClient) must authenticate requests.
func WithTokenSource(ts oauth2.TokenSource) Option { return func(o *options) { o.tokens = ts } }

// WithHTTPClient sets the HTTP client whose Transport carries requests, such
// as one that trusts a test server's certificate. Only its Transport is
// used: retries, rate limiting, tracing and the size cap stay crmkit's.
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) {
		if c != nil {
			o.base = c.Transport
		}
	}
}

// WithTransport sets the innermost HTTP transport (TLS 1.2 or newer with the
// system's roots by default).
func WithTransport(rt http.RoundTripper) Option { return func(o *options) { o.base = rt } }

// WithAPIVersion pins the REST API version, such as "63.0" (DefaultAPIVersion
// otherwise). The driver reads the org's versions once and refuses a version
// the org does not offer; versions before 46.0 are refused at once.
func WithAPIVersion(v string) Option { return func(o *options) { o.version = v } }

// WithAppName names the integration in every call's Sforce-Call-Options
// header (client=<name>), so that the org's API usage and event logs show
// which integration made a change. Letters, digits, '-', '_' and '.' are
// kept; DefaultAppName otherwise.
func WithAppName(name string) Option { return func(o *options) { o.appName = name } }

// WithRetry sets the retry policy (retry.New() by default); nil sends every
// request once. Only idempotent requests are retried: reads, deletes, and
// updates and upserts, which apply the same values again.
func WithRetry(p *retry.Policy) Option { return func(o *options) { o.retry, o.retrySet = p, true } }

// WithLimiter sets the rate limiter, which learns the org's daily use from
// each response's Sforce-Limit-Info header; give it
// ratelimit.WithDailyGuard to stop short of the allocation. A new unguarded
// Limiter by default.
func WithLimiter(l *ratelimit.Limiter) Option { return func(o *options) { o.limiter = l } }

// WithTracerProvider sets where the HTTP spans go (otel's global provider
// by default).
func WithTracerProvider(tp trace.TracerProvider) Option { return func(o *options) { o.tp = tp } }

// WithLogger sets where debug messages about retries and failures go.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithLookback sets how far before its cursor the change feed reads again
// (DefaultLookback otherwise). Salesforce stamps SystemModstamp when a
// transaction starts, so a long transaction can commit a row stamped
// earlier than rows already read; the feed reads that far back on every
// call and skips what it has already delivered. Set it above your org's
// longest transaction; the cursor grows with the writes made within it.
func WithLookback(d time.Duration) Option { return func(o *options) { o.lookback = d } }

// WithSchemaTTL sets how long a described object is kept before it is
// described again (DefaultSchemaTTL otherwise). The driver describes each
// object it reads or writes, to convert values and to check writes before
// sending them.
func WithSchemaTTL(d time.Duration) Option { return func(o *options) { o.schemaTTL = d } }

// WithBulkThreshold sets how many writes make the crm.Client use Bulk API
// 2.0 instead of sObject Collections (DefaultBulkThreshold otherwise;
// Salesforce advises bulk above about 2,000 records); 0 never uses it on
// its own, though crm.WithBulk(crm.BulkAlways) still can.
func WithBulkThreshold(n int) Option { return func(o *options) { o.bulkAbove = n } }

// WithBulkPollInterval sets the first wait between polls of a bulk job's
// state (DefaultBulkPollInterval otherwise); the wait doubles up to
// MaxBulkPollInterval.
func WithBulkPollInterval(d time.Duration) Option { return func(o *options) { o.bulkPoll = d } }

// WithClock sets the clock that ages cached schemas (time.Now otherwise).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// New returns a Driver for the org at WithInstanceURL.
func New(opts ...Option) (*Driver, error) {
	o := options{version: DefaultAPIVersion, appName: DefaultAppName, lookback: DefaultLookback, schemaTTL: DefaultSchemaTTL, now: time.Now,
		bulkAbove: DefaultBulkThreshold, bulkPoll: DefaultBulkPollInterval}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	base, err := instanceURL(o.instanceURL)
	if err != nil {
		return nil, err
	}
	version := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(o.version), "v"), "V")
	f, err := strconv.ParseFloat(version, 64)
	if err != nil || !strings.Contains(version, ".") {
		return nil, fmt.Errorf("salesforce: WithAPIVersion(%q): write the version as Salesforce does, such as \"63.0\"", o.version)
	}
	if f < MinAPIVersion {
		return nil, fmt.Errorf("salesforce: WithAPIVersion(%q): crmkit needs API version %.1f or newer (sObject Collections upsert); use %s", o.version, MinAPIVersion, DefaultAPIVersion)
	}
	if o.lookback < 0 {
		return nil, fmt.Errorf("salesforce: WithLookback(%v): use 0 for none or a positive duration", o.lookback)
	}
	if o.schemaTTL <= 0 {
		o.schemaTTL = DefaultSchemaTTL
	}
	if o.bulkAbove < 0 {
		return nil, fmt.Errorf("salesforce: WithBulkThreshold(%d): use 0 for never or a positive number", o.bulkAbove)
	}
	if o.bulkPoll <= 0 {
		o.bulkPoll = DefaultBulkPollInterval
	}
	if o.now == nil {
		return nil, errors.New("salesforce: WithClock(nil): give a clock function, such as time.Now")
	}
	if !o.retrySet {
		o.retry = retry.New()
	}
	if o.limiter == nil {
		o.limiter = ratelimit.New()
	}
	transport := o.base
	if transport == nil {
		transport = httpx.NewTransport(nil)
	}
	if o.tokens != nil {
		transport = &authTransport{source: o.tokens, base: transport}
	}
	hc, err := httpx.New(httpx.Config{
		CRM:              Name,
		Retry:            o.retry,
		Limiter:          o.limiter,
		Observe:          observeLimitInfo,
		CheckResponse:    checkResponse,
		RequestIDHeaders: []string{"X-Sfdc-Request-Id", "X-Request-Id"},
		Base:             transport,
		TracerProvider:   o.tp,
		Logger:           o.logger,
		UserAgent:        "crmkit-salesforce",
	})
	if err != nil {
		return nil, fmt.Errorf("salesforce: %w", err)
	}
	logger := o.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Driver{
		hc:        hc,
		logger:    logger,
		maxUpload: bulkUploadLimit,
		base:      base,
		version:   version,
		callOpts:  "client=" + appName(o.appName),
		lookback:  o.lookback,
		schemaTTL: o.schemaTTL,
		now:       o.now,
		bulkAbove: o.bulkAbove,
		bulkPoll:  o.bulkPoll,
		schemas:   map[string]cachedSchema{},
	}, nil
}

func instanceURL(raw string) (string, error) {
	if strings.TrimSpace(raw) == "" {
		return "", errors.New("salesforce: WithInstanceURL is required: give the instance_url of your org's token response, such as https://mydomain.my.salesforce.com")
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", fmt.Errorf("salesforce: WithInstanceURL(%q) is not an absolute http(s) URL, such as https://mydomain.my.salesforce.com", httpx.Redact(raw))
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("salesforce: WithInstanceURL must be a plain URL, without user info, query or fragment")
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/"), nil
}

func appName(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return DefaultAppName
	}
	return b.String()
}

// Info describes the driver. Conditional writes (Write.IfVersion) are not
// supported: Salesforce's only per-record condition, If-Unmodified-Since,
// has one-second resolution and would let a change made within the same
// second through.
func (d *Driver) Info() crm.DriverInfo {
	return crm.DriverInfo{
		Name:            Name,
		MaxBatchSize:    MaxBatchSize,
		MaxPageSize:     MaxPageSize,
		DefaultPageSize: MaxPageSize,
		BulkThreshold:   d.bulkAbove,
		Unsupported:     []crm.Feature{crm.FeatureIfVersion},
	}
}

// APIVersion returns the REST API version the driver speaks, such as "63.0".
func (d *Driver) APIVersion() string { return d.version }

// request is one REST call.
type request struct {
	op, object string
	method     string
	path       string // after /services/data/vNN.N, or absolute from the instance when raw
	raw        bool
	query      url.Values
	body       any
	header     http.Header
	idempotent bool
	// contentType is the type of a []byte body (application/json otherwise).
	contentType string
}

// call sends a REST request and decodes a JSON answer into out (when not
// nil). The version check runs first.
func (d *Driver) call(ctx context.Context, r request, out any) (*http.Response, error) {
	if err := d.checkVersion(ctx); err != nil {
		return nil, err
	}
	return d.send(ctx, r, out)
}

func (d *Driver) send(ctx context.Context, r request, out any) (*http.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %s %s: %w", Name, r.op, r.object, err)
	}
	u := d.base
	if r.raw {
		u += r.path
	} else {
		u += "/services/data/v" + d.version + r.path
	}
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		b, ok := r.body.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(r.body); err != nil {
				return nil, &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: r.op, Object: r.object, Message: "encoding the request body failed", Err: err}
			}
		}
		body = bytes.NewReader(b)
	}
	ctx = httpx.WithOperation(ctx, r.op, r.object)
	if r.idempotent {
		ctx = retry.MarkIdempotent(ctx)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: r.op, Object: r.object, Message: "building the request failed", Err: httpx.RedactError(err)}
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		ct := r.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Sforce-Call-Options", d.callOpts)
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	resp, err := d.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if raw, ok := out.(*[]byte); ok {
		if *raw, err = io.ReadAll(resp.Body); err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, fmt.Errorf("%s: %s %s: %w", Name, r.op, r.object, ctxErr)
			}
			return nil, &crm.Error{Kind: crm.KindUnavailable, CRM: Name, Operation: r.op, Object: r.object, StatusCode: resp.StatusCode,
				RequestID: d.hc.RequestID(resp.Header), Message: "reading the answer failed", Err: httpx.RedactError(err)}
		}
		return resp, nil
	}
	if out != nil && resp.StatusCode != http.StatusNoContent {
		dec := json.NewDecoder(resp.Body)
		dec.UseNumber()
		if err := dec.Decode(out); err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, fmt.Errorf("%s: %s %s: %w", Name, r.op, r.object, ctxErr)
			}
			return nil, &crm.Error{Kind: crm.KindUnavailable, CRM: Name, Operation: r.op, Object: r.object, StatusCode: resp.StatusCode,
				RequestID: d.hc.RequestID(resp.Header), Message: "the answer is not the JSON Salesforce sends", Err: httpx.RedactError(err)}
		}
	}
	// Read to the end, so that the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp, nil
}

// checkVersion reads the org's API versions once and refuses a pinned
// version the org does not offer. A failure is not remembered, so a later
// call tries again.
func (d *Driver) checkVersion(ctx context.Context) error {
	d.verMu.Lock()
	defer d.verMu.Unlock()
	if d.verOK {
		return nil
	}
	var versions []struct {
		Version string `json:"version"`
		Label   string `json:"label"`
	}
	if _, err := d.send(ctx, request{op: "versions", method: http.MethodGet, path: "/services/data/", raw: true}, &versions); err != nil {
		return err
	}
	var offered []string
	for _, v := range versions {
		if v.Version == d.version {
			d.verOK = true
			return nil
		}
		offered = append(offered, v.Version)
	}
	slices.SortFunc(offered, func(a, b string) int {
		x, _ := strconv.ParseFloat(a, 64)
		y, _ := strconv.ParseFloat(b, 64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
	span := "none"
	if len(offered) > 0 {
		span = offered[0] + " to " + offered[len(offered)-1]
	}
	return &crm.Error{Kind: crm.KindUnsupported, CRM: Name, Operation: "versions",
		Message: fmt.Sprintf("the org at %s does not offer REST API version %s (it offers %s): pin one it offers with salesforce.WithAPIVersion", d.base, d.version, span)}
}

// observeLimitInfo reads Sforce-Limit-Info for the rate limiter.
func observeLimitInfo(resp *http.Response) ratelimit.Observation {
	h := resp.Header.Get("Sforce-Limit-Info")
	if h == "" {
		return ratelimit.Observation{}
	}
	o, err := ratelimit.ParseSalesforceLimitInfo(h)
	if err != nil {
		return ratelimit.Observation{}
	}
	return o
}

// authTransport adds the bearer token to each request and, when Salesforce
// answers 401, fetches a new token once and replays the request with it.
type authTransport struct {
	source oauth2.TokenSource
	base   http.RoundTripper

	mu  sync.Mutex
	tok *oauth2.Token
}

func (t *authTransport) token(stale string) (*oauth2.Token, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != nil && t.tok.Valid() && t.tok.AccessToken != stale {
		return t.tok, nil
	}
	tok, err := t.source.Token()
	if err != nil {
		return nil, &crm.Error{Kind: crm.KindUnauthorized, CRM: Name, Operation: "token",
			Message: "getting an access token failed: check the connected app and the credentials", Err: httpx.RedactError(err)}
	}
	if tok == nil || tok.AccessToken == "" {
		return nil, &crm.Error{Kind: crm.KindUnauthorized, CRM: Name, Operation: "token", Message: "the token source returned no access token"}
	}
	t.tok = tok
	return tok, nil
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.token("")
	if err != nil {
		closeBody(req)
		return nil, err
	}
	// The body is held so that the request can be replayed after a refresh.
	var body []byte
	hasBody := req.Body != nil && req.Body != http.NoBody
	if hasBody {
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	send := func(tok *oauth2.Token) (*http.Response, error) {
		r := req.Clone(req.Context())
		if hasBody {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
			r.ContentLength = int64(len(body))
		}
		r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		return t.base.RoundTrip(r)
	}
	resp, err := send(tok)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	fresh, ferr := t.token(tok.AccessToken)
	if ferr != nil || fresh.AccessToken == tok.AccessToken {
		return resp, nil // the 401 stands; checkResponse reports it
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return send(fresh)
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
