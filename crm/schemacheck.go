package crm

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// WithSchemaChecks makes the Client check every write against the object's
// described schema before anything is sent: an unknown field, a field the
// integration user may not set (not createable on create, not updateable on
// update), or a value that is not of the field's type fails that write alone
// with KindValidation, naming the field and the fix, and costs no CRM call.
//
// Schemas are described once and cached for ttl (10 minutes when ttl <= 0);
// [Client.ForgetSchema] drops one early, after a deploy changed it.
func WithSchemaChecks(ttl time.Duration) Option {
	if ttl <= 0 {
		ttl = 10 * time.Minute
	}
	return func(c *Client) { c.schemas = &schemaCache{ttl: ttl, m: map[string]cachedSchema{}} }
}

type schemaCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]cachedSchema
}

type cachedSchema struct {
	s  *Schema
	at time.Time
}

// ForgetSchema drops the cached schema of object, so the next write describes
// it again. It does nothing without WithSchemaChecks.
func (c *Client) ForgetSchema(object string) {
	if c.schemas == nil {
		return
	}
	c.schemas.mu.Lock()
	delete(c.schemas.m, object)
	c.schemas.mu.Unlock()
}

func (c *Client) cachedSchema(ctx context.Context, object string) (*Schema, error) {
	sc := c.schemas
	sc.mu.Lock()
	e, ok := sc.m[object]
	sc.mu.Unlock()
	if ok && c.now().Sub(e.at) < sc.ttl {
		return e.s, nil
	}
	s, err := c.Describe(ctx, object)
	if err != nil {
		return nil, err
	}
	sc.mu.Lock()
	sc.m[object] = cachedSchema{s: s, at: c.now()}
	sc.mu.Unlock()
	return s, nil
}

// checkFields checks one write's fields against the schema.
func checkFields(s *Schema, w *Write) *Error {
	if w.Op == OpDelete {
		return nil
	}
	if w.Op == OpUpsert {
		f, ok := s.Field(w.ExternalField)
		if !ok || !f.ExternalID {
			return &Error{Kind: KindValidation, Fields: []string{w.ExternalField},
				Message: fmt.Sprintf("%s.%s is not an external-id field, so it cannot key an upsert: use one of %v", s.Object, w.ExternalField, s.ExternalIDFields())}
		}
	}
	for name, v := range w.Fields {
		f, ok := s.Field(name)
		if !ok {
			return &Error{Kind: KindValidation, Fields: []string{name},
				Message: fmt.Sprintf("%s has no field %q: check the field mapping against Describe(%q)", s.Object, name, s.Object)}
		}
		switch {
		case w.Op == OpCreate && !f.Createable:
			return readOnly(s, f, "created")
		case w.Op == OpUpdate && !f.Updateable:
			return readOnly(s, f, "updated")
		case w.Op == OpUpsert && !f.Createable && !f.Updateable:
			return readOnly(s, f, "written")
		}
		if v == nil {
			if !f.Nillable {
				return &Error{Kind: KindValidation, Fields: []string{f.Name},
					Message: fmt.Sprintf("%s.%s cannot be null: give it a value or leave it out of the write", s.Object, f.Name)}
			}
			continue
		}
		if _, err := NormalizeValue(f.Type, v); err != nil {
			return &Error{Kind: KindValidation, Fields: []string{f.Name},
				Message: fmt.Sprintf("%s.%s: %s", s.Object, f.Name, strings.TrimPrefix(err.Error(), "crm: "))}
		}
	}
	return nil
}

func readOnly(s *Schema, f *Field, verb string) *Error {
	return &Error{Kind: KindValidation, Fields: []string{f.Name},
		Message: fmt.Sprintf("%s.%s cannot be %s by the integration user (read-only or no field-level access): remove it from the mapping, or grant access in the CRM", s.Object, f.Name, verb)}
}
