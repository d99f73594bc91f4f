package dynamicstest

import (
	"strings"
	"testing"
)

func TestParseFilter(t *testing.T) {
	for _, src := range []string{
		"name eq 'O''Brien'",
		"(a eq 1 or b ne 2.5) and not (c eq null)",
		"contains(name,'x'' or ''y')",
		"modifiedon ge 2024-01-01T00:00:00Z and birthdate eq 1980-05-01",
		"_parentaccountid_value eq 1C0E8A2B-0000-4000-8000-00000000000A",
		"AttributeType eq Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist'",
	} {
		if _, err := parseFilter(src); err != nil {
			t.Errorf("parseFilter(%q): %v", src, err)
		}
	}
	for _, src := range []string{"name eq 'open", "name eq", "(name eq 'a'", "name eq 'a')", "'a' eq name", "name like 'a'", "name eq bare", "startswithx(name,'a')", ""} {
		if _, err := parseFilter(src); err == nil {
			t.Errorf("parseFilter(%q) succeeded, want a syntax error", src)
		}
	}
	x, err := parseFilter("name eq 'x'' or name ne ''y'")
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := x.(*cmpExpr); !ok || c.lit.str != "x' or name ne 'y" {
		t.Errorf("a doubled quote inside a literal: %#v", x)
	}
	if _, err := parseFilter("name eq 'unterminated"); err == nil || !strings.Contains(err.Error(), "unterminated literal at position 8") {
		t.Errorf("unterminated literal: %v", err)
	}
}

func TestParseKey(t *testing.T) {
	parts, err := parseKey("accountnumber='A=1,2',code=7")
	if err != nil || len(parts) != 2 || parts[0].lit.str != "A=1,2" || parts[1].lit.i != 7 {
		t.Errorf("parseKey: %+v %v", parts, err)
	}
	if _, err := parseKey("not-a-guid"); err == nil {
		t.Error("a bare key that is not a GUID was accepted")
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"name eq 'a'", "(a eq 1) and not b ne null", "contains(x,'y')", "a eq 2024-01-01", "x eq Ns.T'M'", "((((", "'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = parseFilter(s) // must not panic
	})
}

func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"00000000-0000-4000-8000-000000000001", "a='b'", "a=1,b='c''d'", "=", "a=", "'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = parseKey(s) // must not panic
	})
}

func FuzzParseBatch(f *testing.F) {
	f.Add("--b\r\nContent-Type: application/http\r\n\r\nGET accounts HTTP/1.1\r\n\r\n\r\n--b--\r\n")
	f.Add("--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\nContent-Type: application/http\r\n\r\nPOST accounts HTTP/1.1\r\n\r\n{}\r\n--c--\r\n--b--\r\n")
	f.Fuzz(func(t *testing.T, body string) {
		_, _ = parseBatch([]byte(body), "b", false) // must not panic
	})
}

// TestLikeLiteral checks how contains' argument is read as a LIKE pattern:
// one-character classes are their character; wildcards are refused.
func TestLikeLiteral(t *testing.T) {
	for p, want := range map[string]string{"abc": "abc", "50[%]": "50%", "a[_]b": "a_b", "[[]x]": "[x]", "[ë]": "ë", "]": "]", "": ""} {
		if got, ok := likeLiteral(p); !ok || got != want {
			t.Errorf("likeLiteral(%q) = %q, %v; want %q", p, got, ok, want)
		}
	}
	for _, p := range []string{"50%", "a_b", "[ab]", "[a-z]", "[", "[x", "[]"} {
		if got, ok := likeLiteral(p); ok {
			t.Errorf("likeLiteral(%q) = %q, want refused (a wildcard)", p, got)
		}
	}
}
