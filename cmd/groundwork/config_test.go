package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

const validConfig = `
listen: ":8080"
database_url: "${DATABASE_URL}"
api_tokens:
  - {name: facilitators, token: "${GROUNDWORK_READ_TOKEN}", scopes: [read]}
  - {name: automation, token: "${GROUNDWORK_WRITE_TOKEN}", scopes: [read, write]}
window:
  before: 2h
  after: 30m
review:
  timezone: Europe/London
  business_hours: "09:00-18:00"
  quiet_gap: 15m
jobs:
  workers: 4
  timeout: 10m
  rescue_after: 15m
  max_attempts: 10
webhooks:
  max_body: 1MiB
sources:
  pagerduty:
    token: "${PAGERDUTY_TOKEN}"
    api_url: https://api.pagerduty.com
    webhook_secret: "${PAGERDUTY_WEBHOOK_SECRET}"
  github:
    token: "${GITHUB_TOKEN}"
    api_url: https://api.github.com/
    webhook_secret: "${GITHUB_WEBHOOK_SECRET}"
  slack:
    token: "${SLACK_BOT_TOKEN}"
    api_url: https://slack.com/api/
    signing_secret: "${SLACK_SIGNING_SECRET}"
    history_page_size: 100
    requests_per_minute: 50
  generic:
    webhook_secret: "${GROUNDWORK_WEBHOOK_SECRET}"
services:
  PSVC001:
    github_repos: [acme/checkout-api, acme/infra]
    slack_channels: [C0CHECKOUT]
default:
  github_repos: []
  slack_channels: []
`

var testEnv = map[string]string{
	"DATABASE_URL":              "postgres://gw:hunter2-db-password@db.internal:5432/groundwork",
	"GROUNDWORK_READ_TOKEN":     "read-token-1a2b3c",
	"GROUNDWORK_WRITE_TOKEN":    "write-token-4d5e6f",
	"PAGERDUTY_TOKEN":           "pd-token-secret-123",
	"PAGERDUTY_WEBHOOK_SECRET":  "pd-hook-secret-456",
	"GITHUB_TOKEN":              "ghp_secretgithubtoken",
	"GITHUB_WEBHOOK_SECRET":     "gh-hook-secret-789",
	"SLACK_BOT_TOKEN":           "xoxb-secret-slack",
	"SLACK_SIGNING_SECRET":      "slack-signing-secret-abc",
	"GROUNDWORK_WEBHOOK_SECRET": "generic-hook-secret-def",
}

func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseConfigValid(t *testing.T) {
	cfg, err := ParseConfig([]byte(validConfig), getenv(testEnv))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Window.Before.Duration != 2*time.Hour || cfg.Window.After.Duration != 30*time.Minute {
		t.Errorf("window = %v/%v", cfg.Window.Before, cfg.Window.After)
	}
	if cfg.Webhooks.MaxBody.N != 1<<20 {
		t.Errorf("max_body = %d, want 1 MiB", cfg.Webhooks.MaxBody.N)
	}
	if slackConfig(cfg).Token != "xoxb-secret-slack" || cfg.APITokens[1].Token != "write-token-4d5e6f" {
		t.Errorf("${VAR} not expanded: %+v", slackConfig(cfg))
	}
	if s := cfg.ScopeFor("PSVC001"); len(s.GitHubRepos) != 2 || s.SlackChannels[0] != "C0CHECKOUT" {
		t.Errorf("services scope = %+v", s)
	}
	if s := cfg.ScopeFor("PUNKNOWN"); len(s.GitHubRepos) != 0 {
		t.Errorf("default scope = %+v", s)
	}
}

func TestParseConfigDefaultsAndOverride(t *testing.T) {
	cfg, err := ParseConfig([]byte("database_url: postgres://file/db\n"), getenv(map[string]string{"DATABASE_URL": "postgres://env/db"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DatabaseURL != "postgres://env/db" {
		t.Errorf("DATABASE_URL did not override: %q", cfg.DatabaseURL)
	}
	if cfg.Listen != ":8080" || cfg.Jobs.Workers != 4 || cfg.Jobs.MaxAttempts != 10 || cfg.Review.QuietGap.Duration != 15*time.Minute ||
		githubConfig(cfg).APIURL != "https://api.github.com/" || slackConfig(cfg).HistoryPageSize != 100 {
		t.Errorf("defaults not applied: %+v", cfg)
	}
	if pagerdutyConfig(cfg).Enabled() || githubConfig(cfg).Enabled() || slackConfig(cfg).Enabled() {
		t.Errorf("sources without tokens must be disabled")
	}
}

func TestParseConfigErrorsNameTheKey(t *testing.T) {
	for name, tc := range map[string]struct {
		from, to string
		wantKey  string
	}{
		"unknown top-level key": {"listen: \":8080\"", "listen: \":8080\"\nlisten_port: 9", "listen_port"},
		"unknown nested key":    {"    requests_per_minute: 50", "    requests_per_minute: 50\n    request_per_minute: 5", "sources.slack.request_per_minute"},
		"bad duration":          {"before: 2h", "before: 2 hours", "window.before"},
		"bad quiet gap":         {"quiet_gap: 15m", "quiet_gap: soon", "review.quiet_gap"},
		"bad rescue_after":      {"rescue_after: 15m", "rescue_after: 15", "jobs.rescue_after"},
		"bad size":              {"max_body: 1MiB", "max_body: lots", "webhooks.max_body"},
		"bad business hours":    {`business_hours: "09:00-18:00"`, `business_hours: "9-6"`, "review.business_hours"},
		"reversed hours":        {`business_hours: "09:00-18:00"`, `business_hours: "18:00-09:00"`, "review.business_hours"},
		"bad timezone":          {"timezone: Europe/London", "timezone: Mars/Olympus", "review.timezone"},
		"missing pd secret":     {`webhook_secret: "${PAGERDUTY_WEBHOOK_SECRET}"`, `webhook_secret: ""`, "sources.pagerduty.webhook_secret"},
		"missing gh secret":     {`webhook_secret: "${GITHUB_WEBHOOK_SECRET}"`, `webhook_secret: ""`, "sources.github.webhook_secret"},
		"missing slack secret":  {`signing_secret: "${SLACK_SIGNING_SECRET}"`, `signing_secret: ""`, "sources.slack.signing_secret"},
		"unknown scope":         {"scopes: [read]}", "scopes: [admin]}", "api_tokens[0].scopes"},
		"bad repo":              {"github_repos: [acme/checkout-api, acme/infra]", "github_repos: [checkout-api]", "services.PSVC001.github_repos"},
		"zero workers":          {"workers: 4", "workers: 0", "jobs.workers"},
		"bad run lookback": {`webhook_secret: "${GITHUB_WEBHOOK_SECRET}"`, `webhook_secret: "${GITHUB_WEBHOOK_SECRET}"` + "\n    workflow_run_lookback: a day",
			"sources.github.workflow_run_lookback"},
	} {
		t.Run(name, func(t *testing.T) {
			raw := strings.Replace(validConfig, tc.from, tc.to, 1)
			if raw == validConfig {
				t.Fatalf("test case does not change the config: %q", tc.from)
			}
			_, err := ParseConfig([]byte(raw), getenv(testEnv))
			if err == nil {
				t.Fatalf("no error, want one naming %s", tc.wantKey)
			}
			if !strings.Contains(err.Error(), tc.wantKey) {
				t.Errorf("error %q does not name %s", err, tc.wantKey)
			}
		})
	}
}

func TestParseConfigMissingSecretFromEnv(t *testing.T) {
	env := map[string]string{}
	for k, v := range testEnv {
		env[k] = v
	}
	delete(env, "SLACK_SIGNING_SECRET")
	_, err := ParseConfig([]byte(validConfig), getenv(env))
	if err == nil || !strings.Contains(err.Error(), "sources.slack.signing_secret") {
		t.Fatalf("err = %v, want it to name sources.slack.signing_secret", err)
	}
}

func TestConfigPrintedRedacted(t *testing.T) {
	cfg, err := ParseConfig([]byte(validConfig), getenv(testEnv))
	if err != nil {
		t.Fatal(err)
	}
	out := cfg.String()
	for k, secret := range testEnv {
		if k == "DATABASE_URL" {
			secret = "hunter2-db-password"
		}
		if strings.Contains(out, secret) {
			t.Errorf("printed config leaks %s:\n%s", k, out)
		}
	}
	if !strings.Contains(out, "[REDACTED]") || !strings.Contains(out, "db.internal") || !strings.Contains(out, "acme/checkout-api") {
		t.Errorf("printed config lost its non-secret parts:\n%s", out)
	}
}

// The example configuration an operator starts from must load and validate.
func TestDeployExampleConfigLoads(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/groundwork.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig(raw, getenv(testEnv))
	if err != nil {
		t.Fatalf("deploy/groundwork.example.yaml: %v", err)
	}
	if !pagerdutyConfig(cfg).Enabled() || !githubConfig(cfg).Enabled() || !slackConfig(cfg).Enabled() || len(cfg.APITokens) == 0 {
		t.Errorf("the example should enable every source and define tokens: %s", cfg)
	}
}

// Every numeric, size and duration key refuses a value that overflows,
// that is negative, or that is zero or huge where that makes no sense,
// naming the key; none is read as some other number.
func TestParseConfigOutOfRange(t *testing.T) {
	for name, tc := range map[string]struct {
		from, to string
		wantKey  string
	}{
		"max_body overflowing 64 bits": {"max_body: 1MiB", "max_body: 18446744073709552KB", "webhooks.max_body"},
		"max_body past uint64":         {"max_body: 1MiB", "max_body: 99999999999999999999", "webhooks.max_body"},
		"max_body past int64":          {"max_body: 1MiB", "max_body: 9223372036854775808", "webhooks.max_body"},
		"max_body above 1GiB":          {"max_body: 1MiB", "max_body: 2GiB", "webhooks.max_body"},
		"max_body zero":                {"max_body: 1MiB", "max_body: 0", "webhooks.max_body"},
		"max_body negative":            {"max_body: 1MiB", "max_body: -1MiB", "webhooks.max_body"},
		"workers past int64":           {"workers: 4", "workers: 99999999999999999999", "jobs.workers"},
		"workers huge":                 {"workers: 4", "workers: 1000000", "jobs.workers"},
		"workers negative":             {"workers: 4", "workers: -3", "jobs.workers"},
		"workers fractional":           {"workers: 4", "workers: 4.5", "jobs.workers"},
		"workers in exponent form":     {"workers: 4", "workers: 1e3", "jobs.workers"},
		"workers a word":               {"workers: 4", "workers: many", "jobs.workers"},
		"max_attempts zero":            {"max_attempts: 10", "max_attempts: 0", "jobs.max_attempts"},
		"max_attempts past smallint":   {"max_attempts: 10", "max_attempts: 40000", "jobs.max_attempts"},
		"max_attempts past int64":      {"max_attempts: 10", "max_attempts: 99999999999999999999", "jobs.max_attempts"},
		"history_page_size past int64": {"history_page_size: 100", "history_page_size: 99999999999999999999", "sources.slack.history_page_size"},
		"history_page_size above 999":  {"history_page_size: 100", "history_page_size: 1000", "sources.slack.history_page_size"},
		"history_page_size negative":   {"history_page_size: 100", "history_page_size: -1", "sources.slack.history_page_size"},
		"rpm past int64":               {"requests_per_minute: 50", "requests_per_minute: 99999999999999999999", "sources.slack.requests_per_minute"},
		"rpm huge":                     {"requests_per_minute: 50", "requests_per_minute: 10000000", "sources.slack.requests_per_minute"},
		"rpm negative":                 {"requests_per_minute: 50", "requests_per_minute: -5", "sources.slack.requests_per_minute"},
		"timeout overflowing":          {"timeout: 10m", "timeout: 9999999999h", "jobs.timeout"},
		"timeout above a day":          {"timeout: 10m", "timeout: 25h", "jobs.timeout"},
		"timeout negative":             {"timeout: 10m", "timeout: -5m", "jobs.timeout"},
		"rescue_after zero":            {"rescue_after: 15m", "rescue_after: 0s", "jobs.rescue_after"},
		"rescue_after overflowing":     {"rescue_after: 15m", "rescue_after: 9999999999h", "jobs.rescue_after"},
		"window.before overflowing":    {"before: 2h", "before: 9999999999h", "window.before"},
		"window.before above 30 days":  {"before: 2h", "before: 1000h", "window.before"},
		"window.after negative":        {"after: 30m", "after: -1h", "window.after"},
		"quiet_gap zero":               {"quiet_gap: 15m", "quiet_gap: 0s", "review.quiet_gap"},
		"quiet_gap overflowing":        {"quiet_gap: 15m", "quiet_gap: 9999999999h", "review.quiet_gap"},
	} {
		t.Run(name, func(t *testing.T) {
			raw := strings.Replace(validConfig, tc.from, tc.to, 1)
			if raw == validConfig {
				t.Fatalf("test case does not change the config: %q", tc.from)
			}
			cfg, err := ParseConfig([]byte(raw), getenv(testEnv))
			if err == nil {
				t.Fatalf("no error (max_body %d, workers %d, timeout %v), want one naming %s",
					cfg.Webhooks.MaxBody.N, cfg.Jobs.Workers, cfg.Jobs.Timeout.Duration, tc.wantKey)
			}
			if !strings.Contains(err.Error(), tc.wantKey) {
				t.Errorf("error %q does not name %s", err, tc.wantKey)
			}
		})
	}
}

// The largest values each key takes, and zero where it means something.
func TestParseConfigLimitsAccepted(t *testing.T) {
	raw := validConfig
	for from, to := range map[string]string{
		"max_body: 1MiB": "max_body: 1GiB", "workers: 4": "workers: 1000", "max_attempts: 10": "max_attempts: 1000",
		"timeout: 10m": "timeout: 0s", "rescue_after: 15m": "rescue_after: 24h", "before: 2h": "before: 720h",
		"after: 30m": "after: 0s", "history_page_size: 100": "history_page_size: 999", "requests_per_minute: 50": "requests_per_minute: 60000",
	} {
		raw = strings.Replace(raw, from, to, 1)
	}
	cfg, err := ParseConfig([]byte(raw), getenv(testEnv))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Webhooks.MaxBody.N != 1<<30 || cfg.Jobs.Workers != 1000 || cfg.Window.Before.Duration != 720*time.Hour {
		t.Errorf("limits read as max_body %d, workers %d, before %v", cfg.Webhooks.MaxBody.N, cfg.Jobs.Workers, cfg.Window.Before.Duration)
	}
}

// A bad value that came from the environment is quoted as the reference,
// never as what it expanded to.
func TestParseConfigBadValueFromEnvNotEchoed(t *testing.T) {
	raw := strings.Replace(validConfig, "workers: 4", `workers: "${SLACK_BOT_TOKEN}"`, 1)
	_, err := ParseConfig([]byte(raw), getenv(testEnv))
	if err == nil || !strings.Contains(err.Error(), "jobs.workers") || !strings.Contains(err.Error(), "${SLACK_BOT_TOKEN}") {
		t.Fatalf("err = %v, want it to name jobs.workers and ${SLACK_BOT_TOKEN}", err)
	}
	if strings.Contains(err.Error(), testEnv["SLACK_BOT_TOKEN"]) {
		t.Errorf("error echoes the secret: %v", err)
	}
}
