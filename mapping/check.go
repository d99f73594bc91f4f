package mapping

import (
	"fmt"
	"slices"
	"strings"

	"github.com/crmkit/crmkit/crm"
)

// checker runs every check of one map and collects the problems. Without a
// schema (Validate) it runs the checks that need none; with one (New) it
// also binds each rule's conversion.
type checker struct {
	om     *ObjectMap
	name   string      // the map's name in problems
	schema *crm.Schema // nil in Validate
	opts   *options    // nil in Validate
	probs  []Problem
	rules  []*rule // one per declared rule, nil where the rule could not be built
}

func newChecker(om *ObjectMap, fallback string, schema *crm.Schema, opts *options) *checker {
	name := om.Name
	if name == "" {
		name = fallback
	}
	if name == "" {
		name = "(unnamed)"
	}
	return &checker{om: om, name: name, schema: schema, opts: opts}
}

func (c *checker) full() bool { return c.schema != nil }

func (c *checker) add(code Code, where, msg, fix string) {
	c.probs = append(c.probs, Problem{Code: code, Map: c.name, Rule: where, Message: msg, Fix: fix})
}

// addErr records the problems a Binder returned.
func (c *checker) addErr(err error, where string) {
	switch e := err.(type) {
	case nil:
	case *Problem:
		q := *e
		q.Map, q.Rule = c.name, where
		c.probs = append(c.probs, q)
	case interface{ Unwrap() []error }:
		for _, inner := range e.Unwrap() {
			c.addErr(inner, where)
		}
	default:
		c.add(CodeConversion, where, err.Error(), "correct the conversion's settings")
	}
}

func (c *checker) err() error {
	if len(c.probs) == 0 {
		return nil
	}
	return &CheckError{Problems: c.probs}
}

func (c *checker) run() {
	om := c.om
	if om.Name == "" {
		c.add(CodeInvalid, "", "the map has no name", `name it ("name": "customers"), so that problems, logs and reports can point at it`)
	}
	if om.App.Object == "" {
		c.add(CodeInvalid, "", "the map names no application object", `name it ("app": {"object": "customer"})`)
	}
	if om.CRMObject == "" {
		c.add(CodeInvalid, "", "the map names no CRM object", `name it ("crm_object": "Contact")`)
	}
	if c.full() && om.CRMObject != "" && !strings.EqualFold(c.schema.Object, om.CRMObject) {
		c.add(CodeInvalid, "", fmt.Sprintf("the map is for CRM object %s but was given the schema of %s", om.CRMObject, c.schema.Object),
			fmt.Sprintf("pass the result of Describe(%q)", om.CRMObject))
	}
	c.checkAppFields()
	c.checkResidency()
	c.rules = make([]*rule, len(om.Rules))
	for i := range om.Rules {
		c.rules[i] = c.checkRule(i)
	}
	c.checkDuplicates()
	c.checkProtectedSources()
	if c.full() {
		c.applyResidency()
		c.checkRequired()
		c.checkHashKey()
	}
}

func (c *checker) checkAppFields() {
	seen := map[string]bool{}
	for i, f := range c.om.App.Fields {
		where := fmt.Sprintf("application field %d (%s)", i+1, f.Name)
		switch {
		case f.Name == "":
			c.add(CodeInvalid, fmt.Sprintf("application field %d", i+1), "the field has no name", "name it, or remove it")
			continue
		case seen[f.Name]:
			c.add(CodeDuplicate, where, fmt.Sprintf("field %q is declared twice", f.Name), "remove one of the declarations")
		}
		seen[f.Name] = true
		if f.Kind == "" {
			c.add(CodeInvalid, where, "the field has no kind", `give its kind ("kind": "string"), one of string, bool, int, decimal, datetime, date or strings`)
		} else if !validKind(f.Kind) {
			c.add(CodeInvalid, where, fmt.Sprintf("kind %q is not one crmkit carries", clip(string(f.Kind))),
				"use string, bool, int, decimal, datetime, date or strings")
		}
		if f.Length < 0 {
			c.add(CodeInvalid, where, fmt.Sprintf("length %d is negative", f.Length), "give the most characters the field holds, or 0 for no limit")
		}
	}
}

func (c *checker) checkResidency() {
	for i, r := range c.om.Residency {
		where := fmt.Sprintf("residency %d (%s)", i+1, r.App)
		if r.App == "" {
			c.add(CodeResidency, fmt.Sprintf("residency %d", i+1), "the residency rule names no application field", `name the field it keeps away ("field": "national_id")`)
			continue
		}
		if _, ok := c.om.App.Field(r.App); !ok {
			c.add(CodeResidency, where, fmt.Sprintf("application field %q is not declared", r.App), "declare it in the application schema, or correct the name"+didYouMean(r.App, c.appNames()))
		}
		if len(r.Refuse) == 0 && len(r.Only) == 0 {
			c.add(CodeResidency, where, "the residency rule refuses no connection", `list the connections in "refuse", or the allowed ones in "only"`)
		}
	}
}

func (c *checker) appNames() []string {
	out := make([]string, len(c.om.App.Fields))
	for i, f := range c.om.App.Fields {
		out[i] = f.Name
	}
	return out
}

func (c *checker) crmNames() []string {
	out := make([]string, len(c.schema.Fields))
	for i, f := range c.schema.Fields {
		out[i] = f.Name
	}
	return out
}

// checkRule checks one rule and, with a schema, builds it.
func (c *checker) checkRule(i int) *rule {
	r := c.om.Rules[i]
	where := r.label(i)
	before := len(c.probs)
	dir := r.dir()
	if r.Dir > Both {
		c.add(CodeInvalid, where, fmt.Sprintf("%s is not a direction", r.Dir), "use to_crm, from_crm or both")
		return nil
	}
	derived := r.derived()
	p := r.Protect
	switch {
	case p.Kind > ProtectMask:
		c.add(CodeInvalid, where, fmt.Sprintf("%s is not a protection", p.Kind), "use drop, hash or mask")
	case p.Kind == ProtectMask && p.Keep < 0:
		c.add(CodeProtection, where, fmt.Sprintf("mask keeps %d characters", p.Keep), "keep 0 or more characters (4 shows the last four)")
	}

	// The rule's shape.
	switch {
	case p.Kind == ProtectDrop:
		if r.App == "" {
			c.add(CodeInvalid, where, "a dropped rule names no application field", `name the field that must never leave ("app": "password_hash")`)
		}
		if r.CRM != "" {
			c.add(CodeProtection, where, fmt.Sprintf("a dropped field is never sent, but the rule names CRM field %s", r.CRM),
				`remove "crm" to keep the field in the application, or choose hash or mask to send a protected form`)
		}
		if r.Convert != nil {
			c.add(CodeProtection, where, "a dropped field is never sent, so its conversion would never run", "remove the conversion")
		}
	case derived:
		switch dir {
		case Both:
			c.add(CodeNotReversible, where, fmt.Sprintf("%s flows one way, but the rule flows both", describe(r.Convert)),
				"set dir to to_crm (to fill the CRM field) or from_crm (to fill the application field)")
		case ToCRM:
			if r.App != "" {
				c.add(CodeInvalid, where, fmt.Sprintf("the rule's value comes from %s, not from an application field, but the rule names application field %q", describe(r.Convert), r.App),
					`remove "app"; a computed function reads any fields it needs`)
			}
			if r.CRM == "" {
				c.add(CodeInvalid, where, "the rule names no CRM field to fill", `name it ("crm": "LeadSource")`)
			}
		case FromCRM:
			if r.CRM != "" {
				c.add(CodeInvalid, where, fmt.Sprintf("the rule's value comes from %s, not from a CRM field, but the rule names CRM field %q", describe(r.Convert), r.CRM),
					`remove "crm"; a computed function reads any fields it needs`)
			}
			if r.App == "" {
				c.add(CodeInvalid, where, "the rule names no application field to fill", `name it ("app": "source")`)
			}
		}
	default:
		if r.App == "" {
			c.add(CodeInvalid, where, "the rule names no application field", `name one ("app": "email"), or use a constant or computed conversion`)
		}
		if r.CRM == "" {
			c.add(CodeInvalid, where, "the rule names no CRM field", `name one ("crm": "Email"), or protect the field with drop to keep it in the application`)
		}
	}
	if p.Kind == ProtectHash || p.Kind == ProtectMask {
		if dir != ToCRM {
			c.add(CodeProtection, where, fmt.Sprintf("a %s value cannot come back: the application would receive the protected form in place of its own value", p.Kind.past()),
				"set dir to to_crm")
		}
		if derived {
			c.add(CodeProtection, where, fmt.Sprintf("%s protects an application field, but the rule's value is derived", p.Kind),
				"protect the rules that send the application fields the value is made from")
		}
	}
	if r.Convert != nil && !derived && p.Kind != ProtectDrop {
		if have := directionsOf(r.Convert); have&dir != dir {
			c.add(CodeNotReversible, where, fmt.Sprintf("%s converts only %s, but the rule flows %s", describe(r.Convert), have, dir),
				fmt.Sprintf("set dir to %s, or use a conversion that works both ways", have))
		}
	}

	// The fields.
	var app *AppField
	if r.App != "" {
		var ok bool
		if app, ok = c.om.App.Field(r.App); !ok {
			c.add(CodeUnknownAppField, where, fmt.Sprintf("application object %s declares no field %q", c.om.App.Object, r.App),
				"declare it in the application schema, or correct the name"+didYouMean(r.App, c.appNames()))
		}
	}
	var cf *crm.Field
	if r.CRM != "" && c.full() {
		var ok bool
		if cf, ok = c.schema.Field(r.CRM); !ok {
			c.add(CodeUnknownCRMField, where, fmt.Sprintf("CRM object %s has no field %q", c.schema.Object, r.CRM),
				fmt.Sprintf("correct the name%s, or create the field in the CRM; Describe(%q) lists its fields", didYouMeanFold(r.CRM, c.crmNames()), c.schema.Object))
		}
	}
	if len(c.probs) > before {
		return nil
	}

	b := Binding{Map: c.name, Rule: where, Dir: dir, CRMObject: c.om.CRMObject, Schemas: c.full(), opts: c.opts}
	if app != nil {
		b.App = *app
	}
	if cf != nil {
		b.CRM = *cf
		b.CRMObject = c.schema.Object
	}
	if c.opts != nil {
		b.Links = c.opts.links
	}
	out := &rule{idx: i, spec: r, label: where, dir: dir, app: r.App, crm: r.CRM, protect: p, conv: r.Convert}
	if app != nil {
		out.appKind, out.personal, out.appLen = app.Kind, app.Personal, app.Length
		out.appDest = fmt.Sprintf("application field %q", app.Name)
	}
	if cf != nil {
		out.crm, out.crmKind, out.crmLen = cf.Name, cf.Type.Value(), cf.Length
		out.crmDest = c.schema.Object + "." + cf.Name
	}
	if p.Kind != ProtectNone {
		out.personal = true
	}
	if r.Convert != nil && p.Kind != ProtectDrop {
		bound, err := bindOne(r.Convert, b)
		if err != nil {
			c.addErr(err, where)
			return nil
		}
		out.conv = bound
		if d, ok := bound.(Deriver); ok {
			out.derive, out.readsSrc = d, readsSource(bound)
		}
	}
	out.desc = "—"
	if out.conv != nil {
		out.desc = describe(out.conv)
	}
	if !c.full() || p.Kind == ProtectDrop {
		return out
	}

	// Checks that need both sides.
	if dir.has(ToCRM) && cf != nil && !cf.Createable && !cf.Updateable {
		c.add(CodeReadOnly, where, fmt.Sprintf("CRM field %s.%s is read-only for the integration user", c.schema.Object, cf.Name),
			"set dir to from_crm, or grant the integration user edit access to the field in the CRM")
	}
	if dir.has(FromCRM) && app != nil && app.ReadOnly {
		c.add(CodeReadOnly, where, fmt.Sprintf("application field %q is read-only, but the rule writes it from the CRM", app.Name),
			"set dir to to_crm")
	}
	if p.Kind == ProtectHash || p.Kind == ProtectMask {
		c.checkProtectedTarget(where, p, app, cf)
		return out
	}
	if r.Convert == nil && app != nil && cf != nil {
		c.checkPlain(where, dir, app, cf)
	}
	if len(c.probs) > before {
		return nil
	}
	return out
}

// checkPlain checks a rule without a conversion: the kinds must match, the
// application's enumerated values must exist in the CRM picklist, and text
// must fit.
func (c *checker) checkPlain(where string, dir Direction, app *AppField, cf *crm.Field) {
	ak, ck := app.Kind, cf.Type.Value()
	if ak != ck {
		c.add(CodeTypeMismatch, where, fmt.Sprintf("application field %q holds %s but CRM field %s.%s holds %s", app.Name, kindName(ak), c.schema.Object, cf.Name, fieldKind(cf)),
			suggestConversion(ak, cf))
		return
	}
	b := Binding{Map: c.name, Rule: where, Dir: dir, App: *app, CRM: *cf, CRMObject: c.schema.Object}
	if dir.has(ToCRM) && len(app.Values) > 0 {
		for _, e := range picklistMissing(b, app.Values) {
			c.addErr(e, where)
		}
	}
	if ak != crm.ValueString {
		return
	}
	if dir.has(ToCRM) && cf.Length > 0 && app.Length > cf.Length {
		c.add(CodeLengthOverflow, where, fmt.Sprintf("application field %q holds up to %d characters but CRM field %s.%s holds %d", app.Name, app.Length, c.schema.Object, cf.Name, cf.Length),
			`add a truncate conversion ("convert": {"type": "truncate"}), or shorten the application field`)
	}
	if dir.has(FromCRM) && app.Length > 0 && (cf.Length == 0 || cf.Length > app.Length) {
		held := "text of any length"
		if cf.Length > 0 {
			held = fmt.Sprintf("up to %d characters", cf.Length)
		}
		c.add(CodeLengthOverflow, where, fmt.Sprintf("CRM field %s.%s holds %s but application field %q holds %d", c.schema.Object, cf.Name, held, app.Name, app.Length),
			`add a truncate conversion ("convert": {"type": "truncate"}), or lengthen the application field`)
	}
}

// checkProtectedTarget checks that the CRM field can hold a hash or a mask.
func (c *checker) checkProtectedTarget(where string, p Protection, app *AppField, cf *crm.Field) {
	if cf == nil {
		return
	}
	if cf.Type.Value() != crm.ValueString || cf.Type == crm.TypePicklist || cf.Type == crm.TypeReference || cf.Type == crm.TypeID {
		c.add(CodeProtection, where, fmt.Sprintf("a %s value is text, but CRM field %s.%s holds %s", p.Kind.past(), c.schema.Object, cf.Name, fieldKind(cf)),
			"map it to a text field")
		return
	}
	switch {
	case p.Kind == ProtectHash && cf.Length > 0 && cf.Length < hashLen:
		c.add(CodeLengthOverflow, where, fmt.Sprintf("a hash is %d characters but CRM field %s.%s holds %d", hashLen, c.schema.Object, cf.Name, cf.Length),
			fmt.Sprintf("map it to a text field of %d characters or more", hashLen))
	case p.Kind == ProtectMask && app != nil && cf.Length > 0 && (app.Length == 0 || app.Length > cf.Length):
		c.add(CodeLengthOverflow, where, fmt.Sprintf("a masked value is as long as the value, which application field %q does not limit to the %d characters CRM field %s.%s holds", app.Name, cf.Length, c.schema.Object, cf.Name),
			"declare the application field's length, or map it to a longer field")
	}
}

// checkDuplicates refuses two rules that write the same destination.
func (c *checker) checkDuplicates() {
	toCRM := map[string]int{}
	toApp := map[string]int{}
	for i, r := range c.om.Rules {
		if r.Protect.Kind == ProtectDrop || r.Dir > Both {
			continue
		}
		dir := r.dir()
		if dir.has(ToCRM) && r.CRM != "" {
			key := strings.ToLower(r.CRM)
			if j, ok := toCRM[key]; ok {
				c.add(CodeDuplicate, r.label(i), fmt.Sprintf("CRM field %s is also written by %s", r.CRM, c.om.Rules[j].label(j)),
					"keep one of the rules, or set one of them to from_crm")
			} else {
				toCRM[key] = i
			}
		}
		if dir.has(FromCRM) && r.App != "" {
			if j, ok := toApp[r.App]; ok {
				c.add(CodeDuplicate, r.label(i), fmt.Sprintf("application field %q is also written by %s", r.App, c.om.Rules[j].label(j)),
					"keep one of the rules, or set one of them to to_crm")
			} else {
				toApp[r.App] = i
			}
		}
	}
}

// checkProtectedSources refuses a rule that sends, unprotected, an
// application field that another rule protects.
func (c *checker) checkProtectedSources() {
	protected := map[string]int{}
	for i, r := range c.om.Rules {
		if r.Protect.Kind != ProtectNone && r.App != "" {
			if _, ok := protected[r.App]; !ok {
				protected[r.App] = i
			}
		}
	}
	for i, r := range c.om.Rules {
		j, ok := protected[r.App]
		if !ok || r.App == "" || r.Protect.Kind != ProtectNone || r.Dir > Both || !r.dir().has(ToCRM) {
			continue
		}
		pr := c.om.Rules[j]
		c.add(CodeProtection, r.label(i), fmt.Sprintf("application field %q is %s by %s, but this rule sends it unprotected", r.App, pr.Protect.Kind.past(), pr.label(j)),
			"protect this rule too, set it to from_crm, or remove it")
	}
}

// applyResidency marks the rules that must not run on this connection.
func (c *checker) applyResidency() {
	if len(c.om.Residency) == 0 {
		return
	}
	conn := ""
	if c.opts != nil {
		conn = c.opts.conn
	}
	if conn == "" {
		c.add(CodeResidency, "", "the map has residency rules but no connection was named, so they cannot be applied",
			`pass mapping.WithConnection("name") to mapping.New with the name of the CRM connection this map serves`)
		return
	}
	for _, res := range c.om.Residency {
		if !res.refuses(conn) {
			continue
		}
		reason := fmt.Sprintf("refused on connection %s by residency", conn)
		if res.Reason != "" {
			reason += ": " + res.Reason
		}
		for _, r := range c.rules {
			if r != nil && r.app == res.App {
				r.refused = reason
			}
		}
	}
}

// checkRequired finds CRM fields required on create that no rule writes.
func (c *checker) checkRequired() {
	for _, f := range c.schema.Fields {
		if !f.Required || !f.Createable || f.Type == crm.TypeID || strings.EqualFold(f.Name, c.schema.IDField) {
			continue
		}
		written, refused := false, ""
		for i, r := range c.rules {
			spec := c.om.Rules[i]
			if !spec.dir().has(ToCRM) || !strings.EqualFold(spec.CRM, f.Name) || spec.Protect.Kind == ProtectDrop {
				continue
			}
			if r != nil && r.refused != "" {
				refused = r.refused
				continue
			}
			written = true
		}
		if written {
			continue
		}
		msg := fmt.Sprintf("CRM field %s.%s is required on create, but no rule writes it", c.schema.Object, f.Name)
		if refused != "" {
			msg = fmt.Sprintf("CRM field %s.%s is required on create, but its only rule is %s", c.schema.Object, f.Name, refused)
		}
		c.add(CodeRequiredUnmapped, "CRM field "+f.Name, msg,
			fmt.Sprintf(`map an application field to it, or give it a constant ({"crm": %q, "dir": "to_crm", "convert": {"type": "constant", "value": ...}})`, f.Name))
	}
}

// checkHashKey needs a key when any rule hashes.
func (c *checker) checkHashKey() {
	var hashed []string
	for i, r := range c.om.Rules {
		if r.Protect.Kind == ProtectHash {
			hashed = append(hashed, r.label(i))
		}
	}
	switch {
	case len(hashed) == 0 || c.opts != nil && len(c.opts.key) > 0:
	case c.opts != nil && c.opts.shortKey > 0:
		c.add(CodeProtection, strings.Join(hashed, ", "), fmt.Sprintf("the hash key is %d bytes, too short to resist guessing", c.opts.shortKey),
			"pass mapping.WithHashKey a key of at least 32 random bytes from your secret store")
	default:
		c.add(CodeProtection, strings.Join(hashed, ", "), "the rule hashes values but no hash key was given",
			"pass mapping.WithHashKey(key) to mapping.New, with at least 32 random bytes from your secret store")
	}
}

// suggestConversion names the conversion that joins two kinds.
func suggestConversion(app crm.ValueKind, cf *crm.Field) string {
	crmKind := cf.Type.Value()
	is := func(k crm.ValueKind, ks ...crm.ValueKind) bool { return slices.Contains(ks, k) }
	var conv, goName string
	switch {
	case crmKind == crm.ValueDecimal && (cf.Type == crm.TypeCurrency) && is(app, crm.ValueString, crm.ValueInt64, crm.ValueDecimal):
		conv, goName = `{"type": "currency"}`, "mapping.Currency{}"
	case is(app, numberKinds...) && is(crmKind, numberKinds...):
		conv, goName = `{"type": "number"}`, "mapping.Number{}"
	case (app == crm.ValueBool && is(crmKind, boolKinds...)) || (crmKind == crm.ValueBool && is(app, boolKinds...)):
		conv, goName = `{"type": "bool"}`, "mapping.Bool{}"
	case app == crm.ValueStrings || crmKind == crm.ValueStrings:
		conv, goName = `{"type": "multiselect"}`, "mapping.MultiSelect{}"
	case is(app, crm.ValueTime, crm.ValueDate, crm.ValueString) && is(crmKind, crm.ValueTime, crm.ValueDate):
		conv, goName = `{"type": "datetime"}`, "mapping.DateTime{}"
	default:
		return "map fields of the same kind, or write a conversion (mapping.Func in Go, registered for a file with mapping.WithConversion)"
	}
	return fmt.Sprintf(`add a conversion: "convert": %s (%s in Go)`, conv, goName)
}

// didYouMean suggests the closest name, matched exactly in case.
func didYouMean(name string, names []string) string {
	if s := closest(name, names, false); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

// didYouMeanFold suggests the closest name without regard to case.
func didYouMeanFold(name string, names []string) string {
	if s := closest(name, names, true); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

// closest returns the name nearest to s within an edit distance of a third
// of its length (at least 1, at most 3), or "".
func closest(s string, names []string, fold bool) string {
	best, bestD := "", min(max(len(s)/3, 1), 3)+1
	for _, n := range names {
		a, b := s, n
		if fold {
			a, b = strings.ToLower(a), strings.ToLower(b)
		}
		if d := editDistance(a, b); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the optimal-string-alignment distance between two short
// names: insertions, deletions, substitutions and swaps of neighbours each
// count one, so "emial" is one away from "email".
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		if a == b {
			return 0
		}
		return 64
	}
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
