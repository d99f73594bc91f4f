package dynamics

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/ratelimit"
	"github.com/crmkit/crmkit/internal/httpx"
)

// The Dataverse error codes the driver classifies, from the Web API's
// {"error":{"code":"0x...","message":"..."}} bodies.
const (
	CodeObjectDoesNotExist            = "0x80040217"
	CodeConcurrencyVersionMismatch    = "0x80060882"
	CodeConcurrencyVersionNotProvided = "0x80060883"
	CodeDuplicateRecord               = "0x80040237"
	CodeDuplicateRecordEntityKey      = "0x80060892"
	CodeEntityKeyNotDefined           = "0x80060890"
	CodeDuplicateRecordsFound         = "0x80040333"
	CodePicklistValueOutOfRange       = "0x8004431a"
	CodeODataClientPayloadError       = "0x80048d19"
	CodeCrmHTTPError                  = "0x8006088a"
	CodeQueryError                    = "0x80060888"
	CodePrivilegeDenied               = "0x80040220"
	CodeValidation                    = "0x80044331"
	CodeInvalidArgument               = "0x80040203"
	// The service protection limits: requests, execution time and
	// concurrent requests per user in a sliding window.
	CodeRequestsLimit      = "0x80072322"
	CodeExecutionTimeLimit = "0x80072321"
	CodeConcurrencyLimit   = "0x80072326"
)

// kindByCode classifies Dataverse's error codes. Codes are compared in lower
// case: Dataverse writes some with upper-case hex digits.
var kindByCode = map[string]crm.Kind{
	CodeObjectDoesNotExist:            crm.KindNotFound,
	CodeConcurrencyVersionMismatch:    crm.KindConflict,
	CodeConcurrencyVersionNotProvided: crm.KindConflict,
	CodeDuplicateRecord:               crm.KindDuplicate,
	CodeDuplicateRecordEntityKey:      crm.KindDuplicate,
	CodeDuplicateRecordsFound:         crm.KindDuplicate,
	CodeEntityKeyNotDefined:           crm.KindValidation,
	CodePicklistValueOutOfRange:       crm.KindValidation,
	CodeODataClientPayloadError:       crm.KindValidation,
	CodeValidation:                    crm.KindValidation,
	CodeInvalidArgument:               crm.KindValidation,
	CodeQueryError:                    crm.KindValidation,
	CodeCrmHTTPError:                  crm.KindInvalidRequest,
	CodePrivilegeDenied:               crm.KindForbidden,
	CodeRequestsLimit:                 crm.KindRateLimited,
	CodeExecutionTimeLimit:            crm.KindRateLimited,
	CodeConcurrencyLimit:              crm.KindRateLimited,
}

// fieldPatterns find the column an error message is about.
var fieldPatterns = []*regexp.Regexp{
	regexp.MustCompile(`property named '([^']+)'`),
	regexp.MustCompile(`[Tt]he property '([^']+)'`),
	regexp.MustCompile(`[Ii]nvalid property '([^']+)'`),
	regexp.MustCompile(`undeclared property '([^']+)'`),
	regexp.MustCompile(`navigation property '([^']+)'`),
	regexp.MustCompile(`length of the '([^']+)' attribute`),
	regexp.MustCompile(`of '([^']+)' on record of type`),
	regexp.MustCompile(`[Aa]ttribute '([^']+)'`),
	regexp.MustCompile(`'([^']+)' attribute`),
}

// errorBody is the Web API's error body.
type errorBody struct {
	Error struct {
		Code       string          `json:"code"`
		Message    string          `json:"message"`
		InnerError json.RawMessage `json:"innererror"`
	} `json:"error"`
}

// errorFrom builds the *crm.Error for an error response of the Web API,
// top-level or a $batch part: the one place the driver classifies errors.
// It keeps the service's request id, Retry-After, code and message (with
// secrets redacted), and names the column the message is about.
func errorFrom(status int, h http.Header, body []byte) *crm.Error {
	ce := &crm.Error{CRM: Name, StatusCode: status}
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil && (eb.Error.Code != "" || eb.Error.Message != "") {
		ce.Code = eb.Error.Code
		ce.Message = httpx.Redact(eb.Error.Message)
	} else if status == http.StatusUnauthorized {
		ce.Message = "the access token was missing, expired or not for this environment"
		if v := h.Get("WWW-Authenticate"); strings.Contains(v, "error_description") {
			ce.Message += " (" + httpx.Redact(v) + ")"
		}
	} else {
		ce.Message = httpx.DefaultCheckResponse(&http.Response{StatusCode: status}, body).Message
	}
	kind, ok := kindByCode[strings.ToLower(ce.Code)]
	switch {
	case status == http.StatusTooManyRequests:
		kind = crm.KindRateLimited
	case status == http.StatusUnauthorized:
		kind = crm.KindUnauthorized
	case status == http.StatusPreconditionFailed && strings.Contains(ce.Message, "already exists"):
		// If-None-Match: * on an existing record; documented with an empty code.
		kind = crm.KindDuplicate
	case !ok:
		kind = crm.KindForStatus(status)
	}
	ce.Kind = kind
	for _, re := range fieldPatterns {
		if m := re.FindStringSubmatch(ce.Message); m != nil {
			ce.Fields = []string{m[1]}
			break
		}
	}
	for _, name := range []string{"REQ_ID", "x-ms-service-request-id"} {
		if v := strings.TrimSpace(h.Get(name)); v != "" {
			ce.RequestID = httpx.Redact(v)
			break
		}
	}
	if v := h.Get("Retry-After"); v != "" {
		if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && secs > 0 {
			ce.RetryAfter = time.Duration(secs) * time.Second
		} else if t, err := http.ParseTime(v); err == nil {
			ce.RetryAfter = max(time.Until(t), 0)
		}
	}
	return ce
}

// checkResponse is the httpx hook for top-level error responses. A $batch
// that stopped at a failure answers with that failure's status and a
// multipart body: its parts ride along in the error, for sendBatch.
func checkResponse(resp *http.Response, body []byte) *crm.Error {
	ct := resp.Header.Get("Content-Type")
	if mt, _, _ := mime.ParseMediaType(ct); strings.EqualFold(mt, "multipart/mixed") {
		if parts, err := parseBatchResponse(ct, body); err == nil {
			for _, p := range parts {
				if p.status >= 400 {
					h := p.header.Clone()
					for _, k := range []string{"REQ_ID", "x-ms-service-request-id"} {
						if h.Get(k) == "" && resp.Header.Get(k) != "" {
							h.Set(k, resp.Header.Get(k))
						}
					}
					ce := errorFrom(p.status, h, p.body)
					ce.Err = &batchParts{parts: parts}
					return ce
				}
			}
		}
	}
	return errorFrom(resp.StatusCode, resp.Header, body)
}

// batchParts carries the operation responses of a $batch whose top-level
// status is an error.
type batchParts struct{ parts []partResponse }

func (b *batchParts) Error() string {
	return fmt.Sprintf("the $batch stopped at a failure; its response holds %d operation responses", len(b.parts))
}

// Service protection, as documented for Dataverse: 6000 requests per user
// in a 300-second sliding window.
const (
	serviceProtectionRequests = 6000
	serviceProtectionWindow   = 300 * time.Second
)

// observe reads the x-ms-ratelimit-burst-remaining-xrm-requests header,
// which says how many requests are left in the service protection window,
// for the rate limiter.
func observe(resp *http.Response) ratelimit.Observation {
	var o ratelimit.Observation
	v := strings.ReplaceAll(strings.TrimSpace(resp.Header.Get("x-ms-ratelimit-burst-remaining-xrm-requests")), ",", "")
	if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 {
		o.Remaining, o.Limit, o.Window = int64(n), serviceProtectionRequests, serviceProtectionWindow
	}
	return o
}
