package salesforce

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/httpx"
)

// This file is the one place where Salesforce's error answers become
// *crm.Error values: the error array of a failed REST call
// ([{"message","errorCode","fields"}]) in checkResponse, and the per-record
// errors inside sObject Collections results ({"statusCode","message",
// "fields"}) in recordError. Both classify the code with codeKinds.

// codeKinds maps each Salesforce error code crmkit knows to a crm.Kind.
// Codes not listed fall back to the HTTP status (crm.KindForStatus), or to
// KindValidation inside a DML result, where nearly every code is a problem
// with the record's data.
var codeKinds = map[string]crm.Kind{
	"INVALID_SESSION_ID":                            crm.KindUnauthorized,
	"INVALID_AUTH_HEADER":                           crm.KindUnauthorized,
	"REQUEST_LIMIT_EXCEEDED":                        crm.KindQuotaExhausted, // refined by refineKind
	"API_DISABLED_FOR_ORG":                          crm.KindForbidden,
	"API_CURRENTLY_DISABLED":                        crm.KindForbidden,
	"INSUFFICIENT_ACCESS":                           crm.KindForbidden,
	"INSUFFICIENT_ACCESS_OR_READONLY":               crm.KindForbidden,
	"INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY": crm.KindForbidden,
	"NOT_FOUND":                                     crm.KindNotFound,
	"ENTITY_IS_DELETED":                             crm.KindNotFound,
	"INVALID_TYPE":                                  crm.KindNotFound,
	"METHOD_NOT_ALLOWED":                            crm.KindUnsupported,
	"MALFORMED_QUERY":                               crm.KindInvalidRequest,
	"INVALID_QUERY_FILTER_OPERATOR":                 crm.KindInvalidRequest,
	"INVALID_QUERY_LOCATOR":                         crm.KindInvalidRequest,
	"MALFORMED_ID":                                  crm.KindInvalidRequest, // refined by refineKind
	"EXCEEDED_ID_LIMIT":                             crm.KindInvalidRequest,
	"INVALID_REPLICATION_DATE":                      crm.KindInvalidRequest,
	"MISSING_ARGUMENT":                              crm.KindInvalidRequest,
	"QUERY_TIMEOUT":                                 crm.KindUnavailable,
	"UNABLE_TO_LOCK_ROW":                            crm.KindUnavailable,
	"SERVER_UNAVAILABLE":                            crm.KindUnavailable,
	"UNKNOWN_EXCEPTION":                             crm.KindUnavailable,
	"ALL_OR_NONE_OPERATION_ROLLED_BACK":             crm.KindUnavailable,
	"PROCESSING_HALTED":                             crm.KindUnavailable,
	"INVALID_FIELD":                                 crm.KindValidation,
	"JSON_PARSER_ERROR":                             crm.KindValidation,
	"REQUIRED_FIELD_MISSING":                        crm.KindValidation,
	"INVALID_FIELD_FOR_INSERT_UPDATE":               crm.KindValidation,
	"STRING_TOO_LONG":                               crm.KindValidation,
	"INVALID_CROSS_REFERENCE_KEY":                   crm.KindValidation, // refined by refineKind
	"FIELD_CUSTOM_VALIDATION_EXCEPTION":             crm.KindValidation,
	"FIELD_INTEGRITY_EXCEPTION":                     crm.KindValidation,
	"INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST":       crm.KindValidation,
	"INVALID_EMAIL_ADDRESS":                         crm.KindValidation,
	"NUMBER_OUTSIDE_VALID_RANGE":                    crm.KindValidation,
	"CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY":          crm.KindValidation, // refined by refineKind
	"DUPLICATE_VALUE":                               crm.KindDuplicate,
	"DUPLICATES_DETECTED":                           crm.KindDuplicate,
	"DUPLICATE_EXTERNAL_ID":                         crm.KindDuplicate,
	"MULTIPLE_CHOICES":                              crm.KindDuplicate,
}

// KindOfCode classifies a Salesforce error code (errorCode or statusCode)
// as a crm.Kind; status is the HTTP status of the answer (0 for a code
// inside a DML result). It is exported so that applications which call
// Salesforce through other means classify its errors the way crmkit does.
func KindOfCode(code string, status int) crm.Kind {
	return refineKind(code, status, "", nil, false)
}

// refineKind classifies a code, using the message and fields where the code
// alone is ambiguous.
func refineKind(code string, status int, message string, fields []string, write bool) crm.Kind {
	switch code {
	case "REQUEST_LIMIT_EXCEEDED":
		// The daily allocation ("TotalRequests Limit exceeded", a 403)
		// waits for the window to roll; the concurrent long-running limit
		// and a 429 clear in seconds.
		if status == http.StatusTooManyRequests || strings.Contains(message, "Concurrent") {
			return crm.KindRateLimited
		}
		return crm.KindQuotaExhausted
	case "MALFORMED_ID":
		// A bad lookup value is the record's data; a bad record id is ours.
		for _, f := range fields {
			if !strings.EqualFold(f, "Id") {
				return crm.KindValidation
			}
		}
		return crm.KindInvalidRequest
	case "INVALID_CROSS_REFERENCE_KEY":
		// Without fields, the record being updated or deleted is missing.
		if write && len(fields) == 0 {
			return crm.KindNotFound
		}
		return crm.KindValidation
	case "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY":
		// A trigger that failed on a lock is worth another try.
		if strings.Contains(message, "UNABLE_TO_LOCK_ROW") {
			return crm.KindUnavailable
		}
		return crm.KindValidation
	}
	if k, ok := codeKinds[code]; ok {
		return k
	}
	if status == 0 {
		return crm.KindValidation
	}
	return crm.KindForStatus(status)
}

// apiError is one element of Salesforce's error array.
type apiError struct {
	Message    string   `json:"message"`
	ErrorCode  string   `json:"errorCode"`
	StatusCode string   `json:"statusCode"` // the key inside DML results
	Fields     []string `json:"fields"`
}

func (e apiError) code() string {
	if e.ErrorCode != "" {
		return e.ErrorCode
	}
	return e.StatusCode
}

// checkResponse builds the *crm.Error for a REST answer with status 400 or
// above from Salesforce's error array. It returns nil for a body it does not
// recognise (an HTML page from a proxy), which httpx then describes from the
// status alone; httpx adds the request id, Retry-After, the operation and
// the object.
func checkResponse(resp *http.Response, body []byte) *crm.Error {
	var errs []apiError
	if err := json.Unmarshal(body, &errs); err != nil || len(errs) == 0 {
		var oauth struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(body, &oauth) == nil && oauth.Error != "" {
			kind := crm.KindUnauthorized
			if resp.StatusCode >= 500 {
				kind = crm.KindUnavailable
			}
			return &crm.Error{Kind: kind, StatusCode: resp.StatusCode, Code: oauth.Error, Message: oauth.Description}
		}
		return nil
	}
	ce := buildError(errs, resp.StatusCode, false)
	if ce.Kind == crm.KindQuotaExhausted {
		ce.Message += ": the org's rolling 24-hour API allocation is spent, so Salesforce refuses calls until older calls leave the window; " +
			"stop writing and retry later, or raise the allocation"
	}
	return ce
}

// recordError builds the *crm.Error of one record's failure inside an
// sObject Collections result.
func recordError(errs []apiError) *crm.Error {
	if len(errs) == 0 {
		return &crm.Error{Kind: crm.KindUnknown, Message: "Salesforce reported the record as failed without saying why"}
	}
	ce := buildError(errs, 0, true)
	ce.Message = httpx.Redact(ce.Message) // as httpx does for whole answers
	return ce
}

func buildError(errs []apiError, status int, write bool) *crm.Error {
	e := errs[0]
	msg, fields := tidyMessage(e.Message), e.Fields
	if len(fields) == 0 {
		fields = fieldsInMessage(e.Message)
	}
	ce := &crm.Error{
		Kind:       refineKind(e.code(), status, e.Message, fields, write),
		StatusCode: status,
		Code:       e.code(),
		Message:    msg,
		Fields:     fields,
	}
	for _, more := range errs[1:] {
		ce.Message += "; also " + more.code() + ": " + tidyMessage(more.Message)
		for _, f := range more.Fields {
			if !containsFold(ce.Fields, f) {
				ce.Fields = append(ce.Fields, f)
			}
		}
	}
	return ce
}

var (
	// A SOQL error repeats the query with a caret under the problem:
	// "\nSELECT Foo FROM Account\n       ^\nERROR at Row:1:Column:8\nNo such column 'Foo' ...".
	queryErrorRE = regexp.MustCompile(`(?s)ERROR at Row:(\d+):Column:(\d+)\n(.*)$`)
	columnRE     = regexp.MustCompile(`(?:No such column|field|for field) '([A-Za-z0-9_.]+)'`)
)

// tidyMessage puts a SOQL error on one line, keeping the position; the
// query itself stays out, since its literals may be personal data.
func tidyMessage(msg string) string {
	if m := queryErrorRE.FindStringSubmatch(msg); m != nil {
		row, _ := strconv.Atoi(m[1])
		col, _ := strconv.Atoi(m[2])
		return strings.Join(strings.Fields(m[3]), " ") + " (at row " + strconv.Itoa(row) + ", column " + strconv.Itoa(col) + " of the SOQL)"
	}
	return strings.TrimSpace(msg)
}

// fieldsInMessage finds the field a message names when the error has no
// fields array, as SOQL errors do not.
func fieldsInMessage(msg string) []string {
	if m := columnRE.FindStringSubmatch(msg); m != nil {
		return []string{m[1]}
	}
	return nil
}

func containsFold(ss []string, s string) bool {
	for _, x := range ss {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
