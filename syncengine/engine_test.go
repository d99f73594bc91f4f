package syncengine_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/syncengine"
	"github.com/crmkit/crmkit/syncengine/conflict"
)

// seedOverlap puts three customers in the application and three contacts in
// the CRM; two people are on both sides.
func seedOverlap(e *env) {
	e.appInsert(crm.Fields{"email": "ada@example.com", "name": "Lovelace", "status": e.n.GoodStatus})
	e.appInsert(crm.Fields{"email": "grace@example.com", "name": "Hopper", "phone": "555-0101"})
	e.appInsert(crm.Fields{"email": "only.app@example.com", "name": "Appleby"})
	e.crmCreate(e.c("Email", "ada@example.com", "Name", "Lovelace", "Notes", "met at the fair"))
	e.crmCreate(e.c("Email", "grace@example.com", "Name", "Hopper", "Phone", "555-0101"))
	e.crmCreate(e.c("Email", "only.crm@example.com", "Name", "Cramer"))
}

func TestInitialLoadBothWays(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnvOn(t, b)
		seedOverlap(e)
		rep := e.run()
		if rep.Matched != 2 || rep.Created.CRM != 1 || rep.Created.App != 1 {
			t.Fatalf("want 2 matched, 1 created each side:\n%v", rep)
		}
		if rep.ConflictCount() != 0 {
			t.Errorf("no field was set differently on both sides, yet:\n%v", rep)
		}
		// Ada's status came from the app, her description from the CRM.
		ada := e.crmContacts()["ada@example.com"]
		if ada.Fields[e.n.Status] != e.n.GoodStatus || ada.Fields[e.n.External] != nil {
			t.Errorf("ada in the CRM: %v", ada.Fields)
		}
		if got := e.appCustomers()["ada@example.com"].Fields["notes"]; got != "met at the fair" {
			t.Errorf("ada's notes in the app = %v", got)
		}
		// The created records carry their sync keys.
		if c := e.crmContacts()["only.app@example.com"]; c == nil || c.Fields[e.n.External] == nil {
			t.Fatalf("the app-only customer should be in the CRM with its sync key: %v", c)
		}
		if got := len(e.appCustomers()); got != 4 {
			t.Fatalf("app holds %d customers, want 4", got)
		}
		e.quiet()
	})
}

func TestEmailsDifferingOnlyInCaseMatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnvOn(t, b)
		e.appInsert(crm.Fields{"email": " Ada@Example.com", "name": "Lovelace"})
		e.crmCreate(e.c("Email", "ada@example.com", "Name", "Lovelace"))
		rep := e.run()
		if rep.Matched != 1 || rep.Created.Total() != 0 {
			t.Fatalf("natural keys compare without case and spaces:\n%v", rep)
		}
	})
}

func TestUpdatesOnEachSide(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnvOn(t, b)
		seedOverlap(e)
		e.run()
		e.quiet()

		grace := e.appCustomers()["grace@example.com"]
		e.appModify(grace.ID, crm.Fields{"phone": "555-0199"})
		rep := e.run()
		if rep.Updated.CRM != 1 || rep.Updated.App != 0 {
			t.Fatalf("an app update should make one CRM update:\n%v", rep)
		}
		if got := e.get("grace@example.com", "Phone"); got != "555-0199" {
			t.Fatalf("CRM phone = %v", got)
		}
		e.quiet()

		cramer := e.crmContacts()["only.crm@example.com"]
		e.crmUpdate(cramer.ID, e.c("Unmapped", "ignored: not mapped", "Notes", "called back"))
		rep = e.run()
		if rep.Updated.App != 1 || rep.Updated.CRM != 0 {
			t.Fatalf("a CRM update should make one app update:\n%v", rep)
		}
		e.agree()
		e.quiet()

		// A change to an unmapped CRM field is not a change to sync.
		e.crmUpdate(cramer.ID, e.c("Unmapped", "Director"))
		rep = e.run()
		if rep.Writes() != 0 {
			t.Fatalf("an unmapped field changed; nothing should be written:\n%v", rep)
		}
		// Clearing a field (nil) syncs as a clear.
		e.appModify(grace.ID, crm.Fields{"phone": nil})
		e.run()
		if got, ok := e.crmContacts()["grace@example.com"].Fields[e.n.Phone]; !ok || got != nil {
			t.Fatalf("the CRM phone should be cleared, got %v (present %v)", got, ok)
		}
		e.quiet()
	})
}

func TestMergeOfDifferentFields(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnvOn(t, b)
		seedOverlap(e)
		e.run()
		ada := e.appCustomers()["ada@example.com"]
		e.appModify(ada.ID, crm.Fields{"phone": "555-0001"})
		e.crmUpdate(e.crmContacts()["ada@example.com"].ID, e.c("Notes", "prefers email"))
		rep := e.run()
		if rep.Merged != 1 || rep.ConflictCount() != 0 || rep.Updated.App != 1 || rep.Updated.CRM != 1 {
			t.Fatalf("changes to different fields merge:\n%v", rep)
		}
		e.agree()
		e.quiet()
	})
}

// conflictOnAda syncs, then changes Ada's notes on both sides, the CRM
// crmDelay after the app.
func conflictOnAda(e *env, crmDelay time.Duration) {
	seedOverlap(e)
	e.run()
	e.appModify(e.appCustomers()["ada@example.com"].ID, crm.Fields{"notes": "APP"})
	e.clock.Advance(crmDelay)
	e.crmUpdate(e.crmContacts()["ada@example.com"].ID, e.c("Notes", "CRM"))
}

func TestConflicts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		notes := func(e *env) (string, string) {
			a, _ := e.appCustomers()["ada@example.com"].Fields["notes"].(string)
			c, _ := e.get("ada@example.com", "Notes").(string)
			return a, c
		}
		for _, tc := range []struct {
			name     string
			resolver conflict.Resolver
			delay    time.Duration
			want     string
			key      string
		}{
			{"newest wins: crm later", conflict.NewestWins(2*time.Second, conflict.App), time.Minute, "CRM", "newest-wins: crm"},
			{"newest wins: within skew goes to the tie side", conflict.NewestWins(2*time.Second, conflict.App), time.Second, "APP", "newest-wins: app"},
			{"source of truth app", conflict.SourceOfTruth(conflict.App), time.Minute, "APP", "source-of-truth: app"},
			{"per field", conflict.PerField(map[string]conflict.Resolver{"notes": conflict.SourceOfTruth(conflict.CRM)}, conflict.SourceOfTruth(conflict.App)), 0, "CRM", "per-field: crm"},
			{"host function", conflict.Func(func(_ context.Context, c *conflict.Conflict) (conflict.Decision, error) {
				return conflict.Decision{Winners: map[string]conflict.Side{"notes": conflict.App}, Resolver: "mine", Reason: "app knows best"}, nil
			}), time.Minute, "APP", "mine: app"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := newEnvOn(t, b, withPairing(func(p *syncengine.Pairing) { p.Resolver = tc.resolver }))
				conflictOnAda(e, tc.delay)
				rep := e.run()
				if rep.Conflicts[tc.key] != 1 {
					t.Fatalf("want one conflict %q:\n%v", tc.key, rep)
				}
				if a, c := notes(e); a != tc.want || c != tc.want {
					t.Fatalf("notes app %q crm %q, want both %q", a, c, tc.want)
				}
				ds, err := e.eng.Decisions(e.ctx, 0, 0)
				if err != nil || len(ds) != 1 {
					t.Fatalf("decision log: %v %v", ds, err)
				}
				d := ds[0]
				if d.Field != "notes" || d.Winner == "" || d.Reason == "" || d.AppValue != `"APP"` || d.CRMValue != `"CRM"` {
					t.Errorf("decision %+v should name the field, winner, reason and both values", d)
				}
				e.quiet()
			})
		}
	})
}

func TestDecisionLogMasksPersonalFields(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnvOn(t, b)
		seedOverlap(e)
		e.run()
		e.appModify(e.appCustomers()["ada@example.com"].ID, crm.Fields{"phone": "555-APP"})
		e.crmUpdate(e.crmContacts()["ada@example.com"].ID, e.c("Phone", "555-CRM"))
		if rep := e.run(); rep.ConflictCount() != 1 {
			t.Fatalf("want a conflict on phone:\n%v", rep)
		}
		ds, _ := e.eng.Decisions(e.ctx, 0, 0)
		if len(ds) != 1 || ds[0].Field != "phone" || ds[0].AppValue != `"[personal]"` || strings.Contains(ds[0].AppValue+ds[0].CRMValue, "555") {
			t.Fatalf("phone is personal; the log must not hold it: %+v", ds)
		}
	})
}

func TestParkAndRelease(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnvOn(t, b, withPairing(func(p *syncengine.Pairing) { p.Resolver = conflict.Park("a person decides phones") }))
		conflictOnAda(e, time.Minute)
		rep := e.run()
		if rep.Parked != 1 || rep.Writes() != 0 {
			t.Fatalf("the conflict should be parked and nothing written:\n%v", rep)
		}
		parked, err := e.eng.Parked(e.ctx)
		if err != nil || len(parked) != 1 || parked[0].Conflict == nil || len(parked[0].Conflict.Contested) != 1 || parked[0].Conflict.App.Fields["notes"] != "APP" {
			t.Fatalf("parked: %+v, %v", parked, err)
		}
		// While parked, further changes wait.
		e.crmUpdate(e.crmContacts()["ada@example.com"].ID, e.c("Unmapped", "x", "Phone", "555-WAIT"))
		if rep := e.run(); rep.Waiting != 1 || rep.Writes() != 0 {
			t.Fatalf("a parked record's changes wait:\n%v", rep)
		}
		if _, err := e.eng.Release(e.ctx, parked[0].ID, conflict.SourceOfTruth(conflict.App)); err != nil {
			t.Fatal(err)
		}
		if p, _ := e.eng.Parked(e.ctx); len(p) != 0 {
			t.Fatalf("still parked: %+v", p)
		}
		e.agree()
		if got := e.get("ada@example.com", "Notes"); got != "APP" {
			t.Fatalf("the release chose the app's notes, CRM has %v", got)
		}
		if got := e.appCustomers()["ada@example.com"].Fields["phone"]; got != "555-WAIT" {
			t.Fatalf("the change made while parked is merged on release, app phone = %v", got)
		}
		e.quiet()
	})
}

func TestAmbiguousMatchIsParked(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnvOn(t, b, withPairing(func(p *syncengine.Pairing) {
			p.Match = []syncengine.MatchRule{{App: "name", CRM: b.names().Name}}
			p.Direction = syncengine.AppToCRM
		}))
		e.crmCreate(e.c("Email", "s1@example.com", "Name", "Smith"))
		e.crmCreate(e.c("Email", "s2@example.com", "Name", "Smith"))
		e.appInsert(crm.Fields{"email": "s@example.com", "name": "smith"})
		rep := e.run()
		if rep.Parked != 1 || rep.Created.CRM != 0 || rep.Matched != 0 {
			t.Fatalf("two candidates: park, neither guess nor duplicate:\n%v", rep)
		}
		parked, _ := e.eng.Parked(e.ctx)
		if len(parked) != 1 || !strings.Contains(parked[0].Reason, "ambiguous match: 2") || parked[0].Conflict != nil {
			t.Fatalf("parked: %+v", parked)
		}
	})
}

// A record already linked is never matched again to a newcomer.
func TestLinkedRecordsAreNotMatchedAgain(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnvOn(t, b, withPairing(func(p *syncengine.Pairing) { p.Match = []syncengine.MatchRule{{App: "name", CRM: b.names().Name}} }))
		e.crmCreate(e.c("Email", "one@example.com", "Name", "Twin"))
		e.run()
		e.appInsert(crm.Fields{"email": "two@example.com", "name": "Twin"})
		rep := e.run()
		if rep.Matched != 0 || rep.Created.CRM != 1 {
			t.Fatalf("the newcomer is created, not matched to a linked record:\n%v", rep)
		}
	})
}

func TestDeletes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		t.Run("propagate both ways", func(t *testing.T) {
			e := newEnvOn(t, b)
			seedOverlap(e)
			e.run()
			e.app.Remove(e.appCustomers()["grace@example.com"].ID)
			rep := e.run()
			if rep.Deleted.CRM != 1 {
				t.Fatalf("an app delete reaches the CRM:\n%v", rep)
			}
			if _, ok := e.crmContacts()["grace@example.com"]; ok {
				t.Fatal("grace is still in the CRM")
			}
			e.crmDelete(e.crmContacts()["only.crm@example.com"].ID)
			rep = e.run()
			if rep.Deleted.App != 1 {
				t.Fatalf("a CRM delete (from its deleted-records feed) reaches the app:\n%v", rep)
			}
			e.agree()
			e.quiet()
		})
		t.Run("archive", func(t *testing.T) {
			e := newEnvOn(t, b, func(e *env) {
				e.p.OnAppDelete = syncengine.DeleteArchive
				e.p.ArchiveCRM = crm.Fields{e.n.Status: e.n.LostStatus}
			})
			seedOverlap(e)
			e.run()
			e.app.Remove(e.appCustomers()["grace@example.com"].ID)
			rep := e.run()
			if rep.Archived.CRM != 1 {
				t.Fatalf("want an archive:\n%v", rep)
			}
			if got := e.get("grace@example.com", "Status"); got != e.n.LostStatus {
				t.Fatalf("archived status = %v", got)
			}
			e.quiet()
		})
		t.Run("ignore", func(t *testing.T) {
			e := newEnvOn(t, b, withPairing(func(p *syncengine.Pairing) { p.OnCRMDelete = syncengine.DeleteIgnore }))
			seedOverlap(e)
			e.run()
			e.crmDelete(e.crmContacts()["grace@example.com"].ID)
			rep := e.run()
			if rep.Deleted.App != 0 {
				t.Fatalf("ignored deletes must not reach the app:\n%v", rep)
			}
			if _, ok := e.appCustomers()["grace@example.com"]; !ok {
				t.Fatal("grace was deleted from the app")
			}
		})
		t.Run("delete wins over update", func(t *testing.T) {
			e := newEnvOn(t, b)
			seedOverlap(e)
			e.run()
			e.app.Remove(e.appCustomers()["grace@example.com"].ID)
			e.crmUpdate(e.crmContacts()["grace@example.com"].ID, e.c("Notes", "late edit"))
			rep := e.run()
			if rep.Deleted.CRM != 1 || rep.Conflicts["delete-wins: app"] != 1 {
				t.Fatalf("the delete wins and is logged:\n%v", rep)
			}
			e.quiet()
		})
	})
}

// lossyEndpoint applies writes for real, then, while lose is positive,
// reports a timeout instead of the results: the response lost on the way
// back, as when a connection drops after the CRM committed.
type lossyEndpoint struct {
	syncengine.Endpoint
	lose atomic.Int32
}

func (l *lossyEndpoint) Apply(ctx context.Context, w []syncengine.Write) ([]syncengine.WriteResult, error) {
	res, err := l.Endpoint.Apply(ctx, w)
	if err == nil && l.lose.Add(-1) >= 0 {
		return nil, &crm.Error{Kind: crm.KindUnknown, Message: "timeout awaiting response headers"}
	}
	return res, err
}

func TestRetriedCreateMakesNoDuplicate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnvOn(t, b)
		lossy := &lossyEndpoint{Endpoint: e.crmEP}
		lossy.lose.Store(2)
		e.p.CRM = lossy
		e.rebuild()
		for i := range 5 {
			e.appInsert(crm.Fields{"email": strings.Repeat("x", i+1) + "@example.com", "name": "N"})
		}
		rep := e.run()
		if rep.Retried != 5*2 {
			t.Errorf("each create should have been retried twice:\n%v", rep)
		}
		if got := len(e.crmContacts()); got != 5 {
			t.Fatalf("CRM holds %d contacts after retried creates, want 5", got)
		}
		e.agree()
		e.quiet()
	})
}

// failingEndpoint fails the next n Apply calls with err.
type failingEndpoint struct {
	syncengine.Endpoint
	n   atomic.Int32
	err error
}

func (f *failingEndpoint) Apply(ctx context.Context, w []syncengine.Write) ([]syncengine.WriteResult, error) {
	if f.n.Add(-1) >= 0 {
		return nil, f.err
	}
	return f.Endpoint.Apply(ctx, w)
}

func TestTransientFailuresRetry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnvOn(t, b)
		fe := &failingEndpoint{Endpoint: e.crmEP, err: &crm.Error{Kind: crm.KindRateLimited, StatusCode: 429, RetryAfter: time.Millisecond}}
		fe.n.Store(3)
		e.p.CRM = fe
		e.rebuild()
		e.appInsert(crm.Fields{"email": "a@example.com", "name": "A"})
		rep := e.run()
		if rep.Retried != 3 || rep.Created.CRM != 1 || rep.DeadLettered != 0 {
			t.Fatalf("three 429s then success:\n%v", rep)
		}
	})
}

func TestRetriesExhaustedDeadLetter(t *testing.T) {
	e := newEnv(t, withEngineOptions(syncengine.WithMaxAttempts(3)))
	fe := &failingEndpoint{Endpoint: e.crmEP, err: &crm.Error{Kind: crm.KindUnavailable, StatusCode: 503}}
	fe.n.Store(100)
	e.p.CRM = fe
	e.rebuild()
	e.appInsert(crm.Fields{"email": "a@example.com", "name": "A"})
	rep := e.run()
	if rep.Retried != 2 || rep.DeadLettered != 1 {
		t.Fatalf("two retries, then a dead letter:\n%v", rep)
	}
	dead, err := e.eng.DeadLetters(e.ctx)
	if err != nil || len(dead) != 1 || !strings.Contains(dead[0].Error, "gave up after 3 attempts") {
		t.Fatalf("dead letters: %+v %v", dead, err)
	}
	// The outage ends; the replay lands.
	fe.n.Store(0)
	if _, err := e.eng.Replay(e.ctx, dead[0].ID); err != nil {
		t.Fatal(err)
	}
	if len(e.crmContacts()) != 1 {
		t.Fatal("the replayed create did not land")
	}
	e.quiet()
}

func TestUnauthorizedRefreshesOnce(t *testing.T) {
	var refreshes atomic.Int32
	e := newEnv(t, withEngineOptions(syncengine.WithRefresh(func(ctx context.Context, side syncengine.Side) error {
		refreshes.Add(1)
		return nil
	})))
	fe := &failingEndpoint{Endpoint: e.crmEP, err: &crm.Error{Kind: crm.KindUnauthorized, StatusCode: 401}}
	fe.n.Store(1)
	e.p.CRM = fe
	e.rebuild()
	e.appInsert(crm.Fields{"email": "a@example.com", "name": "A"})
	rep := e.run()
	if refreshes.Load() != 1 || rep.Created.CRM != 1 {
		t.Fatalf("refreshes %d:\n%v", refreshes.Load(), rep)
	}

	// Refused again after the refresh: the run fails and the write waits.
	fe.n.Store(2)
	e.appInsert(crm.Fields{"email": "b@example.com", "name": "B"})
	_, err := e.eng.RunOnce(e.ctx)
	if !errors.Is(err, crm.ErrUnauthorized) {
		t.Fatalf("err = %v, want unauthorized", err)
	}
	if dead, _ := e.eng.DeadLetters(e.ctx); len(dead) != 0 {
		t.Fatalf("an auth failure is not the record's fault; dead letters: %+v", dead)
	}
	e.run()
	if len(e.crmContacts()) != 2 {
		t.Fatal("the waiting write should land once the credentials work")
	}
}

func TestDeadLetterAndReplay(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnvOn(t, b)
		id := e.appInsert(crm.Fields{"email": "bad@example.com", "name": "Bad", "status": e.n.BadStatus, "phone": "555-0000"})
		e.appInsert(crm.Fields{"email": "good@example.com", "name": "Good"})
		rep := e.run()
		if rep.DeadLettered != 1 || rep.Created.CRM != 1 {
			t.Fatalf("the bad record fails alone:\n%v", rep)
		}
		dead, err := e.eng.DeadLetters(e.ctx)
		if err != nil || len(dead) != 1 {
			t.Fatalf("%+v %v", dead, err)
		}
		dl := dead[0]
		if dl.SourceID != id || dl.Target != syncengine.CRM || dl.ErrorKind != crm.KindValidation.String() || !strings.Contains(dl.Error, e.n.Status) {
			t.Fatalf("dead letter %+v should name the record, the side, the kind and the field", dl)
		}
		// A second run does not resend it.
		if rep := e.run(); rep.Writes() != 0 || rep.DeadLettered != 0 {
			t.Fatalf("a dead letter waits for a replay:\n%v", rep)
		}
		// Fix the source, replay: the current value goes, not the stale one.
		e.appModify(id, crm.Fields{"status": e.n.GoodStatus})
		if _, err := e.eng.Replay(e.ctx, dl.ID); err != nil {
			t.Fatal(err)
		}
		if got := e.crmContacts()["bad@example.com"]; got == nil || got.Fields[e.n.Status] != e.n.GoodStatus {
			t.Fatalf("replayed record: %v", got)
		}
		if dead, _ := e.eng.DeadLetters(e.ctx); len(dead) != 0 {
			t.Fatalf("the replayed letter is gone: %+v", dead)
		}
		e.agree()
		e.quiet()
	})
}

func TestMappingFailureIsDeadLettered(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnvOn(t, b)
		f, _ := e.client.Describe(e.ctx, e.n.Object)
		nameField, _ := f.Field(e.n.Name)
		if nameField.Length == 0 {
			t.Skipf("%s sets no length on %s, so no name is too long for it", b.name, e.n.Name)
		}
		e.appInsert(crm.Fields{"email": "long@example.com", "name": strings.Repeat("n", nameField.Length+1)})
		rep := e.run()
		if rep.DeadLettered != 1 || rep.Created.CRM != 0 {
			t.Fatalf("a name longer than the CRM holds fails in mapping:\n%v", rep)
		}
		dead, _ := e.eng.DeadLetters(e.ctx)
		if len(dead) != 1 || !strings.Contains(dead[0].Error, "mapping") || !strings.Contains(dead[0].Error, "name") {
			t.Fatalf("dead: %+v", dead)
		}
		if err := e.eng.Discard(e.ctx, dead[0].ID); err != nil {
			t.Fatal(err)
		}
		if dead, _ := e.eng.DeadLetters(e.ctx); len(dead) != 0 {
			t.Fatal("discarded letter still listed")
		}
	})
}

func TestOneWay(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnvOn(t, b, withPairing(func(p *syncengine.Pairing) { p.Direction = syncengine.AppToCRM }))
		seedOverlap(e)
		rep := e.run()
		// The CRM's feed is not read, but its records are still found by
		// natural key, so no duplicate is made.
		if rep.Read.CRM != 0 || rep.Created.App != 0 || rep.Matched != 2 || rep.Created.CRM != 1 || len(e.crmContacts()) != 4 {
			t.Fatalf("app to CRM only:\n%v", rep)
		}
	})
}

func TestLeaseKeepsRunsApart(t *testing.T) {
	e := newEnv(t)
	ok, err := e.store.AcquireLease(e.ctx, "customers", "someone-else", time.Minute)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, err := e.eng.RunOnce(e.ctx); !errors.Is(err, syncengine.ErrLeaseHeld) {
		t.Fatalf("err = %v, want ErrLeaseHeld", err)
	}
}

func TestProgressCallback(t *testing.T) {
	var calls int
	var last syncengine.Report
	e := newEnv(t, withEngineOptions(syncengine.WithProgress(func(r syncengine.Report) { calls++; last = r })))
	seedOverlap(e)
	e.run()
	if calls < 2 || last.Matched != 2 || last.Finished.IsZero() {
		t.Fatalf("progress calls %d, last %+v", calls, last)
	}
}
