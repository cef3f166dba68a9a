package main

import (
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/collectors/slack"
	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
)

// buildRegistry is the explicit list of collectors. A source without a token
// is disabled, and says so once.
// A non-nil coverage lets the sources whose vendors retry failed deliveries
// (Slack) skip reading what live capture vouches for.
func buildRegistry(cfg Config, obs collectors.Observer, log *zap.Logger, coverage collectors.Coverage) (*collectors.Registry, error) {
	reg := &collectors.Registry{}
	src := cfg.Sources
	if src.Slack.Enabled() {
		c, err := slack.New(src.Slack, slack.Options{ClientOptions: collectors.ClientOptions{Observer: obs, Logger: log.Named("slack"),
			Coverage: coverage}})
		if err != nil {
			return nil, err
		}
		reg.Register(c)
	} else {
		log.Info("source disabled: sources.slack.token is not set", zap.String("source", timeline.SourceSlack))
	}
	if err := registerPlugins(reg, cfg, obs, log, coverage); err != nil {
		return nil, err
	}
	return reg, nil
}

// secrets lists every secret of cfg, for scrubbing error texts.
func (c Config) secrets() []string {
	s := c.Sources
	out := []string{s.Slack.Token, s.Slack.SigningSecret}
	for _, t := range c.APITokens {
		out = append(out, t.Token)
	}
	out = append(out, collectors.SecretsOf(c.Sources.Plugins)...)
	return append(out, dsnSecrets(c.DatabaseURL)...)
}

// migrateHooks are the migrations run after the timeline schema's, under
// the same lock: River's tables.
func migrateHooks() []postgres.MigrateHook { return []postgres.MigrateHook{riverMigrate} }

// reviewConfig turns the review: section into the summary's settings.
func reviewConfig(cfg Config) (timeline.ReviewConfig, error) {
	rc := timeline.DefaultReviewConfig()
	loc, err := time.LoadLocation(cfg.Review.Timezone)
	if err != nil {
		return rc, fmt.Errorf("review.timezone: %w", err)
	}
	start, end, err := timeline.ParseBusinessHours(cfg.Review.BusinessHours)
	if err != nil {
		return rc, fmt.Errorf("review.business_hours: %w", err)
	}
	rc.Location, rc.BusinessStart, rc.BusinessEnd = loc, start, end
	if cfg.Review.QuietGap.Duration > 0 {
		rc.QuietGap = cfg.Review.QuietGap.Duration
	}
	return rc, nil
}
