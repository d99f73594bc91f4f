// Package errchain lists the errors an error wraps, for crmkit's packages
// that must look at every link of a chain rather than ask errors.Is or
// errors.As one question: deciding whether a failure is the caller's own
// cancellation or a network timeout (crm/retry), or finding every URL in a
// chain so that it can be redacted (internal/httpx).
//
// [Walk] returns err and everything it wraps, depth first, following both
// Unwrap() error and Unwrap() []error. A chain can be cyclic (an error that
// wraps itself, by mistake or by malice) or absurdly deep, so every walk
// stops after [Max] errors; callers that walk a chain by hand should bound
// their walks by Max as well.
//
//	for _, e := range errchain.Walk(err) {
//		if ue, ok := e.(*url.Error); ok {
//			// ...
//		}
//	}
package errchain
