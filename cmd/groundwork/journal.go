package main

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/timeline"
)

// heartbeatEvery is how often a serve process records that its receivers
// are up, extending the live coverage of every configured scope.
const heartbeatEvery = 30 * time.Second

// liveSource is a receiver whose capture the heartbeat vouches for.
type liveSource struct {
	source    string
	scopes    []string
	tolerance time.Duration
}

// liveSources are the journaled receivers of this configuration: those of
// the listed sources that capture live (collectors.Source.Live) with their
// receiver configured, each with the configured places of its kind. A
// source whose sender never retries gets two heartbeats of tolerance, so
// that any longer silence breaks its span.
func (a *app) liveSources() []liveSource {
	if !a.cfg.Journal.Enabled() {
		return nil
	}
	repos, channels := a.cfg.JournalScopes()
	var out []liveSource
	for _, src := range sourceList {
		if src.Live == nil || !src.Live.ConfiguredFunc(a.cfg.Sources.Plugins[src.Name]) {
			continue
		}
		if scopes := placesOf(src.Live.Place, repos, channels); len(scopes) > 0 {
			out = append(out, liveSource{src.Name, scopes, max(src.Live.Tolerance, 2*heartbeatEvery)})
		}
	}
	return out
}

// placesOf picks the places of kind p.
func placesOf(p collectors.Place, repos, channels []string) []string {
	switch p {
	case collectors.PlaceRepo:
		return repos
	case collectors.PlaceChannel:
		return channels
	}
	return nil
}

// journalScopeFunc reports whether live events of source in scope are
// journaled: those of every place named in services or default (a
// repository in any case) of the kind the source captures live. It is nil
// when the journal is off.
func (a *app) journalScopeFunc() func(source, scope string) bool {
	if !a.cfg.Journal.Enabled() {
		return nil
	}
	repos, channels := a.cfg.JournalScopes()
	keys := map[string]map[string]bool{}
	for _, src := range sourceList {
		if src.Live == nil {
			continue
		}
		keys[src.Name] = map[string]bool{}
		for _, p := range placesOf(src.Live.Place, repos, channels) {
			keys[src.Name][timeline.JournalScope(src.Name, p)] = true
		}
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
