package salesforce

import (
	"net/http"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// FuzzCheckResponse: any error body, however malformed, gives either nil
// (for httpx to describe by status) or a classified *crm.Error; never a
// panic.
func FuzzCheckResponse(f *testing.F) {
	f.Add(400, `[{"message":"Required fields are missing: [Name]","errorCode":"REQUIRED_FIELD_MISSING","fields":["Name"]}]`)
	f.Add(400, "[{\"message\":\"\\nSELECT Foo FROM Account\\n       ^\\nERROR at Row:1:Column:8\\nNo such column 'Foo' on entity 'Account'\",\"errorCode\":\"INVALID_FIELD\"}]")
	f.Add(401, `{"error":"invalid_grant","error_description":"authentication failure"}`)
	f.Add(503, `<html>busy</html>`)
	f.Add(403, `[{"message":"x","errorCode":"REQUEST_LIMIT_EXCEEDED"},{"message":"y","errorCode":"OTHER","fields":[1]}]`)
	f.Fuzz(func(t *testing.T, status int, body string) {
		if status < 400 || status > 599 {
			return
		}
		ce := checkResponse(&http.Response{StatusCode: status, Header: http.Header{}}, []byte(body))
		if ce != nil && ce.Kind == crm.KindUnknown && ce.Code != "" {
			t.Fatalf("code %q left unclassified", ce.Code)
		}
	})
}

// FuzzDecodeCursor: a change cursor that is not one of ours is refused with
// KindInvalidRequest, and one of ours decodes to what was encoded.
func FuzzDecodeCursor(f *testing.F) {
	mark := time.Date(2026, 1, 2, 3, 4, 5, 6000000, time.UTC).UnixMilli()
	c := feedCursor{hasMark: true, mark: mark, posMS: mark, window: mark - 10,
		seen: []seenRow{{ms: mark - 5, hash: 7}, {ms: mark, hash: 42}}}
	f.Add(c.encode())
	f.Add("")
	f.Add("eyJ2IjoxfQ")
	f.Add("eyJ2IjoxLCJtIjoiMjAyNi0wMS0wMlQwMzowNDowNS4wMDZaIn0")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodeCursor("Contact", s)
		if err != nil {
			if crm.KindOf(err) != crm.KindInvalidRequest {
				t.Fatalf("error %v is not KindInvalidRequest", err)
			}
			return
		}
		again := c.encode()
		c2, err := decodeCursor("Contact", again)
		if err != nil {
			t.Fatalf("re-encoding %q does not read back: %v", s, err)
		}
		if c2.encode() != again || c2.mark != c.mark || c2.posMS != c.posMS || len(c2.seen) != len(c.seen) {
			t.Fatalf("re-encoding %q changed it: %+v, then %+v", s, c, c2)
		}
	})
}

func FuzzParseBulkError(f *testing.F) {
	f.Add("REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --")
	f.Add("STRING_TOO_LONG:Name: data value too large: a:b:c (max length=80):Name --")
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, s string) {
		e := parseBulkError(s)
		if e.code() == "" {
			t.Fatalf("no code for %q", s)
		}
	})
}

func TestParseBulkError(t *testing.T) {
	e := parseBulkError("STRING_TOO_LONG:Name: data value too large: a:b (max length=80):Name --")
	if e.StatusCode != "STRING_TOO_LONG" || e.Message != "Name: data value too large: a:b (max length=80)" || len(e.Fields) != 1 || e.Fields[0] != "Name" {
		t.Errorf("%+v", e)
	}
	e = parseBulkError("UNABLE_TO_LOCK_ROW:unable to obtain exclusive access: --")
	if e.StatusCode != "UNABLE_TO_LOCK_ROW" || len(e.Fields) != 0 {
		t.Errorf("%+v", e)
	}
}
