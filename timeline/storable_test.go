package timeline

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestStorableString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"plain ascii", "plain ascii"},
		{"ünïcødé ✓ 🚒", "ünïcødé ✓ 🚒"},
		{"nul\x00inside", "nul\uFFFDinside"},
		{"\x00", "\uFFFD"},
		{"bad \xff byte", "bad \uFFFD byte"},
		{"cut rune \xe2\x9c", "cut rune \uFFFD"},
		{"surrogate \xed\xa0\x80 half", "surrogate \uFFFD half"},
		{"both\x00\xfe", "both\uFFFD\uFFFD"},
	} {
		got := StorableString(tc.in)
		if got != tc.want {
			t.Errorf("StorableString(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if !utf8.ValidString(got) || !storableString(got) {
			t.Errorf("StorableString(%q) = %q is still not storable", tc.in, got)
		}
	}
}

type custom struct {
	Name string `json:"name"`
}

func TestMakeStorable(t *testing.T) {
	at := time.Date(2025, 11, 20, 9, 0, 0, 0, time.UTC)
	details := map[string]any{
		"channel":     "C1",
		"nested":      map[string]any{"k\x00ey": []any{"a\x00", 3, map[string]any{"deep": "\xff"}}},
		"labels":      []string{"ok", "no\x00"},
		"strings":     map[string]string{"x": "y\xfe"},
		"custom":      custom{Name: "c\x00"},
		"count":       2,
		"fine_custom": custom{Name: "fine"},
	}
	actor := &Actor{ID: "U1", Name: "Al\x00ice", Email: "a\xff@acme.test"}
	e := Event{
		ID: "slack:message:C1:1.000001", IncidentID: "INC1", Source: "slack", Kind: KindChatMessage,
		OccurredAt: at, Actor: actor, Title: "Alice: hi\x00", Text: "hi\x00 \xffthere", URL: "https://x.test/\x00", Details: details,
	}
	if e.Storable() {
		t.Fatal("an event with NUL characters reports itself storable")
	}
	got := MakeStorable(e)
	if !got.Storable() {
		t.Fatalf("MakeStorable left an unstorable event: %+v", got)
	}
	want := Event{
		ID: e.ID, IncidentID: "INC1", Source: "slack", Kind: KindChatMessage, OccurredAt: at,
		Actor: &Actor{ID: "U1", Name: "Al\uFFFDice", Email: "a\uFFFD@acme.test"},
		Title: "Alice: hi\uFFFD", Text: "hi\uFFFD \uFFFDthere", URL: "https://x.test/\uFFFD",
		Details: map[string]any{
			"channel":     "C1",
			"nested":      map[string]any{"k\uFFFDey": []any{"a\uFFFD", 3, map[string]any{"deep": "\uFFFD"}}},
			"labels":      []string{"ok", "no\uFFFD"},
			"strings":     map[string]string{"x": "y\uFFFD"},
			"custom":      map[string]any{"name": "c\uFFFD"},
			"count":       2,
			"fine_custom": custom{Name: "fine"},
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("MakeStorable (-want +got):\n%s", d)
	}
	// The caller's actor and details are not touched.
	if actor.Name != "Al\x00ice" || details["labels"].([]string)[1] != "no\x00" ||
		details["nested"].(map[string]any)["k\x00ey"].([]any)[0] != "a\x00" {
		t.Error("MakeStorable changed the caller's actor or details in place")
	}

	// A storable event comes back as it is, sharing its maps.
	clean := Event{ID: "slack:message:C1:2", Source: "slack", Kind: KindChatMessage, OccurredAt: at,
		Title: "fine ✓", Details: map[string]any{"channel": "C1"}}
	if !clean.Storable() {
		t.Fatal("a clean event reports itself unstorable")
	}
	out := MakeStorable(clean)
	out.Details["probe"] = true
	if clean.Details["probe"] != true {
		t.Error("a storable event's details were copied")
	}
}

// BenchmarkStorable measures the check the store runs on every event before
// writing it, on a clean, realistic chat event (the common case: nothing to
// replace, nothing allocated).
//
//	go test ./timeline -run '^$' -bench Storable
func BenchmarkStorable(b *testing.B) {
	text := strings.Repeat("checkout p99 latency climbing after deploy, rolled back ✓ ", 4)
	e := Event{ID: "slack:message:C0CHECKOUT:1763632923.000200", IncidentID: "PINC1", Source: "slack", Kind: KindChatMessage,
		Actor: &Actor{ID: "U0761F5NSP5", Name: "Ana Lima", Email: "ana@acme.test"}, Title: Truncate(text, 80), Text: text,
		URL:     "https://acme.slack.com/archives/C0CHECKOUT/p1763632923000200",
		Details: map[string]any{"channel": "C0CHECKOUT", "thread_ts": "1763632923.000200", "reply_count": 3, "reactions": map[string]any{"eyes": 2}}}
	b.ReportAllocs()
	for b.Loop() {
		if !e.Storable() {
			b.Fatal("clean event reported unstorable")
		}
	}
	b.ReportMetric(float64(len(e.Text)+len(e.Title)+len(e.URL)+len(e.ID)), "bytes/event")
}
