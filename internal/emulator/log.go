package emulator

import (
	"bufio"
	"errors"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// RouteFunc names what a request does, such as "query" or
// "collections.upsert". An empty name means the request matched no route.
type RouteFunc func(*http.Request) string

// DefaultLogSize is how many entries a [Log] keeps when NewLog is given 0.
const DefaultLogSize = 10000

// Log records the requests an emulator serves and counts them by route, so
// that tests and benchmarks can assert on the calls a client made ("450
// upserts took exactly 3 collections calls") and on what it sent. It keeps
// the most recent entries up to its size; the counters count every request.
// A Log is safe for concurrent use.
type Log struct {
	mu      sync.Mutex
	max     int
	entries []Entry
	start   int // index of the oldest entry once the ring is full
	counts  map[string]int
	total   int
	now     func() time.Time
}

// Entry is one served request.
type Entry struct {
	Time   time.Time
	Method string
	Path   string // the URL path, without the query
	Query  string // the raw query string
	Route  string
	Status int // the status written, or 0 when the connection was cut first
	// Duration is how long the request took until its status was written
	// (or, for one that got none, until its handler returned).
	Duration time.Duration
	// Header holds the request's headers, with Authorization and Cookie
	// values replaced by "[redacted]" so that logs never hold secrets.
	Header http.Header
	// Fault names the fault injected into the request, if any.
	Fault string
}

// NewLog returns a Log that keeps the last size entries (DefaultLogSize
// when size is 0 or less).
func NewLog(size int) *Log {
	if size <= 0 {
		size = DefaultLogSize
	}
	return &Log{max: size, counts: map[string]int{}, now: time.Now}
}

// Middleware records every request that passes through it, under the name
// route gives it, with the status next wrote.
func (l *Log) Middleware(route RouteFunc, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := l.now()
		info := &requestInfo{}
		r = r.WithContext(withInfo(r.Context(), info))
		logged := false
		record := func(status int) {
			if logged {
				return
			}
			logged = true
			l.add(Entry{
				Time:     start,
				Method:   r.Method,
				Path:     r.URL.Path,
				Query:    r.URL.RawQuery,
				Route:    route(r),
				Status:   status,
				Duration: l.now().Sub(start),
				Header:   redactHeader(r.Header),
				Fault:    info.fault,
			})
		}
		// The entry is added as the status is written, before any of the
		// response can reach the client: a test that reads the log once it
		// has its answer always finds the request there.
		rw := &statusWriter{ResponseWriter: w, sent: record}
		next.ServeHTTP(rw, r)
		record(rw.status) // 0: the handler wrote nothing, or the connection was cut first
	})
}

func (l *Log) add(e Entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts[e.Route]++
	l.total++
	if len(l.entries) < l.max {
		l.entries = append(l.entries, e)
		return
	}
	l.entries[l.start] = e
	l.start = (l.start + 1) % l.max
}

// Entries returns the kept entries, oldest first.
func (l *Log) Entries() []Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Entry, 0, len(l.entries))
	out = append(out, l.entries[l.start:]...)
	return append(out, l.entries[:l.start]...)
}

// Count returns how many requests the route has served since the last
// Reset.
func (l *Log) Count(route string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts[route]
}

// Counts returns a copy of the counters, by route.
func (l *Log) Counts() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.counts)
}

// Total returns how many requests were served since the last Reset.
func (l *Log) Total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// Routes returns the names of the routes served, sorted.
func (l *Log) Routes() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Sorted(maps.Keys(l.counts))
}

// Reset forgets every entry and counter, so that a test can measure what
// one step costs.
func (l *Log) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries, l.start, l.total = nil, 0, 0
	l.counts = map[string]int{}
}

func redactHeader(h http.Header) http.Header {
	c := h.Clone()
	for k := range c {
		switch strings.ToLower(k) {
		case "authorization", "cookie", "proxy-authorization":
			c[k] = []string{"[redacted]"}
		}
	}
	return c
}

// statusWriter remembers the status a handler wrote, and calls sent with it
// before the status goes to the underlying writer. It unwraps to the
// underlying writer, so http.ResponseController still finds the connection
// to hijack or flush.
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
		w.status = http.StatusOK
		w.sent(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := w.ResponseWriter.(http.Hijacker); ok {
		return h.Hijack()
	}
	return nil, nil, errors.New("emulator: the response writer cannot be hijacked")
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
