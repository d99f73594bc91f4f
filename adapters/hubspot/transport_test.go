package hubspot_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/oauth2"

	"github.com/crmkit/crmkit/adapters/hubspot"
	"github.com/crmkit/crmkit/adapters/hubspot/hubspottest"
	"github.com/crmkit/crmkit/crm"
)

// TestTransientFaults: reads and upserts (safe to repeat) are retried
// through 5xx answers and resets; a create is not, since it may have been
// made.
func TestTransientFaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := hubspottest.NewInProcess(t, testProps...)
		drv := newDriver(t, srv)
		ids, _ := srv.Seed("contacts", map[string]string{"firstname": "Ada"})
		if _, err := drv.Describe(t.Context(), "contacts"); err != nil {
			t.Fatal(err)
		}
		srv.Inject(hubspottest.Fault{Path: "/crm/objects/2026-03/contacts/" + ids[0], Status: 503, Times: 2})
		srv.Inject(hubspottest.Fault{Path: "/crm/objects/2026-03/contacts/" + ids[0], Reset: true})
		if _, err := drv.Get(t.Context(), crm.GetRequest{Object: "contacts", ID: ids[0]}); err != nil {
			t.Errorf("Get through two 503s and a reset: %v", err)
		}

		srv.Inject(hubspottest.Fault{Path: "/crm/objects/2026-03/contacts/batch/upsert", Status: 502})
		rs, err := drv.Write(t.Context(), crm.WriteRequest{Object: "contacts", Writes: []crm.Write{
			{Op: crm.OpUpsert, ExternalField: "crmkit_external_id", ExternalValue: "k1", Fields: crm.Fields{"firstname": "U"}}}})
		if err != nil || rs[0].Err != nil || !rs[0].Created {
			t.Errorf("upsert through a 502: %v %+v", err, rs)
		}

		srv.Inject(hubspottest.Fault{Path: "/crm/objects/2026-03/contacts/batch/create", Status: 503})
		before := srv.Stats().Requests
		_, err = drv.Write(t.Context(), crm.WriteRequest{Object: "contacts", Writes: []crm.Write{{Op: crm.OpCreate, Fields: crm.Fields{"firstname": "C"}}}})
		if !errors.Is(err, crm.ErrUnavailable) {
			t.Errorf("create answered 503: %v, want KindUnavailable", err)
		}
		if n := srv.Stats().Requests - before; n != 1 {
			t.Errorf("the create was sent %d times, want once: it is not safe to repeat", n)
		}

		// A slow answer within the caller's deadline succeeds; a hang past
		// it ends with the deadline.
		srv.Inject(hubspottest.Fault{Delay: 3 * time.Second})
		if _, err := drv.Get(t.Context(), crm.GetRequest{Object: "contacts", ID: ids[0]}); err != nil {
			t.Errorf("a slow answer: %v", err)
		}
		srv.Inject(hubspottest.Fault{Hang: true, Times: -1})
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		_, err = drv.Get(ctx, crm.GetRequest{Object: "contacts", ID: ids[0]})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a hung request: %v, want the deadline", err)
		}
		srv.ClearFaults()
	})
}

// TestOAuthTokenSource: the driver with an oauth2.TokenSource from the
// authorization-code flow against the emulator's token endpoint; when the
// access token's lifetime is over, the source refreshes it.
func TestOAuthTokenSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := hubspottest.NewInProcess(t, hubspottest.WithApp("cid", "csecret", "http://localhost/cb"), hubspottest.WithTokenLifetime(time.Minute))
		cfg := &oauth2.Config{ClientID: "cid", ClientSecret: "csecret", RedirectURL: "http://localhost/cb",
			Endpoint: oauth2.Endpoint{TokenURL: srv.URL + "/oauth/v1/token", AuthStyle: oauth2.AuthStyleInParams}}
		ctx := context.WithValue(t.Context(), oauth2.HTTPClient, srv.Client())
		tok, err := cfg.Exchange(ctx, srv.AuthorizationCode("http://localhost/cb", "crm.objects.contacts.read"))
		if err != nil {
			t.Fatal(err)
		}
		drv := newDriver(t, srv, hubspot.WithTokenSource(cfg.TokenSource(ctx, tok)))
		if _, err := drv.Describe(t.Context(), "contacts"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Minute) // the access token expires
		if _, err := drv.Describe(t.Context(), "contacts"); err != nil {
			t.Errorf("after the token's lifetime: %v, want a refreshed token", err)
		}
		// A token the server revoked early is KindUnauthorized.
		srv.ExpireTokens()
		_, err = drv.Describe(t.Context(), "contacts")
		if !errors.Is(err, crm.ErrUnauthorized) {
			t.Errorf("a revoked token: %v, want KindUnauthorized", err)
		}
	})
}

// TestNeedsCredentials: New refuses to build a driver without them.
func TestNeedsCredentials(t *testing.T) {
	if _, err := hubspot.New(); err == nil {
		t.Error("New() without credentials succeeded")
	}
	if _, err := hubspot.New(hubspot.WithPrivateAppToken("")); err == nil {
		t.Error("an empty token was accepted")
	}
	if _, err := hubspot.New(hubspot.WithPrivateAppToken("t"), hubspot.WithAPIVersion("v9")); err == nil {
		t.Error("API version v9 was accepted")
	}
}
