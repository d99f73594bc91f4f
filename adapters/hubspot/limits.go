package hubspot

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/ratelimit"
)

// lane puts CRM search requests on their own limiter lane: HubSpot limits
// search to 5 requests a second, apart from the ten-secondly limit.
func lane(req *http.Request) string {
	if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/search") {
		return SearchLane
	}
	return ratelimit.DefaultLane
}

// observe reads HubSpot's X-HubSpot-RateLimit-* headers for the limiter:
// the ten-secondly window (-Max, -Remaining, -Interval-Milliseconds) and
// the daily allocation (-Daily, -Daily-Remaining; absent for OAuth apps).
// On a 429 it also reads the body's policy: a ten-secondly 429 pauses the
// lane for the window, so that every caller waits, not only the one
// refused; a daily one records the allocation as spent, which trips the
// limiter's daily guard.
func observe(resp *http.Response) ratelimit.Observation {
	h := resp.Header
	var o ratelimit.Observation
	num := func(name string) (int64, bool) {
		v := h.Get(name)
		if v == "" {
			return 0, false
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		return n, err == nil
	}
	if limit, ok := num("X-HubSpot-RateLimit-Max"); ok && limit > 0 {
		o.Limit = limit
		o.Remaining, _ = num("X-HubSpot-RateLimit-Remaining")
		if ms, ok := num("X-HubSpot-RateLimit-Interval-Milliseconds"); ok && ms > 0 {
			o.Window = msDuration(ms)
		}
	}
	if daily, ok := num("X-HubSpot-RateLimit-Daily"); ok && daily > 0 {
		o.DailyLimit = daily
		if rem, ok := num("X-HubSpot-RateLimit-Daily-Remaining"); ok {
			o.DailyUsed = max(daily-rem, 0)
		}
	}
	if resp.StatusCode != http.StatusTooManyRequests || resp.Body == nil {
		return o
	}
	// Peek at the body and put it back for the error that httpx builds.
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
	var e apiError
	if json.Unmarshal(b, &e) != nil {
		return o
	}
	if kindOf(resp.StatusCode, &e) == crm.KindQuotaExhausted {
		if o.DailyLimit > 0 {
			o.DailyUsed = o.DailyLimit
		}
		return o
	}
	o.RetryAfter = rateLimitWait(&e, h)
	return o
}

func msDuration(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }
