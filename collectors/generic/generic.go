// Package generic is the generic incident hook: any tool that can sign a
// request declares incidents at POST /webhooks/incident, with their
// repositories and channels. It has no collector of its own: the other
// sources collect the incidents it declares.
package generic

import (
	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/timeline"
)

// Name is the source's name: its config key and the Source of its incidents
// and events.
const Name = timeline.SourceGeneric

// Source is the generic incident hook, for cmd's list.
var Source = collectors.Source{
	Name:      Name,
	NewConfig: func() collectors.Config { return &Config{} },
	Receivers: func(cfg collectors.Config, _ collectors.Collector, _ collectors.ClientOptions) []collectors.WebhookReceiver {
		return []collectors.WebhookReceiver{NewReceiver(cfg.(*Config))}
	},
}

// Config is sources.generic.
type Config struct {
	// WebhookSecret is the HMAC-SHA256 key of X-Groundwork-Signature; the
	// hook refuses every delivery while it is empty.
	WebhookSecret collectors.Secret `yaml:"webhook_secret"`
}

// Validate implements collectors.Config: every value is valid.
func (c *Config) Validate() error { return nil }

// Enabled implements collectors.Config: there is no collector to run.
func (c *Config) Enabled() bool { return false }
