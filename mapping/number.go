package mapping

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/crmkit/crmkit/crm"
)

// Number converts exactly between the number kinds (int64, crm.Decimal) and
// their text, in whichever direction the fields need: an application's
// "42" into a CRM integer, a CRM decimal into an application's text column,
// an application int64 into a CRM decimal. Nothing passes through a float,
// and nothing is rounded: a decimal with a fraction does not become an
// integer, and a decimal with more digits after the point than the CRM field
// keeps is an error (use [Currency] with Round to round on purpose).
//
// Text is read with surrounding spaces trimmed and written in plain
// notation, keeping a decimal's scale ("12.50" stays "12.50").
type Number struct{}

// ToCRM converts v to a decimal (from text or an int64) or to text (from a
// number). [New] binds it to the fields' kinds.
func (Number) ToCRM(_ context.Context, v any) (any, error) {
	if crm.ValueKindOf(v) == crm.ValueString {
		return toNumber(v, crm.ValueDecimal)
	}
	return toNumber(v, crm.ValueString)
}

// FromCRM converts as ToCRM does.
func (n Number) FromCRM(ctx context.Context, v any) (any, error) { return n.ToCRM(ctx, v) }

func (Number) String() string { return "number" }

var numberKinds = []crm.ValueKind{crm.ValueString, crm.ValueInt64, crm.ValueDecimal}

// Bind checks that both sides hold numbers or text.
func (n Number) Bind(b Binding) (Conversion, error) {
	if !b.schemaKnown() {
		return n, nil
	}
	if !slices.Contains(numberKinds, b.appKind()) || !slices.Contains(numberKinds, b.crmKind()) {
		return nil, b.mismatch("number", "text, int64 and decimal on either side")
	}
	return &number{app: b.appKind(), crm: b.crmKind(), scale: decimalScale(b.CRM), dest: b.crmName()}, nil
}

// decimalScale returns the digits after the point a CRM decimal field keeps,
// or -1 when the field does not say.
func decimalScale(f crm.Field) int {
	if f.Type.Value() != crm.ValueDecimal || (f.Precision == 0 && f.Scale == 0) {
		return -1
	}
	return f.Scale
}

// number is a bound Number.
type number struct {
	app, crm crm.ValueKind
	scale    int // of the CRM field; -1 if not stated
	dest     string
}

func (n *number) ToCRM(_ context.Context, v any) (any, error) {
	out, err := toNumber(v, n.crm)
	if err != nil {
		return nil, err
	}
	if d, ok := out.(crm.Decimal); ok && n.scale >= 0 && int(d.Scale()) > n.scale && !d.Round(int32(n.scale)).Equal(d) {
		return nil, invalidf("the number has %d digits after the point but %s keeps %d: round it in the application, or use the currency conversion with round", d.Scale(), n.dest, n.scale)
	}
	return out, nil
}

func (n *number) FromCRM(_ context.Context, v any) (any, error) { return toNumber(v, n.app) }

func (n *number) String() string { return "number" }

// toNumber converts between text, int64 and Decimal exactly.
func toNumber(v any, want crm.ValueKind) (any, error) {
	switch x := v.(type) {
	case string:
		s := strings.TrimSpace(x)
		switch want {
		case crm.ValueString:
			return x, nil
		case crm.ValueInt64:
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, invalidf("the text is not a whole number that fits in 64 bits")
			}
			return n, nil
		case crm.ValueDecimal:
			d, err := crm.ParseDecimal(s)
			if err != nil {
				return nil, invalidf("the text is not a decimal number (want digits with an optional sign, point and exponent, such as -12.50)")
			}
			return d, nil
		}
	case int64:
		switch want {
		case crm.ValueString:
			return strconv.FormatInt(x, 10), nil
		case crm.ValueInt64:
			return x, nil
		case crm.ValueDecimal:
			return crm.NewDecimal(x, 0), nil
		}
	case int:
		return toNumber(int64(x), want)
	case int32:
		return toNumber(int64(x), want)
	case crm.Decimal:
		switch want {
		case crm.ValueString:
			return x.String(), nil
		case crm.ValueInt64:
			n, ok := x.Int64()
			if !ok {
				return nil, invalidf("the decimal has a fraction or does not fit in 64 bits, so it is not a whole number: map it to a decimal field")
			}
			return n, nil
		case crm.ValueDecimal:
			return x, nil
		}
	case float64, float32:
		return nil, invalidf("a %T is not an exact number: pass an int64, a crm.Decimal or text", v)
	default:
		return nil, invalidf("a number conversion takes text, an int64 or a crm.Decimal, not a %T", v)
	}
	return nil, invalidf("a number cannot become a %s", kindName(want))
}

// Currency carries money exactly. The CRM side is a decimal field
// (currency, decimal, percent); the application side holds a crm.Decimal,
// decimal text, or, with MinorUnits, an int64 count of the currency's minor
// units (cents: MinorUnits 2, so 1250 is 12.50).
//
// Amounts are never rounded unless Round is set: an amount with more digits
// after the point than the CRM field keeps (its described Scale) is an
// error, and so is a CRM amount that is not a whole number of minor units.
// With Round, such amounts are rounded half away from zero, in decimal. An
// amount whose whole part has more digits than the field's Precision allows
// is always an error. Floats are refused on both sides.
type Currency struct {
	MinorUnits int  // digits of minor units when the application holds an int64; 0 means whole units
	Round      bool // round to the field's scale (or to minor units) instead of failing
}

// ToCRM converts v to a crm.Decimal; unbound, it knows no field scale.
func (c Currency) ToCRM(ctx context.Context, v any) (any, error) {
	bc := &currency{spec: c, app: crm.ValueKindOf(v), scale: -1, precision: 0}
	return bc.ToCRM(ctx, v)
}

// FromCRM converts a crm.Decimal to the minor units (with MinorUnits) or
// leaves it a decimal.
func (c Currency) FromCRM(ctx context.Context, v any) (any, error) {
	app := crm.ValueDecimal
	if c.MinorUnits > 0 {
		app = crm.ValueInt64
	}
	bc := &currency{spec: c, app: app, scale: -1}
	return bc.FromCRM(ctx, v)
}

func (c Currency) String() string {
	s := "currency (exact decimal"
	if c.MinorUnits > 0 {
		s += fmt.Sprintf("; application holds minor units, %d digits", c.MinorUnits)
	}
	if c.Round {
		s += "; rounds half away from zero"
	}
	return s + ")"
}

// Bind takes the scale and precision from the CRM field.
func (c Currency) Bind(b Binding) (Conversion, error) {
	if c.MinorUnits < 0 || c.MinorUnits > 18 {
		return nil, b.Problem(CodeConversion, fmt.Sprintf("minor_units %d is out of range", c.MinorUnits), "use 0 to 18 (2 for cents)")
	}
	bc := &currency{spec: c, app: b.appKind(), scale: -1, dest: b.crmName()}
	if !b.schemaKnown() {
		return bc, nil
	}
	switch {
	case b.crmKind() != crm.ValueDecimal:
		return nil, b.mismatch("currency", "a decimal, decimal text or int64 minor units on the application side and a currency, decimal or percent field on the CRM side")
	case c.MinorUnits > 0 && b.appKind() != crm.ValueInt64:
		return nil, b.Problem(CodeTypeMismatch, fmt.Sprintf("minor_units needs an int64 application field, but %s holds %s", b.appName(), kindName(b.appKind())),
			"remove minor_units, or map an int64 field of minor units")
	case !slices.Contains(numberKinds, b.appKind()):
		return nil, b.mismatch("currency", "a decimal, decimal text or int64 minor units on the application side and a currency, decimal or percent field on the CRM side")
	}
	bc.scale = decimalScale(b.CRM)
	bc.precision = b.CRM.Precision
	if c.MinorUnits > 0 && bc.scale >= 0 && bc.scale < c.MinorUnits && !c.Round {
		return nil, b.Problem(CodeConversion,
			fmt.Sprintf("the application holds %d digits of minor units but %s keeps %d", c.MinorUnits, b.crmName(), bc.scale),
			"set round to true to round, or map a field with a larger scale")
	}
	return bc, nil
}

// currency is a bound Currency.
type currency struct {
	spec      Currency
	app       crm.ValueKind
	scale     int // of the CRM field; -1 if not stated
	precision int // of the CRM field; 0 if not stated
	dest      string
}

func (c *currency) ToCRM(_ context.Context, v any) (any, error) {
	var d crm.Decimal
	switch x := v.(type) {
	case int64:
		d = crm.NewDecimal(x, int32(c.spec.MinorUnits))
	case int:
		d = crm.NewDecimal(int64(x), int32(c.spec.MinorUnits))
	case crm.Decimal:
		d = x
	case string:
		var err error
		if d, err = crm.ParseDecimal(strings.TrimSpace(x)); err != nil {
			return nil, invalidf("the text is not an amount (want digits with an optional sign and point, such as -12.50)")
		}
	case float64, float32:
		return nil, invalidf("a %T is not accepted for money: pass a crm.Decimal, decimal text or int64 minor units", v)
	default:
		return nil, invalidf("a currency conversion takes a crm.Decimal, decimal text or an int64, not a %T", v)
	}
	if c.scale >= 0 && int(d.Scale()) > c.scale {
		r := d.Round(int32(c.scale))
		if !r.Equal(d) && !c.spec.Round {
			return nil, invalidf("the amount has %d digits after the point but %s keeps %d: round it in the application, or set round to true", d.Scale(), c.dest, c.scale)
		}
		d = r
	}
	if c.precision > 0 {
		whole := c.precision - max(c.scale, 0)
		if n := intDigits(d); n > whole {
			return nil, invalidf("the amount has %d digits before the point but %s allows %d (precision %d, scale %d)", n, c.dest, whole, c.precision, max(c.scale, 0))
		}
	}
	return d, nil
}

func (c *currency) FromCRM(_ context.Context, v any) (any, error) {
	d, ok := v.(crm.Decimal)
	if !ok {
		return nil, invalidf("a currency conversion reads a crm.Decimal, not a %T", v)
	}
	switch c.app {
	case crm.ValueString:
		return d.String(), nil
	case crm.ValueInt64:
		m := c.spec.MinorUnits
		if n, ok := minorUnits(d, m); ok {
			return n, nil
		}
		if c.spec.Round {
			if n, ok := minorUnits(d.Round(int32(m)), m); ok {
				return n, nil
			}
			return nil, invalidf("the amount in minor units does not fit in an int64")
		}
		return nil, invalidf("the amount is not a whole number of minor units (%d digits), or does not fit in an int64: set round to true to round it", m)
	}
	return d, nil
}

// minorUnits returns d × 10^m when that is a whole number that fits in an
// int64. It works on d's text, which is exact and cheaper than big
// arithmetic.
func minorUnits(d crm.Decimal, m int) (int64, bool) {
	s := d.String()
	sign := ""
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		sign, s = "-", rest
	}
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > m {
		if strings.Trim(frac[m:], "0") != "" {
			return 0, false
		}
		frac = frac[:m]
	}
	n, err := strconv.ParseInt(sign+whole+frac+strings.Repeat("0", m-len(frac)), 10, 64)
	return n, err == nil
}

func (c *currency) String() string { return c.spec.String() }

// intDigits counts the digits before the point (0 for |d| < 1).
func intDigits(d crm.Decimal) int {
	s := strings.TrimPrefix(d.String(), "-")
	whole, _, _ := strings.Cut(s, ".")
	whole = strings.TrimLeft(whole, "0")
	return len(whole)
}

// Bool converts between booleans and their usual spellings: "true", "yes",
// "y", "1", "on" and "t" are true, "false", "no", "n", "0", "off" and "f"
// are false, without regard to case or surrounding spaces, and blank text is
// null. True and False replace those lists; the first of each is what is
// written. The text side may be either side: a CRM checkbox fed from an
// application's "Y"/"N" column, or an application bool fed from a CRM
// picklist of "Yes"/"No". An int64 side holds 1 or 0.
type Bool struct {
	True  []string
	False []string
}

var (
	defaultTrue  = []string{"true", "yes", "y", "1", "on", "t"}
	defaultFalse = []string{"false", "no", "n", "0", "off", "f"}
)

func (b Bool) spellings() (t, f []string) {
	t, f = b.True, b.False
	if len(t) == 0 {
		t = defaultTrue
	}
	if len(f) == 0 {
		f = defaultFalse
	}
	return t, f
}

// ToCRM reads text or an int64 as a bool, or writes a bool as text; [New]
// binds it to the fields' kinds.
func (b Bool) ToCRM(_ context.Context, v any) (any, error) {
	bb := b.bound(crm.ValueKindOf(v), crm.ValueBool)
	if crm.ValueKindOf(v) == crm.ValueBool {
		bb.crm = crm.ValueString
	}
	return bb.convert(v, bb.crm)
}

// FromCRM converts as ToCRM does.
func (b Bool) FromCRM(ctx context.Context, v any) (any, error) { return b.ToCRM(ctx, v) }

func (b Bool) bound(app, crmKind crm.ValueKind) *boolean {
	t, f := b.spellings()
	return &boolean{spec: b, app: app, crm: crmKind, t: t, f: f}
}

func (b Bool) String() string {
	t, f := b.spellings()
	return fmt.Sprintf("bool (%q/%q)", t[0], f[0])
}

var boolKinds = []crm.ValueKind{crm.ValueBool, crm.ValueString, crm.ValueInt64}

// Bind checks that one side holds a bool and the other a bool, text or an
// int64, and that no spelling means both true and false.
func (b Bool) Bind(bd Binding) (Conversion, error) {
	t, f := b.spellings()
	for _, s := range t {
		if slices.ContainsFunc(f, func(x string) bool { return strings.EqualFold(strings.TrimSpace(x), strings.TrimSpace(s)) }) {
			return nil, bd.Problem(CodeConversion, fmt.Sprintf("%q is spelled as both true and false", clip(s)), "remove it from one of the lists")
		}
		if strings.TrimSpace(s) == "" {
			return nil, bd.Problem(CodeConversion, "a true spelling is blank, but blank text means null", "remove the blank spelling")
		}
	}
	if slices.ContainsFunc(f, func(x string) bool { return strings.TrimSpace(x) == "" }) {
		return nil, bd.Problem(CodeConversion, "a false spelling is blank, but blank text means null", "remove the blank spelling")
	}
	if !bd.schemaKnown() {
		return b.bound("", ""), nil
	}
	ak, ck := bd.appKind(), bd.crmKind()
	if !slices.Contains(boolKinds, ak) || !slices.Contains(boolKinds, ck) || (ak != crm.ValueBool && ck != crm.ValueBool) {
		return nil, bd.mismatch("bool", "a bool on one side and a bool, text or an int64 (1 or 0) on the other")
	}
	return b.bound(ak, ck), nil
}

// boolean is a bound Bool.
type boolean struct {
	spec     Bool
	app, crm crm.ValueKind
	t, f     []string
}

func (b *boolean) ToCRM(_ context.Context, v any) (any, error) { return b.convert(v, b.crm) }

func (b *boolean) FromCRM(_ context.Context, v any) (any, error) { return b.convert(v, b.app) }

func (b *boolean) convert(v any, want crm.ValueKind) (any, error) {
	var val bool
	switch x := v.(type) {
	case bool:
		val = x
	case string:
		s := strings.TrimSpace(x)
		switch {
		case s == "":
			return nil, nil
		case slices.ContainsFunc(b.t, func(t string) bool { return strings.EqualFold(strings.TrimSpace(t), s) }):
			val = true
		case slices.ContainsFunc(b.f, func(f string) bool { return strings.EqualFold(strings.TrimSpace(f), s) }):
			val = false
		default:
			return nil, invalidf("the text is not a spelling of true or false (true: %s; false: %s)", quoteList(b.t), quoteList(b.f))
		}
	case int64:
		if x != 0 && x != 1 {
			return nil, invalidf("a number is a bool only when it is 1 or 0")
		}
		val = x == 1
	default:
		return nil, invalidf("a bool conversion takes a bool, text or an int64, not a %T", v)
	}
	switch want {
	case crm.ValueString:
		if val {
			return b.t[0], nil
		}
		return b.f[0], nil
	case crm.ValueInt64:
		if val {
			return int64(1), nil
		}
		return int64(0), nil
	}
	return val, nil
}

func (b *boolean) String() string { return b.spec.String() }
