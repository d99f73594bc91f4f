package syncengine_test

import (
	"context"
	"testing"

	"github.com/crmkit/crmkit/adapters/dynamics"
	"github.com/crmkit/crmkit/adapters/dynamics/dynamicstest"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/syncengine"
)

// Dataverse reports a choice column's values as their numbers, as text: the
// application side of the pairing holds those numbers.
var dynamicsNames = crmNames{Object: "contact", Email: "emailaddress1", Name: "lastname", Phone: "telephone1",
	Status: "crmkit_status", Notes: "description", Unmapped: "jobtitle", External: "crmkit_externalid",
	GoodStatus: "100000001", LostStatus: "100000002", BadStatus: "100000099"}

// dynamicsContactTable is the seed contact table (change tracking on, an
// alternate key on crmkit_externalid) with a custom status choice column,
// as a solution would add it.
func dynamicsContactTable(t testing.TB) dynamicstest.Table {
	t.Helper()
	for _, tbl := range dynamicstest.SeedTables() {
		if tbl.LogicalName != "contact" {
			continue
		}
		tbl.Attributes = append(tbl.Attributes, dynamicstest.Attribute{
			LogicalName: "crmkit_status", SchemaName: "crmkit_Status", DisplayName: "Customer Status",
			Type: dynamicstest.Picklist, Custom: true, DefaultOption: -1,
			Options: []dynamicstest.Choice{{Value: 100000000, Label: "New"}, {Value: 100000001, Label: "Customer"}, {Value: 100000002, Label: "Lost"}},
		})
		return tbl
	}
	t.Fatal("dynamicstest.SeedTables has no contact table")
	return dynamicstest.Table{}
}

// dynamicsEnv starts an emulated environment whose contact table has the
// status column, on the test's clock.
func dynamicsEnv(t testing.TB, clk *clock, opts ...dynamicstest.Option) *dynamicstest.Server {
	t.Helper()
	base := []dynamicstest.Option{dynamicstest.WithTables(dynamicsContactTable(t))}
	if clk != nil {
		base = append(base, dynamicstest.WithClock(clk.Now))
	}
	return dynamicstest.New(t, append(base, opts...)...)
}

func dynamicsClient(t testing.TB, srv *dynamicstest.Server, clk *clock, opts ...dynamics.Option) *crm.Client {
	t.Helper()
	base := []dynamics.Option{dynamics.WithBaseURL(srv.URL), dynamics.WithHTTPClient(srv.Client())}
	if clk != nil {
		base = append(base, dynamics.WithClock(clk.Now))
	}
	drv, err := dynamics.New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	client, err := crm.NewClient(drv)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

var dynamicsBackend = backend{name: "dynamics", fieldNames: dynamicsNames,
	endpointOptions: []syncengine.CRMOption{syncengine.WithCRMIDField("contactid")},
	open: func(t testing.TB, clk *clock) (*crm.Client, *crm.Schema, crmNames) {
		client := dynamicsClient(t, dynamicsEnv(t, clk), clk)
		schema, err := client.Describe(context.Background(), dynamicsNames.Object)
		if err != nil {
			t.Fatal(err)
		}
		return client, schema, dynamicsNames
	}}
