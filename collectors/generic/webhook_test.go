package generic_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/collectors/generic"
	"github.com/groundwork-dev/groundwork/timeline"
)

const secret = "generic-hook-secret-for-tests"

// receive signs body (unless sig is given) and hands it to a receiver of
// secret at the server's time at.
func receive(t *testing.T, rcv *generic.Receiver, at time.Time, body string, sig ...string) (collectors.Delivery, error) {
	t.Helper()
	r := httptest.NewRequest("POST", "/webhooks/incident", strings.NewReader(body))
	if len(sig) == 0 {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(body))
		sig = []string{"sha256=" + hex.EncodeToString(m.Sum(nil))}
	}
	if sig[0] != "" {
		r.Header.Set("X-Groundwork-Signature", sig[0])
	}
	r.Header.Set("X-Webhook-Id", "d-1")
	return rcv.Receive(collectors.WithReceivedAt(context.Background(), at), r, []byte(body))
}

// TestReceiverDeclares: an open incident is declared with its scope, dated
// by the time the server received it (the hook carries no time of its own),
// with its incident.opened event; a resolved one also gets incident.closed
// and its collection.
func TestReceiverDeclares(t *testing.T) {
	t.Parallel()
	rcv := generic.NewReceiver(&generic.Config{WebhookSecret: secret})
	at := time.Date(2026, 11, 20, 11, 0, 0, 0, time.FixedZone("CET", 3600))
	started := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	d, err := receive(t, rcv, at, `{"id":"INC-42","title":"Checkout down","started_at":"2026-11-20T09:00:00Z",
		"github_repos":["acme/checkout-api"],"slack_channels":["C0CHECKOUT"]}`)
	if err != nil {
		t.Fatal(err)
	}
	want := collectors.Delivery{ID: "d-1",
		Incidents: []timeline.Incident{{ID: "INC-42", Title: "Checkout down", Source: generic.Name, StartedAt: started,
			StatusAt: at.UTC(), Repos: []string{"acme/checkout-api"}, Channels: []string{"C0CHECKOUT"}}},
		Events: []timeline.Event{{ID: "generic:incident:INC-42:opened", IncidentID: "INC-42", Source: generic.Name,
			Kind: timeline.KindIncidentOpened, OccurredAt: started, Title: "Incident opened: Checkout down",
			Details: map[string]any{"incident_title": "Checkout down"}}}}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("open incident (-want +got):\n%s", diff)
	}

	d, err = receive(t, rcv, at, `{"id":"INC-42","started_at":"2026-11-20T09:00:00Z","resolved_at":"2026-11-20T10:00:00Z"}`)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Events) != 2 || d.Events[1].Kind != timeline.KindIncidentClosed || d.Incidents[0].ResolvedAt == nil ||
		!cmp.Equal(d.Collect, []timeline.CollectRequest{{IncidentID: "INC-42"}}) {
		t.Errorf("resolved incident: %+v, want it closed, with incident.closed and its collection", d)
	}
}

// TestReceiverRefuses: without its secret the hook says how to set it; a
// delivery that is unsigned, signed otherwise or not the hook's shape is
// refused with the reason, and nothing is declared.
func TestReceiverRefuses(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 20, 11, 0, 0, 0, time.UTC)
	ok := `{"id":"INC-1","started_at":"2026-11-20T09:00:00Z"}`
	if _, err := receive(t, generic.NewReceiver(&generic.Config{}), at, ok); !errors.Is(err, collectors.ErrNotConfigured) ||
		!strings.Contains(err.Error(), "sources.generic.webhook_secret") {
		t.Errorf("not configured: %v", err)
	}
	rcv := generic.NewReceiver(&generic.Config{WebhookSecret: secret})
	for _, tc := range []struct {
		name, body string
		sig        []string
		reason     error
		message    string
	}{
		{"unsigned", ok, []string{""}, collectors.ErrUnauthenticated, "missing X-Groundwork-Signature"},
		{"wrong signature", ok, []string{"sha256=00"}, collectors.ErrUnauthenticated, "X-Groundwork-Signature does not match the body"},
		{"unknown field", `{"id":"INC-1","started_at":"2026-11-20T09:00:00Z","severity":"sev1"}`, nil, collectors.ErrMalformed, `unknown field "severity"`},
		{"no id", `{"started_at":"2026-11-20T09:00:00Z"}`, nil, collectors.ErrMalformed, "id: required"},
		{"bad id", `{"id":"../x","started_at":"2026-11-20T09:00:00Z"}`, nil, collectors.ErrMalformed, "id: "},
		{"no start", `{"id":"INC-1"}`, nil, collectors.ErrMalformed, "started_at: required"},
		{"bad start", `{"id":"INC-1","started_at":"9am"}`, nil, collectors.ErrMalformed, "started_at: must be an RFC 3339 time"},
		{"reversed", `{"id":"INC-1","started_at":"2026-11-20T09:00:00Z","resolved_at":"2026-11-20T08:00:00Z"}`, nil, collectors.ErrMalformed, "resolved_at: is before started_at"},
		{"bad repo", `{"id":"INC-1","started_at":"2026-11-20T09:00:00Z","github_repos":["checkout"]}`, nil, collectors.ErrMalformed, "github_repos: "},
	} {
		d, err := receive(t, rcv, at, tc.body, tc.sig...)
		if !errors.Is(err, tc.reason) || !strings.HasPrefix(err.Error(), tc.message) || len(d.Incidents) != 0 {
			t.Errorf("%s: %v (%+v), want %v starting %q", tc.name, err, d, tc.reason, tc.message)
		}
	}
}
