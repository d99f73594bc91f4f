package httpx

import (
	"cmp"
	"errors"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/errchain"
)

// redacted is what every secret is replaced with.
const redacted = "[REDACTED]"

// secretKey matches the names of keys whose values are secrets: any name
// ending in token, secret, password, assertion, api key, session id or
// private key ("access_token", "client_secret", "hapikey", "sessionId").
const (
	secretKey  = `[A-Za-z0-9_.\-]*` + secretStem
	secretStem = `(?:token|secret|password|passwd|assertion|api[_\-]?key|session_?id|private_?key)`
)

// keySeparator separates a key from its value: = or :, also URL-encoded.
const keySeparator = `[ \t]*(?:[:=]|%3[Aa]|%3[Dd])[ \t]*`

// key matches name as a key, bare or quoted (also with escaped quotes, as in
// JSON inside a JSON string): the first group is the opening quote, the
// second the closing one. A closing quote alone does not make a key (see
// keySpans).
func key(name string) string {
	return `(\\*["'])?\b` + name + `(\\*["'])?` + keySeparator
}

// The patterns below are compiled once and never changed: they are constants
// in all but syntax. Those that find a key leave the key alone and hide the
// value after it, so that a redacted message still says what was there.
var (
	// PEM private keys, including a key cut off before its END line (a
	// clipped body must not leak the first half of a key).
	pemKeyRE = regexp.MustCompile(`(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\z)`)

	// JSON Web Tokens on their own: OAuth access tokens, id tokens and JWT
	// bearer assertions, whatever key (if any) they come under.
	jwtRE = regexp.MustCompile(`\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*`)

	// HubSpot private app access tokens: pat-na1-..., pat-eu1-...
	hubspotPATRE = regexp.MustCompile(`\bpat-[a-z]{2}[0-9]+-[A-Za-z0-9\-]{8,}`)

	// Salesforce session ids: an org id (00D + 12 or 15 characters), "!"
	// (or its URL encoding), then the session part.
	sfSessionRE = regexp.MustCompile(`\b00D[A-Za-z0-9]{12,15}(?:!|%21)[A-Za-z0-9.\-_~+/=%]+`)

	// User info in a URL within free text: https://user:password@host.
	userinfoRE = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.\-]*://([^/?#\s@"'<>]+)@`)

	// Bearer and Basic credentials anywhere in free text, also URL-encoded
	// ("Bearer+x"). What follows the scheme must look like a credential
	// (see tokenLike), so that "Basic authentication is not enabled" and
	// "invalid Bearer token" stay readable.
	schemeRE = regexp.MustCompile(`(?i)\b(bearer|basic)(?:\s+|\+|%20)([A-Za-z0-9._~+/=!\-]+)`)

	// Keys of secrets in query strings, form bodies, JSON (also JSON quoted
	// inside a string), Python and YAML renderings, and free text:
	// password=x, password: x, "password":"x", 'password': 'x',
	// \"password\":\"x\".
	//
	// The pattern is anchored at the stem that ends the key ("token" in
	// "access_token"); secretKeySpans tries it where a substring search
	// found a stem, and walks back to the key's start: much cheaper than a
	// pattern that runs over the whole text starting with the key's free
	// prefix.
	secretKeyRE = regexp.MustCompile(`(?i)^` + secretStem + `(\\*["'])?` + keySeparator)

	// "code" and "sid" count only as whole keys with "=" (an OAuth
	// authorization code, a Salesforce session cookie), so "error_code=..."
	// and "status code: 400" stay readable.
	codeKeyRE = regexp.MustCompile(`(?i)\b(?:code|sid)[ \t]*=[ \t]*`)

	// Headers, and header-like keys, whose whole value is a credential,
	// whatever the scheme: "Authorization: Zoho-oauthtoken x", "Cookie: sid=x",
	// `"Authorization": ["Bearer x"]`, map[Authorization:[Bearer x]].
	headerKeyRE = regexp.MustCompile(`(?i)` + key(`(?:(?:proxy-)?authorization|x-api-key|api-key|set-cookie|cookie)`))

	// XML elements named like a secret: <password>x</password>,
	// <sf:sessionId>x</sf:sessionId>. The first group is the element's
	// content.
	xmlRE = regexp.MustCompile(`(?i)<(?:[A-Za-z0-9_.\-]+:)?` + secretKey + `(?:\s[^>]*)?>([^<]*)`)

	// Values after a key. Of a quoted value only what is inside the quotes
	// is hidden (the first group), so that a redacted JSON document is
	// still JSON; a string cut off before its closing quote is hidden to
	// its end, and one inside an escaped JSON document (\"x\", \\\"x\\\")
	// up to the next backslash.
	doubleQuotedRE  = regexp.MustCompile(`^"((?:[^"\\]|\\.)*)`)
	singleQuotedRE  = regexp.MustCompile(`^'([^'\r\n]*)`)
	escapedQuotedRE = regexp.MustCompile(`^\\+"([^"\\]*)`)
	bareValueRE     = regexp.MustCompile(`^[^&\s"'<>\\]+`)
	// A header's value runs to the end of its line; one rendered as a Go
	// or JSON list ([...]) is hidden to the list's end.
	headerValueRE = regexp.MustCompile(`^(?:\[[^\]\r\n]*\]?|[^\r\n"\\]+)`)
)

// Redact removes secrets from free text before it can reach an error, a log
// line or a span: Bearer and Basic credentials; Authorization, API-key and
// cookie header values; the values of access_token, refresh_token,
// client_secret, password, assertion (and any key ending in token, secret,
// password, assertion, api key, session id or private key) whether written
// key=value, key: value, "key":"value", 'key': 'value', \"key\":\"value\" or
// <key>value</key>; code= and sid=; user info in URLs; JSON Web Tokens;
// HubSpot private app tokens (pat-...); Salesforce session ids (00D...!...);
// and PEM private keys. Each is replaced with "[REDACTED]", keeping the name
// of what was hidden.
//
// Every rule looks at the original text, and the secrets all of them find
// are hidden together, so that no rule can hide a key that another rule
// needed to find its value.
//
// CRMs echo credentials back in surprising places (an invalid-token message, a
// login fault, a token endpoint's error body), so crmkit passes every body it
// quotes through Redact. Redact errs on the side of hiding: a page token or a
// cursor named like a secret is hidden too. It is idempotent.
func Redact(s string) string {
	if s == "" {
		return s
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	// A hidden secret can end a bare value short ("key=x" then a PEM key
	// glued to it); another pass then hides the rest of the value. Passes
	// only ever hide more, and two or three reach the fixed point.
	for range 8 {
		out := redactOnce(s)
		if out == s {
			break
		}
		s = out
	}
	return s
}

// redactOnce is one pass of Redact: every rule on the same text. Each rule
// runs only when the text holds a word the rule cannot match without, since
// most texts hold no secret at all and a pattern costs far more than a
// substring search.
func redactOnce(s string) string {
	var spans []span
	add := func(start, end int) {
		if end > start {
			spans = append(spans, span{start, end})
		}
	}
	lower := asciiLower(s) // same byte offsets as s
	for _, r := range []struct {
		re   *regexp.Regexp
		stem string
	}{{pemKeyRE, "PRIVATE KEY-----"}, {jwtRE, "eyJ"}, {hubspotPATRE, "pat-"}, {sfSessionRE, "00D"}} {
		if strings.Contains(s, r.stem) {
			for _, m := range r.re.FindAllStringIndex(s, -1) {
				add(m[0], m[1])
			}
		}
	}
	if strings.Contains(s, "@") && strings.Contains(s, "://") {
		for _, m := range userinfoRE.FindAllStringSubmatchIndex(s, -1) {
			add(m[2], m[3])
		}
	}
	if strings.Contains(s, "<") && containsAny(lower, secretStems...) {
		for _, m := range xmlRE.FindAllStringSubmatchIndex(s, -1) {
			add(m[2], m[3])
		}
	}
	if strings.Contains(lower, "bearer") || strings.Contains(lower, "basic") {
		schemeSpans(s, add)
	}
	if containsAny(lower, secretStems...) {
		secretKeySpans(s, lower, add)
	}
	if strings.Contains(s, "=") && (strings.Contains(lower, "code") || strings.Contains(lower, "sid")) {
		for _, m := range codeKeyRE.FindAllStringIndex(s, -1) {
			add(valueSpan(s, m[1], bareValueRE))
		}
	}
	if containsAny(lower, "authorization", "api-key", "cookie") {
		keySpans(s, headerKeyRE, headerValueRE, add)
	}
	return hide(s, spans)
}

// secretStems are words that secretKey cannot match without, in lower case:
// a cheap test that spares most texts the costlier key pattern.
var secretStems = []string{"token", "secret", "passw", "assertion", "key", "session"}

// secretKeySpans adds the value after each key named like a secret. The
// key is a stem that secretKeyRE matches and the name characters before it;
// like any key it may be quoted, but a closing quote alone does not make a
// key (see keySpans).
func secretKeySpans(s, lower string, add func(start, end int)) {
	for _, first := range stemStarts {
		for from := 0; ; {
			i := strings.Index(lower[from:], first)
			if i < 0 {
				break
			}
			at := from + i
			from = at + len(first)
			m := secretKeyRE.FindStringSubmatchIndex(s[at:])
			if m == nil {
				continue
			}
			start := at
			for start > 0 && isKeyByte(s[start-1]) {
				start--
			}
			if closed := m[2] >= 0; closed && !quoteBefore(s, start) {
				continue
			}
			add(valueSpan(s, at+m[1], bareValueRE))
		}
	}
}

// asciiLower lowers the ASCII letters of s and leaves every other byte
// alone, so that an offset into the result is the same offset into s
// (strings.ToLower may change the length of some non-ASCII letters).
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// stemStarts are the beginnings of secretStem's words, in lower case.
var stemStarts = []string{"token", "secret", "passw", "assertion", "api", "session", "private"}

// quoteBefore reports whether a quote (possibly escaped) ends at s[:i].
func quoteBefore(s string, i int) bool {
	return i > 0 && (s[i-1] == '"' || s[i-1] == '\'')
}

// isKeyByte reports whether c may be part of a key's name.
func isKeyByte(c byte) bool {
	return c == '.' || c == '-' || isWordByte(c)
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// keySpans adds the value after each key that re (built with key) finds in
// s. A key with a closing quote and no opening one is no key: the URL in
// Post "https://login.example/token": EOF ends in "token", but nothing
// follows it that is a secret.
func keySpans(s string, re, value *regexp.Regexp, add func(start, end int)) {
	for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
		opened, closed := m[2] >= 0, m[4] >= 0
		if closed && !opened {
			continue
		}
		add(valueSpan(s, m[1], value))
	}
}

// span is a secret's place in a text, [start, end).
type span struct{ start, end int }

// hide replaces every span of s with the marker; spans that overlap or
// touch become one marker.
func hide(s string, spans []span) string {
	if len(spans) == 0 {
		return s
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.start, b.start) })
	var b strings.Builder
	b.Grow(len(s))
	at := 0 // s[:at] is written
	for i := 0; i < len(spans); {
		start, end := spans[i].start, spans[i].end
		for i++; i < len(spans) && spans[i].start <= end; i++ {
			end = max(end, spans[i].end)
		}
		b.WriteString(s[at:start])
		b.WriteString(redacted)
		at = end
	}
	b.WriteString(s[at:])
	return b.String()
}

// valueSpan returns where the value that begins at s[at:] lies: inside its
// quotes when it is quoted, otherwise as far as bare matches.
func valueSpan(s string, at int, bare *regexp.Regexp) (start, end int) {
	rest := s[at:]
	if rest == "" {
		return at, at
	}
	var re *regexp.Regexp
	switch rest[0] {
	case '"':
		re = doubleQuotedRE
	case '\'':
		re = singleQuotedRE
	case '\\':
		re = escapedQuotedRE
	}
	if re != nil {
		if m := re.FindStringSubmatchIndex(rest); m != nil {
			return at + m[2], at + m[3]
		}
	}
	if m := bare.FindStringIndex(rest); m != nil {
		return at, at + m[1]
	}
	return at, at
}

// schemeSpans adds the credential after each "Bearer " or "Basic " that is
// followed by one (see tokenLike), and leaves prose alone. The search goes
// on right after each scheme's name, so that "Bearer Basic
// dXNlcjpwYXNzd29yZA==" and "Basic x=Bearer S3cr3t" lose every credential.
func schemeSpans(s string, add func(start, end int)) {
	for i := 0; i < len(s); {
		m := schemeRE.FindStringSubmatchIndex(s[i:])
		if m == nil {
			return
		}
		nameEnd, tokStart, tokEnd := i+m[3], i+m[4], i+m[5]
		if !tokenLike(s[tokStart:tokEnd]) {
			i = nameEnd
			continue
		}
		add(tokStart, tokEnd)
		i = nameEnd // a scheme inside this credential's run is looked at too
	}
}

// tokenLike reports whether s, a run of token characters, looks like a
// credential rather than a word: at least 8 characters, and either a digit,
// a symbol or a capital letter after the first character, or so long (24 or
// more) that it is no word.
func tokenLike(s string) bool {
	if len(s) < 8 {
		return false
	}
	if len(s) >= 24 {
		return true
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
		case c >= 'A' && c <= 'Z':
			if i > 0 {
				return true
			}
		default:
			return true
		}
	}
	return false
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

// redactedError stands in for an error whose text held a secret or a URL's
// query. Its text is the original's, redacted; it unwraps to the redacted
// stand-in of the original's cause, and redactedJoin does the same for an
// error with several causes (errors.Join), so that the chain keeps its shape
// and a program walking it never prints a secret either.
//
// errors.Is asks the original, so sentinels anywhere in its chain still
// match. errors.As reaches the original error's own type (an auth library's
// error type, say), and, through the chain, the redacted versions of its
// causes: a *crm.Error or *url.Error found there is a clean copy. The
// original's fields are as they were, so print an error reached by As only
// through [RedactError].
type redactedError struct {
	cleanText
	cause error
}

func (e *redactedError) Unwrap() error { return e.cause }

// redactedJoin is redactedError for an error with several causes.
type redactedJoin struct {
	cleanText
	causes []error
}

func (e *redactedJoin) Unwrap() []error { return e.causes }

// cleanText is what both stand-ins share: the redacted text and the
// original error.
type cleanText struct {
	msg  string
	orig error
}

func (e *cleanText) Error() string { return e.msg }

// Is reports whether the original error's chain matches target.
func (e *cleanText) Is(target error) bool { return errors.Is(e.orig, target) }

// As sets target to the original error when its type fits target: only the
// original itself, since its causes are reached, redacted, through Unwrap.
func (e *cleanText) As(target any) bool {
	tv := reflect.ValueOf(target)
	if tv.Kind() != reflect.Pointer || tv.IsNil() {
		return false
	}
	if ov := reflect.ValueOf(e.orig); ov.Type().AssignableTo(tv.Type().Elem()) {
		tv.Elem().Set(ov)
		return true
	}
	if as, ok := e.orig.(interface{ As(any) bool }); ok {
		return as.As(target)
	}
	return false
}

// RedactError returns err with every secret gone from its text and from the
// text of every error its chain reaches, and with the URL of every
// *url.Error in the chain cut to scheme, host and path. What callers inspect
// is kept: a *crm.Error stays a *crm.Error of the same Kind (its Message,
// Code, RequestID and cause redacted), a *url.Error stays a *url.Error,
// errors.Is still finds the original's sentinels (context.Canceled,
// syscall.ECONNREFUSED), and errors.Join trees keep their shape. An error
// with nothing to hide is returned as it is; nil stays nil.
//
// Use it on errors from [Client.HTTPClient]; [Client.Do] applies it already.
func RedactError(err error) error { return redactError(err) }

func redactError(err error) error {
	out, _ := redactErr(err, 0)
	return out
}

// redactErr redacts err and reports whether the result differs from err.
// (Errors are not compared with ==: some error types are not comparable.)
func redactErr(err error, depth int) (error, bool) {
	if err == nil {
		return nil, false
	}
	if depth >= errchain.Max {
		// A chain this deep is cyclic or absurd: keep only its text.
		return &redactedError{cleanText: cleanText{msg: Redact(err.Error()), orig: err}}, true
	}
	switch e := err.(type) {
	case *crm.Error:
		cp := *e
		cp.Message, cp.Code, cp.RequestID = Redact(e.Message), Redact(e.Code), Redact(e.RequestID)
		cause, changed := redactErr(e.Err, depth+1)
		cp.Err = cause
		if !changed && cp.Message == e.Message && cp.Code == e.Code && cp.RequestID == e.RequestID {
			return err, false
		}
		return &cp, true
	case *url.Error:
		cause, _ := redactErr(e.Err, depth+1)
		return &url.Error{Op: e.Op, URL: redactRawURL(e.URL), Err: cause}, true
	}

	text := err.Error()
	msg := Redact(withRedactedURLs(text, err))
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		causes := u.Unwrap()
		cleaned := make([]error, len(causes))
		changed := false
		for i, c := range causes {
			var ch bool
			cleaned[i], ch = redactErr(c, depth+1)
			changed = changed || ch
		}
		if msg == text && !changed {
			return err, false
		}
		return &redactedJoin{cleanText: cleanText{msg: msg, orig: err}, causes: cleaned}, true
	case interface{ Unwrap() error }:
		cause, changed := redactErr(u.Unwrap(), depth+1)
		if msg == text && !changed {
			return err, false
		}
		return &redactedError{cleanText: cleanText{msg: msg, orig: err}, cause: cause}, true
	}
	if msg == text {
		return err, false
	}
	return &redactedError{cleanText: cleanText{msg: msg, orig: err}}, true
}

// withRedactedURLs replaces, in text, the URL of every *url.Error in err's
// chain (as *url.Error prints it, quoted, and bare) with its redacted form.
func withRedactedURLs(text string, err error) string {
	for _, e := range errchain.Walk(err) {
		ue, ok := e.(*url.Error)
		if !ok || ue.URL == "" {
			continue
		}
		clean := redactRawURL(ue.URL)
		text = strings.ReplaceAll(text, strconv.Quote(ue.URL), strconv.Quote(clean))
		text = strings.ReplaceAll(text, ue.URL, clean)
	}
	return text
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
