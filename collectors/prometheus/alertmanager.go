package prometheus

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/timeline"
)

// ReceiverName is the Alertmanager receiver's name: POST /webhooks/alertmanager.
const ReceiverName = "alertmanager"

// Receiver receives Alertmanager's webhook (webhook_config, payload
// version 4): every alert of a notification becomes its span's
// alert.firing event and, once resolved, its alert.resolved event, with the
// ids collection gives them, for every incident whose window holds them and
// whose service's matcher the alert's labels match.
type Receiver struct {
	cfg  *Config
	opts collectors.ClientOptions
}

var _ collectors.WebhookReceiver = (*Receiver)(nil)

// NewReceiver returns the receiver of cfg, valid (Validate was called).
func NewReceiver(cfg *Config, opts collectors.ClientOptions) *Receiver {
	return &Receiver{cfg: cfg, opts: opts}
}

// Name implements collectors.WebhookReceiver.
func (r *Receiver) Name() string { return ReceiverName }

// notification is Alertmanager's webhook payload (version 4).
type notification struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []struct {
		Status       string            `json:"status"`
		Labels       map[string]string `json:"labels"`
		Annotations  map[string]string `json:"annotations"`
		StartsAt     time.Time         `json:"startsAt"`
		EndsAt       time.Time         `json:"endsAt"`
		GeneratorURL string            `json:"generatorURL"`
		Fingerprint  string            `json:"fingerprint"`
	} `json:"alerts"`
}

// Receive implements collectors.WebhookReceiver. It checks the credentials
// Alertmanager's http_config sends (authorization or basic_auth) in
// constant time before it reads the body.
func (r *Receiver) Receive(ctx context.Context, req *http.Request, body []byte) (collectors.Delivery, error) {
	if err := r.authenticate(req); err != nil {
		return collectors.Delivery{}, err
	}
	if err := collectors.RequireJSON(req); err != nil {
		return collectors.Delivery{}, err
	}
	var n notification
	if err := json.Unmarshal(body, &n); err != nil {
		return collectors.Delivery{}, collectors.Malformed("the body is not an Alertmanager webhook notification: %s", collectors.JSONProblem(err))
	}
	if n.Version != "4" {
		return collectors.Delivery{}, collectors.Refuse(collectors.ErrMalformed, "version: %q, want \"4\" (Alertmanager's webhook payload)", n.Version)
	}
	if n.TruncatedAlerts > 0 {
		r.opts.Log().Warn("alertmanager truncated a notification: the alerts it left out come with the next collection",
			zap.Int("truncated_alerts", n.TruncatedAlerts), zap.String("group_key", n.GroupKey))
	}
	d := collectors.Delivery{Scope: timeline.LiveScope{AnyPlace: true}}
	labelsOf := map[string]map[string]string{}
	for i, al := range n.Alerts {
		if al.Labels["alertname"] == "" {
			return collectors.Delivery{}, collectors.Refuse(collectors.ErrMalformed, "alerts[%d].labels.alertname: required", i)
		}
		if al.StartsAt.IsZero() {
			return collectors.Delivery{}, collectors.Refuse(collectors.ErrMalformed, "alerts[%d].startsAt: required", i)
		}
		a := alert{Labels: al.Labels, Annotations: al.Annotations, Start: al.StartsAt.UTC(), URL: al.GeneratorURL}
		switch al.Status {
		case "firing":
		case "resolved":
			if al.EndsAt.Before(al.StartsAt) {
				return collectors.Delivery{}, collectors.Refuse(collectors.ErrMalformed, "alerts[%d].endsAt: a resolved alert ends before it starts", i)
			}
			end := al.EndsAt.UTC()
			a.End = &end
		default:
			return collectors.Delivery{}, collectors.Refuse(collectors.ErrMalformed, "alerts[%d].status: %q, want firing or resolved", i, al.Status)
		}
		if al.Fingerprint != "" && al.Fingerprint != Fingerprint(al.Labels) {
			r.opts.Log().Debug("alertmanager's fingerprint differs from the labels' (ids use the labels')",
				zap.String("fingerprint", al.Fingerprint))
		}
		for _, e := range a.events() {
			labelsOf[e.ID] = al.Labels
			d.Live = append(d.Live, e)
		}
	}
	if len(d.Live) == 0 {
		d.Ignored = "the notification holds no alerts"
		return d, nil
	}
	d.AcceptFunc = func(inc timeline.Incident, e timeline.Event) bool {
		sel, ok := r.cfg.selectorFor(inc.ServiceID)
		return ok && sel.matches(labelsOf[e.ID])
	}
	return d, nil
}

// authenticate checks the Authorization header against the webhook's
// credentials.
func (r *Receiver) authenticate(req *http.Request) error {
	w := r.cfg.Webhook
	if !w.configured() {
		return collectors.Refuse(collectors.ErrNotConfigured,
			"the alertmanager webhook is not configured: set sources.prometheus.webhook.bearer_token, or username and password")
	}
	h := req.Header.Get("Authorization")
	if h == "" {
		return collectors.Refuse(collectors.ErrUnauthenticated, "missing Authorization: configure http_config in Alertmanager's webhook_config")
	}
	if w.BearerToken != "" {
		scheme, token, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), []byte(w.BearerToken.Value())) != 1 {
			return collectors.Refuse(collectors.ErrUnauthenticated, "the bearer credentials do not match sources.prometheus.webhook.bearer_token")
		}
		return nil
	}
	user, pass, ok := req.BasicAuth()
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(w.Username)) == 1
	passOK := subtle.ConstantTimeCompare([]byte(pass), []byte(w.Password.Value())) == 1
	if !ok || !userOK || !passOK {
		return collectors.Refuse(collectors.ErrUnauthenticated, "the basic credentials do not match sources.prometheus.webhook.username and password")
	}
	return nil
}
