package salesforcetest

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

const jsonContentType = "application/json;charset=UTF-8"

// maxBody caps a request body, as Salesforce caps REST bodies.
const maxBody = 50 << 20

// apiError is one element of Salesforce's error array. In top-level REST
// errors its code is "errorCode"; inside DML results it is "statusCode".
type apiError struct {
	Code    string
	Message string
	Fields  []string
}

type restError struct {
	Message   string   `json:"message"`
	ErrorCode string   `json:"errorCode"`
	Fields    []string `json:"fields,omitempty"`
}

type dmlError struct {
	StatusCode string   `json:"statusCode"`
	Message    string   `json:"message"`
	Fields     []string `json:"fields"`
}

func encodeErrors(errs []apiError) []byte {
	out := make([]restError, len(errs))
	for i, e := range errs {
		out[i] = restError{Message: e.Message, ErrorCode: e.Code, Fields: e.Fields}
	}
	b, _ := json.Marshal(out)
	return b
}

func dmlErrors(errs []apiError) []dmlError {
	out := make([]dmlError, len(errs))
	for i, e := range errs {
		f := e.Fields
		if f == nil {
			f = []string{}
		}
		out[i] = dmlError{StatusCode: e.Code, Message: e.Message, Fields: f}
	}
	return out
}

// failure is an error answer: an HTTP status and Salesforce's error array.
type failure struct {
	status int
	errs   []apiError
}

func (f *failure) Error() string {
	return fmt.Sprintf("%d %s: %s", f.status, f.errs[0].Code, f.errs[0].Message)
}

func fail(status int, code, format string, args ...any) *failure {
	return &failure{status: status, errs: []apiError{{Code: code, Message: fmt.Sprintf(format, args...)}}}
}

func failFields(status int, code string, fields []string, format string, args ...any) *failure {
	return &failure{status: status, errs: []apiError{{Code: code, Message: fmt.Sprintf(format, args...), Fields: fields}}}
}

func notFound() *failure {
	return fail(http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.writeErrors(w, http.StatusInternalServerError, apiError{Code: "UNKNOWN_EXCEPTION", Message: "encoding the response failed: " + err.Error()})
		return
	}
	s.writeRaw(w, status, b)
}

func (s *Server) writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", jsonContentType)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (s *Server) writeErrors(w http.ResponseWriter, status int, errs ...apiError) {
	s.writeRaw(w, status, encodeErrors(errs))
}

func (s *Server) writeFailure(w http.ResponseWriter, f *failure) {
	s.writeErrors(w, f.status, f.errs...)
}

// call is a parsed request path.
type call struct {
	route   string
	version string   // "63.0"; empty outside /services/data/vNN.N
	segs    []string // the unescaped path segments after the version
}

// routeOf names a request for the request log and fault rules.
func routeOf(r *http.Request) string { return parseCall(r).route }

// parseCall splits a request path. It is lenient where Salesforce is:
// trailing and doubled slashes are ignored.
func parseCall(r *http.Request) call {
	raw := r.URL.EscapedPath()
	switch {
	case strings.HasPrefix(raw, "/services/oauth2/"):
		return call{route: "oauth2." + strings.Trim(strings.TrimPrefix(raw, "/services/oauth2/"), "/")}
	case raw == "/services/data" || raw == "/services/data/":
		return call{route: "versions"}
	case !strings.HasPrefix(raw, "/services/data/"):
		return call{route: "unknown"}
	}
	var segs []string
	for _, p := range strings.Split(strings.TrimPrefix(raw, "/services/data/"), "/") {
		if p == "" {
			continue
		}
		if u, err := url.PathUnescape(p); err == nil {
			p = u
		}
		segs = append(segs, p)
	}
	if len(segs) == 0 {
		return call{route: "versions"}
	}
	v := segs[0]
	if len(v) < 2 || (v[0] != 'v' && v[0] != 'V') {
		return call{route: "unknown"}
	}
	c := call{version: v[1:], segs: segs[1:]}
	c.route = routeName(r.Method, c.segs)
	return c
}

func routeName(method string, segs []string) string {
	if len(segs) == 0 {
		return "resources"
	}
	n := len(segs)
	switch strings.ToLower(segs[0]) {
	case "sobjects":
		switch {
		case n == 1:
			return "describeGlobal"
		case n == 2 && method == http.MethodPost:
			return "sobject.create"
		case n == 2:
			return "sobject.basic"
		case n == 3 && segs[2] == "describe":
			return "describe"
		case n == 3 && segs[2] == "updated":
			return "sobject.updated"
		case n == 3 && segs[2] == "deleted":
			return "sobject.deleted"
		case n == 3 && method == http.MethodPatch:
			return "sobject.update"
		case n == 3 && method == http.MethodDelete:
			return "sobject.delete"
		case n == 3 && method == http.MethodPost && segs[2] == "Id":
			return "sobject.create"
		case n == 3:
			return "sobject.get"
		case n == 4 && method == http.MethodPatch:
			return "sobject.upsert"
		case n == 4 && method == http.MethodDelete:
			return "sobject.deleteByExternalId"
		case n == 4:
			return "sobject.getByExternalId"
		}
	case "query":
		if n == 1 {
			return "query"
		}
		return "queryMore"
	case "queryall":
		if n == 1 {
			return "queryAll"
		}
		return "queryMore"
	case "composite":
		if n >= 2 && segs[1] == "sobjects" {
			switch {
			case n == 2 && method == http.MethodPost:
				return "collections.create"
			case n == 2 && method == http.MethodPatch:
				return "collections.update"
			case n == 2 && method == http.MethodDelete:
				return "collections.delete"
			case n == 4 && method == http.MethodPatch:
				return "collections.upsert"
			case n == 3:
				return "collections.retrieve"
			}
			return "collections"
		}
		return "composite"
	case "limits":
		return "limits"
	case "jobs":
		if n < 2 || (segs[1] != "ingest" && segs[1] != "query") {
			return "unknown"
		}
		kind := "bulk." + segs[1]
		switch n {
		case 2:
			return kind
		case 3:
			return kind + ".job"
		case 4:
			if segs[3] == "batches" {
				return kind + ".upload"
			}
			return kind + ".results"
		}
	}
	return "unknown"
}

// requestIDs gives every answer, injected faults included, the request id
// headers Salesforce's edge sends.
func (s *Server) requestIDs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := s.reqSeq.Add(1)
		rid := fmt.Sprintf("%016x%016x", id*0x9e3779b97f4a7c15, id)
		w.Header().Set("X-Sfdc-Request-Id", rid)
		w.Header().Set("X-Request-Id", rid)
		next.ServeHTTP(w, r)
	})
}

// serve is the org: it checks the version, the token and the daily
// allocation, then dispatches by route.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	c := parseCall(r)
	switch c.route {
	case "versions":
		s.serveVersions(w, r)
		return
	case "unknown":
		s.writeFailure(w, notFound())
		return
	}
	if strings.HasPrefix(c.route, "oauth2.") {
		s.serveOAuth(w, r, c.route)
		return
	}
	if !s.versionListed(c.version) {
		s.writeFailure(w, notFound())
		return
	}
	if !s.validToken(bearer(r)) {
		s.writeErrors(w, http.StatusUnauthorized, apiError{Code: "INVALID_SESSION_ID", Message: "Session expired or invalid"})
		return
	}
	used, max, ok := s.alloc.Take()
	if max == 0 {
		max = used + 1_000_000 // unlimited: report a roomy allocation
	}
	w.Header().Set("Sforce-Limit-Info", "api-usage="+strconv.FormatInt(used, 10)+"/"+strconv.FormatInt(max, 10))
	if !ok {
		s.writeErrors(w, http.StatusForbidden, apiError{Code: "REQUEST_LIMIT_EXCEEDED", Message: "TotalRequests Limit exceeded."})
		return
	}
	if r.Header.Get("Content-Encoding") == "gzip" && r.Body != nil {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			s.writeErrors(w, http.StatusBadRequest, apiError{Code: "JSON_PARSER_ERROR", Message: "the gzip request body is corrupt: " + err.Error()})
			return
		}
		r.Body = zr
	}
	if r.Body != nil && c.route != "bulk.ingest.upload" { // uploads have their own, larger cap
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	}
	if err := s.dispatch(w, r, c); err != nil {
		s.writeFailure(w, err)
	}
}

func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, c call) *failure {
	switch c.route {
	case "resources":
		return s.serveResources(w, r, c)
	case "describeGlobal":
		return s.serveDescribeGlobal(w, r, c)
	case "describe", "sobject.basic":
		return s.serveDescribe(w, r, c)
	case "sobject.create", "sobject.get", "sobject.update", "sobject.delete",
		"sobject.getByExternalId", "sobject.upsert", "sobject.deleteByExternalId":
		return s.serveSObject(w, r, c)
	case "sobject.updated", "sobject.deleted":
		return s.serveReplication(w, r, c)
	case "query", "queryAll", "queryMore":
		return s.serveQuery(w, r, c)
	case "collections.create", "collections.update", "collections.delete", "collections.upsert", "collections.retrieve", "collections":
		return s.serveCollections(w, r, c)
	case "limits":
		return s.serveLimits(w, r)
	}
	if strings.HasPrefix(c.route, "bulk.") {
		return s.serveBulk(w, r, c)
	}
	return notFound()
}

// methodNotAllowed is Salesforce's answer to a verb a resource lacks.
func methodNotAllowed(w http.ResponseWriter, method string, allowed ...string) *failure {
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	return fail(http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "HTTP Method '%s' not allowed. Allowed are %s", method, strings.Join(allowed, ","))
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	for _, scheme := range []string{"Bearer ", "OAuth "} {
		if len(h) > len(scheme) && strings.EqualFold(h[:len(scheme)], scheme) {
			return strings.TrimSpace(h[len(scheme):])
		}
	}
	return ""
}

func (s *Server) versionListed(v string) bool {
	for _, x := range s.cfg.versions {
		if x == v {
			return true
		}
	}
	return false
}

// readBody reads a JSON request body.
func readBody(r *http.Request) ([]byte, *failure) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		if _, ok := err.(*http.MaxBytesError); ok {
			return nil, fail(http.StatusRequestEntityTooLarge, "REQUEST_ENTITY_TOO_LARGE", "the request body is larger than %d bytes", maxBody)
		}
		return nil, fail(http.StatusBadRequest, "JSON_PARSER_ERROR", "reading the request body failed")
	}
	return b, nil
}

func (s *Server) serveVersions(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.writeFailure(w, methodNotAllowed(w, r.Method, "GET", "HEAD"))
		return
	}
	type version struct {
		Label   string `json:"label"`
		URL     string `json:"url"`
		Version string `json:"version"`
	}
	out := make([]version, len(s.cfg.versions))
	for i, v := range s.cfg.versions {
		out[i] = version{Label: releaseLabel(v), URL: "/services/data/v" + v, Version: v}
	}
	s.writeJSON(w, http.StatusOK, out)
}

// releaseLabel names the release of an API version: 63.0 is "Spring '25".
func releaseLabel(v string) string {
	n, err := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
	if err != nil {
		return v
	}
	k := n - 63
	season := [...]string{"Spring", "Summer", "Winter"}[((k%3)+3)%3]
	year := 25 + floorDiv(k+1, 3)
	return fmt.Sprintf("%s '%02d", season, ((year%100)+100)%100)
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func (s *Server) serveResources(w http.ResponseWriter, r *http.Request, c call) *failure {
	if r.Method != http.MethodGet {
		return methodNotAllowed(w, r.Method, "GET", "HEAD")
	}
	base := "/services/data/v" + c.version + "/"
	out := map[string]string{}
	for _, k := range []string{"sobjects", "query", "queryAll", "search", "limits", "composite", "tooling", "jobs/ingest", "jobs/query", "recent", "process"} {
		out[k] = base + k
	}
	out["identity"] = s.URL + "/id/" + s.orgID + "/" + s.userID
	s.writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) serveLimits(w http.ResponseWriter, r *http.Request) *failure {
	if r.Method != http.MethodGet {
		return methodNotAllowed(w, r.Method, "GET", "HEAD")
	}
	used, max := s.alloc.Usage()
	if max == 0 {
		max = used + 1_000_000
	}
	type quota struct {
		Max       int64 `json:"Max"`
		Remaining int64 `json:"Remaining"`
	}
	out := map[string]quota{
		"DailyApiRequests":                  {Max: max, Remaining: max - used},
		"DailyBulkApiBatches":               {Max: 15000, Remaining: 15000},
		"DailyBulkV2QueryJobs":              {Max: 10000, Remaining: 10000},
		"DailyBulkV2QueryFileStorageMB":     {Max: 976562, Remaining: 976562},
		"ConcurrentAsyncGetReportInstances": {Max: 200, Remaining: 200},
		"DataStorageMB":                     {Max: 5, Remaining: 5},
		"HourlyTimeBasedWorkflow":           {Max: 1000, Remaining: 1000},
	}
	s.writeJSON(w, http.StatusOK, out)
	return nil
}
