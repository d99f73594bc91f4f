package mapping

import (
	"fmt"

	"github.com/crmkit/crmkit/crm"
)

// ObjectMap pairs an application object with a CRM object: the declaration
// of a map, written in Go or loaded from a file with [Parse] or
// [LoadFile]. It is plain data; [New] checks it against the CRM's schema and
// turns it into a [Map] that converts records.
type ObjectMap struct {
	// Name identifies the map in problems, errors, logs and the report,
	// such as "customers".
	Name string
	// Note says what the map is for, for the data-flow report.
	Note string
	// App declares the application object and its fields.
	App AppSchema
	// CRMObject is the CRM object's API name, such as "Contact".
	CRMObject string
	// Rules are the field rules, in the order they run.
	Rules []Rule
	// Residency lists fields that must not reach some CRM connections.
	Residency []Residency
}

// Rule maps one field. It names the application field and the CRM field, the
// direction values flow, an optional conversion and an optional sensitivity
// policy.
//
// A rule with a [Constant] or [Computed] conversion names only its
// destination: the CRM field for a rule to the CRM, the application field
// for a rule from it. A rule protected by [Drop] names only the application
// field.
type Rule struct {
	App     string     // the application field
	CRM     string     // the CRM field
	Dir     Direction  // which way values flow; zero means Both, or ToCRM for a protected or derived rule
	Convert Conversion // nil: the value passes as it is, and both sides must hold the same kind
	Protect Protection // zero: none
	Note    string     // for the data-flow report
}

// dir is the rule's direction with the default filled in: ToCRM for a
// protected or derived rule, which can flow only one way, else Both.
func (r Rule) dir() Direction {
	if r.Dir != 0 {
		return r.Dir
	}
	if r.Protect.Kind != ProtectNone || r.derived() {
		return ToCRM
	}
	return Both
}

func (r Rule) derived() bool { return r.Convert != nil && isDeriver(r.Convert) }

// pair draws the rule as "email -> Email".
func (r Rule) pair() string {
	left, right := r.App, r.CRM
	if r.derived() {
		if r.dir() == FromCRM && right == "" {
			right = "(" + describe(r.Convert) + ")"
		} else if left == "" {
			left = "(" + describe(r.Convert) + ")"
		}
	}
	if left == "" {
		left = "(none)"
	}
	if right == "" {
		right = "(none)"
		if r.Protect.Kind == ProtectDrop {
			right = "(dropped)"
		}
	}
	return left + " " + r.dir().arrow() + " " + right
}

// label names the rule in problems: "rule 3 (email -> Email)".
func (r Rule) label(i int) string {
	return fmt.Sprintf("rule %d (%s)", i+1, r.pair())
}

// Residency keeps an application field away from some CRM connections, as
// when national ids of EU residents may reach the EU org but not the US one.
// A map built for a refused connection (see [WithConnection]) leaves every
// rule that reads or writes the field out, in both directions, and the
// data-flow report says so.
type Residency struct {
	App    string   // the application field
	Refuse []string // connections the field must never reach
	Only   []string // if set, the only connections the field may reach
	Reason string   // why, for the report
}

// refuses reports whether the field must not reach conn.
func (r Residency) refuses(conn string) bool {
	if contains(r.Refuse, conn) {
		return true
	}
	return len(r.Only) > 0 && !contains(r.Only, conn)
}

// Validate checks what can be checked without the CRM's schema: names,
// directions, the application fields rules refer to, duplicate rules, the
// settings of each conversion and protection. [Parse] runs it on every map
// it loads, and [New] runs it again as part of its checks. The error is a
// [*CheckError] listing every problem.
func (om ObjectMap) Validate() error {
	c := newChecker(&om, "", nil, nil)
	c.run()
	return c.err()
}

// fieldKind is a described CRM field's value kind, spelled for messages.
func fieldKind(f *crm.Field) string {
	k := kindName(f.Type.Value())
	if k == string(f.Type) {
		return k
	}
	return fmt.Sprintf("%s (%s)", k, f.Type)
}
