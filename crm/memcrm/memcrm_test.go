package memcrm_test

import (
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/crmtest"
	"github.com/crmkit/crmkit/crm/memcrm"
)

func newDriver(t testing.TB, opts ...memcrm.Option) *memcrm.Driver {
	t.Helper()
	d, err := memcrm.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func contactTarget(d crm.Driver) crmtest.Target {
	return crmtest.Target{
		Driver:          d,
		Object:          "Contact",
		NameField:       "LastName",
		TextField:       "Description",
		NumberField:     "Score",
		ExternalIDField: "ExternalId",
		ReadOnlyField:   "CreatedAt",
		PageSize:        5,
	}
}

// TestConformance runs the suite with a fresh org for each subtest.
func TestConformance(t *testing.T) {
	crmtest.Run(t, func(t *testing.T) crmtest.Target {
		return contactTarget(newDriver(t))
	})
}

// TestConformanceSharedOrg runs the suite on one org for every subtest, as
// on a real sandbox, with small batches so the Client must split writes.
func TestConformanceSharedOrg(t *testing.T) {
	d := newDriver(t, memcrm.WithMaxBatchSize(4), memcrm.WithPageSize(3, 7))
	crmtest.Run(t, func(t *testing.T) crmtest.Target {
		tg := contactTarget(d)
		tg.PageSize = 7
		return tg
	})
}

// TestConformanceAccount runs the suite on the other sample object, with a
// decimal number field and nothing optional.
func TestConformanceAccount(t *testing.T) {
	crmtest.Run(t, func(t *testing.T) crmtest.Target {
		return crmtest.Target{Driver: newDriver(t), Object: "account", NameField: "name", TextField: "Description", NumberField: "AnnualRevenue"}
	})
}
