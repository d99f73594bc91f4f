package mapping

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/crmkit/crmkit/crm"
)

// Unknown says what a [Picklist] does with a value its table does not list.
type Unknown uint8

// The choices for unknown values.
const (
	UnknownError   Unknown = iota // fail the field, so the record goes to dead letters (the default)
	UnknownDefault                // use DefaultCRM (to the CRM) or DefaultApp (from the CRM)
	UnknownPass                   // pass the value through unchanged
)

func (u Unknown) String() string {
	switch u {
	case UnknownError:
		return "error"
	case UnknownDefault:
		return "default"
	case UnknownPass:
		return "pass"
	}
	return "Unknown(" + strconv.Itoa(int(u)) + ")"
}

func parseUnknown(s string) (Unknown, bool) {
	for _, u := range []Unknown{UnknownError, UnknownDefault, UnknownPass} {
		if s == u.String() {
			return u, true
		}
	}
	return 0, false
}

// Picklist converts between the application's values and a CRM picklist's
// through a table, as when the application says "active" and the CRM says
// "Customer". Values maps application values to CRM values. Reading back
// uses the inverse of Values; when several application values map to one CRM
// value, or the CRM has values the table does not produce, Reverse says
// which application value each CRM value becomes.
//
// At start-up the table is checked against the CRM field's described
// picklist (every CRM value it sends must exist and be active) and, when the
// application field declares its Values, against those; with UnknownError, a
// CRM picklist value the table cannot read back is a problem too.
type Picklist struct {
	Values     map[string]string // application value → CRM value
	Reverse    map[string]string // CRM value → application value, where the inverse of Values is not enough
	Unknown    Unknown           // what to do with a value the table does not list
	DefaultCRM string            // with UnknownDefault: the CRM value for an unlisted application value
	DefaultApp string            // with UnknownDefault: the application value for an unlisted CRM value
	FoldCase   bool              // match application values without regard to case
}

// ToCRM looks v up in the table. [New] binds the table once; calling ToCRM
// on an unbound Picklist builds it on every call.
func (p Picklist) ToCRM(ctx context.Context, v any) (any, error) {
	t, err := p.bound()
	if err != nil {
		return nil, err
	}
	return t.ToCRM(ctx, v)
}

// FromCRM looks v up in the reversed table.
func (p Picklist) FromCRM(ctx context.Context, v any) (any, error) {
	t, err := p.bound()
	if err != nil {
		return nil, err
	}
	return t.FromCRM(ctx, v)
}

func (p Picklist) String() string {
	return fmt.Sprintf("picklist (%s; unknown: %s)", plural(len(p.Values), "value"), p.Unknown)
}

// Bind builds the table and checks it against both fields.
func (p Picklist) Bind(b Binding) (Conversion, error) {
	t, probs := p.build(b, "picklist")
	if b.schemaKnown() {
		if b.appKind() != crm.ValueString || b.crmKind() != crm.ValueString {
			probs = append(probs, b.mismatch("picklist", "text (string) on both sides; for multi-select fields use multiselect"))
		} else {
			probs = append(probs, t.check(b, b.App.Values)...)
		}
	}
	if len(probs) > 0 {
		return nil, joinProblems(probs)
	}
	return t, nil
}

// bound builds the bound form without a binding, for direct use.
func (p Picklist) bound() (*table, error) {
	t, probs := p.build(Binding{Map: "(none)", Rule: "picklist", Dir: Both}, "picklist")
	if len(probs) > 0 {
		return nil, invalidf("the picklist table is not usable: %v", probs[0])
	}
	return t, nil
}

// table is a bound Picklist.
type table struct {
	spec     Picklist
	to       map[string]string // application value (folded with FoldCase) → CRM value
	from     map[string]string // CRM value → application value
	fold     bool
	unknown  Unknown
	def      [2]string // CRM default, application default
	produced []string  // CRM values the table sends, sorted
}

func (p Picklist) build(b Binding, what string) (*table, []error) {
	var probs []error
	t := &table{spec: p, to: make(map[string]string, len(p.Values)), from: map[string]string{},
		fold: p.FoldCase, unknown: p.Unknown, def: [2]string{p.DefaultCRM, p.DefaultApp}}
	if len(p.Values) == 0 && len(p.Reverse) == 0 && p.Unknown != UnknownPass {
		probs = append(probs, b.Problem(CodeConversion, fmt.Sprintf("the %s table is empty", what),
			`list the values in "values" (application value → CRM value)`))
	}
	if p.Unknown > UnknownPass {
		probs = append(probs, b.Problem(CodeInvalid, fmt.Sprintf("%s is not a choice for unknown values", p.Unknown), "use error, default or pass"))
	}
	if p.Unknown == UnknownDefault {
		if b.Dir.has(ToCRM) && p.DefaultCRM == "" {
			probs = append(probs, b.Problem(CodeConversion, "unknown is default but default_crm is empty", "set default_crm to the CRM value for unlisted application values"))
		}
		if b.Dir.has(FromCRM) && p.DefaultApp == "" {
			probs = append(probs, b.Problem(CodeConversion, "unknown is default but default_app is empty", "set default_app to the application value for unlisted CRM values"))
		}
	}
	sources := map[string][]string{} // CRM value → application values that map to it
	for _, a := range slices.Sorted(maps.Keys(p.Values)) {
		c := p.Values[a]
		key := a
		if p.FoldCase {
			key = strings.ToLower(a)
			if prev, dup := t.to[key]; dup && prev != c {
				probs = append(probs, b.Problem(CodeConversion,
					fmt.Sprintf("with fold_case, application values that differ only in case map to different CRM values (%q)", clip(a)),
					"map them to the same CRM value, or turn fold_case off"))
			}
		}
		t.to[key] = c
		sources[c] = append(sources[c], a)
	}
	t.produced = slices.Sorted(maps.Keys(sources))
	for _, c := range t.produced {
		if _, ok := p.Reverse[c]; ok {
			continue
		}
		if as := sources[c]; len(as) == 1 {
			t.from[c] = as[0]
		} else if b.Dir.has(FromCRM) {
			probs = append(probs, b.Problem(CodeNotReversible,
				fmt.Sprintf("CRM value %q comes from application values %s, so reading it back is ambiguous", clip(c), quoteList(as)),
				fmt.Sprintf(`say which one it reads back as: "reverse": {%q: %q}`, clip(c), clip(as[0]))))
		}
	}
	maps.Copy(t.from, p.Reverse)
	return t, probs
}

// check compares the table with the described picklist and the
// application's declared values.
func (t *table) check(b Binding, appValues []string) []error {
	var probs []error
	if len(b.CRM.Picklist) > 0 {
		send := t.produced
		if b.Dir.has(ToCRM) && t.unknown == UnknownDefault && t.def[0] != "" {
			send = append(slices.Clone(send), t.def[0])
		}
		if b.Dir.has(ToCRM) {
			probs = append(probs, picklistMissing(b, send)...)
		}
		if b.Dir.has(FromCRM) && t.unknown == UnknownError {
			var unread []string
			for _, pv := range b.CRM.Picklist {
				if _, ok := t.from[pv.Value]; pv.Active && !ok {
					unread = append(unread, pv.Value)
				}
			}
			if len(unread) > 0 {
				probs = append(probs, b.Problem(CodePicklistMissing,
					fmt.Sprintf("%s can hold %s, which the table cannot read back", b.crmName(), quoteList(unread)),
					`add them to "values" or "reverse", or set unknown to default or pass`))
			}
		}
	}
	if len(appValues) > 0 {
		if b.Dir.has(ToCRM) && t.unknown == UnknownError {
			var unlisted []string
			for _, a := range appValues {
				if _, ok := t.to[t.key(a)]; !ok {
					unlisted = append(unlisted, a)
				}
			}
			if len(unlisted) > 0 {
				probs = append(probs, b.Problem(CodePicklistMissing,
					fmt.Sprintf("%s can hold %s, which the table does not list", b.appName(), quoteList(unlisted)),
					`add them to "values", or set unknown to default or pass`))
			}
		}
		if b.Dir.has(FromCRM) {
			gives := slices.Collect(maps.Values(t.from))
			if t.unknown == UnknownDefault && t.def[1] != "" {
				gives = append(gives, t.def[1])
			}
			var foreign []string
			for _, a := range gives {
				if !slices.Contains(appValues, a) && !slices.Contains(foreign, a) {
					foreign = append(foreign, a)
				}
			}
			if len(foreign) > 0 {
				slices.Sort(foreign)
				probs = append(probs, b.Problem(CodePicklistMissing,
					fmt.Sprintf("the table reads back %s, which %s does not allow", quoteList(foreign), b.appName()),
					"add them to the application field's values, or change the table"))
			}
		}
	}
	return probs
}

// picklistMissing reports CRM values that the described picklist lacks or
// has deactivated. It says nothing when the field has no picklist.
func picklistMissing(b Binding, values []string) []error {
	if len(b.CRM.Picklist) == 0 {
		return nil
	}
	var missing, inactive, labels []string
	for _, v := range values {
		pv, ok := b.CRM.PicklistValue(v)
		switch {
		case !ok:
			if !slices.Contains(missing, v) {
				missing = append(missing, v)
			}
		case pv.Value != v:
			labels = append(labels, fmt.Sprintf("%q is the label of %q", clip(v), clip(pv.Value)))
		case !pv.Active:
			inactive = append(inactive, v)
		}
	}
	var probs []error
	if len(missing) > 0 {
		probs = append(probs, b.Problem(CodePicklistMissing,
			fmt.Sprintf("%s has no picklist value %s", b.crmName(), quoteList(missing)),
			fmt.Sprintf("add them to the picklist in the CRM, or send one of %s", quoteList(activeValues(b.CRM)))))
	}
	if len(labels) > 0 {
		probs = append(probs, b.Problem(CodePicklistMissing,
			fmt.Sprintf("%s: %s; the CRM stores values, not labels", b.crmName(), strings.Join(labels, ", ")),
			"send the picklist value (the API name) instead of its label"))
	}
	if len(inactive) > 0 {
		probs = append(probs, b.Problem(CodePicklistMissing,
			fmt.Sprintf("%s has picklist value %s but it is inactive, so the CRM refuses it", b.crmName(), quoteList(inactive)),
			"activate it in the CRM, or send an active value"))
	}
	return probs
}

func activeValues(f crm.Field) []string {
	var out []string
	for _, p := range f.Picklist {
		if p.Active {
			out = append(out, p.Value)
		}
	}
	return out
}

func (t *table) key(a string) string {
	if t.fold {
		return strings.ToLower(a)
	}
	return a
}

func (t *table) ToCRM(_ context.Context, v any) (any, error) {
	s, ok := v.(string)
	if !ok {
		return nil, invalidf("a picklist takes text, not a %T", v)
	}
	return t.toCRM(s)
}

func (t *table) toCRM(s string) (string, error) {
	if c, ok := t.to[t.key(s)]; ok {
		return c, nil
	}
	switch t.unknown {
	case UnknownDefault:
		return t.def[0], nil
	case UnknownPass:
		return s, nil
	}
	return "", invalidf("the value is not in the picklist table (%s): add it to values, or set unknown to default or pass", plural(len(t.to), "entry"))
}

func (t *table) FromCRM(_ context.Context, v any) (any, error) {
	s, ok := v.(string)
	if !ok {
		return nil, invalidf("a picklist reads text, not a %T", v)
	}
	return t.fromCRM(s)
}

func (t *table) fromCRM(s string) (string, error) {
	if a, ok := t.from[s]; ok {
		return a, nil
	}
	switch t.unknown {
	case UnknownDefault:
		return t.def[1], nil
	case UnknownPass:
		return s, nil
	}
	return "", invalidf("the CRM value is not in the picklist table (%s): add it to values or reverse, or set unknown to default or pass", plural(len(t.from), "entry"))
}

func (t *table) String() string { return t.spec.String() }

// MultiSelect converts between a multi-select picklist ([]string on the CRM
// side) and the application's list, held as []string or as text joined by
// Separator ("gold;vip"). Table, when set, maps each element as a
// [Picklist] does. Text is split on Separator, each element trimmed of
// spaces, and empty elements dropped; reading back joins with Separator and
// refuses an element that contains it. The CRM's element order is kept.
type MultiSelect struct {
	Separator string    // joins elements where a side holds text; ";" when empty
	Table     *Picklist // maps each element; nil passes elements unchanged
}

// ToCRM splits and maps v. [New] binds the conversion to the fields' kinds;
// unbound, it takes text or []string and gives []string.
func (m MultiSelect) ToCRM(ctx context.Context, v any) (any, error) {
	bm, err := m.unbound()
	if err != nil {
		return nil, err
	}
	return bm.ToCRM(ctx, v)
}

// FromCRM maps and joins v; unbound, it gives text.
func (m MultiSelect) FromCRM(ctx context.Context, v any) (any, error) {
	bm, err := m.unbound()
	if err != nil {
		return nil, err
	}
	return bm.FromCRM(ctx, v)
}

func (m MultiSelect) unbound() (*multi, error) {
	bm := &multi{spec: m, sep: m.sep(), appText: true}
	if m.Table != nil {
		t, err := m.Table.bound()
		if err != nil {
			return nil, err
		}
		bm.t = t
	}
	return bm, nil
}

func (m MultiSelect) sep() string {
	if m.Separator == "" {
		return ";"
	}
	return m.Separator
}

func (m MultiSelect) String() string {
	s := fmt.Sprintf("multi-select (separator %q", m.sep())
	if m.Table != nil {
		s += fmt.Sprintf("; table of %s; unknown: %s", plural(len(m.Table.Values), "value"), m.Table.Unknown)
	}
	return s + ")"
}

// Bind settles which side holds text and checks the table.
func (m MultiSelect) Bind(b Binding) (Conversion, error) {
	bm := &multi{spec: m, sep: m.sep()}
	var probs []error
	if strings.TrimSpace(bm.sep) == "" {
		probs = append(probs, b.Problem(CodeConversion, "the separator is blank", `use a visible separator such as ";" or ","`))
	}
	if m.Table != nil {
		t, tp := m.Table.build(b, "multi-select")
		bm.t = t
		probs = append(probs, tp...)
	}
	if b.schemaKnown() {
		ak, ck := b.appKind(), b.crmKind()
		switch {
		case ak == crm.ValueStrings && ck == crm.ValueStrings:
		case ak == crm.ValueString && ck == crm.ValueStrings:
			bm.appText = true
		case ak == crm.ValueStrings && ck == crm.ValueString:
			bm.crmText = true
		default:
			probs = append(probs, b.mismatch("multiselect", "a list ([]string) on at least one side and text or a list on the other"))
		}
		if len(probs) == 0 {
			if bm.t != nil {
				probs = append(probs, bm.t.check(b, b.App.Values)...)
			} else if b.Dir.has(ToCRM) {
				probs = append(probs, picklistMissing(b, b.App.Values)...)
			}
		}
	}
	if len(probs) > 0 {
		return nil, joinProblems(probs)
	}
	return bm, nil
}

// multi is a bound MultiSelect.
type multi struct {
	spec             MultiSelect
	sep              string
	t                *table
	appText, crmText bool
}

func (m *multi) ToCRM(_ context.Context, v any) (any, error) {
	elems, err := m.elements(v, m.appText || crm.ValueKindOf(v) == crm.ValueString)
	if err != nil {
		return nil, err
	}
	if m.t != nil {
		for i, e := range elems {
			if elems[i], err = m.t.toCRM(e); err != nil {
				return nil, err
			}
		}
	}
	if m.crmText {
		return m.join(elems)
	}
	return elems, nil
}

func (m *multi) FromCRM(_ context.Context, v any) (any, error) {
	elems, err := m.elements(v, m.crmText || crm.ValueKindOf(v) == crm.ValueString)
	if err != nil {
		return nil, err
	}
	if m.t != nil {
		for i, e := range elems {
			if elems[i], err = m.t.fromCRM(e); err != nil {
				return nil, err
			}
		}
	}
	if m.appText {
		return m.join(elems)
	}
	return elems, nil
}

// elements returns a fresh slice of v's elements, splitting text.
func (m *multi) elements(v any, text bool) ([]string, error) {
	if text {
		s, ok := v.(string)
		if !ok {
			return nil, invalidf("a multi-select expects text joined by %q here, not a %T", m.sep, v)
		}
		parts := strings.Split(s, m.sep)
		out := parts[:0]
		for _, p := range parts {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out, nil
	}
	ss, ok := v.([]string)
	if !ok {
		return nil, invalidf("a multi-select expects a []string here, not a %T", v)
	}
	return slices.Clone(ss), nil
}

func (m *multi) join(elems []string) (string, error) {
	for i, e := range elems {
		if strings.Contains(e, m.sep) {
			return "", invalidf("element %d contains the separator %q, so it cannot be joined: choose another separator", i+1, m.sep)
		}
	}
	return strings.Join(elems, m.sep), nil
}

func (m *multi) String() string { return m.spec.String() }

// quoteList quotes up to eight declared values for a message.
func quoteList(vs []string) string {
	const most = 8
	q := make([]string, 0, min(len(vs), most))
	for i, v := range vs {
		if i == most {
			break
		}
		q = append(q, strconv.Quote(clip(v)))
	}
	s := strings.Join(q, ", ")
	if len(vs) > most {
		s += fmt.Sprintf(" and %d more", len(vs)-most)
	}
	return s
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	if strings.HasSuffix(what, "y") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(what, "y"))
	}
	return fmt.Sprintf("%d %ss", n, what)
}
