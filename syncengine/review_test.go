package syncengine_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/syncengine"
	"github.com/crmkit/crmkit/syncengine/conflict"
	"github.com/crmkit/crmkit/syncengine/memtable"
)

// These tests pin behaviours an independent review of the engine asked
// for: each failed before its fix.

// holdCRMWrites makes the CRM answer the next n write batches with a rate
// limit asking for an hour, so the writes wait in the outbox past the run.
func holdCRMWrites(e *env, n int32) *failingEndpoint {
	fe := &failingEndpoint{Endpoint: e.crmEP, err: &crm.Error{Kind: crm.KindRateLimited, StatusCode: 429, RetryAfter: time.Hour}}
	fe.n.Store(n)
	e.p.CRM = fe
	e.rebuild()
	return fe
}

// An edit in the CRM to one field does not bring back the CRM's old value
// of another field the application changed while its write waits.
func TestCRMEditDoesNotRevertAPendingAppChange(t *testing.T) {
	e := newEnv(t)
	seedOverlap(e)
	e.run()
	holdCRMWrites(e, 1)
	grace := e.appCustomers()["grace@example.com"]
	e.appModify(grace.ID, crm.Fields{"phone": "555-NEW"})
	if rep := e.run(); rep.Pending != 1 {
		t.Fatalf("the phone's write should wait:\n%v", rep)
	}
	e.crmUpdate(e.crmContacts()["grace@example.com"].ID, e.c("Notes", "called"))
	e.run()
	if got := e.appCustomers()["grace@example.com"].Fields["phone"]; got != "555-NEW" {
		t.Fatalf("an unrelated CRM edit reverted the app's phone to %v", got)
	}
	e.clock.Advance(2 * time.Hour)
	e.run()
	e.agree()
	e.quiet()
}

// An older write waiting for a retry never lands after a newer one.
func TestNewerWriteSupersedesAWaitingOne(t *testing.T) {
	e := newEnv(t)
	seedOverlap(e)
	e.run()
	holdCRMWrites(e, 1)
	grace := e.appCustomers()["grace@example.com"]
	e.appModify(grace.ID, crm.Fields{"phone": "555-A"})
	e.run() // A waits an hour
	e.appModify(grace.ID, crm.Fields{"phone": "555-B"})
	e.run() // B lands at once
	e.clock.Advance(2 * time.Hour)
	e.run() // A's hour is up
	if got := e.get("grace@example.com", "Phone"); got != "555-B" {
		t.Fatalf("CRM phone %v: the old write landed after the new one", got)
	}
	e.agree()
	e.quiet()
}

// A create waiting for a retry is dropped when its record is matched to one
// made meanwhile on the other side, or deleted.
func TestWaitingCreateIsDroppedByMatchOrDelete(t *testing.T) {
	e := newEnv(t)
	holdCRMWrites(e, 1)
	e.appInsert(crm.Fields{"email": "same@example.com", "name": "Same"})
	spam := e.appInsert(crm.Fields{"email": "spam@example.com", "name": "Spam"})
	if rep := e.run(); rep.Pending != 2 {
		t.Fatalf("both creates should wait:\n%v", rep)
	}
	e.crmCreate(e.c("Email", "same@example.com", "Name", "Same"))
	e.app.Remove(spam)
	if rep := e.run(); rep.Matched != 1 || rep.Pending != 0 {
		t.Fatalf("the match and the delete should drop the waiting creates:\n%v", rep)
	}
	e.clock.Advance(2 * time.Hour)
	e.run()
	if got := len(e.crmContacts()); got != 1 {
		t.Fatalf("the CRM holds %d contacts, want 1 (no duplicate, no deleted record)", got)
	}
	e.agree()
	e.quiet()
}

// racingApp changes a record the moment before the engine writes to the
// application, as a user of the application might.
type racingApp struct {
	*memtable.Table
	once func()
}

func (r *racingApp) Apply(ctx context.Context, w []syncengine.Write) ([]syncengine.WriteResult, error) {
	if r.once != nil {
		r.once()
		r.once = nil
	}
	return r.Table.Apply(ctx, w)
}

// An edit made between the engine's read and its write is not mistaken for
// the write's echo.
func TestEditRacingTheEnginesWriteIsSynced(t *testing.T) {
	e := newEnv(t)
	seedOverlap(e)
	e.run()
	grace := e.appCustomers()["grace@example.com"]
	e.p.App = &racingApp{Table: e.app, once: func() { e.appModify(grace.ID, crm.Fields{"phone": "555-RACE"}) }}
	e.rebuild()
	e.crmUpdate(e.crmContacts()["grace@example.com"].ID, e.c("Notes", "from the CRM"))
	e.run() // writes notes to the app, just after the app changed the phone
	e.run()
	if got := e.get("grace@example.com", "Phone"); got != "555-RACE" {
		t.Fatalf("CRM phone %v: the app's racing edit was lost", got)
	}
	e.agree()
}

// With a window smaller than the backlog, a change beyond the window on the
// other side is still seen, as a conflict, not overwritten.
func TestWindowCutStillSeesTheOtherSide(t *testing.T) {
	e := newEnv(t, withEngineOptions(syncengine.WithWindow(1)), withPairing(func(p *syncengine.Pairing) {
		p.Resolver = conflict.NewestWins(time.Second, conflict.CRM)
	}))
	e.app = memtable.New(memtable.WithClock(e.clock.Now), memtable.WithPageSize(1))
	e.p.App = e.app
	e.rebuild()
	a := e.appInsert(crm.Fields{"email": "a@example.com", "name": "A"})
	b := e.appInsert(crm.Fields{"email": "b@example.com", "name": "B"})
	for rep := e.run(); rep.Writes() > 0; rep = e.run() {
	}
	e.crmUpdate(e.crmContacts()["b@example.com"].ID, e.c("Notes", "CRM"))
	e.clock.Advance(time.Minute)
	e.appModify(a, crm.Fields{"notes": "a"})
	e.appModify(b, crm.Fields{"notes": "APP"})
	for range 5 {
		e.run()
	}
	if got := e.appCustomers()["b@example.com"].Fields["notes"]; got != "APP" {
		t.Fatalf("app notes %v: the app's later edit, beyond the first window, was overwritten", got)
	}
	e.agree()
}

// A batch refused for a permission the connection lacks stops the run with
// the writes kept: no split into single records, no dead letters.
func TestForbiddenBatchStopsTheRun(t *testing.T) {
	e := newEnv(t)
	fe := &failingEndpoint{Endpoint: e.crmEP, err: &crm.Error{Kind: crm.KindForbidden, StatusCode: 403, Code: "INSUFFICIENT_ACCESS"}}
	fe.n.Store(1)
	e.p.CRM = fe
	e.rebuild()
	for i := range 8 {
		e.appInsert(crm.Fields{"email": string(rune('a'+i)) + "@example.com", "name": "N"})
	}
	rep, err := e.eng.RunOnce(e.ctx)
	if !errors.Is(err, crm.ErrForbidden) || rep.DeadLettered != 0 || rep.Calls.CRM != 2 || rep.Pending != 8 {
		t.Fatalf("err %v:\n%v", err, rep)
	}
	e.run() // permission granted
	if got := len(e.crmContacts()); got != 8 {
		t.Fatalf("%d contacts, want 8", got)
	}
}

// A resolver that fails parks its record, with the reason, instead of
// stalling the pairing.
func TestFailingResolverParksTheRecord(t *testing.T) {
	e := newEnv(t, withPairing(func(p *syncengine.Pairing) {
		p.Resolver = conflict.Func(func(context.Context, *conflict.Conflict) (conflict.Decision, error) {
			return conflict.Decision{}, errors.New("the rules service is down")
		})
	}))
	conflictOnAda(e, time.Minute)
	e.appModify(e.appCustomers()["grace@example.com"].ID, crm.Fields{"phone": "555-OK"})
	rep := e.run()
	if rep.Parked != 1 || rep.Updated.CRM != 1 {
		t.Fatalf("ada parked, grace synced:\n%v", rep)
	}
	parked, _ := e.eng.Parked(e.ctx)
	if len(parked) != 1 || parked[0].Reason == "" {
		t.Fatalf("parked %+v", parked)
	}
}

// A record held for an ambiguous match is not parked again at each change.
func TestAmbiguousHoldIsNotRepeated(t *testing.T) {
	e := newEnv(t, withPairing(func(p *syncengine.Pairing) {
		p.Match = []syncengine.MatchRule{{App: "name", CRM: "LastName"}}
		p.Direction = syncengine.AppToCRM
	}))
	e.crmCreate(e.c("Email", "s1@example.com", "Name", "Smith"))
	e.crmCreate(e.c("Email", "s2@example.com", "Name", "Smith"))
	id := e.appInsert(crm.Fields{"email": "s@example.com", "name": "smith"})
	e.run()
	e.appModify(id, crm.Fields{"phone": "1"})
	if rep := e.run(); rep.Waiting != 1 || rep.Parked != 0 {
		t.Fatalf("the held record waits:\n%v", rep)
	}
	if parked, _ := e.eng.Parked(e.ctx); len(parked) != 1 {
		t.Fatalf("%d holds for one record", len(parked))
	}
}

// A natural key found through a Finder matches without case or spaces, as
// one found among the changes in hand does.
func TestFinderMatchesWithoutCase(t *testing.T) {
	e := newEnv(t)
	fe := &failingEndpoint{Endpoint: e.crmEP, err: &crm.Error{Kind: crm.KindValidation, StatusCode: 400}}
	fe.n.Store(1)
	e.p.CRM = fe
	e.rebuild()
	e.appInsert(crm.Fields{"email": " Ada@Example.com", "name": "Lovelace"})
	if rep := e.run(); rep.DeadLettered != 1 {
		t.Fatalf("the create should be dead-lettered:\n%v", rep)
	}
	// A salesperson enters her in the CRM; the app's row is found by its
	// Finder, whatever the case.
	e.crmCreate(e.c("Email", "ada@example.com", "Name", "Lovelace"))
	if rep := e.run(); rep.Matched != 1 || rep.Created.App != 0 {
		t.Fatalf("the CRM's Ada should match the app's:\n%v", rep)
	}
	if got := len(e.app.Records()); got != 1 {
		t.Fatalf("%d app customers for one person", got)
	}
}

// holdAppWrites makes the application answer the next n write batches
// with err.
func holdAppWrites(e *env, n int32, err error) {
	fe := &failingEndpoint{Endpoint: e.app, err: err}
	fe.n.Store(n)
	e.p.App = fe
	e.rebuild()
}

var anHour = &crm.Error{Kind: crm.KindRateLimited, StatusCode: 429, RetryAfter: time.Hour}

// A CRM change whose write to the application waits is still carried when
// a newer CRM change supersedes that write.
func TestSupersededAppWriteKeepsItsFields(t *testing.T) {
	e := newEnv(t)
	seedOverlap(e)
	e.run()
	holdAppWrites(e, 1, anHour)
	id := e.crmContacts()["grace@example.com"].ID
	e.crmUpdate(id, e.c("Notes", "N1"))
	if rep := e.run(); rep.Pending != 1 {
		t.Fatalf("the notes write should wait:\n%v", rep)
	}
	e.crmUpdate(id, e.c("Phone", "555-2"))
	e.run()
	e.clock.Advance(2 * time.Hour)
	e.run()
	if got := e.appCustomers()["grace@example.com"].Fields["notes"]; got != "N1" {
		t.Fatalf("app notes %v, want N1", got)
	}
	e.agree()
	e.quiet()
}

// Replaying a dead-lettered write to the application sends the CRM's value.
func TestReplayOfADeadAppWrite(t *testing.T) {
	e := newEnv(t)
	seedOverlap(e)
	e.run()
	holdAppWrites(e, 1, &crm.Error{Kind: crm.KindValidation, StatusCode: 400})
	e.crmUpdate(e.crmContacts()["grace@example.com"].ID, e.c("Notes", "N1"))
	if rep := e.run(); rep.DeadLettered != 1 {
		t.Fatalf("the write should die:\n%v", rep)
	}
	dead, _ := e.eng.DeadLetters(e.ctx)
	rep, err := e.eng.Replay(e.ctx, dead[0].ID)
	if err != nil || rep.Updated.App != 1 {
		t.Fatalf("replay: %v\n%v", err, rep)
	}
	if got := e.appCustomers()["grace@example.com"].Fields["notes"]; got != "N1" {
		t.Fatalf("app notes %v after the replay, want N1", got)
	}
	e.quiet()
}

// A record restored after an archive gets a fresh link: its later edits are
// updates, not creates that would duplicate it.
func TestRestoredAfterArchiveSyncsAsOneRecord(t *testing.T) {
	e := newEnv(t, func(e *env) {
		e.p.OnAppDelete = syncengine.DeleteArchive
		e.p.ArchiveCRM = crm.Fields{e.n.Status: e.n.LostStatus}
	})
	seedOverlap(e)
	e.run()
	e.app.Remove(e.appCustomers()["grace@example.com"].ID)
	e.run() // archived in the CRM
	e.crmUpdate(e.crmContacts()["grace@example.com"].ID, e.c("Phone", "555-BACK"))
	if rep := e.run(); rep.Created.App != 1 {
		t.Fatalf("the edited archived contact comes back to the app:\n%v", rep)
	}
	e.appModify(e.appCustomers()["grace@example.com"].ID, crm.Fields{"phone": "555-9"})
	rep := e.run()
	if rep.Updated.CRM != 1 || rep.DeadLettered != 0 || rep.Created.CRM != 0 {
		t.Fatalf("the restored record's edit is an update:\n%v", rep)
	}
	e.agree()
}

// One record the CRM refuses as forbidden (a locked record) is a dead
// letter, not a stop of every run.
func TestForbiddenRecordDoesNotStallThePairing(t *testing.T) {
	e := newEnv(t)
	fe := &failingEndpoint{Endpoint: e.crmEP, err: &crm.Error{Kind: crm.KindForbidden, StatusCode: 400, Code: "INSUFFICIENT_ACCESS_OR_READONLY"}}
	fe.n.Store(1)
	e.p.CRM = fe
	e.rebuild()
	e.appInsert(crm.Fields{"email": "locked@example.com", "name": "L"})
	if rep := e.run(); rep.DeadLettered != 1 {
		t.Fatalf("the lone refused write is a dead letter:\n%v", rep)
	}
	e.appInsert(crm.Fields{"email": "next@example.com", "name": "N"})
	if rep := e.run(); rep.Created.CRM != 1 {
		t.Fatalf("the pairing goes on:\n%v", rep)
	}
}
