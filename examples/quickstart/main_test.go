package main

import (
	"strings"
	"testing"
)

// The quickstart is documentation that runs: its figures must stay true.
func TestQuickstart(t *testing.T) {
	var out strings.Builder
	if err := run(t.Context(), &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"== Describe Contact: 16 fields",
		"== Upsert 250 contacts by ExternalId: 248 created, 2 failed",
		`write 17 (app-0017): memcrm: upsert Contact: validation: field Status does not allow "Gone fishing"`,
		"write 203 (app-0203): memcrm: upsert Contact: validation: Contact.CreatedAt cannot be written",
		"86 records in 3 pages",
		"resumed from page 2's cursor: 6 records remain",
		"== The same upsert again: 2 created (the two refused before, now valid), 248 updated, 0 failed",
		"== Change feed: 250 changes",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q\n--- output:\n%s", want, out.String())
		}
	}
}
