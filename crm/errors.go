package crm

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Kind classifies an [Error]. The kind, not the CRM's own code, steers what a
// caller does next: retry, refresh a token, fix the mapping, or give up.
type Kind uint8

// The kinds of error. The zero Kind is KindUnknown, which is never produced by
// a crmkit adapter on purpose; it marks an error that could not be classified.
const (
	KindUnknown        Kind = iota
	KindUnauthorized        // credentials missing, expired or revoked
	KindForbidden           // authenticated, but not allowed to do this
	KindNotFound            // the object or record does not exist
	KindConflict            // the record changed since it was read (stale version)
	KindDuplicate           // a unique or external-id value is already taken
	KindValidation          // the CRM rejected a field value or a record
	KindRateLimited         // short-term throttling; wait and try again
	KindQuotaExhausted      // a daily or long-window allocation is used up
	KindUnavailable         // the CRM or the network failed transiently
	KindUnsupported         // the driver or the CRM cannot do this at all
	KindInvalidRequest      // the request itself is malformed (a bug on our side)
)

var kindNames = [...]string{
	KindUnknown:        "unknown",
	KindUnauthorized:   "unauthorized",
	KindForbidden:      "forbidden",
	KindNotFound:       "not found",
	KindConflict:       "conflict",
	KindDuplicate:      "duplicate",
	KindValidation:     "validation",
	KindRateLimited:    "rate limited",
	KindQuotaExhausted: "quota exhausted",
	KindUnavailable:    "unavailable",
	KindUnsupported:    "unsupported",
	KindInvalidRequest: "invalid request",
}

var kindRemedies = [...]string{
	KindUnknown:        "inspect the CRM's code and message; report it so the adapter can classify it",
	KindUnauthorized:   "refresh or re-issue the access token, then retry once",
	KindForbidden:      "grant the integration user the permission or field-level access named in the message",
	KindNotFound:       "check the object and record id; the record may have been deleted",
	KindConflict:       "re-read the record, merge, and write again with the new version",
	KindDuplicate:      "match the existing record (by external id or natural key) and update it instead",
	KindValidation:     "fix the field values named in the error (usually in the field mapping); send the record to dead letters until then",
	KindRateLimited:    "back off, honouring Retry-After, and retry",
	KindQuotaExhausted: "stop until the quota window resets, or raise the CRM's allocation",
	KindUnavailable:    "retry with exponential backoff",
	KindUnsupported:    "use another operation, or check the driver's Info().Unsupported features",
	KindInvalidRequest: "fix the request; retrying the same request will fail again",
}

// String returns the kind's name, such as "rate limited".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Retryable reports whether the same request may succeed if sent again later,
// unchanged. Unauthorized is retryable only after a token refresh, which the
// auth layer does itself, so it reports false here.
func (k Kind) Retryable() bool {
	switch k {
	case KindRateLimited, KindUnavailable:
		return true
	}
	return false
}

// Remedy says, in one sentence, what an operator or program should do about an
// error of this kind.
func (k Kind) Remedy() string {
	if int(k) < len(kindRemedies) {
		return kindRemedies[k]
	}
	return kindRemedies[KindUnknown]
}

// Error is the one error type of crmkit's CRM layer. Every adapter builds its
// errors in one place, from the CRM's status code and error body, so that a
// caller can inspect any failure the same way:
//
//	var ce *crm.Error
//	if errors.As(err, &ce) && ce.Kind == crm.KindValidation {
//		log.Printf("fix fields %v: %s", ce.Fields, ce.Message)
//	}
//
// or, with the sentinels, errors.Is(err, crm.ErrRateLimited).
//
// Error never carries credentials: adapters put the CRM's message in it, never
// request headers, and the HTTP plumbing redacts tokens from bodies.
type Error struct {
	Kind Kind

	CRM       string // the driver name, such as "salesforce"
	Operation string // such as "query", "write", "describe"
	Object    string // the CRM object, such as "Contact"
	RecordID  string // the record involved, when there is one

	StatusCode int    // HTTP status, 0 when the error did not come from a response
	Code       string // the CRM's own error code, such as "INVALID_FIELD"
	Message    string // the CRM's own message
	RequestID  string // the CRM's request or correlation id, for its support desk

	// RetryAfter is how long the CRM asked us to wait; zero when it did not say.
	RetryAfter time.Duration

	// Fields names the fields that caused the error, when the CRM says.
	Fields []string

	// Err is the underlying cause, such as a network error.
	Err error
}

// Error formats the error on one line, naming the operation, the object, the
// record, the kind, the CRM's code and message, the fields and the request id.
func (e *Error) Error() string {
	var b strings.Builder
	if e.CRM != "" {
		b.WriteString(e.CRM)
		b.WriteString(": ")
	}
	if e.Operation != "" {
		b.WriteString(e.Operation)
		if e.Object != "" {
			b.WriteByte(' ')
			b.WriteString(e.Object)
		}
		if e.RecordID != "" {
			b.WriteByte(' ')
			b.WriteString(e.RecordID)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Kind.String())
	if e.StatusCode != 0 || e.Code != "" {
		b.WriteString(" (")
		if e.StatusCode != 0 {
			b.WriteString(strconv.Itoa(e.StatusCode))
			if e.Code != "" {
				b.WriteByte(' ')
			}
		}
		b.WriteString(e.Code)
		b.WriteByte(')')
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if len(e.Fields) > 0 {
		b.WriteString(" [fields: ")
		b.WriteString(strings.Join(e.Fields, ", "))
		b.WriteByte(']')
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.RetryAfter > 0 {
		b.WriteString(" (retry after ")
		b.WriteString(e.RetryAfter.String())
		b.WriteByte(')')
	}
	if e.RequestID != "" {
		b.WriteString(" (request id ")
		b.WriteString(e.RequestID)
		b.WriteByte(')')
	}
	return b.String()
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, crm.ErrNotFound) and its siblings match on Kind, and
// makes an unsupported error match errors.ErrUnsupported too.
func (e *Error) Is(target error) bool {
	switch t := target.(type) {
	case *kindSentinel:
		return t.kind == e.Kind
	}
	return target == errors.ErrUnsupported && e.Kind == KindUnsupported
}

// Retryable reports whether the request may succeed if sent again.
func (e *Error) Retryable() bool { return e.Kind.Retryable() }

// Remedy says what to do about the error.
func (e *Error) Remedy() string { return e.Kind.Remedy() }

type kindSentinel struct{ kind Kind }

func (s *kindSentinel) Error() string { return "crm: " + s.kind.String() }

// Sentinels for errors.Is. They match any *Error of the same Kind.
var (
	ErrUnauthorized   error = &kindSentinel{KindUnauthorized}
	ErrForbidden      error = &kindSentinel{KindForbidden}
	ErrNotFound       error = &kindSentinel{KindNotFound}
	ErrConflict       error = &kindSentinel{KindConflict}
	ErrDuplicate      error = &kindSentinel{KindDuplicate}
	ErrValidation     error = &kindSentinel{KindValidation}
	ErrRateLimited    error = &kindSentinel{KindRateLimited}
	ErrQuotaExhausted error = &kindSentinel{KindQuotaExhausted}
	ErrUnavailable    error = &kindSentinel{KindUnavailable}
	ErrUnsupported    error = &kindSentinel{KindUnsupported}
	ErrInvalidRequest error = &kindSentinel{KindInvalidRequest}
)

// KindOf returns the Kind of the first *Error in err's chain, or KindUnknown.
// A context cancellation or deadline is reported as KindUnknown: it is the
// caller's own decision, not the CRM's.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindUnknown
}

// IsRetryable reports whether err is an *Error whose kind is retryable.
func IsRetryable(err error) bool { return KindOf(err).Retryable() }

// KindForStatus is the default classification of an HTTP status code, for
// adapters to refine with the CRM's own error code.
func KindForStatus(status int) Kind {
	switch {
	case status == http.StatusUnauthorized:
		return KindUnauthorized
	case status == http.StatusForbidden:
		return KindForbidden
	case status == http.StatusNotFound, status == http.StatusGone:
		return KindNotFound
	case status == http.StatusConflict, status == http.StatusPreconditionFailed:
		return KindConflict
	case status == http.StatusTooManyRequests:
		return KindRateLimited
	case status == http.StatusBadRequest, status == http.StatusUnprocessableEntity:
		return KindValidation
	case status == http.StatusNotImplemented, status == http.StatusMethodNotAllowed:
		return KindUnsupported
	case status == http.StatusRequestTimeout, status == http.StatusLocked, status >= 500:
		return KindUnavailable
	case status >= 400:
		return KindInvalidRequest
	}
	return KindUnknown
}

// Errorf is a shorthand for building an *Error of the given kind with a
// formatted message, for drivers that detect a problem before any call.
func Errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}
