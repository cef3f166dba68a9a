package pagerduty

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/timeline"
)

// ReceiverName is the receiver of PagerDuty's V3 webhooks: POST
// /webhooks/pagerduty.
const ReceiverName = Name

// Receiver receives PagerDuty V3 webhooks: incident.triggered,
// incident.acknowledged and incident.reopened open (or reopen) the incident,
// so that live events join it while it lasts; incident.resolved closes it
// and queues its collection. The incident follows the newest event by its
// occurred_at (timeline.Incident.Merge), so a late delivery cannot undo a
// newer one. Every other event is acknowledged and ignored.
type Receiver struct {
	cfg *Config
}

var _ collectors.WebhookReceiver = (*Receiver)(nil)

// NewReceiver returns the receiver of cfg.
func NewReceiver(cfg *Config) *Receiver { return &Receiver{cfg: cfg} }

// Name implements collectors.WebhookReceiver.
func (r *Receiver) Name() string { return ReceiverName }

// opens are the V3 event types that open an incident, or reopen a resolved
// one (PRODUCT.md §4: an incident exists from its first sign).
var opens = map[string]bool{
	"incident.triggered":    true,
	"incident.acknowledged": true,
	"incident.reopened":     true,
}

// message is the part of a V3 webhook the receiver reads.
type message struct {
	Event *struct {
		ID         string `json:"id"`
		EventType  string `json:"event_type"`
		OccurredAt string `json:"occurred_at"`
		Data       struct {
			ID        string `json:"id"`
			Title     string `json:"title"`
			HTMLURL   string `json:"html_url"`
			CreatedAt string `json:"created_at"`
			Urgency   string `json:"urgency"`
			Service   *struct {
				ID string `json:"id"`
			} `json:"service"`
		} `json:"data"`
	} `json:"event"`
}

// Receive implements collectors.WebhookReceiver. X-PagerDuty-Signature
// holds one v1= signature per secret while a secret rotates; any one may
// match.
func (r *Receiver) Receive(ctx context.Context, req *http.Request, body []byte) (collectors.Delivery, error) {
	if r.cfg.WebhookSecret == "" {
		return collectors.Delivery{}, collectors.NotConfigured(ReceiverName, "sources.pagerduty.webhook_secret")
	}
	if err := collectors.RequireJSON(req); err != nil {
		return collectors.Delivery{}, err
	}
	header := req.Header.Get("X-PagerDuty-Signature")
	if header == "" {
		return collectors.Delivery{}, collectors.Unauthenticated("missing X-PagerDuty-Signature")
	}
	want := collectors.HMACSHA256(r.cfg.WebhookSecret, body)
	ok := false
	for _, sig := range strings.Split(header, ",") {
		if collectors.VerifyHex(sig, "v1=", want) {
			ok = true
		}
	}
	if !ok {
		return collectors.Delivery{}, collectors.Unauthenticated("no X-PagerDuty-Signature matches the body")
	}
	var msg message
	if err := json.Unmarshal(body, &msg); err != nil {
		return collectors.Delivery{}, collectors.Malformed("the body is not a PagerDuty V3 webhook: %v", err)
	}
	if msg.Event == nil || msg.Event.EventType == "" {
		return collectors.Delivery{}, collectors.Malformed("event.event_type is missing")
	}
	ev := msg.Event
	open := opens[ev.EventType]
	if !open && ev.EventType != "incident.resolved" {
		return collectors.Delivery{Ignored: ev.EventType + " neither opens, reopens nor resolves an incident"}, nil
	}
	if ev.Data.ID == "" {
		return collectors.Delivery{}, collectors.Malformed("event.data.id (the incident id) is missing")
	}
	if err := timeline.ValidateIncidentID(ev.Data.ID); err != nil {
		return collectors.Delivery{}, collectors.Malformed("event.data.id: %v", err)
	}
	if strings.ContainsRune(ev.Data.Title, 0) {
		return collectors.Delivery{}, collectors.Malformed("event.data.title holds a NUL character")
	}
	serviceID := ""
	if ev.Data.Service != nil {
		serviceID = ev.Data.Service.ID
	}
	created, cerr := time.Parse(time.RFC3339Nano, ev.Data.CreatedAt)
	occurred, oerr := time.Parse(time.RFC3339Nano, ev.OccurredAt)
	inc := timeline.Incident{ID: ev.Data.ID, Title: ev.Data.Title, ServiceID: serviceID, Urgency: ev.Data.Urgency,
		Source: Name, URL: ev.Data.HTMLURL, StartedAt: created.UTC()}
	if oerr == nil {
		inc.StatusAt = occurred.UTC()
	}
	d := collectors.Delivery{ID: collectors.FirstNonEmpty(req.Header.Get("X-Webhook-Id"), ev.ID)}
	if open {
		// The incident exists from its first sign and stays open, its
		// window running up to now, until it resolves; nothing is
		// collected yet. Live events join it meanwhile.
		if cerr != nil {
			return collectors.Delivery{}, collectors.Malformed("event.data.created_at: must be an RFC 3339 time such as 2026-11-20T09:00:00Z, got %q", ev.Data.CreatedAt)
		}
		d.Incidents = []timeline.Incident{inc}
		return d, nil
	}
	// incident.resolved: close the incident at once (it shows as pending
	// until collected) and queue its final collection, which reads it again
	// from PagerDuty's API.
	d.Collect = []timeline.CollectRequest{{IncidentID: ev.Data.ID}}
	if cerr == nil && oerr == nil && !occurred.Before(created) {
		resolved := occurred.UTC()
		inc.ResolvedAt = &resolved
		d.Incidents = []timeline.Incident{inc}
	}
	return d, nil
}
