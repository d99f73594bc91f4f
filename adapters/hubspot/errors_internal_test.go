package hubspot

import (
	"net/http"
	"testing"

	"github.com/crmkit/crmkit/crm"
)

// FuzzCheckResponse gives the error builder any body with any status: it
// must classify or defer to the default, never panic, and never leave a
// HubSpot error unclassified.
func FuzzCheckResponse(f *testing.F) {
	f.Add(400, `{"status":"error","message":"Property values were not valid: [{\"isValid\":false,\"message\":\"x\",\"error\":\"PROPERTY_DOESNT_EXIST\",\"name\":\"x\"}]","category":"VALIDATION_ERROR"}`)
	f.Add(429, `{"status":"error","message":"You have reached your daily limit.","errorType":"RATE_LIMIT","policyName":"DAILY"}`)
	f.Add(409, `{"status":"error","message":"Contact already exists. Existing ID: 1","category":"CONFLICT","context":{"ids":[1]}}`)
	f.Add(502, `<html>bad gateway</html>`)
	f.Add(400, `{"message":"x","errors":[{"context":{"propertyName":null}}],"context":[]}`)
	f.Fuzz(func(t *testing.T, status int, body string) {
		if status < 400 || status > 599 {
			return
		}
		resp := &http.Response{StatusCode: status, Header: http.Header{}}
		ce := checkResponse(resp, []byte(body))
		if ce != nil && ce.Kind == crm.KindUnknown {
			t.Fatalf("status %d body %q: unclassified %+v", status, body, ce)
		}
	})
}

func TestToError(t *testing.T) {
	cases := []struct {
		status int
		e      apiError
		kind   crm.Kind
		fields []string
	}{
		{400, apiError{Category: "VALIDATION_ERROR", Message: `Property values were not valid: [{"name":"amount"},{"name":"closedate"}]`}, crm.KindValidation, []string{"amount", "closedate"}},
		{400, apiError{Category: "VALIDATION_ERROR", Message: "Unable to infer object type from: widgets"}, crm.KindNotFound, nil},
		{400, apiError{Category: "VALIDATION_ERROR", Message: "Duplicate IDs found in batch input: [1]. IDs must be unique"}, crm.KindInvalidRequest, nil},
		{409, apiError{Category: "OBJECT_ALREADY_EXISTS", Message: "Contact already exists. Existing ID: 7"}, crm.KindDuplicate, nil},
		{477, apiError{Message: "Migration in progress"}, crm.KindUnavailable, nil},
		{429, apiError{ErrorType: "RATE_LIMIT", Message: "You have reached your secondly limit."}, crm.KindRateLimited, nil},
		{0, apiError{Category: "OBJECT_NOT_FOUND", Message: "Could not get some CONTACT objects"}, crm.KindNotFound, nil},
		{403, apiError{Category: "MISSING_SCOPES", Errors: []errorDetail{{Message: "scopes", Context: map[string][]string{"requiredGranularScopes": {"x"}}}}}, crm.KindForbidden, nil},
	}
	for _, c := range cases {
		ce := toError(c.status, &c.e)
		if ce.Kind != c.kind || len(ce.Fields) != len(c.fields) {
			t.Errorf("%d %+v: kind %q fields %v, want %q %v", c.status, c.e, ce.Kind, ce.Fields, c.kind, c.fields)
		}
		for i := range c.fields {
			if ce.Fields[i] != c.fields[i] {
				t.Errorf("fields %v, want %v", ce.Fields, c.fields)
			}
		}
	}
}
