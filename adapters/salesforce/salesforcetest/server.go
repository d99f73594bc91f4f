package salesforcetest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/time/rate"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/emulator"
	"github.com/crmkit/crmkit/internal/memstore"
)

// Defaults of a Server built without options.
const (
	// DefaultDailyLimit is the daily API allocation of a Developer Edition org.
	DefaultDailyLimit = 15000
	// DefaultLocatorTTL is how long an idle query locator lives.
	DefaultLocatorTTL = 15 * time.Minute
	// MaxCollectionSize is the most records one sObject Collections call takes.
	MaxCollectionSize = 200
	// DefaultBatchSize and MinBatchSize bound query pages (Sforce-Query-Options: batchSize).
	DefaultBatchSize = 2000
	MinBatchSize     = 200
)

// DefaultAPIVersions are the REST API versions the emulated org lists at
// GET /services/data/, oldest first.
var DefaultAPIVersions = func() []string {
	var vs []string
	for v := 31; v <= 67; v++ {
		vs = append(vs, strconv.Itoa(v)+".0")
	}
	return vs
}()

// Server is an emulated Salesforce org: an HTTP server that speaks the REST
// API (versions, describe, sObject rows, sObject Collections, SOQL query and
// queryAll with locators, getUpdated and getDeleted, limits) over an
// in-memory store seeded with Account, Contact, Lead, Opportunity and User,
// plus any custom objects and fields a test declares. See the package
// documentation for what it covers.
//
// A Server is safe for concurrent use.
type Server struct {
	// URL is the org's instance URL, such as http://127.0.0.1:54321, with
	// no trailing slash.
	URL string

	cfg      config
	store    *memstore.Store
	log      *emulator.Log
	faults   *emulator.Injector
	alloc    *emulator.Allocation
	handler  http.Handler
	listener net.Listener
	httpSrv  *httptest.Server
	closed   atomic.Bool

	orgID, userID string

	mu       sync.RWMutex
	objects  map[string]*object   // by lower-cased name
	names    []string             // object names in the order added
	prefixes map[string]*object   // by key prefix
	tokens   map[string]time.Time // access tokens and when they expire (zero: never)
	refresh  map[string]refreshGrant
	nextKey  int // next custom key prefix number

	// writeMu serialises writes, so that validation (of unique values, say)
	// and the store change together.
	writeMu sync.Mutex
	writeAt time.Time // the stamp of the store write under way

	locMu    sync.Mutex
	locators map[string]*locator
	locSeq   uint64

	reqSeq atomic.Uint64

	faultMu      sync.Mutex
	recordFaults []*recordFault

	bulkMu   sync.Mutex
	jobs     map[string]*bulkJob
	jobOrder []string
	jobSeq   uint64
}

type config struct {
	objects    []Object
	fields     map[string][]Field
	versions   []string
	daily      int64
	now        func() time.Time
	token      string
	locatorTTL time.Duration
	tls        bool
	addr       string
	logSize    int
	seed       uint64
	seeded     bool
	gate       int
	perSecond  float64
	apps       []ConnectedApp
	session    time.Duration
}

// Option configures a Server.
type Option func(*config)

// WithObject declares a custom object (its name ends in __c).
func WithObject(o Object) Option { return func(c *config) { c.objects = append(c.objects, o) } }

// WithFields adds fields, usually custom ones (__c), to a standard object or
// to a custom object declared with WithObject.
func WithFields(object string, fields ...Field) Option {
	return func(c *config) {
		if c.fields == nil {
			c.fields = map[string][]Field{}
		}
		key := strings.ToLower(object)
		c.fields[key] = append(c.fields[key], fields...)
	}
}

// WithAPIVersions sets the API versions the org lists (DefaultAPIVersions
// otherwise), such as "58.0"; a request to any other version is 404.
func WithAPIVersions(versions ...string) Option {
	return func(c *config) { c.versions = versions }
}

// WithDailyLimit sets the daily API allocation (DefaultDailyLimit
// otherwise); 0 means unlimited. Every REST call but GET /services/data/
// counts, and once the allocation is spent calls fail with 403
// REQUEST_LIMIT_EXCEEDED.
func WithDailyLimit(n int64) Option { return func(c *config) { c.daily = n } }

// WithClock sets the org's clock (time.Now otherwise): it stamps
// CreatedDate, LastModifiedDate and SystemModstamp, ages query locators, and
// moves the daily allocation's window. Moving it back before a write makes a
// row that "committed late", with a SystemModstamp older than rows already
// read.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithToken sets the access token the org accepts (a random one otherwise;
// see Server.Token).
func WithToken(token string) Option { return func(c *config) { c.token = token } }

// WithLocatorTTL sets how long an idle query locator lives
// (DefaultLocatorTTL otherwise); after that, queryMore gives 400
// INVALID_QUERY_LOCATOR.
func WithLocatorTTL(d time.Duration) Option { return func(c *config) { c.locatorTTL = d } }

// WithTLS serves HTTPS with a self-signed certificate; Server.Client trusts it.
func WithTLS() Option { return func(c *config) { c.tls = true } }

// WithAddr sets the address to listen on, such as "127.0.0.1:8081" (a free
// loopback port otherwise).
func WithAddr(addr string) Option { return func(c *config) { c.addr = addr } }

// WithLogSize sets how many requests the request log keeps (10000 otherwise).
func WithLogSize(n int) Option { return func(c *config) { c.logSize = n } }

// WithFaultSeed makes random faults repeatable.
func WithFaultSeed(seed uint64) Option { return func(c *config) { c.seed, c.seeded = seed, true } }

// WithConcurrencyLimit lets at most n requests run at once; the others get
// 403 REQUEST_LIMIT_EXCEEDED (ConcurrentPerOrgLongTxn Limit exceeded).
func WithConcurrencyLimit(n int) Option { return func(c *config) { c.gate = n } }

// WithRateLimit lets through at most perSecond requests a second; the
// others get 403 REQUEST_LIMIT_EXCEEDED. Real orgs have no such limit on
// REST calls; it is for rehearsing a throttled integration.
func WithRateLimit(perSecond float64) Option { return func(c *config) { c.perSecond = perSecond } }

// New starts an emulated org for a test and closes it when the test ends.
// It fails the test if the options are invalid.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := NewServer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// NewServer starts an emulated org, for use outside tests (see the crmkit
// emulate command). Close it when done.
func NewServer(opts ...Option) (*Server, error) {
	c := config{daily: DefaultDailyLimit, now: time.Now, locatorTTL: DefaultLocatorTTL, versions: DefaultAPIVersions}
	for _, o := range opts {
		o(&c)
	}
	switch {
	case c.now == nil:
		return nil, errors.New("salesforcetest: WithClock(nil): give a clock function, such as time.Now")
	case c.daily < 0:
		return nil, fmt.Errorf("salesforcetest: WithDailyLimit(%d): use 0 for unlimited or a positive number", c.daily)
	case len(c.versions) == 0:
		return nil, errors.New("salesforcetest: WithAPIVersions(): list at least one version, such as \"63.0\"")
	}
	for _, v := range c.versions {
		if _, err := strconv.ParseFloat(v, 64); err != nil || !strings.Contains(v, ".") {
			return nil, fmt.Errorf("salesforcetest: WithAPIVersions: %q is not a version like \"63.0\"", v)
		}
	}
	seen := map[string]bool{}
	for _, a := range c.apps {
		if a.ClientID == "" || seen[a.ClientID] {
			return nil, fmt.Errorf("salesforcetest: WithConnectedApp: each app needs its own non-empty ClientID (got %q)", a.ClientID)
		}
		seen[a.ClientID] = true
	}
	if c.session < 0 {
		return nil, fmt.Errorf("salesforcetest: WithSessionTimeout(%v): use 0 for none or a positive duration", c.session)
	}
	if c.locatorTTL <= 0 {
		c.locatorTTL = DefaultLocatorTTL
	}
	if c.token == "" {
		c.token = randomToken()
	}
	s := &Server{
		cfg:      c,
		log:      emulator.NewLog(c.logSize),
		objects:  map[string]*object{},
		prefixes: map[string]*object{},
		tokens:   map[string]time.Time{c.token: {}},
		refresh:  map[string]refreshGrant{},
		locators: map[string]*locator{},
		jobs:     map[string]*bulkJob{},
		orgID:    makeID("00D", 1),
		userID:   makeID("005", 1),
	}
	// The store stamps writes with the time the emulator chose for them.
	s.store = memstore.New(memstore.WithClock(func() time.Time { return s.writeAt }))
	s.alloc = emulator.NewAllocation(c.daily, emulator.WithClock(c.now))
	if c.seeded {
		s.faults = emulator.NewInjector(emulator.WithSeed(c.seed))
	} else {
		s.faults = emulator.NewInjector()
	}
	if err := s.setupObjects(); err != nil {
		return nil, err
	}
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return makeID("00D", 1)[:15] + "!" + hex.EncodeToString(b)
}

// now is the org's clock, to the millisecond, as Salesforce stores times.
func (s *Server) now() time.Time { return s.cfg.now().UTC().Truncate(time.Millisecond) }

func (s *Server) setupObjects() error {
	fields := map[string][]Field{}
	for k, v := range s.cfg.fields {
		fields[k] = v
	}
	decls := standardObjects()
	for _, d := range decls {
		key := strings.ToLower(d.Name)
		d.Fields = append(slices.Clone(d.Fields), fields[key]...)
		delete(fields, key)
		if err := s.addObject(d, true); err != nil {
			return err
		}
	}
	for _, d := range s.cfg.objects {
		key := strings.ToLower(d.Name)
		d.Fields = append(slices.Clone(d.Fields), fields[key]...)
		delete(fields, key)
		if err := s.addObject(d, false); err != nil {
			return err
		}
	}
	for k := range fields {
		return fmt.Errorf("salesforcetest: WithFields(%q): there is no such object; declare custom objects with WithObject", k)
	}
	// The integration user the access token belongs to.
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	stamp := s.stampFor(time.Time{})
	_, err := s.store.Create("User", crm.Fields{
		"Username": "integration@crmkit.example", "LastName": "Integration", "FirstName": "crmkit",
		"Name": "crmkit Integration", "Email": "integration@crmkit.example", "Alias": "crmkit",
		"CommunityNickname": "crmkit", "IsActive": true, "TimeZoneSidKey": "GMT", "LocaleSidKey": "en_US",
		"EmailEncodingKey": "UTF-8", "LanguageLocaleKey": "en_US", "ProfileId": makeID("00e", 1),
		"CreatedById": s.userID, "LastModifiedById": s.userID, "LastModifiedDate": stamp,
	}, memstore.AsSystem(), memstore.WithID(s.userID))
	if err != nil {
		return fmt.Errorf("salesforcetest: seeding the integration user: %w", err)
	}
	return nil
}

// AddObject declares a custom object while the server runs, as deploying
// one to an org does.
func (s *Server) AddObject(o Object) error { return s.addObject(o, false) }

func (s *Server) addObject(d Object, std bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.objects[strings.ToLower(d.Name)]; dup {
		return fmt.Errorf("salesforcetest: object %s is declared twice", d.Name)
	}
	o, err := compileObject(d, std)
	if err != nil {
		return err
	}
	if o.KeyPrefix == "" {
		for {
			p := fmt.Sprintf("a%02s", strconv.FormatInt(int64(s.nextKey), 36))
			s.nextKey++
			if _, taken := s.prefixes[p]; !taken {
				o.KeyPrefix = p
				break
			}
		}
	}
	if len(o.KeyPrefix) != 3 || !isAlnum(o.KeyPrefix) {
		return fmt.Errorf("salesforcetest: object %s has key prefix %q: use three letters or digits", d.Name, o.KeyPrefix)
	}
	if other, taken := s.prefixes[o.KeyPrefix]; taken {
		return fmt.Errorf("salesforcetest: objects %s and %s share the key prefix %s", other.Name, d.Name, o.KeyPrefix)
	}
	o.modified = s.now()
	prefix := o.KeyPrefix
	if err := s.store.AddTable(storeSchema(o), memstore.WithIDs(func(n uint64) string { return makeID(prefix, n) }),
		memstore.WithCreatedField("CreatedDate")); err != nil {
		return fmt.Errorf("salesforcetest: object %s: %w", d.Name, err)
	}
	s.objects[strings.ToLower(o.Name)] = o
	s.names = append(s.names, o.Name)
	s.prefixes[o.KeyPrefix] = o
	return nil
}

// storeSchema is how the store sees an object. The emulator checks
// Salesforce's rules itself (required fields, field access, null) and
// writes as the system, so the store keeps only types, lengths, restricted
// picklists and unique values.
func storeSchema(o *object) *crm.Schema {
	s := &crm.Schema{Object: o.Name, Label: o.Label, Custom: o.custom, IDField: "Id", ModifiedField: "SystemModstamp"}
	for _, f := range o.fields {
		if f.virtual {
			continue
		}
		cf := crm.Field{Name: f.Name, Type: f.crmType, Nillable: f.Type != "id", Createable: true, Updateable: true, Unique: f.Unique}
		if isText(f.Type) && f.Type != "picklist" && f.Type != "multipicklist" {
			cf.Length = f.Length
		}
		if (f.Type == "picklist" || f.Type == "multipicklist") && !f.Unrestricted {
			for _, v := range f.Picklist {
				cf.Picklist = append(cf.Picklist, crm.PicklistValue{Value: v, Label: v, Active: true})
			}
		}
		s.Fields = append(s.Fields, cf)
	}
	return s
}

func (s *Server) object(name string) (*object, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	o, ok := s.objects[strings.ToLower(name)]
	return o, ok
}

func (s *Server) objectByPrefix(id string) (*object, bool) {
	if len(id) < 3 {
		return nil, false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	o, ok := s.prefixes[id[:3]]
	return o, ok
}

func (s *Server) objectList() []*object {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*object, 0, len(s.names))
	for _, n := range s.names {
		out = append(out, s.objects[strings.ToLower(n)])
	}
	return out
}

func (s *Server) start() error {
	core := http.HandlerFunc(s.serve)
	reject := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeErrors(w, http.StatusForbidden, apiError{Code: "REQUEST_LIMIT_EXCEEDED", Message: "ConcurrentPerOrgLongTxn Limit exceeded."})
	})
	var h http.Handler = core
	h = emulator.RateLimit(rate.Limit(s.cfg.perSecond), 1, reject, h)
	h = emulator.Gate(s.cfg.gate, reject, h)
	h = s.faults.Middleware(routeOf, h)
	h = s.requestIDs(h)
	h = s.log.Middleware(routeOf, h)
	s.handler = h

	addr := s.cfg.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("salesforcetest: listening on %s: %w", addr, err)
	}
	s.listener = l
	hs := &httptest.Server{Listener: l, Config: &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}}
	if s.cfg.tls {
		hs.StartTLS()
	} else {
		hs.Start()
	}
	s.httpSrv = hs
	s.URL = hs.URL
	return nil
}

// Handler returns the org's HTTP handler, to mount it in another server.
func (s *Server) Handler() http.Handler { return s.handler }

// Client returns an HTTP client that trusts the server's certificate (with
// WithTLS). It adds no credentials: give the adapter Server.TokenSource.
func (s *Server) Client() *http.Client { return s.httpSrv.Client() }

// Close stops the server, releasing requests held by injected faults.
func (s *Server) Close() {
	if s.closed.Swap(true) {
		return
	}
	s.faults.Stop()
	s.httpSrv.CloseClientConnections()
	s.httpSrv.Close()
}

// Token returns the access token the org accepts.
func (s *Server) Token() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cfg.token
}

// TokenSource returns a token source that hands out the org's current
// access token (Server.Token), with the instance URL in its "instance_url"
// extra, as Salesforce's token endpoint returns it.
func (s *Server) TokenSource() oauth2.TokenSource {
	return tokenSource{s}
}

type tokenSource struct{ s *Server }

func (ts tokenSource) Token() (*oauth2.Token, error) {
	t := &oauth2.Token{AccessToken: ts.s.Token(), TokenType: "Bearer"}
	return t.WithExtra(map[string]any{"instance_url": ts.s.URL}), nil
}

// IssueToken makes a new access token, accepted from now on, and makes it
// the one Token and TokenSource hand out. The old tokens stay valid until
// revoked.
func (s *Server) IssueToken() string {
	tok := randomToken()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[tok] = time.Time{}
	s.cfg.token = tok
	return tok
}

// RevokeToken makes a token invalid: requests with it get 401
// INVALID_SESSION_ID, as after a session timeout or a revoke.
func (s *Server) RevokeToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, token)
}

// ExpireSession revokes the current token and issues a new one, which
// TokenSource hands out from then on: the next request with the old token
// gets 401 INVALID_SESSION_ID, and a client that fetches a new token
// recovers.
func (s *Server) ExpireSession() {
	old := s.Token()
	s.IssueToken()
	s.RevokeToken(old)
}

func (s *Server) validToken(tok string) bool {
	s.mu.RLock()
	exp, ok := s.tokens[tok]
	s.mu.RUnlock()
	return ok && tok != "" && (exp.IsZero() || s.now().Before(exp))
}

// UserID returns the id of the integration user that every write is made
// as (CreatedById, LastModifiedById, the default OwnerId).
func (s *Server) UserID() string { return s.userID }

// OrgID returns the emulated org's id.
func (s *Server) OrgID() string { return s.orgID }

// Requests returns the requests served, oldest first (the last 10000, or
// as WithLogSize says). Authorization headers are redacted.
func (s *Server) Requests() []Request { return s.log.Entries() }

// Count returns how many requests a route has served, such as
// "collections.upsert"; see the package documentation for the route names.
func (s *Server) Count(route string) int { return s.log.Count(route) }

// Total returns how many requests the server has served since the last
// ResetLog.
func (s *Server) Total() int { return s.log.Total() }

// Counts returns the number of requests served, by route.
func (s *Server) Counts() map[string]int { return s.log.Counts() }

// ResetLog forgets the requests served so far, so that a test can measure
// one step.
func (s *Server) ResetLog() { s.log.Reset() }

// DailyUsage returns the API calls counted in the last 24 hours and the
// daily allocation (0 for unlimited).
func (s *Server) DailyUsage() (used, max int64) { return s.alloc.Usage() }

// SetDailyUsage sets the calls counted against the daily allocation, so a
// test can start near the limit or past it.
func (s *Server) SetDailyUsage(used int64) { s.alloc.SetUsed(used) }

// SetDailyLimit changes the daily allocation; 0 means unlimited.
func (s *Server) SetDailyLimit(max int64) { s.alloc.SetMax(max) }

// Request is one request the server served.
type Request = emulator.Entry

// Fault is a way to break requests; see Inject.
type Fault = emulator.Fault

// FaultRule says which requests get which faults; see InjectRule.
type FaultRule = emulator.Rule

// StatusFault answers with an HTTP status and a Salesforce error body
// [{"message":...,"errorCode":...}], such as StatusFault(503,
// "SERVER_UNAVAILABLE", "Service Unavailable").
func StatusFault(status int, errorCode, message string) Fault {
	body := encodeErrors([]apiError{{Code: errorCode, Message: message}})
	h := http.Header{"Content-Type": {jsonContentType}}
	return emulator.Status(status, h, body)
}

// Unavailable is a 503 with Salesforce's SERVER_UNAVAILABLE body.
func Unavailable() Fault {
	return StatusFault(http.StatusServiceUnavailable, "SERVER_UNAVAILABLE", "Server Unavailable")
}

// ServerError is a 500 with Salesforce's UNKNOWN_EXCEPTION body.
func ServerError() Fault {
	return StatusFault(http.StatusInternalServerError, "UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include this ErrorId if you contact support: 1234567890-12345 (-1234567890)")
}

// TooManyRequests is a 429 with a Retry-After, which core Salesforce REST
// does not send but gateways in front of it can.
func TooManyRequests(retryAfter time.Duration) Fault {
	f := StatusFault(http.StatusTooManyRequests, "REQUEST_LIMIT_EXCEEDED", "Too many requests")
	f.Header.Set("Retry-After", strconv.Itoa(int(retryAfter.Seconds())))
	return f
}

// Timeout holds a request until the client gives up.
func Timeout() Fault { return emulator.Timeout() }

// ConnectionReset cuts the connection with a TCP reset.
func ConnectionReset() Fault { return emulator.Reset() }

// Slow delays a response by d.
func Slow(d time.Duration) Fault { return emulator.Slow(d) }

// Inject breaks the next times requests of route ("" for any route) with
// f; times 0 breaks every one until ClearFaults. Use f.AfterWork() to break
// the answer after the write happened.
func (s *Server) Inject(route string, times int, f Fault) { s.faults.Inject(route, times, f) }

// InjectRandom breaks each request of route ("" for any) with probability
// p, with one of faults chosen at random.
func (s *Server) InjectRandom(route string, p float64, faults ...Fault) {
	s.faults.Random(route, p, faults...)
}

// InjectRule adds a fault rule.
func (s *Server) InjectRule(r FaultRule) { s.faults.Add(r) }

// ClearFaults removes every fault rule, record faults included.
func (s *Server) ClearFaults() {
	s.faults.Clear()
	s.faultMu.Lock()
	s.recordFaults = nil
	s.faultMu.Unlock()
}

// RecordFault fails records of sObject Collections writes with a DML error
// instead of writing them, as a real org does under row-lock contention
// (UNABLE_TO_LOCK_ROW) or with a failing trigger: the call succeeds and the
// chosen records come back with success false.
type RecordFault struct {
	// Route is the Collections route ("collections.create", ".update",
	// ".upsert", ".delete"); "" means all of them.
	Route string
	// Every fails every n-th record the rule sees (1 or 0: each one).
	Every int
	// Times is how many records to fail before the rule is spent; 0 means
	// no limit.
	Times int
	// Code, Message and Fields make the record's error; Code defaults to
	// UNABLE_TO_LOCK_ROW.
	Code    string
	Message string
	Fields  []string
}

type recordFault struct {
	RecordFault
	seen, hits int
}

// InjectRecordFault adds a rule that fails records of Collections writes.
func (s *Server) InjectRecordFault(f RecordFault) {
	if f.Code == "" {
		f.Code = "UNABLE_TO_LOCK_ROW"
		if f.Message == "" {
			f.Message = "unable to obtain exclusive access to this record or 1 records"
		}
	}
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.recordFaults = append(s.recordFaults, &recordFault{RecordFault: f})
}

// recordFault decides whether the next record of a route fails.
func (s *Server) recordFault(route string) *writeError {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	for _, f := range s.recordFaults {
		if (f.Route != "" && f.Route != route) || (f.Times > 0 && f.hits >= f.Times) {
			continue
		}
		f.seen++
		if f.Every > 1 && f.seen%f.Every != 0 {
			continue
		}
		f.hits++
		return &writeError{errs: []apiError{{Code: f.Code, Message: f.Message, Fields: f.Fields}}}
	}
	return nil
}

// Seed writes records as the org itself, for fixtures: no API calls are
// counted, read-only fields (CreatedDate, SystemModstamp aside) may be set,
// and required fields may be left out. It returns the new ids.
func (s *Server) Seed(object string, records ...crm.Fields) ([]string, error) {
	o, ok := s.object(object)
	if !ok {
		return nil, fmt.Errorf("salesforcetest: Seed: there is no object %q", object)
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	ids := make([]string, 0, len(records))
	for i, in := range records {
		vals := crm.Fields{}
		for k, v := range in {
			f, ok := o.field(k)
			if !ok || f.virtual {
				return ids, fmt.Errorf("salesforcetest: Seed %s record %d: no field %q", o.Name, i, k)
			}
			vals[f.Name] = v
		}
		s.fillCreate(o, vals)
		rec, err := s.store.Create(o.Name, vals, memstore.AsSystem())
		if err != nil {
			return ids, fmt.Errorf("salesforcetest: Seed %s record %d: %w", o.Name, i, err)
		}
		ids = append(ids, rec.ID)
	}
	return ids, nil
}

// LoadSeed seeds the org from JSON, as a standalone emulator does from a
// file: an object of object names to arrays of records, such as
// {"Account":[{"Name":"Acme","AnnualRevenue":1000000}],"Contact":[...]}.
// Values are written as Salesforce's JSON writes them (date-times as
// 2024-01-02T03:04:05.000+0000 or RFC 3339, multi-select picklists as
// "a;b"). Objects are seeded in the order they appear.
func (s *Server) LoadSeed(r io.Reader) error {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return fmt.Errorf("salesforcetest: LoadSeed: the seed is not a JSON object of object names to record arrays")
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return fmt.Errorf("salesforcetest: LoadSeed: %w", err)
		}
		object, _ := key.(string)
		var recs []map[string]any
		if err := dec.Decode(&recs); err != nil {
			return fmt.Errorf("salesforcetest: LoadSeed %s: want an array of records: %w", object, err)
		}
		fields := make([]crm.Fields, len(recs))
		for i, rec := range recs {
			fields[i] = crm.Fields(rec)
			delete(fields[i], "attributes")
		}
		if _, err := s.Seed(object, fields...); err != nil {
			return err
		}
	}
	return nil
}

// Get returns a record's stored fields, deleted ones included, for test
// assertions; ok is false when there is no such record.
func (s *Server) Get(object, id string) (fields crm.Fields, deleted bool, ok bool) {
	o, found := s.object(object)
	if !found {
		return nil, false, false
	}
	rec, found := s.lookup(o, id)
	if !found {
		return nil, false, false
	}
	return rec.Fields, rec.Deleted, true
}

// lookup finds a record by id, deleted ones included.
func (s *Server) lookup(o *object, id string) (*memstore.Record, bool) {
	if r, err := s.store.Get(o.Name, id, nil); err == nil {
		return r, true
	}
	res, err := s.store.Query(memstore.Query{Object: o.Name, Where: crm.Eq("Id", id), IncludeDeleted: true, Limit: 1})
	if err != nil || len(res.Records) == 0 || res.Records[0].ID != id {
		return nil, false
	}
	return res.Records[0], true
}
