package main

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/groundwork-dev/groundwork/api"
	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/timeline"
)

// Config is the whole configuration file (PRODUCT.md §2).
type Config struct {
	Listen      string           `yaml:"listen"`
	DatabaseURL string           `yaml:"database_url"`
	APITokens   []api.Token      `yaml:"api_tokens"`
	Window      WindowConfig     `yaml:"window"`
	Review      ReviewConfig     `yaml:"review"`
	Jobs        JobsConfig       `yaml:"jobs"`
	Webhooks    WebhooksConfig   `yaml:"webhooks"`
	Journal     JournalConfig    `yaml:"journal"`
	Retention   RetentionConfig  `yaml:"retention"`
	API         APIConfig        `yaml:"api"`
	Feed        FeedConfig       `yaml:"feed"`
	Sources     SourcesConfig    `yaml:"sources"`
	Services    map[string]Scope `yaml:"services"`
	Default     Scope            `yaml:"default"`
	// People joins one person's identities that no email joins.
	People []PersonConfig `yaml:"people"`
	// IgnoreActors are ids, logins or emails never taken as people.
	IgnoreActors []string `yaml:"ignore_actors"`
}

// WindowConfig widens an incident's span into its collection window.
type WindowConfig struct {
	Before Duration `yaml:"before"`
	After  Duration `yaml:"after"`
}

// ReviewConfig shapes the prepared summary.
type ReviewConfig struct {
	Timezone      string   `yaml:"timezone"`
	BusinessHours string   `yaml:"business_hours"`
	QuietGap      Duration `yaml:"quiet_gap"`
	// ProductionEnvironments are the deployment environments that count as
	// production (default production, prod).
	ProductionEnvironments []string `yaml:"production_environments"`
	// LocalHours classes each interruption in the person's own zone.
	LocalHours LocalHoursConfig `yaml:"local_hours"`
	// Calendar lists offsites, freezes, launches and holidays.
	Calendar []CalendarItem `yaml:"calendar"`
	// Story holds the rules of the timeline's story view.
	Story StoryConfig `yaml:"story"`
}

// StoryConfig is review.story: the rules by which the story view
// (GET /v1/incidents/{id}/timeline?view=story) collapses noise; see
// timeline.StoryConfig for what each one does.
type StoryConfig struct {
	BurstWindow      Duration `yaml:"burst_window"`
	BurstMinMessages int      `yaml:"burst_min_messages"`
	BurstMinPeople   int      `yaml:"burst_min_people"`
	BurstMaxSpan     Duration `yaml:"burst_max_span"`
	BurstLines       int      `yaml:"burst_lines"`
	PresenceWindow   Duration `yaml:"presence_window"`
	InterruptionGap  Duration `yaml:"interruption_gap"`
	EchoWindow       Duration `yaml:"echo_window"`
	// LowContent are the phrases a low-content message consists of; an
	// empty list leaves only emoji and joins as low-content.
	LowContent       []string `yaml:"low_content"`
	HideSuccessfulCI bool     `yaml:"hide_successful_ci"`
}

// defaultStoryConfig is review.story with timeline's defaults.
func defaultStoryConfig() StoryConfig {
	d := timeline.DefaultStoryConfig()
	return StoryConfig{
		BurstWindow: Duration{Duration: d.BurstWindow}, BurstMinMessages: d.BurstMinMessages, BurstMinPeople: d.BurstMinPeople,
		BurstMaxSpan: Duration{Duration: d.BurstMaxSpan}, BurstLines: d.BurstLines,
		PresenceWindow: Duration{Duration: d.PresenceWindow}, InterruptionGap: Duration{Duration: d.InterruptionGap},
		EchoWindow: Duration{Duration: d.EchoWindow}, LowContent: d.LowContent, HideSuccessfulCI: !d.KeepSuccessfulCI,
	}
}

// validate reports what is wrong with review.story, naming the keys.
func (c StoryConfig) validate() []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	for _, d := range []struct {
		key string
		v   Duration
	}{
		{"burst_window", c.BurstWindow}, {"burst_max_span", c.BurstMaxSpan}, {"presence_window", c.PresenceWindow},
		{"interruption_gap", c.InterruptionGap}, {"echo_window", c.EchoWindow},
	} {
		add(d.v.checkRange("review.story."+d.key, time.Nanosecond, maxStorySpan))
	}
	add(checkInt("review.story.burst_min_messages", c.BurstMinMessages, 2, maxStoryCount))
	add(checkInt("review.story.burst_min_people", c.BurstMinPeople, 1, maxStoryCount))
	add(checkInt("review.story.burst_lines", c.BurstLines, 1, 100))
	if len(errs) == 0 {
		add(c.timeline().Validate())
	}
	return errs
}

// timeline is review.story as the story view takes it.
func (c StoryConfig) timeline() timeline.StoryConfig {
	low := c.LowContent
	if low == nil {
		low = []string{} // an empty list in the file: none
	}
	return timeline.StoryConfig{
		BurstWindow: c.BurstWindow.Duration, BurstMinMessages: c.BurstMinMessages, BurstMinPeople: c.BurstMinPeople,
		BurstMaxSpan: c.BurstMaxSpan.Duration, BurstLines: c.BurstLines, PresenceWindow: c.PresenceWindow.Duration,
		InterruptionGap: c.InterruptionGap.Duration, EchoWindow: c.EchoWindow.Duration, LowContent: low,
		KeepSuccessfulCI: !c.HideSuccessfulCI,
	}
}

// JobsConfig tunes the durable collection queue.
type JobsConfig struct {
	Workers     int      `yaml:"workers"`
	Timeout     Duration `yaml:"timeout"`
	RescueAfter Duration `yaml:"rescue_after"`
	MaxAttempts int      `yaml:"max_attempts"`
}

// WebhooksConfig tunes the webhook receivers.
type WebhooksConfig struct {
	MaxBody ByteSize `yaml:"max_body"`
}

// JournalConfig is the live journal: live events of every configured
// channel and repository, kept whether or not an incident covers them yet.
type JournalConfig struct {
	// Retention is how long live events are kept (default 14d); 0 turns
	// the journal, and the coverage that lets collections skip reads, off.
	Retention Duration `yaml:"retention"`
}

// Enabled reports whether the live journal is on.
func (j JournalConfig) Enabled() bool { return j.Retention.Duration > 0 }

// RetentionConfig is what is kept how long, beside the live journal.
type RetentionConfig struct {
	// WebhookDeliveries is how long a webhook delivery's id is kept, so
	// that a redelivery is recognised and changes nothing (default 30d;
	// at least the vendors' redelivery windows).
	WebhookDeliveries Duration `yaml:"webhook_deliveries"`
	// Incidents, when set, deletes the incidents resolved longer ago than
	// this, with everything stored of them (as DELETE /v1/incidents/{id}
	// does); 0, the default, keeps them.
	Incidents Duration `yaml:"incidents"`
}

// MinDeliveryRetention is the shortest retention.webhook_deliveries:
// PagerDuty retries a failed delivery for up to 48 hours, and GitHub lets
// a person redeliver one of the past 3 days.
const MinDeliveryRetention = 3 * 24 * time.Hour

func (r RetentionConfig) validate() error {
	if err := r.WebhookDeliveries.checkRange("retention.webhook_deliveries", 0, 3650*24*time.Hour); err != nil {
		return err
	}
	if d := r.WebhookDeliveries.Duration; d < MinDeliveryRetention {
		return fmt.Errorf("retention.webhook_deliveries: %s is shorter than the vendors' redelivery windows (PagerDuty retries for up to 48h, "+
			"GitHub redelivers deliveries of the past 3 days), after which a redelivery would be taken for a new one; use at least 3d",
			r.WebhookDeliveries.shown())
	}
	if err := r.Incidents.checkRange("retention.incidents", 0, 36500*24*time.Hour); err != nil {
		return err
	}
	if d := r.Incidents.Duration; d > 0 && d < 24*time.Hour {
		return fmt.Errorf("retention.incidents: %s would delete incidents hardly resolved; use 0 to keep them, else at least 1d", r.Incidents.shown())
	}
	return nil
}

// APIConfig tunes the read API.
type APIConfig struct {
	// ReadTimeout bounds the database reads of a read request: past it the
	// request gets 503 instead of hanging on a database that does not
	// answer.
	ReadTimeout Duration `yaml:"read_timeout"`
	// PublicURL is the address clients reach the API at (behind a proxy,
	// say), which the review packet's links and the meeting pages' share
	// links start with; empty means each request's scheme and host.
	PublicURL string `yaml:"public_url"`
}

// FeedConfig bounds the event streams of GET /v1/feed (api.StreamLimits).
type FeedConfig struct {
	MaxStreams         int      `yaml:"max_streams"`
	MaxStreamsPerToken int      `yaml:"max_streams_per_token"`
	WriteTimeout       Duration `yaml:"write_timeout"`
	StreamBuffer       ByteSize `yaml:"stream_buffer"`
	History            ByteSize `yaml:"history"`
	CatchUpConnections int      `yaml:"catchup_connections"`
}

func (a APIConfig) validate() error {
	if err := a.ReadTimeout.check("api.read_timeout"); err != nil {
		return err
	}
	if a.ReadTimeout.Duration <= 0 {
		return errors.New("api.read_timeout: must be more than 0")
	}
	if a.PublicURL != "" {
		u, err := url.Parse(a.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			// What is echoed never carries a password.
			shown := "a value that does not parse"
			if err == nil {
				shown = fmt.Sprintf("%q", u.Redacted())
			}
			return fmt.Errorf("api.public_url: want an http(s) address such as https://groundwork.example.com, without query, fragment or credentials, got %s", shown)
		}
	}
	return nil
}

func (f FeedConfig) validate() error {
	var errs []error
	for _, n := range []struct {
		key string
		v   int
	}{{"feed.max_streams", f.MaxStreams}, {"feed.max_streams_per_token", f.MaxStreamsPerToken},
		{"feed.catchup_connections", f.CatchUpConnections}} {
		if n.v < 1 {
			errs = append(errs, fmt.Errorf("%s: must be at least 1, got %d", n.key, n.v))
		}
	}
	if err := f.WriteTimeout.check("feed.write_timeout"); err != nil {
		errs = append(errs, err)
	} else if f.WriteTimeout.Duration <= 0 {
		errs = append(errs, errors.New("feed.write_timeout: must be more than 0"))
	}
	for _, b := range []struct {
		key string
		v   ByteSize
	}{{"feed.stream_buffer", f.StreamBuffer}, {"feed.history", f.History}} {
		if b.v.bad {
			errs = append(errs, fmt.Errorf("%s: %q is not a size (use a form like 64KiB or 32MiB)", b.key, b.v.raw))
		}
	}
	return errors.Join(errs...)
}

// SourcesConfig holds each source's settings, keyed like the collectors.
type SourcesConfig struct {
	// Plugins holds the config of every source of sourceList, by name,
	// decoded by the source's own type (sources.go): sources.<name>.
	Plugins map[string]collectors.Config `yaml:"-"`
}

// Scope is what belongs to an incident: its repositories and channels.
type Scope struct {
	GitHubRepos   []string `yaml:"github_repos"`
	SlackChannels []string `yaml:"slack_channels"`
}

// Duration is a time.Duration written like "2h" or "30m", or with whole days
// first, like "14d" or "1d12h". A malformed value is kept and reported by
// Validate, which knows the key's name.
type Duration struct {
	time.Duration
	raw string
	bad bool
	// why says what is wrong with a value that parsed; empty means it
	// is not a duration at all.
	why string
}

// durationRE is the shape time.ParseDuration takes; a value of this shape
// that it refuses is too long for a time.Duration.
var durationRE = regexp.MustCompile(`^[-+]?([0-9]*(\.[0-9]*)?[a-zµμ]+)+$`)

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	d.raw = n.Value
	raw := strings.TrimSpace(n.Value)
	v, err := parseDuration(raw)
	d.Duration, d.bad, d.why = v, err != nil || v < 0, ""
	switch {
	case err != nil && (durationRE.MatchString(raw) || strings.Contains(err.Error(), "too many days")):
		d.why = "is too long"
	case err == nil && v < 0:
		d.why = "must not be negative"
	}
	return nil
}

var daysRE = regexp.MustCompile(`^(\d+)d(.*)$`)

// parseDuration is time.ParseDuration that also takes whole days first.
func parseDuration(s string) (time.Duration, error) {
	m := daysRE.FindStringSubmatch(s)
	if m == nil {
		return time.ParseDuration(s)
	}
	days, err := strconv.Atoi(m[1])
	if err != nil || days > 100000 {
		return 0, fmt.Errorf("%q: too many days", s)
	}
	var rest time.Duration
	if m[2] != "" {
		if rest, err = time.ParseDuration(m[2]); err != nil || rest < 0 {
			return 0, fmt.Errorf("%q: not a duration", s)
		}
	}
	return time.Duration(days)*24*time.Hour + rest, nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return d.Duration.String(), nil }

func (d Duration) check(key string) error {
	if d.bad && d.why != "" {
		return fmt.Errorf("%s: %q %s", key, d.raw, d.why)
	}
	if d.bad {
		return fmt.Errorf("%s: %q is not a duration (use a form like 90s, 15m, 2h or 14d)", key, d.raw)
	}
	return nil
}

// checkRange is check, and then min <= d <= max.
func (d Duration) checkRange(key string, min, max time.Duration) error {
	if err := d.check(key); err != nil {
		return err
	}
	switch {
	case d.Duration < min && min == time.Nanosecond:
		return fmt.Errorf("%s: must be more than 0", key)
	case d.Duration < min:
		return fmt.Errorf("%s: %s is less than %s", key, d.shown(), fmtDuration(min))
	case d.Duration > max:
		return fmt.Errorf("%s: %s is more than %s", key, d.shown(), fmtDuration(max))
	}
	return nil
}

func (d Duration) shown() string {
	if d.raw != "" {
		return strconv.Quote(d.raw)
	}
	return fmtDuration(d.Duration)
}

// fmtDuration writes whole hours as "720h" rather than "720h0m0s".
func fmtDuration(d time.Duration) string {
	if d >= time.Hour && d%time.Hour == 0 {
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	}
	return d.String()
}

// ByteSize is a size written like "1MiB", "512KiB" or "1048576".
type ByteSize struct {
	N   int64
	raw string
	bad bool
	// tooBig: the number times its unit does not fit in 64 bits.
	tooBig bool
}

var sizeRE = regexp.MustCompile(`^\s*(\d+)\s*(B|KB|KiB|MB|MiB|GB|GiB)?\s*$`)

// UnmarshalYAML implements yaml.Unmarshaler.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	b.raw = n.Value
	m := sizeRE.FindStringSubmatch(n.Value)
	if m == nil {
		b.bad = true
		return nil
	}
	mult := map[string]uint64{"": 1, "B": 1, "KB": 1000, "KiB": 1 << 10, "MB": 1000 * 1000, "MiB": 1 << 20, "GB": 1e9, "GiB": 1 << 30}[m[2]]
	v, err := strconv.ParseUint(m[1], 10, 64)
	hi, lo := bits.Mul64(v, mult)
	b.tooBig = errors.Is(err, strconv.ErrRange) || hi != 0 || lo > math.MaxInt64
	b.bad = err != nil || v == 0 || b.tooBig
	if !b.bad {
		b.N = int64(lo)
	}
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (b ByteSize) MarshalYAML() (any, error) { return b.N, nil }

// DefaultJournalRetention is how long the live journal keeps live events
// unless journal.retention says otherwise.
const DefaultJournalRetention = 14 * 24 * time.Hour

// DefaultDeliveryRetention is how long webhook deliveries are remembered
// unless retention.webhook_deliveries says otherwise.
const DefaultDeliveryRetention = 30 * 24 * time.Hour

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config {
	return Config{
		Listen: ":8080",
		Window: WindowConfig{Before: Duration{Duration: 2 * time.Hour}, After: Duration{Duration: 30 * time.Minute}},
		Review: ReviewConfig{Timezone: "UTC", BusinessHours: "09:00-18:00", QuietGap: Duration{Duration: 15 * time.Minute},
			ProductionEnvironments: []string{"production", "prod"}, LocalHours: defaultLocalHours(),
			Story: defaultStoryConfig()},
		Jobs: JobsConfig{Workers: 4, Timeout: Duration{Duration: 10 * time.Minute},
			RescueAfter: Duration{Duration: 15 * time.Minute}, MaxAttempts: 10},
		Webhooks:  WebhooksConfig{MaxBody: ByteSize{N: 1 << 20}},
		Journal:   JournalConfig{Retention: Duration{Duration: DefaultJournalRetention}},
		Retention: RetentionConfig{WebhookDeliveries: Duration{Duration: DefaultDeliveryRetention}},
		API:       APIConfig{ReadTimeout: Duration{Duration: 10 * time.Second}},
		Feed: FeedConfig{MaxStreams: 5000, MaxStreamsPerToken: 1000, WriteTimeout: Duration{Duration: 30 * time.Second},
			StreamBuffer: ByteSize{N: 64 << 10}, History: ByteSize{N: 32 << 20}, CatchUpConnections: 4},
		Sources: SourcesConfig{
			Plugins: defaultPlugins(),
		},
	}
}

// LoadConfig reads the YAML file at path over the defaults, expanding
// ${VAR} from the environment in every value; DATABASE_URL in the
// environment overrides database_url. It validates the result.
func LoadConfig(path string, getenv func(string) string) (Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return ParseConfig(raw, getenv)
}

// ParseConfig is LoadConfig on the file's bytes.
func ParseConfig(raw []byte, getenv func(string) string) (Config, error) {
	cfg := DefaultConfig()
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	if len(root.Content) > 0 {
		doc := root.Content[0]
		plugins := takePluginSections(doc)
		if err := checkKeys(doc, reflect.TypeOf(cfg), ""); err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		raw := map[*yaml.Node]string{}
		recordRaw(doc, raw)
		for _, n := range plugins {
			recordRaw(n, raw)
		}
		expandNode(doc, getenv)
		if err := checkScalars(doc, reflect.TypeOf(cfg), "", raw); err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		if err := doc.Decode(&cfg); err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		for _, n := range plugins {
			expandNode(n, getenv)
		}
		if err := decodePlugins(cfg.Sources.Plugins, plugins, raw); err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
	}
	if v := getenv("DATABASE_URL"); v != "" {
		cfg.DatabaseURL = v
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

var envRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandNode replaces ${VAR} in scalar values only, so an expanded secret
// can never change the YAML's structure.
func expandNode(n *yaml.Node, getenv func(string) string) {
	if n.Kind == yaml.ScalarNode {
		n.Value = envRE.ReplaceAllStringFunc(n.Value, func(m string) string {
			return getenv(m[2 : len(m)-1])
		})
		return
	}
	for _, c := range n.Content {
		expandNode(c, getenv)
	}
}

// checkKeys rejects keys that no field takes, naming the key's full path.
func checkKeys(n *yaml.Node, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		if t == reflect.TypeOf(Duration{}) || t == reflect.TypeOf(ByteSize{}) {
			return fmt.Errorf("%s: want a scalar value", path)
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			ft, ok := fields[key]
			if !ok {
				return fmt.Errorf("%s: unknown key", join(path, key))
			}
			if err := checkKeys(n.Content[i+1], ft, join(path, key)); err != nil {
				return err
			}
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Map:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := checkKeys(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value)); err != nil {
				return err
			}
		}
	case n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice:
		for i, c := range n.Content {
			if err := checkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// recordRaw keeps each scalar holding ${VAR} as written, so that an error
// about its value quotes the reference and never the (secret) expansion.
func recordRaw(n *yaml.Node, raw map[*yaml.Node]string) {
	if n.Kind == yaml.ScalarNode && envRE.MatchString(n.Value) {
		raw[n] = n.Value
	}
	for _, c := range n.Content {
		recordRaw(c, raw)
	}
}

var intRE = regexp.MustCompile(`^[-+]?[0-9]+$`)

// checkScalars rejects a value its field cannot hold, naming the key: an
// integer written as 4.5, 1e3, 0x10 or too large for the field; for other
// kinds, whatever the YAML decoder refuses. yaml's own message names only
// the line, and quietly truncates some of these.
func checkScalars(n *yaml.Node, t reflect.Type, path string, raw map[*yaml.Node]string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			if ft, ok := fields[n.Content[i].Value]; ok {
				if err := checkScalars(n.Content[i+1], ft, join(path, n.Content[i].Value), raw); err != nil {
					return err
				}
			}
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Map:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := checkScalars(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), raw); err != nil {
				return err
			}
		}
	case n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice:
		for i, c := range n.Content {
			if err := checkScalars(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), raw); err != nil {
				return err
			}
		}
	case n.Kind == yaml.ScalarNode && n.Tag != "!!null" && t != reflect.TypeOf(time.Duration(0)):
		// A time.Duration is written like 15s; the decoder reads it.
		shown, ok := raw[n]
		if !ok {
			shown = n.Value
		}
		shown = strconv.Quote(shown)
		v := strings.TrimSpace(n.Value)
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			if !intRE.MatchString(v) {
				return fmt.Errorf("%s: %s is not a whole number", path, shown)
			}
			if _, err := strconv.ParseInt(v, 10, t.Bits()); err != nil {
				return fmt.Errorf("%s: %s is too large", path, shown)
			}
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			if !intRE.MatchString(v) || strings.HasPrefix(v, "-") {
				return fmt.Errorf("%s: %s is not a whole number of at least 0", path, shown)
			}
			if _, err := strconv.ParseUint(strings.TrimPrefix(v, "+"), 10, t.Bits()); err != nil {
				return fmt.Errorf("%s: %s is too large", path, shown)
			}
		case reflect.Bool, reflect.Float32, reflect.Float64:
			if err := n.Decode(reflect.New(t).Interface()); err != nil {
				return fmt.Errorf("%s: %s is not a %s", path, shown, t.Kind())
			}
		}
	}
	return nil
}

func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Validate reports the first problem, naming the offending key.
func (c Config) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if c.Listen == "" {
		add(errors.New("listen: must not be empty"))
	}
	add(checkDatabaseURL(c.DatabaseURL))
	add(c.Window.Before.checkRange("window.before", 0, maxWindow))
	add(c.Window.After.checkRange("window.after", 0, maxWindow))
	add(c.Review.QuietGap.checkRange("review.quiet_gap", time.Nanosecond, maxWindow))
	add(c.Jobs.Timeout.checkRange("jobs.timeout", 0, maxJobTime))
	add(c.Jobs.RescueAfter.checkRange("jobs.rescue_after", time.Nanosecond, maxJobTime))
	add(c.Webhooks.MaxBody.checkRange("webhooks.max_body", maxBody))
	add(c.Journal.Retention.checkRange("journal.retention", 0, 3650*24*time.Hour))
	if r := c.Journal.Retention.Duration; !c.Journal.Retention.bad && r > 0 && r < time.Hour {
		add(fmt.Errorf("journal.retention: %s is too short to be of use; use 0 to turn the journal off, else at least 1h", r))
	}
	add(c.Retention.validate())
	if _, err := time.LoadLocation(c.Review.Timezone); err != nil || c.Review.Timezone == "" {
		add(fmt.Errorf("review.timezone: %q is not a known IANA time zone", c.Review.Timezone))
	}
	if _, _, err := timeline.ParseBusinessHours(c.Review.BusinessHours); err != nil {
		add(fmt.Errorf("review.business_hours: %w", err))
	}
	if _, err := c.Review.LocalHours.localHours(); err != nil {
		add(err)
	}
	for i, e := range c.Review.ProductionEnvironments {
		if strings.TrimSpace(e) == "" {
			add(fmt.Errorf("review.production_environments[%d]: is empty", i))
		}
	}
	if loc, err := time.LoadLocation(c.Review.Timezone); err == nil && c.Review.Timezone != "" {
		if _, err := calendar(c.Review.Calendar, loc); err != nil {
			add(err)
		}
	}
	add(checkPeople(c.People, c.IgnoreActors))
	errs = append(errs, c.Review.Story.validate()...)
	add(checkInt("jobs.workers", c.Jobs.Workers, 1, maxWorkers))
	add(checkInt("jobs.max_attempts", c.Jobs.MaxAttempts, 1, maxAttempts))
	names := map[string]bool{}
	for i, t := range c.APITokens {
		key := fmt.Sprintf("api_tokens[%d]", i)
		if t.Name == "" {
			add(fmt.Errorf("%s.name: must not be empty", key))
		} else if names[t.Name] {
			add(fmt.Errorf("%s.name: %q is used twice", key, t.Name))
		}
		names[t.Name] = true
		if t.Token == "" {
			add(fmt.Errorf("%s.token: is empty (is its environment variable set?)", key))
		}
		if len(t.Scopes) == 0 {
			add(fmt.Errorf("%s.scopes: must hold read and/or write", key))
		}
		for _, s := range t.Scopes {
			if s != api.ScopeRead && s != api.ScopeWrite {
				add(fmt.Errorf("%s.scopes: unknown scope %q (read, write)", key, s))
			}
		}
	}
	add(c.API.validate())
	add(c.Feed.validate())
	add(validatePlugins(c.Sources.Plugins))
	for id, s := range c.Services {
		add(checkScope("services."+id, s))
	}
	add(checkScope("default", c.Default))
	return errors.Join(errs...)
}

// Upper bounds of the numeric keys. Each keeps the arithmetic done with
// the value far from overflow (the pool size is 4*workers+12 in an int32;
// River keeps attempts in a smallint; the job queue waits 2*max(timeout,
// rescue_after)) and is well past anything an operator would mean.
const (
	maxWindow     = 30 * 24 * time.Hour
	maxJobTime    = 24 * time.Hour
	maxBody       = 1 << 30
	maxWorkers    = 1000
	maxAttempts   = 1000
	maxStorySpan  = 24 * time.Hour
	maxStoryCount = 100000
)

func checkInt(key string, v, min, max int) error {
	switch {
	case v < min:
		return fmt.Errorf("%s: must be at least %d, got %d", key, min, v)
	case v > max:
		return fmt.Errorf("%s: %d is more than %d", key, v, max)
	}
	return nil
}

// checkRange reports a size that is malformed, zero or above max.
func (b ByteSize) checkRange(key string, max int64) error {
	switch {
	case b.tooBig:
		return fmt.Errorf("%s: %q is too large (at most %s)", key, b.raw, fmtSize(max))
	case b.bad:
		return fmt.Errorf("%s: %q is not a size (use a form like 1MiB or 512KiB)", key, b.raw)
	case b.N > max:
		return fmt.Errorf("%s: %q is more than %s", key, b.raw, fmtSize(max))
	}
	return nil
}

func fmtSize(n int64) string {
	if n >= 1<<30 && n%(1<<30) == 0 {
		return strconv.FormatInt(n>>30, 10) + "GiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

func checkScope(key string, s Scope) error {
	for _, r := range s.GitHubRepos {
		if owner, name, ok := strings.Cut(r, "/"); !ok || owner == "" || name == "" || strings.Contains(name, "/") {
			return fmt.Errorf("%s.github_repos: %q is not owner/name", key, r)
		}
	}
	for _, ch := range s.SlackChannels {
		if ch == "" || strings.ContainsAny(ch, " #/") {
			return fmt.Errorf("%s.slack_channels: %q is not a channel id such as C0CHECKOUT", key, ch)
		}
	}
	return nil
}

// JournalScopes returns the repositories and channels whose live events the
// journal keeps: every one named in services or default.
func (c Config) JournalScopes() (repos, channels []string) {
	ids := make([]string, 0, len(c.Services))
	for id := range c.Services {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	scopes := []Scope{c.Default}
	for _, id := range ids {
		scopes = append(scopes, c.Services[id])
	}
	for _, s := range scopes {
		repos = timeline.Union(repos, s.GitHubRepos)
		channels = timeline.Union(channels, s.SlackChannels)
	}
	return repos, channels
}

// RequireDatabase reports a missing database_url.
func (c Config) RequireDatabase() error {
	if c.DatabaseURL == "" {
		return errors.New("config: database_url: is empty (set it, or DATABASE_URL in the environment)")
	}
	return nil
}

// ScopeFor returns the repositories and channels of a PagerDuty service.
func (c Config) ScopeFor(serviceID string) Scope {
	if s, ok := c.Services[serviceID]; ok {
		return s
	}
	return c.Default
}

const redacted = "[REDACTED]"

func redact(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

// Redacted returns a copy that is safe to print: every secret replaced.
func (c Config) Redacted() Config {
	r := c
	r.APITokens = make([]api.Token, len(c.APITokens))
	for i, t := range c.APITokens {
		t.Token = redact(t.Token)
		r.APITokens[i] = t
	}
	r.DatabaseURL = redactDSN(c.DatabaseURL)
	return r
}

// String renders the redacted configuration as YAML.
func (c Config) String() string {
	b, err := yaml.Marshal(c.Redacted())
	if err != nil {
		return "(unprintable config: " + err.Error() + ")"
	}
	return string(b)
}
