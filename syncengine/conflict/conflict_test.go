package conflict_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/syncengine/conflict"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func sample(appAt, crmAt time.Time, contested ...string) *conflict.Conflict {
	return &conflict.Conflict{
		App:       conflict.Version{ID: "a1", Fields: crm.Fields{"phone": "1", "status": "gold"}, ModifiedAt: appAt},
		CRM:       conflict.Version{ID: "c1", Fields: crm.Fields{"phone": "2", "status": "silver"}, ModifiedAt: crmAt},
		Contested: contested,
	}
}

func TestNewestWins(t *testing.T) {
	r := conflict.NewestWins(2*time.Second, conflict.CRM)
	for _, tc := range []struct {
		name         string
		appAt, crmAt time.Time
		want         conflict.Side
		reason       string
	}{
		{"app later beyond skew", t0.Add(10 * time.Second), t0, conflict.App, "app changed 10s later"},
		{"crm later beyond skew", t0, t0.Add(3 * time.Second), conflict.CRM, "crm changed 3s later"},
		{"app later within skew is a tie", t0.Add(time.Second), t0, conflict.CRM, "within the 2s skew"},
		{"exactly the skew is a tie", t0.Add(2 * time.Second), t0, conflict.CRM, "within"},
		{"missing time is a tie", time.Time{}, t0, conflict.CRM, "no modification time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := sample(tc.appAt, tc.crmAt, "phone", "status")
			d, err := r.Resolve(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Check(c); err != nil {
				t.Fatal(err)
			}
			for _, f := range c.Contested {
				if d.Winners[f] != tc.want {
					t.Errorf("winner of %s = %v, want %v", f, d.Winners[f], tc.want)
				}
			}
			if d.Resolver != "newest-wins" || !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("resolver %q reason %q, want newest-wins and %q", d.Resolver, d.Reason, tc.reason)
			}
		})
	}
	// The tie side is honoured both ways.
	d, _ := conflict.NewestWins(time.Minute, conflict.App).Resolve(context.Background(), sample(t0, t0.Add(time.Second), "phone"))
	if d.Winners["phone"] != conflict.App {
		t.Errorf("tie should go to app, got %v", d.Winners["phone"])
	}
}

func TestSourceOfTruthAndPark(t *testing.T) {
	c := sample(t0.Add(time.Hour), t0, "phone")
	d, err := conflict.SourceOfTruth(conflict.CRM).Resolve(context.Background(), c)
	if err != nil || d.Winners["phone"] != conflict.CRM || d.Park {
		t.Fatalf("source of truth: %+v, %v", d, err)
	}
	d, err = conflict.Park("finance review").Resolve(context.Background(), c)
	if err != nil || !d.Park || d.Reason != "finance review" {
		t.Fatalf("park: %+v, %v", d, err)
	}
	if err := d.Check(c); err != nil {
		t.Fatalf("a parked decision needs no winners: %v", err)
	}
}

func TestPerField(t *testing.T) {
	r := conflict.PerField(map[string]conflict.Resolver{
		"status": conflict.SourceOfTruth(conflict.CRM),
	}, conflict.NewestWins(0, conflict.CRM))
	c := sample(t0.Add(time.Minute), t0, "phone", "status")
	d, err := r.Resolve(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if d.Winners["status"] != conflict.CRM || d.Winners["phone"] != conflict.App {
		t.Fatalf("winners %v, want status=crm (its rule) and phone=app (newest)", d.Winners)
	}
	if !strings.Contains(d.Reason, "status: source-of-truth") || !strings.Contains(d.Reason, "phone: newest-wins") {
		t.Errorf("reason %q should name each field's rule", d.Reason)
	}

	// One parking rule parks the whole record.
	parking := conflict.PerField(map[string]conflict.Resolver{"phone": conflict.Park("check")}, conflict.SourceOfTruth(conflict.App))
	d, err = parking.Resolve(context.Background(), c)
	if err != nil || !d.Park || d.Winners != nil {
		t.Fatalf("park: %+v, %v", d, err)
	}

	// No rule and no fallback is an error naming the field.
	_, err = conflict.PerField(nil, nil).Resolve(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "phone") {
		t.Fatalf("err = %v, want one naming phone", err)
	}
}

func TestCheckRefusesMissingWinner(t *testing.T) {
	c := sample(t0, t0, "phone", "status")
	forgetful := conflict.Func(func(ctx context.Context, c *conflict.Conflict) (conflict.Decision, error) {
		return conflict.Decision{Winners: map[string]conflict.Side{"phone": conflict.App}, Resolver: "mine"}, nil
	})
	d, _ := forgetful.Resolve(context.Background(), c)
	err := d.Check(c)
	if err == nil || !strings.Contains(err.Error(), `"status"`) || !strings.Contains(err.Error(), "a1") {
		t.Fatalf("err = %v, want one naming the field and the record", err)
	}
	// The same check guards PerField's sub-decisions.
	_, err = conflict.PerField(map[string]conflict.Resolver{"status": forgetful}, conflict.SourceOfTruth(conflict.App)).Resolve(context.Background(), c)
	if err == nil {
		t.Fatal("PerField should refuse a rule that leaves its field without a winner")
	}
}

func TestSide(t *testing.T) {
	if conflict.App.String() != "app" || conflict.CRM.String() != "crm" || conflict.App.Other() != conflict.CRM || conflict.CRM.Other() != conflict.App {
		t.Fatal("sides")
	}
}
