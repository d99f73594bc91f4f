package sqlite_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/crmkit/crmkit/syncengine"
	"github.com/crmkit/crmkit/syncengine/store/sqlite"
)

func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "crmkit-sync-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	st, err := sqlite.Open(ctx, filepath.Join(dir, "sync.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	// The engine commits everything one step changes at once; here, a link.
	link := &syncengine.Link{AppID: "42", CRMID: "003XYZ", CRMVersion: "v1"}
	if err := st.Commit(ctx, "contacts", &syncengine.Changeset{Links: []*syncengine.Link{link}}); err != nil {
		log.Fatal(err)
	}

	// Links are found by either side's id.
	byCRM, err := st.Links(ctx, "contacts", syncengine.CRM, []string{"003XYZ", "003NONE"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(byCRM), byCRM["003XYZ"].AppID, byCRM["003XYZ"].CRMVersion)
	// Output: 1 42 v1
}
