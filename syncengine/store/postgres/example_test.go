package postgres_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/crmkit/crmkit/syncengine"
	"github.com/crmkit/crmkit/syncengine/store/postgres"
)

// Example opens the store on the database named by SYNC_DATABASE_URL (for
// anything off the machine, a DSN with sslmode=verify-full), in a schema of
// its own. It has no output to check, since it needs a server.
func Example() {
	ctx := context.Background()
	st, err := postgres.Open(ctx, os.Getenv("SYNC_DATABASE_URL"), postgres.WithSchema("crmkit"))
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	// Of the workers sharing the pairing, one at a time holds its lease.
	ok, err := st.AcquireLease(ctx, "contacts", "worker-on-host-a", 5*time.Minute)
	if err != nil {
		log.Fatal(err)
	}
	if !ok {
		fmt.Println("another worker runs the pairing")
		return
	}
	defer st.ReleaseLease(ctx, "contacts", "worker-on-host-a")

	// The engine commits everything one step changes at once; here, a link.
	link := &syncengine.Link{AppID: "42", CRMID: "003XYZ", CRMVersion: "v1"}
	if err := st.Commit(ctx, "contacts", &syncengine.Changeset{Links: []*syncengine.Link{link}}); err != nil {
		log.Fatal(err)
	}
	byCRM, err := st.Links(ctx, "contacts", syncengine.CRM, []string{"003XYZ"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(byCRM["003XYZ"].AppID)
}
