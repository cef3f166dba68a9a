package main

import (
	"strings"
	"testing"
)

// TestAPIPublicURL: api.public_url is optional, taken as given, and refused
// when the packet's links could not start with it.
func TestAPIPublicURL(t *testing.T) {
	cfg, err := ParseConfig([]byte("api:\n  public_url: https://groundwork.example.com/gw\n"), getenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.API.PublicURL != "https://groundwork.example.com/gw" {
		t.Errorf("public_url = %q", cfg.API.PublicURL)
	}
	if cfg, err := ParseConfig([]byte("listen: \":8080\"\n"), getenv(nil)); err != nil || cfg.API.PublicURL != "" {
		t.Errorf("default: %q, %v; want empty", cfg.API.PublicURL, err)
	}
	for _, bad := range []string{"groundwork.example.com", "ftp://x.example.com", "https://", "https://x.example.com/?a=1",
		"https://x.example.com/#top", "https://user:pw@x.example.com"} {
		_, err := ParseConfig([]byte("api:\n  public_url: \""+bad+"\"\n"), getenv(nil))
		if err == nil || !strings.Contains(err.Error(), "api.public_url") {
			t.Errorf("%q: error %v, want one naming api.public_url", bad, err)
		}
		if err != nil && strings.Contains(bad, "pw@") && strings.Contains(err.Error(), "pw") {
			t.Errorf("the error echoes credentials: %v", err)
		}
	}
}
