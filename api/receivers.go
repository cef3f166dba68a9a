package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/timeline"
)

// receiverName is what a receiver may be called: one path segment.
var receiverName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// routeReceivers mounts every receiver at POST /webhooks/{name}. It panics
// on a name that is not one path segment or that another receiver has,
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
		var h http.Handler = s.webhook(name, s.receiverWebhook(rcv))
		if s.Metrics != nil {
			h = s.Metrics.instrument(pattern, h)
		}
		mux(pattern, h)
	}
}

// receiverWebhook runs a receiver and records what it made of the delivery:
// its incidents (with their windows and scopes), their own events, its live
// events (for every incident that takes them, or in the live journal) and
// its collections, in one transaction, deduplicated by the delivery id.
func (s *Server) receiverWebhook(rcv collectors.WebhookReceiver) webhookFunc {
	return func(ctx context.Context, r *http.Request, body []byte) (WebhookAckJSON, error) {
		d, err := rcv.Receive(collectors.WithReceivedAt(ctx, s.now()), r, body)
		if err != nil {
			return WebhookAckJSON{}, refusal(err)
		}
		return s.deliver(ctx, rcv.Name(), body, d)
	}
}

// deliver records d, what receiver made of a delivery whose body is body.
func (s *Server) deliver(ctx context.Context, receiver string, body []byte, d collectors.Delivery) (WebhookAckJSON, error) {
	if d.Challenge != "" {
		return WebhookAckJSON{Status: outcomeIgnored, Challenge: d.Challenge}, nil
	}
	if d.Ignored != "" {
		return WebhookAckJSON{Status: outcomeIgnored, Reason: d.Ignored}, nil
	}
	out := timeline.Delivery{Receiver: receiver, ID: deliveryID(d.ID, body), Collect: d.Collect, Events: d.Events}
	for _, inc := range d.Incidents {
		out.Incidents = append(out.Incidents, s.incidentFor(inc))
	}
	live, scope := timedLive(d)
	if len(live) > 0 {
		if source, place, ok := s.journaled(scope, live); ok {
			return s.journalLive(ctx, out, source, place, scope.From, live)
		}
		events, err := s.liveEvents(ctx, scope, live, out.Incidents, d.AcceptFunc)
		if err != nil {
			return WebhookAckJSON{}, err
		}
		out.Events = append(out.Events, events...)
	}
	if len(out.Incidents) == 0 && len(out.Events) == 0 && len(out.Collect) == 0 {
		reason := "nothing to capture"
		if len(live) > 0 {
			reason = "no incident's scope and window hold it"
		}
		return WebhookAckJSON{Status: outcomeIgnored, Reason: reason}, nil
	}
	return s.record(ctx, out)
}

// timedLive returns the live events of d that have a time, in UTC, and d's
// scope spanning them.
func timedLive(d collectors.Delivery) ([]timeline.Event, timeline.LiveScope) {
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
	return kept, scope
}

// journaled reports whether the live journal keeps events, which are of
// scope's place (a repository or a channel): WebhookConfig.JournalScopeFunc
// says so for their source (all of them of one) and the place.
func (s *Server) journaled(scope timeline.LiveScope, events []timeline.Event) (source, place string, ok bool) {
	place = collectors.FirstNonEmpty(scope.Repo, scope.Channel)
	if place == "" || s.Webhooks.JournalScopeFunc == nil {
		return "", "", false
	}
	source = events[0].Source
	for _, e := range events {
		if e.Source != source {
			return "", "", false
		}
	}
	return source, place, s.Webhooks.JournalScopeFunc(source, place)
}

// liveEvents gives each live event to every incident of scope whose window
// covers it (a resolved incident's window, or an open one's up to now, with
// liveClockSkew to spare) and that accept takes (nil takes all), incidents
// declared by the same delivery among them.
func (s *Server) liveEvents(ctx context.Context, scope timeline.LiveScope, live []timeline.Event, declared []timeline.Incident,
	accept func(timeline.Incident, timeline.Event) bool) ([]timeline.Event, error) {
	if s.Deliveries == nil {
		return nil, errNoQueue
	}
	lctx, cancel := context.WithTimeout(ctx, s.webhookTimeout())
	incs, err := s.Deliveries.LiveIncidents(lctx, scope)
	cancel()
	if err != nil {
		return nil, err
	}
	incs = append(incs, declared...)
	// An open incident's window runs up to now; allow for the sender's
	// clock being a little ahead of ours.
	now := s.now().Add(liveClockSkew)
	var out []timeline.Event
	seen := map[[2]string]bool{}
	for _, inc := range incs {
		for _, e := range live {
			key := [2]string{inc.ID, e.ID}
			if seen[key] || !inc.Covers(e.OccurredAt, now) || accept != nil && !accept(inc, e) {
				continue
			}
			seen[key] = true
			e.IncidentID = inc.ID
			out = append(out, e)
		}
	}
	return out, nil
}

// journalLive records d with events, live events of source in a journaled
// place, in the live journal; the store joins them to every incident
// covering them in the same transaction. A delivery that cannot be recorded
// is refused (the sender retries) and breaks live coverage of the place
// from its first event to now: the collections of incidents there read
// that stretch upstream, in case the retries never get through.
func (s *Server) journalLive(ctx context.Context, d timeline.Delivery, source, place string, from time.Time, events []timeline.Event) (WebhookAckJSON, error) {
	for _, e := range events {
		d.Journal = append(d.Journal, timeline.JournalEntry{Source: source, Scope: place, Event: e, Deleted: e.Deleted})
	}
	ack, err := s.record(ctx, d)
	if err != nil && s.Webhooks.BreakCoverageFunc != nil {
		now := s.now()
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.webhookTimeout())
		defer cancel()
		// A second before the first event, so that the stretch is never
		// empty.
		if berr := s.Webhooks.BreakCoverageFunc(bctx, source, place, minTime(from, now).Add(-time.Second), now); berr != nil {
			s.logger().Warn("recording a refused live delivery in the coverage", zap.String("receiver", d.Receiver),
				zap.String("scope", place), zap.Error(berr))
		}
	}
	return ack, err
}

// incidentFor gives an incident its window and its scope: its service's
// (WebhookConfig.ScopeFunc) and its own repositories and channels.
func (s *Server) incidentFor(inc timeline.Incident) timeline.Incident {
	inc.WindowStart, inc.WindowEnd = timeline.WindowFor(inc.StartedAt, inc.ResolvedAt, s.Webhooks.Before, s.Webhooks.After, s.now())
	var scopeRepos, scopeChannels []string
	if s.Webhooks.ScopeFunc != nil {
		scopeRepos, scopeChannels = s.Webhooks.ScopeFunc(inc.ServiceID)
	}
	inc.Repos = timeline.Union(scopeRepos, inc.Repos)
	inc.Channels = timeline.Union(scopeChannels, inc.Channels)
	return inc
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
