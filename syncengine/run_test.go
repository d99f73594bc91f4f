package syncengine_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/memcrm"
	"github.com/crmkit/crmkit/syncengine"
)

// Run polls on its interval, and Notify (a webhook's handler) makes it sync
// at once; a change seen both ways is applied once.
func TestRunLoopWakesOnNotify(t *testing.T) {
	runs := make(chan syncengine.Report, 16)
	e := newEnv(t, withEngineOptions(syncengine.WithProgress(func(r syncengine.Report) {
		if !r.Finished.IsZero() {
			runs <- r
		}
	})))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.eng.Run(ctx, time.Hour) }()
	<-runs // the first run starts at once

	e.appInsert(crm.Fields{"email": "hook@example.com", "name": "Hook"})
	e.eng.Notify()
	e.eng.Notify() // a second notice before the run is coalesced
	select {
	case r := <-runs:
		if r.Created.CRM != 1 {
			t.Fatalf("the notified run should create the contact:\n%v", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Notify did not wake the loop")
	}
	// The coalesced second notice makes at most one more run, which writes
	// nothing: the change was applied once.
	e.eng.Notify()
	select {
	case r := <-runs:
		if r.Writes() != 0 {
			t.Fatalf("a change seen twice was applied twice:\n%v", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Notify did not wake the loop")
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Run returned %v, want context.Canceled", err)
	}
	if got := len(e.crmContacts()); got != 1 {
		t.Fatalf("%d contacts, want 1", got)
	}
}

// A batch the CRM refuses as a whole (as HubSpot refuses a batch with one
// invalid input) is split until the bad record is alone; its neighbours land.
func TestWholeBatchFailureIsSplit(t *testing.T) {
	e := newEnv(t)
	ws := &wholeBatchEndpoint{Endpoint: e.crmEP, bad: "bad@example.com", email: e.n.Email}
	e.p.CRM = ws
	e.rebuild()
	for i := range 7 {
		e.appInsert(crm.Fields{"email": string(rune('a'+i)) + "@example.com", "name": "N"})
	}
	e.appInsert(crm.Fields{"email": "bad@example.com", "name": "N"})
	rep := e.run()
	if rep.Created.CRM != 7 || rep.DeadLettered != 1 {
		t.Fatalf("seven land, the bad one is dead-lettered alone:\n%v", rep)
	}
	// 8 writes: one refused call, then halves: 4+4, 2+2, 1+1: 7 calls.
	if ws.calls != 7 {
		t.Errorf("the split took %d calls, want 7 (1 + 2 + 2 + 2)", ws.calls)
	}
	dead, _ := e.eng.DeadLetters(e.ctx)
	if len(dead) != 1 || dead[0].Fields[e.n.Email] != nil && dead[0].Fields[e.n.Email] != "bad@example.com" {
		t.Fatalf("dead letters: %+v", dead)
	}
}

// wholeBatchEndpoint refuses any batch holding the bad email with one error
// for the whole batch, as HubSpot's batch endpoints do.
type wholeBatchEndpoint struct {
	syncengine.Endpoint
	bad, email string
	calls      int
}

func (w *wholeBatchEndpoint) Apply(ctx context.Context, writes []syncengine.Write) ([]syncengine.WriteResult, error) {
	w.calls++
	for _, wr := range writes {
		if wr.Fields[w.email] == w.bad {
			err := &crm.Error{Kind: crm.KindValidation, StatusCode: 400, Code: "VALIDATION_ERROR", Message: "one or more inputs are invalid"}
			out := make([]syncengine.WriteResult, len(writes))
			for i := range out {
				out[i].Err = err
			}
			return out, nil
		}
	}
	return w.Endpoint.Apply(ctx, writes)
}

// When the CRM says the day's API allocation is spent, the writes wait for
// it: no dead letters, no attempts counted, no split batches, and no more
// calls in that run.
func TestSpentQuotaDefersWrites(t *testing.T) {
	quota := memcrmBackend
	quota.open = func(t testing.TB, clk *clock) (*crm.Client, *crm.Schema, crmNames) {
		drv, err := memcrm.New(memcrm.WithClock(clk.Now), memcrm.WithDailyLimit(2))
		if err != nil {
			t.Fatal(err)
		}
		client, err := crm.NewClient(drv)
		if err != nil {
			t.Fatal(err)
		}
		return client, memcrm.ContactSchema(), memcrmNames
	}
	e := newEnvOn(t, quota, withEngineOptions(syncengine.WithBatchSize(2)))
	for i := range 10 {
		e.appInsert(crm.Fields{"email": fmt.Sprintf("q%d@example.com", i), "name": "Q"})
	}
	rep := e.run() // 1 feed page + 1 batch fit in the allocation
	if rep.Created.CRM != 2 || rep.Deferred != 8 || rep.DeadLettered != 0 || rep.Calls.CRM != 3 || rep.Pending != 8 {
		t.Fatalf("two land, eight wait for the quota, one refused call and no more:\n%v", rep)
	}
	if dead, _ := e.eng.DeadLetters(e.ctx); len(dead) != 0 {
		t.Fatalf("a spent quota is not the records' fault: %+v", dead)
	}
	// Each new day's two calls carry two batches; the run then stops with
	// the quota error (its feed read is refused), and nothing is lost.
	for day := 2; day <= 3; day++ {
		e.clock.Advance(24 * time.Hour)
		rep, err := e.eng.RunOnce(e.ctx)
		if !errors.Is(err, crm.ErrQuotaExhausted) || rep.Created.CRM != 4 || rep.DeadLettered != 0 {
			t.Fatalf("day %d: err %v\n%v", day, err, rep)
		}
	}
	e.clock.Advance(24 * time.Hour) // reading them back costs a call too
	if got := len(e.crmContacts()); got != 10 {
		t.Fatalf("%d contacts after three days, want 10", got)
	}
}
