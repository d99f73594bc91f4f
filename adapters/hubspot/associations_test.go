package hubspot_test

import (
	"testing"

	"github.com/crmkit/crmkit/adapters/hubspot"
	"github.com/crmkit/crmkit/crm"
)

// TestAssociations links contact↔company and deal↔company in both path
// families and reads the links from either side.
func TestAssociations(t *testing.T) {
	for _, version := range []string{hubspot.APIVersion202603, hubspot.APIVersionLegacy} {
		t.Run(version, func(t *testing.T) {
			srv, _ := newPortal(t)
			drv := newDriver(t, srv, hubspot.WithAPIVersion(version))
			contacts, _ := srv.Seed("contacts", map[string]string{"firstname": "Ada"}, map[string]string{"firstname": "Bo"})
			companies, _ := srv.Seed("companies", map[string]string{"name": "Acme"})
			deals, _ := srv.Seed("deals", map[string]string{"dealname": "Big", "dealstage": "qualifiedtobuy", "pipeline": "default"})
			ctx := t.Context()
			if err := drv.Associate(ctx, "contacts", contacts[0], "companies", companies[0]); err != nil {
				t.Fatal(err)
			}
			if err := drv.Associate(ctx, "contacts", contacts[1], "companies", companies[0],
				hubspot.AssociationType{Category: "HUBSPOT_DEFINED", TypeID: hubspot.ContactToCompanyPrimary}); err != nil {
				t.Fatal(err)
			}
			if err := drv.Associate(ctx, "deals", deals[0], "companies", companies[0]); err != nil {
				t.Fatal(err)
			}
			as, err := drv.Associations(ctx, "companies", companies[0], "contacts")
			if err != nil {
				t.Fatal(err)
			}
			if len(as) != 2 || as[0].ToID != contacts[0] || as[0].Types[0].TypeID != hubspot.CompanyToContact ||
				as[1].ToID != contacts[1] || as[1].Types[0].TypeID != hubspot.CompanyToContactPrimary {
				t.Errorf("company's contacts: %+v", as)
			}
			byDeal, err := drv.BatchAssociations(ctx, "deals", "companies", []string{deals[0], "999"})
			if err != nil {
				t.Fatal(err)
			}
			if got := byDeal[deals[0]]; len(got) != 1 || got[0].ToID != companies[0] || got[0].Types[0].TypeID != hubspot.DealToCompany {
				t.Errorf("deal's companies: %+v", byDeal)
			}
			if err := drv.Dissociate(ctx, "companies", companies[0], "contacts", contacts[0]); err != nil {
				t.Fatal(err)
			}
			if as, _ := drv.Associations(ctx, "contacts", contacts[0], "companies"); len(as) != 0 {
				t.Errorf("after Dissociate: %+v", as)
			}
			if err := drv.Associate(ctx, "contacts", "999", "companies", companies[0]); crm.KindOf(err) != crm.KindNotFound {
				t.Errorf("associating a missing contact: %v, want KindNotFound", err)
			}
		})
	}
}
