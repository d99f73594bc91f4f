package httpx

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"
)

// redacted is what every secret is replaced with.
const redacted = "[REDACTED]"

// The patterns below are compiled once and never changed: they are constants
// in all but syntax. Each one keeps the name of what it hides (the header,
// the parameter, the JSON key) so that a redacted message still says what was
// there.
var (
	// PEM private keys, including a key cut off before its END line (a
	// clipped body must not leak the first half of a key).
	pemKeyRE = regexp.MustCompile(`(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\z)`)

	// Header lines and header-like pairs whose whole value is a credential,
	// whatever the scheme: "Authorization: Zoho-oauthtoken x", "Cookie: sid=x".
	headerRE = regexp.MustCompile(`(?i)\b((?:proxy-)?authorization|x-api-key|api-key|set-cookie|cookie)("?\s*[:=]\s*"?)[^\r\n"]+`)

	// Bearer and Basic credentials anywhere in free text.
	// The token runs to the next space or delimiter: Salesforce's access
	// tokens hold a "!", which RFC 6750's token characters do not.
	schemeRE = regexp.MustCompile(`(?i)\b(bearer|basic)(\s+)[^\s"',;<>]+`)

	// JSON string values of secret-bearing keys, also when the JSON is
	// itself quoted inside a string (\"password\":\"x\").
	jsonRE = regexp.MustCompile(`(?i)("[A-Za-z0-9_.\-]*(?:token|secret|password|passwd|assertion|api_?key|session_?id)"\s*:\s*")(?:[^"\\]|\\.)*`)
	// The escaped form stops at the first backslash; a token holding one is
	// partly hidden, never wholly shown.
	jsonEscRE = regexp.MustCompile(`(?i)(\\"[A-Za-z0-9_.\-]*(?:token|secret|password|passwd|assertion|api_?key|session_?id)\\"\s*:\s*\\")[^"\\]*`)

	// key=value pairs in query strings, form bodies and free text. "code" and
	// "sid" are matched only as whole keys (an OAuth authorization code, a
	// Salesforce session cookie), so "error_code=..." stays readable.
	pairRE = regexp.MustCompile(`(?i)(\b[A-Za-z0-9_.\-]*(?:token|secret|password|passwd|assertion|api_?key|session_?id)|\bcode|\bsid)(\s*=\s*)[^&\s"'<>#;,]*`)

	// Salesforce session ids: an org id (00D + 12 or 15 characters), "!",
	// then the session part.
	sfSessionRE = regexp.MustCompile(`\b00D[A-Za-z0-9]{12,15}![A-Za-z0-9.\-_~+/=]+`)
)

// Redact removes secrets from free text before it can reach an error, a log
// line or a span: Bearer and Basic credentials; Authorization, API-key and
// cookie header values; access_token=, refresh_token=, client_secret=,
// password=, assertion=, code= (and any key ending in token, secret, password,
// assertion or api_key) in query strings and form bodies; the JSON values of
// such keys; Salesforce session ids (00D...!...); and PEM private keys. Each
// is replaced with "[REDACTED]", keeping the name of what was hidden.
//
// CRMs echo credentials back in surprising places (an invalid-token message, a
// login fault, a token endpoint's error body), so crmkit passes every body it
// quotes through Redact. Redact errs on the side of hiding: a page token or a
// cursor named like a secret is hidden too.
func Redact(s string) string {
	if s == "" {
		return s
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = pemKeyRE.ReplaceAllLiteralString(s, redacted)
	s = headerRE.ReplaceAllString(s, "${1}${2}"+redacted)
	s = schemeRE.ReplaceAllStringFunc(s, redactScheme)
	s = jsonRE.ReplaceAllString(s, "${1}"+redacted)
	s = jsonEscRE.ReplaceAllString(s, "${1}"+redacted)
	s = pairRE.ReplaceAllString(s, "${1}${2}"+redacted)
	s = sfSessionRE.ReplaceAllLiteralString(s, redacted)
	return s
}

// redactScheme keeps "Bearer " and hides what follows, unless what follows is
// already the redaction marker's remains.
func redactScheme(m string) string {
	sub := schemeRE.FindStringSubmatch(m)
	return sub[1] + sub[2] + redacted
}

// RedactURL returns u as text without its user info, query and fragment:
// those are where URLs carry tokens, session ids and record ids. It is what
// crmkit prints wherever a URL would otherwise appear.
func RedactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	if c.Scheme == "" && c.Host == "" {
		return Redact(c.Path)
	}
	return Redact(c.String())
}

// redactRawURL is RedactURL for a URL held as text, such as the one inside
// a *url.Error.
func redactRawURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		// Keep nothing past the first '?' or '#', and no user info.
		if i := strings.IndexAny(raw, "?#"); i >= 0 {
			raw = raw[:i]
		}
		if i := strings.LastIndex(raw, "@"); i >= 0 {
			if j := strings.Index(raw, "://"); j >= 0 && j < i {
				raw = raw[:j+3] + raw[i+1:]
			}
		}
		return Redact(raw)
	}
	return RedactURL(u)
}

// redactedError is a transport error whose text has been cleaned: the URL is
// stripped of query and user info, and secrets in the rest are redacted. It
// unwraps to the cause inside net/http's *url.Error (never to the *url.Error
// itself, whose text holds the full URL), so errors.Is(err,
// context.DeadlineExceeded) and errors.As(err, &netErr) keep working.
type redactedError struct {
	msg   string
	cause error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.cause }

// Timeout reports whether the cause was a timeout, as *url.Error does.
func (e *redactedError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.cause, &t) && t.Timeout()
}

// redactError returns err with its text cleaned of URLs' queries and user
// info and of secrets. A nil err stays nil.
func redactError(err error) error {
	if err == nil {
		return nil
	}
	if ue, ok := err.(*url.Error); ok {
		msg := ue.Op + " " + redactRawURL(ue.URL)
		if ue.Err != nil {
			msg += ": " + Redact(ue.Err.Error())
		}
		return &redactedError{msg: msg, cause: cleanChain(ue.Err)}
	}
	msg := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) && ue.URL != "" {
		msg = strings.ReplaceAll(msg, ue.URL, redactRawURL(ue.URL))
	}
	if red := Redact(msg); red != err.Error() {
		return &redactedError{msg: red, cause: cleanChain(errors.Unwrap(err))}
	}
	return err
}

// cleanChain returns err itself when its text holds nothing to redact, and
// otherwise a redacted stand-in that unwraps to the (cleaned) rest of the
// chain. The chain a caller can reach with errors.Unwrap then never prints a
// secret either.
func cleanChain(err error) error {
	if err == nil {
		return nil
	}
	text := err.Error()
	if Redact(text) == text {
		if _, isURL := err.(*url.Error); !isURL {
			return err
		}
	}
	return redactError(err)
}

// clip shortens s to at most n bytes, on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…(clipped)"
}
