// Package retry is crmkit's one retry policy: which failed CRM calls are tried
// again, how long to wait before each retry, and when to stop.
//
// A [Policy] combines four things that must agree with each other:
//
//   - classification: [Policy.Retryable] retries a *crm.Error whose Kind is
//     retryable (rate limited, unavailable) and transient network failures
//     (timeouts, connection resets and refusals, a connection closed before
//     the response), never a cancelled context or a passed deadline (see
//     [IsCallerCancellation]), a validation error or a conflict;
//   - backoff: exponential with full jitter ([Policy.Backoff]), from a base
//     (250ms) to a cap (30s); after a Retry-After, the Retry-After plus such
//     a jitter, so that callers throttled together come back spread out;
//   - bounds: a number of attempts (5 in all), a total elapsed time (2m), and
//     a longest Retry-After worth waiting for (5m); a CRM that asks for more
//     has run out of an allocation, and the caller is told at once;
//   - a [Budget] (optional): a token bucket shared by one tenant's callers,
//     which stops retries when too many calls fail at once and refills as
//     calls succeed.
//
// Only idempotent requests are retried: GET, PUT and DELETE, and a POST or
// PATCH that carries an idempotency key or upserts by external id. A create
// whose response was lost may have happened, so sending it again would make
// a duplicate. An adapter marks a request that is safe despite its method
// with [MarkIdempotent], on that request's own context only: the mark passes
// to every context derived from it.
//
// crmkit's HTTP transport applies a Policy to every request an adapter makes,
// calling [Policy.Decide] after each failure. Code outside the transport (the
// sync engine, a host application) wraps any call with [Policy.Do]:
//
//	p := retry.New(retry.WithMaxAttempts(4), retry.WithBudget(tenantBudget))
//	err := p.Do(ctx, true, func(ctx context.Context) error {
//		_, err := client.Get(ctx, "Contact", id)
//		return err
//	})
//	var ce *crm.Error
//	if errors.As(err, &ce) {
//		log.Printf("gave up: %v; remedy: %s", err, ce.Remedy())
//	}
//
// Every wait is a [Sleep], which ends as soon as ctx is done, so a cancelled
// sync stops at once. A Policy holds no mutable state of its own (a Budget
// is the only shared state, and is safe for concurrent use); build one per
// tenant when tenants need separate budgets.
package retry
