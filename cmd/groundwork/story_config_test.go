package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/groundwork-dev/groundwork/timeline"
)

// review.story: the story view's rules default to timeline's, may be set
// one by one, and a wrong value names its key.
func TestStoryConfig(t *testing.T) {
	cfg, err := ParseConfig([]byte("database_url: postgres://file/db\n"), getenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(timeline.DefaultStoryConfig(), cfg.Review.Story.timeline()); diff != "" {
		t.Errorf("no review.story: not the defaults (-want +got):\n%s", diff)
	}

	raw := `database_url: postgres://file/db
review:
  story:
    burst_window: 2m
    burst_min_people: 3
    burst_max_span: 20m
    low_content: [ack, "+1", "on it"]
    hide_successful_ci: false
`
	cfg, err = ParseConfig([]byte(raw), getenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := timeline.DefaultStoryConfig()
	want.BurstWindow, want.BurstMinPeople, want.BurstMaxSpan = 2*time.Minute, 3, 20*time.Minute
	want.LowContent, want.KeepSuccessfulCI = []string{"ack", "+1", "on it"}, true
	if diff := cmp.Diff(want, cfg.Review.Story.timeline()); diff != "" {
		t.Errorf("review.story set (-want +got):\n%s", diff)
	}

	cfg, err = ParseConfig([]byte("database_url: postgres://file/db\nreview:\n  story:\n    low_content: []\n"), getenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Review.Story.timeline().LowContent; got == nil || len(got) != 0 {
		t.Errorf("low_content: [] gives %#v, want an empty list (no phrases)", got)
	}

	for value, key := range map[string]string{
		"burst_window: soon":        "review.story.burst_window",
		"burst_window: 0s":          "review.story.burst_window: must be more than 0",
		"echo_window: 48h":          "review.story.echo_window",
		"burst_min_people: 0":       "review.story.burst_min_people: must be at least 1",
		"burst_min_messages: 1":     "review.story.burst_min_messages",
		"burst_lines: 4.5":          "review.story.burst_lines",
		`low_content: [ack, " ! "]`: "review.story.low_content[1]",
		"burst: 10":                 "review.story.burst: unknown key",
		"hide_successful_ci: maybe": "review.story.hide_successful_ci",
	} {
		_, err := ParseConfig([]byte("database_url: postgres://file/db\nreview:\n  story:\n    "+value+"\n"), getenv(nil))
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("review.story.%s: error %v, want one naming %s", value, err, key)
		}
	}
}
