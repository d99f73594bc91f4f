package mapping

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/crmkit/crmkit/crm"
)

// Map converts records between one application object and one CRM object,
// as an [ObjectMap] declares. Build it with [New], which checks the
// declaration against the CRM's schema first. A Map is immutable and safe
// for concurrent use.
type Map struct {
	name     string
	spec     ObjectMap
	crmObj   string // the CRM object, as its schema spells it
	conn     string
	rules    []*rule         // every rule, in declared order
	to, from []*rule         // the rules that run in each direction
	hidden   map[string]bool // application fields computed functions must not see
	hmac     *sync.Pool      // of hash.Hash keyed with the host's key
	log      *slog.Logger
}

// rule is a checked, bound rule.
type rule struct {
	idx      int
	spec     Rule
	label    string
	dir      Direction
	app, crm string // field names; crm as the schema spells it
	conv     Conversion
	derive   Deriver
	readsSrc bool // the Deriver reads the source record (a Constant does not)
	protect  Protection
	appKind  crm.ValueKind
	crmKind  crm.ValueKind
	appLen   int    // the application field's declared length; 0 if none
	crmLen   int    // the CRM field's described length; 0 if none
	appDest  string // "application field \"email\"", for messages
	crmDest  string // "Contact.Email", for messages
	personal bool
	refused  string // why the rule does not run on this connection
	desc     string
}

// Option configures [New] and [Build].
type Option func(*options)

type options struct {
	key         []byte
	links       LinkResolver
	conn        string
	funcs       map[string]ComputeFunc
	conversions map[string]Conversion
	log         *slog.Logger
	shortKey    int // the length of a key WithHashKey refused as too short; 0 if none
}

// WithHashKey sets the key of the keyed hash that [Hash] protection uses. Use
// at least 32 random bytes kept in a secret store, and the same key
// everywhere a hash must match: a new key gives new hashes. A key shorter
// than 16 bytes is refused (a problem when a rule hashes). The key is
// copied, and never appears in an error, a log or a report.
func WithHashKey(key []byte) Option {
	return func(o *options) {
		if len(key) < minHashKey {
			o.key, o.shortKey = nil, max(len(key), 1)
			return
		}
		o.key, o.shortKey = slices.Clone(key), 0
	}
}

// WithLinks sets the resolver that [Reference] conversions use.
func WithLinks(r LinkResolver) Option { return func(o *options) { o.links = r } }

// WithConnection names the CRM connection the map serves, such as
// "salesforce-eu". [Residency] rules refuse fields by this name; a map with
// residency rules needs it.
func WithConnection(name string) Option { return func(o *options) { o.conn = name } }

// WithFunc registers the function of a [Computed] value named in a file.
func WithFunc(name string, fn ComputeFunc) Option {
	return func(o *options) {
		if o.funcs == nil {
			o.funcs = map[string]ComputeFunc{}
		}
		o.funcs[name] = fn
	}
}

// WithConversion registers a conversion written in Go, for a file to use as
// {"type": "custom", "name": name}.
func WithConversion(name string, c Conversion) Option {
	return func(o *options) {
		if o.conversions == nil {
			o.conversions = map[string]Conversion{}
		}
		o.conversions[name] = c
	}
}

// WithLogger sets where warnings go, such as a truncated text. Warnings name
// the map, the rule and what happened, never the value. The default is
// slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

func collect(opts []Option) *options {
	o := &options{}
	for _, opt := range opts {
		if opt != nil {
			opt(o)
		}
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	return o
}

// New checks om against the CRM object's schema (as [crm.Client.Describe]
// returns it) and returns the Map that converts its records. The checks
// cover unknown fields on either side, kinds that differ without a
// conversion, writes to read-only fields, CRM fields required on create that
// no rule writes, picklist values missing on the CRM side, text that may not
// fit, protections that cannot be enforced, and each conversion's settings.
// Every problem is reported at once in a [*CheckError], each naming the
// field and a fix.
func New(om ObjectMap, schema *crm.Schema, opts ...Option) (*Map, error) {
	o := collect(opts)
	if schema == nil {
		return nil, &CheckError{Problems: []Problem{{Code: CodeInvalid, Map: orName(om.Name), Message: "no CRM schema was given",
			Fix: fmt.Sprintf("pass the schema that Describe(%q) returns", om.CRMObject)}}}
	}
	return build(om, schema, o)
}

func orName(s string) string {
	if s == "" {
		return "(unnamed)"
	}
	return s
}

func build(om ObjectMap, schema *crm.Schema, o *options) (*Map, error) {
	om = cloneMap(om)
	c := newChecker(&om, "", schema, o)
	c.run()
	if err := c.err(); err != nil {
		return nil, err
	}
	m := &Map{name: om.Name, spec: om, crmObj: schema.Object, conn: o.conn, rules: c.rules, log: o.log, hidden: map[string]bool{}}
	for _, r := range m.rules {
		if r.refused != "" || r.protect.Kind != ProtectNone {
			if r.app != "" {
				m.hidden[r.app] = true
			}
		}
		if r.refused != "" || r.protect.Kind == ProtectDrop {
			continue
		}
		if r.dir.has(ToCRM) {
			m.to = append(m.to, r)
		}
		if r.dir.has(FromCRM) {
			m.from = append(m.from, r)
		}
	}
	if len(o.key) > 0 {
		key := o.key
		m.hmac = &sync.Pool{New: func() any { return newHMAC(key) }}
	}
	return m, nil
}

// cloneMap copies the slices of a declaration, so that the caller may change
// its copy after New.
func cloneMap(om ObjectMap) ObjectMap {
	om.App.Fields = slices.Clone(om.App.Fields)
	for i := range om.App.Fields {
		om.App.Fields[i].Values = slices.Clone(om.App.Fields[i].Values)
	}
	om.Rules = slices.Clone(om.Rules)
	om.Residency = slices.Clone(om.Residency)
	return om
}

// Describer describes CRM objects; *crm.Client is one.
type Describer interface {
	Describe(ctx context.Context, object string) (*crm.Schema, error)
}

// Build describes the CRM object of every map (each object once) and builds
// the maps, reporting the problems of all of them together in one
// [*CheckError]: what a host runs at start-up. A CRM object the CRM does not
// know is a problem like the others; any other failure to describe is
// returned as it is.
func Build(ctx context.Context, d Describer, maps []ObjectMap, opts ...Option) ([]*Map, error) {
	if d == nil {
		return nil, errors.New("mapping: Build needs a Describer, such as a *crm.Client; got nil")
	}
	o := collect(opts)
	schemas := map[string]*crm.Schema{}
	var probs []Problem
	out := make([]*Map, 0, len(maps))
	for i, om := range maps {
		name := om.Name
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
		}
		if om.CRMObject == "" {
			if err := om.Validate(); err != nil {
				probs = append(probs, renamed(err, name)...)
			}
			continue
		}
		s, ok := schemas[om.CRMObject]
		if !ok {
			var err error
			s, err = d.Describe(ctx, om.CRMObject)
			switch {
			case errors.Is(err, crm.ErrNotFound):
				probs = append(probs, Problem{Code: CodeInvalid, Map: name, Message: fmt.Sprintf("the CRM has no object %q", om.CRMObject),
					Fix: "correct crm_object, or create the object in the CRM"})
				continue
			case err != nil:
				return nil, fmt.Errorf("mapping: describing %s for map %s: %w", om.CRMObject, name, err)
			}
			schemas[om.CRMObject] = s
		}
		m, err := build(om, s, o)
		if err != nil {
			probs = append(probs, renamed(err, name)...)
			continue
		}
		out = append(out, m)
	}
	if len(probs) > 0 {
		return nil, &CheckError{Problems: probs}
	}
	return out, nil
}

// renamed returns the problems of err with unnamed maps called name.
func renamed(err error, name string) []Problem {
	var ce *CheckError
	if !errors.As(err, &ce) {
		return []Problem{{Code: CodeInvalid, Map: name, Message: err.Error()}}
	}
	out := slices.Clone(ce.Problems)
	for i := range out {
		if out[i].Map == "(unnamed)" {
			out[i].Map = name
		}
	}
	return out
}

// Name returns the map's name.
func (m *Map) Name() string { return m.name }

// AppObject returns the application object's name.
func (m *Map) AppObject() string { return m.spec.App.Object }

// CRMObject returns the CRM object's name, as its schema spells it.
func (m *Map) CRMObject() string { return m.crmObj }

// Connection returns the connection given with [WithConnection], or "".
func (m *Map) Connection() string { return m.conn }

// CRMFields returns the CRM fields the map reads from a record, sorted: the
// fields to ask for in a query.
func (m *Map) CRMFields() []string {
	var out []string
	for _, r := range m.from {
		if r.derive == nil && !slices.Contains(out, r.crm) {
			out = append(out, r.crm)
		}
	}
	slices.Sort(out)
	return out
}

// AppFields returns the application fields the map reads from a record,
// sorted.
func (m *Map) AppFields() []string {
	var out []string
	for _, r := range m.to {
		if r.derive == nil && !slices.Contains(out, r.app) {
			out = append(out, r.app)
		}
	}
	slices.Sort(out)
	return out
}

// ToCRM converts an application record's fields into the CRM's. A field
// absent from app is absent from the result (a write leaves it unchanged);
// a nil value stays nil (a write clears it). Constants and computed values
// are always set. Protected fields are dropped, hashed or masked here, so
// the result never holds a protected field's raw value, and fields refused
// on this connection are never in it.
//
// When rules fail, ToCRM returns nil and a [*RecordError] listing each, so
// that one bad field does not hide the others and no half-mapped record is
// written.
func (m *Map) ToCRM(ctx context.Context, app crm.Fields) (crm.Fields, error) {
	return m.run(ctx, ToCRM, m.to, app)
}

// FromCRM converts a CRM record's fields into the application's, with the
// same rules for absent and nil fields as ToCRM.
func (m *Map) FromCRM(ctx context.Context, rec crm.Fields) (crm.Fields, error) {
	return m.run(ctx, FromCRM, m.from, rec)
}

func (m *Map) run(ctx context.Context, dir Direction, rules []*rule, src crm.Fields) (crm.Fields, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make(crm.Fields, len(rules))
	var (
		errs []*FieldError
		view crm.Fields
	)
	for _, r := range rules {
		from, to, kind, limit, dest := r.app, r.crm, r.crmKind, r.crmLen, r.crmDest
		if dir == FromCRM {
			from, to, kind, limit, dest = r.crm, r.app, r.appKind, r.appLen, r.appDest
		}
		var (
			v   any
			err error
		)
		if r.derive != nil {
			if view == nil && r.readsSrc {
				view = m.deriveView(dir, src)
			}
			v, err = r.derive.Derive(ctx, dir, view)
			if errors.Is(err, ErrOmit) {
				continue
			}
		} else {
			var ok bool
			if v, ok = src[from]; !ok {
				continue
			}
			if v != nil && r.conv != nil {
				if dir == ToCRM {
					v, err = r.conv.ToCRM(ctx, v)
				} else {
					v, err = r.conv.FromCRM(ctx, v)
				}
			}
		}
		if err != nil {
			if w := asWarning(err); w != nil {
				m.warn(ctx, r, dir, w)
			} else {
				errs = append(errs, r.fail(m.name, dir, err))
				continue
			}
		}
		if v != nil {
			if dir == ToCRM && r.protect.Kind != ProtectNone {
				v = m.protect(r, v)
			} else if v, err = coerce(kind, v, dir == ToCRM); err != nil {
				errs = append(errs, r.fail(m.name, dir, err))
				continue
			}
			if err = fits(v, limit, dest); err != nil {
				errs = append(errs, r.fail(m.name, dir, err))
				continue
			}
		}
		out[to] = v
	}
	if len(errs) > 0 {
		return nil, &RecordError{Map: m.name, Dir: dir, Fields: errs}
	}
	return out, nil
}

// fits fails text longer than its destination holds, so that the record
// fails here, naming the field, rather than in the CRM or the database.
func fits(v any, limit int, dest string) error {
	s, ok := v.(string)
	if !ok || limit <= 0 || len(s) <= limit {
		return nil
	}
	if n := utf8.RuneCountInString(s); n > limit {
		return invalidf("the text is %d characters, more than the %d %s holds: shorten it, or add a truncate conversion", n, limit, dest)
	}
	return nil
}

// deriveView is the record a computed function sees: on the way to the CRM,
// the application record without its protected and refused fields.
func (m *Map) deriveView(dir Direction, src crm.Fields) crm.Fields {
	if dir != ToCRM || len(m.hidden) == 0 {
		if src == nil {
			return crm.Fields{}
		}
		return src
	}
	view := make(crm.Fields, len(src))
	for k, v := range src {
		if !m.hidden[k] {
			view[k] = v
		}
	}
	return view
}

func (m *Map) protect(r *rule, v any) any {
	if r.protect.Kind != ProtectHash {
		return r.protect.protect(v, nil)
	}
	h := m.hmac.Get().(hash.Hash)
	defer m.hmac.Put(h)
	return r.protect.protect(v, h)
}

func (r *rule) fail(mapName string, dir Direction, err error) *FieldError {
	return &FieldError{Map: mapName, Rule: r.label, Dir: dir, Err: err, withhold: r.personal}
}

func (m *Map) warn(ctx context.Context, r *rule, dir Direction, w *Warning) {
	m.log.LogAttrs(ctx, slog.LevelWarn, "mapping: value changed on its way",
		slog.String("map", m.name), slog.String("rule", r.label), slog.String("dir", dir.String()), slog.String("warning", w.Message))
}

// Redact returns a copy of an application record that is safe to log or to
// put in a span or a dead letter: each protected field in the form the CRM
// would get (hashed, masked, or left out when dropped), fields refused on
// this connection left out, and other personal fields replaced by
// "[personal]". Fields the map does not know pass unchanged.
func (m *Map) Redact(app crm.Fields) crm.Fields {
	out := make(crm.Fields, len(app))
	for k, v := range app {
		out[k] = v
	}
	for _, f := range m.spec.App.Fields {
		if f.Personal {
			if _, ok := out[f.Name]; ok && out[f.Name] != nil {
				out[f.Name] = "[personal]"
			}
		}
	}
	for _, r := range m.rules {
		v, ok := app[r.app]
		if r.app == "" || !ok {
			continue
		}
		switch {
		case r.refused != "" || r.protect.Kind == ProtectDrop:
			delete(out, r.app)
		case r.protect.Kind != ProtectNone && v != nil:
			out[r.app] = m.protect(r, v)
		}
	}
	return out
}
