package salesforce_test

import (
	"testing"

	"github.com/crmkit/crmkit/adapters/salesforce"
	"github.com/crmkit/crmkit/adapters/salesforce/salesforcetest"
	"github.com/crmkit/crmkit/crm/crmtest"
)

// contactFields are the custom fields the tests add to Contact: a number
// and an external id, as a typical integration's org has.
var contactFields = salesforcetest.WithFields("Contact",
	salesforcetest.Field{Name: "Score__c", Type: "double", Precision: 18, Scale: 2},
	salesforcetest.Field{Name: "External_Id__c", Type: "string", Length: 64, ExternalID: true, Unique: true},
)

func newDriver(t testing.TB, srv *salesforcetest.Server, opts ...salesforce.Option) *salesforce.Driver {
	t.Helper()
	base := []salesforce.Option{
		salesforce.WithInstanceURL(srv.URL),
		salesforce.WithTokenSource(srv.TokenSource()),
		salesforce.WithHTTPClient(srv.Client()),
	}
	d, err := salesforce.New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func contactTarget(d *salesforce.Driver) crmtest.Target {
	return crmtest.Target{
		Driver:          d,
		Object:          "Contact",
		NameField:       "LastName",
		TextField:       "Title",
		NumberField:     "Score__c",
		ExternalIDField: "External_Id__c",
		ReadOnlyField:   "CreatedDate",
		PageSize:        salesforce.MinPageSize,
	}
}

// TestConformance runs crmkit's conformance suite against a fresh emulated
// org for each subtest.
func TestConformance(t *testing.T) {
	crmtest.Run(t, func(t *testing.T) crmtest.Target {
		srv := salesforcetest.New(t, contactFields)
		return contactTarget(newDriver(t, srv))
	})
}

// TestConformanceSharedOrg runs the suite on one org for every subtest, as
// on a sandbox that other tests use too.
func TestConformanceSharedOrg(t *testing.T) {
	srv := salesforcetest.New(t, contactFields, salesforcetest.WithDailyLimit(0))
	d := newDriver(t, srv)
	crmtest.Run(t, func(t *testing.T) crmtest.Target { return contactTarget(d) })
}

// TestConformanceAccount runs the suite on Account, with a currency number
// field and nothing optional.
func TestConformanceAccount(t *testing.T) {
	crmtest.Run(t, func(t *testing.T) crmtest.Target {
		srv := salesforcetest.New(t)
		return crmtest.Target{Driver: newDriver(t, srv), Object: "Account", NameField: "Name", TextField: "Site",
			NumberField: "AnnualRevenue", PageSize: salesforce.MinPageSize}
	})
}
