package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/crmkit/crmkit/adapters/salesforce/salesforcetest"
	"github.com/crmkit/crmkit/crm"
)

// dbPath finds the SQLite file's path, which the tour prints on its own
// line.
func dbPath(t *testing.T, out string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if strings.HasSuffix(line, string(filepath.Separator)+"app.db") {
			return line
		}
	}
	t.Fatalf("the output names no database file:\n%s", out)
	return ""
}

// section returns the output from the line starting with heading to the
// next blank line.
func section(t *testing.T, out, heading string) string {
	t.Helper()
	i := strings.Index(out, heading)
	if i < 0 {
		t.Fatalf("the output has no %q section:\n%s", heading, out)
	}
	s := out[i:]
	if j := strings.Index(s, "\n\n"); j >= 0 {
		s = s[:j]
	}
	return s
}

func wantLines(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("--- output:\n%s", out)
	}
}

// The quickstart is the README's main job and documentation that runs: each
// behaviour it shows must show with its numbers.
func TestQuickstart(t *testing.T) {
	var buf strings.Builder
	if err := run(t.Context(), &buf, config{}); err != nil {
		t.Fatalf("run: %v\n%s", err, buf.String())
	}
	out := buf.String()

	// The first sync matched the three people on both sides (Alan by an
	// email that differs in case) and created three each way; the email's
	// spelling was a conflict, logged with the personal values masked.
	wantLines(t, section(t, out, "== 2. First sync"),
		"read app 6, crm 6; matched 3",
		"to crm: created 3,",
		"to app: created 3,",
		`decision: Alan's email: app "[personal]", crm "[personal]" -> crm wins (newest-wins)`,
	)
	// The conflicting edit went to the CRM's later one, with both values
	// logged; the edits to different fields of Ada merged.
	wantLines(t, section(t, out, "== 3. Edits on both sides"),
		"updated crm 1, app 2",
		"merged 1",
		"conflicts 1 (newest-wins: crm)",
		`decision: Grace's notes: app "renewal due in May", crm "renewal signed" -> crm wins (newest-wins)`,
		"reason: crm changed 30",
		"later (beyond the 2s skew allowance)",
		"merged: Ada's app status is now Lost, her CRM Phone 555-0142",
	)
	// The outage was retried and the good write landed; the bad one became
	// a dead letter, was fixed at the source and replayed.
	wantLines(t, section(t, out, "== 4. An outage and a bad record"),
		"created crm 1, app 0",
		"dead-lettered 1",
		"retry: the org answered 503 to 3 of 4 upsert requests",
		"Donald landed",
		"dead letter: Niklaus (app customer ",
		") -> crm upsert, kind validation, attempts ",
		"INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
		"[fields: Status__c]",
		"replay: read app 0, crm 0; created crm 1, app 0;",
		"Niklaus is in the CRM with Status__c Customer; dead letters left: 0",
	)
	if !regexp.MustCompile(`sync: .*; retried [1-9]`).MatchString(section(t, out, "== 4.")) {
		t.Errorf("the outage should show as retried writes:\n%s", section(t, out, "== 4."))
	}
	fixed := section(t, out, "== 5. Once more: the fixed point")
	if !strings.HasSuffix(strings.SplitN(fixed, "\n", 3)[1], "; writes 0") {
		t.Errorf("the last run should write nothing:\n%s", fixed)
	}
	summary := section(t, out, "== Summary")
	wantLines(t, summary,
		"app 11 customers, CRM 11 contacts: the same people with the same values",
		"writes 17 (both sides), conflicts 2, retries ",
		"dead letters replayed 1",
	)
	if !regexp.MustCompile(`the org served [1-9]\d* API requests; [1-9]\d* were the sync engine's calls`).MatchString(summary) {
		t.Errorf("the summary lacks the org's and the engine's call counts:\n%s", summary)
	}
	wantLines(t, out,
		"hubspot:  matched 3, created 3 in the CRM, 3 in the app; dead letters 0; second run wrote 0",
		"dynamics: matched 3, created 3 in the CRM, 3 in the app; dead letters 0; second run wrote 0",
		"removed the database",
	)

	path := dbPath(t, out)
	if _, err := os.Stat(filepath.Dir(path)); !os.IsNotExist(err) {
		t.Errorf("the database's directory %s should be gone; stat: %v", filepath.Dir(path), err)
	}
	if n := strings.Count(out, "\n"); n > 60 {
		t.Errorf("the tour prints %d lines; keep it under 60", n)
	}
}

func TestKeep(t *testing.T) {
	var buf strings.Builder
	if err := run(t.Context(), &buf, config{keep: true, skipOthers: true}); err != nil {
		t.Fatalf("run: %v\n%s", err, buf.String())
	}
	path := dbPath(t, buf.String())
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(path)) })
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("-keep should keep %s: %v", path, err)
	}
	if !strings.Contains(buf.String(), "kept the database:\n"+path) {
		t.Errorf("the output should say where the kept file is:\n%s", buf.String())
	}
}

// The real-org path (an instance URL and a token) runs here against an
// emulated org reached the same way: by URL and a static token, with
// contacts of its own that the tour must leave alone.
func TestRealOrgPath(t *testing.T) {
	org := salesforcetest.New(t, salesforcetest.WithFields("Contact",
		salesforcetest.Field{Name: "App_Id__c", Type: "string", Length: 64, ExternalID: true, Unique: true},
		salesforcetest.Field{Name: "Status__c", Type: "picklist", Picklist: []string{"New", "Customer", "Lost"}},
	))
	others, err := org.Seed("Contact",
		crm.Fields{"LastName": "Bystander", "Email": "ada@example.com"},
		crm.Fields{"LastName": "Onlooker", "Email": "someone@example.org", "Description": "leave me be"},
	)
	if err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	if err := run(t.Context(), &buf, config{instanceURL: org.URL, token: org.Token(), skipOthers: true}); err != nil {
		t.Fatalf("run: %v\n%s", err, buf.String())
	}
	out := buf.String()
	wantLines(t, out,
		"(a real org; contacts under run-",
		"read app 6, crm 6; matched 3",
		"to crm: created 3,",
		"to app: created 3,",
		`decision: Grace's notes: app "renewal due in May", crm "renewal signed" -> crm wins (newest-wins)`,
		"(a real org: no outage injected)",
		"Donald landed",
		"kind validation",
		"Niklaus is in the CRM with Status__c Customer; dead letters left: 0",
		"app 11 customers, CRM 11 contacts: the same people with the same values",
		"cleanup: deleted the 11 contacts under run-",
		"removed the database",
	)
	// Only the run's contacts were touched: the org's own are as they were,
	// and nothing of the run is left.
	for _, id := range others {
		f, deleted, ok := org.Get("Contact", id)
		if !ok || deleted || f["App_Id__c"] != nil {
			t.Errorf("the org's own contact %s was touched: %v (deleted %v)", id, f, deleted)
		}
	}
	drv, err := salesforceClient(nil, org.URL, org.Token())
	if err != nil {
		t.Fatal(err)
	}
	left, err := contacts(t.Context(), drv, salesforceFields, "example.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left["ada@example.com"] == nil {
		t.Errorf("after the cleanup the org should hold only its own ada@example.com under example.com, holds %d: %v", len(left), left)
	}
}
