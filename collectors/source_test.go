package collectors_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"go.yaml.in/yaml/v3"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

// scoped is a collector that watches one service only.
type scoped struct {
	service string
	calls   int
}

func (s *scoped) Name() string { return "scoped" }

func (s *scoped) CanCollect(w timeline.Window) bool { return w.ServiceID == s.service }

func (s *scoped) Collect(ctx context.Context, w timeline.Window, emit func(timeline.Event) error) error {
	s.calls++
	return emit(timeline.Event{ID: "scoped:alert:1", Source: "scoped", Kind: timeline.KindAlertFiring, OccurredAt: w.Start})
}

// TestRunnerSkipsASourceWithNothingToCollect: a collector that says it has
// nothing for the incident is not called, and its status (queued as pending)
// ends as succeeded with no events; for its own service it runs.
func TestRunnerSkipsASourceWithNothingToCollect(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := postgres.New(pgtest.New(t).Pool)
	c := &scoped{service: "PSVC001"}
	reg := &collectors.Registry{}
	reg.Register(c)
	var outcomes []string
	r := &collectors.Runner{Registry: reg, Store: st, DoneFunc: func(_, o string) { outcomes = append(outcomes, o) }}
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	for _, id := range []string{"OTHER", "MINE"} {
		if err := st.UpsertIncident(ctx, timeline.Incident{ID: id, StartedAt: t0, WindowStart: t0, WindowEnd: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}

	res := r.Run(ctx, timeline.Window{IncidentID: "OTHER", ServiceID: "PSVC999", Start: t0, End: t0.Add(time.Hour)})
	if err := res.Err(); err != nil || c.calls != 0 || res.Sources[0].Events != 0 {
		t.Fatalf("another service: err %v, %d calls, %d events; want no call", err, c.calls, res.Sources[0].Events)
	}
	sts, err := st.SourceStatuses(ctx, "OTHER")
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 1 || sts[0].State != timeline.StateSucceeded || sts[0].EventCount != 0 || sts[0].FinishedAt == nil {
		t.Errorf("status %+v, want succeeded with 0 events and a finish time", sts)
	}

	res = r.Run(ctx, timeline.Window{IncidentID: "MINE", ServiceID: "PSVC001", Start: t0, End: t0.Add(time.Hour)})
	if err := res.Err(); err != nil || c.calls != 1 || res.Sources[0].Events != 1 {
		t.Fatalf("its service: err %v, %d calls, %d events; want one call and one event", err, c.calls, res.Sources[0].Events)
	}
	if fmt.Sprint(outcomes) != "[skipped succeeded]" {
		t.Errorf("outcomes %v, want [skipped succeeded]", outcomes)
	}
}

type secretConfig struct {
	URL    string                                `yaml:"url" json:"url"`
	Token  collectors.Secret                     `yaml:"token" json:"token"`
	Empty  collectors.Secret                     `yaml:"empty" json:"empty"`
	Nested *struct{ Password collectors.Secret } `yaml:"nested" json:"nested"`
	ByName map[string]collectors.Secret          `yaml:"by_name" json:"by_name"`
}

// TestSecretNeverPrints: every way a configuration gets printed shows
// [REDACTED] for a set secret and nothing for an empty one; SecretsOf finds
// every secret by its type.
func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	const tok, pw, named = "tok-4f9a1c", "pw-77c2d0", "named-e41b"
	cfg := secretConfig{URL: "https://prom.example", Token: tok,
		Nested: &struct{ Password collectors.Secret }{pw}, ByName: map[string]collectors.Secret{"a": named}}

	y, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.InfoLevel)
	zap.New(core).Info("config", zap.Any("config", cfg), zap.Stringer("token", cfg.Token))
	var logged strings.Builder
	for _, e := range logs.All() {
		fmt.Fprintf(&logged, "%v %v\n", e.ContextMap(), e.Message)
	}
	printed := []string{
		string(y), string(j), logged.String(),
		fmt.Sprint(cfg), fmt.Sprintf("%v %+v %#v %s %q %x", cfg, cfg, cfg, cfg.Token, cfg.Token, cfg.Token),
		fmt.Sprintf("%v", &cfg), fmt.Errorf("connecting with %v: %w", cfg.Token, errors.New("refused")).Error(),
	}
	for i, p := range printed {
		for _, s := range []string{tok, pw, named} {
			if strings.Contains(p, s) {
				t.Errorf("printing %d shows the secret %q:\n%s", i, s, p)
			}
		}
		if !strings.Contains(p, collectors.Redacted) {
			t.Errorf("printing %d does not say [REDACTED]:\n%s", i, p)
		}
	}
	if !strings.Contains(string(y), `empty: ""`) {
		t.Errorf("an empty secret prints as %q, want empty:\n%s", "", y)
	}
	got := collectors.SecretsOf(&cfg)
	if fmt.Sprint(got) != fmt.Sprint([]string{tok, pw, named}) {
		t.Errorf("SecretsOf = %d secrets, want the 3 set ones", len(got))
	}
	if cfg.Token.Value() != tok {
		t.Error("Value does not return the secret")
	}
}

// TestRequireJSON: JSON in UTF-8 (or no Content-Type) passes; anything else
// is refused as an unsupported media type, naming what was sent.
func TestRequireJSON(t *testing.T) {
	t.Parallel()
	for ct, ok := range map[string]bool{
		"": true, "application/json": true, "application/json; charset=utf-8": true, "application/vnd.x+json": true,
		"text/plain": false, "application/json; charset=latin1": false, "application/x-www-form-urlencoded": false,
	} {
		r := httptest.NewRequest("POST", "/webhooks/x", nil)
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		err := collectors.RequireJSON(r)
		if (err == nil) != ok {
			t.Errorf("%q: err = %v, want ok=%v", ct, err, ok)
		}
		if err != nil && (!errors.Is(err, collectors.ErrUnsupportedMediaType) || !strings.Contains(err.Error(), ct)) {
			t.Errorf("%q: err = %v, want ErrUnsupportedMediaType naming the type", ct, err)
		}
	}
}
