package httpx_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/retry"
	"github.com/crmkit/crmkit/internal/httpx"
)

// An adapter builds one Client and sends every request through Do.
func Example() {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // a transient failure, retried
			return
		}
		io.WriteString(w, `{"totalSize":0,"done":true,"records":[]}`)
	}))
	defer srv.Close()

	c, err := httpx.New(httpx.Config{
		CRM:              "salesforce",
		Retry:            retry.New(retry.WithBackoff(0, 0)),
		RequestIDHeaders: []string{"Sforce-Call-Id"},
	})
	if err != nil {
		panic(err)
	}
	ctx := httpx.WithOperation(context.Background(), "query", "Contact")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/services/data/v62.0/query?q=SELECT+Id+FROM+Contact", nil)
	resp, err := c.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body), "after", calls.Load(), "attempts")
	// Output: 200 {"totalSize":0,"done":true,"records":[]} after 2 attempts
}

// A failed call is a *crm.Error that names the CRM, the operation, the kind,
// the status and the CRM's request id; secrets in the body are redacted.
func ExampleClient_Do_error() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Sforce-Call-Id", "call-42")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `Session expired or invalid: Bearer 00D5g000004ABCD!AQ8AQxyz`)
	}))
	defer srv.Close()

	c, _ := httpx.New(httpx.Config{CRM: "salesforce", RequestIDHeaders: []string{"Sforce-Call-Id"}})
	req, _ := http.NewRequestWithContext(httpx.WithOperation(context.Background(), "get", "Account"), http.MethodGet, srv.URL, nil)
	_, err := c.Do(req)

	var ce *crm.Error
	if errors.As(err, &ce) {
		fmt.Println(errors.Is(err, crm.ErrUnauthorized), ce.RequestID)
		fmt.Println(err)
	}
	// Output:
	// true call-42
	// salesforce: get Account: unauthorized (401): Session expired or invalid: Bearer [REDACTED] (request id call-42)
}

func ExampleRedact() {
	fmt.Println(httpx.Redact(`grant_type=refresh_token&refresh_token=5Aep861KIwKdekr&client_secret=9A1B2C`))
	fmt.Println(httpx.Redact(`{"access_token":"00D5g000004ABCD!AQ8AQxyz","instance_url":"https://na1.salesforce.com"}`))
	// Output:
	// grant_type=refresh_token&refresh_token=[REDACTED]&client_secret=[REDACTED]
	// {"access_token":"[REDACTED]","instance_url":"https://na1.salesforce.com"}
}

// An upsert by external id is safe to repeat although its method is PATCH:
// the adapter marks that one request, and Do retries it after a 503.
func ExampleMarkIdempotent() {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	c, _ := httpx.New(httpx.Config{CRM: "salesforce", Retry: retry.New(retry.WithBackoff(0, 0))})
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPatch,
		srv.URL+"/services/data/v62.0/sobjects/Contact/Email__c/ada@example.com", strings.NewReader(`{"LastName":"Lovelace"}`))
	httpx.MarkIdempotent(req)
	resp, err := c.Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, "after", calls.Load(), "attempts")
	// Output: 204 after 2 attempts
}
