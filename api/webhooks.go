package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/groundwork-dev/groundwork/timeline"
)

// WebhookConfig configures what the api does with the receivers'
// deliveries (see Server.Receivers).
type WebhookConfig struct {
	// MaxBody caps a delivery's body (webhooks.max_body; default 1 MiB).
	MaxBody int64
	// Before and After widen an incident's span into its window
	// (window.before, window.after).
	Before, After time.Duration
	// ScopeFunc returns the repositories and channels of a service
	// (services.<id>, else default); an incident without a service gets
	// the default scope ("").
	ScopeFunc func(serviceID string) (repos, channels []string)
	// Timeout bounds a delivery's database work (default 1s); a delivery
	// that cannot be recorded in time is answered 503, so it is retried.
	Timeout time.Duration
	// JournalScopeFunc reports whether live events of source (their
	// Event.Source) in scope (a repository or a channel id) are kept in
	// the live journal: cmd keeps those of every scope named in services
	// or default, of the sources that capture live. They are kept whether
	// or not an incident covers them yet, and join every incident covering
	// them in the same transaction. nil keeps no journal: live events are
	// stored only for the incidents covering them.
	JournalScopeFunc func(source, scope string) bool
	// BreakCoverageFunc records that a live delivery of a journaled scope
	// about [from, to] was refused, so that live coverage no longer vouches
	// for that stretch and collections read it upstream; nil records
	// nothing. A failure to record is logged.
	BreakCoverageFunc func(ctx context.Context, source, scope string, from, to time.Time) error
}

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
	// Challenge, when set, is a sender's handshake (a receiver's
	// collectors.Delivery.Challenge), which is answered alone:
	// {"challenge": ...}.
	Challenge string `json:"challenge,omitempty"`
}

// webhookFunc handles a delivery whose body has been read (not yet
// verified) and returns the acknowledgement.
type webhookFunc func(ctx context.Context, r *http.Request, body []byte) (WebhookAckJSON, error)

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
			// A handshake wants its challenge back, alone.
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

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
