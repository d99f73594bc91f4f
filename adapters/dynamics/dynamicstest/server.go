package dynamicstest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/emulator"
	"github.com/crmkit/crmkit/internal/memstore"
)

// APIPath is the path of the Web API, under the environment URL.
const APIPath = "/api/data/v9.2/"

// maxBody caps a request body; a $batch of 1000 operations fits easily.
const maxBody = 64 << 20

// Server is an emulated Dataverse environment serving the Web API v9.2
// over HTTP. Build one with [New] inside a test or [NewServer] outside one.
// It is safe for concurrent use.
type Server struct {
	// URL is the environment URL, such as http://127.0.0.1:41234: what a
	// real environment's https://org.crm.dynamics.com is. The Web API is at
	// URL + APIPath.
	URL string

	env     *env
	ts      *httptest.Server
	handler http.Handler
	log     *emulator.Log
	faults  *emulator.Injector
	prot    *protector
	token   string
	entra   *entra // the Entra tenant of WithEntra, or nil
}

// Option configures a Server.
type Option func(*config)

type config struct {
	tables     []Table
	tracked    []string
	now        func() time.Time
	token      string
	protection ServiceProtection
	addr       string
	logSize    int
	maxPage    int
	entra      *entraConfig
}

// WithTables declares tables in addition to [SeedTables]; a table with the
// logical name of a seed table replaces it.
func WithTables(tables ...Table) Option {
	return func(c *config) {
		for _, t := range tables {
			replaced := false
			for i := range c.tables {
				if c.tables[i].LogicalName == t.LogicalName {
					c.tables[i], replaced = t, true
				}
			}
			if !replaced {
				c.tables = append(c.tables, t)
			}
		}
	}
}

// WithOnlyTables replaces the seed tables with tables. A systemuser table is
// needed for WhoAmI and for acting on behalf of users; without one, those
// fail.
func WithOnlyTables(tables ...Table) Option {
	return func(c *config) { c.tables = append([]Table(nil), tables...) }
}

// WithChangeTracking turns change tracking on for the named tables.
func WithChangeTracking(logicalNames ...string) Option {
	return func(c *config) { c.tracked = append(c.tracked, logicalNames...) }
}

// WithClock sets the clock that stamps createdon and modifiedon and runs the
// service protection windows (time.Now by default). Times are kept to the
// second, as the Web API reports them.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithBearerToken makes the server require "Authorization: Bearer token" on
// every request, answering 401 otherwise, as Dataverse does for a missing
// or expired token. Without it any request is served.
func WithBearerToken(token string) Option { return func(c *config) { c.token = token } }

// WithServiceProtection sets the service protection limits (see
// [ServiceProtection]); by default they are Dataverse's.
func WithServiceProtection(p ServiceProtection) Option { return func(c *config) { c.protection = p } }

// WithAddr sets the address NewServer listens on ("127.0.0.1:0" by
// default: a free loopback port).
func WithAddr(addr string) Option { return func(c *config) { c.addr = addr } }

// WithLogSize sets how many requests the request log keeps (10000 by
// default); its counters count every request.
func WithLogSize(n int) Option { return func(c *config) { c.logSize = n } }

// WithMaxPageSize lowers the largest page the server returns (5000 by
// default, as Dataverse): a query without Prefer: odata.maxpagesize gets
// pages of this size.
func WithMaxPageSize(n int) Option { return func(c *config) { c.maxPage = n } }

// New starts a Server for the duration of a test; it is closed when the
// test ends. A bad option fails the test.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := build(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.ts = httptest.NewServer(s.handler)
	s.URL = s.ts.URL
	if s.entra != nil {
		s.entra.start(s)
	}
	t.Cleanup(s.Close)
	return s
}

// NewServer starts a Server outside a test, on the address of [WithAddr]
// (a free loopback port by default), for standalone use by clients in any
// language. Close it when done.
func NewServer(opts ...Option) (*Server, error) {
	s, err := build(opts)
	if err != nil {
		return nil, err
	}
	c := config{addr: "127.0.0.1:0"}
	for _, o := range opts {
		o(&c)
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return nil, fmt.Errorf("dynamicstest: listening on %s: %w", c.addr, err)
	}
	s.ts = &httptest.Server{Listener: ln, Config: &http.Server{Handler: s.handler, ReadHeaderTimeout: 30 * time.Second}}
	s.ts.Start()
	s.URL = s.ts.URL
	if s.entra != nil {
		s.entra.start(s)
	}
	return s, nil
}

func build(opts []Option) (*Server, error) {
	c := config{tables: SeedTables(), now: time.Now, maxPage: 5000}
	for _, o := range opts {
		o(&c)
	}
	if c.now == nil {
		return nil, errors.New("dynamicstest: WithClock(nil): give a clock, such as time.Now")
	}
	if c.maxPage < 1 || c.maxPage > 5000 {
		return nil, fmt.Errorf("dynamicstest: WithMaxPageSize(%d): want 1 to 5000", c.maxPage)
	}
	e, err := newEnv(&c)
	if err != nil {
		return nil, err
	}
	e.maxPage = c.maxPage
	s := &Server{
		env:    e,
		log:    emulator.NewLog(c.logSize),
		faults: emulator.NewInjector(),
		prot:   newProtector(c.protection),
		token:  c.token,
	}
	if c.entra != nil {
		if s.entra, err = newEntra(&c, func() string { return s.URL }, e.appObject); err != nil {
			return nil, err
		}
	}
	core := http.HandlerFunc(s.serve)
	s.handler = s.log.Middleware(route, s.faults.Middleware(route, core))
	return s, nil
}

// Close shuts the server down, releasing requests held by faults first.
func (s *Server) Close() {
	s.faults.Stop()
	if s.ts != nil {
		s.ts.Close()
	}
	if s.entra != nil {
		s.entra.close()
	}
}

// APIURL returns the Web API's base URL, URL + APIPath.
func (s *Server) APIURL() string { return s.URL + APIPath }

// Client returns an HTTP client that reaches the server over its loopback
// socket.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Transport returns a RoundTripper that serves requests in-process, through
// the same handler, without a socket: for tests in a testing/synctest
// bubble, where real network waits would stop the fake clock. A reset or
// timeout fault gives the round trip an error, as a cut connection does.
func (s *Server) Transport() http.RoundTripper { return inProcess{h: s.handler} }

// Handler returns the server's HTTP handler, to mount elsewhere.
func (s *Server) Handler() http.Handler { return s.handler }

// Log returns the request log: every request with its route ("query",
// "retrieve", "create", "update", "delete", "batch", "metadata", ...),
// status and headers (credentials redacted), and counters by route.
func (s *Server) Log() *emulator.Log { return s.log }

// Faults returns the fault injector: aim faults at routes, such as
// s.Faults().Inject("batch", 1, dynamicstest.Throttle(dynamicstest.CodeRequests, 2*time.Second)).
func (s *Server) Faults() *emulator.Injector { return s.faults }

// ApplicationUserID returns the systemuserid of the application user that
// requests act as, unless they act on behalf of another user.
func (s *Server) ApplicationUserID() string { return s.env.appUserID }

// AddUser adds a systemuser with the given Entra object id, for tests of
// acting on behalf of a user (CallerObjectId), and returns its systemuserid.
func (s *Server) AddUser(fullName, entraObjectID string) (string, error) {
	s.env.mu.Lock()
	defer s.env.mu.Unlock()
	rec, err := s.env.store.Create("systemuser", crm.Fields{"fullname": fullName, "azureactivedirectoryobjectid": strings.ToLower(entraObjectID), "isdisabled": false}, memstore.AsSystem())
	if err != nil {
		return "", err
	}
	return rec.ID, nil
}

// Seed writes records into a table as the system would (no API call, no
// request counted), with values as Dataverse JSON carries them: option sets
// as numbers, lookups as GUIDs under their logical names. It returns the new
// ids and stops at the first bad record.
func (s *Server) Seed(logicalName string, records ...map[string]any) ([]string, error) {
	t := s.env.byName[strings.ToLower(logicalName)]
	if t == nil {
		return nil, fmt.Errorf("dynamicstest: Seed: there is no table %q", logicalName)
	}
	var ids []string
	for i, r := range records {
		raw, err := json.Marshal(r)
		if err != nil {
			return ids, fmt.Errorf("dynamicstest: Seed %s record %d: %w", logicalName, i, err)
		}
		fields := crm.Fields{}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			return ids, err
		}
		for k, v := range m {
			a := t.attr(k)
			if a == nil {
				return ids, fmt.Errorf("dynamicstest: Seed %s record %d: no column %q", logicalName, i, k)
			}
			if a.isLookup() {
				fields[a.LogicalName] = v
				continue
			}
			val, aerr := a.fromJSON(v)
			if aerr != nil {
				return ids, fmt.Errorf("dynamicstest: Seed %s record %d: %s", logicalName, i, aerr.message)
			}
			fields[a.LogicalName] = val
		}
		s.env.mu.Lock()
		rec, err := s.env.store.Create(t.LogicalName, fields, memstore.AsSystem())
		s.env.mu.Unlock()
		if err != nil {
			return ids, fmt.Errorf("dynamicstest: Seed %s record %d: %w", logicalName, i, err)
		}
		ids = append(ids, rec.ID)
	}
	return ids, nil
}

// Len returns the number of live rows in a table.
func (s *Server) Len(logicalName string) (int, error) { return s.env.store.Len(logicalName) }

// ErrorFault returns a fault that answers with status and Dataverse's error
// body {"error":{"code":code,"message":message}}.
func ErrorFault(status int, code, message string) emulator.Fault {
	id := newGUID()
	h := http.Header{"Content-Type": {"application/json; odata.metadata=minimal"}, "OData-Version": {"4.0"}, "REQ_ID": {id}, "x-ms-service-request-id": {id}}
	return emulator.Status(status, h, errorBody(code, message))
}

// Throttle returns a fault that answers 429 Too Many Requests with
// Retry-After and the service protection error of code: "0x80072322"
// (number of requests), "0x80072321" (execution time) or "0x80072326"
// (concurrent requests).
func Throttle(code string, retryAfter time.Duration) emulator.Fault {
	f := ErrorFault(http.StatusTooManyRequests, code, protectionMessage(code, ServiceProtection{}.withDefaults()))
	f.Header.Set("Retry-After", strconv.Itoa(int((retryAfter+time.Second-1)/time.Second)))
	return f
}

// The service protection error codes, for [Throttle].
const (
	CodeRequests      = codeRequests
	CodeExecutionTime = codeExecutionTime
	CodeConcurrency   = codeConcurrency
)

func errorBody(code, message string) []byte {
	b, _ := json.Marshal(map[string]map[string]string{"error": {"code": code, "message": message}})
	return b
}

// route names what a request does, for the log and the fault injector.
func route(r *http.Request) string {
	p := r.URL.EscapedPath()
	if !strings.HasPrefix(p, APIPath) {
		return "unknown"
	}
	rel := strings.TrimPrefix(p, APIPath)
	first, rest, _ := strings.Cut(rel, "/")
	name, _, hasKey, _ := splitSegment(first)
	switch {
	case rel == "":
		return "service"
	case rel == "$batch":
		return "batch"
	case rel == "$metadata":
		return "metadata"
	case name == "EntityDefinitions" || name == "GlobalOptionSetDefinitions" || name == "RelationshipDefinitions":
		return "entitydefinitions"
	case name == "WhoAmI" || name == "WhoAmI()":
		return "whoami"
	case rest == "$count":
		return "count"
	}
	switch r.Method {
	case http.MethodGet:
		if !hasKey {
			if r.URL.Query().Has("$deltatoken") {
				return "delta"
			}
			return "query"
		}
		return "retrieve"
	case http.MethodPost:
		return "create"
	case http.MethodPatch:
		return "update"
	case http.MethodDelete:
		return "delete"
	}
	return "unknown"
}

// serve is the core handler: authentication, service protection, then the
// Web API itself.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	reqID := newGUID()
	h.Set("REQ_ID", reqID)
	h.Set("x-ms-service-request-id", reqID)
	h.Set("OData-Version", "4.0")
	write := func(resp *response) {
		for k, vs := range resp.header {
			h[k] = vs
		}
		if len(resp.body) > 0 && h.Get("Content-Type") == "" {
			h.Set("Content-Type", "application/json; odata.metadata=minimal")
		}
		spellHeaders(h)
		w.WriteHeader(resp.status)
		_, _ = w.Write(resp.body)
	}
	if (s.token != "" || s.entra != nil) && !s.authorized(r) {
		h.Set("WWW-Authenticate", `Bearer authorization_uri=`+s.authorizationURI()+`, resource_id=`+s.URL)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if !strings.HasPrefix(r.URL.EscapedPath(), APIPath) {
		write(errResponse(&apiError{status: http.StatusNotFound, code: codeHTTP, message: fmt.Sprintf("Resource not found for the segment '%s'.", strings.TrimPrefix(r.URL.Path, "/"))}))
		return
	}
	user := r.Header.Get("Authorization")
	release, aerr := s.prot.begin(user, s.env.now())
	if aerr != nil {
		s.prot.headers(h, user, s.env.now())
		write(errResponse(aerr))
		return
	}
	start := s.env.now()
	defer func() { release(s.env.now().Sub(start)) }()
	s.prot.headers(h, user, s.env.now())

	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		write(errResponse(errBadRequest("The request body could not be read.")))
		return
	}
	if len(body) > maxBody {
		write(errResponse(&apiError{status: http.StatusRequestEntityTooLarge, code: codeHTTP, message: "The request body is too large."}))
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	base := scheme + "://" + r.Host + APIPath
	caller, aerr := s.caller(r)
	if aerr != nil {
		write(errResponse(aerr))
		return
	}
	o := &request{
		ctx:    r.Context(),
		method: r.Method,
		path:   strings.TrimPrefix(r.URL.EscapedPath(), APIPath),
		query:  r.URL.RawQuery,
		header: r.Header,
		body:   body,
		base:   base,
		caller: caller,
	}
	if o.path == "$batch" && r.Method == http.MethodPost {
		write(s.env.batch(o))
		return
	}
	write(s.env.serve(o))
}

// wireSpelling is how Dataverse spells the headers whose canonical Go form
// differs; clients match header names without regard to case, but the
// emulator sends them as the service does.
var wireSpelling = map[string]string{
	"Odata-Version":  "OData-Version",
	"Odata-Entityid": "OData-EntityId",
	"Etag":           "ETag",
	"Req_id":         "REQ_ID",
}

func spellHeaders(h http.Header) {
	for canon, wire := range wireSpelling {
		if vs, ok := h[canon]; ok {
			delete(h, canon)
			h[wire] = vs
		}
	}
}

// codeNotMember is Dataverse's answer (403) to a signed-in user who is not
// a systemuser of the environment: "The user is not a member of the
// organization."
const codeNotMember = "0x80072560"

// caller finds the systemuser a request acts as: the one its
// CallerObjectId or MSCRMCallerID header names; else, for a delegated
// token of the Entra tenant, the signed-in user, as Dataverse does; else
// the application user.
func (s *Server) caller(r *http.Request) (string, *apiError) {
	if strings.TrimSpace(r.Header.Get("CallerObjectId")) == "" && strings.TrimSpace(r.Header.Get("MSCRMCallerID")) == "" {
		if oid, ok := s.delegatedObjectID(r); ok {
			return s.env.signedInUser(oid)
		}
	}
	return s.env.caller(r.Header)
}

// delegatedObjectID returns the oid of the request's bearer token when it
// is a delegated token (idtyp "user") the Entra tenant issued and that is
// still valid.
func (s *Server) delegatedObjectID(r *http.Request) (string, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if s.entra == nil || !ok || !s.entra.validToken(tok) {
		return "", false
	}
	parts := strings.Split(tok, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c accessClaims
	if err != nil || json.Unmarshal(payload, &c) != nil || c.IDType != "user" || !guidRE.MatchString(c.Oid) {
		return "", false
	}
	return strings.ToLower(c.Oid), true
}

// signedInUser is the systemuser a delegated token with object id oid acts
// as. An environment without a systemuser table has no users to check
// against, so the request acts as no one, as app-only ones do there.
func (e *env) signedInUser(oid string) (string, *apiError) {
	if e.byName["systemuser"] == nil {
		return "", nil
	}
	if id, ok := e.userByObjectID(oid); ok {
		return id, nil
	}
	return "", &apiError{status: http.StatusForbidden, code: codeNotMember, message: "The user is not a member of the organization."}
}

// userByObjectID finds the systemuser whose azureactivedirectoryobjectid
// is oid (a GUID, in any case).
func (e *env) userByObjectID(oid string) (string, bool) {
	res, err := e.store.Query(memstore.Query{Object: "systemuser", Where: crm.Eq("azureactivedirectoryobjectid", strings.ToLower(oid)), Limit: 1})
	if err != nil || len(res.Records) == 0 {
		return "", false
	}
	return res.Records[0].ID, true
}

// caller finds the systemuser a request acts as by its headers: the one
// named by CallerObjectId (an Entra object id) or MSCRMCallerID (a
// systemuserid), else the application user.
func (e *env) caller(h http.Header) (string, *apiError) {
	forbid := func(msg string) *apiError {
		return &apiError{status: http.StatusForbidden, code: codePrivilege, message: msg}
	}
	if oid := strings.TrimSpace(h.Get("CallerObjectId")); oid != "" {
		if !guidRE.MatchString(oid) {
			return "", errBadRequest(fmt.Sprintf("The CallerObjectId header value '%s' is not a GUID.", clipText(oid)))
		}
		if e.byName["systemuser"] == nil {
			return "", forbid("There is no systemuser table to find the caller in.")
		}
		id, ok := e.userByObjectID(oid)
		if !ok {
			return "", forbid(fmt.Sprintf("No systemuser has azureactivedirectoryobjectid %s: add the user to the environment before acting on their behalf.", strings.ToLower(oid)))
		}
		return id, nil
	}
	if id := strings.TrimSpace(h.Get("MSCRMCallerID")); id != "" {
		if !guidRE.MatchString(id) {
			return "", errBadRequest(fmt.Sprintf("The MSCRMCallerID header value '%s' is not a GUID.", clipText(id)))
		}
		if _, err := e.store.Get("systemuser", strings.ToLower(id), []string{"systemuserid"}); err != nil {
			return "", forbid(fmt.Sprintf("systemuser With Id = %s Does Not Exist", strings.ToLower(id)))
		}
		return strings.ToLower(id), nil
	}
	return e.appUserID, nil
}

// request is one Web API request, from the socket or from a $batch part.
type request struct {
	ctx    context.Context
	method string
	path   string // escaped, relative to the API base: "accounts(…)"
	query  string // raw query
	header http.Header
	body   []byte
	base   string // absolute API base URL, from the host the client used
	caller string // the systemuserid the request acts as
	cs     *changeSet
}

// response is one Web API response.
type response struct {
	status int
	header http.Header
	body   []byte
}

func errResponse(e *apiError) *response {
	h := http.Header{"Content-Type": {"application/json; odata.metadata=minimal"}}
	for k, vs := range e.header {
		h[k] = vs
	}
	return &response{status: e.status, header: h, body: errorBody(e.code, e.message)}
}

func jsonResponse(status int, v any) *response {
	b, err := json.Marshal(v)
	if err != nil {
		return errResponse(&apiError{status: 500, code: codeUnexpected, message: "An unexpected error occurred."})
	}
	return &response{status: status, header: http.Header{"Content-Type": {"application/json; odata.metadata=minimal"}}, body: b}
}

// inProcess serves requests by calling the handler directly.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(req *http.Request) (resp *http.Response, err error) {
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sreq := req.Clone(ctx)
	sreq.RequestURI = req.URL.RequestURI()
	sreq.RemoteAddr = "127.0.0.1:1"
	sreq.Host = req.URL.Host
	if req.Body == nil {
		sreq.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	defer func() {
		if r := recover(); r != nil {
			if r != http.ErrAbortHandler {
				panic(r)
			}
			resp = nil
			if err = ctx.Err(); err == nil {
				err = &url.Error{Op: req.Method, URL: req.URL.String(), Err: errors.New("connection reset by peer (emulated)")}
			}
		}
	}()
	t.h.ServeHTTP(rec, sreq)
	resp = rec.Result()
	resp.Request = req
	return resp, nil
}

// ServiceProtection is the emulator's version of Dataverse's service
// protection limits, counted per caller (per Authorization header) over a
// sliding window. Zero fields take Dataverse's values; a negative field
// turns that limit off.
type ServiceProtection struct {
	// Requests is the most requests per Window (6000); a $batch counts once.
	Requests int
	// Window is the sliding window (300 seconds).
	Window time.Duration
	// ExecutionTime is the most combined handling time per Window (20
	// minutes).
	ExecutionTime time.Duration
	// Concurrent is the most requests in flight at once (52).
	Concurrent int
}

func (p ServiceProtection) withDefaults() ServiceProtection {
	if p.Requests == 0 {
		p.Requests = 6000
	}
	if p.Window <= 0 {
		p.Window = 300 * time.Second
	}
	if p.ExecutionTime == 0 {
		p.ExecutionTime = 20 * time.Minute
	}
	if p.Concurrent == 0 {
		p.Concurrent = 52
	}
	return p
}

func protectionMessage(code string, p ServiceProtection) string {
	switch code {
	case codeRequests:
		return fmt.Sprintf("Number of requests exceeded the limit of %d over time window of %d seconds.", p.Requests, int(p.Window/time.Second))
	case codeExecutionTime:
		return fmt.Sprintf("Combined execution time of incoming requests exceeded limit of %d milliseconds over time window of %d seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.", p.ExecutionTime.Milliseconds(), int(p.Window/time.Second))
	case codeConcurrency:
		return fmt.Sprintf("Number of concurrent requests exceeded the limit of %d.", p.Concurrent)
	}
	return "Too many requests."
}

type protector struct {
	mu    sync.Mutex
	cfg   ServiceProtection
	users map[string]*usage
}

type usage struct {
	starts   []time.Time // request starts within the window, oldest first
	execs    []execSpan
	inflight int
}

type execSpan struct {
	at time.Time
	d  time.Duration
}

func newProtector(p ServiceProtection) *protector {
	return &protector{cfg: p.withDefaults(), users: map[string]*usage{}}
}

func (p *protector) usageLocked(user string, now time.Time) *usage {
	u := p.users[user]
	if u == nil {
		u = &usage{}
		p.users[user] = u
	}
	cut := now.Add(-p.cfg.Window)
	i := 0
	for i < len(u.starts) && !u.starts[i].After(cut) {
		i++
	}
	u.starts = u.starts[i:]
	j := 0
	for j < len(u.execs) && !u.execs[j].at.After(cut) {
		j++
	}
	u.execs = u.execs[j:]
	return u
}

func (u *usage) execTotal() time.Duration {
	var d time.Duration
	for _, e := range u.execs {
		d += e.d
	}
	return d
}

// begin counts a request, or refuses it with a 429. release must be called with the request's handling time once it is served.
func (p *protector) begin(user string, now time.Time) (release func(time.Duration), _ *apiError) {
	p.mu.Lock()
	defer p.mu.Unlock()
	u := p.usageLocked(user, now)
	refuse := func(code string, wait time.Duration) *apiError {
		secs := max(int((wait+time.Second-1)/time.Second), 1)
		return &apiError{status: http.StatusTooManyRequests, code: code, message: protectionMessage(code, p.cfg),
			header: http.Header{"Retry-After": {strconv.Itoa(secs)}}}
	}
	if p.cfg.Concurrent > 0 && u.inflight >= p.cfg.Concurrent {
		return nil, refuse(codeConcurrency, time.Second)
	}
	if p.cfg.Requests > 0 && len(u.starts) >= p.cfg.Requests {
		return nil, refuse(codeRequests, u.starts[len(u.starts)-p.cfg.Requests].Add(p.cfg.Window).Sub(now))
	}
	if p.cfg.ExecutionTime > 0 && u.execTotal() >= p.cfg.ExecutionTime && len(u.execs) > 0 {
		return nil, refuse(codeExecutionTime, u.execs[0].at.Add(p.cfg.Window).Sub(now))
	}
	u.starts = append(u.starts, now)
	u.inflight++
	return func(d time.Duration) {
		p.mu.Lock()
		defer p.mu.Unlock()
		u.inflight--
		u.execs = append(u.execs, execSpan{at: now, d: d})
	}, nil
}

// headers sets the x-ms-ratelimit headers Dataverse sends on every
// response: what is left of the caller's window.
func (p *protector) headers(h http.Header, user string, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	u := p.usageLocked(user, now)
	if p.cfg.Requests > 0 {
		h.Set("x-ms-ratelimit-burst-remaining-xrm-requests", strconv.Itoa(max(p.cfg.Requests-len(u.starts), 0)))
	}
	if p.cfg.ExecutionTime > 0 {
		left := max(p.cfg.ExecutionTime-u.execTotal(), 0)
		h.Set("x-ms-ratelimit-time-remaining-xrm-requests", strconv.FormatFloat(float64(left.Microseconds())/1000, 'f', 2, 64))
	}
}
