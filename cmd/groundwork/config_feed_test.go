package main

import (
	"strings"
	"testing"
	"time"
)

// TestFeedConfig: the feed: and api: sections default to what serve needs
// for thousands of streams, take an operator's values, and reject values
// that cannot work, naming the key.
func TestFeedConfig(t *testing.T) {
	cfg, err := ParseConfig([]byte("listen: \":8080\"\n"), getenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.Feed
	if f.MaxStreams != 5000 || f.MaxStreamsPerToken != 1000 || f.WriteTimeout.Duration != 30*time.Second ||
		f.StreamBuffer.N != 64<<10 || f.History.N != 32<<20 || f.CatchUpConnections != 4 || cfg.API.ReadTimeout.Duration != 10*time.Second {
		t.Errorf("defaults: feed %+v, api %+v", f, cfg.API)
	}
	cfg, err = ParseConfig([]byte(`
api:
  read_timeout: 3s
feed:
  max_streams: 8000
  max_streams_per_token: 8000
  write_timeout: 10s
  stream_buffer: 128KiB
  history: 64MiB
  catchup_connections: 2
`), getenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if f := cfg.Feed; f.MaxStreams != 8000 || f.MaxStreamsPerToken != 8000 || f.WriteTimeout.Duration != 10*time.Second ||
		f.StreamBuffer.N != 128<<10 || f.History.N != 64<<20 || f.CatchUpConnections != 2 || cfg.API.ReadTimeout.Duration != 3*time.Second {
		t.Errorf("set: feed %+v, api %+v", f, cfg.API)
	}
	for raw, key := range map[string]string{
		"feed:\n  max_streams: 0":            "feed.max_streams",
		"feed:\n  max_streams_per_token: -1": "feed.max_streams_per_token",
		"feed:\n  catchup_connections: 0":    "feed.catchup_connections",
		"feed:\n  write_timeout: 0s":         "feed.write_timeout",
		"feed:\n  write_timeout: soon":       "feed.write_timeout",
		"feed:\n  stream_buffer: big":        "feed.stream_buffer",
		"feed:\n  history: 0":                "feed.history",
		"feed:\n  max_stream: 5":             "feed.max_stream",
		"api:\n  read_timeout: 0s":           "api.read_timeout",
		"api:\n  read_timeout: ten":          "api.read_timeout",
	} {
		if _, err := ParseConfig([]byte(raw), getenv(nil)); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%q: error %v, want one naming %s", raw, err, key)
		}
	}
}
