package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/crmkit/crmkit/crm"
)

// FileVersion is the version of the declarative format that [Parse] reads.
const FileVersion = 1

// maxFile bounds what Parse reads: far beyond any map file, and small enough
// that a hostile file cannot make the loader allocate without limit.
const maxFile = 8 << 20

// maxChain bounds how deeply chains may nest.
const maxChain = 8

// LoadFile reads maps from a file in the declarative format; see [Parse].
func LoadFile(path string) ([]ObjectMap, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mapping: %w", err)
	}
	return Parse(data)
}

// Parse reads maps from the declarative JSON format described in the package
// documentation, and runs [ObjectMap.Validate] on each. It reports every
// problem it finds, not just the first, in a [*CheckError]: each names the
// map, the rule or field, and the fix. Unknown keys are problems too, so a
// misspelt key is never silently ignored.
//
// A computed value or a custom conversion named in the file is bound to its
// Go function by [New] (see [WithFunc] and [WithConversion]).
func Parse(data []byte) ([]ObjectMap, error) {
	l := &loader{}
	out := l.file(data)
	if len(l.probs) > 0 {
		return nil, &CheckError{Problems: l.probs}
	}
	return out, nil
}

type loader struct {
	probs []Problem
}

func (l *loader) add(code Code, mapName, where, msg, fix string) {
	l.probs = append(l.probs, Problem{Code: code, Map: mapName, Rule: where, Message: msg, Fix: fix})
}

func (l *loader) file(data []byte) []ObjectMap {
	const file = "" // problems of the file itself
	if len(data) > maxFile {
		l.add(CodeInvalid, file, "", fmt.Sprintf("the file is %d bytes, more than the %d a map file may have", len(data), maxFile), "split the maps over several files")
		return nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			line, col := position(data, se.Offset)
			l.add(CodeSyntax, file, "", fmt.Sprintf("the file is not valid JSON: line %d, column %d: %s", line, col, strings.TrimPrefix(se.Error(), "json: ")),
				"correct the JSON at that position")
		case errors.As(err, &te):
			l.add(CodeSyntax, file, "", fmt.Sprintf("the file holds a JSON %s, not an object", te.Value), `write an object: {"version": 1, "maps": [...]}`)
		default:
			l.add(CodeSyntax, file, "", "the file is not valid JSON: "+strings.TrimPrefix(err.Error(), "json: "), "correct the JSON")
		}
		return nil
	}
	if top == nil {
		l.add(CodeSyntax, file, "", "the file holds null, not an object", `write an object: {"version": 1, "maps": [...]}`)
		return nil
	}
	o := &obj{l: l, m: top, mapName: file, what: "the file"}
	o.only("version", "maps")
	if v, ok := o.integer("version", FileVersion); !ok {
		if !o.has("version") {
			l.add(CodeInvalid, file, "", "the file has no version", fmt.Sprintf(`add "version": %d`, FileVersion))
		}
	} else if v != FileVersion {
		l.add(CodeInvalid, file, "", fmt.Sprintf("version %d is not one this crmkit reads", v), fmt.Sprintf(`write maps in version %d and set "version": %d`, FileVersion, FileVersion))
	}
	raws, ok := o.array("maps")
	if !ok {
		if !o.has("maps") {
			l.add(CodeInvalid, file, "", "the file has no maps", `list them: "maps": [{"name": "customers", ...}]`)
		}
		return nil
	}
	out := make([]ObjectMap, 0, len(raws))
	names := map[string]int{}
	for i, raw := range raws {
		om, fallback, whole := l.objectMap(i, raw)
		if om == nil {
			continue
		}
		if om.Name != "" {
			if j, dup := names[om.Name]; dup {
				l.add(CodeDuplicate, om.Name, "", fmt.Sprintf("maps %d and %d are both named %q", j+1, i+1, om.Name), "give each map its own name")
			} else {
				names[om.Name] = i
			}
		}
		if whole {
			// Validate too, so the file's problems come in one list. Its rule
			// numbers match the file's only when every rule was an object.
			c := newChecker(om, fallback, nil, nil)
			c.run()
			for _, p := range c.probs {
				if !slices.Contains(l.probs, p) {
					l.probs = append(l.probs, p)
				}
			}
		}
		out = append(out, *om)
	}
	return out
}

// position turns a byte offset into a 1-based line and column.
func position(data []byte, off int64) (line, col int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	before := data[:max(off, 0)]
	line = bytes.Count(before, []byte("\n")) + 1
	col = len(before) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// objectMap reads one map. whole is false when a rule or field was not even
// an object, so that the map's rules no longer line up with the file's.
func (l *loader) objectMap(i int, raw json.RawMessage) (om *ObjectMap, fallback string, whole bool) {
	fallback = fmt.Sprintf("#%d", i+1)
	o, ok := l.object(raw, fallback, "", fmt.Sprintf("map %d", i+1))
	if !ok {
		return nil, fallback, false
	}
	whole = true
	om = &ObjectMap{}
	if name, ok := o.str("name"); ok {
		om.Name = name
		if name != "" {
			o.mapName = name
		}
	}
	o.only("name", "note", "app", "crm_object", "rules", "residency")
	om.Note, _ = o.str("note")
	om.CRMObject, _ = o.str("crm_object")
	if app, ok := o.sub("app", "the application schema"); ok {
		app.only("object", "fields")
		om.App.Object, _ = app.str("object")
		fields, _ := app.array("fields")
		for j, fr := range fields {
			f, ok := l.object(fr, o.mapName, fmt.Sprintf("application field %d", j+1), "the application field")
			if !ok {
				whole = false
				continue
			}
			var af AppField
			af.Name, _ = f.str("name")
			if af.Name != "" {
				f.where = fmt.Sprintf("application field %d (%s)", j+1, af.Name)
			}
			f.only("name", "kind", "length", "read_only", "personal", "values", "note")
			if k, ok := f.str("kind"); ok {
				if af.Kind, ok = parseKind(k); !ok {
					af.Kind = crm.ValueKind(k) // Validate names it
				}
			}
			af.Length, _ = f.integer("length", 80)
			af.ReadOnly, _ = f.boolean("read_only")
			af.Personal, _ = f.boolean("personal")
			af.Values, _ = f.strings("values")
			af.Note, _ = f.str("note")
			om.App.Fields = append(om.App.Fields, af)
		}
	}
	residency, _ := o.array("residency")
	for j, rr := range residency {
		r, ok := l.object(rr, o.mapName, fmt.Sprintf("residency %d", j+1), "the residency rule")
		if !ok {
			whole = false
			continue
		}
		r.only("field", "refuse", "only", "reason")
		var res Residency
		res.App, _ = r.str("field")
		res.Refuse, _ = r.strings("refuse")
		res.Only, _ = r.strings("only")
		res.Reason, _ = r.str("reason")
		om.Residency = append(om.Residency, res)
	}
	rules, _ := o.array("rules")
	for j, rr := range rules {
		r, ok := l.rule(o.mapName, j, rr)
		if !ok {
			whole = false
			continue
		}
		om.Rules = append(om.Rules, r)
	}
	return om, fallback, whole
}

// rule reads one rule; ok is false only when it is not an object.
func (l *loader) rule(mapName string, i int, raw json.RawMessage) (r Rule, ok bool) {
	start := len(l.probs)
	o, ok := l.object(raw, mapName, fmt.Sprintf("rule %d", i+1), "the rule")
	if !ok {
		return Rule{}, false
	}
	o.only("app", "crm", "dir", "convert", "protect", "note")
	r.App, _ = o.str("app")
	r.CRM, _ = o.str("crm")
	r.Note, _ = o.str("note")
	if d, ok := o.str("dir"); ok {
		if r.Dir, ok = parseDirection(d); !ok {
			o.bad(fmt.Sprintf("dir %q is not a direction", clip(d)), "use to_crm, from_crm or both")
		}
	}
	if c, ok := o.sub("convert", "the conversion"); ok {
		r.Convert = l.conversion(c, 0)
	}
	if p, ok := o.sub("protect", "the protection"); ok {
		r.Protect = l.protection(p)
	}
	// Name the rule in its problems by its fields, as Validate does.
	for k := start; k < len(l.probs); k++ {
		l.probs[k].Rule = r.label(i)
	}
	return r, true
}

func (l *loader) protection(o *obj) Protection {
	t, ok := o.str("type")
	if !ok {
		if !o.has("type") {
			o.bad("the protection has no type", `give one: {"type": "drop"}, {"type": "hash"} or {"type": "mask", "keep": 4}`)
		}
		return Protection{}
	}
	kind, ok := parseProtectKind(t)
	if !ok {
		o.bad(fmt.Sprintf("protection %q is not one crmkit knows", clip(t)), "use drop, hash or mask"+didYouMean(t, []string{"drop", "hash", "mask"}))
		return Protection{}
	}
	p := Protection{Kind: kind}
	switch kind {
	case ProtectDrop:
		o.only("type")
	case ProtectHash:
		o.only("type", "fold_case")
		p.FoldCase, _ = o.boolean("fold_case")
	case ProtectMask:
		o.only("type", "keep")
		p.Keep, _ = o.integer("keep", 4)
	}
	return p
}

var conversionTypes = []string{"picklist", "multiselect", "truncate", "datetime", "number", "currency", "bool", "reference", "constant", "computed", "custom", "chain"}

func (l *loader) conversion(o *obj, depth int) Conversion {
	t, ok := o.str("type")
	if !ok {
		if !o.has("type") {
			o.bad("the conversion has no type", "give one of "+strings.Join(conversionTypes, ", "))
		}
		return nil
	}
	table := func() Picklist {
		var p Picklist
		p.Values, _ = o.stringMap("values")
		p.Reverse, _ = o.stringMap("reverse")
		if u, ok := o.str("unknown"); ok {
			if p.Unknown, ok = parseUnknown(u); !ok {
				o.bad(fmt.Sprintf("unknown %q is not a choice", clip(u)), "use error, default or pass")
			}
		}
		p.DefaultCRM, _ = o.str("default_crm")
		p.DefaultApp, _ = o.str("default_app")
		p.FoldCase, _ = o.boolean("fold_case")
		return p
	}
	tableKeys := []string{"values", "reverse", "unknown", "default_crm", "default_app", "fold_case"}
	switch t {
	case "picklist":
		o.only(append([]string{"type"}, tableKeys...)...)
		return table()
	case "multiselect":
		o.only(append([]string{"type", "separator"}, tableKeys...)...)
		m := MultiSelect{}
		m.Separator, _ = o.str("separator")
		if slices.ContainsFunc(tableKeys, o.has) {
			p := table()
			m.Table = &p
		}
		return m
	case "truncate":
		o.only("type", "length", "overflow")
		var tr Truncate
		tr.Length, _ = o.integer("length", 80)
		if s, ok := o.str("overflow"); ok {
			if tr.Overflow, ok = parseOverflow(s); !ok {
				o.bad(fmt.Sprintf("overflow %q is not a choice", clip(s)), "use warn or error")
			}
		}
		return tr
	case "datetime":
		o.only("type", "app_zone", "crm_zone")
		var d DateTime
		d.AppZone, _ = o.str("app_zone")
		d.CRMZone, _ = o.str("crm_zone")
		return d
	case "number":
		o.only("type")
		return Number{}
	case "currency":
		o.only("type", "minor_units", "round")
		var c Currency
		c.MinorUnits, _ = o.integer("minor_units", 2)
		c.Round, _ = o.boolean("round")
		return c
	case "bool":
		o.only("type", "true", "false")
		var b Bool
		b.True, _ = o.strings("true")
		b.False, _ = o.strings("false")
		return b
	case "reference":
		o.only("type", "app_object", "crm_object", "missing")
		var r Reference
		r.AppObject, _ = o.str("app_object")
		r.CRMObject, _ = o.str("crm_object")
		if s, ok := o.str("missing"); ok {
			switch s {
			case "error":
			case "null":
				r.NullIfMissing = true
			default:
				o.bad(fmt.Sprintf("missing %q is not a choice", clip(s)), "use error or null")
			}
		}
		return r
	case "constant":
		o.only("type", "value")
		v, ok := o.constant("value")
		if !ok && !o.has("value") {
			o.bad("the constant has no value", `give it one ("value": "Web"), or null to clear the field`)
		}
		return Constant{Value: v}
	case "computed":
		o.only("type", "name")
		var c Computed
		c.Name, _ = o.str("name")
		return c
	case "custom":
		o.only("type", "name")
		var c Custom
		c.Name, _ = o.str("name")
		return c
	case "chain":
		o.only("type", "steps")
		if depth >= maxChain {
			o.bad(fmt.Sprintf("chains nest more than %d deep", maxChain), "flatten the chain")
			return nil
		}
		steps, _ := o.array("steps")
		var ch Chain
		for i, raw := range steps {
			s, ok := o.l.object(raw, o.mapName, o.where, fmt.Sprintf("step %d of the chain", i+1))
			if !ok {
				continue
			}
			if c := l.conversion(s, depth+1); c != nil {
				ch = append(ch, c)
			}
		}
		return ch
	}
	o.bad(fmt.Sprintf("conversion %q is not one crmkit knows", clip(t)), "use one of "+strings.Join(conversionTypes, ", ")+didYouMean(t, conversionTypes))
	return nil
}

// obj is one JSON object being read, with where its problems go.
type obj struct {
	l       *loader
	m       map[string]json.RawMessage
	mapName string
	where   string // the rule or field, for problems
	what    string // "the rule", for messages about the object itself
}

// object decodes raw as an object, reporting anything else.
func (l *loader) object(raw json.RawMessage, mapName, where, what string) (*obj, bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		l.add(CodeInvalid, mapName, where, fmt.Sprintf("%s must be a JSON object, not %s", what, jsonType(raw)), "write it as {...}")
		return nil, false
	}
	return &obj{l: l, m: m, mapName: mapName, where: where, what: what}, true
}

func (o *obj) has(key string) bool {
	_, ok := o.m[key]
	return ok
}

// only reports every key that is not in keys.
func (o *obj) only(keys ...string) {
	for _, k := range slices.Sorted(maps.Keys(o.m)) {
		if slices.Contains(keys, k) {
			continue
		}
		fix := "remove it; the keys here are " + strings.Join(keys, ", ")
		if s := closest(k, keys, true); s != "" {
			fix = fmt.Sprintf("did you mean %q? The keys here are %s", s, strings.Join(keys, ", "))
		}
		o.l.add(CodeInvalid, o.mapName, o.where, fmt.Sprintf("%s has an unknown key %q", o.what, clip(k)), fix)
	}
}

func (o *obj) bad(msg, fix string) {
	o.l.add(CodeInvalid, o.mapName, o.where, msg, fix)
}

func (o *obj) wrongType(key, want, example string) {
	o.l.add(CodeInvalid, o.mapName, o.where, fmt.Sprintf("%q must be %s, not %s", key, want, jsonType(o.m[key])), "write it like "+example)
}

// present returns the value of key, treating null as absent.
func (o *obj) present(key string) (json.RawMessage, bool) {
	raw, ok := o.m[key]
	if !ok || jsonType(raw) == "null" {
		return nil, false
	}
	return raw, true
}

func (o *obj) str(key string) (string, bool) {
	raw, ok := o.present(key)
	if !ok {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		o.wrongType(key, "text", fmt.Sprintf(`"%s": "..."`, key))
		return "", false
	}
	return s, true
}

// integer reads a whole number; example is a typical value for the message.
func (o *obj) integer(key string, example int) (int, bool) {
	raw, ok := o.present(key)
	if !ok {
		return 0, false
	}
	text := string(bytes.TrimSpace(raw))
	n, err := strconv.Atoi(text)
	if err == nil && n >= -1_000_000_000 && n <= 1_000_000_000 {
		return n, true
	}
	fix := fmt.Sprintf(`write it like "%s": %d`, key, example)
	if jsonType(raw) == "a number" {
		o.l.add(CodeInvalid, o.mapName, o.where, fmt.Sprintf("%q must be a whole number of at most nine digits, not %s", key, clip(text)), fix)
	} else {
		o.l.add(CodeInvalid, o.mapName, o.where, fmt.Sprintf("%q must be a whole number, not %s", key, jsonType(raw)), fix)
	}
	return 0, false
}

func (o *obj) boolean(key string) (bool, bool) {
	raw, ok := o.present(key)
	if !ok {
		return false, false
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		o.wrongType(key, "true or false", fmt.Sprintf(`"%s": true`, key))
		return false, false
	}
	return b, true
}

func (o *obj) strings(key string) ([]string, bool) {
	raw, ok := o.present(key)
	if !ok {
		return nil, false
	}
	var ss []string
	if err := json.Unmarshal(raw, &ss); err != nil {
		o.wrongType(key, "a list of text", fmt.Sprintf(`"%s": ["a", "b"]`, key))
		return nil, false
	}
	return ss, true
}

func (o *obj) stringMap(key string) (map[string]string, bool) {
	raw, ok := o.present(key)
	if !ok {
		return nil, false
	}
	var m map[string]string
	if err := json.Unmarshal(raw, &m); err != nil {
		o.wrongType(key, "an object of text values", fmt.Sprintf(`"%s": {"active": "Customer"}`, key))
		return nil, false
	}
	return m, true
}

func (o *obj) array(key string) ([]json.RawMessage, bool) {
	raw, ok := o.present(key)
	if !ok {
		return nil, false
	}
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil {
		o.wrongType(key, "a list", fmt.Sprintf(`"%s": [...]`, key))
		return nil, false
	}
	return a, true
}

func (o *obj) sub(key, what string) (*obj, bool) {
	raw, ok := o.present(key)
	if !ok {
		return nil, false
	}
	return o.l.object(raw, o.mapName, o.where, what)
}

// constant reads a constant: text, a number kept exact, true or false, or a
// list of text.
func (o *obj) constant(key string) (any, bool) {
	raw, ok := o.present(key)
	if !ok {
		return nil, false
	}
	switch jsonType(raw) {
	case "an object":
		o.wrongType(key, "text, a number, true, false, null or a list of text", `"value": "Web"`)
		return nil, false
	case "a list":
		ss, ok := o.strings(key)
		return ss, ok
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		o.wrongType(key, "text, a number, true, false, null or a list of text", `"value": "Web"`)
		return nil, false
	}
	return v, true
}

// jsonType names the kind of a JSON value for messages.
func jsonType(raw json.RawMessage) string {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '"':
		return "text"
	case '{':
		return "an object"
	case '[':
		return "a list"
	case 't', 'f':
		return "true or false"
	case 'n':
		return "null"
	}
	return "a number"
}
