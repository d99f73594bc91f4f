package mapping_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/crmkit/crmkit/mapping"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// TestReportGolden pins the data-flow report of the documented example maps,
// built for the connection that the residency rule refuses. Run with -update
// after a deliberate change, and review the diff.
func TestReportGolden(t *testing.T) {
	customers, companies := exampleMaps(t, "salesforce-us", linked())
	var buf bytes.Buffer
	if err := mapping.Report(&buf, customers, companies); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "report.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestReportGolden -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), buf.String()); diff != "" {
		t.Errorf("the report differs from %s (-want +got); if the change is intended, run with -update:\n%s", golden, diff)
	}
}

func TestReportNeverHoldsValuesOrKeys(t *testing.T) {
	customers, companies := exampleMaps(t, "salesforce-eu", linked())
	var buf bytes.Buffer
	if err := mapping.Report(&buf, customers, companies); err != nil {
		t.Fatal(err)
	}
	report := buf.String()
	if strings.Contains(report, string(testKey)) {
		t.Error("the report holds the hash key")
	}
	// On the EU connection the national id flows, hashed.
	if !strings.Contains(report, "- `national_id`: sent to `NationalIdHash` as a keyed hash (HMAC-SHA256).") {
		t.Errorf("the report does not say how the national id is protected on salesforce-eu:\n%s", report)
	}
	// Every table row has as many cells as its table's header.
	cells := func(line string) int { return strings.Count(strings.ReplaceAll(line, `\|`, ""), "|") }
	header := -1
	for _, line := range strings.Split(report, "\n") {
		switch {
		case !strings.HasPrefix(line, "|"):
			header = -1
		case header < 0:
			header = cells(line)
		case cells(line) != header:
			t.Errorf("table row with %d separators, want %d: %s", cells(line), header, line)
		}
	}
}
