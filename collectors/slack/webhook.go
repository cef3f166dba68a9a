package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/slack-go/slack/slackevents"
	"go.uber.org/zap"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/timeline"
)

// ReceiverName is the Events API receiver: POST /webhooks/slack.
const ReceiverName = Name

// MaxSkew is how far a request's X-Slack-Request-Timestamp may be from the
// time it is received: an older one is a replay, or a wrong clock.
const MaxSkew = 5 * time.Minute

// DefaultLookupBudget bounds the user and workspace lookups of one delivery
// when Receiver.LookupBudget is zero.
const DefaultLookupBudget = 300 * time.Millisecond

// Receiver receives the Slack Events API: it answers url_verification and
// captures message events (new, edited, thread replies) of the incidents'
// channels live, as slack:message:{channel}:{ts}. An edit older than the
// stored version (a retry arriving late) changes nothing; a deletion
// (message_deleted, or message_changed to a tombstone) removes the message
// from the timelines whose window holds it, and is kept even when the
// message itself never arrived, so that a late copy cannot bring it back.
//
// Set its fields before it receives anything.
type Receiver struct {
	cfg *Config
	log *zap.Logger
	// Users resolves the names of live messages' people as the collector
	// does; nil keeps user ids as names.
	Users UserResolver
	// WorkspaceFunc returns the workspace URL for permalinks; nil leaves
	// live messages without one until they are collected.
	WorkspaceFunc func(ctx context.Context) (string, error)
	// LookupBudget bounds the lookups of one delivery (DefaultLookupBudget
	// when zero); past it a name falls back to the id, which a later
	// collection fills in, so that Slack gets its answer in time.
	LookupBudget time.Duration
}

var _ collectors.WebhookReceiver = (*Receiver)(nil)

// NewReceiver returns the receiver of cfg. With the collector c (nil when
// the source is disabled), live messages get the names and permalinks the
// collector would give them.
func NewReceiver(cfg *Config, c *Collector, opts collectors.ClientOptions) *Receiver {
	r := &Receiver{cfg: cfg, log: opts.Log()}
	if c != nil {
		r.Users = c.NewUserResolver()
		r.WorkspaceFunc = c.WorkspaceURL
	}
	return r
}

// Name implements collectors.WebhookReceiver.
func (r *Receiver) Name() string { return ReceiverName }

// envelope is the outer shape of an Events API request.
type envelope struct {
	Type      string          `json:"type"`
	Challenge string          `json:"challenge"`
	EventID   string          `json:"event_id"`
	Event     json.RawMessage `json:"event"`
}

// Receive implements collectors.WebhookReceiver. X-Slack-Signature is the
// HMAC-SHA256 of "v0:{timestamp}:{body}", and the timestamp must be within
// MaxSkew of the time the delivery is received.
func (r *Receiver) Receive(ctx context.Context, req *http.Request, body []byte) (collectors.Delivery, error) {
	if r.cfg.SigningSecret == "" {
		return collectors.Delivery{}, collectors.NotConfigured(ReceiverName, "sources.slack.signing_secret")
	}
	// The Events API posts JSON (slash commands and interactivity, which
	// post forms, are not received here).
	if err := collectors.RequireJSON(req); err != nil {
		return collectors.Delivery{}, err
	}
	tsHeader := req.Header.Get("X-Slack-Request-Timestamp")
	sig := req.Header.Get("X-Slack-Signature")
	if tsHeader == "" || sig == "" {
		return collectors.Delivery{}, collectors.Unauthenticated("missing X-Slack-Request-Timestamp or X-Slack-Signature")
	}
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return collectors.Delivery{}, collectors.Unauthenticated("X-Slack-Request-Timestamp is not a Unix time")
	}
	if skew := collectors.ReceivedAt(ctx).Sub(time.Unix(ts, 0)); skew > MaxSkew || skew < -MaxSkew {
		return collectors.Delivery{}, collectors.Unauthenticated("X-Slack-Request-Timestamp is more than 5 minutes from now (replayed or a wrong clock)")
	}
	if !collectors.VerifyHex(sig, "v0=", collectors.HMACSHA256(r.cfg.SigningSecret, []byte("v0:"+tsHeader+":"), body)) {
		return collectors.Delivery{}, collectors.Unauthenticated("X-Slack-Signature does not match the body")
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return collectors.Delivery{}, collectors.Malformed("the body is not an Events API request: %v", err)
	}
	switch env.Type {
	case "url_verification":
		if env.Challenge == "" {
			return collectors.Delivery{}, collectors.Malformed("challenge: required for url_verification")
		}
		return collectors.Delivery{Challenge: env.Challenge}, nil
	case "event_callback":
	default:
		return collectors.Delivery{Ignored: env.Type + " requests are not captured"}, nil
	}
	var inner struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(env.Event, &inner); err != nil {
		return collectors.Delivery{}, collectors.Malformed("event: %v", err)
	}
	if inner.Type != "message" {
		return collectors.Delivery{Ignored: inner.Type + " events are not captured"}, nil
	}
	var ev slackevents.MessageEvent
	if err := json.Unmarshal(env.Event, &ev); err != nil {
		return collectors.Delivery{}, collectors.Malformed("event: not a message event: %v", err)
	}
	if env.EventID == "" {
		return collectors.Delivery{}, collectors.Malformed("event_id: required")
	}
	e, ok, err := r.normalize(ctx, &ev)
	if err != nil {
		return collectors.Delivery{}, collectors.Malformed("event: %v", err)
	}
	if !ok {
		return collectors.Delivery{Ignored: "message " + ev.SubType + " is not kept on timelines"}, nil
	}
	channel, _ := e.Details["channel"].(string)
	if channel == "" {
		return collectors.Delivery{}, collectors.Malformed("event.channel is missing")
	}
	return collectors.Delivery{ID: env.EventID, Scope: timeline.LiveScope{Channel: channel}, Live: []timeline.Event{e}}, nil
}

// normalize normalises a message as the collector would, with name lookups
// bounded so that the receiver answers in time.
func (r *Receiver) normalize(ctx context.Context, ev *slackevents.MessageEvent) (timeline.Event, bool, error) {
	budget := r.LookupBudget
	if budget <= 0 {
		budget = DefaultLookupBudget
	}
	lctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	var ws string
	if r.WorkspaceFunc != nil {
		if u, err := r.WorkspaceFunc(lctx); err == nil {
			ws = u
		} else {
			r.log.Debug("slack workspace url unknown for live capture", zap.Error(err))
		}
	}
	var users UserResolver
	if r.Users != nil {
		users = boundedUsers{r.Users}
	}
	return NormalizeMessageEvent(lctx, ws, ev, users)
}

// boundedUsers turns every failed lookup (the budget ran out, Slack is rate
// limiting) into ErrUnknown, so the live event keeps the id as name and the
// receiver answers in time.
type boundedUsers struct{ UserResolver }

func (b boundedUsers) User(ctx context.Context, id string) (timeline.Actor, error) {
	a, err := b.UserResolver.User(ctx, id)
	return a, unknownOnFailure(err)
}

func (b boundedUsers) Bot(ctx context.Context, id string) (string, error) {
	n, err := b.UserResolver.Bot(ctx, id)
	return n, unknownOnFailure(err)
}

// ChannelName names the channel as the collector does, when the resolver
// can (ChannelResolver), within the same budget.
func (b boundedUsers) ChannelName(ctx context.Context, id string) (string, error) {
	cr, ok := b.UserResolver.(ChannelResolver)
	if !ok {
		return "", ErrUnknown
	}
	n, err := cr.ChannelName(ctx, id)
	return n, unknownOnFailure(err)
}

func unknownOnFailure(err error) error {
	if err != nil && !errors.Is(err, ErrUnknown) {
		return fmt.Errorf("%w: %v", ErrUnknown, err)
	}
	return err
}
