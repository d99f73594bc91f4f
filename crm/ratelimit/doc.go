// Package ratelimit paces one client's requests to a CRM, and learns the pace
// from what the CRM itself reports about its limits.
//
// Every CRM limits its API in two ways at once: a short window (HubSpot's
// requests per 10 seconds, Dynamics 365's 6000 requests per 5 minutes) and a
// daily allocation (Salesforce's rolling 24 hours, HubSpot's daily cap). A
// [Limiter] handles both:
//
//   - lanes: each lane is a token bucket (golang.org/x/time/rate) with its
//     own rate, for APIs the CRM limits separately. [DefaultLane] holds
//     ordinary calls; HubSpot's search gets a lane of its own at 5 a second.
//     Lanes are unlimited unless configured with [WithLane].
//   - slowing down before a 429: [Limiter.Observe] reads the figures a
//     response carries; when few requests remain in the window, the lane
//     spreads what remains over the window, and speeds up again when the
//     window refills.
//   - pauses: a 429 with Retry-After pauses its lane ([Limiter.Pause]) for
//     every caller, not only for the one that got it.
//   - a daily guard ([WithDailyGuard]): once the observed daily use reaches
//     a share of the allocation, [Limiter.Wait] refuses with a *crm.Error of
//     KindQuotaExhausted, so a sync leaves headroom for the org's users and
//     other integrations instead of exhausting the allocation for everyone.
//
// crmkit's HTTP transport calls Wait before each request and Observe after
// each response; an adapter supplies the parsing of its CRM's headers (this
// package has Salesforce's, [ParseSalesforceLimitInfo]). Used directly:
//
//	lim := ratelimit.New(
//		ratelimit.WithLane(ratelimit.DefaultLane, 10, 5),
//		ratelimit.WithLane("search", 5, 1),
//		ratelimit.WithDailyGuard(0.8),
//	)
//	if err := lim.Wait(ctx, ratelimit.DefaultLane); err != nil {
//		return err // ctx ended, crm.ErrQuotaExhausted, or crm.ErrRateLimited
//	}
//	resp, err := send(ctx, req)
//	if err != nil {
//		return err
//	}
//	if o, err := ratelimit.ParseSalesforceLimitInfo(resp.Header.Get("Sforce-Limit-Info")); err == nil {
//		lim.Observe(ratelimit.DefaultLane, o)
//	}
//
// Every wait watches its context: Wait returns as soon as ctx is done, and at
// once when ctx's deadline would pass before the lane may send: with a
// *crm.Error of KindRateLimited (RetryAfter says how long) when the CRM's
// pause is what holds the lane, and with an error wrapping
// context.DeadlineExceeded when the lane's own pace is. The daily guard keeps
// the highest use observed in a day, so responses that arrive out of order
// cannot lift it. A Limiter is safe for concurrent use; build one per tenant,
// since limits are per org or per account.
package ratelimit
