package hubspot

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
	"golang.org/x/time/rate"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/ratelimit"
	"github.com/crmkit/crmkit/crm/retry"
	"github.com/crmkit/crmkit/internal/httpx"
)

// Name is the driver's name in Info, errors, spans and audit events.
const Name = "hubspot"

// DefaultBaseURL is HubSpot's API host.
const DefaultBaseURL = "https://api.hubapi.com"

// The API versions the driver speaks. HubSpot's date-versioned paths
// (/crm/objects/2026-03/...) are the default; the legacy numbered ones
// (/crm/v3/objects/...) lose support in September 2027.
const (
	APIVersion202603 = "2026-03"
	APIVersionLegacy = "v3"
)

// MaxBatchSize is the most inputs a HubSpot object batch endpoint takes.
const MaxBatchSize = 100

// Page sizes: list endpoints return at most 100 records a page, search at
// most 200.
const (
	maxListPage   = 100
	maxSearchPage = 200
	searchCap     = 10_000 // the most results one search query pages through
)

// SearchLane is the rate limiter lane of CRM search requests, which HubSpot
// limits to 5 a second apart from every other call.
const SearchLane = "search"

// Driver is HubSpot's crm.Driver. Build it with [New]; it is safe for
// concurrent use.
type Driver struct {
	base      string
	version   string
	hc        *httpx.Client
	now       func() time.Time
	lag       time.Duration
	schemaTTL time.Duration
	defaults  map[string][]string // object -> default fields
	webhook   webhookConfig

	mu      sync.Mutex
	schemas map[string]cachedSchema
}

type cachedSchema struct {
	s  *crm.Schema
	at time.Time
}

// Option configures a Driver.
type Option func(*options) error

type options struct {
	base      string
	version   string
	client    *http.Client
	ts        oauth2.TokenSource
	retry     *retry.Policy
	noRetry   bool
	limiter   *ratelimit.Limiter
	burst     int
	tp        trace.TracerProvider
	logger    *slog.Logger
	now       func() time.Time
	lag       time.Duration
	schemaTTL time.Duration
	defaults  map[string][]string
	webhook   webhookConfig
}

// WithBaseURL sets the API host, https://api.hubapi.com by default; tests
// point it at an emulator (hubspottest.Server.URL).
func WithBaseURL(u string) Option {
	return func(o *options) error {
		p, err := url.Parse(u)
		if err != nil || p.Scheme == "" || p.Host == "" {
			return fmt.Errorf("hubspot: WithBaseURL(%q): want an absolute URL such as https://api.hubapi.com", u)
		}
		o.base = strings.TrimRight(u, "/")
		return nil
	}
}

// WithAPIVersion chooses the path family: APIVersion202603 (the default,
// /crm/objects/2026-03/...) or APIVersionLegacy (/crm/v3/objects/...). A
// later date version, such as "2026-09", works too.
func WithAPIVersion(v string) Option {
	return func(o *options) error {
		if v != APIVersionLegacy && !isDateVersion(v) {
			return fmt.Errorf("hubspot: WithAPIVersion(%q): use %q, %q or another YYYY-MM version", v, APIVersion202603, APIVersionLegacy)
		}
		o.version = v
		return nil
	}
}

func isDateVersion(v string) bool {
	if len(v) < 7 || v[4] != '-' {
		return false
	}
	for i, c := range v[:7] {
		if i != 4 && (c < '0' || c > '9') {
			return false
		}
	}
	return v[7:] == "" || v[7:] == "-beta"
}

// WithHTTPClient sets the client whose transport carries the requests (its
// Transport becomes the innermost layer, under authentication, retries and
// rate limiting); tests pass hubspottest.Server.Client().
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) error { o.client = c; return nil }
}

// WithTokenSource authenticates with OAuth 2.0 access tokens from ts. The
// driver caches each token until shortly before it expires.
func WithTokenSource(ts oauth2.TokenSource) Option {
	return func(o *options) error {
		if ts == nil {
			return errors.New("hubspot: WithTokenSource(nil)")
		}
		o.ts = ts
		return nil
	}
}

// WithPrivateAppToken authenticates with a private app's (or service key's)
// static access token, "pat-na1-...".
func WithPrivateAppToken(token string) Option {
	return func(o *options) error {
		if strings.TrimSpace(token) == "" {
			return errors.New("hubspot: WithPrivateAppToken: the token is empty")
		}
		o.ts = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token, TokenType: "Bearer"})
		return nil
	}
}

// WithRetry sets the retry policy (retry.New() by default); nil turns
// retries off.
func WithRetry(p *retry.Policy) Option {
	return func(o *options) error { o.retry, o.noRetry = p, p == nil; return nil }
}

// WithTenSecondlyLimit paces ordinary requests to stay within a
// ten-secondly limit of n requests (100 by default, HubSpot's lowest tier;
// Professional and Enterprise accounts have 190, and 250 with the limit
// increase). The X-HubSpot-RateLimit-* headers slow the pace further when
// other apps use the same allocation. It has no effect with WithLimiter.
func WithTenSecondlyLimit(n int) Option {
	return func(o *options) error {
		if n < 2 {
			return fmt.Errorf("hubspot: WithTenSecondlyLimit(%d): the limit is at least 2 requests per 10 seconds", n)
		}
		o.burst = n
		return nil
	}
}

// WithLimiter sets the rate limiter. The default paces ordinary requests
// under the ten-secondly limit (see WithTenSecondlyLimit), limits the search
// lane to HubSpot's 5 requests a second, and slows down further when the
// X-HubSpot-RateLimit-* headers say the window is nearly spent. A limiter
// given here should have a SearchLane. Give each HubSpot account its own.
func WithLimiter(l *ratelimit.Limiter) Option {
	return func(o *options) error { o.limiter = l; return nil }
}

// WithTracerProvider sets where HTTP spans go (otel's global provider by
// default).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) error { o.tp = tp; return nil }
}

// WithLogger sets where debug messages about retries and failures go.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error { o.logger = l; return nil }
}

// WithClock replaces time.Now, for the change feed's index lag and the
// webhook timestamp window.
func WithClock(now func() time.Time) Option {
	return func(o *options) error {
		if now == nil {
			return errors.New("hubspot: WithClock(nil)")
		}
		o.now = now
		return nil
	}
}

// WithIndexLag sets how long HubSpot's search index may take to show a
// write (30 seconds by default). The change feed reads only changes at
// least this old, so that a record still being indexed is not passed over;
// changes thus arrive this much later. Zero reads up to the present, which
// suits an emulator (it indexes at once) or a caller that tolerates
// a missed change under load.
func WithIndexLag(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("hubspot: WithIndexLag(%v): the lag cannot be negative", d)
		}
		o.lag = d
		return nil
	}
}

// WithSchemaTTL sets how long a described schema is reused to convert
// values (10 minutes by default). Describe always asks HubSpot afresh.
func WithSchemaTTL(d time.Duration) Option {
	return func(o *options) error { o.schemaTTL = d; return nil }
}

// WithDefaultFields sets the properties Get, Query and Changes read from
// object when the caller names none. Without it HubSpot's own defaults come
// back (for contacts: createdate, email, firstname, hs_object_id,
// lastmodifieddate, lastname). Asking for every property is not offered:
// a contact has hundreds, more than a URL or a search body may carry.
func WithDefaultFields(object string, fields ...string) Option {
	return func(o *options) error {
		if o.defaults == nil {
			o.defaults = map[string][]string{}
		}
		o.defaults[object] = append([]string(nil), fields...)
		return nil
	}
}

// New builds a Driver. It needs credentials: WithTokenSource or
// WithPrivateAppToken.
func New(opts ...Option) (*Driver, error) {
	o := options{base: DefaultBaseURL, version: APIVersion202603, lag: 30 * time.Second, schemaTTL: 10 * time.Minute, now: time.Now, burst: 100}
	for _, f := range opts {
		if f == nil {
			continue
		}
		if err := f(&o); err != nil {
			return nil, err
		}
	}
	if o.ts == nil {
		return nil, errors.New("hubspot: New needs credentials: WithPrivateAppToken(token) or WithTokenSource(ts)")
	}
	if o.retry == nil && !o.noRetry {
		o.retry = retry.New()
	}
	if o.limiter == nil {
		// A token bucket of burst 1 and rate (n-1)/10s never sends more
		// than n requests in any 10 seconds.
		o.limiter = ratelimit.New(
			ratelimit.WithLane(ratelimit.DefaultLane, rate.Limit(float64(o.burst-1)/10), 1),
			ratelimit.WithLane(SearchLane, 5, 1),
		)
	}
	var inner http.RoundTripper
	if o.client != nil && o.client.Transport != nil {
		inner = o.client.Transport
	} else {
		inner = httpx.NewTransport(nil)
	}
	auth := &oauth2.Transport{Source: oauth2.ReuseTokenSource(nil, o.ts), Base: inner}
	hc, err := httpx.New(httpx.Config{
		CRM:              Name,
		Retry:            o.retry,
		Limiter:          o.limiter,
		Lane:             lane,
		Observe:          observe,
		CheckResponse:    checkResponse,
		RequestIDHeaders: []string{"X-HubSpot-Correlation-Id", "X-Request-Id"},
		Base:             auth,
		TracerProvider:   o.tp,
		Logger:           o.logger,
	})
	if err != nil {
		return nil, err
	}
	return &Driver{
		base: o.base, version: o.version, hc: hc, now: o.now, lag: o.lag, schemaTTL: o.schemaTTL,
		defaults: o.defaults, webhook: o.webhook, schemas: map[string]cachedSchema{},
	}, nil
}

// Info describes the driver. HubSpot has no conditional writes, no query
// language to pass through, and no substring match (CONTAINS_TOKEN matches
// words); search cannot see archived records, so a query cannot include
// them.
func (d *Driver) Info() crm.DriverInfo {
	return crm.DriverInfo{
		Name:            Name,
		MaxBatchSize:    MaxBatchSize,
		MaxPageSize:     maxSearchPage,
		DefaultPageSize: maxListPage,
		Unsupported: []crm.Feature{
			crm.FeatureIfVersion,
			crm.FeatureContains,
			crm.FeatureIncludeDeleted,
		},
	}
}

// objectsPath is the objects family's path for an object type.
func (d *Driver) objectsPath(object string, rest ...string) string {
	var b strings.Builder
	if d.version == APIVersionLegacy {
		b.WriteString("/crm/v3/objects/")
	} else {
		b.WriteString("/crm/objects/" + d.version + "/")
	}
	b.WriteString(url.PathEscape(object))
	for _, r := range rest {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(r))
	}
	return b.String()
}

func (d *Driver) propertiesPath(object string) string {
	if d.version == APIVersionLegacy {
		return "/crm/v3/properties/" + url.PathEscape(object)
	}
	return "/crm/properties/" + d.version + "/" + url.PathEscape(object)
}

// call sends one request and decodes a JSON response into out (when out is
// not nil). It returns the status of a successful response.
func (d *Driver) call(ctx context.Context, op, object, method, path string, query url.Values, body, out any) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	u := d.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: op, Object: object, Message: "encoding the request body", Err: err}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(httpx.WithOperation(ctx, op, object), method, u, rd)
	if err != nil {
		return 0, &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: op, Object: object, Message: "building the request", Err: httpx.RedactError(err)}
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := d.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return 0, ctxErr
		}
		return 0, &crm.Error{Kind: crm.KindUnavailable, CRM: Name, Operation: op, Object: object, StatusCode: resp.StatusCode,
			RequestID: resp.Header.Get("X-HubSpot-Correlation-Id"),
			Message:   "the response body is not the JSON HubSpot sends", Err: err}
	}
	return resp.StatusCode, nil
}
