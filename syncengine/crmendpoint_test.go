package syncengine_test

import (
	"context"
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/memcrm"
	"github.com/crmkit/crmkit/syncengine"
	"github.com/crmkit/crmkit/syncengine/endpointtest"
)

// The CRM endpoint passes the suite every endpoint passes.
func TestCRMEndpointConformance(t *testing.T) {
	endpointtest.Run(t, func(t *testing.T) endpointtest.Target {
		drv, err := memcrm.New()
		if err != nil {
			t.Fatal(err)
		}
		client, err := crm.NewClient(drv)
		if err != nil {
			t.Fatal(err)
		}
		ep, err := syncengine.NewCRMEndpoint(client, "Contact", "ExternalId", syncengine.WithCRMPageSize(3))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		return endpointtest.Target{
			Endpoint: ep, TextField: "Title", OtherField: "Description", Fill: crm.Fields{"LastName": "Suite"},
			Insert: func(t *testing.T, f crm.Fields) string {
				id, err := client.Create(ctx, "Contact", f)
				if err != nil {
					t.Fatal(err)
				}
				return id
			},
			Modify: func(t *testing.T, id string, f crm.Fields) {
				if err := client.Update(ctx, "Contact", id, f); err != nil {
					t.Fatal(err)
				}
			},
			Remove: func(t *testing.T, id string) {
				if err := client.Delete(ctx, "Contact", id); err != nil {
					t.Fatal(err)
				}
			},
			SupportsKey: true, ChecksKinds: true, PageSize: 3, MissingID: "contact-999999",
		}
	})
}

func TestNewCRMEndpointNamesWhatIsMissing(t *testing.T) {
	drv, _ := memcrm.New()
	client, _ := crm.NewClient(drv)
	if _, err := syncengine.NewCRMEndpoint(client, "Contact", ""); err == nil {
		t.Fatal("an endpoint without an external-id field must be refused: creates could duplicate")
	}
	if _, err := syncengine.NewCRMEndpoint(nil, "Contact", "ExternalId"); err == nil {
		t.Fatal("a nil client must be refused")
	}
}
