package hubspot_test

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crmkit/crmkit/adapters/hubspot"
	"github.com/crmkit/crmkit/adapters/hubspot/hubspottest"
	"github.com/crmkit/crmkit/crm"
)

// The test vectors HubSpot's documentation and client libraries publish.
const (
	vectorSecret = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
	vectorV1Body = `[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]`
	vectorV1     = "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"
	vectorV2GET  = "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"
	vectorV2POST = "9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900"
	vectorV3     = "rQEKkaNUiu+1qGF//O/pw4BCzstSqO1PyUnGICmf+7o="
	vectorURL    = "https://www.example.com/webhook_uri"
	vectorBody   = `{"example_field":"example_value"}`
	vectorTime   = "1700000000000"
)

func TestSignatureVectors(t *testing.T) {
	if got := hex.EncodeToString(hubspot.SignV1(vectorSecret, []byte(vectorV1Body))); got != vectorV1 {
		t.Errorf("v1 = %s, want %s", got, vectorV1)
	}
	if got := hex.EncodeToString(hubspot.SignV2(vectorSecret, "GET", vectorURL, nil)); got != vectorV2GET {
		t.Errorf("v2 GET = %s, want %s", got, vectorV2GET)
	}
	if got := hex.EncodeToString(hubspot.SignV2(vectorSecret, "POST", vectorURL, []byte(vectorBody))); got != vectorV2POST {
		t.Errorf("v2 POST = %s, want %s", got, vectorV2POST)
	}
	if got := base64.StdEncoding.EncodeToString(hubspot.SignV3(vectorSecret, "POST", vectorURL, []byte(vectorBody), vectorTime)); got != vectorV3 {
		t.Errorf("v3 = %s, want %s", got, vectorV3)
	}
}

func receiver(t testing.TB, secret string, now time.Time, opts ...hubspot.Option) *hubspot.Driver {
	t.Helper()
	base := []hubspot.Option{hubspot.WithPrivateAppToken("pat-na1-test"), hubspot.WithWebhookSecret(secret), hubspot.WithClock(func() time.Time { return now })}
	d, err := hubspot.New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func delivery(method, body string, headers ...string) *http.Request {
	r := httptest.NewRequest(method, vectorURL, strings.NewReader(body))
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	return r
}

func TestReceiveWebhookSignatures(t *testing.T) {
	at := time.UnixMilli(1700000000000)
	d := receiver(t, vectorSecret, at.Add(time.Minute), hubspot.WithWebhookRequireV3(false))
	cases := []struct {
		name string
		req  *http.Request
		ok   bool
	}{
		{"v1 valid", delivery("POST", vectorV1Body, "X-HubSpot-Signature", vectorV1, "X-HubSpot-Signature-Version", "v1"), true},
		{"v1 tampered body", delivery("POST", strings.Replace(vectorV1Body, "123", "124", 1), "X-HubSpot-Signature", vectorV1, "X-HubSpot-Signature-Version", "v1"), false},
		{"v1 wrong signature", delivery("POST", vectorV1Body, "X-HubSpot-Signature", vectorV2POST, "X-HubSpot-Signature-Version", "v1"), false},
		{"v2 valid", delivery("POST", vectorBody, "X-HubSpot-Signature", vectorV2POST, "X-HubSpot-Signature-Version", "v2"), true},
		{"v2 other URL", func() *http.Request {
			r := delivery("POST", vectorBody, "X-HubSpot-Signature", vectorV2POST, "X-HubSpot-Signature-Version", "v2")
			r.URL.Path = "/other"
			return r
		}(), false},
		{"v3 valid", delivery("POST", vectorBody, "X-HubSpot-Signature-v3", vectorV3, "X-HubSpot-Request-Timestamp", vectorTime), true},
		{"v3 tampered body", delivery("POST", vectorBody+" ", "X-HubSpot-Signature-v3", vectorV3, "X-HubSpot-Request-Timestamp", vectorTime), false},
		{"v3 tampered timestamp", delivery("POST", vectorBody, "X-HubSpot-Signature-v3", vectorV3, "X-HubSpot-Request-Timestamp", "1700000000001"), false},
		{"v3 without timestamp", delivery("POST", vectorBody, "X-HubSpot-Signature-v3", vectorV3), false},
		{"unsigned", delivery("POST", vectorV1Body), false},
		{"unknown version", delivery("POST", vectorV1Body, "X-HubSpot-Signature", vectorV1, "X-HubSpot-Signature-Version", "v9"), false},
		{"v1 with v3 stripped", delivery("POST", vectorV1Body, "X-HubSpot-Signature", vectorV1, "X-HubSpot-Signature-Version", "v1", "X-HubSpot-Request-Timestamp", vectorTime), false},
		{"v2 with v3 stripped", delivery("POST", vectorBody, "X-HubSpot-Signature", vectorV2POST, "X-HubSpot-Signature-Version", "v2", "X-HubSpot-Request-Timestamp", vectorTime), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := d.ReceiveWebhook(t.Context(), c.req)
			if c.ok && err != nil && !errors.Is(err, crm.ErrInvalidRequest) {
				t.Errorf("refused a valid delivery: %v", err)
			}
			if !c.ok && !errors.Is(err, crm.ErrUnauthorized) {
				t.Errorf("got %v, want KindUnauthorized", err)
			}
		})
	}
	t.Run("stale", func(t *testing.T) {
		late := receiver(t, vectorSecret, at.Add(5*time.Minute+time.Second))
		_, err := late.ReceiveWebhook(t.Context(), delivery("POST", vectorBody, "X-HubSpot-Signature-v3", vectorV3, "X-HubSpot-Request-Timestamp", vectorTime))
		if !errors.Is(err, crm.ErrUnauthorized) {
			t.Errorf("a delivery 5m1s old: %v, want KindUnauthorized", err)
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		other := receiver(t, "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz", at, hubspot.WithWebhookRequireV3(false))
		for _, r := range []*http.Request{
			delivery("POST", vectorV1Body, "X-HubSpot-Signature", vectorV1, "X-HubSpot-Signature-Version", "v1"),
			delivery("POST", vectorBody, "X-HubSpot-Signature-v3", vectorV3, "X-HubSpot-Request-Timestamp", vectorTime),
		} {
			if _, err := other.ReceiveWebhook(t.Context(), r); !errors.Is(err, crm.ErrUnauthorized) {
				t.Errorf("another app's secret: %v, want KindUnauthorized", err)
			}
		}
	})
	t.Run("decoded", func(t *testing.T) {
		cs, err := d.ReceiveWebhook(t.Context(), delivery("POST", vectorV1Body, "X-HubSpot-Signature", vectorV1))
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != 1 || cs[0].Kind != crm.ChangeCreated || cs[0].Record.Object != "contacts" || cs[0].Record.ID != "123" ||
			!cs[0].Record.ModifiedAt.Equal(time.UnixMilli(1564113600000)) {
			t.Errorf("changes %+v", cs)
		}
	})
}

// TestWebhookRequiresV3ByDefault replays deliveries signed only with v1 or
// v2, which carry no timestamp, to a receiver built without options: they
// must be refused, while a fresh v3 delivery is accepted.
func TestWebhookRequiresV3ByDefault(t *testing.T) {
	at := time.UnixMilli(1700000000000)
	d := receiver(t, vectorSecret, at.Add(time.Minute))
	for name, r := range map[string]*http.Request{
		"v1":              delivery("POST", vectorV1Body, "X-HubSpot-Signature", vectorV1, "X-HubSpot-Signature-Version", "v1"),
		"v1 no version":   delivery("POST", vectorV1Body, "X-HubSpot-Signature", vectorV1),
		"v2":              delivery("POST", vectorBody, "X-HubSpot-Signature", vectorV2POST, "X-HubSpot-Signature-Version", "v2"),
		"v1, v3 stripped": delivery("POST", vectorV1Body, "X-HubSpot-Signature", vectorV1, "X-HubSpot-Request-Timestamp", vectorTime),
	} {
		if cs, err := d.ReceiveWebhook(t.Context(), r); !errors.Is(err, crm.ErrUnauthorized) || cs != nil {
			t.Errorf("%s-only delivery: %v, %v; want KindUnauthorized", name, cs, err)
		}
	}
	r := delivery("POST", vectorBody, "X-HubSpot-Signature-v3", vectorV3, "X-HubSpot-Request-Timestamp", vectorTime)
	if _, err := d.ReceiveWebhook(t.Context(), r); err != nil && !errors.Is(err, crm.ErrInvalidRequest) {
		t.Errorf("a fresh v3 delivery was refused: %v", err)
	}
}

// TestWebhooksEndToEnd: the emulator sends signed event batches (v1, v3)
// to a real server whose handler is the driver's receiver.
func TestWebhooksEndToEnd(t *testing.T) {
	const secret = "app-secret"
	srv := hubspottest.New(t, hubspottest.WithApp("client-id", secret, "http://localhost/cb"))
	drv := newDriver(t, srv, hubspot.WithWebhookSecret(secret))
	legacy := newDriver(t, srv, hubspot.WithWebhookSecret(secret), hubspot.WithWebhookRequireV3(false))
	for _, d := range []*hubspot.Driver{drv, legacy} {
		if _, err := d.Describe(t.Context(), "contacts"); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var got []crm.Change
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := drv
		if r.URL.Query().Get("legacy") != "" {
			d = legacy
		}
		cs, err := d.ReceiveWebhook(r.Context(), r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		mu.Lock()
		got = append(got, cs...)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()

	events := []hubspottest.Event{
		{SubscriptionType: "contact.creation", ObjectID: 101, ChangeFlag: "NEW"},
		{SubscriptionType: "contact.propertyChange", ObjectID: 101, PropertyName: "lifecyclestage", PropertyValue: hubspottest.PropertyValue("lead")},
		{SubscriptionType: "deal.deletion", ObjectID: 202},
	}
	for _, c := range []struct {
		version, query string
		status         int
	}{
		{"v3", "", http.StatusNoContent},
		{"v1", "", http.StatusUnauthorized}, // v3 is required by default
		{"v1", "&legacy=1", http.StatusNoContent},
	} {
		status, err := srv.SendWebhook(t.Context(), hook.URL+"/hooks/hubspot?tenant=a%40b"+c.query, c.version, events...)
		if err != nil || status != c.status {
			t.Fatalf("%s delivery (%q): status %d, %v; want %d", c.version, c.query, status, err, c.status)
		}
	}
	if len(got) != 6 {
		t.Fatalf("got %d changes for two deliveries of 3 events: %+v", len(got), got)
	}
	if c := got[1]; c.Kind != crm.ChangeUpdated || c.Record.Fields["lifecyclestage"] != "lead" {
		t.Errorf("property change: %+v", c.Record)
	}
	if c := got[2]; c.Kind != crm.ChangeDeleted || c.Record.Object != "deals" || c.Record.ID != "202" || !c.Record.Deleted {
		t.Errorf("deletion: %+v", c.Record)
	}
	// A delivery signed with another secret is refused.
	other := hubspottest.New(t, hubspottest.WithApp("client-id", "not-the-secret", ""))
	if status, err := other.SendWebhook(t.Context(), hook.URL, "v3", events...); err != nil || status != http.StatusUnauthorized {
		t.Errorf("a delivery signed with another secret: status %d, %v; want 401", status, err)
	}
}
