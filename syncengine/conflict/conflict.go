package conflict

import (
	"context"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// Side names one side of a pairing: the application or the CRM.
type Side uint8

const (
	// App is the host application's side.
	App Side = iota + 1
	// CRM is the CRM's side.
	CRM
)

// String returns "app" or "crm".
func (s Side) String() string {
	switch s {
	case App:
		return "app"
	case CRM:
		return "crm"
	}
	return fmt.Sprintf("Side(%d)", uint8(s))
}

// Other returns the opposite side.
func (s Side) Other() Side {
	if s == App {
		return CRM
	}
	return App
}

// Version is one side's view of a record in conflict. Fields are in the
// application's field names, converted by the pairing's map, so that the two
// sides can be compared field by field.
type Version struct {
	// ID is the record's id on this side.
	ID string
	// Fields are the record's mapped values as they are now.
	Fields crm.Fields
	// Changed lists the fields this side changed since the last sync, sorted.
	Changed []string
	// ModifiedAt is when this side last changed the record, by its own clock.
	ModifiedAt time.Time
}

// Conflict is a record that both sides changed since the last sync, with at
// least one field changed on both sides to different values. Fields changed
// on one side only are not contested: the engine merges them without asking.
type Conflict struct {
	// Pairing names the pairing the record belongs to.
	Pairing string
	App     Version
	CRM     Version
	// Contested lists the fields changed on both sides to different values,
	// sorted. On first contact (two records matched, never synced), it lists
	// every mapped field whose values differ.
	Contested []string
	// FirstContact reports that the two records were just matched and have
	// never been synced, so neither side's changes are known.
	FirstContact bool
}

// Decision is a resolver's answer: for each contested field, which side's
// value is kept; or park the record for a person to decide.
type Decision struct {
	// Winners says, for each contested field, whose value wins. Every
	// contested field must have a winner unless Park is set.
	Winners map[string]Side
	// Park holds the record for review: nothing is written to either side
	// until a person releases it with a decision.
	Park bool
	// Resolver names the rule that decided, such as "newest-wins"; the
	// decision log shows it.
	Resolver string
	// Reason says why, in words, for the decision log.
	Reason string
}

// Resolver decides conflicts. Resolve must not write to either side; it only
// decides. An error ends the sync run before anything of its window is
// committed (the changes are read again at the next run), so return one only
// for a failure, not for a hard case: park those.
type Resolver interface {
	Resolve(ctx context.Context, c *Conflict) (Decision, error)
}

// Func adapts a function of the host's into a Resolver.
type Func func(ctx context.Context, c *Conflict) (Decision, error)

// Resolve calls f.
func (f Func) Resolve(ctx context.Context, c *Conflict) (Decision, error) { return f(ctx, c) }

// Check reports whether d answers c completely: a winner that is App or CRM
// for every contested field, or Park. The engine checks every decision, so a
// host's Func that forgets a field fails loudly instead of losing a change.
func (d Decision) Check(c *Conflict) error {
	if d.Park {
		return nil
	}
	for _, f := range c.Contested {
		switch d.Winners[f] {
		case App, CRM:
		default:
			return fmt.Errorf("conflict: resolver %q gave no winner for contested field %q of app record %q / CRM record %q; return a winner (conflict.App or conflict.CRM) for every field in Conflict.Contested, or set Park",
				d.Resolver, f, c.App.ID, c.CRM.ID)
		}
	}
	return nil
}
