package hubspottest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/crmkit/crmkit/internal/memstore"
)

// Defaults of a portal built without options: a Professional account with a
// private app.
const (
	DefaultPortalID    = 62515
	DefaultAppID       = 1160452
	DefaultBurstLimit  = 190     // requests per 10 seconds, per app
	DefaultDailyLimit  = 625_000 // requests per day, per account
	DefaultSearchLimit = 5       // search requests per second, per account
)

// Server is an emulated HubSpot portal behind a real HTTP server. Build one
// with [New] in a test or [NewServer] standalone; it is safe for concurrent
// use.
type Server struct {
	// URL is the base URL of the portal's API, such as http://127.0.0.1:53211,
	// in place of https://api.hubapi.com.
	URL string

	cfg    config
	hs     *httptest.Server // nil for a standalone server
	hsrv   *http.Server     // the standalone server
	lis    net.Listener
	closed chan struct{}
	once   sync.Once

	store  *memstore.Store
	types  []*objectType
	byName map[string]*objectType // names, objectTypeIds and fullyQualifiedNames, lower case
	limits *limits
	assoc  *associations
	oauth  *oauthState

	// wmu serialises writes, so that a batch is checked and applied as one
	// and every write request has one timestamp (wnow, read by memstore's
	// clock).
	wmu   sync.Mutex
	wnow  time.Time
	wlast time.Time

	mu     sync.Mutex
	faults []*Fault
	log    []Request
	stats  Stats
}

// Request is one request the server served, as its log keeps it.
type Request struct {
	Time     time.Time
	Method   string
	Path     string // unescaped
	RawQuery string
	Status   int
	Search   bool // a CRM search request (its own rate limit, no limit headers)
}

// Stats counts what the server has served.
type Stats struct {
	Requests    int         // every request, refused ones included
	ByStatus    map[int]int // responses by status code
	Searches    int         // search requests
	Burst429    int         // refused by the ten-secondly limit
	Daily429    int         // refused by the daily limit
	Secondly429 int         // search requests refused by search's limit
	DailyUsed   int         // requests counted against today's allocation
}

type config struct {
	tokens      []string
	portal      int64
	app         int64
	now         func() time.Time
	burst       int
	daily       int
	search      int
	props       map[string][]Property
	custom      []ObjectSchema
	addr        string
	secret      string
	clientID    string
	tokenTTL    time.Duration
	redirectURI string
	logMax      int
}

// Option configures a Server.
type Option func(*config)

// WithTokens restricts the bearer tokens the portal accepts to these
// (private-app tokens such as "pat-na1-..."). Without it, any non-empty
// bearer token is accepted; a request without one is always refused.
func WithTokens(tokens ...string) Option {
	return func(c *config) { c.tokens = append(c.tokens, tokens...) }
}

// WithPortalID sets the portal (hub) id, which names custom objects
// (p{portalId}_{name}) and appears in 429 bodies and webhooks.
func WithPortalID(id int64) Option { return func(c *config) { c.portal = id } }

// WithAppID sets the app id that appears in 429 bodies and webhooks.
func WithAppID(id int64) Option { return func(c *config) { c.app = id } }

// WithClock sets where the portal's time comes from: record timestamps and
// the rate-limit windows. By default record times are the real time in
// milliseconds, advanced by at least one millisecond per write request, so
// that every write has its own updatedAt; with a clock, many writes may
// share a millisecond, as they can on HubSpot.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithBurstLimit sets the ten-secondly limit in requests per 10 seconds
// (190 by default; 0 turns it off).
func WithBurstLimit(n int) Option { return func(c *config) { c.burst = n } }

// WithDailyLimit sets the daily limit in requests (625,000 by default; 0
// turns it off).
func WithDailyLimit(n int) Option { return func(c *config) { c.daily = n } }

// WithSearchLimit sets the search limit in requests per second (5 by
// default; 0 turns it off).
func WithSearchLimit(n int) Option { return func(c *config) { c.search = n } }

// WithProperty adds a custom property to a standard object type ("contacts",
// "companies", "deals", "tickets").
func WithProperty(objectType string, p Property) Option {
	return func(c *config) {
		if c.props == nil {
			c.props = map[string][]Property{}
		}
		c.props[objectType] = append(c.props[objectType], p)
	}
}

// WithCustomObject adds a custom object type.
func WithCustomObject(s ObjectSchema) Option {
	return func(c *config) { c.custom = append(c.custom, s) }
}

// WithAddr sets the address a standalone server listens on
// ("127.0.0.1:0", a free loopback port, by default).
func WithAddr(addr string) Option { return func(c *config) { c.addr = addr } }

// WithApp sets the app's OAuth client id and secret, and the redirect URI
// its authorization codes are bound to. The secret also signs the webhooks
// the server sends.
func WithApp(clientID, clientSecret, redirectURI string) Option {
	return func(c *config) { c.clientID, c.secret, c.redirectURI = clientID, clientSecret, redirectURI }
}

// WithTokenLifetime sets how long OAuth access tokens last (30 minutes by
// default, as on HubSpot).
func WithTokenLifetime(d time.Duration) Option { return func(c *config) { c.tokenTTL = d } }

// New starts a portal for a test and closes it when the test ends. It fails
// the test if the options are invalid.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := build(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.hs = httptest.NewServer(s)
	s.URL = s.hs.URL
	t.Cleanup(s.Close)
	return s
}

// NewInProcess builds a portal that serves requests only in process,
// through [Server.Transport] (Client uses it), without a listener: for tests
// inside a testing/synctest bubble, where a listening socket would keep the
// fake clock from advancing. Its URL is http://localhost, never dialled.
func NewInProcess(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := build(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.URL = "http://localhost"
	t.Cleanup(s.Close)
	return s
}

// NewServer starts a standalone portal on a loopback port (see [WithAddr]),
// for clients in other languages or a long-running emulator process. Close
// it when done.
func NewServer(opts ...Option) (*Server, error) {
	s, err := build(opts)
	if err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", s.cfg.addr)
	if err != nil {
		return nil, fmt.Errorf("hubspottest: listening on %s: %w", s.cfg.addr, err)
	}
	s.lis = lis
	s.hsrv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.URL = "http://" + lis.Addr().String()
	go func() { _ = s.hsrv.Serve(lis) }()
	return s, nil
}

func build(opts []Option) (*Server, error) {
	cfg := config{
		portal: DefaultPortalID, app: DefaultAppID,
		burst: DefaultBurstLimit, daily: DefaultDailyLimit, search: DefaultSearchLimit,
		addr: "127.0.0.1:0", tokenTTL: 30 * time.Minute, logMax: 100_000,
	}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if cfg.burst < 0 || cfg.daily < 0 || cfg.search < 0 {
		return nil, errors.New("hubspottest: rate limits cannot be negative; use 0 to turn one off")
	}
	s := &Server{
		cfg:    cfg,
		closed: make(chan struct{}),
		byName: map[string]*objectType{},
		limits: newLimits(cfg.burst, cfg.daily, cfg.search),
		stats:  Stats{ByStatus: map[int]int{}},
	}
	s.store = memstore.New(memstore.WithClock(func() time.Time { return s.wnow }))
	s.assoc = newAssociations()
	s.oauth = newOAuthState()
	types := standardTypes()
	for _, ot := range types {
		if extra := cfg.props[ot.name]; len(extra) > 0 {
			all := make([]Property, 0, len(ot.props)+len(extra))
			for _, p := range ot.props {
				all = append(all, *p)
			}
			for _, p := range extra {
				p.HubspotDefined = false
				all = append(all, p)
			}
			if err := ot.checkProps(all); err != nil {
				return nil, err
			}
			ot.setProps(all)
		}
	}
	for name := range cfg.props {
		if !slices.ContainsFunc(types, func(ot *objectType) bool { return ot.name == name }) {
			return nil, fmt.Errorf("hubspottest: WithProperty(%q): not a standard object type (contacts, companies, deals, tickets); declare custom objects with WithCustomObject", name)
		}
	}
	for i, cs := range cfg.custom {
		ot, err := customType(cs, cfg.portal, i+1)
		if err != nil {
			return nil, err
		}
		types = append(types, ot)
	}
	for _, ot := range types {
		for _, key := range []string{ot.name, ot.typeID, ot.fqn} {
			if key == "" {
				continue
			}
			if _, dup := s.byName[strings.ToLower(key)]; dup {
				return nil, fmt.Errorf("hubspottest: object type %q is declared twice", key)
			}
			s.byName[strings.ToLower(key)] = ot
		}
		if err := ot.addTable(s.store); err != nil {
			return nil, err
		}
	}
	s.types = types
	return s, nil
}

// Close shuts the server down. Requests that hang (see Fault.Hang) end.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closed)
		if s.hs != nil {
			s.hs.CloseClientConnections()
			s.hs.Close()
		}
		if s.hsrv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = s.hsrv.Shutdown(ctx)
		}
	})
}

// Client returns an HTTP client that talks to the server.
func (s *Server) Client() *http.Client {
	switch {
	case s.hs != nil:
		return s.hs.Client()
	case s.hsrv != nil:
		return &http.Client{}
	}
	return &http.Client{Transport: s.Transport()}
}

// Transport returns a RoundTripper that serves requests in process, without
// a network: for tests inside a testing/synctest bubble, where the fake
// clock makes rate-limit waits free. A Fault's Reset gives an error, as a
// reset connection would.
func (s *Server) Transport() http.RoundTripper { return inProcess{s} }

type inProcess struct{ s *Server }

func (t inProcess) RoundTrip(req *http.Request) (resp *http.Response, err error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	var body []byte
	if req.Body != nil {
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	in := req.Clone(req.Context())
	in.Body = io.NopCloser(bytes.NewReader(body))
	in.RequestURI = req.URL.RequestURI()
	if in.Host == "" {
		in.Host = req.URL.Host
	}
	rec := httptest.NewRecorder()
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler { //nolint:errorlint // the sentinel itself is what net/http panics with
				// What a client sees when the peer resets the connection.
				resp, err = nil, &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
				return
			}
			panic(v)
		}
	}()
	t.s.ServeHTTP(rec, in)
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	res := rec.Result()
	res.Request = req
	return res, nil
}

// Fault is a failure to inject: the next Times requests that match Method
// and Path get it instead of (or, for Delay, before) their normal answer.
type Fault struct {
	Method string // "" matches any method
	// Path matches the start of the request's unescaped path; "" matches
	// any path. "/crm/v3/objects/contacts/search" targets search.
	Path string
	// Times is how many matching requests the fault hits; 0 means 1, a
	// negative number every one until ClearFaults.
	Times int

	// Status answers with this status and the body HubSpot sends with it:
	// for 429, the body of Policy (TEN_SECONDLY_ROLLING by default, DAILY,
	// or SECONDLY).
	Status int
	Policy string
	// ExpiredToken answers 401 EXPIRED_AUTHENTICATION.
	ExpiredToken bool
	// Delay answers late (a slow response).
	Delay time.Duration
	// Hang never answers: the request waits until the client gives up (a
	// timeout) or the server closes.
	Hang bool
	// Reset closes the connection without an answer.
	Reset bool
}

// Inject adds a fault. Faults apply in the order they were added; each
// request takes at most one.
func (s *Server) Inject(f Fault) {
	if f.Times == 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

func (s *Server) takeFault(r *http.Request, path string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if (f.Method == "" || strings.EqualFold(f.Method, r.Method)) && strings.HasPrefix(path, f.Path) {
			if f.Times > 0 {
				f.Times--
				if f.Times == 0 {
					s.faults = slices.Delete(s.faults, i, i+1)
				}
			}
			cp := *f
			return &cp
		}
	}
	return nil
}

// Requests returns the request log, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	st := s.stats
	st.ByStatus = make(map[int]int, len(s.stats.ByStatus))
	for k, v := range s.stats.ByStatus {
		st.ByStatus[k] = v
	}
	s.mu.Unlock()
	st.DailyUsed = s.limits.dailyUsed()
	return st
}

// UseDaily spends n requests of today's allocation at once, so that a test
// can start near the daily limit.
func (s *Server) UseDaily(n int) { s.limits.useDaily(s.clock(), n) }

func (s *Server) clock() time.Time {
	if s.cfg.now != nil {
		return s.cfg.now()
	}
	return time.Now()
}

// beginWrite takes the write lock and fixes the time of this write request.
func (s *Server) beginWrite() {
	s.wmu.Lock()
	now := s.clock().UTC().Truncate(time.Millisecond)
	if s.cfg.now == nil && !now.After(s.wlast) {
		now = s.wlast.Add(time.Millisecond)
	}
	s.wnow, s.wlast = now, now
}

func (s *Server) endWrite() { s.wmu.Unlock() }

// statusWriter remembers the status a handler sent, and calls sent with
// it before the response leaves, so that the request log holds a request
// by the time its client has the answer.
type statusWriter struct {
	http.ResponseWriter
	status int
	sent   func(status int)
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		w.sent(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// route is what a request path resolved to.
type route struct {
	handle func(http.ResponseWriter, *http.Request) *apiError
	search bool // counts against search's limit, no limit headers
	open   bool // needs no bearer token (the OAuth token endpoint)
}

// ServeHTTP serves the portal's API: faults first, then authentication,
// then the rate limits, then the route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	segs, err := segments(r.URL)
	path := "/" + strings.Join(segs, "/")
	rt := s.route(r.Method, segs)
	entry := Request{Time: s.clock(), Method: r.Method, Path: path, RawQuery: r.URL.RawQuery, Search: rt.search}
	sw := &statusWriter{ResponseWriter: w, sent: func(status int) {
		entry.Status = status
		s.record(entry)
	}}
	defer func() {
		if sw.status == 0 { // no answer: a hang, a reset, a client gone
			s.record(entry)
		}
	}()

	if f := s.takeFault(r, path); f != nil && s.serveFault(sw, r, f) {
		return
	}
	if err != nil {
		writeError(sw, badRequest("The request path is not valid: %v", err))
		return
	}
	oauth := false
	if !rt.open {
		var e *apiError
		if oauth, e = s.authenticate(r); e != nil {
			writeError(sw, e)
			return
		}
		now := s.clock()
		if policy := s.limits.admit(now, rt.search); policy != "" {
			s.count(policy)
			if !rt.search {
				s.limits.headers(sw.Header(), now, oauth)
			}
			writeError(sw, rateLimited(policy, s.cfg.app, s.cfg.portal))
			return
		}
		if !rt.search {
			s.limits.headers(sw.Header(), now, oauth)
		}
	}
	if e := rt.handle(sw, r); e != nil {
		writeError(sw, e)
	}
}

func (s *Server) record(e Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Requests++
	s.stats.ByStatus[e.Status]++
	if e.Search {
		s.stats.Searches++
	}
	if len(s.log) >= s.cfg.logMax {
		s.log = slices.Delete(s.log, 0, len(s.log)/10)
	}
	s.log = append(s.log, e)
}

func (s *Server) count(policy string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch policy {
	case PolicyDaily:
		s.stats.Daily429++
	case PolicySecondly:
		s.stats.Secondly429++
	default:
		s.stats.Burst429++
	}
}

// serveFault applies a fault and reports whether it answered the request.
func (s *Server) serveFault(w http.ResponseWriter, r *http.Request, f *Fault) bool {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return true
		case <-s.closed:
			t.Stop()
			return true
		}
	}
	switch {
	case f.Hang:
		select {
		case <-r.Context().Done():
		case <-s.closed:
		}
		return true
	case f.Reset:
		panic(http.ErrAbortHandler)
	case f.ExpiredToken:
		writeError(w, expiredToken())
		return true
	case f.Status == http.StatusTooManyRequests:
		s.count(f.Policy)
		if f.Policy != PolicySecondly {
			s.limits.headers(w.Header(), s.clock(), false)
			if f.Policy != PolicyDaily {
				w.Header().Set("X-HubSpot-RateLimit-Remaining", "0")
			}
		}
		writeError(w, rateLimited(f.Policy, s.cfg.app, s.cfg.portal))
		return true
	case f.Status != 0:
		if f.Status == 477 {
			w.Header().Set("Retry-After", "2") // seconds, as HubSpot sends it with 477
		}
		writeError(w, faultError(f.Status))
		return true
	}
	return false
}

// authenticate checks the bearer token; it reports whether the token came
// from the OAuth endpoint (HubSpot sends no daily-limit headers then).
func (s *Server) authenticate(r *http.Request) (oauth bool, _ *apiError) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return false, unauthorized()
	}
	tok = strings.TrimSpace(tok)
	if known, expired := s.oauth.check(tok, s.clock()); known {
		if expired {
			return true, expiredToken()
		}
		return true, nil
	}
	if len(s.cfg.tokens) > 0 && !slices.Contains(s.cfg.tokens, tok) {
		return false, unauthorized()
	}
	return false, nil
}

// segments splits the path into unescaped segments, so that an id sent
// percent-encoded (an email as idProperty) arrives as written.
func segments(u *url.URL) ([]string, error) {
	raw := strings.Trim(u.EscapedPath(), "/")
	if raw == "" {
		return nil, nil
	}
	parts := strings.Split(raw, "/")
	for i, p := range parts {
		v, err := url.PathUnescape(p)
		if err != nil {
			return parts, err
		}
		parts[i] = v
	}
	return parts, nil
}

// dateVersion matches the date-versioned API segments: 2026-03, 2026-09-beta.
var dateVersion = regexp.MustCompile(`^20\d\d-\d\d(-beta)?$`)

func isVersion(seg, legacy string) bool { return seg == legacy || dateVersion.MatchString(seg) }

// route resolves a request to its handler.
func (s *Server) route(method string, segs []string) route {
	n := len(segs)
	at := func(i int) string {
		if i < n {
			return segs[i]
		}
		return ""
	}
	switch {
	// /crm/v3/objects/{t}/... and /crm/objects/2026-03/{t}/...
	case n >= 4 && at(0) == "crm" && at(1) == "v3" && at(2) == "objects":
		return s.objectRoute(method, segs[3], segs[4:])
	case n >= 4 && at(0) == "crm" && at(1) == "objects" && dateVersion.MatchString(at(2)):
		return s.objectRoute(method, segs[3], segs[4:])
	// /crm/v4/objects/{t}/{id}/associations/... (associations v4)
	case n >= 6 && at(0) == "crm" && at(1) == "v4" && at(2) == "objects" && at(5) == "associations":
		return s.assocRoute(method, segs[3], segs[4], segs[6:])
	case n >= 5 && at(0) == "crm" && at(1) == "v4" && at(2) == "associations":
		return s.assocBatchRoute(method, segs[3:])
	// /crm/associations/2026-03/{fromT}/{toT}/batch/... (the per-record
	// routes of the dated family hang off the objects family instead)
	case n >= 5 && at(0) == "crm" && at(1) == "associations" && dateVersion.MatchString(at(2)):
		return s.assocBatchRoute(method, segs[3:])
	// /crm/v3/properties/{t}[/{name}] and /crm/properties/2026-03/{t}[/{name}]
	case n >= 4 && at(0) == "crm" && at(1) == "v3" && at(2) == "properties":
		return s.propertiesRoute(method, segs[3], segs[4:])
	case n >= 4 && at(0) == "crm" && at(1) == "properties" && dateVersion.MatchString(at(2)):
		return s.propertiesRoute(method, segs[3], segs[4:])
	// /crm-object-schemas/v3/schemas[/{t}]
	case n >= 3 && at(0) == "crm-object-schemas" && isVersion(at(1), "v3") && at(2) == "schemas":
		return s.schemasRoute(method, segs[3:])
	case n >= 3 && at(0) == "crm" && at(1) == "v3" && at(2) == "schemas":
		return s.schemasRoute(method, segs[3:])
	// /oauth/v1/token, /oauth/v3/token, /oauth/2026-03/token
	case n == 3 && at(0) == "oauth" && (at(1) == "v1" || isVersion(at(1), "v3")) && at(2) == "token" && method == http.MethodPost:
		return route{handle: s.handleToken, open: true}
	case n == 2 && at(0) == "oauth" && at(1) == "authorize" && method == http.MethodGet:
		return route{handle: s.handleAuthorize, open: true}
	}
	return route{handle: func(http.ResponseWriter, *http.Request) *apiError {
		return newError(http.StatusNotFound, catNotFound, "No route for %s /%s", method, strings.Join(segs, "/"))
	}}
}

func methodNotAllowed(method string) route {
	return route{handle: func(http.ResponseWriter, *http.Request) *apiError {
		return newError(http.StatusMethodNotAllowed, catValidation, "Method %s is not allowed here", method)
	}}
}

// objectType resolves a path's object type: a name, an objectTypeId or a
// fullyQualifiedName.
func (s *Server) objectType(name string) (*objectType, *apiError) {
	if ot, ok := s.byName[strings.ToLower(name)]; ok {
		return ot, nil
	}
	return nil, unknownType(name)
}
