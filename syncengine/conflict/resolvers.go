package conflict

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// NewestWins keeps, for every contested field, the value of the side that
// changed the record last. Two clocks never agree exactly: when the two
// modification times are within skew of each other, the order cannot be
// trusted and tie wins instead, so that the outcome does not depend on which
// server's clock runs fast. A zero ModifiedAt (a side that does not report
// one) also counts as a tie.
func NewestWins(skew time.Duration, tie Side) Resolver {
	return Func(func(_ context.Context, c *Conflict) (Decision, error) {
		a, b := c.App.ModifiedAt, c.CRM.ModifiedAt
		winner, reason := tie, ""
		switch d := a.Sub(b); {
		case a.IsZero() || b.IsZero():
			reason = fmt.Sprintf("a side has no modification time; %s wins the tie", tie)
		case d > skew:
			winner = App
			reason = fmt.Sprintf("app changed %s later (beyond the %s skew allowance)", d.Round(time.Millisecond), skew)
		case -d > skew:
			winner = CRM
			reason = fmt.Sprintf("crm changed %s later (beyond the %s skew allowance)", (-d).Round(time.Millisecond), skew)
		default:
			reason = fmt.Sprintf("changes %s apart, within the %s skew allowance; %s wins the tie", abs(d).Round(time.Millisecond), skew, tie)
		}
		return all(c, winner, "newest-wins", reason), nil
	})
}

// SourceOfTruth makes one side always win: the CRM for data the sales team
// owns, the application for data it computes.
func SourceOfTruth(side Side) Resolver {
	return Func(func(_ context.Context, c *Conflict) (Decision, error) {
		return all(c, side, "source-of-truth", side.String()+" is the source of truth"), nil
	})
}

// Park holds every conflict for a person to decide; the engine lists parked
// records and applies the decision given when one is released.
func Park(reason string) Resolver {
	return Func(func(_ context.Context, _ *Conflict) (Decision, error) {
		return Decision{Park: true, Resolver: "park", Reason: reason}, nil
	})
}

// PerField decides each contested field by its own rule, and the fields
// without one by fallback. The conflict each rule sees is narrowed to its own
// fields, so NewestWins for "phone" and SourceOfTruth(CRM) for "status" mix
// freely. If any rule parks, the whole record is parked: a record is written
// whole or not at all.
func PerField(rules map[string]Resolver, fallback Resolver) Resolver {
	return Func(func(ctx context.Context, c *Conflict) (Decision, error) {
		// Each field with its own rule is decided alone; the rest go to
		// fallback together. (Resolvers are often funcs, which cannot be
		// compared, so fields are not grouped by rule value.)
		type group struct {
			r      Resolver
			fields []string
		}
		var groups []group
		var rest []string
		for _, f := range c.Contested {
			if r, ok := rules[f]; ok && r != nil {
				groups = append(groups, group{r, []string{f}})
				continue
			}
			rest = append(rest, f)
		}
		if len(rest) > 0 {
			if fallback == nil {
				return Decision{}, fmt.Errorf("conflict: PerField has no rule for contested fields %s and no fallback; add a rule or a fallback resolver", strings.Join(rest, ", "))
			}
			groups = append(groups, group{fallback, rest})
		}
		out := Decision{Winners: map[string]Side{}, Resolver: "per-field"}
		var reasons []string
		for _, g := range groups {
			sub := *c
			sub.Contested = g.fields
			d, err := g.r.Resolve(ctx, &sub)
			if err != nil {
				return Decision{}, err
			}
			if err := d.Check(&sub); err != nil {
				return Decision{}, err
			}
			reasons = append(reasons, fmt.Sprintf("%s: %s (%s)", strings.Join(sub.Contested, ","), d.Resolver, d.Reason))
			if d.Park {
				out.Park = true
				continue
			}
			for _, f := range sub.Contested {
				out.Winners[f] = d.Winners[f]
			}
		}
		sort.Strings(reasons)
		out.Reason = strings.Join(reasons, "; ")
		if out.Park {
			out.Winners = nil
		}
		return out, nil
	})
}

func all(c *Conflict, side Side, name, reason string) Decision {
	w := make(map[string]Side, len(c.Contested))
	for _, f := range c.Contested {
		w[f] = side
	}
	return Decision{Winners: w, Resolver: name, Reason: reason}
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
