package github

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string // substring of the error; "" = valid
	}{
		{"disabled", Config{}, ""},
		{"defaults", Config{Token: "t", WebhookSecret: "w"}, ""},
		{"enterprise", Config{Token: "t", APIURL: "https://ghe.acme.test/api/v3", WebhookSecret: "w"}, ""},
		{"no webhook secret", Config{Token: "t"}, "sources.github.webhook_secret"},
		{"relative url", Config{Token: "t", APIURL: "api.github.com", WebhookSecret: "w"}, "sources.github.api_url"},
		{"bad scheme", Config{Token: "t", APIURL: "ftp://x/", WebhookSecret: "w"}, "sources.github.api_url"},
		{"unparsable", Config{Token: "t", APIURL: "http://[::1", WebhookSecret: "w"}, "sources.github.api_url"},
	}
	for _, c := range cases {
		err := c.cfg.Validate()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: Validate() = %v, want %q", c.name, err, c.want)
		}
	}
}

func TestConfigBaseURLTrailingSlash(t *testing.T) {
	for in, want := range map[string]string{
		"":                             "https://api.github.com/",
		"https://ghe.acme.test/api/v3": "https://ghe.acme.test/api/v3/",
		"http://127.0.0.1:8080":        "http://127.0.0.1:8080/",
		"http://127.0.0.1:8080/":       "http://127.0.0.1:8080/",
	} {
		u, err := Config{APIURL: in}.BaseURL()
		if err != nil || u.String() != want {
			t.Errorf("BaseURL(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
}

func TestConfigStringRedacts(t *testing.T) {
	s := Config{Token: "ghp_zz1", WebhookSecret: "hook_zz2", APIURL: "https://api.github.com/"}.String()
	if strings.Contains(s, "zz1") || strings.Contains(s, "zz2") || !strings.Contains(s, "api.github.com") {
		t.Errorf("String() = %s", s)
	}
}

func TestNewRequiresToken(t *testing.T) {
	if _, err := New(Config{}, Options{}); err == nil || !strings.Contains(err.Error(), "sources.github.token") {
		t.Errorf("New without token: %v", err)
	}
}
