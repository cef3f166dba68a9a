package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/api"
	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/timeline"
)

// beacon is a plug-in receiver of the tests' own making, as a source would
// write one: bearer credentials, a JSON body of signals, each one a live
// event for the incidents of its service, and optionally an incident it
// declares.
type beacon struct{ token string }

const beaconToken = "beacon-token-3c9e"

type beaconBody struct {
	ID      string `json:"id"`
	Signals []struct {
		Name    string `json:"name"`
		At      string `json:"at"`
		Service string `json:"service"`
	} `json:"signals"`
	Declare *struct {
		ID        string `json:"id"`
		Service   string `json:"service"`
		StartedAt string `json:"started_at"`
	} `json:"declare"`
	Fault bool `json:"fault"`
}

func (b beacon) Name() string { return "beacon" }

func (b beacon) Receive(ctx context.Context, r *http.Request, body []byte) (collectors.Delivery, error) {
	if b.token == "" {
		return collectors.Delivery{}, collectors.Refuse(collectors.ErrNotConfigured, "the beacon webhook is not configured: set sources.beacon.token")
	}
	if err := collectors.RequireJSON(r); err != nil {
		return collectors.Delivery{}, err
	}
	if r.Header.Get("Authorization") != "Bearer "+b.token {
		return collectors.Delivery{}, collectors.Refuse(collectors.ErrUnauthenticated, "the bearer token is missing or wrong")
	}
	var in beaconBody
	if err := json.Unmarshal(body, &in); err != nil {
		return collectors.Delivery{}, collectors.Refuse(collectors.ErrMalformed, "the body is not a beacon delivery")
	}
	if in.Fault {
		return collectors.Delivery{}, errors.New("dial tcp 10.0.0.1:5432: the secret cause")
	}
	d := collectors.Delivery{ID: in.ID, Scope: timeline.LiveScope{AnyPlace: true}}
	if len(in.Signals) == 0 && in.Declare == nil {
		d.Ignored = "no signals"
		return d, nil
	}
	for _, s := range in.Signals {
		at, err := time.Parse(time.RFC3339, s.At)
		if err != nil {
			return collectors.Delivery{}, collectors.Refuse(collectors.ErrMalformed, "signals[].at: not an RFC 3339 time")
		}
		d.Live = append(d.Live, timeline.Event{ID: timeline.EventID("beacon", "signal", s.Name, strconv.FormatInt(at.Unix(), 10)),
			Source: "beacon", Kind: timeline.KindAlertFiring, OccurredAt: at, Title: s.Name,
			Details: map[string]any{"service": s.Service}})
	}
	d.AcceptFunc = func(inc timeline.Incident, e timeline.Event) bool { return inc.ServiceID == e.Details["service"] }
	if in.Declare != nil {
		started, _ := time.Parse(time.RFC3339, in.Declare.StartedAt)
		d.Incidents = []timeline.Incident{{ID: in.Declare.ID, ServiceID: in.Declare.Service, Source: "beacon", StartedAt: started}}
		d.Collect = []timeline.CollectRequest{{IncidentID: in.Declare.ID}}
	}
	return d, nil
}

// TestPluginReceiverThroughTheGenericPath: a receiver given to the server
// is mounted at POST /webhooks/{name}; its refusals get their statuses, a
// fault of its own hides its cause, live events join only the incidents
// whose window covers them and that it accepts, a redelivery changes
// nothing, and a declared incident is stored with its window and queued.
func TestPluginReceiverThroughTheGenericPath(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupWebhooks(t, func(s *api.Server) {
		s.Receivers = []collectors.WebhookReceiver{beacon{token: beaconToken}}
		s.Sources = []string{"beacon"}
	})
	unconfigured := setupWebhooks(t, func(s *api.Server) { s.Receivers = []collectors.WebhookReceiver{beacon{}} })
	for _, id := range []string{"INC-CHECKOUT", "INC-SEARCH"} {
		svc := map[string]string{"INC-CHECKOUT": "PSVC001", "INC-SEARCH": "PSVC002"}[id]
		if err := b.store.UpsertIncident(ctx, timeline.Incident{ID: id, ServiceID: svc, Source: timeline.SourceGeneric,
			StartedAt: t0, WindowStart: t0.Add(-2 * time.Hour), WindowEnd: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	auth := []string{"Authorization", "Bearer " + beaconToken}
	signal := []byte(`{"signals":[{"name":"HighLatency","at":"2026-11-20T08:30:00Z","service":"PSVC001"}]}`)

	for _, tc := range []struct {
		name    string
		b       *whBundle
		body    []byte
		headers []string
		status  int
		code    string
	}{
		{"not configured", unconfigured, signal, auth, 401, "webhook_not_configured"},
		{"no credentials", b, signal, nil, 401, "bad_signature"},
		{"wrong credentials", b, signal, []string{"Authorization", "Bearer nope"}, 401, "bad_signature"},
		{"not JSON", b, signal, append(auth, "Content-Type", "text/plain"), 415, "unsupported_media_type"},
		{"malformed", b, []byte(`{"signals":[{"at":"yesterday"}]}`), auth, 400, "malformed_body"},
		{"fault of the receiver", b, []byte(`{"fault":true}`), auth, 500, "internal"},
	} {
		status, body := tc.b.post(t, "/webhooks/beacon", tc.body, tc.headers...)
		if status != tc.status || errorCode(body) != tc.code {
			t.Errorf("%s: %d %v, want %d %s", tc.name, status, body, tc.status, tc.code)
		}
		if strings.Contains(errorMessage(body), "secret cause") {
			t.Errorf("%s: the cause of a fault reached the sender: %v", tc.name, body)
		}
	}
	if got := b.timeline(t, "INC-CHECKOUT"); len(got) != 0 {
		t.Fatalf("refused deliveries stored %d events", len(got))
	}

	status, body := b.post(t, "/webhooks/beacon", signal, auth...)
	if status != 200 || body["status"] != "accepted" || body["events"] != float64(1) {
		t.Fatalf("signal: %d %v, want accepted with 1 event", status, body)
	}
	got := b.timeline(t, "INC-CHECKOUT")
	if len(got) != 1 || got[0].ID != "beacon:signal:HighLatency:1795163400" || got[0].Source != "beacon" {
		t.Errorf("checkout's timeline %+v, want the signal", got)
	}
	if other := b.timeline(t, "INC-SEARCH"); len(other) != 0 {
		t.Errorf("the search incident, whose service the signal is not of, got %d events", len(other))
	}
	if status, body := b.post(t, "/webhooks/beacon", signal, auth...); status != 200 || body["status"] != "duplicate" {
		t.Errorf("redelivery: %d %v, want duplicate", status, body)
	}
	late := []byte(`{"signals":[{"name":"HighLatency","at":"2026-11-20T05:00:00Z","service":"PSVC001"}]}`)
	if status, body := b.post(t, "/webhooks/beacon", late, auth...); status != 200 || body["status"] != "ignored" {
		t.Errorf("a signal outside every window: %d %v, want ignored", status, body)
	}
	if status, body := b.post(t, "/webhooks/beacon", []byte(`{}`), auth...); status != 200 || body["status"] != "ignored" || body["reason"] != "no signals" {
		t.Errorf("nothing in it: %d %v, want ignored with the receiver's reason", status, body)
	}

	declare := []byte(`{"id":"d-7","declare":{"id":"BEACON-1","service":"PSVC003","started_at":"2026-11-20T10:00:00Z"},
		"signals":[{"name":"DiskFull","at":"2026-11-20T10:05:00Z","service":"PSVC003"}]}`)
	status, body = b.post(t, "/webhooks/beacon", declare, auth...)
	if status != 200 || body["status"] != "accepted" || len(body["job_ids"].([]any)) != 1 {
		t.Fatalf("declaring: %d %v, want accepted with a job", status, body)
	}
	inc, err := b.store.Incident(ctx, "BEACON-1")
	if err != nil {
		t.Fatal(err)
	}
	if !inc.WindowStart.Equal(t0.Add(-time.Hour)) || inc.ServiceID != "PSVC003" {
		t.Errorf("declared incident %+v, want its window from started_at - window.before", inc)
	}
	if evs := b.timeline(t, "BEACON-1"); len(evs) != 1 {
		t.Errorf("the declared incident's own signal: %d events, want 1", len(evs))
	}

	// The timeline's source filter knows the plug-in source.
	resp := b.get(t, "/v1/incidents/INC-CHECKOUT/timeline?source=beacon")
	if resp != 200 {
		t.Errorf("?source=beacon: %d, want 200", resp)
	}
	if resp := b.get(t, "/v1/incidents/INC-CHECKOUT/timeline?source=nope"); resp != 400 {
		t.Errorf("?source=nope: %d, want 400", resp)
	}
}

func (b *whBundle) get(t *testing.T, path string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+readToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestPluginReceiverNamesAreChecked: a receiver whose name is taken or is
// not one path segment is a wiring mistake, caught when the handler is built.
func TestPluginReceiverNamesAreChecked(t *testing.T) {
	t.Parallel()
	for _, rs := range [][]collectors.WebhookReceiver{
		{named("github")},
		{named("beacon"), named("beacon")},
		{named("a/b")},
		{named("")},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("receivers %v: no panic", rs)
				}
			}()
			(&api.Server{Receivers: append(testReceivers(), rs...)}).Handler()
		}()
	}
}

type named string

func (n named) Name() string { return string(n) }

func (n named) Receive(context.Context, *http.Request, []byte) (collectors.Delivery, error) {
	return collectors.Delivery{}, nil
}

// TestNoReceiverIsBuiltIn: the server mounts the receivers it is given and
// none of its own.
func TestNoReceiverIsBuiltIn(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer((&api.Server{}).Handler())
	t.Cleanup(srv.Close)
	for _, name := range []string{"pagerduty", "github", "slack", "incident", "alertmanager"} {
		resp, err := http.Post(srv.URL+"/webhooks/"+name, "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("POST /webhooks/%s with no receivers: %d, want 404", name, resp.StatusCode)
		}
	}
}
