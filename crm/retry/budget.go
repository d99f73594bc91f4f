package retry

import "sync"

// Costs and size of a retry [Budget], after the AWS SDK's retry token bucket.
const (
	// DefaultBudgetCapacity is a sensible capacity for one tenant's budget:
	// 100 ordinary retries, or 50 after timeouts, before a run of successes
	// must refill it.
	DefaultBudgetCapacity = 500
	// RetryCost is what one retry takes from a budget.
	RetryCost = 5
	// TimeoutCost is what a retry after a timeout takes: a timeout ties up
	// the CRM's capacity longer than a quick failure, so it costs more.
	TimeoutCost = 10
)

// Budget is a token bucket of retries, shared by every caller of one client
// (one tenant), so that a storm of failures does not multiply the load on a
// CRM that is already struggling. Each retry takes [RetryCost] tokens
// ([TimeoutCost] after a timeout), each successful call refunds one, up to
// the capacity; when the budget cannot pay, [Policy.Decide] says not to
// retry and the call fails with its own error.
//
// A Budget is safe for concurrent use.
type Budget struct {
	mu        sync.Mutex
	capacity  int
	available int
}

// NewBudget returns a full budget of capacity tokens. A capacity of zero or
// less makes a budget that never pays, which turns retries off.
func NewBudget(capacity int) *Budget {
	capacity = max(capacity, 0)
	return &Budget{capacity: capacity, available: capacity}
}

// Available returns the tokens left, for metrics and tests.
func (b *Budget) Available() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.available
}

// Capacity returns the most tokens the budget holds.
func (b *Budget) Capacity() int { return b.capacity }

// take draws cost tokens if there are enough, and reports whether it did.
func (b *Budget) take(cost int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.available < cost {
		return false
	}
	b.available -= cost
	return true
}

// refund returns n tokens, up to the capacity.
func (b *Budget) refund(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.available = min(b.available+n, b.capacity)
}
