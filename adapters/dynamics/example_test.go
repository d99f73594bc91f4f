package dynamics_test

import (
	"context"
	"fmt"

	"github.com/crmkit/crmkit/adapters/dynamics"
	"github.com/crmkit/crmkit/adapters/dynamics/dynamicstest"
	"github.com/crmkit/crmkit/crm"
)

// Example upserts an account by its alternate key, then finds it with a
// filter whose literal holds a quote.
func Example() {
	srv, err := dynamicstest.NewServer()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	drv, err := dynamics.New(dynamics.WithBaseURL(srv.URL), dynamics.WithHTTPClient(srv.Client()))
	if err != nil {
		fmt.Println(err)
		return
	}
	client, err := crm.NewClient(drv)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	for _, name := range []string{"O'Brien Ltd", "O'Brien & Sons"} {
		res, err := client.Upsert(ctx, "account", "accountnumber", "A-1001", crm.Fields{"name": name, "industrycode": "Consulting"})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("created:", res.Created)
	}
	for rec, err := range client.Query(ctx, crm.Query{Object: "account", Fields: []string{"name", "industrycode"}, Where: crm.Eq("name", "O'Brien & Sons")}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(rec.Fields["name"], rec.Fields["industrycode"])
	}
	// Output:
	// created: true
	// created: false
	// O'Brien & Sons 7
}

// ExampleDriver_Describe shows a choice column's options with their numbers
// and labels.
func ExampleDriver_Describe() {
	srv, err := dynamicstest.NewServer()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	drv, err := dynamics.New(dynamics.WithBaseURL(srv.URL), dynamics.WithHTTPClient(srv.Client()))
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := drv.Describe(context.Background(), "account")
	if err != nil {
		fmt.Println(err)
		return
	}
	f, _ := s.Field("accountcategorycode")
	for _, p := range f.Picklist {
		fmt.Println(p.Value, p.Label)
	}
	// Output:
	// 1 Preferred Customer
	// 2 Standard
}
