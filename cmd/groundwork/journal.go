package main

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/groundwork-dev/groundwork/timeline"
)

// heartbeatEvery is how often a serve process records that its receivers
// are up, extending the live coverage of every configured scope.
const heartbeatEvery = 30 * time.Second

// Tolerances: the longest silence a coverage span survives, by source.
const (
	// Slack retries a delivery that failed nearly at once, after a minute
	// and after five minutes: every delivery refused during an outage
	// shorter than five minutes is retried after it. Four minutes leaves a
	// minute for Slack's own timing.
	slackTolerance = 4 * time.Minute
	// GitHub never retries a failed delivery by itself, so any silence
	// beyond two heartbeats breaks the span. GitHub's spans are recorded
	// but no collection relies on them (see the README).
	githubTolerance = 2 * heartbeatEvery
)

// liveSource is a receiver whose capture the heartbeat vouches for.
type liveSource struct {
	source    string
	scopes    []string
	tolerance time.Duration
}

// liveSources are the journaled receivers of this configuration: those with
// their secret set, each with the configured scopes of its source.
func (a *app) liveSources() []liveSource {
	if !a.cfg.Journal.Enabled() {
		return nil
	}
	repos, channels := a.cfg.JournalScopes()
	var out []liveSource
	if a.cfg.Sources.Slack.SigningSecret != "" && len(channels) > 0 {
		out = append(out, liveSource{timeline.SourceSlack, channels, slackTolerance})
	}
	if a.cfg.Sources.GitHub.WebhookSecret != "" && len(repos) > 0 {
		out = append(out, liveSource{timeline.SourceGitHub, repos, githubTolerance})
	}
	return out
}

// journalScopeFunc reports whether live events of source in scope are
// journaled: those of every repository (case-insensitively) and channel
// named in services or default. It is nil when the journal is off.
func (a *app) journalScopeFunc() func(source, scope string) bool {
	if !a.cfg.Journal.Enabled() {
		return nil
	}
	repos, channels := a.cfg.JournalScopes()
	keys := map[string]map[string]bool{timeline.SourceGitHub: {}, timeline.SourceSlack: {}}
	for _, r := range repos {
		keys[timeline.SourceGitHub][timeline.JournalScope(timeline.SourceGitHub, r)] = true
	}
	for _, c := range channels {
		keys[timeline.SourceSlack][timeline.JournalScope(timeline.SourceSlack, c)] = true
	}
	return func(source, scope string) bool { return keys[source][timeline.JournalScope(source, scope)] }
}

// heartbeat records, for every journaled receiver, that capture was running
// at now.
func (a *app) heartbeat(ctx context.Context, now time.Time) error {
	for _, ls := range a.liveSources() {
		if err := a.store.Heartbeat(ctx, ls.source, ls.scopes, now, ls.tolerance); err != nil {
			return err
		}
	}
	return nil
}

// runHeartbeats heartbeats every heartbeatEvery until ctx ends. A beat that
// fails (the database is unreachable) is logged; the span survives if the
// next one comes within the source's tolerance.
func (a *app) runHeartbeats(ctx context.Context) {
	if len(a.liveSources()) == 0 {
		return
	}
	tick := time.NewTicker(heartbeatEvery)
	defer tick.Stop()
	for {
		bctx, cancel := context.WithTimeout(ctx, heartbeatEvery)
		if err := a.heartbeat(bctx, time.Now()); err != nil && ctx.Err() == nil {
			a.log.Warn("live coverage heartbeat failed", zap.Error(err))
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
