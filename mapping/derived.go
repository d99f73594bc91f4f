package mapping

import (
	"context"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/crmkit/crmkit/crm"
)

// Constant sets its destination to a fixed value every time the rule runs:
// a lead source of "Web", an owner queue, a flag that marks records made by
// the integration. A constant flows one way. Value is converted to the
// destination field's kind at start-up ("12.50" becomes a crm.Decimal for a
// currency field) and checked against its picklist and length; nil sets the
// field to null.
type Constant struct {
	Value any
}

// ToCRM returns the value, whatever v is.
func (c Constant) ToCRM(context.Context, any) (any, error) { return c.Value, nil }

// FromCRM returns the value, whatever v is.
func (c Constant) FromCRM(context.Context, any) (any, error) { return c.Value, nil }

// Derive returns the value.
func (c Constant) Derive(context.Context, Direction, crm.Fields) (any, error) { return c.Value, nil }

func (c Constant) String() string {
	switch v := c.Value.(type) {
	case nil:
		return "constant null"
	case string:
		return "constant " + strconv.Quote(clip(v))
	case fmt.Stringer:
		return "constant " + clip(v.String())
	}
	return "constant " + clip(fmt.Sprint(c.Value))
}

// Bind converts the value to the destination's kind and checks it there.
func (c Constant) Bind(b Binding) (Conversion, error) {
	if c.Value == nil || !b.schemaKnown() {
		return c, nil
	}
	var (
		kind   crm.ValueKind
		length int
		dest   string
	)
	if b.Dir == FromCRM {
		kind, length, dest = b.appKind(), b.App.Length, b.appName()
	} else {
		kind, length, dest = b.crmKind(), b.CRM.Length, b.crmName()
	}
	if kind == "" {
		return c, nil
	}
	v, err := crm.NormalizeValue(typeFor(kind), c.Value)
	if err != nil || kind == crm.ValueDecimal && isFloat(c.Value) {
		return nil, b.Problem(CodeTypeMismatch, fmt.Sprintf("the constant (a %T) is not a %s value, which %s holds", c.Value, kindName(kind), dest),
			fmt.Sprintf("give a %s constant", kindName(kind)))
	}
	var probs []error
	if s, ok := v.(string); ok && length > 0 && utf8.RuneCountInString(s) > length {
		probs = append(probs, b.Problem(CodeLengthOverflow, fmt.Sprintf("the constant is %d characters but %s holds %d", utf8.RuneCountInString(s), dest, length),
			"shorten the constant"))
	}
	if b.Dir == FromCRM {
		if s, ok := v.(string); ok && len(b.App.Values) > 0 && !contains(b.App.Values, s) {
			probs = append(probs, b.Problem(CodePicklistMissing, fmt.Sprintf("the constant %q is not one of the values %s allows", clip(s), b.appName()),
				fmt.Sprintf("use one of %s", quoteList(b.App.Values))))
		}
	} else {
		switch x := v.(type) {
		case string:
			probs = append(probs, picklistMissing(b, []string{x})...)
		case []string:
			probs = append(probs, picklistMissing(b, x)...)
		}
	}
	if len(probs) > 0 {
		return nil, joinProblems(probs)
	}
	return Constant{Value: v}, nil
}

func isFloat(v any) bool {
	switch v.(type) {
	case float32, float64:
		return true
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ComputeFunc computes a field's value from the whole source record: the
// application record on the way to the CRM, the CRM record on the way back.
// For a map with protected fields, src holds none of them. Returning
// [ErrOmit] leaves the field out, as a partial update that lacks the inputs
// should. The value is converted to the destination's kind as a field
// without a conversion would be.
type ComputeFunc func(ctx context.Context, src crm.Fields) (any, error)

// Computed sets its destination from a Go function of the whole source
// record, such as a full name made of first and last names. In Go, give the
// function in Func; in a file, name it, and register the function with
// [WithFunc]. A computed value flows one way.
type Computed struct {
	Name string
	Func ComputeFunc
}

// ToCRM fails: a computed value is derived from the whole record, not from one value.
func (c Computed) ToCRM(context.Context, any) (any, error) {
	return nil, invalidf("computed %s derives its value from the whole record; use it as a rule's conversion", c.Name)
}

// FromCRM fails like ToCRM.
func (c Computed) FromCRM(ctx context.Context, v any) (any, error) { return c.ToCRM(ctx, v) }

// Derive calls the function.
func (c Computed) Derive(ctx context.Context, _ Direction, src crm.Fields) (any, error) {
	if c.Func == nil {
		return nil, invalidf("computed %s has no function: register it with mapping.WithFunc", c.Name)
	}
	return c.Func(ctx, src)
}

func (c Computed) String() string {
	if c.Name == "" {
		return "computed"
	}
	return "computed " + c.Name
}

// Bind finds the function.
func (c Computed) Bind(b Binding) (Conversion, error) {
	if c.Func != nil {
		return c, nil
	}
	if c.Name == "" {
		return nil, b.Problem(CodeInvalid, "the computed value has neither a name nor a function",
			`name it ("name": "full_name") and register the function with mapping.WithFunc, or set Func in Go`)
	}
	if b.opts == nil || !b.schemaKnown() {
		return c, nil // Validate: functions are registered with New
	}
	fn, ok := b.opts.funcs[c.Name]
	if !ok || fn == nil {
		return nil, b.Problem(CodeConversion, fmt.Sprintf("computed %q has no function", c.Name),
			fmt.Sprintf("pass mapping.WithFunc(%q, fn) to mapping.New", c.Name))
	}
	return Computed{Name: c.Name, Func: fn}, nil
}
