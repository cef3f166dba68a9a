package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack/slackevents"
	"go.uber.org/zap"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/collectors/slack"
	"github.com/groundwork-dev/groundwork/timeline"
)

// WebhookConfig configures the webhook receivers. A receiver whose secret is
// empty is not configured and refuses every delivery with 401.
type WebhookConfig struct {
	// SlackSigningSecret verifies X-Slack-Signature (sources.slack.signing_secret).
	SlackSigningSecret string
	// MaxBody caps a delivery's body (webhooks.max_body; default 1 MiB).
	MaxBody int64
	// Before and After widen an incident's span into its window
	// (window.before, window.after).
	Before, After time.Duration
	// ScopeFunc returns the repositories and channels of a PagerDuty service
	// (services.<id>, else default); the generic hook's incidents get the
	// default scope ("").
	ScopeFunc func(serviceID string) (repos, channels []string)
	// SlackUsers resolves Slack names for live capture, as the collector
	// does; nil keeps user ids as names. Lookups get SlackLookupBudget in
	// all, then fall back to the ids (a later collection fills names in).
	SlackUsers slack.UserResolver
	// SlackWorkspaceFunc returns the workspace URL for permalinks; nil
	// leaves live events without one until they are collected.
	SlackWorkspaceFunc func(ctx context.Context) (string, error)
	// SlackLookupBudget bounds Slack lookups per delivery (default 300ms).
	SlackLookupBudget time.Duration
	// Timeout bounds a delivery's database work (default 1s); a delivery
	// that cannot be recorded in time is answered 503, so it is retried.
	Timeout time.Duration
	// JournalScopeFunc reports whether live events of source (github,
	// slack) in scope (a repository or a channel id) are kept in the live
	// journal: cmd keeps those of every scope named in services or default.
	// They are kept whether or not an incident covers them yet, and join
	// every incident covering them in the same transaction. nil keeps no
	// journal: live events are stored only for the incidents covering them.
	JournalScopeFunc func(source, scope string) bool
	// BreakCoverageFunc records that a live delivery of a journaled scope
	// about [from, to] was refused, so that live coverage no longer vouches
	// for that stretch and collections read it upstream; nil records
	// nothing. A failure to record is logged.
	BreakCoverageFunc func(ctx context.Context, source, scope string, from, to time.Time) error
}

// slackMaxSkew is how far a Slack request timestamp may be from now.
const slackMaxSkew = 5 * time.Minute

// liveClockSkew is how far past our now a live event's upstream time may be
// and still join an open incident, whose window runs up to now.
const liveClockSkew = time.Minute

// Webhook delivery outcomes, the label of Metrics.WebhookDelivery.
const (
	outcomeAccepted     = "accepted"
	outcomeDuplicate    = "duplicate"
	outcomeIgnored      = "ignored"
	outcomeBadSignature = "bad_signature"
	outcomeMalformed    = "malformed"
	outcomeTooLarge     = "too_large"
	outcomeUnavailable  = "unavailable"
	outcomeError        = "error"
)

// WebhookAckJSON answers a delivery that was accepted, seen before or
// ignored.
type WebhookAckJSON struct {
	// Status is accepted, duplicate or ignored.
	Status string `json:"status"`
	// Reason says why a delivery was ignored.
	Reason string `json:"reason,omitempty"`
	// JobIDs are the collection jobs a delivery queued or joined.
	JobIDs []int64 `json:"job_ids,omitempty"`
	// Events counts the events a delivery inserted or changed.
	Events int `json:"events,omitempty"`
	// Challenge, when set, is Slack's url_verification challenge, which is
	// answered alone: {"challenge": ...}.
	Challenge string `json:"challenge,omitempty"`
}

// webhookFunc handles a delivery whose body has been read (not yet
// verified) and returns the acknowledgement.
type webhookFunc func(ctx context.Context, r *http.Request, body []byte) (WebhookAckJSON, error)

// routeWebhooks registers the receivers. They are not bearer-authenticated:
// each verifies its sender's signature over the raw body before it parses
// anything.
func (s *Server) routeWebhooks(mux handleFunc) {
	for _, wh := range []struct {
		receiver string
		h        webhookFunc
	}{
		{"slack", s.slackWebhook},
	} {
		pattern := "POST /webhooks/" + wh.receiver
		var h http.Handler = s.webhook(wh.receiver, wh.h)
		if s.Metrics != nil {
			h = s.Metrics.instrument(pattern, h)
		}
		mux(pattern, h)
	}
}

// webhook reads the capped body, runs h, maps its outcome to a status and
// counts it.
func (s *Server) webhook(receiver string, h webhookFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := s.Webhooks.MaxBody
		if limit <= 0 {
			limit = 1 << 20
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		var ack WebhookAckJSON
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				err = &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large",
					Message: fmt.Sprintf("the body exceeds the webhook limit of %d bytes (webhooks.max_body)", limit)}
			} else {
				err = badRequest("unreadable_body", "the body could not be read")
			}
		} else {
			ack, err = h(r.Context(), r, body)
		}
		if err != nil {
			if r.Context().Err() == nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
				// Our own budget ran out: the sender should retry.
				err = fmt.Errorf("%w: %w", timeline.ErrUnavailable, err)
			}
			s.countDelivery(receiver, errorOutcome(err))
			s.writeError(w, r, err)
			return
		}
		s.countDelivery(receiver, ack.Status)
		if ack.Challenge != "" {
			// Slack's url_verification wants its challenge back, alone.
			_ = writeJSON(w, http.StatusOK, map[string]string{"challenge": ack.Challenge})
			return
		}
		_ = writeJSON(w, http.StatusOK, ack)
	})
}

func errorOutcome(err error) string {
	var apiErr *Error
	switch {
	case errors.As(err, &apiErr):
		switch apiErr.Status {
		case http.StatusUnauthorized:
			return outcomeBadSignature
		case http.StatusRequestEntityTooLarge:
			return outcomeTooLarge
		case http.StatusServiceUnavailable:
			return outcomeUnavailable
		}
		if apiErr.Status < 500 {
			return outcomeMalformed
		}
	case errors.Is(err, timeline.ErrInvalid):
		return outcomeMalformed
	case errors.Is(err, timeline.ErrUnavailable):
		return outcomeUnavailable
	}
	return outcomeError
}

func (s *Server) countDelivery(receiver, outcome string) {
	if s.Metrics != nil {
		s.Metrics.WebhookDelivery(receiver, outcome)
	}
}

func unauthorized(msg string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: "bad_signature", Message: msg}
}

func notConfigured(receiver, key string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: "webhook_not_configured",
		Message: fmt.Sprintf("the %s webhook is not configured: set %s", receiver, key)}
}

// malformed is 400 malformed_body. An error among args is replaced by
// clientText, so that no Go type name or error chain reaches the sender.
func malformed(format string, args ...any) *Error {
	for i, a := range args {
		if err, ok := a.(error); ok {
			args[i] = clientText(err)
		}
	}
	return badRequest("malformed_body", fmt.Sprintf(format, args...))
}

// hmacSHA256 returns the HMAC-SHA256 under secret of the parts of msg,
// concatenated.
func hmacSHA256(secret string, msg ...[]byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	for _, b := range msg {
		m.Write(b)
	}
	return m.Sum(nil)
}

// verifyHex reports whether sig (prefix + hex) is the MAC want, in constant
// time.
func verifyHex(sig, prefix string, want []byte) bool {
	hexSig, ok := strings.CutPrefix(strings.TrimSpace(sig), prefix)
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	return err == nil && hmac.Equal(got, want)
}

// record writes a delivery within the configured budget.
func (s *Server) record(ctx context.Context, d timeline.Delivery) (WebhookAckJSON, error) {
	if s.Deliveries == nil {
		return WebhookAckJSON{}, errNoQueue
	}
	d.ID = storableID(d.ID)
	ctx, cancel := context.WithTimeout(ctx, s.webhookTimeout())
	defer cancel()
	res, err := s.Deliveries.RecordDelivery(ctx, d)
	if err != nil {
		return WebhookAckJSON{}, err
	}
	if res.Duplicate {
		return WebhookAckJSON{Status: outcomeDuplicate}, nil
	}
	return WebhookAckJSON{Status: outcomeAccepted, JobIDs: res.JobIDs, Events: res.Events.Changed()}, nil
}

// errNoQueue answers deliveries and collect requests of a server without a
// delivery store.
var errNoQueue = &Error{Status: http.StatusServiceUnavailable, Code: "unavailable",
	Message: "deliveries and collections cannot be recorded: the job queue is not configured"}

func (s *Server) webhookTimeout() time.Duration {
	if s.Webhooks.Timeout > 0 {
		return s.Webhooks.Timeout
	}
	return time.Second
}

// storableID returns a sender's delivery id as it is when it is short,
// valid UTF-8 text without control characters, else a digest of it: a
// retry carries the same id, so it is still recognised, and Postgres never
// sees a NUL or an invalid byte.
func storableID(id string) string {
	if len(id) <= 200 && utf8.ValidString(id) && strings.IndexFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }) < 0 {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "id-sha256:" + hex.EncodeToString(sum[:])
}

// deliveryID is the sender's id, else a digest of the body: a retry carries
// the same body, so it is recognised either way.
func deliveryID(header string, body []byte) string {
	if header = strings.TrimSpace(header); header != "" {
		return header
	}
	sum := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// captureLive records events of scope as live events of receiver's
// delivery id.
func (s *Server) captureLive(ctx context.Context, receiver, id string, scope timeline.LiveScope, events []timeline.Event) (WebhookAckJSON, error) {
	return s.deliver(ctx, receiver, nil, collectors.Delivery{ID: id, Scope: scope, Live: events})
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// slackEnvelope is the outer shape of an Events API request.
type slackEnvelope struct {
	Type      string          `json:"type"`
	Challenge string          `json:"challenge"`
	EventID   string          `json:"event_id"`
	Event     json.RawMessage `json:"event"`
}

// slackWebhook receives the Slack Events API: it answers url_verification
// and stores message events (new, edited, thread replies) of the incidents'
// channels live, as slack:message:{channel}:{ts}. An edit older than the
// stored version (a retry arriving late) changes nothing; a deletion
// (message_deleted, or message_changed to a tombstone) removes the message
// from the timelines whose window holds it, and is kept even when the
// message itself never arrived, so that a late copy cannot bring it back.
func (s *Server) slackWebhook(ctx context.Context, r *http.Request, body []byte) (WebhookAckJSON, error) {
	secret := s.Webhooks.SlackSigningSecret
	if secret == "" {
		return WebhookAckJSON{}, notConfigured("slack", "sources.slack.signing_secret")
	}
	// The Events API posts JSON (slash commands and interactivity, which
	// post forms, are not received here).
	if err := requireJSON(r); err != nil {
		return WebhookAckJSON{}, err
	}
	tsHeader := r.Header.Get("X-Slack-Request-Timestamp")
	sig := r.Header.Get("X-Slack-Signature")
	if tsHeader == "" || sig == "" {
		return WebhookAckJSON{}, unauthorized("missing X-Slack-Request-Timestamp or X-Slack-Signature")
	}
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return WebhookAckJSON{}, unauthorized("X-Slack-Request-Timestamp is not a Unix time")
	}
	if skew := s.now().Sub(time.Unix(ts, 0)); skew > slackMaxSkew || skew < -slackMaxSkew {
		return WebhookAckJSON{}, unauthorized("X-Slack-Request-Timestamp is more than 5 minutes from now (replayed or a wrong clock)")
	}
	if !verifyHex(sig, "v0=", hmacSHA256(secret, []byte("v0:"+tsHeader+":"), body)) {
		return WebhookAckJSON{}, unauthorized("X-Slack-Signature does not match the body")
	}
	var env slackEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return WebhookAckJSON{}, malformed("the body is not an Events API request: %v", err)
	}
	switch env.Type {
	case "url_verification":
		if env.Challenge == "" {
			return WebhookAckJSON{}, malformed("challenge: required for url_verification")
		}
		return WebhookAckJSON{Status: outcomeIgnored, Challenge: env.Challenge}, nil
	case "event_callback":
	default:
		return WebhookAckJSON{Status: outcomeIgnored, Reason: env.Type + " requests are not captured"}, nil
	}
	var inner struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(env.Event, &inner); err != nil {
		return WebhookAckJSON{}, malformed("event: %v", err)
	}
	if inner.Type != "message" {
		return WebhookAckJSON{Status: outcomeIgnored, Reason: inner.Type + " events are not captured"}, nil
	}
	var ev slackevents.MessageEvent
	if err := json.Unmarshal(env.Event, &ev); err != nil {
		return WebhookAckJSON{}, malformed("event: not a message event: %v", err)
	}
	if env.EventID == "" {
		return WebhookAckJSON{}, malformed("event_id: required")
	}
	e, ok, err := s.normalizeSlack(ctx, &ev)
	if err != nil {
		return WebhookAckJSON{}, malformed("event: %v", err)
	}
	if !ok {
		return WebhookAckJSON{Status: outcomeIgnored, Reason: "message " + ev.SubType + " is not kept on timelines"}, nil
	}
	channel, _ := e.Details["channel"].(string)
	if channel == "" {
		return WebhookAckJSON{}, malformed("event.channel is missing")
	}
	return s.captureLive(ctx, "slack", env.EventID, timeline.LiveScope{Channel: channel}, []timeline.Event{e})
}

// normalizeSlack normalises a message as the collector would, with name
// lookups bounded so that the receiver answers in time.
func (s *Server) normalizeSlack(ctx context.Context, ev *slackevents.MessageEvent) (timeline.Event, bool, error) {
	budget := s.Webhooks.SlackLookupBudget
	if budget <= 0 {
		budget = 300 * time.Millisecond
	}
	lctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	var ws string
	if s.Webhooks.SlackWorkspaceFunc != nil {
		if u, err := s.Webhooks.SlackWorkspaceFunc(lctx); err == nil {
			ws = u
		} else {
			s.logger().Debug("slack workspace url unknown for live capture", zap.Error(err))
		}
	}
	var users slack.UserResolver
	if s.Webhooks.SlackUsers != nil {
		users = boundedUsers{s.Webhooks.SlackUsers}
	}
	return slack.NormalizeMessageEvent(lctx, ws, ev, users)
}

// boundedUsers turns every failed lookup (the budget ran out, Slack is rate
// limiting) into slack.ErrUnknown, so the live event keeps the id as name
// and the receiver answers in time.
type boundedUsers struct{ slack.UserResolver }

func (b boundedUsers) User(ctx context.Context, id string) (timeline.Actor, error) {
	a, err := b.UserResolver.User(ctx, id)
	if err != nil && !errors.Is(err, slack.ErrUnknown) {
		return a, fmt.Errorf("%w: %v", slack.ErrUnknown, err)
	}
	return a, err
}

func (b boundedUsers) Bot(ctx context.Context, id string) (string, error) {
	n, err := b.UserResolver.Bot(ctx, id)
	if err != nil && !errors.Is(err, slack.ErrUnknown) {
		return n, fmt.Errorf("%w: %v", slack.ErrUnknown, err)
	}
	return n, err
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
