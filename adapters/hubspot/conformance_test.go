package hubspot_test

import (
	"testing"

	"github.com/crmkit/crmkit/adapters/hubspot"
	"github.com/crmkit/crmkit/adapters/hubspot/hubspottest"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/crmtest"
	"github.com/crmkit/crmkit/crm/ratelimit"
)

// testProps are the custom contact properties the suite writes: a number
// and a unique key for upserts.
var testProps = []hubspottest.Option{
	hubspottest.WithProperty("contacts", hubspottest.Property{Name: "crmkit_score", Label: "Score", Type: "number", FieldType: "number"}),
	hubspottest.WithProperty("contacts", hubspottest.Property{Name: "crmkit_external_id", Label: "External ID", Type: "string", FieldType: "text", HasUniqueValue: true}),
}

// newPortal starts an emulated portal whose search limit is high enough
// for the suite's many queries, and a driver for it whose search lane
// matches.
func newPortal(t testing.TB, opts ...hubspottest.Option) (*hubspottest.Server, *hubspot.Driver) {
	t.Helper()
	srv := hubspottest.New(t, append(append([]hubspottest.Option{hubspottest.WithSearchLimit(100)}, testProps...), opts...)...)
	drv := newDriver(t, srv, hubspot.WithLimiter(ratelimit.New(ratelimit.WithLane(hubspot.SearchLane, 100, 10))))
	return srv, drv
}

func newDriver(t testing.TB, srv *hubspottest.Server, opts ...hubspot.Option) *hubspot.Driver {
	t.Helper()
	base := []hubspot.Option{
		hubspot.WithBaseURL(srv.URL),
		hubspot.WithHTTPClient(srv.Client()),
		hubspot.WithPrivateAppToken("pat-na1-test"),
		hubspot.WithIndexLag(0),
	}
	d, err := hubspot.New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestConformanceContacts(t *testing.T) {
	crmtest.Run(t, func(t *testing.T) crmtest.Target {
		_, drv := newPortal(t)
		return crmtest.Target{
			Driver:          drv,
			Object:          "contacts",
			NameField:       "firstname",
			TextField:       "lastname",
			NumberField:     "crmkit_score",
			ExternalIDField: "crmkit_external_id",
			ReadOnlyField:   "createdate",
			PageSize:        5,
		}
	})
}

var _ crm.Driver = (*hubspot.Driver)(nil)

// TestConformanceLegacyPaths runs the suite over the /crm/v3/... paths.
func TestConformanceLegacyPaths(t *testing.T) {
	crmtest.Run(t, func(t *testing.T) crmtest.Target {
		srv, _ := newPortal(t)
		drv := newDriver(t, srv, hubspot.WithAPIVersion(hubspot.APIVersionLegacy),
			hubspot.WithLimiter(ratelimit.New(ratelimit.WithLane(hubspot.SearchLane, 100, 10))))
		return crmtest.Target{Driver: drv, Object: "contacts", NameField: "firstname", TextField: "lastname",
			NumberField: "crmkit_score", ExternalIDField: "crmkit_external_id", PageSize: 3}
	})
}

// TestConformanceDeals runs the suite on deals, whose creates require a
// name, a pipeline and a stage (enumerations the suite fills in).
func TestConformanceDeals(t *testing.T) {
	crmtest.Run(t, func(t *testing.T) crmtest.Target {
		srv, _ := newPortal(t)
		drv := newDriver(t, srv, hubspot.WithDefaultFields("deals", "dealname", "description", "amount", "pipeline", "dealstage"),
			hubspot.WithLimiter(ratelimit.New(ratelimit.WithLane(hubspot.SearchLane, 100, 10))))
		return crmtest.Target{Driver: drv, Object: "deals", NameField: "dealname", TextField: "description",
			NumberField: "amount", ReadOnlyField: "hs_lastmodifieddate", PageSize: 4}
	})
}

// carsSchema is a custom object for the tests.
var carsSchema = hubspottest.ObjectSchema{
	Name: "cars", SingularLabel: "Car", PluralLabel: "Cars", PrimaryDisplayProperty: "model",
	RequiredProperties: []string{"model"},
	Properties: []hubspottest.Property{
		{Name: "model", Label: "Model", Type: "string", FieldType: "text"},
		{Name: "notes", Label: "Notes", Type: "string", FieldType: "textarea"},
		{Name: "vin", Label: "VIN", Type: "string", FieldType: "text", HasUniqueValue: true},
		{Name: "price", Label: "Price", Type: "number", FieldType: "number"},
		{Name: "color", Label: "Color", Type: "enumeration", FieldType: "select", Options: []hubspottest.EnumOption{{Label: "Red", Value: "red"}, {Label: "Blue", Value: "blue"}}},
	},
}

// TestConformanceCustomObject runs the suite on a custom object, addressed
// by its fullyQualifiedName, on one portal shared by every subtest.
func TestConformanceCustomObject(t *testing.T) {
	srv := hubspottest.New(t, hubspottest.WithCustomObject(carsSchema), hubspottest.WithSearchLimit(100))
	object := "p62515_cars"
	drv := newDriver(t, srv, hubspot.WithDefaultFields(object, "model", "notes", "vin", "price"),
		hubspot.WithLimiter(ratelimit.New(ratelimit.WithLane(hubspot.SearchLane, 100, 10))))
	crmtest.Run(t, func(t *testing.T) crmtest.Target {
		return crmtest.Target{Driver: drv, Object: object, NameField: "model", TextField: "notes",
			NumberField: "price", ExternalIDField: "vin", ReadOnlyField: "hs_createdate", PageSize: 6}
	})
}
