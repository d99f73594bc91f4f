package emulator

import (
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultWindow is the window of an [Allocation]: a rolling day, as
// Salesforce counts its daily API requests.
const DefaultWindow = 24 * time.Hour

// slots is how many parts a window is counted in: a request leaves the count
// one slot's length (an hour, for a day) after its slot ends at the latest.
const slots = 24

// Allocation counts requests against a quota over a rolling window, such as
// a CRM org's daily API allocation. A request is counted in the slot (a
// twenty-fourth of the window) it was made in, and stops counting once its
// slot has left the window. A zero maximum means unlimited. It is safe for
// concurrent use.
type Allocation struct {
	mu      sync.Mutex
	max     int64
	window  time.Duration
	now     func() time.Time
	buckets []bucket // oldest first
}

type bucket struct {
	slot  int64
	count int64
}

// AllocationOption configures an Allocation.
type AllocationOption func(*Allocation)

// WithWindow sets the length of the rolling window (DefaultWindow when d is
// zero or less).
func WithWindow(d time.Duration) AllocationOption {
	return func(a *Allocation) {
		if d > 0 {
			a.window = d
		}
	}
}

// WithClock sets the Allocation's clock (time.Now by default), so that a
// test can move the window on without waiting.
func WithClock(now func() time.Time) AllocationOption {
	return func(a *Allocation) {
		if now != nil {
			a.now = now
		}
	}
}

// NewAllocation returns an Allocation of max requests per window; 0 means
// unlimited (requests are still counted).
func NewAllocation(max int64, opts ...AllocationOption) *Allocation {
	a := &Allocation{max: max, window: DefaultWindow, now: time.Now}
	for _, o := range opts {
		o(a)
	}
	return a
}

func (a *Allocation) slot(t time.Time) int64 {
	return t.UnixNano() / int64(a.window/slots)
}

// usedLocked drops slots that left the window and returns the count of the
// rest.
func (a *Allocation) usedLocked(now time.Time) int64 {
	cur := a.slot(now)
	drop := 0
	for drop < len(a.buckets) && a.buckets[drop].slot <= cur-slots {
		drop++
	}
	a.buckets = a.buckets[drop:]
	var n int64
	for _, b := range a.buckets {
		n += b.count
	}
	return n
}

func (a *Allocation) addLocked(now time.Time, n int64) {
	cur := a.slot(now)
	if k := len(a.buckets); k > 0 && a.buckets[k-1].slot == cur {
		a.buckets[k-1].count += n
		return
	}
	a.buckets = append(a.buckets, bucket{slot: cur, count: n})
}

// Take counts one request if the allocation has room, and returns the use
// after it, the maximum, and whether it was counted. A refused request is
// not counted.
func (a *Allocation) Take() (used, max int64, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	used = a.usedLocked(now)
	if a.max > 0 && used >= a.max {
		return used, a.max, false
	}
	a.addLocked(now, 1)
	return used + 1, a.max, true
}

// Usage returns the use within the window and the maximum.
func (a *Allocation) Usage() (used, max int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.usedLocked(a.now()), a.max
}

// SetMax changes the maximum; 0 means unlimited.
func (a *Allocation) SetMax(n int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.max = max(n, 0)
}

// SetUsed replaces the use within the window with n, counted now, so that a
// test can start close to (or past) the limit.
func (a *Allocation) SetUsed(n int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.buckets = nil
	if n > 0 {
		a.addLocked(a.now(), n)
	}
}

// Gate lets at most n requests through at once and answers the others with
// reject, as a CRM's concurrent-request limit does. A Gate of 0 or less
// lets everything through.
func Gate(n int, reject http.Handler, next http.Handler) http.Handler {
	if n <= 0 {
		return next
	}
	sem := make(chan struct{}, n)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
			next.ServeHTTP(w, r)
		default:
			reject.ServeHTTP(w, r)
		}
	})
}

// RateLimit lets requests through at r a second with the given burst and
// answers the others with reject, as a CRM's per-second limit does. A
// limit of 0 or less lets everything through.
func RateLimit(r rate.Limit, burst int, reject http.Handler, next http.Handler) http.Handler {
	if r <= 0 {
		return next
	}
	lim := rate.NewLimiter(r, max(burst, 1))
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !lim.Allow() {
			reject.ServeHTTP(w, req)
			return
		}
		next.ServeHTTP(w, req)
	})
}
