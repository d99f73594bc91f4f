package hubspottest

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
	"sync/atomic"
)

// Event is one webhook event, in the shape HubSpot delivers it.
type Event struct {
	EventID          int64   `json:"eventId"`
	SubscriptionID   int64   `json:"subscriptionId"`
	PortalID         int64   `json:"portalId"`
	AppID            int64   `json:"appId"`
	OccurredAt       int64   `json:"occurredAt"`
	SubscriptionType string  `json:"subscriptionType"` // contact.creation, deal.propertyChange, ...
	AttemptNumber    int     `json:"attemptNumber"`
	ObjectID         int64   `json:"objectId"`
	PropertyName     string  `json:"propertyName,omitempty"`
	PropertyValue    *string `json:"propertyValue,omitempty"`
	ChangeSource     string  `json:"changeSource,omitempty"`
	ChangeFlag       string  `json:"changeFlag,omitempty"`
	SourceID         string  `json:"sourceId,omitempty"`
}

var eventSeq atomic.Int64

// SendWebhook delivers events to url as HubSpot does: a POST of a JSON
// array, signed with the app's client secret (see [WithApp]) by signature
// version "v1" (X-HubSpot-Signature, the CRM default), "v2" or "v3"
// (X-HubSpot-Signature-v3 with X-HubSpot-Request-Timestamp). Missing event
// ids, portal and app ids and times are filled in. It returns the
// receiver's status code.
func (s *Server) SendWebhook(ctx context.Context, url, version string, events ...Event) (int, error) {
	if s.cfg.secret == "" {
		return 0, errors.New("hubspottest: SendWebhook needs the app's client secret: build the server WithApp")
	}
	now := s.clock()
	for i := range events {
		e := &events[i]
		if e.EventID == 0 {
			e.EventID = eventSeq.Add(1)
		}
		if e.PortalID == 0 {
			e.PortalID = s.cfg.portal
		}
		if e.AppID == 0 {
			e.AppID = s.cfg.app
		}
		if e.OccurredAt == 0 {
			e.OccurredAt = now.UnixMilli()
		}
		if e.SubscriptionID == 0 {
			e.SubscriptionID = 1
		}
	}
	body, err := json.Marshal(events)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "HubSpot Connect 2.0 (http://dev.hubspot.com/) (hubspottest)")
	secret := s.cfg.secret
	switch version {
	case "", "v1":
		h := sha256.Sum256(append([]byte(secret), body...))
		req.Header.Set("X-HubSpot-Signature", hex.EncodeToString(h[:]))
		req.Header.Set("X-HubSpot-Signature-Version", "v1")
	case "v2":
		h := sha256.Sum256(append([]byte(secret+http.MethodPost+url), body...))
		req.Header.Set("X-HubSpot-Signature", hex.EncodeToString(h[:]))
		req.Header.Set("X-HubSpot-Signature-Version", "v2")
	case "v3":
		ts := strconv.FormatInt(now.UnixMilli(), 10)
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(http.MethodPost + v3Unescape.Replace(url)))
		m.Write(body)
		m.Write([]byte(ts))
		req.Header.Set("X-HubSpot-Signature-v3", base64.StdEncoding.EncodeToString(m.Sum(nil)))
		req.Header.Set("X-HubSpot-Request-Timestamp", ts)
	default:
		return 0, fmt.Errorf("hubspottest: signature version %q: use v1, v2 or v3", version)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// v3Unescape decodes the percent-escapes HubSpot decodes in the URL before
// it signs with v3.
var v3Unescape = strings.NewReplacer(
	"%3A", ":", "%2F", "/", "%3F", "?", "%40", "@", "%21", "!", "%24", "$", "%27", "'",
	"%28", "(", "%29", ")", "%2A", "*", "%2C", ",", "%3B", ";",
	"%3a", ":", "%2f", "/", "%3f", "?", "%2a", "*", "%2c", ",", "%3b", ";",
)

// PropertyValue is a helper for Event.PropertyValue.
func PropertyValue(v string) *string { return &v }
