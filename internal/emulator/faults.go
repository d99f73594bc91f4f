package emulator

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// FaultKind says how a [Fault] breaks a request.
type FaultKind uint8

// The fault kinds.
const (
	// FaultStatus answers with a chosen status, headers and body (a 503, a
	// CRM's own error body) instead of the real response.
	FaultStatus FaultKind = iota + 1
	// FaultTimeout never answers: the request is held until the client
	// gives up (its context ends or its timeout fires), Delay passes (when
	// set), or the Injector is stopped; then the connection is cut.
	FaultTimeout
	// FaultReset cuts the connection with a TCP reset, without a response,
	// as a load balancer or a crashed server does.
	FaultReset
	// FaultSlow waits Delay, then serves the request normally.
	FaultSlow
)

// Fault is one way to break a request. Build one with [Status], [Timeout],
// [Reset] or [Slow]; [Fault.AfterWork] makes it strike after the emulator has
// done the request's work.
type Fault struct {
	Kind   FaultKind
	Status int         // FaultStatus: the status code
	Header http.Header // FaultStatus: headers to send, such as Retry-After
	Body   []byte      // FaultStatus: the body
	Delay  time.Duration

	// AfterHandler makes the emulator do the request's work first (write
	// the records, count the call) and then fail it: the client sees an
	// error for work that happened, which is what tests of idempotent
	// retries need.
	AfterHandler bool
}

// Status returns a fault that answers with code, header and body.
func Status(code int, header http.Header, body []byte) Fault {
	return Fault{Kind: FaultStatus, Status: code, Header: header, Body: body}
}

// Timeout returns a fault that never answers; see [FaultTimeout].
func Timeout() Fault { return Fault{Kind: FaultTimeout} }

// Reset returns a fault that cuts the connection with a TCP reset.
func Reset() Fault { return Fault{Kind: FaultReset} }

// Slow returns a fault that delays the response by d.
func Slow(d time.Duration) Fault { return Fault{Kind: FaultSlow, Delay: d} }

// AfterWork returns a copy of f that strikes after the request's work is
// done; see Fault.AfterHandler.
func (f Fault) AfterWork() Fault {
	f.AfterHandler = true
	return f
}

// String names the fault for logs, such as "status 503" or "reset after work".
func (f Fault) String() string {
	var s string
	switch f.Kind {
	case FaultStatus:
		s = "status " + strconv.Itoa(f.Status)
	case FaultTimeout:
		s = "timeout"
	case FaultReset:
		s = "reset"
	case FaultSlow:
		s = "slow " + f.Delay.String()
	default:
		s = fmt.Sprintf("FaultKind(%d)", f.Kind)
	}
	if f.AfterHandler {
		s += " after work"
	}
	return s
}

// Rule says which requests get which faults.
type Rule struct {
	// Route is the route the rule applies to; "" means every route.
	Route string
	// Match, when set, further restricts the rule to requests it accepts.
	Match func(*http.Request) bool
	// Skip lets this many matching requests through before the rule starts.
	Skip int
	// Times is how many requests the rule breaks before it is spent; 0
	// means it never is (until Clear).
	Times int
	// Probability is the chance that a matching request is broken, for
	// random faults; 0 means always.
	Probability float64
	// Faults are the faults to apply; each broken request gets one, chosen
	// at random when there are several.
	Faults []Fault
}

type rule struct {
	Rule
	seen, hits int
}

// Injector breaks requests as its rules say. The first rule that matches a
// request and fires decides its fault; rules are tried in the order added.
// It is safe for concurrent use.
type Injector struct {
	mu       sync.Mutex
	rules    []*rule
	rnd      *rand.Rand
	injected int
	stop     chan struct{}
	stopOnce sync.Once
}

// InjectorOption configures an Injector.
type InjectorOption func(*Injector)

// WithSeed makes the random choices of an Injector repeatable.
func WithSeed(seed uint64) InjectorOption {
	return func(in *Injector) { in.rnd = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }
}

// NewInjector returns an Injector with no rules: it breaks nothing until
// told to.
func NewInjector(opts ...InjectorOption) *Injector {
	in := &Injector{rnd: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())), stop: make(chan struct{})}
	for _, o := range opts {
		o(in)
	}
	return in
}

// Add adds a rule. A rule without faults is ignored.
func (in *Injector) Add(r Rule) {
	if len(r.Faults) == 0 {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.rules = append(in.rules, &rule{Rule: r})
}

// Inject breaks the next times requests of route ("" for any) with f; times
// 0 breaks every one until Clear.
func (in *Injector) Inject(route string, times int, f Fault) {
	in.Add(Rule{Route: route, Times: times, Faults: []Fault{f}})
}

// Random breaks each request of route ("" for any) with probability p, with
// one of faults chosen at random, until Clear.
func (in *Injector) Random(route string, p float64, faults ...Fault) {
	if p <= 0 {
		return
	}
	in.Add(Rule{Route: route, Probability: p, Faults: faults})
}

// Clear removes every rule.
func (in *Injector) Clear() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.rules = nil
}

// Injected returns how many requests have been broken.
func (in *Injector) Injected() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.injected
}

// Stop releases every request held by a Timeout or Slow fault, now and
// later. Call it before closing the server, whose Close waits for requests
// in flight.
func (in *Injector) Stop() {
	in.stopOnce.Do(func() { close(in.stop) })
}

// pick returns the fault for a request, if any.
func (in *Injector) pick(r *http.Request, route string) (Fault, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, ru := range in.rules {
		if ru.Times > 0 && ru.hits >= ru.Times {
			continue
		}
		if ru.Route != "" && ru.Route != route {
			continue
		}
		if ru.Match != nil && !ru.Match(r) {
			continue
		}
		ru.seen++
		if ru.seen <= ru.Skip {
			continue
		}
		if ru.Probability > 0 && ru.Probability < 1 && in.rnd.Float64() >= ru.Probability {
			continue
		}
		ru.hits++
		in.injected++
		f := ru.Faults[0]
		if len(ru.Faults) > 1 {
			f = ru.Faults[in.rnd.IntN(len(ru.Faults))]
		}
		return f, true
	}
	return Fault{}, false
}

// Middleware applies the faults the rules choose to requests on their way
// to next.
func (in *Injector) Middleware(route RouteFunc, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := in.pick(r, route(r))
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		if info := infoFrom(r.Context()); info != nil {
			info.fault = f.String()
		}
		if !f.AfterHandler {
			in.apply(w, r, f, func() { next.ServeHTTP(w, r) })
			return
		}
		// Do the work into a buffer, then break the answer.
		buf := &bufferWriter{header: http.Header{}}
		next.ServeHTTP(buf, r)
		in.apply(w, r, f, func() { buf.copyTo(w) })
	})
}

// apply breaks one request with f; serve answers it normally.
func (in *Injector) apply(w http.ResponseWriter, r *http.Request, f Fault, serve func()) {
	switch f.Kind {
	case FaultStatus:
		for k, vs := range f.Header {
			w.Header()[k] = append([]string(nil), vs...)
		}
		w.WriteHeader(f.Status)
		_, _ = w.Write(f.Body)
	case FaultTimeout:
		// Read the body first: the server notices a client that gives up
		// only once the handler has read what it sent.
		_, _ = io.Copy(io.Discard, r.Body)
		var timer <-chan time.Time
		if f.Delay > 0 {
			t := time.NewTimer(f.Delay)
			defer t.Stop()
			timer = t.C
		}
		select {
		case <-r.Context().Done():
		case <-in.stop:
		case <-timer:
		}
		cut(w)
	case FaultReset:
		cut(w)
	case FaultSlow:
		// As above; the body is kept for the handler that serves after the
		// wait.
		if r.Body != nil && r.Body != http.NoBody {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				cut(w)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-r.Context().Done():
			return
		case <-in.stop:
		case <-t.C:
		}
		serve()
	default:
		serve()
	}
}

// cut ends the connection without a response: a TCP reset where the
// connection can be taken over, else an aborted response.
func cut(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // net/http closes the connection (or resets the HTTP/2 stream) quietly
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // close with RST, not FIN
	}
	_ = conn.Close()
}

// bufferWriter holds a response so that a fault can decide what the client
// sees of it.
type bufferWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferWriter) Header() http.Header { return b.header }
func (b *bufferWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
func (b *bufferWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

func (b *bufferWriter) copyTo(w http.ResponseWriter) {
	for k, vs := range b.header {
		w.Header()[k] = vs
	}
	if b.status == 0 {
		b.status = http.StatusOK
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
}
