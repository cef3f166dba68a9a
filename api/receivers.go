package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/timeline"
)

// receiverName is what a plug-in receiver may be called: one path segment.
var receiverName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// routeReceivers mounts every plug-in receiver at POST /webhooks/{name}. It
// panics on a name that is not one path segment or that is taken (by
// another receiver, or by a route of routeWebhooks, which the mux refuses),
// which is a wiring mistake in cmd.
func (s *Server) routeReceivers(mux handleFunc) {
	taken := map[string]bool{}
	for _, rcv := range s.Receivers {
		name := rcv.Name()
		if !receiverName.MatchString(name) {
			panic(fmt.Sprintf("api: receiver name %q is not a path segment of a-z, 0-9, '_' and '-'", name))
		}
		if taken[name] {
			panic("api: two receivers are named " + name)
		}
		taken[name] = true
		pattern := "POST /webhooks/" + name
		var h http.Handler = s.webhook(name, s.pluginWebhook(rcv))
		if s.Metrics != nil {
			h = s.Metrics.instrument(pattern, h)
		}
		mux(pattern, h)
	}
}

// pluginWebhook runs a plug-in receiver and records what it made of the
// delivery: its incidents (with their windows and scopes), its live events
// (for every incident that takes them) and its collections, in one
// transaction, deduplicated by the delivery id.
func (s *Server) pluginWebhook(rcv collectors.WebhookReceiver) webhookFunc {
	return func(ctx context.Context, r *http.Request, body []byte) (WebhookAckJSON, error) {
		d, err := rcv.Receive(ctx, r, body)
		if err != nil {
			return WebhookAckJSON{}, refusal(err)
		}
		if d.Ignored != "" {
			return WebhookAckJSON{Status: outcomeIgnored, Reason: d.Ignored}, nil
		}
		out := timeline.Delivery{Receiver: rcv.Name(), ID: deliveryID(d.ID, body), Collect: d.Collect}
		for _, inc := range d.Incidents {
			out.Incidents = append(out.Incidents, s.incidentFor(inc, inc.ServiceID, inc.Repos, inc.Channels))
		}
		if len(d.Live) > 0 {
			events, err := s.liveEvents(ctx, d)
			if err != nil {
				return WebhookAckJSON{}, err
			}
			out.Events = events
		}
		if len(out.Incidents) == 0 && len(out.Events) == 0 && len(out.Collect) == 0 {
			reason := "nothing to capture"
			if len(d.Live) > 0 {
				reason = "no incident's scope and window hold it"
			}
			return WebhookAckJSON{Status: outcomeIgnored, Reason: reason}, nil
		}
		return s.record(ctx, out)
	}
}

// liveEvents gives each live event of d to every incident whose window
// covers it and that d.AcceptFunc takes, incidents declared by the same
// delivery among them.
func (s *Server) liveEvents(ctx context.Context, d collectors.Delivery) ([]timeline.Event, error) {
	scope := d.Scope
	var kept []timeline.Event
	for _, e := range d.Live {
		if e.OccurredAt.IsZero() {
			continue
		}
		e.OccurredAt = e.OccurredAt.UTC()
		if len(kept) == 0 || e.OccurredAt.Before(scope.From) {
			scope.From = e.OccurredAt
		}
		if len(kept) == 0 || e.OccurredAt.After(scope.To) {
			scope.To = e.OccurredAt
		}
		kept = append(kept, e)
	}
	if len(kept) == 0 {
		return nil, nil
	}
	if s.Deliveries == nil {
		return nil, errNoQueue
	}
	lctx, cancel := context.WithTimeout(ctx, s.webhookTimeout())
	incs, err := s.Deliveries.LiveIncidents(lctx, scope)
	cancel()
	if err != nil {
		return nil, err
	}
	for _, inc := range d.Incidents {
		incs = append(incs, s.incidentFor(inc, inc.ServiceID, inc.Repos, inc.Channels))
	}
	// An open incident's window runs up to now; allow for the sender's
	// clock being a little ahead of ours.
	now := s.now().Add(liveClockSkew)
	var out []timeline.Event
	seen := map[[2]string]bool{}
	for _, inc := range incs {
		for _, e := range kept {
			key := [2]string{inc.ID, e.ID}
			if seen[key] || !inc.Covers(e.OccurredAt, now) || d.AcceptFunc != nil && !d.AcceptFunc(inc, e) {
				continue
			}
			seen[key] = true
			e.IncidentID = inc.ID
			out = append(out, e)
		}
	}
	return out, nil
}

// refusal maps a receiver's refusal to its answer; any other error is the
// service's own fault and goes to writeError as it is.
func refusal(err error) error {
	var re *collectors.RefusalError
	if !errors.As(err, &re) {
		return err
	}
	msg := strings.ToValidUTF8(re.Message, "\uFFFD")
	switch {
	case errors.Is(re, collectors.ErrNotConfigured):
		return &Error{Status: http.StatusUnauthorized, Code: "webhook_not_configured", Message: msg}
	case errors.Is(re, collectors.ErrUnauthenticated):
		return unauthorized(msg)
	case errors.Is(re, collectors.ErrUnsupportedMediaType):
		return &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Message: msg}
	case errors.Is(re, collectors.ErrMalformed):
		return badRequest("malformed_body", msg)
	}
	return err
}

// sourceNames lists every source the timeline filter accepts:
// timeline.Sources and Server.Sources.
func (s *Server) sourceNames() []string {
	out := append([]string(nil), timeline.Sources...)
	for _, v := range s.Sources {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
