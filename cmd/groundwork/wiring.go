package main

import (
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/timeline"
)

// buildRegistry builds the collector of every enabled source of sourceList,
// in its order. A disabled source says so once. A non-nil coverage lets the
// sources whose vendors retry failed deliveries (Slack) skip reading what
// live capture vouches for.
func buildRegistry(cfg Config, obs collectors.Observer, log *zap.Logger, coverage collectors.Coverage) (*collectors.Registry, error) {
	reg := &collectors.Registry{}
	for _, src := range sourceList {
		if src.New == nil {
			continue
		}
		sc := cfg.Sources.Plugins[src.Name]
		if sc == nil || !sc.Enabled() {
			log.Info("source disabled: sources."+src.Name+" is not configured", zap.String("source", src.Name))
			continue
		}
		c, err := src.New(sc, collectors.ClientOptions{Observer: obs, Logger: log.Named(src.Name), Coverage: coverage})
		if err != nil {
			return nil, fmt.Errorf("sources.%s: %w", src.Name, err)
		}
		reg.Register(c)
	}
	return reg, nil
}

// secrets lists every secret of cfg, for scrubbing error texts: the API
// tokens, the database password and every collectors.Secret of the
// sources.
func (c Config) secrets() []string {
	var out []string
	for _, t := range c.APITokens {
		out = append(out, t.Token)
	}
	out = append(out, collectors.SecretsOf(c.Sources.Plugins)...)
	return append(out, dsnSecrets(c.DatabaseURL)...)
}

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
	if rc.LocalHours, err = cfg.Review.LocalHours.localHours(); err != nil {
		return rc, err
	}
	if len(cfg.Review.ProductionEnvironments) > 0 {
		rc.ProductionEnvironments = cfg.Review.ProductionEnvironments
	}
	if rc.Calendar, err = calendar(cfg.Review.Calendar, loc); err != nil {
		return rc, err
	}
	rc.People = aliases(cfg.People)
	rc.IgnoreActors = cfg.IgnoreActors
	return rc, nil
}
