package crm

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// Decimal is an exact decimal number: a coefficient times ten to the power of
// minus Scale. It is how crmkit carries currency, percentages and every other
// CRM number with a fractional part, so that 0.1 + 0.2 never becomes
// 0.30000000000000004 on its way between systems.
//
// A Decimal keeps the scale it was written with: "12.50" stays "12.50". Two
// decimals with different scales but the same value are Equal. The zero value
// is 0. Decimals are immutable and safe to copy.
type Decimal struct {
	coef  *big.Int // nil means zero; never mutated after construction
	scale int32
}

// NewDecimal returns coef × 10^-scale; NewDecimal(1250, 2) is 12.50 and
// NewDecimal(12, -3) is 12000.
func NewDecimal(coef int64, scale int32) Decimal {
	c := big.NewInt(coef)
	if scale < 0 {
		c.Mul(c, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-scale)), nil))
		scale = 0
	}
	return Decimal{coef: c, scale: scale}
}

// Bounds on what ParseDecimal accepts: far beyond any CRM's precision (the
// widest, Dataverse's Decimal, has 28 digits), and small enough that a hostile
// "1e999999999" cannot make crmkit allocate gigabytes.
const (
	maxDecimalDigits = 1000
	maxDecimalText   = 1000
)

// ParseDecimal parses a decimal in plain or exponent notation, such as
// "-12.50", "1e3" or "4.2E-2". It refuses NaN, infinities, hex and anything
// that is not a number, with an error that quotes the input.
func ParseDecimal(s string) (Decimal, error) {
	orig := s
	bad := func() (Decimal, error) {
		return Decimal{}, fmt.Errorf("crm: %q is not a decimal number (want digits with an optional sign, point and exponent, e.g. -12.50)", orig)
	}
	if s == "" || len(s) > maxDecimalText+100 {
		return bad()
	}
	exp := int64(0)
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.ParseInt(s[i+1:], 10, 32)
		if err != nil || e > maxDecimalDigits || e < -maxDecimalDigits {
			return bad()
		}
		exp = e
		s = s[:i]
	}
	if s == "" {
		return bad()
	}
	neg := false
	switch s[0] {
	case '-':
		neg = true
		s = s[1:]
	case '+':
		s = s[1:]
	}
	intPart, frac, hasPoint := strings.Cut(s, ".")
	if intPart == "" && frac == "" {
		return bad()
	}
	if hasPoint && strings.Contains(frac, ".") {
		return bad()
	}
	digits := intPart + frac
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return bad()
		}
	}
	coef, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		return bad()
	}
	if neg {
		coef.Neg(coef)
	}
	scale := int64(len(frac)) - exp
	if scale < 0 {
		coef.Mul(coef, new(big.Int).Exp(big.NewInt(10), big.NewInt(-scale), nil))
		scale = 0
	}
	if scale > maxDecimalDigits || len(coef.Text(10)) > maxDecimalDigits+1 {
		return bad()
	}
	return Decimal{coef: coef, scale: int32(scale)}, nil
}

// MustDecimal is ParseDecimal for constants in code and tests; it panics on a
// malformed literal.
func MustDecimal(s string) Decimal {
	d, err := ParseDecimal(s)
	if err != nil {
		panic(err)
	}
	return d
}

func (d Decimal) coefficient() *big.Int {
	if d.coef == nil {
		return new(big.Int)
	}
	return d.coef
}

// Scale returns the number of digits after the decimal point.
func (d Decimal) Scale() int32 { return d.scale }

// Sign returns -1, 0 or +1.
func (d Decimal) Sign() int { return d.coefficient().Sign() }

// IsZero reports whether d is zero, at any scale.
func (d Decimal) IsZero() bool { return d.Sign() == 0 }

// String returns d in plain notation with its scale kept: "12.50", "-0.003".
func (d Decimal) String() string {
	c := d.coefficient()
	neg := c.Sign() < 0
	digits := new(big.Int).Abs(c).String()
	if d.scale > 0 {
		if pad := int(d.scale) - len(digits) + 1; pad > 0 {
			digits = strings.Repeat("0", pad) + digits
		}
		cut := len(digits) - int(d.scale)
		digits = digits[:cut] + "." + digits[cut:]
	}
	if neg {
		return "-" + digits
	}
	return digits
}

// Rat returns d as an exact rational number.
func (d Decimal) Rat() *big.Rat {
	r := new(big.Rat).SetInt(d.coefficient())
	if d.scale > 0 {
		r.Quo(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.scale)), nil)))
	}
	return r
}

// Cmp compares d and e by value: -1 if d < e, 0 if equal, +1 if d > e.
func (d Decimal) Cmp(e Decimal) int { return d.Rat().Cmp(e.Rat()) }

// Equal reports whether d and e have the same value; 1.5 equals 1.50.
func (d Decimal) Equal(e Decimal) bool { return d.Cmp(e) == 0 }

// Int64 returns d as an int64 when it is a whole number that fits.
func (d Decimal) Int64() (int64, bool) {
	r := d.Rat()
	if !r.IsInt() || !r.Num().IsInt64() {
		return 0, false
	}
	return r.Num().Int64(), true
}

// Float64 returns the nearest float64. It is lossy by nature: use it for
// display and statistics, never for money.
func (d Decimal) Float64() float64 {
	f, _ := d.Rat().Float64()
	return f
}

// Round returns d rounded half away from zero to scale digits after the point.
// Rounding to a larger scale pads with zeros and never changes the value. A
// negative scale rounds to tens, hundreds, ...: Round(-2) of 1250 is 1300.
func (d Decimal) Round(scale int32) Decimal {
	if scale < 0 {
		div := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.scale)-int64(scale)), nil)
		return Decimal{coef: roundQuo(d.coefficient(), div)}.mulPow10(-scale)
	}
	if scale >= d.scale {
		pad := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale-d.scale)), nil)
		return Decimal{coef: new(big.Int).Mul(d.coefficient(), pad), scale: scale}
	}
	div := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.scale-scale)), nil)
	return Decimal{coef: roundQuo(d.coefficient(), div), scale: scale}
}

// roundQuo returns n / div rounded half away from zero.
func roundQuo(n, div *big.Int) *big.Int {
	q, r := new(big.Int).QuoRem(n, div, new(big.Int))
	if new(big.Int).Mul(new(big.Int).Abs(r), big.NewInt(2)).Cmp(div) >= 0 {
		if n.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return q
}

// mulPow10 returns d × 10^n at scale 0, for a whole d and n >= 0.
func (d Decimal) mulPow10(n int32) Decimal {
	return Decimal{coef: new(big.Int).Mul(d.coefficient(), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil))}
}

// MarshalText encodes d in plain notation.
func (d Decimal) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses plain or exponent notation.
func (d *Decimal) UnmarshalText(b []byte) error {
	v, err := ParseDecimal(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalJSON encodes d as a bare JSON number with every digit kept.
func (d Decimal) MarshalJSON() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalJSON accepts a JSON number or a string holding one.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return errors.New("crm: null is not a decimal; use a nil field value for null")
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	return d.UnmarshalText([]byte(s))
}
