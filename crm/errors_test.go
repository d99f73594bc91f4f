package crm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestErrorIsMatchesKind(t *testing.T) {
	err := fmt.Errorf("syncing: %w", &Error{Kind: KindRateLimited, RetryAfter: 3 * time.Second})
	if !errors.Is(err, ErrRateLimited) {
		t.Fatal("errors.Is(err, ErrRateLimited) = false")
	}
	if errors.Is(err, ErrNotFound) {
		t.Fatal("a rate-limit error matched ErrNotFound")
	}
	if !errors.Is(&Error{Kind: KindUnsupported}, errors.ErrUnsupported) {
		t.Fatal("an unsupported error should match errors.ErrUnsupported")
	}
	if KindOf(err) != KindRateLimited || !IsRetryable(err) {
		t.Fatalf("KindOf = %v, IsRetryable = %v", KindOf(err), IsRetryable(err))
	}
	if KindOf(context.Canceled) != KindUnknown {
		t.Fatal("a context error has no CRM kind")
	}
}

func TestEveryKindHasANameAndARemedy(t *testing.T) {
	for k := KindUnknown; k <= KindInvalidRequest; k++ {
		if strings.HasPrefix(k.String(), "Kind(") || k.Remedy() == "" {
			t.Errorf("kind %d has no name or remedy", k)
		}
	}
	retryable := map[Kind]bool{KindRateLimited: true, KindUnavailable: true}
	for k := KindUnknown; k <= KindInvalidRequest; k++ {
		if k.Retryable() != retryable[k] {
			t.Errorf("%v.Retryable() = %v", k, k.Retryable())
		}
	}
}

func TestErrorMessageNamesEverything(t *testing.T) {
	e := &Error{Kind: KindValidation, CRM: "salesforce", Operation: "update", Object: "Contact", RecordID: "003xx",
		StatusCode: 400, Code: "FIELD_CUSTOM_VALIDATION_EXCEPTION", Message: "Email is invalid", Fields: []string{"Email"}, RequestID: "req-1"}
	want := "salesforce: update Contact 003xx: validation (400 FIELD_CUSTOM_VALIDATION_EXCEPTION): Email is invalid [fields: Email] (request id req-1)"
	if e.Error() != want {
		t.Fatalf("Error() =\n%s\nwant\n%s", e.Error(), want)
	}
}

func TestKindForStatus(t *testing.T) {
	for status, want := range map[int]Kind{
		401: KindUnauthorized, 403: KindForbidden, 404: KindNotFound, 409: KindConflict, 412: KindConflict,
		429: KindRateLimited, 400: KindValidation, 500: KindUnavailable, 503: KindUnavailable, 423: KindUnavailable,
		418: KindInvalidRequest, http.StatusNotImplemented: KindUnsupported, 200: KindUnknown,
	} {
		if got := KindForStatus(status); got != want {
			t.Errorf("KindForStatus(%d) = %v, want %v", status, got, want)
		}
	}
}
