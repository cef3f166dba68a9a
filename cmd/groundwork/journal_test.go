package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"

	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

func TestJournalRetentionConfig(t *testing.T) {
	cfg, err := ParseConfig([]byte(validConfig), getenv(testEnv))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Journal.Retention.Duration != 14*24*time.Hour || !cfg.Journal.Enabled() {
		t.Errorf("default journal.retention = %v, want 14d, on", cfg.Journal.Retention)
	}
	for raw, want := range map[string]time.Duration{"14d": 14 * 24 * time.Hour, "1d12h": 36 * time.Hour, "72h": 72 * time.Hour, "0": 0, "0s": 0} {
		cfg, err := ParseConfig([]byte(validConfig+"journal:\n  retention: "+raw+"\n"), getenv(testEnv))
		if err != nil {
			t.Errorf("retention %q: %v", raw, err)
			continue
		}
		if cfg.Journal.Retention.Duration != want || cfg.Journal.Enabled() != (want > 0) {
			t.Errorf("retention %q = %v (enabled %v), want %v", raw, cfg.Journal.Retention.Duration, cfg.Journal.Enabled(), want)
		}
		// The printed configuration loads back to the same value.
		again, err := ParseConfig([]byte(cfg.String()), getenv(testEnv))
		if err == nil && again.Journal.Retention.Duration != want {
			t.Errorf("retention %q printed and read back = %v", raw, again.Journal.Retention.Duration)
		}
	}
	for _, raw := range []string{"14 days", "-1d", "2w", "10m", "d"} {
		_, err := ParseConfig([]byte(validConfig+"journal:\n  retention: "+raw+"\n"), getenv(testEnv))
		if err == nil || !strings.Contains(err.Error(), "journal.retention") {
			t.Errorf("retention %q: err = %v, want one naming journal.retention", raw, err)
		}
	}
	if _, err := ParseConfig([]byte(validConfig+"journal:\n  keep: 1d\n"), getenv(testEnv)); err == nil || !strings.Contains(err.Error(), "journal.keep") {
		t.Errorf("unknown journal key: %v", err)
	}
}

// TestHeartbeatCoversConfiguredScopes: a serve process's heartbeats give
// coverage to every configured channel (and repository, matched without
// regard to case) of the receivers it has, and to nothing else; the
// journal keeps exactly those scopes; with journal.retention 0 there is
// neither journal nor coverage.
func TestHeartbeatCoversConfiguredScopes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := pgtest.NewEmpty(t)
	cfg := DefaultConfig()
	cfg.DatabaseURL = s.URL
	slackConfig(cfg).SigningSecret = "slack-signing-secret"
	githubConfig(cfg).WebhookSecret = "gh-hook-secret"
	cfg.Services = map[string]Scope{"PSVC1": {GitHubRepos: []string{"Acme/Checkout-API"}, SlackChannels: []string{"C0CHECKOUT"}}}
	cfg.Default = Scope{SlackChannels: []string{"C0OPS"}}
	a, err := newApp(ctx, cfg, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	t1 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	for i := range 3 {
		if err := a.heartbeat(ctx, t1.Add(time.Duration(i)*heartbeatEvery)); err != nil {
			t.Fatal(err)
		}
	}
	t2 := t1.Add(2 * heartbeatEvery)
	covered := func(source, scope string, now time.Time) []timeline.Span {
		t.Helper()
		sp, err := a.store.Covered(ctx, source, scope, t1.Add(-time.Hour), t1.Add(time.Hour), now)
		if err != nil {
			t.Fatal(err)
		}
		return sp
	}
	want := []timeline.Span{{From: t1, To: t2}}
	for _, sc := range [][2]string{{"slack", "C0CHECKOUT"}, {"slack", "C0OPS"}, {"github", "acme/checkout-api"}} {
		if diff := cmp.Diff(want, covered(sc[0], sc[1], t1.Add(time.Hour))); diff != "" {
			t.Errorf("%s %s coverage (-want +got):\n%s", sc[0], sc[1], diff)
		}
	}
	if sp := covered("slack", "C0RANDOM", t2); len(sp) != 0 {
		t.Errorf("an unconfigured channel is covered: %v", sp)
	}
	// Slack's span lives through a silence of its retry window, GitHub's not.
	if got := covered("slack", "C0CHECKOUT", t2.Add(3*time.Minute)); len(got) != 1 || !got[0].To.Equal(t2.Add(3*time.Minute)) {
		t.Errorf("slack coverage 3m after the last heartbeat = %v, want it up to now", got)
	}
	if got := covered("github", "acme/checkout-api", t2.Add(3*time.Minute)); len(got) != 1 || !got[0].To.Equal(t2) {
		t.Errorf("github coverage 3m after the last heartbeat = %v, want it to end at the heartbeat", got)
	}
	journaled := a.journalScopeFunc()
	for _, tc := range []struct {
		source, scope string
		want          bool
	}{
		{"slack", "C0CHECKOUT", true}, {"slack", "C0OPS", true}, {"slack", "C0RANDOM", false},
		{"github", "acme/checkout-api", true}, {"github", "ACME/checkout-api", true}, {"github", "acme/infra", false},
		{"slack", "acme/checkout-api", false},
	} {
		if got := journaled(tc.source, tc.scope); got != tc.want {
			t.Errorf("journaled(%s, %s) = %v, want %v", tc.source, tc.scope, got, tc.want)
		}
	}
	if wc := a.webhookConfig(); wc.JournalScopeFunc == nil || wc.BreakCoverageFunc == nil {
		t.Error("the receivers are not wired to the journal")
	}

	a.cfg.Journal.Retention = Duration{}
	if a.journalScopeFunc() != nil || len(a.liveSources()) != 0 || a.webhookConfig().BreakCoverageFunc != nil {
		t.Error("journal.retention 0 still journals or heartbeats")
	}
}
