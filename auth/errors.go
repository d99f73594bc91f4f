package auth

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnauthorized is matched (errors.Is) by every error that means the
// credentials themselves were refused: a wrong client secret, an expired or
// badly signed assertion, a revoked refresh token. Retrying will not help;
// someone has to fix the credentials.
var ErrUnauthorized = errors.New("auth: credentials refused")

// RetrieveError is a failure from a token endpoint, or a flow that could not
// even ask one. Its Error names the flow, the server's error code and
// description and the likely fix, and never contains a token, a secret, an
// assertion or key material: descriptions are clipped and any credential the
// request carried is replaced with [REDACTED].
type RetrieveError struct {
	// Flow names the flow, such as "salesforce JWT bearer".
	Flow string
	// StatusCode is the HTTP status of the token endpoint's answer (0 when
	// no answer arrived).
	StatusCode int
	// ErrorCode is the OAuth error code (invalid_grant, invalid_client, ...)
	// or the provider's own (HubSpot's BAD_REFRESH_TOKEN).
	ErrorCode string
	// ErrorDescription is the server's explanation, clipped and scrubbed.
	ErrorDescription string
	// Hint says what to change to make the flow work.
	Hint string
	// Err is the underlying cause, for a transport failure.
	Err error

	unauthorized bool
}

func (e *RetrieveError) Error() string {
	var b strings.Builder
	b.WriteString("auth: ")
	b.WriteString(e.Flow)
	switch {
	case e.StatusCode != 0:
		fmt.Fprintf(&b, ": token endpoint answered %d", e.StatusCode)
	case e.Err != nil:
		b.WriteString(": token request failed")
	default:
		b.WriteString(": cannot get a token")
	}
	if e.ErrorCode != "" {
		b.WriteString(" ")
		b.WriteString(e.ErrorCode)
	}
	if e.ErrorDescription != "" {
		b.WriteString(": ")
		b.WriteString(e.ErrorDescription)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Hint != "" {
		b.WriteString(" (fix: ")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the transport error, if any.
func (e *RetrieveError) Unwrap() error { return e.Err }

// Unauthorized reports whether the server refused the credentials (as
// opposed to being unreachable or failing), so that the caller should stop
// and surface the error to whoever owns the credentials.
func (e *RetrieveError) Unauthorized() bool { return e.unauthorized }

// Is makes errors.Is(err, ErrUnauthorized) true for refused credentials.
func (e *RetrieveError) Is(target error) bool { return target == ErrUnauthorized && e.unauthorized }

// IsUnauthorized reports whether err, anywhere in its chain, says the
// credentials were refused.
func IsUnauthorized(err error) bool { return errors.Is(err, ErrUnauthorized) }

// unauthorizedCodes are the error codes that mean the credentials, not the
// server, are at fault: RFC 6749's, Salesforce's and HubSpot's.
var unauthorizedCodes = map[string]bool{
	"invalid_client": true, "invalid_grant": true, "unauthorized_client": true,
	"invalid_client_id": true, "invalid_client_credentials": true, "access_denied": true,
	"BAD_CLIENT_ID": true, "BAD_CLIENT_SECRET": true, "BAD_REFRESH_TOKEN": true,
	"BAD_AUTH_CODE": true, "BAD_REDIRECT_URI": true,
}

// scrub replaces every non-empty secret in s with [REDACTED] and clips s.
func scrub(s string, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[REDACTED]")
		}
	}
	const max = 600
	if len(s) > max {
		s = s[:max] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
