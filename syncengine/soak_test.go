package syncengine_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crmkit/crmkit/adapters/salesforce"
	"github.com/crmkit/crmkit/adapters/salesforce/salesforcetest"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/retry"
	"github.com/crmkit/crmkit/syncengine"
	"github.com/crmkit/crmkit/syncengine/conflict"
	"github.com/crmkit/crmkit/syncengine/memtable"
	"github.com/crmkit/crmkit/syncengine/store/sqlite"
)

// The acceptance test: with 20% of the org's responses failing
// (429s, 500s, 503s, connection resets, timeouts, and failures that strike
// after the org did the work), a 5,000-record bidirectional sync converges
// to the expected state, with nothing lost or duplicated, and reaches a
// fixed point. Then both sides change (edits, merges, conflicts, cleared
// fields, deletes) and the sync converges again under the same faults.
func TestSoakFaultyBidirectionalSync(t *testing.T) {
	perSide, overlap := 2500, 500
	if testing.Short() {
		perSide, overlap = 250, 50
	}
	s := newSoak(t)
	started := time.Now()

	// Phase 1: the initial load.
	appPeople, crmPeople, want := soakPopulation(perSide, overlap)
	for _, p := range appPeople {
		if _, err := s.app.Insert(p.appFields()); err != nil {
			t.Fatal(err)
		}
	}
	seed := make([]crm.Fields, len(crmPeople))
	for i, p := range crmPeople {
		seed[i] = p.crmFields()
	}
	if _, err := s.org.Seed("Contact", seed...); err != nil {
		t.Fatal(err)
	}
	if conflicts, _ := s.converge("initial load"); conflicts < overlap/5*3 {
		t.Errorf("the load resolved %d conflicts; the people on both sides differ in %d places", conflicts, overlap/5*3)
	}
	s.check(want)

	// Phase 2: both sides change, with the faults off (they are the host's
	// and the sales team's own writes), and the sync runs under faults again.
	s.change(want)
	conflicts, merged := s.converge("changes on both sides")
	if conflicts < overlap/5 || merged < overlap/5 {
		t.Errorf("the changes made %d conflicts and %d merges; want %d of each", conflicts, merged, overlap/5)
	}
	s.check(want)

	t.Logf("%d people at the start (%d in the application, %d in the org, %d in both), %d at the end; %s in all",
		2*perSide-overlap, perSide, perSide, overlap, len(want), time.Since(started).Round(time.Millisecond))
	// The soak is only worth something if every kind of fault struck (the
	// short soak makes too few calls for that). The org's log misses a
	// timeout that strikes before the work on a request with a body; the
	// client counts every timeout.
	if testing.Short() {
		return
	}
	if s.timeouts <= s.faults["timeout after work"] {
		t.Errorf("the client saw %d timeouts, %d of them after the work: no request timed out before the org did its work",
			s.timeouts, s.faults["timeout after work"])
	}
	for _, f := range []string{"timeout after work", "status 429", "status 500", "status 503", "reset",
		"status 500 after work", "reset after work"} {
		if s.faults[f] == 0 {
			t.Errorf("no request was broken with %q: the soak did not exercise it", f)
		}
	}
}

// soak is the soak's world: an emulated org behind a driver with a request
// timeout, an application table in memory, and an engine with its state in
// a SQLite file.
type soak struct {
	t      *testing.T
	ctx    context.Context
	org    *salesforcetest.Server
	client *countingTransport
	crm    *crm.Client
	app    *memtable.Table
	eng    *syncengine.Engine
	fields []string // the CRM fields read back, the sync key included

	faults   map[string]int // faults the org logged, by kind, over every phase
	timeouts int            // timeouts the client saw, over every phase
}

// soakRequestTimeout ends a request the org never answers. The driver uses
// only the Transport of an http.Client (salesforce.WithHTTPClient), so it is
// the transport's ResponseHeaderTimeout: a network timeout, which the
// transport retries. The org answers every other request in well under
// 100ms, even with -race.
const soakRequestTimeout = time.Second

func newSoak(t *testing.T) *soak {
	ctx := context.Background()
	s := &soak{t: t, ctx: ctx, faults: map[string]int{}}
	s.org = salesforceOrg(t, nil, salesforcetest.WithLogSize(100000), salesforcetest.WithFaultSeed(20261127))
	tr := s.org.Client().Transport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = soakRequestTimeout
	s.client = &countingTransport{base: tr}
	s.crm = salesforceClient(t, s.org,
		salesforce.WithTransport(s.client),
		// The transport's own retries wait milliseconds, so that the soak's
		// time goes to work rather than to sleep.
		salesforce.WithRetry(retry.New(retry.WithBackoff(2*time.Millisecond, 20*time.Millisecond), retry.WithMaxAttempts(6))))
	schema, err := s.crm.Describe(ctx, "Contact")
	if err != nil {
		t.Fatal(err)
	}
	n := salesforceNames
	m := customerMap(t, n, schema)
	s.fields = append(m.CRMFields(), n.External)
	s.app = memtable.New()
	// Feed pages of 200 and write batches of 25 (crmBatches) make the load
	// take a few hundred calls, so that 20% of them failing is dozens of
	// faults.
	crmEP, err := syncengine.NewCRMEndpoint(s.crm, n.Object, n.External,
		syncengine.WithCRMFields(m.CRMFields()...), syncengine.WithCRMPageSize(200))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sync.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s.eng, err = syncengine.New(st, syncengine.Pairing{
		Map: m, App: s.app, CRM: crmBatches{crmEP},
		Match:    []syncengine.MatchRule{{App: "email", CRM: n.Email}},
		Resolver: conflict.SourceOfTruth(conflict.CRM),
	},
		syncengine.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		syncengine.WithBackoff(func(n int) time.Duration { return time.Duration(n) * 5 * time.Millisecond }),
		syncengine.WithMaxAttempts(25),
	)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// injectFaults breaks 20% of the org's answers, and a few more: timeouts
// and 429s asking for a second's pause cost real time, so there are few of
// them (a bounded number); the 20% is a mix of cheap failures, a third of
// which strike after the org did the work. The first upsert and update
// batches land and their answers are lost (their retries must not make
// duplicates), and some records of successful Collections calls fail alone,
// as under row-lock contention.
func (s *soak) injectFaults() {
	org := s.org
	org.InjectRule(salesforcetest.FaultRule{Route: "collections.upsert", Times: 1,
		Faults: []salesforcetest.Fault{salesforcetest.Timeout().AfterWork()}})
	org.InjectRule(salesforcetest.FaultRule{Route: "collections.update", Times: 1,
		Faults: []salesforcetest.Fault{salesforcetest.ConnectionReset().AfterWork()}})
	org.InjectRule(salesforcetest.FaultRule{Probability: 0.05, Times: 1,
		Faults: []salesforcetest.Fault{salesforcetest.Timeout()}})
	org.InjectRule(salesforcetest.FaultRule{Probability: 0.05, Times: 1,
		Faults: []salesforcetest.Fault{gatewayTooManyRequests(time.Second)}})
	org.InjectRandom("", 0.20,
		gatewayTooManyRequests(0),
		salesforcetest.ServerError(),
		salesforcetest.Unavailable(),
		salesforcetest.ConnectionReset(),
		salesforcetest.ServerError().AfterWork(),
		salesforcetest.ConnectionReset().AfterWork(),
	)
	org.InjectRecordFault(salesforcetest.RecordFault{Every: 41})
}

// converge syncs under faults until a run writes nothing and leaves nothing
// pending, then, with the faults cleared, checks that the pair is at a
// fixed point and that nothing was given up on. It returns the conflicts
// and merges the runs reported (a failed run's are counted again when the
// next one redoes its plan).
func (s *soak) converge(phase string) (conflicts, merged int) {
	t := s.t
	t.Helper()
	s.org.ResetLog()
	s.client.reset()
	s.injectFaults()
	started := time.Now()

	var (
		runs, failed, retried, dead int
		calls                       syncengine.Counts
		last                        *syncengine.Report
		converged                   bool
	)
	for runs < 50 {
		rep, err := s.eng.RunOnce(s.ctx)
		runs++
		retried += rep.Retried
		dead += rep.DeadLettered
		calls.App += rep.Calls.App
		calls.CRM += rep.Calls.CRM
		conflicts += rep.ConflictCount()
		merged += rep.Merged
		last = rep
		if err != nil {
			// A feed read or a lookup that failed beyond the transport's
			// retries ends the run; the next goes on from the store.
			failed++
			t.Logf("%s: run %d failed (the next goes on): %v", phase, runs, err)
			continue
		}
		if rep.Writes() == 0 && rep.Pending == 0 {
			converged = true
			break
		}
	}
	if !converged {
		t.Fatalf("%s: no quiet run after %d runs; the last:\n%v", phase, runs, last)
	}
	took := time.Since(started)

	broken := 0
	kinds := map[string]int{}
	var slowest time.Duration
	for _, r := range s.org.Requests() {
		if r.Fault != "" {
			broken++
			kinds[r.Fault]++
			s.faults[r.Fault]++
		} else {
			slowest = max(slowest, r.Duration)
		}
	}
	served := s.org.Total()
	sent, failedReqs, timeouts := s.client.sent.Load(), s.client.failed.Load(), s.client.timeouts.Load()
	s.timeouts += int(timeouts)

	// With the faults gone, the pair is at a fixed point.
	s.org.ClearFaults()
	rep, err := s.eng.RunOnce(s.ctx)
	if err != nil {
		t.Fatalf("%s: the run without faults failed: %v", phase, err)
	}
	if rep.Writes() != 0 || rep.Pending != 0 || rep.DeadLettered != 0 {
		t.Fatalf("%s: the run without faults should write nothing:\n%v", phase, rep)
	}
	letters, err := s.eng.DeadLetters(s.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(letters) > 0 {
		for _, d := range letters {
			t.Logf("%s: dead letter %d: to the %s, %v of %s: %s", phase, d.ID, d.Target, d.Op, d.SourceID, d.Error)
			if _, err := s.eng.Replay(s.ctx, d.ID); err != nil {
				t.Fatalf("replaying dead letter %d: %v", d.ID, err)
			}
		}
		t.Errorf("%s: %d writes were dead-lettered under transient faults (replayed)", phase, len(letters))
		if letters, err = s.eng.DeadLetters(s.ctx); err != nil || len(letters) > 0 {
			t.Fatalf("%s: %d dead letters after the replay (%v)", phase, len(letters), err)
		}
	}

	t.Logf("%s: converged in %d runs (%d failed) and %s", phase, runs, failed, took.Round(time.Millisecond))
	t.Logf("%s: the org served %d requests, %d of them broken (%.1f%%): %v; the slowest unbroken one took %s",
		phase, served, broken, 100*float64(broken)/float64(max(served, 1)), kinds, slowest.Round(time.Millisecond))
	t.Logf("%s: the client sent %d requests, %d got no answer (%d timed out); the engine made %d CRM calls, retried %d writes, dead-lettered %d",
		phase, sent, failedReqs, timeouts, calls.CRM, retried, dead)
	return conflicts, merged
}

// state reads both sides, by lower-cased email, failing if either holds a
// person twice.
func (s *soak) state() (app map[string]*syncengine.Record, org map[string]*crm.Record) {
	t := s.t
	t.Helper()
	app = map[string]*syncengine.Record{}
	for _, r := range s.app.Records() {
		email, _ := r.Fields["email"].(string)
		k := strings.ToLower(email)
		if prev := app[k]; prev != nil {
			t.Fatalf("the application holds %s twice: %s and %s", k, prev.ID, r.ID)
		}
		app[k] = r
	}
	org = map[string]*crm.Record{}
	for r, err := range s.crm.Query(s.ctx, crm.Query{Object: "Contact", Fields: s.fields}) {
		if err != nil {
			t.Fatal(err)
		}
		email, _ := r.Fields["Email"].(string)
		k := strings.ToLower(email)
		if prev := org[k]; prev != nil {
			t.Fatalf("the org holds %s twice: %s and %s", k, prev.ID, r.ID)
		}
		org[k] = r
	}
	return app, org
}

// check fails unless both sides hold exactly the people of want, once
// each, with want's values, and every contact the engine created carries
// its application record's id as the sync key.
func (s *soak) check(want map[string]soakPerson) {
	t := s.t
	t.Helper()
	app, org := s.state()
	if len(app) != len(want) || len(org) != len(want) {
		t.Errorf("want %d people on each side; the application holds %d, the org %d", len(want), len(app), len(org))
	}
	var wrong []string
	for k, p := range want {
		a, c := app[k], org[k]
		if a == nil || c == nil {
			wrong = append(wrong, fmt.Sprintf("%s missing (in the application %t, in the org %t)", k, a != nil, c != nil))
			continue
		}
		for f, v := range p.fields() {
			if !crm.EqualValues(a.Fields[f], v) || !crm.EqualValues(c.Fields[soakCRMName[f]], v) {
				wrong = append(wrong, fmt.Sprintf("%s: %s should be %v; the application holds %v, the org %v", k, f, v, a.Fields[f], c.Fields[soakCRMName[f]]))
			}
		}
	}
	for k := range app {
		if _, ok := want[k]; !ok {
			wrong = append(wrong, k+" should not be in the application")
		}
	}
	for k := range org {
		if _, ok := want[k]; !ok {
			wrong = append(wrong, k+" should not be in the org")
		}
	}
	wantKeyed, keyed := 0, 0
	for _, p := range want {
		if p.origin == "app" {
			wantKeyed++
		}
	}
	for k, c := range org {
		key, _ := c.Fields["App_Id__c"].(string)
		if key == "" {
			continue
		}
		keyed++
		if a := app[k]; a == nil || a.ID != key {
			wrong = append(wrong, fmt.Sprintf("contact %s (%s) carries the sync key %q, which is not its application record", c.ID, k, key))
		}
	}
	if keyed != wantKeyed {
		wrong = append(wrong, fmt.Sprintf("%d contacts carry a sync key, want %d (those created from the application)", keyed, wantKeyed))
	}
	sort.Strings(wrong)
	for i, w := range wrong {
		if i == 10 {
			t.Errorf("... %d wrong in all", len(wrong))
			break
		}
		t.Error(w)
	}
	if len(wrong) > 0 {
		t.FailNow()
	}
}

// change edits both sides as their users would, and updates want with what
// the sync must make of it (the CRM is the source of truth):
//
//   - app-only people: a tenth renamed with a new status in the
//     application, a tenth deleted there, a tenth with the phone cleared;
//   - CRM-only people: a tenth with a new phone and notes in the org, a
//     tenth deleted there;
//   - people on both sides from the start: a fifth renamed in the
//     application while the org changes their phone (merged), a fifth with
//     different notes on each side (a conflict the CRM wins).
func (s *soak) change(want map[string]soakPerson) {
	t := s.t
	t.Helper()
	app, org := s.state()
	var crmWrites []crm.Write
	for k, p := range want {
		a, c := app[k], org[k]
		switch {
		case p.origin == "app" && p.idx%10 == 1:
			p.name, p.status = p.name+" renamed", "Lost"
			if err := s.app.Modify(a.ID, crm.Fields{"name": p.name, "status": p.status}); err != nil {
				t.Fatal(err)
			}
		case p.origin == "app" && p.idx%10 == 2:
			s.app.Remove(a.ID)
			delete(want, k)
			continue
		case p.origin == "app" && p.idx%10 == 4: // even: it has a phone
			p.phone = ""
			if err := s.app.Modify(a.ID, crm.Fields{"phone": nil}); err != nil {
				t.Fatal(err)
			}
		case p.origin == "crm" && p.idx%10 == 1:
			p.phone, p.notes = fmt.Sprintf("+1 555 04%05d", p.idx), "edited in the org"
			crmWrites = append(crmWrites, crm.Write{Op: crm.OpUpdate, ID: c.ID, Fields: crm.Fields{"Phone": p.phone, "Description": p.notes}})
		case p.origin == "crm" && p.idx%10 == 2:
			crmWrites = append(crmWrites, crm.Write{Op: crm.OpDelete, ID: c.ID})
			delete(want, k)
			continue
		case p.origin == "both" && p.idx%5 == 0:
			p.name, p.phone = p.name+" renamed", fmt.Sprintf("+1 555 05%05d", p.idx)
			if err := s.app.Modify(a.ID, crm.Fields{"name": p.name}); err != nil {
				t.Fatal(err)
			}
			crmWrites = append(crmWrites, crm.Write{Op: crm.OpUpdate, ID: c.ID, Fields: crm.Fields{"Phone": p.phone}})
		case p.origin == "both" && p.idx%5 == 1:
			p.notes = "the org's notes"
			if err := s.app.Modify(a.ID, crm.Fields{"notes": "the application's notes"}); err != nil {
				t.Fatal(err)
			}
			crmWrites = append(crmWrites, crm.Write{Op: crm.OpUpdate, ID: c.ID, Fields: crm.Fields{"Description": p.notes}})
		default:
			continue
		}
		want[k] = p
	}
	res, err := s.crm.Write(s.ctx, "Contact", crmWrites, crm.WithBulk(crm.BulkNever))
	if err == nil {
		err = res.Err()
	}
	if err != nil {
		t.Fatalf("changing the org: %v", err)
	}
}

// soakPerson is one person of the soak's population, with the values both
// sides must hold for it once the sync has converged, in application terms.
type soakPerson struct {
	origin                            string // "app", "crm" or "both": where it was at the start
	idx                               int    // its number within its origin
	email, name, phone, status, notes string // "" is null
}

func (p soakPerson) fields() map[string]any {
	f := map[string]any{}
	for k, v := range map[string]string{"email": p.email, "name": p.name, "phone": p.phone, "status": p.status, "notes": p.notes} {
		if v != "" {
			f[k] = v
		} else {
			f[k] = nil
		}
	}
	return f
}

// appFields and crmFields are what the host and the org start with; nulls
// are left out.
func (p soakPerson) appFields() crm.Fields {
	f := crm.Fields{}
	for k, v := range p.fields() {
		if v != nil {
			f[k] = v
		}
	}
	return f
}

func (p soakPerson) crmFields() crm.Fields {
	f := crm.Fields{}
	for k, v := range p.fields() {
		if v != nil {
			f[soakCRMName[k]] = v
		}
	}
	return f
}

var soakCRMName = map[string]string{"email": "Email", "name": "LastName", "phone": "Phone", "status": "Status__c", "notes": "Description"}

var soakStatuses = []string{"New", "Customer", "Lost"}

// soakPopulation builds perSide application customers and perSide CRM
// contacts, overlap of them the same people (by email), and the state both
// sides must reach, by lower-cased email. The resolver is
// SourceOfTruth(CRM), so on first contact a field both sides fill with
// different values takes the CRM's, and a field only one side fills is
// filled on the other.
func soakPopulation(perSide, overlap int) (app, org []soakPerson, want map[string]soakPerson) {
	want = map[string]soakPerson{}
	for i := range perSide - overlap {
		p := soakPerson{origin: "app", idx: i, email: fmt.Sprintf("app-%05d@example.com", i), name: fmt.Sprintf("App %d", i),
			status: soakStatuses[i%3]}
		if i%2 == 0 {
			p.phone = fmt.Sprintf("+1 555 01%05d", i)
		}
		if i%7 == 0 {
			p.notes = fmt.Sprintf("app note %d", i)
		}
		app = append(app, p)
		want[p.email] = p
	}
	for i := range perSide - overlap {
		p := soakPerson{origin: "crm", idx: i, email: fmt.Sprintf("crm-%05d@example.com", i), name: fmt.Sprintf("Crm %d", i),
			status: soakStatuses[(i+1)%3]}
		if i%3 == 0 {
			p.phone = fmt.Sprintf("+1 555 02%05d", i)
		}
		if i%5 == 0 {
			p.notes = fmt.Sprintf("crm note %d", i)
		}
		org = append(org, p)
		want[p.email] = p
	}
	for i := range overlap {
		email := fmt.Sprintf("both-%05d@example.com", i)
		a := soakPerson{origin: "both", idx: i, email: email, name: fmt.Sprintf("Both %d", i), status: "New"}
		c, w := a, a
		switch i % 5 {
		case 0: // the same values on both sides
			a.phone, c.phone, w.phone = "+1 555 0300000", "+1 555 0300000", "+1 555 0300000"
		case 1: // the name differs: the CRM's wins
			a.name, c.name, w.name = fmt.Sprintf("Both App %d", i), fmt.Sprintf("Both Crm %d", i), fmt.Sprintf("Both Crm %d", i)
		case 2: // only the application has a phone: it fills the CRM's
			a.phone, w.phone = fmt.Sprintf("+1 555 03%05d", i), fmt.Sprintf("+1 555 03%05d", i)
		case 3: // the status differs (the CRM's wins); only the app has notes
			c.status, w.status = "Customer", "Customer"
			a.notes, w.notes = "app side note", "app side note"
		case 4: // the org spells the email in capitals (the match ignores
			// case, and the CRM's spelling wins), and has notes and
			// another name
			c.email, w.email = strings.ToUpper(email), strings.ToUpper(email)
			c.notes, w.notes = "crm side note", "crm side note"
			c.name, w.name = fmt.Sprintf("Both Crm %d", i), fmt.Sprintf("Both Crm %d", i)
		}
		app = append(app, a)
		org = append(org, c)
		want[email] = w
	}
	return app, org, want
}

// gatewayTooManyRequests is a 429 with a Retry-After as a gateway in front
// of the org sends it, with a body of its own. (The emulator's
// TooManyRequests carries Salesforce's REQUEST_LIMIT_EXCEEDED code, which
// the adapter reads as the daily allocation spent: never worth a retry.)
func gatewayTooManyRequests(retryAfter time.Duration) salesforcetest.Fault {
	f := salesforcetest.TooManyRequests(retryAfter)
	f.Header = http.Header{"Content-Type": {"text/plain"}, "Retry-After": f.Header.Values("Retry-After")}
	f.Body = []byte("Too Many Requests")
	return f
}

// countingTransport counts the requests the driver sent and those that got
// no answer, as the client saw them.
type countingTransport struct {
	base                   http.RoundTripper
	sent, failed, timeouts atomic.Int64
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.sent.Add(1)
	resp, err := c.base.RoundTrip(req)
	if err != nil {
		c.failed.Add(1)
		if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
			c.timeouts.Add(1)
		}
	}
	return resp, err
}

func (c *countingTransport) reset() {
	c.sent.Store(0)
	c.failed.Store(0)
	c.timeouts.Store(0)
}

// crmBatches sends the CRM writes in batches of 25 rather than Salesforce's
// 200. (syncengine.WithBatchSize would shrink the application's batches
// too, and with them every store commit.)
type crmBatches struct{ *syncengine.CRMEndpoint }

func (crmBatches) BatchSize() int { return 25 }
