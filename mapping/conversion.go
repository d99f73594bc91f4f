package mapping

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/crmkit/crmkit/crm"
)

// Conversion turns an application value into a CRM value and back. The
// conversions crmkit ships ([Picklist], [MultiSelect], [Truncate],
// [DateTime], [Number], [Currency], [Bool], [Reference], [Constant],
// [Computed], [Chain]) are small values that can be written in Go or loaded
// from a file; [Func] adapts two functions, and any type with these two
// methods will do.
//
// Neither method is called with nil: a null passes through a rule as null.
// Returning nil sets the destination to null. An error for a bad value should
// describe the value (its type, its length) but never contain it, since
// errors reach logs; wrap [ErrInvalidValue] so that callers can tell a bad
// value from a failed lookup. A conversion that returns a usable value
// together with a [*Warning] has its value kept and its warning logged.
//
// A conversion whose behaviour depends on the fields it joins (the length of
// the CRM field, the kinds of both sides) also implements [Binder]; one that
// cannot convert in both directions implements [OneWay].
type Conversion interface {
	ToCRM(ctx context.Context, v any) (any, error)
	FromCRM(ctx context.Context, v any) (any, error)
}

// Binder is implemented by conversions that must see the fields they join
// before they can work. [New] calls Bind once per rule and uses the
// conversion it returns; the problems Bind reports (as a [Problem], or
// several joined with errors.Join) are listed with the map's other problems.
type Binder interface {
	Bind(b Binding) (Conversion, error)
}

// OneWay is implemented by conversions that can only convert in some
// directions. A rule that flows both ways through a conversion whose
// Directions is not Both is a problem at start-up.
type OneWay interface {
	Directions() Direction
}

// Deriver is implemented by conversions that make their value from the whole
// source record rather than from one field: [Constant] and [Computed]. A
// rule with a Deriver names only its destination field.
type Deriver interface {
	// Derive returns the value for the destination. dir is ToCRM when src is
	// the application record and FromCRM when it is the CRM record.
	Derive(ctx context.Context, dir Direction, src crm.Fields) (any, error)
}

// Binding tells a [Binder] about the rule it serves.
type Binding struct {
	Map  string    // the map's name
	Rule string    // the rule's label, such as "rule 3 (email -> Email)"
	Dir  Direction // the rule's direction (never zero)

	// App is the application field. Its Name is empty for a value derived
	// for the CRM; its Kind is empty when Validate checks a map without
	// schemas.
	App AppField
	// CRM is the CRM field. Its Name is empty for a value derived for the
	// application; its Type is empty when Validate checks a map without
	// the CRM's schema.
	CRM       crm.Field
	CRMObject string

	// Schemas is true when both sides are known, in [New]; it is false when
	// [ObjectMap.Validate] checks a map on its own, and a Binder should then
	// check only its own settings.
	Schemas bool

	// Links resolves references; nil unless [WithLinks] was given.
	Links LinkResolver

	opts *options
}

// Problem returns a problem about this rule, for a Binder to return.
func (b Binding) Problem(code Code, message, fix string) *Problem {
	return &Problem{Code: code, Map: b.Map, Rule: b.Rule, Message: message, Fix: fix}
}

// schemaKnown reports whether the binding has both sides (it does in New,
// not in Validate).
func (b Binding) schemaKnown() bool { return b.Schemas }

func (b Binding) appKind() crm.ValueKind { return b.App.Kind }
func (b Binding) crmKind() crm.ValueKind {
	if b.CRM.Type == "" {
		return ""
	}
	return b.CRM.Type.Value()
}

// crmName names the CRM field in messages, as Object.Field.
func (b Binding) crmName() string { return b.CRMObject + "." + b.CRM.Name }

// appName names the application field in messages.
func (b Binding) appName() string { return fmt.Sprintf("application field %q", b.App.Name) }

// mismatch reports a pair of kinds a conversion cannot join.
func (b Binding) mismatch(conv string, supported string) *Problem {
	return b.Problem(CodeTypeMismatch,
		fmt.Sprintf("%s cannot join %s, which holds %s, and %s, which holds %s", conv, b.appName(), kindName(b.appKind()), b.crmName(), fieldKind(&b.CRM)),
		fmt.Sprintf("%s joins %s; choose another conversion or another field", conv, supported))
}

// Func is a conversion made of two functions, for the cases crmkit does not
// cover. A nil function makes the conversion one-way. Name is shown in
// reports. AppKind and CRMKind, when set, are checked against the fields at
// start-up.
type Func struct {
	Name    string
	AppKind crm.ValueKind
	CRMKind crm.ValueKind
	To      func(ctx context.Context, v any) (any, error)
	From    func(ctx context.Context, v any) (any, error)
}

// ToCRM calls f.To.
func (f Func) ToCRM(ctx context.Context, v any) (any, error) {
	if f.To == nil {
		return nil, invalidf("conversion %s has no To function", f.Name)
	}
	return f.To(ctx, v)
}

// FromCRM calls f.From.
func (f Func) FromCRM(ctx context.Context, v any) (any, error) {
	if f.From == nil {
		return nil, invalidf("conversion %s has no From function", f.Name)
	}
	return f.From(ctx, v)
}

// Directions reports which functions are set.
func (f Func) Directions() Direction {
	var d Direction
	if f.To != nil {
		d |= ToCRM
	}
	if f.From != nil {
		d |= FromCRM
	}
	return d
}

// Bind checks the declared kinds.
func (f Func) Bind(b Binding) (Conversion, error) {
	if !b.schemaKnown() {
		return f, nil
	}
	var probs []error
	if f.AppKind != "" && f.AppKind != b.appKind() {
		probs = append(probs, b.Problem(CodeTypeMismatch,
			fmt.Sprintf("conversion %s takes %s values but %s holds %s", f.Name, kindName(f.AppKind), b.appName(), kindName(b.appKind())),
			"map another application field, or change the conversion"))
	}
	if f.CRMKind != "" && f.CRMKind != b.crmKind() {
		probs = append(probs, b.Problem(CodeTypeMismatch,
			fmt.Sprintf("conversion %s gives %s values but %s holds %s", f.Name, kindName(f.CRMKind), b.crmName(), kindName(b.crmKind())),
			"map another CRM field, or change the conversion"))
	}
	return f, joinProblems(probs)
}

func (f Func) String() string { return "function " + f.Name }

// Custom names a conversion registered with [WithConversion], so that a file
// can use a conversion written in Go.
type Custom struct {
	Name string
}

// ToCRM fails: a Custom conversion works only once [New] has replaced it with
// the registered one.
func (c Custom) ToCRM(context.Context, any) (any, error) {
	return nil, invalidf("custom conversion %q is not bound: build the map with mapping.New", c.Name)
}

// FromCRM fails like ToCRM.
func (c Custom) FromCRM(ctx context.Context, v any) (any, error) { return c.ToCRM(ctx, v) }

// Bind looks the name up among the conversions given with WithConversion.
func (c Custom) Bind(b Binding) (Conversion, error) {
	if c.Name == "" {
		return nil, b.Problem(CodeInvalid, "a custom conversion has no name", `name the conversion registered with mapping.WithConversion ("name": "...")`)
	}
	if b.opts == nil || !b.schemaKnown() {
		return c, nil // Validate: the registry is not known yet
	}
	conv, ok := b.opts.conversions[c.Name]
	if !ok || conv == nil {
		return nil, b.Problem(CodeConversion, fmt.Sprintf("custom conversion %q is not registered", c.Name),
			fmt.Sprintf("pass mapping.WithConversion(%q, conv) to mapping.New", c.Name))
	}
	if isDeriver(conv) {
		return nil, b.Problem(CodeConversion, fmt.Sprintf("custom conversion %q makes its value from the whole record", c.Name),
			fmt.Sprintf(`register it with mapping.WithFunc and use {"type": "computed", "name": %q}`, c.Name))
	}
	return bindOne(conv, b)
}

func (c Custom) String() string { return "custom " + c.Name }

// Chain applies conversions in order on the way to the CRM and in reverse
// order on the way back, so that simple ones compose: Chain{Number{},
// Truncate{}} writes a number as text cut to the field's length. A chain may
// start with a [Constant] or [Computed] value; the steps after it then
// convert that value on its way to the rule's destination.
//
// Every step is bound against the rule's CRM field; the steps after the
// first see the CRM field's kind on their application side.
type Chain []Conversion

// ToCRM applies each step's ToCRM in order.
func (c Chain) ToCRM(ctx context.Context, v any) (any, error) {
	var warn error
	for _, s := range c {
		var err error
		v, err = s.ToCRM(ctx, v)
		if err != nil {
			if w := asWarning(err); w != nil {
				warn = w
			} else {
				return nil, err
			}
		}
		if v == nil {
			return nil, warn
		}
	}
	return v, warn
}

// FromCRM applies each step's FromCRM in reverse order.
func (c Chain) FromCRM(ctx context.Context, v any) (any, error) {
	var warn error
	for i := len(c) - 1; i >= 0; i-- {
		var err error
		v, err = c[i].FromCRM(ctx, v)
		if err != nil {
			if w := asWarning(err); w != nil {
				warn = w
			} else {
				return nil, err
			}
		}
		if v == nil {
			return nil, warn
		}
	}
	return v, warn
}

// Directions is what every step can do.
func (c Chain) Directions() Direction {
	d := Both
	for _, s := range c {
		d &= directionsOf(s)
	}
	return d
}

// Bind binds every step.
func (c Chain) Bind(b Binding) (Conversion, error) {
	if len(c) == 0 {
		return nil, b.Problem(CodeInvalid, "the chain has no steps", "list at least one conversion in steps, or remove the chain")
	}
	out := make(Chain, len(c))
	var probs []error
	for i, s := range c {
		if s == nil {
			probs = append(probs, b.Problem(CodeInvalid, fmt.Sprintf("step %d of the chain is nil", i+1), "remove it"))
			continue
		}
		if isDeriver(s) && i > 0 {
			probs = append(probs, b.Problem(CodeInvalid, fmt.Sprintf("step %d of the chain is a %s, which only a chain's first step may be", i+1, describe(s)),
				"move it to the front of the chain"))
			continue
		}
		sb := b
		if i > 0 {
			sb = stepBinding(b)
		}
		bound, err := bindOne(s, sb)
		if err != nil {
			probs = append(probs, err)
			continue
		}
		out[i] = bound
	}
	if len(probs) > 0 {
		return nil, joinProblems(probs)
	}
	if isDeriver(out[0]) {
		return derivedChain(out), nil
	}
	return out, nil
}

// stepBinding is the binding of a chain's second and later steps: they see
// the CRM field's kind on the application side (or, for a value derived for
// the application, the application field's kind on the CRM side).
func stepBinding(b Binding) Binding {
	sb := b
	if b.CRM.Name == "" && b.App.Name != "" { // derived for the application
		sb.CRM = crm.Field{Name: b.App.Name, Type: typeFor(b.App.Kind)}
		return sb
	}
	sb.App = AppField{Name: b.App.Name, Kind: b.crmKind()}
	return sb
}

func (c Chain) String() string {
	parts := make([]string, len(c))
	for i, s := range c {
		parts[i] = describe(s)
	}
	return strings.Join(parts, ", then ")
}

// derivedChain is a bound chain that starts with a Deriver; only its type
// differs, so that the map sees the Deriver.
type derivedChain Chain

func (c derivedChain) ToCRM(ctx context.Context, v any) (any, error) {
	return Chain(c).ToCRM(ctx, v)
}
func (c derivedChain) FromCRM(ctx context.Context, v any) (any, error) {
	return Chain(c).FromCRM(ctx, v)
}

// Derive derives with the first step and converts with the rest, in the
// rule's direction.
func (c derivedChain) Derive(ctx context.Context, dir Direction, src crm.Fields) (any, error) {
	v, err := c[0].(Deriver).Derive(ctx, dir, src)
	if err != nil {
		return nil, err
	}
	var warn error
	for _, s := range c[1:] {
		if v == nil {
			break
		}
		if dir == ToCRM {
			v, err = s.ToCRM(ctx, v)
		} else {
			v, err = s.FromCRM(ctx, v)
		}
		if err != nil {
			if w := asWarning(err); w != nil {
				warn = w
			} else {
				return nil, err
			}
		}
	}
	return v, warn
}
func (c derivedChain) Directions() Direction { return Chain(c).Directions() }
func (c derivedChain) String() string        { return Chain(c).String() }

// isDeriver reports whether c makes its value from the whole record: a
// Deriver, or a chain that starts with one.
func isDeriver(c Conversion) bool {
	if ch, ok := c.(Chain); ok {
		return len(ch) > 0 && isDeriver(ch[0])
	}
	_, ok := c.(Deriver)
	return ok
}

// readsSource reports whether a Deriver reads the record it is given: every
// one does except a Constant (or a chain that starts with one), which the
// map then spares the copy of the record without its protected fields.
func readsSource(c Conversion) bool {
	switch x := c.(type) {
	case Constant:
		return false
	case derivedChain:
		return readsSource(x[0])
	case Chain:
		return len(x) > 0 && readsSource(x[0])
	}
	return true
}

// bindOne binds c if it is a Binder.
func bindOne(c Conversion, b Binding) (Conversion, error) {
	if bd, ok := c.(Binder); ok {
		out, err := bd.Bind(b)
		if err != nil {
			return nil, err
		}
		if out == nil {
			return nil, b.Problem(CodeConversion, fmt.Sprintf("%s bound to nothing", describe(c)), "make its Bind return a conversion")
		}
		return out, nil
	}
	return c, nil
}

func directionsOf(c Conversion) Direction {
	if ow, ok := c.(OneWay); ok {
		return ow.Directions()
	}
	return Both
}

// describe names a conversion for messages and reports.
func describe(c Conversion) string {
	if s, ok := c.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", c)
}

func asWarning(err error) *Warning {
	if w, ok := err.(*Warning); ok {
		return w
	}
	return nil
}

// joinProblems joins errors into one (nil when there are none).
func joinProblems(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return errors.Join(errs...)
}
