package hubspottest

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// window counts requests in a rolling window, as HubSpot's ten-secondly and
// search limits do.
type window struct {
	size  time.Duration
	max   int
	times []time.Time // admitted requests, oldest first
}

// trim drops requests that have left the window.
func (w *window) trim(now time.Time) {
	cut := now.Add(-w.size)
	i := 0
	for i < len(w.times) && !w.times[i].After(cut) {
		i++
	}
	w.times = w.times[i:]
}

// admit counts a request and reports whether the window had room for it.
func (w *window) admit(now time.Time) bool {
	if w.max <= 0 {
		return true
	}
	w.trim(now)
	if len(w.times) >= w.max {
		return false
	}
	w.times = append(w.times, now)
	return true
}

func (w *window) remaining(now time.Time) int {
	w.trim(now)
	return max(w.max-len(w.times), 0)
}

// limits are the portal's rate limits: the ten-secondly burst limit (per
// app), the daily limit (per account), and search's own limit per second.
type limits struct {
	mu       sync.Mutex
	burst    window
	search   window
	daily    int
	used     int
	dayStart time.Time
}

func newLimits(burst, daily, search int) *limits {
	return &limits{
		burst:  window{size: 10 * time.Second, max: burst},
		search: window{size: time.Second, max: search},
		daily:  daily,
	}
}

// admit decides one request. It returns the policy that refused it, or "";
// an admitted request counts against the daily limit and its window.
// Search requests are exempt from the burst limit and have their own.
func (l *limits) admit(now time.Time, search bool) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rollDay(now)
	if l.daily > 0 && l.used >= l.daily {
		return PolicyDaily
	}
	if search {
		if !l.search.admit(now) {
			return PolicySecondly
		}
	} else if !l.burst.admit(now) {
		return PolicyTenSecondly
	}
	l.used++
	return ""
}

// rollDay resets the daily count at midnight in the clock's location,
// as HubSpot resets it at midnight in the account's time zone.
func (l *limits) rollDay(now time.Time) {
	y, m, d := now.Date()
	start := time.Date(y, m, d, 0, 0, 0, 0, now.Location())
	if !start.Equal(l.dayStart) {
		l.dayStart, l.used = start, 0
	}
}

// headers sets the X-HubSpot-RateLimit-* headers of a non-search response.
// The daily pair is left out for OAuth-authenticated calls, as HubSpot does.
func (l *limits) headers(h http.Header, now time.Time, oauth bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.burst.max > 0 {
		rem := l.burst.remaining(now)
		h.Set("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")
		h.Set("X-HubSpot-RateLimit-Max", strconv.Itoa(l.burst.max))
		h.Set("X-HubSpot-RateLimit-Remaining", strconv.Itoa(rem))
		// The deprecated per-second pair, still sent.
		per := max(l.burst.max/10, 1)
		h.Set("X-HubSpot-RateLimit-Secondly", strconv.Itoa(per))
		h.Set("X-HubSpot-RateLimit-Secondly-Remaining", strconv.Itoa(min(per, rem)))
	}
	if l.daily > 0 && !oauth {
		h.Set("X-HubSpot-RateLimit-Daily", strconv.Itoa(l.daily))
		h.Set("X-HubSpot-RateLimit-Daily-Remaining", strconv.Itoa(max(l.daily-l.used, 0)))
	}
}

func (l *limits) dailyUsed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.used
}

// useDaily spends n of the daily allocation at once, so that a test can
// start near the end of the day's allocation.
func (l *limits) useDaily(now time.Time, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rollDay(now)
	l.used += n
}
