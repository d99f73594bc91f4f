package mapping

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/crmkit/crmkit/crm"
)

// Sentinels for errors.Is.
var (
	// ErrInvalidValue matches a value a rule could not convert: text that is
	// not a number, a picklist value missing from the table, a decimal with
	// more digits than the CRM keeps. A record that fails this way needs its
	// data or its map fixed; retrying will fail again. Errors that match it
	// also match crm.ErrValidation.
	ErrInvalidValue = errors.New("mapping: invalid value")

	// ErrNoLink matches a reference whose record is not linked yet: the
	// application record it points at has not reached the CRM, or the other
	// way round. The sync engine retries such a record after the one it
	// points at has synced.
	ErrNoLink = errors.New("mapping: no link for the referenced record")

	// ErrOmit, returned by a [ComputeFunc], leaves the computed field out of
	// the output, so that a partial update does not overwrite it.
	ErrOmit = errors.New("mapping: omit this field")
)

// valueError is a conversion failure whose message crmkit wrote itself and
// that never holds the value, so it may be shown for any field.
type valueError struct{ msg string }

func (e *valueError) Error() string        { return e.msg }
func (e *valueError) Is(target error) bool { return target == ErrInvalidValue }

// invalidf builds a conversion failure. Its arguments must describe the
// value (its type, its length, how many digits) and never be the value.
func invalidf(format string, args ...any) error {
	return &valueError{msg: fmt.Sprintf(format, args...)}
}

// Warning is returned by a conversion together with a usable value when it
// had to change the value in a way someone should know about, such as
// truncating text. The map keeps the value, logs the warning (without the
// value) through [WithLogger], and goes on.
type Warning struct{ Message string }

func (w *Warning) Error() string { return w.Message }

// FieldError is the failure of one rule on one record. Its message names the
// map, the rule and the direction, and never holds a field value.
type FieldError struct {
	Map  string    // the map's name
	Rule string    // the rule, such as "rule 4 (email <-> Email)"
	Dir  Direction // the direction that was being mapped
	Err  error     // the cause

	withhold bool // the cause's text may hold personal data
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("map %s, %s", e.Map, e.short())
}

// short is the message without the map's name.
func (e *FieldError) short() string {
	cause := e.Err.Error()
	if e.withhold && !safeCause(e.Err) {
		cause = "the conversion failed (its message is withheld because the field holds personal data; errors.Unwrap gives the cause)"
	}
	return fmt.Sprintf("%s (%s): %s", e.Rule, e.Dir, cause)
}

// Unwrap returns the cause.
func (e *FieldError) Unwrap() error { return e.Err }

// Is makes an invalid value match crm.ErrValidation too, so that code that
// classifies failures by the contract's kinds sends it to dead letters with
// the remedy "fix the mapping".
func (e *FieldError) Is(target error) bool {
	return target == crm.ErrValidation && errors.Is(e.Err, ErrInvalidValue)
}

// safeCause reports whether err's text is known to hold no field value.
func safeCause(err error) bool {
	var ve *valueError
	return errors.As(err, &ve) || errors.Is(err, ErrNoLink) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// RecordError holds every rule that failed on one record, so that one bad
// field does not hide the others. errors.Is and errors.As see each
// [FieldError] and its cause.
type RecordError struct {
	Map    string
	Dir    Direction
	Fields []*FieldError
}

func (e *RecordError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mapping %s (%s): ", e.Map, e.Dir)
	if len(e.Fields) == 1 {
		b.WriteString("1 field failed: ")
	} else {
		fmt.Fprintf(&b, "%d fields failed: ", len(e.Fields))
	}
	for i, f := range e.Fields {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.short())
	}
	return b.String()
}

// Unwrap returns the field errors.
func (e *RecordError) Unwrap() []error {
	out := make([]error, len(e.Fields))
	for i, f := range e.Fields {
		out[i] = f
	}
	return out
}

// Code classifies a [Problem], so that tools can group and count them.
type Code string

// The problem codes.
const (
	CodeSyntax           Code = "syntax"            // the file is not valid JSON
	CodeInvalid          Code = "invalid"           // a declaration is malformed: a missing name, an unknown key or type
	CodeUnknownAppField  Code = "unknown_app_field" // a rule names a field the application schema does not declare
	CodeUnknownCRMField  Code = "unknown_crm_field" // a rule names a field Describe does not return
	CodeTypeMismatch     Code = "type_mismatch"     // the two sides hold different kinds and no conversion joins them
	CodeReadOnly         Code = "read_only"         // a rule writes a field its destination will not accept
	CodeRequiredUnmapped Code = "required_unmapped" // a field the CRM requires on create is written by no rule
	CodePicklistMissing  Code = "picklist_missing"  // a value a rule sends is missing from the destination's picklist
	CodeLengthOverflow   Code = "length_overflow"   // a value may be longer than its destination holds
	CodeNotReversible    Code = "not_reversible"    // a rule flows both ways through a conversion that works one way
	CodeConversion       Code = "conversion"        // a conversion's own settings are wrong
	CodeProtection       Code = "protection"        // a sensitivity policy cannot be enforced as written
	CodeDuplicate        Code = "duplicate"         // two rules write the same field or declare the same name
	CodeResidency        Code = "residency"         // a residency rule cannot be applied
)

// Problem is one thing wrong with a map, found when it is loaded or checked.
// It names the map, the rule or field, what is wrong and how to fix it.
type Problem struct {
	Code    Code
	Map     string // the map's name, "#2" for the second map of a file when it has none, or "" for the file itself
	Rule    string // the rule or field, such as "rule 3 (email -> Email)"; empty for the map itself
	Message string // what is wrong
	Fix     string // what to do about it
}

func (p Problem) Error() string {
	var b strings.Builder
	if p.Map == "" {
		b.WriteString("file")
	} else {
		b.WriteString("map ")
		b.WriteString(p.Map)
	}
	if p.Rule != "" {
		b.WriteString(", ")
		b.WriteString(p.Rule)
	}
	b.WriteString(": ")
	b.WriteString(p.Message)
	if p.Fix != "" {
		b.WriteString("; fix: ")
		b.WriteString(p.Fix)
	}
	return b.String()
}

// CheckError reports every problem found in one or more maps at once, so
// that a start-up fails with the whole list rather than one problem per
// deploy.
type CheckError struct {
	Problems []Problem
}

func (e *CheckError) Error() string {
	var b strings.Builder
	if len(e.Problems) == 1 {
		b.WriteString("mapping: 1 problem:")
	} else {
		fmt.Fprintf(&b, "mapping: %d problems:", len(e.Problems))
	}
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.Error())
	}
	return b.String()
}

// Is makes a CheckError match crm.ErrValidation: the map, not the CRM, needs
// fixing.
func (e *CheckError) Is(target error) bool { return target == crm.ErrValidation }
