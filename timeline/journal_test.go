package timeline

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestGaps(t *testing.T) {
	base := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	m := func(n int) time.Time { return base.Add(time.Duration(n) * time.Minute) }
	sp := func(a, b int) Span { return Span{From: m(a), To: m(b)} }
	for _, tc := range []struct {
		name    string
		covered []Span
		want    []Span
	}{
		{"nothing covered", nil, []Span{sp(0, 60)}},
		{"all covered", []Span{sp(-10, 70)}, nil},
		{"exactly covered", []Span{sp(0, 60)}, nil},
		{"head uncovered", []Span{sp(20, 90)}, []Span{sp(0, 20)}},
		{"tail uncovered", []Span{sp(-5, 40)}, []Span{sp(40, 60)}},
		{"hole in the middle", []Span{sp(30, 60), sp(0, 10)}, []Span{sp(10, 30)}},
		{"overlapping spans", []Span{sp(0, 20), sp(10, 30), sp(25, 35)}, []Span{sp(35, 60)}},
		{"spans outside", []Span{sp(-30, -20), sp(70, 80)}, []Span{sp(0, 60)}},
	} {
		if diff := cmp.Diff(tc.want, Gaps(m(0), m(60), tc.covered)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	if g := Gaps(m(10), m(0), nil); g != nil {
		t.Errorf("an empty range has gaps %v", g)
	}
}

// TestScopeKindKey: the kind of a place, not its source, says how it
// compares: repositories case-insensitively, channel ids exactly.
func TestScopeKindKey(t *testing.T) {
	if got := ScopeRepo.Key(" Acme/Checkout-API "); got != "acme/checkout-api" {
		t.Errorf("repo key = %q", got)
	}
	if got := ScopeChannel.Key(" C0CHECKOUT "); got != "C0CHECKOUT" {
		t.Errorf("channel key = %q", got)
	}
	for k, want := range map[ScopeKind]bool{ScopeRepo: true, ScopeChannel: true, "": false, "Repo": false, "slack": false} {
		if k.Valid() != want {
			t.Errorf("%q.Valid() = %v, want %v", k, !want, want)
		}
	}
}
