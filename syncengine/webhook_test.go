package syncengine_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crmkit/crmkit/adapters/hubspot"
	"github.com/crmkit/crmkit/syncengine"
)

// A signed HubSpot delivery wakes the Run loop; an unsigned one is refused
// and wakes nothing.
func TestWebhookHandlerWakesTheLoop(t *testing.T) {
	const secret = "webhook-secret-for-tests"
	runs := make(chan syncengine.Report, 16)
	e := newEnvOn(t, hubspotBackend, withEngineOptions(syncengine.WithProgress(func(r syncengine.Report) {
		if !r.Finished.IsZero() {
			runs <- r
		}
	})))
	recv, err := hubspot.New(hubspot.WithPrivateAppToken("pat-na1-test"), hubspot.WithWebhookSecret(secret))
	if err != nil {
		t.Fatal(err)
	}
	h := e.eng.WebhookHandler(recv)
	ctx := t.Context()
	go func() { _ = e.eng.Run(ctx, time.Hour) }()
	<-runs

	id := e.crmCreate(e.c("Email", "hooked@example.com", "Name", "Hooked"))
	body := `[{"eventId":1,"subscriptionId":2,"portalId":3,"appId":4,"occurredAt":` + strconv.FormatInt(time.Now().UnixMilli(), 10) +
		`,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":` + id + `,"changeFlag":"CREATED","changeSource":"CRM_UI"}]`

	unsigned := httptest.NewRequest(http.MethodPost, "https://app.example.com/hooks/hubspot", strings.NewReader(body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, unsigned)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("unsigned delivery: %d, want 401", rec.Code)
	}
	select {
	case r := <-runs:
		t.Fatalf("an unverified delivery woke the loop: %v", r)
	case <-time.After(100 * time.Millisecond):
	}

	req := httptest.NewRequest(http.MethodPost, "https://app.example.com/hooks/hubspot", strings.NewReader(body))
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	req.Header.Set("X-HubSpot-Request-Timestamp", ts)
	req.Header.Set("X-HubSpot-Signature-v3", base64.StdEncoding.EncodeToString(
		hubspot.SignV3(secret, http.MethodPost, "https://app.example.com/hooks/hubspot", []byte(body), ts)))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("signed delivery: %d %s, want 204", rec.Code, rec.Body)
	}
	select {
	case r := <-runs:
		if r.Created.App != 1 {
			t.Fatalf("the woken run should bring the contact in:\n%v", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a verified delivery did not wake the loop")
	}
	if _, ok := e.appCustomers()["hooked@example.com"]; !ok {
		t.Fatal("the contact is not in the app")
	}
}
