package dynamics_test

import (
	"testing"
	"time"

	"github.com/crmkit/crmkit/adapters/dynamics"
	"github.com/crmkit/crmkit/adapters/dynamics/dynamicstest"
	"github.com/crmkit/crmkit/crm/crmtest"
)

func newDriver(t testing.TB, srv *dynamicstest.Server, opts ...dynamics.Option) *dynamics.Driver {
	t.Helper()
	d, err := dynamics.New(append([]dynamics.Option{dynamics.WithBaseURL(srv.URL), dynamics.WithHTTPClient(srv.Client())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestConformance runs the crm contract's suite on contacts, a table with
// change tracking, against a fresh emulated environment per subtest.
func TestConformance(t *testing.T) {
	crmtest.Run(t, func(t *testing.T) crmtest.Target {
		srv := dynamicstest.New(t)
		return crmtest.Target{
			Driver:          newDriver(t, srv),
			Object:          "contact",
			NameField:       "lastname",
			TextField:       "jobtitle",
			NumberField:     "numberofchildren",
			ExternalIDField: "crmkit_externalid",
			ReadOnlyField:   "createdon",
			PageSize:        5,
		}
	})
}

// TestConformanceCustomTablePolling runs the suite on a custom table
// without change tracking, whose change feed polls modifiedon, with small
// batches so the Client must split writes, on one shared environment.
func TestConformanceCustomTablePolling(t *testing.T) {
	srv := dynamicstest.New(t)
	d := newDriver(t, srv, dynamics.WithModifiedOnPolling(2*time.Second), dynamics.WithMaxBatchSize(4), dynamics.WithPageSize(3, 50))
	crmtest.Run(t, func(t *testing.T) crmtest.Target {
		return crmtest.Target{
			Driver:          d,
			Object:          "crmkit_project",
			NameField:       "crmkit_name",
			TextField:       "crmkit_notes",
			NumberField:     "crmkit_budget",
			ExternalIDField: "crmkit_code",
			ReadOnlyField:   "modifiedon",
			PageSize:        7,
		}
	})
}
