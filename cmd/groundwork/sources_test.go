package main

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.yaml.in/yaml/v3"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/collectors/github"
	"github.com/groundwork-dev/groundwork/collectors/pagerduty"
	"github.com/groundwork-dev/groundwork/collectors/prometheus"
	"github.com/groundwork-dev/groundwork/collectors/slack"
)

const promSection = `
  prometheus:
    api_url: http://prometheus.monitoring:9090
    bearer_token: "${PROMETHEUS_TOKEN}"
    external_labels: {cluster: eu-west-1}
    matchers:
      PSVC001: '{service="checkout"}'
    webhook:
      username: alertmanager
      password: "${ALERTMANAGER_PASSWORD}"
`

var promEnv = map[string]string{"PROMETHEUS_TOKEN": "prom-token-secret-321", "ALERTMANAGER_PASSWORD": "am-password-secret-654"}

// withProm is validConfig with a sources.prometheus section.
func withProm(section string) []byte {
	return []byte(strings.Replace(validConfig, "  generic:\n", strings.TrimPrefix(section, "\n")+"  generic:\n", 1))
}

func envWithProm() func(string) string {
	env := map[string]string{}
	for k, v := range testEnv {
		env[k] = v
	}
	for k, v := range promEnv {
		env[k] = v
	}
	return getenv(env)
}

// TestListedSourceConfigured: a listed source's section is decoded by its
// own type over its defaults, ${VAR} expanded, printed with its secrets
// redacted and scrubbed from errors, and builds its collector and receiver.
func TestListedSourceConfigured(t *testing.T) {
	cfg, err := ParseConfig(withProm(promSection), envWithProm())
	if err != nil {
		t.Fatal(err)
	}
	pc, ok := cfg.Sources.Plugins[prometheus.Name].(*prometheus.Config)
	if !ok {
		t.Fatalf("sources.prometheus decoded as %T", cfg.Sources.Plugins[prometheus.Name])
	}
	if pc.APIURL != "http://prometheus.monitoring:9090" || pc.BearerToken.Value() != promEnv["PROMETHEUS_TOKEN"] ||
		pc.Webhook.Username != "alertmanager" || pc.Step != 15*time.Second || pc.ExternalLabels["cluster"] != "eu-west-1" {
		t.Errorf("decoded %+v, want the section over the defaults", pc)
	}
	out := cfg.String()
	for _, s := range promEnv {
		if strings.Contains(out, s) {
			t.Errorf("printed config shows a Prometheus secret:\n%s", out)
		}
	}
	if !strings.Contains(out, "prometheus:") || !strings.Contains(out, "api_url: http://prometheus.monitoring:9090") ||
		!strings.Contains(out, "bearer_token: '[REDACTED]'") {
		t.Errorf("printed config lacks the Prometheus section, redacted:\n%s", out)
	}
	for _, s := range promEnv {
		if !slices.Contains(cfg.secrets(), s) {
			t.Error("the Prometheus secrets are not scrubbed from errors")
		}
	}

	reg, err := buildRegistry(cfg, nil, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := reg.Get(prometheus.Name); !ok {
		t.Error("api_url is set, but the prometheus collector is not registered")
	}
	rcv := receiversOf(prometheus.Source, pluginReceivers(cfg, reg, zap.NewNop()))
	if len(rcv) != 1 || rcv[0].Name() != "alertmanager" {
		t.Errorf("receivers %v, want alertmanager", rcv)
	}

	off, err := ParseConfig([]byte(validConfig), getenv(testEnv))
	if err != nil {
		t.Fatal(err)
	}
	reg, err = buildRegistry(off, nil, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := reg.Get(prometheus.Name); ok {
		t.Error("without sources.prometheus the collector is registered")
	}
	if rcv := receiversOf(prometheus.Source, pluginReceivers(off, reg, zap.NewNop())); len(rcv) != 1 {
		t.Error("the receiver is mounted even when unconfigured, to say so to its sender")
	}
}

// TestListedSourceErrorsNameTheKey: unknown keys, undecodable values and
// invalid settings of a listed source are named by their full path; a
// section of a source that is not listed is an unknown key.
func TestListedSourceErrorsNameTheKey(t *testing.T) {
	for name, tc := range map[string]struct {
		from, to string
		wantKey  string
	}{
		"unknown key":        {"    api_url:", "    api_urll: x\n    api_url:", "sources.prometheus.api_urll: unknown key"},
		"unknown nested key": {"      username:", "      user: x\n      username:", "sources.prometheus.webhook.user: unknown key"},
		"bad duration":       {"    api_url:", "    step: fast\n    api_url:", "sources.prometheus:"},
		"bad url":            {"http://prometheus.monitoring:9090", "prometheus:9090", "sources.prometheus.api_url"},
		"bad matcher":        {`'{service="checkout"}'`, `'service=checkout'`, "sources.prometheus.matchers.PSVC001"},
		"webhook half":       {`      password: "${ALERTMANAGER_PASSWORD}"`, "", "sources.prometheus.webhook.password"},
		"not a mapping":      {promSection, "\n  prometheus: yes\n", "sources.prometheus: want a mapping"},
		"not listed":         {promSection, "\n  nagios:\n    url: x\n", "sources.nagios: unknown key"},
	} {
		t.Run(name, func(t *testing.T) {
			section := strings.Replace(promSection, tc.from, tc.to, 1)
			if section == promSection {
				t.Fatalf("test case does not change the section: %q", tc.from)
			}
			_, err := ParseConfig(withProm(section), envWithProm())
			if err == nil || !strings.Contains(err.Error(), tc.wantKey) {
				t.Fatalf("err = %v, want it to name %s", err, tc.wantKey)
			}
			for _, s := range promEnv {
				if strings.Contains(err.Error(), s) {
					t.Errorf("the error shows a secret: %v", err)
				}
			}
		})
	}
}

// receiversOf picks src's receivers out of all the listed sources'.
func receiversOf(src collectors.Source, all []collectors.WebhookReceiver) []collectors.WebhookReceiver {
	own := map[string]bool{}
	for _, r := range src.Receivers(src.NewConfig(), nil, collectors.ClientOptions{}) {
		own[r.Name()] = true
	}
	var out []collectors.WebhookReceiver
	for _, r := range all {
		if own[r.Name()] {
			out = append(out, r)
		}
	}
	return out
}

// pagerdutyConfig is c's sources.pagerduty.
func pagerdutyConfig(c Config) *pagerduty.Config {
	return c.Sources.Plugins[pagerduty.Name].(*pagerduty.Config)
}

// operatorYAML is cfg as the file an operator writes: with its secrets,
// which printing the configuration redacts.
func operatorYAML(cfg Config) ([]byte, error) {
	var doc yaml.Node
	if err := doc.Encode(cfg); err != nil {
		return nil, err
	}
	sources := mappingValue(&doc, "sources")
	for name, pc := range cfg.Sources.Plugins {
		if n := mappingValue(sources, name); n != nil {
			r, err := revealed(reflect.ValueOf(pc))
			if err != nil {
				return nil, err
			}
			*n = *r
		}
	}
	return yaml.Marshal(&doc)
}

func mappingValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// revealed encodes v as YAML with every collectors.Secret as it is.
func revealed(v reflect.Value) (*yaml.Node, error) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		v = v.Elem()
	}
	switch {
	case v.Type() == reflect.TypeOf(collectors.Secret("")):
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v.String()}, nil
	case v.Kind() == reflect.Struct:
		m := &yaml.Node{Kind: yaml.MappingNode}
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "-" || name == "" || !f.IsExported() {
				continue
			}
			val, err := revealed(v.Field(i))
			if err != nil {
				return nil, err
			}
			m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: name}, val)
		}
		return m, nil
	}
	var n yaml.Node
	err := n.Encode(v.Interface())
	return &n, err
}

// githubConfig is c's sources.github.
func githubConfig(c Config) *github.Config {
	return c.Sources.Plugins[github.Name].(*github.Config)
}

// slackConfig is c's sources.slack.
func slackConfig(c Config) *slack.Config {
	return c.Sources.Plugins[slack.Name].(*slack.Config)
}

// TestListedSourceErrorsNameTheKeyOnce: an error a source names in full is
// reported as it is, one naming its key within the section gets the
// section's path, and neither twice.
func TestListedSourceErrorsNameTheKeyOnce(t *testing.T) {
	raw := strings.Replace(validConfig, `webhook_secret: "${PAGERDUTY_WEBHOOK_SECRET}"`, `webhook_secret: ""`, 1)
	_, err := ParseConfig([]byte(raw), getenv(testEnv))
	if want := "config: sources.pagerduty.webhook_secret: required when sources.pagerduty.token is set"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	_, err = ParseConfig(withProm(strings.Replace(promSection, "http://prometheus.monitoring:9090", "prometheus:9090", 1)), envWithProm())
	if err == nil || !strings.HasPrefix(err.Error(), "config: sources.prometheus.api_url: ") || strings.Count(err.Error(), "sources.") != 1 {
		t.Errorf("err = %v, want it to start with sources.prometheus.api_url, once", err)
	}
}
