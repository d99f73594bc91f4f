package hubspot

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// webhookConfig says how webhook deliveries are verified.
type webhookConfig struct {
	secret  string
	baseURL string // scheme and host HubSpot calls, when a proxy hides them
	legacy  bool   // accept v1/v2-only deliveries (WithWebhookRequireV3(false))
}

// MaxWebhookAge is how old a v3-signed delivery may be: HubSpot's
// X-HubSpot-Request-Timestamp window.
const MaxWebhookAge = 5 * time.Minute

// maxWebhookBody caps a delivery's body; HubSpot sends at most 100 events.
const maxWebhookBody = 1 << 20

// WithWebhookSecret sets the secret that signs webhook deliveries: the
// app's client secret (a private app's own secret). Without it every
// delivery is refused.
func WithWebhookSecret(secret string) Option {
	return func(o *options) error {
		if secret == "" {
			return errors.New("hubspot: WithWebhookSecret: the secret is empty")
		}
		o.webhook.secret = secret
		return nil
	}
}

// WithWebhookURL sets the scheme and host HubSpot sends webhooks to, such
// as "https://hooks.example.com", for a receiver behind a proxy or load
// balancer: signatures v2 and v3 cover the full URL HubSpot called, which
// the receiver would otherwise take from the request (TLS and Host).
func WithWebhookURL(base string) Option {
	return func(o *options) error {
		if !strings.HasPrefix(base, "https://") && !strings.HasPrefix(base, "http://") {
			return fmt.Errorf("hubspot: WithWebhookURL(%q): want a scheme and host, such as https://hooks.example.com", base)
		}
		o.webhook.baseURL = strings.TrimRight(base, "/")
		return nil
	}
}

// WithWebhookRequireV3 says whether a delivery must carry signature v3.
// It does by default: v1 and v2 sign no timestamp, so a delivery recorded
// once (or a signature leaked once) can be replayed forever, and v1 signs
// no URL either. Pass false only for an app that still sends v1 or v2
// (HubSpot's CRM webhooks sign v1, so a receiver for them needs false);
// even then a delivery that carries X-HubSpot-Request-Timestamp but no v3
// signature is refused, as one whose v3 signature was stripped.
func WithWebhookRequireV3(require bool) Option {
	return func(o *options) error {
		o.webhook.legacy = !require
		return nil
	}
}

// WebhookEvent is one event of a HubSpot webhook delivery.
type WebhookEvent struct {
	EventID          int64   `json:"eventId"`
	SubscriptionID   int64   `json:"subscriptionId"`
	PortalID         int64   `json:"portalId"`
	AppID            int64   `json:"appId"`
	OccurredAt       int64   `json:"occurredAt"` // Unix milliseconds
	SubscriptionType string  `json:"subscriptionType"`
	EventType        string  `json:"eventType"` // older deliveries name the type here
	AttemptNumber    int     `json:"attemptNumber"`
	ObjectID         int64   `json:"objectId"`
	ObjectTypeID     string  `json:"objectTypeId"`
	PropertyName     string  `json:"propertyName"`
	PropertyValue    *string `json:"propertyValue"`
	ChangeSource     string  `json:"changeSource"`
	ChangeFlag       string  `json:"changeFlag"`
	PrimaryObjectID  int64   `json:"primaryObjectId"`
	MergedObjectIDs  []int64 `json:"mergedObjectIds"`
	NewObjectID      int64   `json:"newObjectId"`
}

// ReceiveWebhook verifies a webhook delivery's signature and decodes its
// events into changes. It accepts signature v3 (HMAC-SHA256 of the method,
// the full URL, the body and X-HubSpot-Request-Timestamp, which must be less
// than 5 minutes old) and, only with WithWebhookRequireV3(false), v1 and v2
// (SHA-256 of the secret and the body, or of the secret, the method, the URL
// and the body), which carry no timestamp. An unsigned, tampered, wrongly
// signed or stale delivery, a v1/v2-only delivery when v3 is required, and
// one with a timestamp but no v3 signature (a stripped v3) are
// KindUnauthorized, with no changes; a
// body that is not an event array is KindInvalidRequest. Answer HubSpot
// quickly: it retries a delivery that takes more than a few seconds.
//
// Creations become ChangeCreated, deletions (and GDPR deletions)
// ChangeDeleted with Record.Deleted set, property changes ChangeUpdated with
// the new value in Fields (converted by the described type when the object's
// schema is cached, else as HubSpot's text), merges an update of the record
// that remains and a delete of each merged one, restores and association
// changes ChangeUpdated without fields. Events HubSpot repeats within a
// delivery are reported once.
func (d *Driver) ReceiveWebhook(ctx context.Context, r *http.Request) ([]crm.Change, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxWebhookBody+1))
	if err != nil {
		return nil, webhookError(crm.KindInvalidRequest, "reading the delivery's body: "+err.Error())
	}
	if len(body) > maxWebhookBody {
		return nil, webhookError(crm.KindInvalidRequest, "the delivery's body is larger than 1 MiB")
	}
	if err := d.verifyWebhook(r, body); err != nil {
		return nil, err
	}
	var events []WebhookEvent
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&events); err != nil {
		return nil, webhookError(crm.KindInvalidRequest, "the delivery's body is not a JSON array of HubSpot events: "+err.Error())
	}
	return d.webhookChanges(events), nil
}

func webhookError(kind crm.Kind, msg string) error {
	return &crm.Error{Kind: kind, CRM: Name, Operation: "webhook", Message: msg}
}

// verifyWebhook checks the strongest signature the delivery carries.
func (d *Driver) verifyWebhook(r *http.Request, body []byte) error {
	secret := d.webhook.secret
	if secret == "" {
		return webhookError(crm.KindUnauthorized, "no webhook secret is configured (WithWebhookSecret), so no delivery can be verified")
	}
	refuse := func(why string) error { return webhookError(crm.KindUnauthorized, "refused webhook delivery: "+why) }
	if sig := r.Header.Get("X-HubSpot-Signature-v3"); sig != "" {
		ts := r.Header.Get("X-HubSpot-Request-Timestamp")
		ms, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			return refuse("signature v3 without a valid X-HubSpot-Request-Timestamp")
		}
		age := d.now().Sub(time.UnixMilli(ms))
		if age > MaxWebhookAge || age < -MaxWebhookAge {
			return refuse(fmt.Sprintf("the timestamp is %v away from now, more than the %v HubSpot allows", age.Round(time.Second), MaxWebhookAge))
		}
		want, err := base64.StdEncoding.DecodeString(sig)
		if err != nil {
			return refuse("signature v3 is not base64")
		}
		if !hmac.Equal(SignV3(secret, r.Method, d.webhookURI(r), body, ts), want) {
			return refuse("signature v3 does not match the body, URL and timestamp")
		}
		return nil
	}
	sig := r.Header.Get("X-HubSpot-Signature")
	if sig == "" {
		return refuse("it carries no X-HubSpot-Signature or X-HubSpot-Signature-v3")
	}
	if r.Header.Get("X-HubSpot-Request-Timestamp") != "" {
		return refuse("it carries X-HubSpot-Request-Timestamp but no X-HubSpot-Signature-v3: HubSpot sends the two together, so the v3 signature was stripped")
	}
	if !d.webhook.legacy {
		return refuse("it is signed with v1 or v2 only, which sign no timestamp and can be replayed; the receiver requires v3 (switch the app to signature v3, or build the driver with WithWebhookRequireV3(false) to accept v1/v2)")
	}
	want, err := hex.DecodeString(strings.ToLower(sig))
	if err != nil {
		return refuse("X-HubSpot-Signature is not hexadecimal")
	}
	var got []byte
	switch v := r.Header.Get("X-HubSpot-Signature-Version"); v {
	case "", "v1":
		got = SignV1(secret, body)
	case "v2":
		got = SignV2(secret, r.Method, d.webhookURI(r), body)
	default:
		return refuse(fmt.Sprintf("signature version %q is not v1, v2 or v3", v))
	}
	if !hmac.Equal(got, want) {
		return refuse("the signature does not match the body")
	}
	return nil
}

// webhookURI is the full URL HubSpot called, as its signatures cover it.
func (d *Driver) webhookURI(r *http.Request) string {
	base := d.webhook.baseURL
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	return base + r.URL.RequestURI()
}

// SignV1 is signature v1: SHA-256 of the client secret and the raw body.
func SignV1(secret string, body []byte) []byte {
	h := sha256.New()
	h.Write([]byte(secret))
	h.Write(body)
	return h.Sum(nil)
}

// SignV2 is signature v2: SHA-256 of the client secret, the method, the
// full URL (scheme, host, path and query as sent) and the raw body.
func SignV2(secret, method, uri string, body []byte) []byte {
	h := sha256.New()
	h.Write([]byte(secret + method + uri))
	h.Write(body)
	return h.Sum(nil)
}

// SignV3 is signature v3: HMAC-SHA256, keyed by the client secret, of the
// method, the full URL (with HubSpot's percent-escapes of : / ? @ ! $ ' ( )
// * , ; decoded), the raw body and the timestamp header. It is sent in
// base64.
func SignV3(secret, method, uri string, body []byte, timestamp string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(method + v3Unescape.Replace(uri)))
	m.Write(body)
	m.Write([]byte(timestamp))
	return m.Sum(nil)
}

// v3Unescape decodes the escapes HubSpot decodes before signing v3.
var v3Unescape = strings.NewReplacer(
	"%3A", ":", "%2F", "/", "%3F", "?", "%40", "@", "%21", "!", "%24", "$", "%27", "'",
	"%28", "(", "%29", ")", "%2A", "*", "%2C", ",", "%3B", ";",
	"%3a", ":", "%2f", "/", "%3f", "?", "%2a", "*", "%2c", ",", "%3b", ";",
)

// objectOfEvent names the object type of an event's subscription type
// ("contact.creation") or objectTypeId ("0-1").
var eventObjects = map[string]string{
	"contact": "contacts", "company": "companies", "deal": "deals", "ticket": "tickets",
	"line_item": "line_items", "product": "products",
	"0-1": "contacts", "0-2": "companies", "0-3": "deals", "0-5": "tickets", "0-7": "products", "0-8": "line_items",
}

func (d *Driver) webhookChanges(events []WebhookEvent) []crm.Change {
	type key struct {
		sub, event, at, obj int64
	}
	seen := map[key]bool{}
	var out []crm.Change
	for _, e := range events {
		k := key{e.SubscriptionID, e.EventID, e.OccurredAt, e.ObjectID}
		if seen[k] {
			continue
		}
		seen[k] = true
		typ := e.SubscriptionType
		if typ == "" {
			typ = e.EventType
		}
		prefix, action, _ := strings.Cut(typ, ".")
		object := eventObjects[prefix]
		if prefix == "object" {
			object = eventObjects[e.ObjectTypeID]
			if object == "" {
				object = e.ObjectTypeID
			}
		}
		if object == "" || e.ObjectID == 0 && action != "merge" {
			continue // conversations and other non-record events
		}
		at := time.UnixMilli(e.OccurredAt).UTC()
		rec := func(id int64) *crm.Record {
			return &crm.Record{Object: object, ID: strconv.FormatInt(id, 10), Fields: crm.Fields{}, ModifiedAt: at}
		}
		switch action {
		case "creation":
			out = append(out, crm.Change{Kind: crm.ChangeCreated, Record: rec(e.ObjectID)})
		case "deletion", "privacyDeletion":
			r := rec(e.ObjectID)
			r.Deleted = true
			out = append(out, crm.Change{Kind: crm.ChangeDeleted, Record: r})
		case "propertyChange":
			r := rec(e.ObjectID)
			if e.PropertyName != "" {
				r.Fields[e.PropertyName] = d.eventValue(object, e.PropertyName, e.PropertyValue)
			}
			out = append(out, crm.Change{Kind: crm.ChangeUpdated, Record: r})
		case "merge":
			keep := e.PrimaryObjectID
			if e.NewObjectID != 0 {
				keep = e.NewObjectID
			}
			if keep == 0 {
				keep = e.ObjectID
			}
			out = append(out, crm.Change{Kind: crm.ChangeUpdated, Record: rec(keep)})
			for _, id := range e.MergedObjectIDs {
				if id != keep {
					r := rec(id)
					r.Deleted = true
					out = append(out, crm.Change{Kind: crm.ChangeDeleted, Record: r})
				}
			}
		default: // restore, associationChange
			out = append(out, crm.Change{Kind: crm.ChangeUpdated, Record: rec(e.ObjectID)})
		}
	}
	return out
}

// eventValue converts a property change's value by the cached schema,
// without calling HubSpot: a webhook must be answered fast.
func (d *Driver) eventValue(object, name string, v *string) any {
	if v == nil {
		return nil
	}
	d.mu.Lock()
	c, ok := d.schemas[object]
	d.mu.Unlock()
	if !ok {
		return *v
	}
	f, _ := c.s.Field(name)
	return fromWire(f, *v)
}
