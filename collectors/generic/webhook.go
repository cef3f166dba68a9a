package generic

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/timeline"
)

// ReceiverName is the hook's receiver: POST /webhooks/incident.
const ReceiverName = "incident"

// Receiver receives the generic incident hook: it stores the incident with
// its incident.opened event. Without resolved_at the incident is open (or
// reopened), its window running up to now, and live events join it; with
// resolved_at it is closed, gets its incident.closed event and its
// collection is queued.
type Receiver struct {
	cfg *Config
}

var _ collectors.WebhookReceiver = (*Receiver)(nil)

// NewReceiver returns the hook's receiver of cfg.
func NewReceiver(cfg *Config) *Receiver { return &Receiver{cfg: cfg} }

// Name implements collectors.WebhookReceiver.
func (r *Receiver) Name() string { return ReceiverName }

// hook is the body of /webhooks/incident.
type hook struct {
	ID            string   `json:"id"`
	Title         string   `json:"title"`
	StartedAt     string   `json:"started_at"`
	ResolvedAt    string   `json:"resolved_at"`
	GitHubRepos   []string `json:"github_repos"`
	SlackChannels []string `json:"slack_channels"`
}

// Receive implements collectors.WebhookReceiver: X-Groundwork-Signature is
// sha256= and the HMAC-SHA256 of the body in hex.
func (r *Receiver) Receive(ctx context.Context, req *http.Request, body []byte) (collectors.Delivery, error) {
	if r.cfg.WebhookSecret == "" {
		return collectors.Delivery{}, collectors.NotConfigured(ReceiverName, "sources.generic.webhook_secret")
	}
	if err := collectors.RequireJSON(req); err != nil {
		return collectors.Delivery{}, err
	}
	if err := collectors.VerifyHubSignature("X-Groundwork-Signature", req.Header.Get("X-Groundwork-Signature"), r.cfg.WebhookSecret, body); err != nil {
		return collectors.Delivery{}, err
	}
	var h hook
	if err := collectors.DecodeStrict(body, &h); err != nil {
		return collectors.Delivery{}, err
	}
	if h.ID == "" {
		return collectors.Delivery{}, collectors.Malformed("id: required")
	}
	if err := timeline.ValidateIncidentID(h.ID); err != nil {
		return collectors.Delivery{}, collectors.Malformed("id: %v", err)
	}
	if strings.ContainsRune(h.Title, 0) {
		return collectors.Delivery{}, collectors.Malformed("title holds a NUL character")
	}
	started, err := collectors.ParseBodyTime("started_at", h.StartedAt, true)
	if err != nil {
		return collectors.Delivery{}, err
	}
	resolved, err := collectors.ParseBodyTime("resolved_at", h.ResolvedAt, false)
	if err != nil {
		return collectors.Delivery{}, err
	}
	scope := timeline.CollectRequest{IncidentID: h.ID, Repos: h.GitHubRepos, Channels: h.SlackChannels}
	if resolved != nil && resolved.Before(*started) {
		return collectors.Delivery{}, collectors.Malformed("resolved_at: is before started_at")
	}
	if err := scope.Validate(); err != nil {
		return collectors.Delivery{}, collectors.Malformed("%v", err)
	}
	// The hook carries no time of its own: deliveries are applied in the
	// order they arrive.
	d := collectors.Delivery{ID: req.Header.Get("X-Webhook-Id"),
		Incidents: []timeline.Incident{{ID: h.ID, Title: h.Title, Source: Name, StartedAt: *started, ResolvedAt: resolved,
			StatusAt: collectors.ReceivedAt(ctx).UTC(), Repos: h.GitHubRepos, Channels: h.SlackChannels}},
		Events: []timeline.Event{event(h, "opened", timeline.KindIncidentOpened, *started)}}
	if resolved != nil {
		d.Events = append(d.Events, event(h, "closed", timeline.KindIncidentClosed, *resolved))
		d.Collect = []timeline.CollectRequest{{IncidentID: h.ID}}
	}
	return d, nil
}

// event is the incident's incident.opened or incident.closed event.
func event(h hook, what, kind string, at time.Time) timeline.Event {
	title := "Incident " + what
	if h.Title != "" {
		title += ": " + h.Title
	}
	return timeline.Event{
		ID: timeline.EventID(Name, "incident", h.ID, what), IncidentID: h.ID,
		Source: Name, Kind: kind, OccurredAt: at, Title: timeline.Truncate(title, 120),
		Details: map[string]any{"incident_title": h.Title},
	}
}
