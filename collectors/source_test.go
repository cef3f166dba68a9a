package collectors_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"go.yaml.in/yaml/v3"

	"github.com/groundwork-dev/groundwork/collectors"
)

type secretConfig struct {
	URL    string                                `yaml:"url" json:"url"`
	Token  collectors.Secret                     `yaml:"token" json:"token"`
	Empty  collectors.Secret                     `yaml:"empty" json:"empty"`
	Nested *struct{ Password collectors.Secret } `yaml:"nested" json:"nested"`
	ByName map[string]collectors.Secret          `yaml:"by_name" json:"by_name"`
}

// TestSecretNeverPrints: every way a configuration gets printed shows
// [REDACTED] for a set secret and nothing for an empty one; SecretsOf finds
// every secret by its type.
func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	const tok, pw, named = "tok-4f9a1c", "pw-77c2d0", "named-e41b"
	cfg := secretConfig{URL: "https://prom.example", Token: tok,
		Nested: &struct{ Password collectors.Secret }{pw}, ByName: map[string]collectors.Secret{"a": named}}

	y, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.InfoLevel)
	zap.New(core).Info("config", zap.Any("config", cfg), zap.Stringer("token", cfg.Token))
	var logged strings.Builder
	for _, e := range logs.All() {
		fmt.Fprintf(&logged, "%v %v\n", e.ContextMap(), e.Message)
	}
	printed := []string{
		string(y), string(j), logged.String(),
		fmt.Sprint(cfg), fmt.Sprintf("%v %+v %#v %s %q %x", cfg, cfg, cfg, cfg.Token, cfg.Token, cfg.Token),
		fmt.Sprintf("%v", &cfg), fmt.Errorf("connecting with %v: %w", cfg.Token, errors.New("refused")).Error(),
	}
	for i, p := range printed {
		for _, s := range []string{tok, pw, named} {
			if strings.Contains(p, s) {
				t.Errorf("printing %d shows the secret %q:\n%s", i, s, p)
			}
		}
		if !strings.Contains(p, collectors.Redacted) {
			t.Errorf("printing %d does not say [REDACTED]:\n%s", i, p)
		}
	}
	if !strings.Contains(string(y), `empty: ""`) {
		t.Errorf("an empty secret prints as %q, want empty:\n%s", "", y)
	}
	got := collectors.SecretsOf(&cfg)
	if fmt.Sprint(got) != fmt.Sprint([]string{tok, pw, named}) {
		t.Errorf("SecretsOf = %d secrets, want the 3 set ones", len(got))
	}
	if cfg.Token.Value() != tok {
		t.Error("Value does not return the secret")
	}
}

// TestRequireJSON: JSON in UTF-8 (or no Content-Type) passes; anything else
// is refused as an unsupported media type, naming what was sent.
func TestRequireJSON(t *testing.T) {
	t.Parallel()
	for ct, ok := range map[string]bool{
		"": true, "application/json": true, "application/json; charset=utf-8": true, "application/vnd.x+json": true,
		"text/plain": false, "application/json; charset=latin1": false, "application/x-www-form-urlencoded": false,
	} {
		r := httptest.NewRequest("POST", "/webhooks/x", nil)
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		err := collectors.RequireJSON(r)
		if (err == nil) != ok {
			t.Errorf("%q: err = %v, want ok=%v", ct, err, ok)
		}
		if err != nil && (!errors.Is(err, collectors.ErrUnsupportedMediaType) || !strings.Contains(err.Error(), ct)) {
			t.Errorf("%q: err = %v, want ErrUnsupportedMediaType naming the type", ct, err)
		}
	}
}
