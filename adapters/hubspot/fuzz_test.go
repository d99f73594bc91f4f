package hubspot_test

import (
	"encoding/hex"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/crmkit/crmkit/adapters/hubspot"
	"github.com/crmkit/crmkit/adapters/hubspot/hubspottest"
	"github.com/crmkit/crmkit/crm"
)

// FuzzReceiveWebhook feeds correctly signed deliveries with any body: the
// receiver must decode them or refuse them with KindInvalidRequest, never
// panic.
func FuzzReceiveWebhook(f *testing.F) {
	f.Add(vectorV1Body)
	f.Add(`[{"subscriptionType":"contact.merge","objectId":1,"mergedObjectIds":[1,2,3],"primaryObjectId":1}]`)
	f.Add(`[{"eventType":"object.propertyChange","objectTypeId":"2-123","objectId":9,"propertyName":"x","propertyValue":null}]`)
	f.Add(`{"not":"an array"}`)
	f.Add(`[`)
	d := receiver(f, vectorSecret, time.Now(), hubspot.WithWebhookRequireV3(false))
	f.Fuzz(func(t *testing.T, body string) {
		sig := hex.EncodeToString(hubspot.SignV1(vectorSecret, []byte(body)))
		r := httptest.NewRequest("POST", vectorURL, strings.NewReader(body))
		r.Header.Set("X-HubSpot-Signature", sig)
		cs, err := d.ReceiveWebhook(t.Context(), r)
		if err != nil && !errors.Is(err, crm.ErrInvalidRequest) {
			t.Fatalf("a signed delivery was refused with %v", err)
		}
		for _, c := range cs {
			if c.Record == nil || c.Record.ID == "" || c.Record.Object == "" {
				t.Fatalf("a change without a record, id or object: %+v", c)
			}
		}
	})
}

// FuzzCursor resumes queries and change feeds from any cursor text: the
// driver must answer with a page or an error, never panic or loop.
func FuzzCursor(f *testing.F) {
	f.Add("")
	f.Add("eyJ2IjoxLCJtIjoib2Zmc2V0IiwiYSI6Ijk5OTkiLCJsbyI6IngifQ") // offset mode near the cap
	f.Add("eyJ2IjoxLCJwIjoiZGVsIiwiYSI6Ii0xIn0")                    // a delete scan with a bad after
	f.Add("not base64 at all")
	f.Add("eyJ2IjoxLCJtIjoib2Zmc2V0IiwiciI6dHJ1ZSwiYSI6IjAifQ") // a restart on an unordered search
	f.Add("eyJ2IjoxLCJtIjoib2Zmc2V0IiwiYSI6Ii01In0")            // a negative offset
	srv := hubspottest.NewInProcess(f, testProps...)
	if _, err := srv.Seed("contacts", map[string]string{"firstname": "a"}, map[string]string{"firstname": "b"}); err != nil {
		f.Fatal(err)
	}
	drv := newDriver(f, srv)
	f.Fuzz(func(t *testing.T, cursor string) {
		for _, q := range []crm.Query{
			{Object: "contacts"},
			{Object: "contacts", Where: crm.NotNull("firstname")},
			{Object: "contacts", Where: crm.NotNull("firstname"), OrderBy: []crm.Order{crm.Desc("firstname")}},
			{Object: "contacts", Where: crm.And( // one full group: pages by offset without an order
				crm.NotNull("firstname"), crm.NotNull("lastname"), crm.NotNull("email"),
				crm.NotNull("crmkit_score"), crm.NotNull("crmkit_external_id"), crm.NotNull("createdate"))},
		} {
			p, err := drv.Query(t.Context(), crm.QueryRequest{Query: q, Cursor: cursor, PageSize: 1})
			if err == nil && p == nil {
				t.Fatal("Query returned neither a page nor an error")
			}
		}
		p, err := drv.Changes(t.Context(), crm.ChangesRequest{Object: "contacts", Cursor: cursor, PageSize: 1})
		if err == nil && (p == nil || p.Cursor == "") {
			t.Fatal("Changes returned no page or no cursor")
		}
	})
}
