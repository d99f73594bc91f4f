package conflict_test

import (
	"context"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/syncengine/conflict"
)

// A per-field policy: the CRM owns the status, the newest change wins the
// phone number.
func ExamplePerField() {
	r := conflict.PerField(map[string]conflict.Resolver{
		"status": conflict.SourceOfTruth(conflict.CRM),
	}, conflict.NewestWins(2*time.Second, conflict.CRM))

	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	c := &conflict.Conflict{
		App:       conflict.Version{ID: "app-7", Fields: crm.Fields{"status": "gold", "phone": "555-0100"}, ModifiedAt: at.Add(time.Minute)},
		CRM:       conflict.Version{ID: "003A", Fields: crm.Fields{"status": "silver", "phone": "555-0199"}, ModifiedAt: at},
		Contested: []string{"phone", "status"},
	}
	d, err := r.Resolve(context.Background(), c)
	if err != nil {
		panic(err)
	}
	fmt.Println("phone:", d.Winners["phone"])
	fmt.Println("status:", d.Winners["status"])
	// Output:
	// phone: app
	// status: crm
}
