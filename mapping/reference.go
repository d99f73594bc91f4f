package mapping

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/crmkit/crmkit/crm"
)

// Ref names the two objects a reference joins: the application object the
// application's id points at, and the CRM object the CRM's id points at.
type Ref struct {
	AppObject string // such as "company"
	CRMObject string // such as "Account"
}

// LinkResolver turns the application's id of a record into the CRM's id and
// back. The sync engine implements it over the links it keeps; tests and
// simple hosts can use [MemoryLinks]. Both methods return an error matching
// [ErrNoLink] when the record is not linked (yet), and ctx's error when ctx
// ends first.
type LinkResolver interface {
	CRMID(ctx context.Context, ref Ref, appID string) (string, error)
	AppID(ctx context.Context, ref Ref, crmID string) (string, error)
}

// Reference converts a reference between the two id spaces: the application
// field holds the id of an AppObject record (text, or an int64), the CRM
// field the id of the linked CRMObject record. CRMObject may be left empty
// when the CRM field refers to exactly one object. Ids are resolved through
// the [LinkResolver] given with [WithLinks]. An id with no link fails the
// field with an error matching [ErrNoLink], so that the record can wait for
// the one it points at; with NullIfMissing, the reference is set to null
// instead.
type Reference struct {
	AppObject     string
	CRMObject     string
	NullIfMissing bool
}

// ToCRM fails: a reference needs a resolver, which [New] provides.
func (r Reference) ToCRM(context.Context, any) (any, error) {
	return nil, invalidf("a reference must be bound to a link resolver: build the map with mapping.New and mapping.WithLinks")
}

// FromCRM fails like ToCRM.
func (r Reference) FromCRM(ctx context.Context, v any) (any, error) { return r.ToCRM(ctx, v) }

func (r Reference) String() string {
	s := fmt.Sprintf("reference (%s ↔ %s", r.AppObject, r.CRMObject)
	if r.CRMObject == "" {
		s = fmt.Sprintf("reference (%s ↔ the CRM field's object", r.AppObject)
	}
	if r.NullIfMissing {
		s += "; null when not linked"
	}
	return s + ")"
}

// Bind finds the CRM object and the resolver.
func (r Reference) Bind(b Binding) (Conversion, error) {
	if r.AppObject == "" {
		return nil, b.Problem(CodeConversion, "the reference names no application object", `name the application object its ids point at ("app_object": "company")`)
	}
	if !b.schemaKnown() {
		return r, nil
	}
	var probs []error
	if ak := b.appKind(); ak != crm.ValueString && ak != crm.ValueInt64 {
		probs = append(probs, b.mismatch("reference", "an id (text or int64) on the application side and a reference, id or text field on the CRM side"))
	} else if b.crmKind() != crm.ValueString {
		probs = append(probs, b.mismatch("reference", "an id (text or int64) on the application side and a reference, id or text field on the CRM side"))
	}
	ref := Ref{AppObject: r.AppObject, CRMObject: r.CRMObject}
	refs := b.CRM.References
	switch {
	case ref.CRMObject == "" && len(refs) == 1:
		ref.CRMObject = refs[0]
	case ref.CRMObject == "" && len(refs) == 0:
		probs = append(probs, b.Problem(CodeConversion, fmt.Sprintf("%s refers to no object, so the reference cannot tell which CRM object its ids belong to", b.crmName()),
			`name it ("crm_object": "Account")`))
	case ref.CRMObject == "":
		probs = append(probs, b.Problem(CodeConversion, fmt.Sprintf("%s may refer to %s", b.crmName(), quoteList(refs)),
			fmt.Sprintf(`say which one this rule links ("crm_object": %q)`, refs[0])))
	case len(refs) > 0 && !slices.ContainsFunc(refs, func(o string) bool { return strings.EqualFold(o, ref.CRMObject) }):
		probs = append(probs, b.Problem(CodeConversion, fmt.Sprintf("%s refers to %s, not %s", b.crmName(), quoteList(refs), ref.CRMObject),
			"name one of the objects it refers to, or map another field"))
	}
	if b.Links == nil {
		probs = append(probs, b.Problem(CodeConversion, "a reference needs a link resolver, and none was given",
			"pass mapping.WithLinks(resolver) to mapping.New (the sync engine's links, or mapping.NewMemoryLinks() in tests)"))
	}
	if len(probs) > 0 {
		return nil, joinProblems(probs)
	}
	return &reference{spec: r, ref: ref, links: b.Links, appInt: b.appKind() == crm.ValueInt64}, nil
}

// reference is a bound Reference.
type reference struct {
	spec   Reference
	ref    Ref
	links  LinkResolver
	appInt bool
}

func (r *reference) ToCRM(ctx context.Context, v any) (any, error) {
	var id string
	switch x := v.(type) {
	case string:
		id = x
	case int64:
		id = strconv.FormatInt(x, 10)
	default:
		return nil, invalidf("a reference takes an id as text or an int64, not a %T", v)
	}
	out, err := r.links.CRMID(ctx, r.ref, id)
	if err != nil {
		return r.missing(err, "application", r.ref.AppObject)
	}
	return out, nil
}

func (r *reference) FromCRM(ctx context.Context, v any) (any, error) {
	id, ok := v.(string)
	if !ok {
		return nil, invalidf("a reference reads an id as text, not a %T", v)
	}
	out, err := r.links.AppID(ctx, r.ref, id)
	if err != nil {
		return r.missing(err, "CRM", r.ref.CRMObject)
	}
	if r.appInt {
		n, err := strconv.ParseInt(out, 10, 64)
		if err != nil {
			return nil, invalidf("the linked application id is not an int64, but the application field holds int64")
		}
		return n, nil
	}
	return out, nil
}

func (r *reference) missing(err error, side, object string) (any, error) {
	if r.spec.NullIfMissing && isNoLink(err) {
		return nil, nil
	}
	if isNoLink(err) {
		return nil, fmt.Errorf("the %s %s record it points at is not linked yet: sync that record first: %w", side, object, err)
	}
	return nil, err
}

func isNoLink(err error) bool { return errors.Is(err, ErrNoLink) }

func (r *reference) String() string {
	return Reference{AppObject: r.ref.AppObject, CRMObject: r.ref.CRMObject, NullIfMissing: r.spec.NullIfMissing}.String()
}

// MemoryLinks is a [LinkResolver] that keeps links in memory: for tests,
// examples and hosts that load their links at start-up. It is safe for
// concurrent use.
type MemoryLinks struct {
	mu    sync.RWMutex
	toCRM map[linkKey]string
	toApp map[linkKey]string
}

type linkKey struct {
	ref Ref
	id  string
}

// NewMemoryLinks returns an empty set of links.
func NewMemoryLinks() *MemoryLinks {
	return &MemoryLinks{toCRM: map[linkKey]string{}, toApp: map[linkKey]string{}}
}

// Link records that the application's appID and the CRM's crmID are the same
// record, replacing any earlier link of either id.
func (l *MemoryLinks) Link(ref Ref, appID, crmID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if old, ok := l.toCRM[linkKey{ref, appID}]; ok {
		delete(l.toApp, linkKey{ref, old})
	}
	if old, ok := l.toApp[linkKey{ref, crmID}]; ok {
		delete(l.toCRM, linkKey{ref, old})
	}
	l.toCRM[linkKey{ref, appID}] = crmID
	l.toApp[linkKey{ref, crmID}] = appID
}

// CRMID returns the CRM id linked to appID.
func (l *MemoryLinks) CRMID(ctx context.Context, ref Ref, appID string) (string, error) {
	return l.lookup(ctx, l.toCRM, ref, appID)
}

// AppID returns the application id linked to crmID.
func (l *MemoryLinks) AppID(ctx context.Context, ref Ref, crmID string) (string, error) {
	return l.lookup(ctx, l.toApp, ref, crmID)
}

func (l *MemoryLinks) lookup(ctx context.Context, m map[linkKey]string, ref Ref, id string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	l.mu.RLock()
	out, ok := m[linkKey{ref, id}]
	l.mu.RUnlock()
	if !ok {
		return "", ErrNoLink
	}
	return out, nil
}
