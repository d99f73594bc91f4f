package retry_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/retry"
)

// A CRM throttles the first two calls with a 429 and a Retry-After; Do waits
// as asked and the third call succeeds.
func ExamplePolicy_Do() {
	p := retry.New(
		retry.WithMaxAttempts(4),
		retry.WithBackoff(time.Millisecond, 10*time.Millisecond),
		retry.WithBudget(retry.NewBudget(retry.DefaultBudgetCapacity)),
	)
	calls := 0
	err := p.Do(context.Background(), true, func(ctx context.Context) error {
		calls++
		if calls < 3 {
			return &crm.Error{
				Kind:       crm.KindRateLimited,
				CRM:        "hubspot",
				Operation:  "query",
				Object:     "contacts",
				StatusCode: 429,
				Message:    "You have reached your ten-secondly limit.",
				RetryAfter: 5 * time.Millisecond,
			}
		}
		return nil
	})
	fmt.Println("calls:", calls, "err:", err)
	// Output:
	// calls: 3 err: <nil>
}

// A validation error is permanent: Do returns it after one call, and its
// remedy says what to fix.
func ExamplePolicy_Do_permanent() {
	p := retry.New()
	err := p.Do(context.Background(), true, func(ctx context.Context) error {
		return &crm.Error{Kind: crm.KindValidation, StatusCode: 400, Code: "INVALID_EMAIL_ADDRESS", Fields: []string{"Email"}}
	})
	var ce *crm.Error
	if errors.As(err, &ce) {
		fmt.Println(ce.Kind, ce.Fields, "->", ce.Remedy())
	}
	// Output:
	// validation [Email] -> fix the field values named in the error (usually in the field mapping); send the record to dead letters until then
}

// Decide is what a transport calls after each failed response.
func ExamplePolicy_Decide() {
	p := retry.New(retry.WithRandom(func() float64 { return 0 }))
	err := fmt.Errorf("GET /contacts: %w", &crm.Error{Kind: crm.KindRateLimited, StatusCode: 429, RetryAfter: 2 * time.Second})

	wait, ok := p.Decide(retry.Attempt{Number: 1, Err: err, Idempotent: true})
	fmt.Println(wait, ok)
	wait, ok = p.Decide(retry.Attempt{Number: 1, Err: err, Idempotent: false})
	fmt.Println(wait, ok)
	// Output:
	// 2s true
	// 0s false
}
