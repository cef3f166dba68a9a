package collectors

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/timeline"
)

// Source describes one source of events: its name, its configuration, how
// its collector is built and, optionally, its webhook receivers. A source
// lives in one folder, collectors/<name>, and exports one Source value; cmd
// lists those values explicitly (cmd/groundwork/sources.go) and does the
// rest: it decodes sources.<name> into NewConfig's value, validates it,
// prints it with its secrets redacted, builds the collector when the source
// is enabled and mounts the receivers under POST /webhooks/{name}.
type Source struct {
	// Name is the config key (sources.<name>) and the Event.Source of every
	// event the source emits. It is lower-case letters, digits and '_'.
	Name string
	// NewConfig returns a pointer to the source's config struct with every
	// default filled in. cmd decodes the YAML section over it, refusing
	// unknown keys and values their fields cannot hold, then calls
	// Validate.
	NewConfig func() Config
	// New builds the collector from the config NewConfig returned, decoded
	// and valid, when it is Enabled. opts carries the process's shared
	// observer, logger, clock and live coverage. nil for a source that only
	// receives (the generic incident hook): it has no collector.
	New func(cfg Config, opts ClientOptions) (Collector, error)
	// Receivers, when set, returns the source's webhook receivers. c is the
	// source's collector, or nil when the source is disabled (a receiver
	// may still capture live events then). A receiver whose credentials are
	// not configured is returned all the same and refuses every delivery
	// with ErrNotConfigured, so that a sender gets an answer that says why.
	Receivers func(cfg Config, c Collector, opts ClientOptions) []WebhookReceiver
	// Live, when set, says that the source's receivers deliver its events as
	// they happen by place (a repository, a channel), for the live journal.
	Live *LiveCapture
}

// LiveCapture describes a source whose receivers deliver its events live,
// each delivery in one place (Delivery.Scope.Repo or .Channel). cmd keeps
// the live events of every place of its kind named in services or default
// in the live journal, whether or not an incident covers them yet, and
// while the receiver is configured, heartbeats record that capture was
// running (the coverage that lets a collection skip reading what live
// capture vouches for, see Coverage).
type LiveCapture struct {
	// Place is the kind of place of the live events.
	Place Place
	// Tolerance is the longest silence a stretch of coverage survives: how
	// long the sender goes on retrying a delivery that failed, less a
	// margin. Zero for a sender that never retries; cmd then allows two
	// heartbeats.
	Tolerance time.Duration
	// ConfiguredFunc reports whether the receiver of cfg is configured (its
	// secret is set): only then do heartbeats vouch for its capture.
	ConfiguredFunc func(cfg Config) bool
}

// Place is a kind of place that live events happen in: the domain's
// timeline.ScopeKind, which also says how places of the kind compare. The
// live journal files a source's events under its LiveCapture.Place.
type Place = timeline.ScopeKind

// The kinds of place, as the scope of an incident names them.
const (
	// PlaceRepo is a repository, owner/name (services.<id>.github_repos).
	PlaceRepo = timeline.ScopeRepo
	// PlaceChannel is a chat channel id (services.<id>.slack_channels).
	PlaceChannel = timeline.ScopeChannel
)

// Config is a source's configuration: a pointer to a struct with yaml tags.
// Secret fields have the type Secret, so that printing the configuration
// redacts them without a list kept by hand.
type Config interface {
	// Validate reports every problem, each error naming its key relative
	// to the source's section ("api_url: ..."), to which cmd adds
	// "sources.<name>.", or in full ("sources.<name>.api_url: ...").
	Validate() error
	// Enabled reports whether the collector should run: its required
	// settings are present.
	Enabled() bool
}

// ParseHTTPURL parses a configured URL, refusing one that is not an
// absolute http or https URL with a host; the error quotes raw, for the
// source to prefix with its key.
func ParseHTTPURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an absolute http(s) URL", raw)
	}
	return u, nil
}

// WebhookReceiver receives one kind of delivery from a source. The api does
// everything that is the same for every sender: it caps and reads the body,
// maps errors to statuses, digests a missing delivery id, deduplicates,
// records the incidents, the live events and the queued collections in one
// transaction, and counts the outcome.
type WebhookReceiver interface {
	// Name is the last segment of the receiver's path, POST
	// /webhooks/{Name}, and the receiver of the recorded delivery: lower-case
	// letters, digits, '_' and '-'.
	Name() string
	// Receive verifies the sender before it parses anything, then parses
	// and normalises the body. ReceivedAt(ctx) is the time of the delivery
	// by the server's clock. Its errors are refusals made with Refuse
	// (wrapping ErrNotConfigured, ErrUnauthenticated, ErrMalformed or
	// ErrUnsupportedMediaType), whose messages the sender reads; any other
	// error is a fault of the service (500, cause hidden).
	Receive(ctx context.Context, r *http.Request, body []byte) (Delivery, error)
}

// Delivery is what a receiver made of one delivery.
type Delivery struct {
	// ID is the sender's delivery id; when empty the api uses a digest of
	// the body, so that a retry of the same body changes nothing.
	ID string
	// Ignored, when set, acknowledges the delivery without recording it,
	// and says why (an event type that is not captured).
	Ignored string
	// Incidents are declared (the lifecycle of an incident the source
	// owns); the api fills in each one's window and scope (services.<id>).
	Incidents []timeline.Incident
	// Collect queues a collection per request.
	Collect []timeline.CollectRequest
	// Events are stored as they are, with the IncidentID the receiver gave
	// them, which is one of Incidents: the incident's own events, such as
	// the generic hook's incident.opened.
	Events []timeline.Event
	// Live are events as they happen, stored for every incident whose
	// scope and window hold them; IncidentID is filled in by the api.
	// Events without a time are dropped.
	Live []timeline.Event
	// Scope selects the incidents of Live by place: a repository, a
	// channel, or AnyPlace. Its From and To are filled in by the api. The
	// live events of a repository or a channel that the live journal keeps
	// (see LiveCapture) go to the journal, which joins them to every
	// incident covering them, now or when it is declared.
	Scope timeline.LiveScope
	// AcceptFunc, when set, reports whether incident inc takes live event
	// e, beyond its window (a service's label matcher); nil takes all.
	AcceptFunc func(inc timeline.Incident, e timeline.Event) bool
	// Challenge, when set, is a handshake the sender wants echoed (Slack's
	// url_verification): the api answers {"challenge": Challenge} alone and
	// records nothing.
	Challenge string
}

// Refusals a receiver returns, through Refuse; the api answers each with
// its status.
var (
	// ErrNotConfigured: the receiver's credentials are not set (401).
	ErrNotConfigured = errors.New("webhook not configured")
	// ErrUnauthenticated: the sender's signature or credentials are
	// missing or wrong (401).
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrMalformed: the body is not what the sender sends (400).
	ErrMalformed = errors.New("malformed body")
	// ErrUnsupportedMediaType: the body is not of the media type the
	// receiver reads (415).
	ErrUnsupportedMediaType = errors.New("unsupported media type")
)

// RefusalError is a refusal whose Message is written for the sender: it
// names what is wrong and never holds a secret or an internal error chain.
type RefusalError struct {
	// Reason is one of ErrNotConfigured, ErrUnauthenticated, ErrMalformed
	// or ErrUnsupportedMediaType.
	Reason  error
	Message string
}

func (e *RefusalError) Error() string { return e.Message }

// Unwrap returns the reason, for errors.Is.
func (e *RefusalError) Unwrap() error { return e.Reason }

// Refuse returns a *RefusalError for reason with a formatted message.
func Refuse(reason error, format string, args ...any) error {
	return &RefusalError{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// RequireJSON refuses a body whose Content-Type is set and is not JSON in
// UTF-8. A missing Content-Type is let through.
func RequireJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		if cs, ok := params["charset"]; !ok || strings.EqualFold(cs, "utf-8") {
			return nil
		}
	}
	return Refuse(ErrUnsupportedMediaType, "the body must be JSON: send Content-Type: application/json (UTF-8), not %s", Quote(ct))
}
