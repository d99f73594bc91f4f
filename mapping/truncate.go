package mapping

import (
	"context"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/crmkit/crmkit/crm"
)

// Overflow says what [Truncate] does with text longer than its destination.
type Overflow uint8

// The choices for text that is too long.
const (
	OverflowWarn  Overflow = iota // cut it to length and log a warning (the default)
	OverflowError                 // fail the field, so the record goes to dead letters
)

func (o Overflow) String() string {
	switch o {
	case OverflowWarn:
		return "warn"
	case OverflowError:
		return "error"
	}
	return "Overflow(" + strconv.Itoa(int(o)) + ")"
}

func parseOverflow(s string) (Overflow, bool) {
	switch s {
	case "warn":
		return OverflowWarn, true
	case "error":
		return OverflowError, true
	}
	return 0, false
}

// Truncate fits text to the length of its destination, in characters: to
// Length, or to the CRM field's described length when Length is 0, on the
// way to the CRM, and to the application field's declared length (if any)
// on the way back. Text that fits passes unchanged, so the conversion
// round-trips every value that fits. With OverflowWarn, longer text is cut
// on a character boundary and a warning logged; with OverflowError, it fails
// the field.
type Truncate struct {
	Length   int // characters; 0 means the CRM field's described length
	Overflow Overflow
}

// ToCRM fits v to Length (an unbound Truncate knows no described length).
func (t Truncate) ToCRM(_ context.Context, v any) (any, error) {
	return fit(v, t.Length, t.Overflow, "the CRM field")
}

// FromCRM passes v unchanged: an unbound Truncate knows no application length.
func (t Truncate) FromCRM(_ context.Context, v any) (any, error) { return v, nil }

func (t Truncate) String() string {
	if t.Length == 0 {
		return fmt.Sprintf("truncate to the described length (%s)", t.Overflow)
	}
	return fmt.Sprintf("truncate to %d characters (%s)", t.Length, t.Overflow)
}

// Bind takes the lengths from the fields.
func (t Truncate) Bind(b Binding) (Conversion, error) {
	if t.Length < 0 {
		return nil, b.Problem(CodeConversion, fmt.Sprintf("truncate length %d is negative", t.Length), "give a positive length, or 0 for the CRM field's described length")
	}
	if t.Overflow > OverflowError {
		return nil, b.Problem(CodeInvalid, fmt.Sprintf("%s is not a choice for overflow", t.Overflow), "use warn or error")
	}
	bt := &truncate{spec: t, toLen: t.Length, fromLen: b.App.Length, to: b.crmName(), from: b.appName()}
	if !b.schemaKnown() {
		return bt, nil
	}
	if b.appKind() != crm.ValueString || b.crmKind() != crm.ValueString {
		return nil, b.mismatch("truncate", "text (string) on both sides; put a conversion to text before it in a chain")
	}
	if bt.toLen == 0 {
		bt.toLen = b.CRM.Length
	}
	if bt.toLen == 0 && b.Dir.has(ToCRM) {
		return nil, b.Problem(CodeConversion, fmt.Sprintf("%s describes no length to truncate to", b.crmName()),
			`give the length ("length": 255), or remove the truncate`)
	}
	if b.CRM.Length > 0 && bt.toLen > b.CRM.Length {
		return nil, b.Problem(CodeLengthOverflow,
			fmt.Sprintf("truncate keeps %d characters but %s holds %d", bt.toLen, b.crmName(), b.CRM.Length),
			fmt.Sprintf("set length to %d or less, or 0 for the described length", b.CRM.Length))
	}
	bt.desc = fmt.Sprintf("truncate to %d characters (%s)", bt.toLen, t.Overflow)
	return bt, nil
}

// truncate is a bound Truncate.
type truncate struct {
	spec           Truncate
	toLen, fromLen int
	to, from       string
	desc           string
}

func (t *truncate) ToCRM(_ context.Context, v any) (any, error) {
	return fit(v, t.toLen, t.spec.Overflow, t.to)
}

func (t *truncate) FromCRM(_ context.Context, v any) (any, error) {
	return fit(v, t.fromLen, t.spec.Overflow, t.from)
}

func (t *truncate) String() string {
	if t.desc != "" {
		return t.desc
	}
	return t.spec.String()
}

// fit cuts text to n characters (no limit when n is 0).
func fit(v any, n int, o Overflow, dest string) (any, error) {
	s, ok := v.(string)
	if !ok {
		return nil, invalidf("truncate takes text, not a %T", v)
	}
	if n <= 0 || len(s) <= n { // bytes >= characters, so this fits
		return s, nil
	}
	count := utf8.RuneCountInString(s)
	if count <= n {
		return s, nil
	}
	if o == OverflowError {
		return nil, invalidf("the text is %d characters, more than the %d %s holds: shorten it, or set overflow to warn to truncate it", count, n, dest)
	}
	cut, i := 0, 0
	for i = range s {
		if cut == n {
			break
		}
		cut++
	}
	return s[:i], &Warning{Message: fmt.Sprintf("truncated text of %d characters to the %d %s holds", count, n, dest)}
}
