package hubspot

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// apiError is HubSpot's error envelope, and the StandardError of a batch's
// errors[]. HubSpot says every field is optional, so it is read leniently:
// a 429 carries errorType and policyName rather than a category.
type apiError struct {
	Status        string          `json:"status"`
	Message       string          `json:"message"`
	CorrelationID string          `json:"correlationId"`
	Category      string          `json:"category"`
	SubCategory   any             `json:"subCategory"`
	ErrorType     string          `json:"errorType"`
	PolicyName    string          `json:"policyName"`
	Errors        []errorDetail   `json:"errors"`
	Context       json.RawMessage `json:"context"`
}

type errorDetail struct {
	Message string              `json:"message"`
	Code    string              `json:"code"`
	In      string              `json:"in"`
	Context map[string][]string `json:"context"`
}

// errorContext is the part of an error's context the driver reads.
type errorContext struct {
	IDs          []string `json:"ids"`
	ID           []string `json:"id"`
	TraceIDs     []string `json:"objectWriteTraceId"`
	PropertyName []string `json:"propertyName"`
}

func (e *apiError) context() errorContext {
	var c errorContext
	if len(e.Context) > 0 {
		_ = json.Unmarshal(e.Context, &c)
	}
	return c
}

// checkResponse is httpx's CheckResponse: every HubSpot error status becomes
// a *crm.Error here, from the body when it is HubSpot's JSON.
func checkResponse(resp *http.Response, body []byte) *crm.Error {
	var e apiError
	if err := json.Unmarshal(body, &e); err != nil || (e.Message == "" && e.Category == "" && e.ErrorType == "") {
		return nil // not HubSpot's JSON (a proxy's page): httpx's default
	}
	ce := toError(resp.StatusCode, &e)
	if ce.Kind == crm.KindRateLimited && ce.RetryAfter == 0 {
		ce.RetryAfter = rateLimitWait(&e, resp.Header)
	}
	return ce
}

// toError is the one place a HubSpot error becomes a *crm.Error: a whole
// response's error, and each input's error in a 207. status is 0 for an
// error inside a batch response.
//
// The kind comes from the category (or, for a 429, the policy), then the
// status: VALIDATION_ERROR is KindValidation, except the two that are about
// the request rather than the data (an object type HubSpot does not know,
// KindNotFound; duplicate ids in a batch, KindInvalidRequest);
// INVALID_AUTHENTICATION and EXPIRED_AUTHENTICATION are KindUnauthorized;
// MISSING_SCOPES KindForbidden; OBJECT_NOT_FOUND KindNotFound; CONFLICT and
// OBJECT_ALREADY_EXISTS KindDuplicate (HubSpot's 409 means "a record with
// that unique value exists"); a 429 whose policy is DAILY is
// KindQuotaExhausted, any other KindRateLimited; 423 (locked) and 477
// (migration in progress) KindUnavailable. The correlation id is kept as
// RequestID, and the properties the error names as Fields.
func toError(status int, e *apiError) *crm.Error {
	ce := &crm.Error{
		CRM:        Name,
		StatusCode: status,
		Code:       e.Category,
		Message:    e.Message,
		RequestID:  e.CorrelationID,
		Fields:     errorFields(e),
	}
	if ce.Code == "" {
		ce.Code = e.ErrorType
	}
	if e.PolicyName != "" {
		ce.Code += "/" + e.PolicyName
	}
	if ce.Message == "" && len(e.Errors) > 0 {
		ce.Message = e.Errors[0].Message
	}
	ce.Kind = kindOf(status, e)
	return ce
}

func kindOf(status int, e *apiError) crm.Kind {
	if status == http.StatusTooManyRequests || e.ErrorType == "RATE_LIMIT" || e.Category == "RATE_LIMITS" {
		if strings.EqualFold(e.PolicyName, "DAILY") || strings.Contains(strings.ToLower(e.Message), "daily limit") {
			return crm.KindQuotaExhausted
		}
		return crm.KindRateLimited
	}
	switch e.Category {
	case "VALIDATION_ERROR":
		switch {
		case strings.HasPrefix(e.Message, "Unable to infer object type"):
			return crm.KindNotFound
		case strings.HasPrefix(e.Message, "Duplicate IDs found in batch input"):
			return crm.KindInvalidRequest
		}
		return crm.KindValidation
	case "INVALID_AUTHENTICATION", "EXPIRED_AUTHENTICATION":
		return crm.KindUnauthorized
	case "MISSING_SCOPES", "FORBIDDEN":
		return crm.KindForbidden
	case "OBJECT_NOT_FOUND":
		return crm.KindNotFound
	case "CONFLICT", "OBJECT_ALREADY_EXISTS":
		return crm.KindDuplicate
	}
	switch status {
	case 0:
		return crm.KindUnknown
	case http.StatusConflict:
		return crm.KindDuplicate
	case http.StatusLocked, 477:
		return crm.KindUnavailable
	}
	return crm.KindForStatus(status)
}

// errorFields collects the properties an error names: errors[].context
// .propertyName, the error's own context, and the list HubSpot embeds in a
// "Property values were not valid: [...]" message.
func errorFields(e *apiError) []string {
	var out []string
	add := func(names ...string) {
		for _, n := range names {
			if n != "" && !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	for _, d := range e.Errors {
		add(d.Context["propertyName"]...)
	}
	add(e.context().PropertyName...)
	if rest, ok := strings.CutPrefix(e.Message, "Property values were not valid: "); ok {
		var items []struct {
			Name string `json:"name"`
		}
		if json.Unmarshal([]byte(rest), &items) == nil {
			for _, it := range items {
				add(it.Name)
			}
		}
	}
	return out
}

// rateLimitWait is how long to wait after a 429 that carried no Retry-After
// (HubSpot's REST API documents none): the window of the ten-secondly limit,
// from X-HubSpot-RateLimit-Interval-Milliseconds or 10 seconds; one second
// for search's per-second limit.
func rateLimitWait(e *apiError, h http.Header) time.Duration {
	if e.PolicyName == "SECONDLY" || strings.Contains(strings.ToLower(e.Message), "secondly limit") && !strings.Contains(strings.ToLower(e.Message), "ten_secondly") {
		return time.Second
	}
	if ms, err := strconv.ParseInt(h.Get("X-HubSpot-RateLimit-Interval-Milliseconds"), 10, 64); err == nil && ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return 10 * time.Second
}
