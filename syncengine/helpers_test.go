package syncengine_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/memcrm"
	"github.com/crmkit/crmkit/mapping"
	"github.com/crmkit/crmkit/syncengine"
	"github.com/crmkit/crmkit/syncengine/memtable"
	"github.com/crmkit/crmkit/syncengine/store/memory"
)

// clock is a settable clock shared by both sides and the engine, so that
// "newest wins" tests decide by times the test chose.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond) // every reading moves on, as real time does
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// crmNames are a CRM's names for the fields the scenarios use.
type crmNames struct {
	Object, Email, Name, Phone, Status, Notes, Unmapped, External string
	// GoodStatus and LostStatus are values the status field takes;
	// BadStatus one it refuses.
	GoodStatus, LostStatus, BadStatus string
}

// backend is a CRM the scenarios run against.
type backend struct {
	name string
	// open starts the CRM for one test, on the test's clock, and returns a
	// client, the object's schema and the field names.
	open func(t testing.TB, clk *clock) (*crm.Client, *crm.Schema, crmNames)
	// endpointOptions are extra options for the CRM endpoint.
	endpointOptions []syncengine.CRMOption
	// fieldNames are the names open returns.
	fieldNames crmNames
}

var memcrmBackend = backend{name: "memcrm", open: func(t testing.TB, clk *clock) (*crm.Client, *crm.Schema, crmNames) {
	drv, err := memcrm.New(memcrm.WithClock(clk.Now), memcrm.WithMaxBatchSize(50))
	if err != nil {
		t.Fatal(err)
	}
	client, err := crm.NewClient(drv)
	if err != nil {
		t.Fatal(err)
	}
	return client, memcrm.ContactSchema(), memcrmNames
}, fieldNames: memcrmNames}

var memcrmNames = crmNames{Object: "Contact", Email: "Email", Name: "LastName", Phone: "Phone",
	Status: "Status", Notes: "Description", Unmapped: "Title", External: "ExternalId",
	GoodStatus: "Customer", LostStatus: "Lost", BadStatus: "Platinum"}

// forEachBackend runs a scenario against every CRM that has landed.
func forEachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

// customerMap pairs the application's customers with the CRM's contacts.
func customerMap(t testing.TB, n crmNames, schema *crm.Schema) *mapping.Map {
	t.Helper()
	m, err := buildCustomerMap(n, schema)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func buildCustomerMap(n crmNames, schema *crm.Schema) (*mapping.Map, error) {
	// The application's columns are as long as the CRM's fields (0: no
	// limit), as a team would size them.
	var missing []string
	length := func(name string) int {
		if f, ok := schema.Field(name); ok {
			return f.Length
		}
		missing = append(missing, name)
		return 0
	}
	app := mapping.AppSchema{Object: "customer", Fields: []mapping.AppField{
		{Name: "email", Kind: crm.ValueString, Length: length(n.Email), Personal: true},
		{Name: "name", Kind: crm.ValueString, Length: length(n.Name)},
		{Name: "phone", Kind: crm.ValueString, Length: length(n.Phone), Personal: true},
		{Name: "status", Kind: crm.ValueString},
		{Name: "notes", Kind: crm.ValueString},
	}}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the %s schema has no fields %v", schema.Object, missing)
	}
	return mapping.New(mapping.ObjectMap{
		Name:      "customers",
		App:       app,
		CRMObject: n.Object,
		Rules: []mapping.Rule{
			{App: "email", CRM: n.Email},
			{App: "name", CRM: n.Name},
			{App: "phone", CRM: n.Phone},
			{App: "status", CRM: n.Status},
			{App: "notes", CRM: n.Notes},
		},
	}, schema)
}

// env is one pairing over an in-memory application table, the in-memory
// CRM and the in-memory store.
type env struct {
	t      testing.TB
	ctx    context.Context
	clock  *clock
	app    *memtable.Table
	n      crmNames
	client *crm.Client
	crmEP  *syncengine.CRMEndpoint
	store  syncengine.Store
	m      *mapping.Map
	p      syncengine.Pairing
	eng    *syncengine.Engine
	opts   []syncengine.Option
}

type envOption func(*env)

func withPairing(fn func(*syncengine.Pairing)) envOption {
	return func(e *env) { fn(&e.p) }
}

func withEngineOptions(o ...syncengine.Option) envOption {
	return func(e *env) { e.opts = append(e.opts, o...) }
}

func newEnv(t testing.TB, opts ...envOption) *env { return newEnvOn(t, memcrmBackend, opts...) }

func newEnvOn(t testing.TB, b backend, opts ...envOption) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), clock: newClock()}
	e.app = memtable.New(memtable.WithClock(e.clock.Now))
	var schema *crm.Schema
	e.client, schema, e.n = b.open(t, e.clock)
	e.m = customerMap(t, e.n, schema)
	var err error
	epOpts := append([]syncengine.CRMOption{syncengine.WithCRMFields(e.m.CRMFields()...)}, b.endpointOptions...)
	if e.crmEP, err = syncengine.NewCRMEndpoint(e.client, e.n.Object, e.n.External, epOpts...); err != nil {
		t.Fatal(err)
	}
	e.store = memory.New()
	e.p = syncengine.Pairing{Map: e.m, App: e.app, CRM: e.crmEP,
		Match: []syncengine.MatchRule{{App: "email", CRM: e.n.Email}}}
	e.opts = []syncengine.Option{
		syncengine.WithClock(e.clock.Now),
		syncengine.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		syncengine.WithBackoff(func(int) time.Duration { return time.Millisecond }),
	}
	for _, o := range opts {
		o(e)
	}
	e.rebuild()
	return e
}

func (e *env) rebuild() {
	e.t.Helper()
	eng, err := syncengine.New(e.store, e.p, e.opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.eng = eng
}

func (e *env) run() *syncengine.Report {
	e.t.Helper()
	rep, err := e.eng.RunOnce(e.ctx)
	if err != nil {
		e.t.Fatalf("run: %v\nreport: %v", err, rep)
	}
	return rep
}

// quiet runs once more and fails unless the run wrote nothing.
func (e *env) quiet() {
	e.t.Helper()
	rep := e.run()
	if rep.Writes() != 0 || rep.DeadLettered != 0 {
		e.t.Fatalf("the pair should be at a fixed point, but the run wrote:\n%v", rep)
	}
}

func (e *env) appInsert(f crm.Fields) string {
	e.t.Helper()
	id, err := e.app.Insert(f)
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *env) appModify(id string, f crm.Fields) {
	e.t.Helper()
	if err := e.app.Modify(id, f); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) crmCreate(f crm.Fields) string {
	e.t.Helper()
	id, err := e.client.Create(e.ctx, e.n.Object, f)
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *env) crmDelete(id string) {
	e.t.Helper()
	if err := e.client.Delete(e.ctx, e.n.Object, id); err != nil {
		e.t.Fatal(err)
	}
}

// c builds CRM fields from the scenario's names: c("Email", v, ...) with
// the keys Email, Name, Phone, Status, Notes, Unmapped.
func (e *env) c(kv ...any) crm.Fields {
	f := crm.Fields{}
	for i := 0; i+1 < len(kv); i += 2 {
		f[e.name(kv[i].(string))] = kv[i+1]
	}
	return f
}

// name maps a scenario's field key to the CRM's name.
func (e *env) name(k string) string {
	switch k {
	case "Email":
		return e.n.Email
	case "Name":
		return e.n.Name
	case "Phone":
		return e.n.Phone
	case "Status":
		return e.n.Status
	case "Notes":
		return e.n.Notes
	case "Unmapped":
		return e.n.Unmapped
	case "External":
		return e.n.External
	}
	panic("unknown scenario field " + k)
}

// get reads one field of a CRM contact found by email.
func (e *env) get(email, k string) any {
	e.t.Helper()
	r := e.crmContacts()[email]
	if r == nil {
		e.t.Fatalf("no CRM contact %s", email)
	}
	return r.Fields[e.name(k)]
}

func (e *env) crmUpdate(id string, f crm.Fields) {
	e.t.Helper()
	if err := e.client.Update(e.ctx, e.n.Object, id, f); err != nil {
		e.t.Fatal(err)
	}
}

// crmContacts returns every live contact, by email.
func (e *env) crmContacts() map[string]*crm.Record {
	e.t.Helper()
	out := map[string]*crm.Record{}
	for r, err := range e.client.Query(e.ctx, crm.Query{Object: e.n.Object}) {
		if err != nil {
			e.t.Fatal(err)
		}
		email, _ := r.Fields[e.n.Email].(string)
		if _, dup := out[email]; dup {
			e.t.Fatalf("two CRM contacts with email %q", email)
		}
		out[email] = r
	}
	return out
}

// appCustomers returns every live customer, by email.
func (e *env) appCustomers() map[string]*syncengine.Record {
	e.t.Helper()
	out := map[string]*syncengine.Record{}
	for _, r := range e.app.Records() {
		if r.Deleted {
			continue
		}
		email, _ := r.Fields["email"].(string)
		if _, dup := out[email]; dup {
			e.t.Fatalf("two app customers with email %q", email)
		}
		out[email] = r
	}
	return out
}

// agree fails unless both sides hold the same people with the same values.
func (e *env) agree() {
	e.t.Helper()
	apps, crms := e.appCustomers(), e.crmContacts()
	var a, c []string
	for k := range apps {
		a = append(a, k)
	}
	for k := range crms {
		c = append(c, k)
	}
	sort.Strings(a)
	sort.Strings(c)
	if fmt.Sprint(a) != fmt.Sprint(c) {
		e.t.Fatalf("the sides hold different people:\napp %v\ncrm %v", a, c)
	}
	for email, ar := range apps {
		cr := crms[email]
		for appF, crmF := range map[string]string{"name": e.n.Name, "phone": e.n.Phone, "status": e.n.Status, "notes": e.n.Notes} {
			if !crm.EqualValues(ar.Fields[appF], cr.Fields[crmF]) {
				e.t.Errorf("%s: app %s=%v, crm %s=%v", email, appF, ar.Fields[appF], crmF, cr.Fields[crmF])
			}
		}
	}
}

// names returns the backend's field names without opening it.
func (b backend) names() crmNames { return b.fieldNames }
