package salesforce_test

import (
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/crmkit/crmkit/adapters/salesforce"
	"github.com/crmkit/crmkit/adapters/salesforce/salesforcetest"
	"github.com/crmkit/crmkit/crm"
)

// feedCursorLimit is the size the change cursor must stay under after a
// burst of 10,000 rows inside the lookback window.
const feedCursorLimit = 200 << 10

// seedAt seeds n contacts, the clock moving step after each, and returns
// their ids.
func seedAt(t *testing.T, srv *salesforcetest.Server, clk *clock, n int, step time.Duration) []string {
	t.Helper()
	ids := make([]string, 0, n)
	for i := range n {
		clk.Set(clk.Now().Add(step))
		got, err := srv.Seed("Contact", crm.Fields{"LastName": "Burst"})
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		ids = append(ids, got...)
	}
	return ids
}

// feedDrain calls Changes until a page says no More, and returns the
// changes by id (counting repeats), the pages and the last cursor.
func feedDrain(t *testing.T, d *salesforce.Driver, cursor string, pageSize int) (map[string]int, int, string) {
	t.Helper()
	seen := map[string]int{}
	pages := 0
	for {
		p, err := d.Changes(t.Context(), crm.ChangesRequest{Object: "Contact", Cursor: cursor, PageSize: pageSize})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, ch := range p.Changes {
			seen[ch.Record.ID]++
		}
		cursor = p.Cursor
		if !p.More {
			return seen, pages, cursor
		}
		if pages > 100 {
			t.Fatal("the feed did not end after 100 pages")
		}
	}
}

func queryCalls(srv *salesforcetest.Server) int {
	return srv.Count("queryAll") + srv.Count("queryMore")
}

// Draining a burst of 10,000 rows inside the lookback window at 2,000 a
// page costs about one query a page, not a re-read of the window each page,
// and the cursor stays small; a poll after it delivers nothing again.
func TestChangeFeedBurstCost(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	srv := salesforcetest.New(t, contactFields, salesforcetest.WithClock(clk.Now), salesforcetest.WithDailyLimit(0))
	d := newDriver(t, srv)
	seedAt(t, srv, clk, 1, time.Second)
	_, _, cursor := feedDrain(t, d, "", 2000)
	clk.Set(clk.Now().Add(10 * time.Minute))

	// 10,000 rows over 100 seconds, well inside the 5-minute window.
	ids := seedAt(t, srv, clk, 10000, 10*time.Millisecond)
	clk.Set(clk.Now().Add(time.Second))
	srv.ResetLog()
	got, pages, cursor := feedDrain(t, d, cursor, 2000)
	calls := queryCalls(srv)
	t.Logf("burst of %d: %d pages, %d query calls (%v), cursor %d bytes", len(ids), pages, calls, srv.Counts(), len(cursor))
	for _, id := range ids {
		if got[id] != 1 {
			t.Fatalf("row %s delivered %d times, want once", id, got[id])
		}
	}
	if len(got) != len(ids) {
		t.Errorf("delivered %d rows, want %d", len(got), len(ids))
	}
	if calls > 8 {
		t.Errorf("draining 10,000 rows at 2,000 a page took %d query calls, want at most 8", calls)
	}
	if len(cursor) > feedCursorLimit {
		t.Errorf("the cursor is %d bytes, want at most %d", len(cursor), feedCursorLimit)
	}

	// The next poll reads the window once and delivers nothing new.
	srv.ResetLog()
	again, _, _ := feedDrain(t, d, cursor, 2000)
	if len(again) != 0 {
		t.Errorf("a quiet poll delivered %d rows again", len(again))
	}
	t.Logf("quiet poll: %d query calls", queryCalls(srv))
}

// A row that commits late, with a stamp behind rows a long drain has
// already paged past, is delivered by the next drain, once.
func TestChangeFeedLateCommitDuringDrain(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	srv := salesforcetest.New(t, contactFields, salesforcetest.WithClock(clk.Now), salesforcetest.WithDailyLimit(0))
	d := newDriver(t, srv, salesforce.WithLookback(time.Minute))
	seedAt(t, srv, clk, 1, time.Second)
	_, _, cursor := feedDrain(t, d, "", 200)
	start := clk.Now()
	ids := seedAt(t, srv, clk, 600, 10*time.Millisecond)

	// The first page of the drain passes the first rows.
	p, err := d.Changes(t.Context(), crm.ChangesRequest{Object: "Contact", Cursor: cursor, PageSize: 200})
	if err != nil || !p.More || len(p.Changes) < 100 {
		t.Fatalf("first page: %v, %d changes, more %v", err, len(p.Changes), p.More)
	}
	// A transaction that began among them commits now.
	now := clk.Now()
	clk.Set(start.Add(5 * time.Millisecond))
	late := seedAt(t, srv, clk, 1, 0)[0]
	clk.Set(now.Add(time.Second))

	got, _, cursor := feedDrain(t, d, p.Cursor, 200)
	for _, ch := range p.Changes {
		got[ch.Record.ID]++
	}
	next, _, _ := feedDrain(t, d, cursor, 200)
	for id, n := range next {
		got[id] += n
	}
	if got[late] != 1 {
		t.Errorf("the late row was delivered %d times, want once", got[late])
	}
	for _, id := range ids {
		if got[id] != 1 {
			t.Fatalf("row %s delivered %d times, want once", id, got[id])
		}
	}
}

// A cursor stored by the previous (JSON) version of the feed still resumes.
func TestChangeFeedVersion1Cursor(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	srv := salesforcetest.New(t, contactFields, salesforcetest.WithClock(clk.Now))
	d := newDriver(t, srv)
	seedAt(t, srv, clk, 3, time.Second)
	mark := clk.Now()
	after := seedAt(t, srv, clk, 2, time.Second)
	raw, _ := json.Marshal(map[string]any{"v": 1, "m": mark.Format(time.RFC3339Nano)})
	got, _, _ := feedDrain(t, d, base64.RawURLEncoding.EncodeToString(raw), 0)
	for _, id := range after {
		if got[id] != 1 {
			t.Errorf("row %s after the version 1 mark delivered %d times", id, got[id])
		}
	}
}
