package syncengine_test

import (
	"context"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
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
