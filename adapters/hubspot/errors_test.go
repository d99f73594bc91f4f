package hubspot_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/crmkit/crmkit/adapters/hubspot"
	"github.com/crmkit/crmkit/adapters/hubspot/hubspottest"
	"github.com/crmkit/crmkit/crm"
)

// TestErrorMapping checks each HubSpot error the emulator sends against the
// *crm.Error the driver makes of it: kind, status, code, the correlation id
// and, for a 429, how long to wait.
func TestErrorMapping(t *testing.T) {
	cases := []struct {
		name      string
		fault     hubspottest.Fault
		kind      crm.Kind
		status    int
		code      string
		wait      time.Duration
		retryable bool
	}{
		{"bad request", hubspottest.Fault{Status: 400}, crm.KindValidation, 400, "VALIDATION_ERROR", 0, false},
		{"invalid token", hubspottest.Fault{Status: 401}, crm.KindUnauthorized, 401, "INVALID_AUTHENTICATION", 0, false},
		{"expired token", hubspottest.Fault{ExpiredToken: true}, crm.KindUnauthorized, 401, "EXPIRED_AUTHENTICATION", 0, false},
		{"missing scopes", hubspottest.Fault{Status: 403}, crm.KindForbidden, 403, "MISSING_SCOPES", 0, false},
		{"not found", hubspottest.Fault{Status: 404}, crm.KindNotFound, 404, "OBJECT_NOT_FOUND", 0, false},
		{"conflict", hubspottest.Fault{Status: 409}, crm.KindDuplicate, 409, "CONFLICT", 0, false},
		{"locked", hubspottest.Fault{Status: 423}, crm.KindUnavailable, 423, "LOCKED", 0, true},
		{"migration", hubspottest.Fault{Status: 477}, crm.KindUnavailable, 477, "MIGRATION_IN_PROGRESS", 2 * time.Second, true},
		{"ten-secondly", hubspottest.Fault{Status: 429}, crm.KindRateLimited, 429, "RATE_LIMIT/TEN_SECONDLY_ROLLING", 10 * time.Second, true},
		{"daily", hubspottest.Fault{Status: 429, Policy: hubspottest.PolicyDaily}, crm.KindQuotaExhausted, 429, "RATE_LIMIT/DAILY", 0, false},
		{"secondly", hubspottest.Fault{Status: 429, Policy: hubspottest.PolicySecondly}, crm.KindRateLimited, 429, "RATE_LIMIT/SECONDLY", time.Second, true},
		{"internal", hubspottest.Fault{Status: 500}, crm.KindUnavailable, 500, "INTERNAL_ERROR", 0, true},
		{"bad gateway", hubspottest.Fault{Status: 502}, crm.KindUnavailable, 502, "SERVICE_UNAVAILABLE", 0, true},
		{"unavailable", hubspottest.Fault{Status: 503}, crm.KindUnavailable, 503, "SERVICE_UNAVAILABLE", 0, true},
		{"gateway timeout", hubspottest.Fault{Status: 504}, crm.KindUnavailable, 504, "SERVICE_UNAVAILABLE", 0, true},
	}
	srv := hubspottest.New(t)
	ids, err := srv.Seed("contacts", map[string]string{"firstname": "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// A driver of its own: a 429 pauses the driver's lane.
			drv := newDriver(t, srv, hubspot.WithRetry(nil))
			if _, err := drv.Describe(t.Context(), "contacts"); err != nil {
				t.Fatal(err)
			}
			c.fault.Path = "/crm/objects/2026-03/contacts/"
			srv.Inject(c.fault)
			_, err := drv.Get(t.Context(), crm.GetRequest{Object: "contacts", ID: ids[0]})
			var ce *crm.Error
			if !errors.As(err, &ce) {
				t.Fatalf("Get: %v, want a *crm.Error", err)
			}
			if ce.Kind != c.kind || ce.StatusCode != c.status || ce.Code != c.code {
				t.Errorf("kind %q status %d code %q, want %q %d %q (%v)", ce.Kind, ce.StatusCode, ce.Code, c.kind, c.status, c.code, err)
			}
			if ce.RequestID == "" || len(ce.RequestID) != 36 {
				t.Errorf("RequestID %q, want HubSpot's correlation id", ce.RequestID)
			}
			if ce.RetryAfter != c.wait {
				t.Errorf("RetryAfter %v, want %v", ce.RetryAfter, c.wait)
			}
			if ce.Retryable() != c.retryable {
				t.Errorf("Retryable() = %v, want %v", ce.Retryable(), c.retryable)
			}
			if ce.CRM != "hubspot" || ce.Operation != "get" || ce.Object != "contacts" || ce.Message == "" {
				t.Errorf("error lacks its context: %+v", ce)
			}
			if strings.Contains(err.Error(), "pat-na1-test") {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}

	drv := newDriver(t, srv, hubspot.WithRetry(nil))
	t.Run("unknown object", func(t *testing.T) {
		_, err := drv.Describe(t.Context(), "widgets")
		if !errors.Is(err, crm.ErrNotFound) {
			t.Errorf("Describe(widgets): %v, want KindNotFound", err)
		}
	})
	t.Run("missing record", func(t *testing.T) {
		_, err := drv.Get(t.Context(), crm.GetRequest{Object: "contacts", ID: "999"})
		var ce *crm.Error
		if !errors.As(err, &ce) || ce.Kind != crm.KindNotFound || ce.RecordID != "999" {
			t.Errorf("Get(999): %v, want KindNotFound naming 999", err)
		}
	})
	t.Run("property errors name the property", func(t *testing.T) {
		rs, err := drv.Write(t.Context(), crm.WriteRequest{Object: "contacts", Writes: []crm.Write{
			{Op: crm.OpCreate, Fields: crm.Fields{"firstname": "ok"}},
			{Op: crm.OpCreate, Fields: crm.Fields{"lifecyclestage": "nonsense"}},
			{Op: crm.OpCreate, Fields: crm.Fields{"lastmodifieddate": time.Now()}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if rs[0].Err != nil {
			t.Errorf("write 0: %v", rs[0].Err)
		}
		for i, field := range map[int]string{1: "lifecyclestage", 2: "lastmodifieddate"} {
			var ce *crm.Error
			if !errors.As(rs[i].Err, &ce) || ce.Kind != crm.KindValidation || len(ce.Fields) != 1 || ce.Fields[0] != field {
				t.Errorf("write %d: %v, want KindValidation naming %s", i, rs[i].Err, field)
			}
		}
	})
	t.Run("duplicate email", func(t *testing.T) {
		w := crm.Write{Op: crm.OpCreate, Fields: crm.Fields{"email": "dup@example.com"}}
		if rs, err := drv.Write(t.Context(), crm.WriteRequest{Object: "contacts", Writes: []crm.Write{w}}); err != nil || rs[0].Err != nil {
			t.Fatalf("first create: %v %v", err, rs)
		}
		rs, err := drv.Write(t.Context(), crm.WriteRequest{Object: "contacts", Writes: []crm.Write{w}})
		if err != nil {
			t.Fatal(err)
		}
		if !errors.Is(rs[0].Err, crm.ErrDuplicate) || !strings.Contains(rs[0].Err.Error(), "Existing ID") {
			t.Errorf("second create: %v, want KindDuplicate with HubSpot's message", rs[0].Err)
		}
	})
}
