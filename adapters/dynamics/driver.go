package dynamics

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

// Name is the driver's name, as it appears in Info, errors, spans and audit
// events.
const Name = "dynamics"

// APIPath is the path of the Dataverse Web API version the driver speaks,
// under the environment URL.
const APIPath = "/api/data/v9.2/"

// The limits of the Dataverse Web API that the driver works within.
const (
	// MaxBatchSize is the most operations one $batch request may carry.
	MaxBatchSize = 1000
	// MaxPageSize is the largest page Dataverse returns.
	MaxPageSize = 5000
	// DefaultPageSize is the page size the driver asks for when a query
	// does not say: small enough that a page of wide rows stays well under
	// the response size cap, large enough to keep requests few.
	DefaultPageSize = 1000
)

// Driver is a crm.Driver for Microsoft Dataverse, the data platform of
// Dynamics 365, over its Web API (OData v4). It also implements
// crm.ObjectLister. Build one with [New]; it is safe for concurrent use.
type Driver struct {
	base       string // absolute API base URL, ending in "/"
	baseURL    *url.URL
	hc         *httpx.Client
	caller     string
	defPage    int
	maxPage    int
	maxBatch   int
	polling    bool
	lookback   time.Duration
	metaTTL    time.Duration
	now        func() time.Time
	newID      func() string
	mu         sync.Mutex
	tables     map[string]*cachedTable // by lower-cased logical name
	setToTable map[string]string       // entity set name -> logical name
}

// Option configures a Driver.
type Option func(*options)

type options struct {
	baseURL   string
	transport http.RoundTripper
	tokens    oauth2.TokenSource
	caller    string
	retry     *retry.Policy
	limiter   *ratelimit.Limiter
	tp        trace.TracerProvider
	logger    *slog.Logger
	defPage   int
	maxPage   int
	maxBatch  int
	polling   bool
	lookback  time.Duration
	metaTTL   time.Duration
	now       func() time.Time
	errs      []error
}

// WithBaseURL sets the environment: its URL, such as
// https://contoso.crm.dynamics.com, or the Web API URL under it
// (https://contoso.crm.dynamics.com/api/data/v9.2/). It is required.
func WithBaseURL(u string) Option { return func(o *options) { o.baseURL = u } }

// WithHTTPClient makes the driver send its requests through c's Transport
// (crmkit adds retries, rate limiting, tracing and the size cap around it).
// Tests pass an emulator's client here. Without it the driver uses crmkit's
// TLS transport.
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) {
		if c == nil {
			o.errs = append(o.errs, errors.New("dynamics: WithHTTPClient(nil): give a client, or leave the option out"))
			return
		}
		o.transport = c.Transport
		if o.transport == nil {
			o.transport = http.DefaultTransport
		}
	}
}

// WithTransport sets the innermost RoundTripper the driver sends through.
func WithTransport(rt http.RoundTripper) Option { return func(o *options) { o.transport = rt } }

// WithTokenSource authenticates every request with a bearer token from ts,
// such as a golang.org/x/oauth2/clientcredentials config for the
// environment's scope (https://contoso.crm.dynamics.com/.default). Tokens
// are cached until shortly before they expire. Without it requests carry no
// credentials, which only an emulator accepts.
func WithTokenSource(ts oauth2.TokenSource) Option { return func(o *options) { o.tokens = ts } }

// WithCallerObjectID makes every request act on behalf of the Dataverse
// user whose Microsoft Entra object id is id, by sending the CallerObjectId
// header: records then show that person, not the integration, in createdby,
// modifiedby and audit history. The application user needs the "Act on
// behalf of another user" privilege. [ContextWithCaller] overrides it for
// one call.
func WithCallerObjectID(id string) Option { return func(o *options) { o.caller = id } }

// WithRetry sets the retry policy (retry.New() by default).
func WithRetry(p *retry.Policy) Option { return func(o *options) { o.retry = p } }

// WithLimiter sets the rate limiter (a fresh ratelimit.New() by default).
// The driver feeds it Dataverse's x-ms-ratelimit-burst-remaining-xrm-requests
// header, so that it slows down before the service protection limit answers
// 429, and pauses it for a 429's Retry-After. Share one Limiter among the
// drivers of one environment and user.
func WithLimiter(l *ratelimit.Limiter) Option { return func(o *options) { o.limiter = l } }

// WithTracerProvider sets where the HTTP spans go (otel's global provider by
// default).
func WithTracerProvider(tp trace.TracerProvider) Option { return func(o *options) { o.tp = tp } }

// WithLogger sets where debug logs about retries go (discarded by default).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithPageSize sets the page size asked for when a request names none, and
// the largest a request may ask for (DefaultPageSize and MaxPageSize by
// default; max may not exceed MaxPageSize).
func WithPageSize(def, max int) Option {
	return func(o *options) { o.defPage, o.maxPage = def, max }
}

// WithMaxBatchSize lowers the number of writes sent in one $batch (at most
// MaxBatchSize, the default).
func WithMaxBatchSize(n int) Option { return func(o *options) { o.maxBatch = n } }

// WithModifiedOnPolling lets Changes read a table that does not have change
// tracking enabled by polling its modifiedon column, reading again the last
// lookback of changes on every poll (so that a write committed late, or
// stamped by a server whose clock lags, is not missed) and skipping what it
// already reported. Deletes cannot be seen this way, so the driver then
// lists crm.FeatureChangeDeletes as unsupported. Tables with change
// tracking still use it. Without this option, Changes on such a table fails
// with KindUnsupported.
func WithModifiedOnPolling(lookback time.Duration) Option {
	return func(o *options) { o.polling, o.lookback = true, lookback }
}

// WithMetadataTTL sets how long table definitions (entity set names, column
// types, option sets, keys) are cached (15 minutes by default).
// [Driver.ForgetMetadata] drops one early.
func WithMetadataTTL(d time.Duration) Option { return func(o *options) { o.metaTTL = d } }

// WithClock replaces time.Now for metadata expiry and the change feed's
// polling watermark, for tests.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// New returns a driver for the environment of WithBaseURL.
func New(opts ...Option) (*Driver, error) {
	o := options{defPage: DefaultPageSize, maxPage: MaxPageSize, maxBatch: MaxBatchSize, metaTTL: 15 * time.Minute, now: time.Now}
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	if err := errors.Join(o.errs...); err != nil {
		return nil, err
	}
	base, err := apiBase(o.baseURL)
	if err != nil {
		return nil, err
	}
	switch {
	case o.defPage < 1 || o.maxPage < o.defPage || o.maxPage > MaxPageSize:
		return nil, fmt.Errorf("dynamics: WithPageSize(%d, %d): want 1 <= default <= max <= %d", o.defPage, o.maxPage, MaxPageSize)
	case o.maxBatch < 1 || o.maxBatch > MaxBatchSize:
		return nil, fmt.Errorf("dynamics: WithMaxBatchSize(%d): want 1 to %d", o.maxBatch, MaxBatchSize)
	case o.polling && o.lookback < 0:
		return nil, fmt.Errorf("dynamics: WithModifiedOnPolling(%s): the lookback cannot be negative", o.lookback)
	case o.metaTTL <= 0:
		return nil, fmt.Errorf("dynamics: WithMetadataTTL(%s): want a positive duration", o.metaTTL)
	case o.now == nil:
		return nil, errors.New("dynamics: WithClock(nil): give a clock, such as time.Now")
	case o.caller != "" && !isGUID(o.caller):
		return nil, fmt.Errorf("dynamics: WithCallerObjectID(%q): want the user's Microsoft Entra object id, a GUID", o.caller)
	}
	transport := o.transport
	if transport == nil {
		transport = httpx.NewTransport(nil)
	}
	if o.tokens != nil {
		transport = &bearerTransport{src: oauth2.ReuseTokenSource(nil, o.tokens), base: transport}
	}
	if o.retry == nil {
		o.retry = retry.New()
	}
	if o.limiter == nil {
		o.limiter = ratelimit.New()
	}
	hc, err := httpx.New(httpx.Config{
		CRM:              Name,
		Retry:            o.retry,
		Limiter:          o.limiter,
		Observe:          observe,
		CheckResponse:    checkResponse,
		RequestIDHeaders: []string{"REQ_ID", "x-ms-service-request-id"},
		Base:             transport,
		TracerProvider:   o.tp,
		Logger:           o.logger,
	})
	if err != nil {
		return nil, err
	}
	bu, _ := url.Parse(base)
	return &Driver{
		base: base, baseURL: bu, hc: hc, caller: strings.ToLower(o.caller),
		defPage: o.defPage, maxPage: o.maxPage, maxBatch: o.maxBatch,
		polling: o.polling, lookback: o.lookback, metaTTL: o.metaTTL, now: o.now, newID: newGUID,
		tables: map[string]*cachedTable{}, setToTable: map[string]string{},
	}, nil
}

// apiBase turns an environment URL or Web API URL into the Web API base.
func apiBase(raw string) (string, error) {
	if strings.TrimSpace(raw) == "" {
		return "", errors.New("dynamics: WithBaseURL is required: give the environment URL, such as https://contoso.crm.dynamics.com")
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("dynamics: WithBaseURL(%q): want an absolute https URL, such as https://contoso.crm.dynamics.com", httpx.RedactURL(u))
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("dynamics: WithBaseURL: the URL must not carry credentials, a query or a fragment")
	}
	p := strings.TrimSuffix(u.Path, "/")
	if i := strings.Index(p+"/", "/api/data/"); i >= 0 {
		if rest := strings.TrimSuffix((p + "/")[i+len("/api/data/"):], "/"); rest == "" || strings.Contains(rest, "/") {
			return "", fmt.Errorf("dynamics: WithBaseURL: %q is not a Web API URL such as %s", p, APIPath)
		}
		u.Path = p + "/"
	} else {
		u.Path = p + APIPath
	}
	return u.String(), nil
}

// Info describes the driver.
func (d *Driver) Info() crm.DriverInfo {
	unsupported := []crm.Feature{crm.FeatureIncludeDeleted, crm.FeatureNativeQuery}
	if d.polling {
		unsupported = append(unsupported, crm.FeatureChangeDeletes)
	}
	return crm.DriverInfo{
		Name:            Name,
		MaxBatchSize:    d.maxBatch,
		MaxPageSize:     d.maxPage,
		DefaultPageSize: d.defPage,
		Unsupported:     unsupported,
	}
}

type callerKey struct{}

// ContextWithCaller makes the requests of calls made with ctx act on behalf
// of the user whose Microsoft Entra object id is objectID (the CallerObjectId
// header), overriding WithCallerObjectID. An empty objectID makes them act
// as the application user itself.
func ContextWithCaller(ctx context.Context, objectID string) context.Context {
	return context.WithValue(ctx, callerKey{}, strings.ToLower(objectID))
}

func (d *Driver) callerFor(ctx context.Context) (string, error) {
	if v, ok := ctx.Value(callerKey{}).(string); ok {
		if v != "" && !isGUID(v) {
			return "", &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Message: fmt.Sprintf("ContextWithCaller(%q): want the user's Microsoft Entra object id, a GUID", v)}
		}
		return v, nil
	}
	return d.caller, nil
}

// newRequest builds a Web API request with the headers every call carries.
func (d *Driver) newRequest(ctx context.Context, method, rawURL string, body []byte) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, r)
	if err != nil {
		return nil, &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Message: "building the request failed", Err: httpx.RedactError(err)}
	}
	h := req.Header
	h.Set("Accept", "application/json")
	h.Set("OData-MaxVersion", "4.0")
	h.Set("OData-Version", "4.0")
	if body != nil && h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
	if method == http.MethodGet {
		h.Set("If-None-Match", "null") // never a cached answer
	}
	caller, err := d.callerFor(ctx)
	if err != nil {
		return nil, err
	}
	if caller != "" {
		h.Set("CallerObjectId", caller)
	}
	return req, nil
}

// getJSON GETs a URL and decodes its JSON body into v.
func (d *Driver) getJSON(ctx context.Context, op, object, rawURL string, prefer string, v any) (http.Header, error) {
	ctx = httpx.WithOperation(ctx, op, object)
	req, err := d.newRequest(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	if prefer != "" {
		req.Header.Set("Prefer", prefer)
	}
	resp, err := d.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("%s: %s %s: %w", Name, op, object, ctxErr)
		}
		return nil, &crm.Error{Kind: crm.KindUnavailable, CRM: Name, Operation: op, Object: object, StatusCode: resp.StatusCode,
			RequestID: d.hc.RequestID(resp.Header), Message: "the response is not the JSON the Web API sends", Err: httpx.RedactError(err)}
	}
	return resp.Header, nil
}

// begin refuses a call whose context has ended, so that no driver call
// starts work the caller no longer wants.
func begin(ctx context.Context, op, object string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %s %s: %w", Name, op, object, err)
	}
	return nil
}

// bearerTransport adds the access token to every request.
type bearerTransport struct {
	src  oauth2.TokenSource
	base http.RoundTripper
}

func (t *bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.src.Token()
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &crm.Error{Kind: crm.KindUnauthorized, CRM: Name, Message: "getting an access token for Dataverse failed: check the app registration's credentials and the scope (the environment URL + /.default)", Err: httpx.RedactError(err)}
	}
	r := req.Clone(req.Context())
	tok.SetAuthHeader(r)
	return t.base.RoundTrip(r)
}
