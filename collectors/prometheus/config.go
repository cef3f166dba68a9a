package prometheus

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/groundwork-dev/groundwork/collectors"
)

// Config is sources.prometheus.
type Config struct {
	// APIURL is the Prometheus server (or a compatible query API: Thanos,
	// Mimir), e.g. http://prometheus:9090. The source is enabled when it is
	// set. For the same links live and collected, use Prometheus'
	// --web.external-url.
	APIURL string `yaml:"api_url"`
	// BearerToken, or BasicAuth, authenticates the collector to APIURL.
	BearerToken collectors.Secret `yaml:"bearer_token"`
	BasicAuth   BasicAuth         `yaml:"basic_auth"`
	// Step is query_range's resolution (default 15s). A span shorter than
	// a step may be missed, and two spans less than a step apart seen as
	// one; the span's exact start and end come from the raw samples.
	Step time.Duration `yaml:"step"`
	// Lookback is how far before the window the query starts (default
	// 24h), so that a span already firing when the window opens gets its
	// true start, and its id. A span firing for longer is skipped.
	Lookback time.Duration `yaml:"lookback"`
	// ExternalLabels are Prometheus' global.external_labels, which it adds
	// to the alerts it sends to Alertmanager but not to its own ALERTS
	// series: set them alike, so that collected and live alerts have the
	// same fingerprint and id.
	ExternalLabels map[string]string `yaml:"external_labels"`
	// Matchers narrows the alerts of an incident by its service: a PromQL
	// label selector by service id, e.g. PSVC001: '{service="checkout"}'.
	Matchers map[string]string `yaml:"matchers"`
	// DefaultMatcher is the selector of incidents whose service is not in
	// Matchers. When it is empty and Matchers is not, those incidents get
	// no alerts; when both are empty every incident gets every alert.
	DefaultMatcher string `yaml:"default_matcher"`
	// Webhook authenticates Alertmanager at POST /webhooks/alertmanager.
	Webhook WebhookConfig `yaml:"webhook"`

	matchers   map[string]selector
	defaultSel selector
}

// BasicAuth is a user name and password.
type BasicAuth struct {
	Username string            `yaml:"username"`
	Password collectors.Secret `yaml:"password"`
}

// WebhookConfig is how Alertmanager's webhook_config http_config
// authenticates: authorization credentials (Bearer), or basic_auth.
type WebhookConfig struct {
	BearerToken collectors.Secret `yaml:"bearer_token"`
	Username    string            `yaml:"username"`
	Password    collectors.Secret `yaml:"password"`
}

// configured reports whether the receiver has credentials.
func (w WebhookConfig) configured() bool { return w.BearerToken != "" || w.Username != "" }

// DefaultConfig returns the defaults.
func DefaultConfig() *Config {
	return &Config{Step: 15 * time.Second, Lookback: 24 * time.Hour}
}

// Enabled implements collectors.Config: the collector runs when api_url is
// set.
func (c *Config) Enabled() bool { return c.APIURL != "" }

// Validate implements collectors.Config; it also parses the matchers.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.APIURL != "" {
		u, err := collectors.ParseHTTPURL(c.APIURL)
		switch {
		case err != nil:
			add("api_url: %v, such as http://prometheus:9090", err)
		case u.User != nil:
			add("api_url: holds credentials; set bearer_token or basic_auth instead")
		}
	}
	if c.BearerToken != "" && (c.BasicAuth.Username != "" || c.BasicAuth.Password != "") {
		add("bearer_token: set either bearer_token or basic_auth, not both")
	}
	if c.BasicAuth.Password != "" && c.BasicAuth.Username == "" {
		add("basic_auth.username: is empty while basic_auth.password is set")
	}
	if c.Step <= 0 {
		add("step: must be positive, got %s", c.Step)
	}
	if c.Lookback < 0 {
		add("lookback: must not be negative, got %s", c.Lookback)
	}
	for _, n := range sortedKeys(c.ExternalLabels) {
		if !labelNameRE.MatchString(n) {
			add("external_labels: %q is not a label name", n)
		}
	}
	c.matchers = map[string]selector{}
	for _, svc := range sortedKeys(c.Matchers) {
		sel, err := parseSelector(c.Matchers[svc])
		if err != nil {
			add("matchers.%s: %v", svc, err)
		}
		c.matchers[svc] = sel
	}
	var err error
	if c.defaultSel, err = parseSelector(c.DefaultMatcher); err != nil {
		add("default_matcher: %v", err)
	}
	w := c.Webhook
	if w.BearerToken != "" && (w.Username != "" || w.Password != "") {
		add("webhook.bearer_token: set either bearer_token or username and password, not both")
	}
	if (w.Username == "") != (w.Password == "") && w.BearerToken == "" {
		add("webhook.password: username and password go together")
	}
	return errors.Join(errs...)
}

// selectorFor returns the selector of a service's incidents, and false when
// the source has no alerts for it.
func (c *Config) selectorFor(serviceID string) (selector, bool) {
	if sel, ok := c.matchers[serviceID]; ok && serviceID != "" {
		return sel, true
	}
	if c.DefaultMatcher != "" || len(c.Matchers) == 0 {
		return c.defaultSel, true
	}
	return nil, false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
