package mapping

import "fmt"

// Direction says which way a rule carries a value: from the application to
// the CRM, from the CRM to the application, or both.
type Direction uint8

// The directions. The zero Direction in a [Rule] means Both, or ToCRM for a
// protected or derived rule, which can flow only one way.
const (
	ToCRM   Direction         = 1 << iota // application → CRM
	FromCRM                               // CRM → application
	Both    = ToCRM | FromCRM             // both ways
)

// String returns the direction as the declarative file spells it: "to_crm",
// "from_crm" or "both".
func (d Direction) String() string {
	switch d {
	case ToCRM:
		return "to_crm"
	case FromCRM:
		return "from_crm"
	case Both, 0:
		return "both"
	}
	return fmt.Sprintf("Direction(%d)", uint8(d))
}

// MarshalText encodes d as String does.
func (d Direction) MarshalText() ([]byte, error) {
	if d > Both {
		return nil, fmt.Errorf("mapping: %s is not a direction: use ToCRM, FromCRM or Both", d)
	}
	return []byte(d.String()), nil
}

// UnmarshalText parses "to_crm", "from_crm" or "both".
func (d *Direction) UnmarshalText(b []byte) error {
	v, ok := parseDirection(string(b))
	if !ok {
		return fmt.Errorf("mapping: %q is not a direction: use to_crm, from_crm or both", clip(string(b)))
	}
	*d = v
	return nil
}

func parseDirection(s string) (Direction, bool) {
	switch s {
	case "to_crm":
		return ToCRM, true
	case "from_crm":
		return FromCRM, true
	case "both":
		return Both, true
	}
	return 0, false
}

// has reports whether d includes every direction in e. The zero Direction
// counts as Both.
func (d Direction) has(e Direction) bool {
	if d == 0 {
		d = Both
	}
	return d&e == e
}

// arrow draws d between two field names in rule labels.
func (d Direction) arrow() string {
	switch d {
	case ToCRM:
		return "->"
	case FromCRM:
		return "<-"
	}
	return "<->"
}

// clip shortens text quoted in a message about a declaration (never a field
// value), on a character boundary.
func clip(s string) string {
	if r := []rune(s); len(r) > 48 {
		return string(r[:45]) + "..."
	}
	return s
}
