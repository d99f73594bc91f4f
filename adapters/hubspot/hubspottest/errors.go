package hubspottest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/crmkit/crmkit/crm"
)

// The error categories HubSpot puts in its error bodies.
const (
	catValidation     = "VALIDATION_ERROR"
	catNotFound       = "OBJECT_NOT_FOUND"
	catConflict       = "CONFLICT"
	catInvalidAuth    = "INVALID_AUTHENTICATION"
	catExpiredAuth    = "EXPIRED_AUTHENTICATION"
	catMissingScopes  = "MISSING_SCOPES"
	catRateLimits     = "RATE_LIMITS"
	catInternal       = "INTERNAL_ERROR"
	catLocked         = "LOCKED"
	catServiceUnavail = "SERVICE_UNAVAILABLE"
)

// The 429 policies.
const (
	PolicyTenSecondly = "TEN_SECONDLY_ROLLING"
	PolicyDaily       = "DAILY"
	PolicySecondly    = "SECONDLY"
)

// apiError is HubSpot's error envelope. Every field but status and message
// is optional on the wire.
type apiError struct {
	Status        string         `json:"status"`
	Message       string         `json:"message"`
	CorrelationID string         `json:"correlationId,omitempty"`
	Category      string         `json:"category,omitempty"`
	SubCategory   string         `json:"subCategory,omitempty"`
	ErrorType     string         `json:"errorType,omitempty"`
	PolicyName    string         `json:"policyName,omitempty"`
	GroupName     string         `json:"groupName,omitempty"`
	RequestID     string         `json:"requestId,omitempty"`
	Errors        []errorDetail  `json:"errors,omitempty"`
	Context       map[string]any `json:"context,omitempty"`
	Links         map[string]any `json:"links,omitempty"`

	httpStatus int
}

type errorDetail struct {
	Message string              `json:"message"`
	Code    string              `json:"code,omitempty"`
	In      string              `json:"in,omitempty"`
	Context map[string][]string `json:"context,omitempty"`
}

func (e *apiError) Error() string { return e.Category + ": " + e.Message }

func newError(status int, category, format string, args ...any) *apiError {
	return &apiError{Status: "error", Category: category, Message: fmt.Sprintf(format, args...), httpStatus: status}
}

func correlationID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// writeJSON sends v with HubSpot's content type.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError sends an error body, with its correlation id also in
// X-HubSpot-Correlation-Id.
func writeError(w http.ResponseWriter, e *apiError) {
	if e.CorrelationID == "" {
		e.CorrelationID = correlationID()
	}
	w.Header().Set("X-HubSpot-Correlation-Id", e.CorrelationID)
	status := e.httpStatus
	if status == 0 {
		status = http.StatusBadRequest
	}
	writeJSON(w, status, e)
}

// invalidProperties is the VALIDATION_ERROR HubSpot sends for bad property
// values: the message embeds the list of failures as JSON, and errors[]
// names each property.
func invalidProperties(errs []propError) *apiError {
	type item struct {
		IsValid bool   `json:"isValid"`
		Message string `json:"message"`
		Error   string `json:"error"`
		Name    string `json:"name"`
	}
	items := make([]item, len(errs))
	e := newError(http.StatusBadRequest, catValidation, "")
	for i, pe := range errs {
		items[i] = item{Message: pe.message, Error: pe.code, Name: pe.name}
		e.Errors = append(e.Errors, errorDetail{Message: pe.message, Code: pe.code,
			Context: map[string][]string{"propertyName": {pe.name}}})
	}
	b, _ := json.Marshal(items)
	e.Message = "Property values were not valid: " + string(b)
	return e
}

func unknownType(name string) *apiError {
	return newError(http.StatusBadRequest, catValidation, "Unable to infer object type from: %s", name)
}

func notFound(id string) *apiError {
	e := newError(http.StatusNotFound, catNotFound, "Object not found.  objectId are usually numeric.")
	e.Context = map[string]any{"id": []string{id}}
	return e
}

func badRequest(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, catValidation, format, args...)
}

func unauthorized() *apiError {
	return newError(http.StatusUnauthorized, catInvalidAuth,
		"Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview")
}

func expiredToken() *apiError {
	return newError(http.StatusUnauthorized, catExpiredAuth, "The OAuth token used to make this call expired 5 minute(s) ago.")
}

// rateLimited is the 429 body of a policy, as HubSpot sends it: errorType
// and policyName, no category.
func rateLimited(policy string, appID, portalID int64) *apiError {
	e := &apiError{Status: "error", ErrorType: "RATE_LIMIT", PolicyName: policy, httpStatus: http.StatusTooManyRequests}
	switch policy {
	case PolicyDaily:
		e.Message = "You have reached your daily limit."
		e.RequestID = correlationID()
	case PolicySecondly:
		e.Message = "You have reached your secondly limit."
	default:
		e.PolicyName = PolicyTenSecondly
		e.Message = "You have reached your ten_secondly_rolling limit."
		e.GroupName = fmt.Sprintf("publicapi:private_app-api-calls-ten-secondly:%d:%d", appID, portalID)
	}
	return e
}

// faultError is the body HubSpot sends with an injected status.
func faultError(status int) *apiError {
	switch status {
	case http.StatusBadRequest:
		return badRequest("There was a problem with the request.")
	case http.StatusUnauthorized:
		return unauthorized()
	case http.StatusForbidden:
		e := newError(status, catMissingScopes, "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.")
		e.Errors = []errorDetail{{Message: "One or more of the following scopes are required.", Context: map[string][]string{"requiredGranularScopes": {"crm.objects.contacts.write"}}}}
		return e
	case http.StatusNotFound:
		return notFound("0")
	case http.StatusConflict:
		return newError(status, catConflict, "Conflict.")
	case http.StatusLocked:
		return newError(status, catLocked, "Too many writes to one object in a short time; wait at least 2 seconds.")
	case 477:
		return newError(status, "MIGRATION_IN_PROGRESS", "This portal is being migrated; retry after the time in Retry-After.")
	}
	if status >= 500 {
		if status == http.StatusServiceUnavailable || status == http.StatusBadGateway || status == http.StatusGatewayTimeout {
			return newError(status, catServiceUnavail, "The service is temporarily unavailable.")
		}
		return newError(status, catInternal, "internal error")
	}
	return newError(status, catValidation, "%s", http.StatusText(status))
}

// fromStore turns a memstore failure into HubSpot's error for it.
func (ot *objectType) fromStore(err error) *apiError {
	var ce *crm.Error
	if !errors.As(err, &ce) {
		return newError(http.StatusInternalServerError, catInternal, "internal error")
	}
	switch ce.Kind {
	case crm.KindNotFound:
		return notFound(ce.RecordID)
	case crm.KindDuplicate:
		prop := "value"
		if len(ce.Fields) > 0 {
			prop = ce.Fields[0]
		}
		return newError(http.StatusConflict, catConflict, "%s already exists with that %s.", ot.singular, prop)
	case crm.KindValidation:
		var errs []propError
		for _, f := range ce.Fields {
			errs = append(errs, propError{name: f, code: "INVALID_VALUE", message: ce.Message})
		}
		if len(errs) == 0 {
			return badRequest("%s", ce.Message)
		}
		return invalidProperties(errs)
	}
	return badRequest("%s", strings.TrimSpace(ce.Message))
}
