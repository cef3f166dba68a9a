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
	// Source is the event's source.
	Source string
	// ScopeKind is the kind of place Scope is: it says which part of an
	// incident's scope the entry is matched against, and how.
	ScopeKind ScopeKind
	// Scope is the place the event belongs to: a channel id or an
	// owner/name repository (see ScopeKind.Key).
	Scope string
	// Event is the normalised event; its IncidentID is ignored.
	Event Event
	// Deleted, when set, says the object was deleted upstream: the journal
	// forgets Event.ID instead of keeping it.
	Deleted bool
}

// ScopeKind is a kind of place that live events happen in, as an
// incident's scope names places (Incident.Channels, Incident.Repos). A
// source that captures live events declares the kind of its places.
type ScopeKind string

// The kinds of place.
const (
	// ScopeChannel is a chat channel, by id (Incident.Channels). Ids
	// compare exactly.
	ScopeChannel ScopeKind = "channel"
	// ScopeRepo is a repository, owner/name (Incident.Repos). Names compare
	// case-insensitively.
	ScopeRepo ScopeKind = "repo"
)

// Valid reports whether k is one of the kinds.
func (k ScopeKind) Valid() bool { return k == ScopeChannel || k == ScopeRepo }

// Key returns the key a place of kind k is filed and matched under: trimmed,
// and for a repository in lower case; a channel id is kept as it is.
func (k ScopeKind) Key(place string) string {
	place = strings.TrimSpace(place)
	if k == ScopeRepo {
		return strings.ToLower(place)
	}
	return place
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
