package crmtest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/crmtest"
	"github.com/crmkit/crmkit/crm/memcrm"
)

// broken wraps the reference driver and breaks one part of the contract, to
// show that the suite notices.
type broken struct {
	*memcrm.Driver
	mode string
}

func (b *broken) Info() crm.DriverInfo {
	i := b.Driver.Info()
	if b.mode == "declares-no-or" {
		i.Unsupported = append(i.Unsupported, crm.FeatureOr)
	}
	return i
}

func (b *broken) Get(ctx context.Context, req crm.GetRequest) (*crm.Record, error) {
	r, err := b.Driver.Get(ctx, req)
	if err != nil && b.mode == "unclassified-errors" {
		return nil, errors.New("request failed: " + err.Error())
	}
	return r, err
}

func (b *broken) Query(ctx context.Context, req crm.QueryRequest) (*crm.Page, error) {
	switch b.mode {
	case "ignores-limit":
		req.Query.Limit = 0
	case "ignores-cursor":
		req.Cursor = ""
	case "injectable":
		// As if literals were pasted into the query text: a quote ends the
		// string and the rest matches everything.
		req.Query.Where = inject(req.Query.Where)
	}
	return b.Driver.Query(ctx, req)
}

func inject(f crm.Filter) crm.Filter {
	switch x := f.(type) {
	case *crm.AndFilter:
		out := make([]crm.Filter, len(x.Filters))
		for i, c := range x.Filters {
			out[i] = inject(c)
		}
		return crm.And(out...)
	case *crm.Compare:
		if s, ok := x.Value.(string); ok && strings.Contains(s, "'") {
			return crm.And()
		}
	}
	return f
}

func (b *broken) Write(ctx context.Context, req crm.WriteRequest) ([]crm.WriteResult, error) {
	ws := make([]crm.Write, len(req.Writes))
	for i, w := range req.Writes {
		switch b.mode {
		case "drops-nil":
			f := crm.Fields{}
			for k, v := range w.Fields {
				if v != nil {
					f[k] = v
				}
			}
			w.Fields = f
		case "ignores-version":
			w.IfVersion = ""
		}
		ws[i] = w
	}
	req.Writes = ws
	return b.Driver.Write(ctx, req)
}

func (b *broken) Changes(ctx context.Context, req crm.ChangesRequest) (*crm.ChangePage, error) {
	p, err := b.Driver.Changes(ctx, req)
	if err == nil && b.mode == "hides-deletes" {
		kept := p.Changes[:0]
		for _, c := range p.Changes {
			if c.Kind != crm.ChangeDeleted {
				kept = append(kept, c)
			}
		}
		p.Changes = kept
	}
	return p, err
}

// TestBrokenDriverChild runs the suite against a broken driver. It does
// something only in the child process that TestSuiteCatchesBrokenDrivers
// starts.
func TestBrokenDriverChild(t *testing.T) {
	mode := os.Getenv("CRMTEST_BROKEN_MODE")
	if mode == "" {
		t.Skip("run by TestSuiteCatchesBrokenDrivers")
	}
	crmtest.Run(t, func(t *testing.T) crmtest.Target {
		d, err := memcrm.New()
		if err != nil {
			t.Fatal(err)
		}
		return crmtest.Target{Driver: &broken{Driver: d, mode: mode}, Object: "Contact", NameField: "LastName",
			TextField: "Description", NumberField: "Score", ExternalIDField: "ExternalId", ReadOnlyField: "CreatedAt"}
	})
}

func TestSuiteCatchesBrokenDrivers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a test process per broken driver")
	}
	tests := []struct {
		mode string
		pass bool     // the suite passes (with skips)
		want []string // lines the output must contain
	}{
		{mode: "ignores-limit", want: []string{"--- FAIL: TestBrokenDriverChild/Limit", "Limit 3 in pages of 2: the driver returned 6 records"}},
		{mode: "ignores-cursor", want: []string{"--- FAIL: TestBrokenDriverChild/Paging", "same cursor twice"}},
		{mode: "injectable", want: []string{"--- FAIL: TestBrokenDriverChild/Literals", `Eq(LastName, "O'Brien") found`, "the literal did not come back as data"}},
		{mode: "drops-nil", want: []string{"--- FAIL: TestBrokenDriverChild/AbsentAndNil/NilClears", "want null (nil)"}},
		{mode: "unclassified-errors", want: []string{"--- FAIL: TestBrokenDriverChild/GetMissing", "want a *crm.Error of kind \"not found\""}},
		{mode: "ignores-version", want: []string{"--- FAIL: TestBrokenDriverChild/StaleVersion", "update with a stale IfVersion: got no error"}},
		{mode: "hides-deletes", want: []string{"--- FAIL: TestBrokenDriverChild/Changes", "the feed has no deleted change for"}},
		{mode: "declares-no-or", pass: true, want: []string{"--- SKIP: TestBrokenDriverChild/Filters/Or ", `lists feature "or" in Info().Unsupported`, "--- PASS: TestBrokenDriverChild/Filters/Gt"}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestBrokenDriverChild$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), "CRMTEST_BROKEN_MODE="+tt.mode)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			switch {
			case tt.pass && err != nil:
				t.Errorf("the suite failed against a driver that only declares a feature unsupported: %v\n%s", err, tail(out))
			case !tt.pass && err == nil:
				t.Errorf("the suite passed against a driver that %s\n%s", tt.mode, tail(out))
			case err != nil && !errors.As(err, &exit):
				t.Fatalf("running the child: %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("the output does not contain %q\n%s", w, tail(out))
				}
			}
		})
	}
}

func tail(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 40 {
		lines = append([]string{fmt.Sprintf("... (%d lines before)", len(lines)-40)}, lines[len(lines)-40:]...)
	}
	return strings.Join(lines, "\n")
}
