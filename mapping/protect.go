package mapping

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/crmkit/crmkit/crm"
)

// ProtectKind names a sensitivity policy.
type ProtectKind uint8

// The sensitivity policies.
const (
	ProtectNone ProtectKind = iota // the value flows as it is
	ProtectDrop                    // the value never leaves the application
	ProtectHash                    // the CRM gets a keyed hash of the value
	ProtectMask                    // the CRM gets the value with all but its last characters masked
)

func (k ProtectKind) String() string {
	switch k {
	case ProtectNone:
		return "none"
	case ProtectDrop:
		return "drop"
	case ProtectHash:
		return "hash"
	case ProtectMask:
		return "mask"
	}
	return "ProtectKind(" + strconv.Itoa(int(k)) + ")"
}

// past is the policy as an adjective: "dropped", "hashed", "masked".
func (k ProtectKind) past() string {
	switch k {
	case ProtectDrop:
		return "dropped"
	case ProtectHash:
		return "hashed"
	case ProtectMask:
		return "masked"
	}
	return k.String()
}

func parseProtectKind(s string) (ProtectKind, bool) {
	for _, k := range []ProtectKind{ProtectDrop, ProtectHash, ProtectMask} {
		if s == k.String() {
			return k, true
		}
	}
	return 0, false
}

// Protection is a rule's sensitivity policy: what of an application value
// may reach the CRM. It is applied inside [Map.ToCRM], after the rule's
// conversion and before the value is put in the output, so no write, log
// line or span that takes the map's output can see the raw value.
//
//   - Drop: the field never leaves the application. A dropped rule names no
//     CRM field; it is there so that the data-flow report shows the field
//     and the checks refuse any other rule that would send it.
//   - Hash: the CRM gets HMAC-SHA256 of the value under a key the host
//     supplies with [WithHashKey], as 64 lowercase hex digits. The same
//     value and key always give the same hash, so the CRM field can still be
//     matched on (a de-duplication key, a lookup), but the value cannot be
//     read back without the key. With FoldCase, text is trimmed and
//     lower-cased first, so that "Ada@Example.com " and "ada@example.com"
//     match.
//   - Mask: the CRM gets the text with every character but the last Keep
//     replaced by '*' ("*******6789"). When the text has 2×Keep characters
//     or fewer, every character is masked, so that a short value is never
//     shown whole.
//
// Hashed and masked values flow to the CRM only: a rule that protects a
// value cannot bring the protected form back into the application. Values
// that are not text are hashed or masked in their canonical text (a decimal
// as written, a date as YYYY-MM-DD, a date-time in RFC 3339 in UTC, a
// multi-select's elements joined by a unit separator). The zero Protection
// is none.
type Protection struct {
	Kind     ProtectKind
	Keep     int  // Mask: the characters left visible at the end
	FoldCase bool // Hash: trim and lower-case text before hashing
}

// Drop returns the policy that keeps a field in the application.
func Drop() Protection { return Protection{Kind: ProtectDrop} }

// Hash returns the keyed-hash policy. Pass foldCase to match text without
// regard to case and surrounding spaces.
func Hash(foldCase bool) Protection { return Protection{Kind: ProtectHash, FoldCase: foldCase} }

// Mask returns the policy that shows only the last keep characters.
func Mask(keep int) Protection { return Protection{Kind: ProtectMask, Keep: keep} }

// String describes the policy for reports.
func (p Protection) String() string {
	switch p.Kind {
	case ProtectNone:
		return "none"
	case ProtectDrop:
		return "dropped: never leaves the application"
	case ProtectHash:
		if p.FoldCase {
			return "keyed hash (HMAC-SHA256, case-folded)"
		}
		return "keyed hash (HMAC-SHA256)"
	case ProtectMask:
		return "masked: last " + strconv.Itoa(p.Keep) + " characters kept"
	}
	return p.Kind.String()
}

// fate says what the CRM receives, for the report: "sent to X " + fate.
func (p Protection) fate() string {
	switch p.Kind {
	case ProtectHash:
		return "as a " + p.String()
	case ProtectMask:
		return "masked, with the last " + strconv.Itoa(p.Keep) + " characters kept"
	}
	return p.String()
}

// hashLen is the length of a hashed value: SHA-256 in hex.
const hashLen = 2 * sha256.Size

// minHashKey is the shortest hash key WithHashKey accepts.
const minHashKey = 16

// protect applies p to a non-nil value. h is an HMAC keyed with the host's
// key, reset by the caller's pool.
func (p Protection) protect(v any, h hash.Hash) string {
	s := canonical(v)
	switch p.Kind {
	case ProtectHash:
		if p.FoldCase {
			s = strings.ToLower(strings.TrimSpace(s))
		}
		h.Reset()
		h.Write([]byte(s))
		var sum [sha256.Size]byte
		return hex.EncodeToString(h.Sum(sum[:0]))
	case ProtectMask:
		return mask(s, p.Keep)
	}
	return ""
}

// mask replaces every character but the last keep with '*', or every
// character when the text is short enough that keep would reveal too much.
func mask(s string, keep int) string {
	n := utf8.RuneCountInString(s)
	if keep < 0 || n <= 2*keep {
		keep = 0
	}
	var b strings.Builder
	b.Grow(len(s))
	i := 0
	for _, r := range s {
		if i < n-keep {
			b.WriteByte('*')
		} else {
			b.WriteRune(r)
		}
		i++
	}
	return b.String()
}

// canonical is the text a protection works on.
func canonical(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case crm.Decimal:
		return x.String()
	case crm.Date:
		return x.String()
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []string:
		return strings.Join(x, "\x1f")
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

// newHMAC returns an HMAC-SHA256 keyed with key.
func newHMAC(key []byte) hash.Hash { return hmac.New(sha256.New, key) }
