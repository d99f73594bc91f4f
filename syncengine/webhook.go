package syncengine

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/crmkit/crmkit/crm"
)

// WebhookHandler returns an http.Handler for a CRM's webhook deliveries: it
// verifies each delivery with receiver (the CRM's driver, such as the
// HubSpot adapter with its webhook secret), answers 401 to one that is
// unsigned, tampered with or stale, and otherwise answers 204 and calls
// Notify, so that a Run loop syncs at once.
//
// A delivery is a hint, not data: the run reads the CRM's change feed from
// the stored cursor, as polling does. So a change announced by a webhook and
// also found by polling is applied once, deliveries that arrive twice or out
// of order do no harm, and a lost delivery only delays the change to the next
// poll.
func (e *Engine) WebhookHandler(receiver crm.WebhookReceiver) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "webhook deliveries are POSTed", http.StatusMethodNotAllowed)
			return
		}
		changes, err := receiver.ReceiveWebhook(r.Context(), r)
		switch {
		case errors.Is(err, crm.ErrUnauthorized):
			e.log.LogAttrs(r.Context(), slog.LevelWarn, "syncengine: webhook delivery refused",
				slog.String("pairing", e.name), slog.String("error", err.Error()))
			http.Error(w, "delivery not verified", http.StatusUnauthorized)
			return
		case err != nil:
			http.Error(w, "delivery not understood", http.StatusBadRequest)
			return
		}
		e.log.LogAttrs(r.Context(), slog.LevelDebug, "syncengine: webhook delivery", slog.String("pairing", e.name), slog.Int("changes", len(changes)))
		e.Notify()
		w.WriteHeader(http.StatusNoContent)
	})
}
