package hubspot_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/crmkit/crmkit/adapters/hubspot"
	"github.com/crmkit/crmkit/crm"
)

// cancelOn cancels a context when a request's path ends with suffix, before
// passing the request (now cancelled) on.
type cancelOn struct {
	next   http.RoundTripper
	suffix string
	cancel context.CancelFunc
}

func (c *cancelOn) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, c.suffix) {
		c.cancel()
		<-r.Context().Done()
	}
	return c.next.RoundTrip(r)
}

// TestWriteCancelledKeepsDoneRuns cancels a Write of three runs (create,
// update, create) while the update run is in flight: the first run's
// creates happened, so their ids must come back, with the update's outcome
// unknown and the last creates not sent.
func TestWriteCancelledKeepsDoneRuns(t *testing.T) {
	srv, _ := newPortal(t)
	ids, err := srv.Seed("contacts", map[string]string{"firstname": "old"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	hc := srv.Client()
	hc.Transport = &cancelOn{next: hc.Transport, suffix: "/batch/update", cancel: cancel}
	drv := newDriver(t, srv, hubspot.WithHTTPClient(hc))

	writes := []crm.Write{
		{Op: crm.OpCreate, Fields: crm.Fields{"firstname": "a"}},
		{Op: crm.OpCreate, Fields: crm.Fields{"firstname": "b"}},
		{Op: crm.OpUpdate, ID: ids[0], Fields: crm.Fields{"firstname": "new"}},
		{Op: crm.OpCreate, Fields: crm.Fields{"firstname": "c"}},
	}
	res, err := drv.Write(ctx, crm.WriteRequest{Object: "contacts", Writes: writes})
	if err != nil {
		t.Fatalf("Write = %v; want the results of the runs done", err)
	}
	if len(res) != len(writes) {
		t.Fatalf("%d results for %d writes", len(res), len(writes))
	}
	for i := range 2 {
		if res[i].Err != nil || res[i].ID == "" || !res[i].Created {
			t.Errorf("create %d, done before the cancel: %+v; want its new id", i, res[i])
		}
	}
	var ce *crm.Error
	if !errors.As(res[2].Err, &ce) || ce.Kind != crm.KindUnknown || ce.Retryable() || !errors.Is(ce, context.Canceled) {
		t.Errorf("update in flight: %v; want KindUnknown (outcome unknown) wrapping context.Canceled", res[2].Err)
	}
	if !errors.As(res[3].Err, &ce) || ce.Kind != crm.KindUnavailable || !errors.Is(ce, context.Canceled) || !strings.Contains(ce.Message, "not sent") {
		t.Errorf("create after the cancel: %v; want KindUnavailable, not sent, wrapping context.Canceled", res[3].Err)
	}
	// The creates reported done exist in the portal.
	for i := range 2 {
		if _, err := drv.Get(t.Context(), crm.GetRequest{Object: "contacts", ID: res[i].ID}); err != nil {
			t.Errorf("create %d: Get(%s) = %v", i, res[i].ID, err)
		}
	}
}

// TestWriteCancelledInFirstRun cancels a Write during its first run:
// nothing is known to be done, so the call fails with the context's error.
func TestWriteCancelledInFirstRun(t *testing.T) {
	srv, _ := newPortal(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	hc := srv.Client()
	hc.Transport = &cancelOn{next: hc.Transport, suffix: "/batch/create", cancel: cancel}
	drv := newDriver(t, srv, hubspot.WithHTTPClient(hc))
	res, err := drv.Write(ctx, crm.WriteRequest{Object: "contacts", Writes: []crm.Write{
		{Op: crm.OpCreate, Fields: crm.Fields{"firstname": "a"}},
		{Op: crm.OpUpsert, ExternalField: "crmkit_external_id", ExternalValue: "k1", Fields: crm.Fields{"firstname": "b"}},
	}})
	if !errors.Is(err, context.Canceled) || res != nil {
		t.Fatalf("Write = %+v, %v; want nil, context.Canceled", res, err)
	}
}
