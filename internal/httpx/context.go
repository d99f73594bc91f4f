package httpx

import "context"

type operationKey struct{}

type opTags struct {
	name, object string
}

// WithOperation tags a request context with the crm operation ("query",
// "write", "describe") and the CRM object ("Contact") it serves. The tags
// name each HTTP span (crm.operation, crm.object) and fill in the Operation
// and Object of any *crm.Error that [Client.Do] returns, so that a failure
// deep in the transport still says which call it belonged to.
func WithOperation(ctx context.Context, operation, object string) context.Context {
	return context.WithValue(ctx, operationKey{}, opTags{name: operation, object: object})
}

// operationFrom returns the tags set by WithOperation, or empty strings.
func operationFrom(ctx context.Context) (name, object string) {
	op, _ := ctx.Value(operationKey{}).(opTags)
	return op.name, op.object
}

// attemptKey carries an *attempt from the span layer down the transport
// chain, so that inner layers can report what the span should record.
type attemptKey struct{}

// attempt is what the inner layers of one HTTP attempt tell the span layer.
type attempt struct {
	quotaRemaining int64
	haveQuota      bool
}

func attemptFrom(ctx context.Context) *attempt {
	a, _ := ctx.Value(attemptKey{}).(*attempt)
	return a
}
