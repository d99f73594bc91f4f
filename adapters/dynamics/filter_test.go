package dynamics

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// testTable is a small table definition, as EntityDefinitions would give it.
func testTable(t *testing.T) *table {
	t.Helper()
	str := func(name string) attrDef {
		return attrDef{LogicalName: name, AttributeType: "String", MaxLength: ptr(100)}
	}
	def := &entityDef{
		LogicalName: "account", EntitySetName: "accounts", PrimaryIDAttribute: "accountid",
		Attributes: []attrDef{
			{LogicalName: "accountid", AttributeType: "Uniqueidentifier", IsPrimaryID: true},
			str("name"),
			{LogicalName: "revenue", AttributeType: "Money", Precision: ptr(2)},
			{LogicalName: "numberofemployees", AttributeType: "Integer"},
			{LogicalName: "creditonhold", AttributeType: "Boolean"},
			{LogicalName: "modifiedon", AttributeType: "DateTime", DateTimeBehavior: &valueOf{Value: "UserLocal"}},
			{LogicalName: "birthday", AttributeType: "DateTime", DateTimeBehavior: &valueOf{Value: "DateOnly"}},
			{LogicalName: "kickoff", AttributeType: "DateTime", DateTimeBehavior: &valueOf{Value: "TimeZoneIndependent"}},
			{LogicalName: "industrycode", AttributeType: "Picklist"},
			{LogicalName: "primarycontactid", AttributeType: "Lookup", Targets: []string{"contact"}},
		},
	}
	opts := map[string]*attrDef{"industrycode": {LogicalName: "industrycode", OptionSet: &struct {
		Options []struct {
			Value int   `json:"Value"`
			Label label `json:"Label"`
		} `json:"Options"`
	}{Options: []struct {
		Value int   `json:"Value"`
		Label label `json:"Label"`
	}{{Value: 7, Label: labelOf("Consulting")}, {Value: 33, Label: labelOf("Retail")}}}}}
	tb, err := buildTable(def, opts)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func ptr[T any](v T) *T { return &v }

func labelOf(s string) label {
	var l label
	l.UserLocalizedLabel = &struct {
		Label string `json:"Label"`
	}{Label: s}
	return l
}

// TestCompileFilter checks the $filter text for every filter type and
// literal kind: strings quoted with quotes doubled; GUIDs, numbers, dates and
// date-times bare; options as numbers (by value or label); lookups as
// _x_value.
func TestCompileFilter(t *testing.T) {
	tb := testTable(t)
	id := "1C0E8A2B-0000-4000-8000-00000000000A"
	cases := []struct {
		f    crm.Filter
		want string
	}{
		{crm.Eq("name", `O'Brien`), `name eq 'O''Brien'`},
		{crm.Eq("Name", `x' or name ne 'y`), `name eq 'x'' or name ne ''y'`},
		{crm.Eq("name", `') or (1 eq 1`), `name eq ''') or (1 eq 1'`},
		{crm.Eq("name", `it''s`), `name eq 'it''''s'`},
		{crm.Eq("primarycontactid", id), `_primarycontactid_value eq 1c0e8a2b-0000-4000-8000-00000000000a`},
		{crm.Eq("accountid", id), `accountid eq 1c0e8a2b-0000-4000-8000-00000000000a`},
		{crm.Gt("revenue", crm.MustDecimal("1000.50")), `revenue gt 1000.50`},
		{crm.Le("numberofemployees", int64(10)), `numberofemployees le 10`},
		{crm.Lt("numberofemployees", crm.MustDecimal("2.5")), `numberofemployees lt 2.5`},
		{crm.Eq("creditonhold", true), `creditonhold eq true`},
		{crm.Ge("modifiedon", time.Date(2024, 1, 1, 1, 0, 0, 0, time.FixedZone("", 3600))), `modifiedon ge 2024-01-01T00:00:00Z`},
		{crm.Eq("birthday", crm.Date{Year: 1980, Month: 5, Day: 1}), `birthday eq 1980-05-01`},
		{crm.Eq("kickoff", time.Date(2026, 3, 1, 9, 0, 0, 0, time.FixedZone("JST", 9*3600))), `kickoff eq 2026-03-01T09:00:00Z`},
		{crm.Eq("industrycode", "Consulting"), `industrycode eq 7`},
		{crm.Eq("industrycode", 33), `industrycode eq 33`},
		{crm.In("name", "a", "b'c"), `(name eq 'a' or name eq 'b''c')`},
		{crm.In("name", "only"), `name eq 'only'`},
		{crm.IsNull("primarycontactid"), `_primarycontactid_value eq null`},
		{crm.NotNull("revenue"), `revenue ne null`},
		{crm.Contains("name", `50% 'off'`), `contains(name,'50[%] ''off''')`},
		{crm.Contains("name", `a_b[c]%`), `contains(name,'a[_]b[[]c][%]')`},
		{crm.Eq("name", `50%_[x]`), `name eq '50%_[x]'`}, // eq is not LIKE: no escaping
		{crm.ModifiedSince(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)), `modifiedon ge 2024-01-02T03:04:05Z`},
		{crm.And(crm.Eq("name", "a"), crm.Or(crm.Eq("name", "b"), crm.Not(crm.Eq("name", "c")))), `(name eq 'a') and ((name eq 'b') or (not (name eq 'c')))`},
		{crm.Eq("unknowncolumn", "x"), `unknowncolumn eq 'x'`},
	}
	for _, c := range cases {
		got, err := compileFilter(tb, c.f)
		if err != nil {
			t.Errorf("%v: %v", c.f, err)
			continue
		}
		if got != c.want {
			t.Errorf("%v:\n got %s\nwant %s", c.f, got, c.want)
		}
	}
}

// TestCompileFilterRefuses checks that values that do not fit their column
// and field names that are not names fail before any request.
func TestCompileFilterRefuses(t *testing.T) {
	tb := testTable(t)
	for _, f := range []crm.Filter{
		crm.Eq("primarycontactid", "not-a-guid"),
		crm.Eq("accountid", "1 or 1 eq 1"),
		crm.Eq("numberofemployees", "ten"),
		crm.Eq("industrycode", "Farming"),
		crm.Eq("name eq 'x' or name", "y"),
		crm.Contains("revenue", "1"),
		crm.Eq("birthday", "yesterday"),
	} {
		if s, err := compileFilter(tb, f); err == nil {
			t.Errorf("%v compiled to %q, want an error", f, s)
		} else if k := crm.KindOf(err); k != crm.KindValidation {
			t.Errorf("%v: kind %s, want validation (%v)", f, k, err)
		}
	}
}

// TestEscapeValue checks that a $filter survives the query string intact,
// whatever it holds.
func TestEscapeValue(t *testing.T) {
	for _, s := range []string{`name eq 'a+b&c=d#e?f/g%h'`, "name eq 'Zoë 日本'", `contains(name,'100%')`, ` `} {
		q, err := url.ParseQuery("$filter=" + escapeValue(s))
		if err != nil {
			t.Fatal(err)
		}
		if got := q.Get("$filter"); got != s {
			t.Errorf("escapeValue(%q) read back as %q", s, got)
		}
		if strings.ContainsAny(escapeValue(s), " +&#?/=") {
			t.Errorf("escapeValue(%q) = %q keeps a character that is syntax in a URL", s, escapeValue(s))
		}
	}
}

func FuzzEscapeValue(f *testing.F) {
	for _, s := range []string{"", "name eq 'x'", "a+b", "%zz", "Zoë", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := url.ParseQuery("$filter=" + escapeValue(s))
		if err != nil {
			t.Fatalf("escapeValue(%q) = %q does not parse: %v", s, escapeValue(s), err)
		}
		if got := q.Get("$filter"); got != s {
			t.Fatalf("escapeValue(%q) read back as %q", s, got)
		}
	})
}

// FuzzStringLiteral checks that a string literal is one OData token whose
// content is exactly the value: quotes doubled, nothing else changed.
func FuzzStringLiteral(f *testing.F) {
	for _, s := range []string{"", "'", "''", "O'Brien", "') or (1 eq 1", "x' or name ne 'y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lit := literalOf(s)
		if len(lit) < 2 || lit[0] != '\'' || lit[len(lit)-1] != '\'' {
			t.Fatalf("literalOf(%q) = %q is not quoted", s, lit)
		}
		inner := lit[1 : len(lit)-1]
		// Inside, every quote is doubled: reading pairs gives back s.
		var b strings.Builder
		for i := 0; i < len(inner); i++ {
			if inner[i] == '\'' {
				if i+1 >= len(inner) || inner[i+1] != '\'' {
					t.Fatalf("literalOf(%q) = %q has a lone quote at %d: the value would end the literal", s, lit, i)
				}
				i++
			}
			b.WriteByte(inner[i])
		}
		if b.String() != s {
			t.Fatalf("literalOf(%q) = %q reads back as %q", s, lit, b.String())
		}
	})
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(encodeCursor(cursor{Link: "https://x/api/data/v9.2/accounts", PageSize: 5}))
	f.Add("v1.")
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, s string) {
		var c cursor
		_ = decodeCursor(s, &c) // must not panic
		var cc changeCursor
		_ = decodeCursor(s, &cc)
	})
}

func FuzzParseBatchResponse(f *testing.F) {
	f.Add("multipart/mixed; boundary=b", "--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n\r\n--b--\r\n")
	f.Add("multipart/mixed; boundary=b", "--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 200 OK\r\n\r\n{}\r\n--c--\r\n--b--\r\n")
	f.Fuzz(func(t *testing.T, ct, body string) {
		_, _ = parseBatchResponse(ct, []byte(body)) // must not panic
	})
}

// TestTimeZoneIndependentLiteral checks that a filter on a
// TimeZoneIndependent column renders a string as a write stores it: the
// wall-clock time as written, not converted to UTC.
func TestTimeZoneIndependentLiteral(t *testing.T) {
	tb := testTable(t)
	c := tb.col("kickoff")
	for _, v := range []any{"2026-03-01T09:00:00+09:00", "2026-03-01T09:00:00", "2026-03-01T09:00:00Z", time.Date(2026, 3, 1, 9, 0, 0, 0, time.FixedZone("JST", 9*3600))} {
		lit, err := c.literal(v)
		if err != nil {
			t.Fatalf("literal(%v): %v", v, err)
		}
		d := &Driver{}
		_, stored, err := d.encode(c, v, nil)
		if err != nil {
			t.Fatalf("encode(%v): %v", v, err)
		}
		if lit != "2026-03-01T09:00:00Z" || lit != stored {
			t.Errorf("%v: filter literal %s, written %v; want both 2026-03-01T09:00:00Z", v, lit, stored)
		}
	}
}

// TestEscapePathKeyCharacters checks that characters with a meaning in a
// key segment or to URL parsers (+ as space, & and ; as separators, $) are
// percent-encoded in an alternate key.
func TestEscapePathKeyCharacters(t *testing.T) {
	if got, want := escapePath(`'A+B&C;D$E=F'`), `'A%2BB%26C%3BD%24E=F'`; got != want {
		t.Errorf("escapePath = %s, want %s", got, want)
	}
}

// TestValidETag checks what an IfVersion may be.
func TestValidETag(t *testing.T) {
	for v, want := range map[string]bool{
		"*": true, `W/"12345"`: true, `"abc"`: true, `W/""`: true,
		"": false, "12345": false, `W/12345`: false, `"a"b"`: false, "\"a\r\nX: y\"": false, "\"a b\"": false, "\"a\x7f\"": false, `W/"1`: false,
	} {
		if got := validETag(v); got != want {
			t.Errorf("validETag(%q) = %v, want %v", v, got, want)
		}
	}
}

// TestSendBatchRefusesControlCharacters checks that a header value with a
// line break never reaches a $batch part, whatever put it there.
func TestSendBatchRefusesControlCharacters(t *testing.T) {
	d, err := New(WithBaseURL("https://contoso.crm.dynamics.com"))
	if err != nil {
		t.Fatal(err)
	}
	op := &operation{write: crm.Write{Op: crm.OpUpdate}, method: "PATCH", path: "accounts(1)", header: http.Header{"If-Match": {"*\r\nMSCRMCallerID: x"}}}
	_, err = d.sendBatch(t.Context(), testTable(t), []*operation{op}, false)
	if crm.KindOf(err) != crm.KindInvalidRequest {
		t.Errorf("sendBatch with a line break in a header: %v, want invalid request before sending", err)
	}
}

// TestCheckLinkComparesURLs checks that a next link is compared as a URL:
// the host's case and the default port do not matter, userinfo, another
// host, path or option does.
func TestCheckLinkComparesURLs(t *testing.T) {
	d, err := New(WithBaseURL("https://contoso.crm.dynamics.com"))
	if err != nil {
		t.Fatal(err)
	}
	tb := testTable(t)
	want := url.Values{"$select": {"name"}}
	for link, ok := range map[string]bool{
		"https://contoso.crm.dynamics.com/api/data/v9.2/accounts?$select=name&$skiptoken=x":     true,
		"https://Contoso.CRM.dynamics.com/api/data/v9.2/accounts?$select=name&$skiptoken=x":     true,
		"https://contoso.crm.dynamics.com:443/api/data/v9.2/accounts?$select=name&$skiptoken=x": true,
		"HTTPS://contoso.crm.dynamics.com/api/data/v9.2/accounts?%24select=name&$deltatoken=1":  true,
		"https://contoso.crm.dynamics.com:8443/api/data/v9.2/accounts?$select=name":             false,
		"http://contoso.crm.dynamics.com/api/data/v9.2/accounts?$select=name":                   false,
		"https://me@contoso.crm.dynamics.com/api/data/v9.2/accounts?$select=name":               false,
		"https://contoso.crm.dynamics.com.evil.example/api/data/v9.2/accounts?$select=name":     false,
		"https://contoso.crm.dynamics.com/api/data/v9.2/systemusers?$select=name":               false,
		"https://contoso.crm.dynamics.com/api/data/v9.2/accounts/../systemusers?$select=name":   false,
		"https://contoso.crm.dynamics.com/api/data/v9.2/accounts?$select=name,revenue":          false,
		"https://contoso.crm.dynamics.com/api/data/v9.2/accounts?$select=name&$expand=x":        false,
		"https://contoso.crm.dynamics.com/api/data/v9.2/accounts":                               false,
		"/api/data/v9.2/accounts?$select=name":                                                  false,
	} {
		if err := d.checkLink("query", tb, link, want); (err == nil) != ok {
			t.Errorf("checkLink(%s) = %v, want ok %v", link, err, ok)
		}
	}
}
