package timeline

import (
	"slices"
	"strings"
	"time"
)

// JournalEntry is one live event kept in the live journal: every event
// captured live from a configured channel or repository, whether or not an
// incident covers it yet, kept for the journal's retention. When an incident
// is created, or its window or scope grows, the journal's events inside its
// window and scope join its timeline under the ids a collection gives them.
type JournalEntry struct {
	// Source is the event's source (slack, github).
	Source string
	// Scope is the channel id (Slack) or owner/name repository (GitHub) the
	// event belongs to. Repositories are matched case-insensitively.
	Scope string
	// Event is the normalised event; its IncidentID is ignored.
	Event Event
	// Deleted, when set, says the object was deleted upstream: the journal
	// forgets Event.ID instead of keeping it.
	Deleted bool
}

// JournalScope returns the key the journal files scope under for source:
// repositories in lower case (GitHub treats owner/name case-insensitively),
// channel ids as they are.
func JournalScope(source, scope string) string {
	scope = strings.TrimSpace(scope)
	if source == SourceGitHub {
		return strings.ToLower(scope)
	}
	return scope
}

// Span is a stretch of time, both ends included.
type Span struct {
	From time.Time
	To   time.Time
}

// Gaps returns the parts of [from, to] that no span of covered covers, in
// time order. Covered spans may overlap and come in any order. A gap's ends
// are the covered spans' ends themselves, which a reader treats as included:
// reading an instant twice is harmless, missing one is not.
func Gaps(from, to time.Time, covered []Span) []Span {
	if to.Before(from) {
		return nil
	}
	spans := append([]Span(nil), covered...)
	slices.SortFunc(spans, func(a, b Span) int { return a.From.Compare(b.From) })
	var out []Span
	at := from
	for _, s := range spans {
		if s.To.Before(s.From) || s.To.Before(at) {
			continue
		}
		if s.From.After(to) {
			break
		}
		if s.From.After(at) {
			out = append(out, Span{From: at, To: s.From})
		}
		if !s.To.Before(to) {
			return out
		}
		at = s.To
	}
	return append(out, Span{From: at, To: to})
}
