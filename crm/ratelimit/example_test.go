package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/ratelimit"
)

// A Salesforce client that stops at 80% of the org's daily allocation.
func Example() {
	ctx := context.Background()
	lim := ratelimit.New(
		ratelimit.WithLane(ratelimit.DefaultLane, 20, 5),
		ratelimit.WithDailyGuard(0.8),
	)

	// Before each request:
	if err := lim.Wait(ctx, ratelimit.DefaultLane); err != nil {
		fmt.Println("wait:", err)
		return
	}
	// After each response, feed back what its Sforce-Limit-Info header said.
	o, err := ratelimit.ParseSalesforceLimitInfo("api-usage=3999/5000")
	if err != nil {
		fmt.Println(err)
		return
	}
	lim.Observe(ratelimit.DefaultLane, o)
	fmt.Println("daily:", lim.Daily(), "wait:", lim.Wait(ctx, ratelimit.DefaultLane))

	o, _ = ratelimit.ParseSalesforceLimitInfo("api-usage=4000/5000, per-app-api-usage=900/1000(appName=crmkit)")
	lim.Observe(ratelimit.DefaultLane, o)
	err = lim.Wait(ctx, ratelimit.DefaultLane)
	fmt.Println("daily:", lim.Daily(), "quota exhausted:", errors.Is(err, crm.ErrQuotaExhausted))
	// Output:
	// daily: {3999 5000} wait: <nil>
	// daily: {4000 5000} quota exhausted: true
}

// A HubSpot response with few requests left in its 10-second window slows
// the lane so that the rest spread over the window; a 429 pauses it.
func ExampleLimiter_Observe() {
	lim := ratelimit.New(ratelimit.WithLane(ratelimit.DefaultLane, 15, 15))

	// X-HubSpot-RateLimit-Max: 150, -Remaining: 149, -Interval-Milliseconds: 10000
	lim.Observe(ratelimit.DefaultLane, ratelimit.Observation{Remaining: 149, Limit: 150, Window: 10 * time.Second})
	fmt.Println("plenty left:", lim.Rate(ratelimit.DefaultLane), "a second")

	// -Remaining: 10 of 150 is under 10%: 10 requests over 10 seconds.
	lim.Observe(ratelimit.DefaultLane, ratelimit.Observation{Remaining: 10, Limit: 150, Window: 10 * time.Second})
	fmt.Println("running low:", lim.Rate(ratelimit.DefaultLane), "a second")

	// The window refilled.
	lim.Observe(ratelimit.DefaultLane, ratelimit.Observation{Remaining: 150, Limit: 150})
	fmt.Println("refilled:", lim.Rate(ratelimit.DefaultLane), "a second")

	// A 429 with Retry-After: 1 holds every caller of the lane for a second;
	// one whose deadline comes sooner is told at once that the CRM is
	// throttling, and for how long.
	lim.Observe(ratelimit.DefaultLane, ratelimit.Observation{RetryAfter: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	var ce *crm.Error
	err := lim.Wait(ctx, ratelimit.DefaultLane)
	fmt.Println("paused:", errors.As(err, &ce) && ce.Kind == crm.KindRateLimited && ce.RetryAfter > 0)
	// Output:
	// plenty left: 15 a second
	// running low: 1 a second
	// refilled: 15 a second
	// paused: true
}
