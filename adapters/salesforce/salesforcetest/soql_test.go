package salesforcetest

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/crmkit/crmkit/adapters/salesforce"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/memstore"
)

func TestParseSOQL(t *testing.T) {
	q, err := parseSOQL("select Id, LastName from Contact where (LastName = 'O\\'Brien' or LastName like 'a\\_b%') and not Score__c > -2.5 order by LastName desc nulls last, Id limit 10 offset 5")
	if err != nil {
		t.Fatal(err)
	}
	if len(q.fields) != 2 || q.object.name != "Contact" || q.limit != 10 || q.offset != 5 || len(q.orderBy) != 2 || !q.orderBy[0].desc || q.orderBy[0].nulls != "LAST" {
		t.Fatalf("parsed %+v", q)
	}
	and, ok := q.where.(andNode)
	if !ok || len(and.kids) != 2 {
		t.Fatalf("where %#v", q.where)
	}
	or := and.kids[0].(orNode)
	if lit := or.kids[0].(cmpNode).lit; lit.text != "O'Brien" {
		t.Errorf("literal %q", lit.text)
	}
	if like := or.kids[1].(cmpNode).lit.like; like != "a_b\x00" {
		t.Errorf("LIKE pattern %q: an escaped _ is literal, an unescaped %% a wildcard", like)
	}
	if n := and.kids[1].(notNode).kid.(cmpNode); n.lit.text != "-2.5" || n.op != ">" {
		t.Errorf("NOT node %+v", n)
	}
	for _, ok := range []string{
		"SELECT COUNT() FROM Lead",
		"SELECT FIELDS(ALL) FROM Account LIMIT 200",
		"SELECT Id FROM Account WHERE CreatedDate > LAST_N_DAYS:7",
		"SELECT Id FROM Account WHERE SystemModstamp >= 2024-01-02T03:04:05.123+01:00",
		"SELECT Id FROM Account WHERE Name IN ('a','b') AND Site NOT IN ('c')",
		"SELECT Id FROM Account WHERE Name = '\\u00e9\\n\\t\\\"'",
	} {
		if _, err := parseSOQL(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

func TestLikePatterns(t *testing.T) {
	f := &field{Field: Field{Name: "Name"}}
	for _, c := range []struct {
		pattern string
		pushed  bool
		match   []string
		miss    []string
	}{
		{"abc", true, nil, nil},
		{"\x00abc\x00", true, nil, nil},
		{"ab\x00", false, []string{"AB", "abc", "abxyz"}, []string{"xab", "a"}},
		{"\x00b\x01d", false, []string{"abcd", "bxd", "BXD"}, []string{"bd", "abxxd"}},
		{"a\x00b\x00c", false, []string{"abc", "axxbyyc"}, []string{"acb", "ab"}},
	} {
		cd := likeCond(f, c.pattern)
		if (cd.pred == nil) != c.pushed {
			t.Errorf("%q: pushed to the store %v, want %v", c.pattern, cd.pred == nil, c.pushed)
		}
		for _, s := range c.match {
			if !cd.eval(recordWith("Name", s)) {
				t.Errorf("%q does not match %q", c.pattern, s)
			}
		}
		for _, s := range c.miss {
			if cd.eval(recordWith("Name", s)) {
				t.Errorf("%q matches %q", c.pattern, s)
			}
		}
	}
}

// FuzzParseSOQL: no input makes the parser or the compiler panic, and every
// refusal is a Salesforce error with a code.
func FuzzParseSOQL(f *testing.F) {
	for _, s := range []string{
		"SELECT Id FROM Contact WHERE LastName = 'x'",
		"SELECT Id, Name FROM Account WHERE (Name LIKE '%a\\%' OR NOT Site IN ('b')) AND NumberOfEmployees > 3 ORDER BY Name LIMIT 2",
		"SELECT COUNT() FROM Lead WHERE CreatedDate = LAST_N_DAYS:3",
		"SELECT Id FROM Contact WHERE Birthdate > 2020-01-01 AND SystemModstamp < 2020-01-01T00:00:00Z",
		"SELECT Id FROM Contact WHERE Name = 'a\\",
		"SELECT",
	} {
		f.Add(s)
	}
	srv, err := NewServer(WithFields("Contact", Field{Name: "Score__c", Type: "double"}))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(srv.Close)
	f.Fuzz(func(t *testing.T, src string) {
		q, ferr := parseSOQL(src)
		if ferr != nil {
			if len(ferr.errs) == 0 || ferr.errs[0].Code == "" {
				t.Fatalf("a refusal without a code: %+v", ferr)
			}
			return
		}
		if _, ferr := srv.compile(q, false); ferr != nil && ferr.errs[0].Code == "" {
			t.Fatalf("a refusal without a code: %+v", ferr)
		}
	})
}

// FuzzEscapeRoundTrip: whatever a string holds, the adapter's escaping makes
// a literal that this parser reads back as exactly that string, in an
// equality and inside a LIKE pattern, and never as syntax.
func FuzzEscapeRoundTrip(f *testing.F) {
	for _, s := range []string{`O'Brien`, `trailing\`, `\'`, `x' OR Name != 'y`, "a\nb\tc", `100%_`, `\u0041`, `'); DELETE`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		q, err := parseSOQL("SELECT Id FROM Contact WHERE LastName = '" + salesforce.EscapeSOQL(s) + "' AND Title = 'tail'")
		if err != nil {
			t.Fatalf("escaped %q did not parse: %v", s, err)
		}
		and, ok := q.where.(andNode)
		if !ok || len(and.kids) != 2 {
			t.Fatalf("escaped %q changed the query's shape: %#v", s, q.where)
		}
		if got := and.kids[0].(cmpNode).lit.text; got != s {
			t.Fatalf("escaped %q read back as %q", s, got)
		}
		like := strings.ReplaceAll(strings.ReplaceAll(salesforce.EscapeSOQL(s), "%", `\%`), "_", `\_`)
		q, err = parseSOQL("SELECT Id FROM Contact WHERE LastName LIKE '%" + like + "%'")
		if err != nil {
			t.Fatalf("LIKE-escaped %q did not parse: %v", s, err)
		}
		pat := q.where.(cmpNode).lit.like
		if inner := pat[1 : len(pat)-1]; inner != s {
			t.Fatalf("LIKE-escaped %q read back as pattern %q", s, inner)
		}
	})
}

func recordWith(name string, v any) *memstore.Record {
	return &memstore.Record{Fields: crm.Fields{name: v}}
}
