package endpointtest_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/syncengine"
	"github.com/crmkit/crmkit/syncengine/endpointtest"
	"github.com/crmkit/crmkit/syncengine/memtable"
)

func newTarget(ep func(*memtable.Table) syncengine.Endpoint) func(t *testing.T) endpointtest.Target {
	return func(t *testing.T) endpointtest.Target {
		tb := memtable.New(memtable.WithFields(map[string]crm.ValueKind{"name": crm.ValueString, "email": crm.ValueString}), memtable.WithPageSize(2))
		return endpointtest.Target{
			Endpoint:   ep(tb),
			TextField:  "name",
			OtherField: "email",
			Insert: func(t *testing.T, f crm.Fields) string {
				id, err := tb.Insert(f)
				if err != nil {
					t.Fatal(err)
				}
				return id
			},
			Modify: func(t *testing.T, id string, f crm.Fields) {
				if err := tb.Modify(id, f); err != nil {
					t.Fatal(err)
				}
			},
			Remove:      func(t *testing.T, id string) { tb.Remove(id) },
			SupportsKey: true,
			ChecksKinds: true,
			PageSize:    2,
		}
	}
}

// TestSuitePasses runs the suite against a correct endpoint: the control for
// TestSuiteHasTeeth.
func TestSuitePasses(t *testing.T) {
	endpointtest.Run(t, newTarget(func(tb *memtable.Table) syncengine.Endpoint { return tb }))
}

// Broken endpoints, each breaking one promise of the contract.
var broken = map[string]struct {
	ep      func(*memtable.Table) syncengine.Endpoint
	failing string // a subtest that must fail
}{
	"NoTombstones":     {func(tb *memtable.Table) syncengine.Endpoint { return noTombstones{tb} }, "Tombstones"},
	"UpsertDuplicates": {func(tb *memtable.Table) syncengine.Endpoint { return &forgetfulKeys{Table: tb} }, "Upsert"},
	"FrozenVersions":   {func(tb *memtable.Table) syncengine.Endpoint { return frozenVersions{tb} }, "Versions"},
	"EmptyPageCursor":  {func(tb *memtable.Table) syncengine.Endpoint { return lostCursor{tb} }, "Paging"},
}

// The feed leaves deletes out.
type noTombstones struct{ *memtable.Table }

func (e noTombstones) Changes(ctx context.Context, cursor string) (*syncengine.ChangePage, error) {
	p, err := e.Table.Changes(ctx, cursor)
	if p != nil {
		var keep []*syncengine.Record
		for _, r := range p.Records {
			if !r.Deleted {
				keep = append(keep, r)
			}
		}
		p.Records = keep
	}
	return p, err
}

// Every upsert gets a new key, so a repeated upsert makes a duplicate.
type forgetfulKeys struct {
	*memtable.Table
	n int
}

func (e *forgetfulKeys) Apply(ctx context.Context, ws []syncengine.Write) ([]syncengine.WriteResult, error) {
	ws = append([]syncengine.Write(nil), ws...)
	for i := range ws {
		e.n++
		ws[i].Key += strings.Repeat("x", e.n)
	}
	return e.Table.Apply(ctx, ws)
}

// Versions never change.
type frozenVersions struct{ *memtable.Table }

func (e frozenVersions) Get(ctx context.Context, ids []string) (map[string]*syncengine.Record, error) {
	m, err := e.Table.Get(ctx, ids)
	for _, r := range m {
		r.Version = "1"
	}
	return m, err
}

// The last page of the feed comes with an empty cursor.
type lostCursor struct{ *memtable.Table }

func (e lostCursor) Changes(ctx context.Context, cursor string) (*syncengine.ChangePage, error) {
	p, err := e.Table.Changes(ctx, cursor)
	if p != nil && !p.More && len(p.Records) == 0 {
		p.Cursor = ""
	}
	return p, err
}

// TestSuiteHasTeeth runs the suite against each broken endpoint in a child
// process (a failing suite fails its test, which cannot be caught in
// process) and checks that the subtest guarding the broken promise fails.
func TestSuiteHasTeeth(t *testing.T) {
	if name := os.Getenv("ENDPOINTTEST_BROKEN"); name != "" {
		endpointtest.Run(t, newTarget(broken[name].ep))
		return
	}
	if testing.Short() {
		t.Skip("starts a child process per broken endpoint")
	}
	for name, b := range broken {
		t.Run(name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestSuiteHasTeeth$", "-test.v")
			cmd.Env = append(os.Environ(), "ENDPOINTTEST_BROKEN="+name)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed an endpoint with %s:\n%s", name, out)
			}
			if want := "--- FAIL: TestSuiteHasTeeth/" + b.failing + " "; !strings.Contains(string(out), want) {
				t.Errorf("the suite failed an endpoint with %s, but not in subtest %s:\n%s", name, b.failing, out)
			}
		})
	}
}
