package hubspot_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/crmkit/crmkit/adapters/hubspot"
	"github.com/crmkit/crmkit/adapters/hubspot/hubspottest"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/ratelimit"
)

// countPath counts the requests whose path ends with suffix.
func countPath(srv *hubspottest.Server, suffix string) int {
	n := 0
	for _, r := range srv.Requests() {
		if strings.HasSuffix(r.Path, suffix) {
			n++
		}
	}
	return n
}

// Test250UpsertsIn3Calls writes 250 upserts through the Client: HubSpot's
// batches take 100, so it costs exactly 3 batch/upsert calls; done again,
// the same keys update the same records, in 3 more.
func Test250UpsertsIn3Calls(t *testing.T) {
	srv, drv := newPortal(t)
	client, err := crm.NewClient(drv)
	if err != nil {
		t.Fatal(err)
	}
	ws := make([]crm.Write, 250)
	for i := range ws {
		ws[i] = crm.Write{Op: crm.OpUpsert, ExternalField: "crmkit_external_id", ExternalValue: fmt.Sprintf("key-%03d", i),
			Fields: crm.Fields{"firstname": fmt.Sprint("Upsert ", i), "crmkit_score": int64(i)}}
	}
	ids := map[string]int{}
	for round := range 2 {
		rs, err := client.Write(t.Context(), "contacts", ws)
		if err != nil {
			t.Fatal(err)
		}
		if err := rs.Err(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for i, r := range rs {
			if r.Created != (round == 0) {
				t.Fatalf("round %d write %d: Created = %v", round, i, r.Created)
			}
			if round == 0 {
				ids[r.ID] = i
			} else if ids[r.ID] != i {
				t.Fatalf("round %d write %d updated %s, which write %d created", round, i, r.ID, ids[r.ID])
			}
		}
		if n := countPath(srv, "/batch/upsert"); n != 3*(round+1) {
			t.Errorf("after round %d: %d batch/upsert calls, want %d", round, n, 3*(round+1))
		}
	}
	if len(ids) != 250 {
		t.Errorf("%d distinct records for 250 keys", len(ids))
	}
	// Results come back in reverse from the emulator; check one by value.
	r, err := drv.Get(t.Context(), crm.GetRequest{Object: "contacts", ID: findID(ids, 7), Fields: []string{"firstname", "crmkit_score"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Fields["firstname"] != "Upsert 7" || !crm.EqualValues(r.Fields["crmkit_score"], crm.NewDecimal(7, 0)) {
		t.Errorf("record of write 7: %v", r.Fields)
	}
}

func findID(ids map[string]int, want int) string {
	for id, i := range ids {
		if i == want {
			return id
		}
	}
	return ""
}

// TestDaily429StopsCleanly: once the account's daily allocation is spent, a
// call fails with KindQuotaExhausted at once, after one request, without
// retries; with a daily guard, the driver stops before HubSpot has to say so.
func TestDaily429StopsCleanly(t *testing.T) {
	srv := hubspottest.New(t, testProps...)
	drv := newDriver(t, srv)
	client, _ := crm.NewClient(drv)
	srv.UseDaily(hubspottest.DefaultDailyLimit)
	before := srv.Stats().Requests
	rs, err := client.Write(t.Context(), "contacts", []crm.Write{{Op: crm.OpCreate, Fields: crm.Fields{"firstname": "late"}}, {Op: crm.OpCreate, Fields: crm.Fields{"firstname": "later"}}})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		if !errors.Is(r.Err, crm.ErrQuotaExhausted) || crm.IsRetryable(r.Err) {
			t.Errorf("write %d: %v, want KindQuotaExhausted, not retryable", i, r.Err)
		}
	}
	if n := srv.Stats().Requests - before; n != 1 {
		t.Errorf("%d requests, want 1: a daily 429 is not retried", n)
	}
	if st := srv.Stats(); st.Daily429 != 1 {
		t.Errorf("stats %+v, want one daily 429", st)
	}

	// With a daily guard at 90%, the limiter refuses once the headers show
	// the use past it, without another request.
	srv2 := hubspottest.New(t, hubspottest.WithDailyLimit(100))
	srv2.UseDaily(89)
	guarded := newDriver(t, srv2, hubspot.WithLimiter(ratelimit.New(ratelimit.WithDailyGuard(0.9), ratelimit.WithLane(hubspot.SearchLane, 5, 1))))
	if _, err := guarded.Describe(t.Context(), "contacts"); err != nil {
		t.Fatal(err) // the 90th request: 90 of 100 used
	}
	before = srv2.Stats().Requests
	_, err = guarded.Query(t.Context(), crm.QueryRequest{Query: crm.Query{Object: "contacts"}})
	if !errors.Is(err, crm.ErrQuotaExhausted) {
		t.Errorf("past the guard: %v, want KindQuotaExhausted", err)
	}
	if n := srv2.Stats().Requests - before; n != 0 {
		t.Errorf("past the guard the driver sent %d requests, want 0", n)
	}
}

// TestTenSecondly429WaitedOut: a ten-secondly 429 (no Retry-After, as
// HubSpot sends it) is retried after the limit's 10-second window, and the
// call succeeds. The fake clock of a synctest bubble makes the wait free.
func TestTenSecondly429WaitedOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := hubspottest.NewInProcess(t)
		drv := newDriver(t, srv)
		ids, err := srv.Seed("contacts", map[string]string{"firstname": "Ada"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := drv.Describe(t.Context(), "contacts"); err != nil {
			t.Fatal(err)
		}
		srv.Inject(hubspottest.Fault{Path: "/crm/objects/2026-03/contacts/" + ids[0], Status: 429})
		start := time.Now()
		r, err := drv.Get(t.Context(), crm.GetRequest{Object: "contacts", ID: ids[0]})
		if err != nil {
			t.Fatalf("Get after a ten-secondly 429: %v", err)
		}
		if r.Fields["firstname"] != "Ada" {
			t.Errorf("got %v", r.Fields)
		}
		if waited := time.Since(start); waited < 10*time.Second || waited > 30*time.Second {
			t.Errorf("waited %v, want the 10-second window", waited)
		}
		if n := countPath(srv, "/contacts/"+ids[0]); n != 2 {
			t.Errorf("%d requests for the record, want 2 (the 429 and the retry)", n)
		}
	})
}

// TestLimiterSlowsBeforeHubSpot: with a ten-secondly limit of 20 and 60
// requests to make, the driver paces itself and HubSpot never answers 429;
// search keeps to its own 5 a second.
func TestLimiterSlowsBeforeHubSpot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := hubspottest.NewInProcess(t, hubspottest.WithBurstLimit(20))
		drv := newDriver(t, srv, hubspot.WithTenSecondlyLimit(20))
		start := time.Now()
		for i := range 60 {
			if _, err := drv.Query(t.Context(), crm.QueryRequest{Query: crm.Query{Object: "contacts"}}); err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
		}
		if st := srv.Stats(); st.Burst429 != 0 {
			t.Errorf("%d ten-secondly 429s, want none", st.Burst429)
		}
		if took := time.Since(start); took < 20*time.Second {
			t.Errorf("61 requests under a limit of 20 per 10s took %v, want at least 20s", took)
		}

		start = time.Now()
		for i := range 16 {
			if _, err := drv.Query(t.Context(), crm.QueryRequest{Query: crm.Query{Object: "contacts", Where: crm.Eq("firstname", "x")}}); err != nil {
				t.Fatalf("search %d: %v", i, err)
			}
		}
		if st := srv.Stats(); st.Secondly429 != 0 {
			t.Errorf("%d search 429s, want none", st.Secondly429)
		}
		if took := time.Since(start); took < 3*time.Second {
			t.Errorf("16 searches took %v, want at least 3s at 5 a second", took)
		}
	})
}

// TestHeadersFeedTheLimiter: the daily figures of X-HubSpot-RateLimit-*
// reach the limiter.
func TestHeadersFeedTheLimiter(t *testing.T) {
	srv := hubspottest.New(t, hubspottest.WithDailyLimit(1000))
	srv.UseDaily(400)
	lim := ratelimit.New(ratelimit.WithLane(hubspot.SearchLane, 5, 1))
	drv := newDriver(t, srv, hubspot.WithLimiter(lim))
	if _, err := drv.Describe(t.Context(), "contacts"); err != nil {
		t.Fatal(err)
	}
	if q := lim.Daily(); q.Max != 1000 || q.Used != 401 {
		t.Errorf("limiter's daily quota %+v, want 401 of 1000", q)
	}
}
