package api

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/timeline"
)

// PageRow is one row of the meeting page's table, in the shape of the story
// view's rows (GET /v1/incidents/{id}/timeline?view=story): the events it
// shows (EventIDs) and those it folds (Collapsed), which the page lists
// when the row is expanded. Every event of the timeline is in one row.
type PageRow struct {
	// ID is the head event's id, or a stable id of its own for a row of
	// many events.
	ID string
	At time.Time
	// End is the time of the row's last event, zero when it is At.
	End    time.Time
	Kind   string
	Source string
	Title  string
	Text   string
	URL    string
	Actor  *timeline.Actor
	// Channel is the chat channel of a chat row ("#name", or its id).
	Channel   string
	EventIDs  []string
	Collapsed []string
	// KeyMoment names the key moment the row shows, if any.
	KeyMoment string
}

// PageStoryInput is what Server.StoryFunc folds into rows.
type PageStoryInput struct {
	Incident timeline.Incident
	// Events is the whole timeline, in (OccurredAt, ID) order.
	Events []timeline.Event
	// KeyMoments are the summary's; the events they cite stay rows of
	// their own.
	KeyMoments []timeline.KeyMoment
	// Location is the time zone of clock times in titles.
	Location *time.Location
}

// Row kinds of the rows that stand for many events, as the story view
// names them.
const (
	rowKindNotifications = "story.notifications"
	rowKindChanges       = "story.changes"
	rowKindPresence      = "story.presence"
)

// foldGap is how far apart two events of a run may be for the page's own
// fold to put them in one row.
const foldGap = 15 * time.Minute

// pageRows returns the rows of the page: StoryFunc's, else foldRows'.
func (s *Server) pageRows(ctx context.Context, in PageStoryInput) ([]PageRow, error) {
	if s.StoryFunc != nil {
		return s.StoryFunc(ctx, in)
	}
	return foldRows(in), nil
}

// foldRows is the page's own fold, for a server without the story view:
// within one lane, a run of page.notified events, of chat.joined events of
// one channel, of commits to one repo or of CI runs of one repo, each less
// than foldGap after the one before and with no other event of the lane
// between them, is one row that folds them all. Events a key moment cites
// are rows of their own. Every other event is a row of its own.
func foldRows(in PageStoryInput) []PageRow {
	cited := map[string]string{}
	for _, m := range in.KeyMoments {
		for _, id := range m.EventIDs {
			if _, ok := cited[id]; !ok {
				cited[id] = m.Moment
			}
		}
	}
	type group struct {
		key    string
		events []*timeline.Event
	}
	var order []*group
	open := map[string]*group{}
	for i := range in.Events {
		e := &in.Events[i]
		if e.Deleted {
			continue
		}
		lane := laneOf(*e)
		key := ""
		if _, ok := cited[e.ID]; !ok {
			key = foldKey(*e)
		}
		if g := open[lane]; g != nil {
			last := g.events[len(g.events)-1]
			if key != "" && g.key == key && e.OccurredAt.Sub(last.OccurredAt) <= foldGap {
				g.events = append(g.events, e)
				continue
			}
			delete(open, lane)
		}
		g := &group{key: key, events: []*timeline.Event{e}}
		order = append(order, g)
		if key != "" {
			open[lane] = g
		}
	}
	rows := make([]PageRow, 0, len(order))
	for _, g := range order {
		if len(g.events) == 1 {
			rows = append(rows, singleRow(*g.events[0], cited[g.events[0].ID]))
			continue
		}
		rows = append(rows, foldedRow(g.key, g.events))
	}
	return rows
}

func singleRow(e timeline.Event, moment string) PageRow {
	r := PageRow{ID: e.ID, At: e.OccurredAt, Kind: e.Kind, Source: e.Source, Title: e.Title, Text: e.Text, URL: e.URL,
		Actor: e.Actor, EventIDs: []string{e.ID}, KeyMoment: moment}
	if strings.HasPrefix(e.Kind, "chat.") {
		r.Channel = channelLabel(e)
	}
	return r
}

// foldKey is what a run of e's kind is folded by, "" when e is not folded.
func foldKey(e timeline.Event) string {
	switch e.Kind {
	case timeline.KindPageNotified:
		return "notified"
	case timeline.KindChatJoined:
		return "joined:" + chatChannel(e)
	case timeline.KindChangeCommit:
		return "commits:" + repoOf(e)
	case timeline.KindCICompleted:
		return "ci:" + repoOf(e)
	}
	return ""
}

// foldedRow is the row of a run of events folded by key.
func foldedRow(key string, events []*timeline.Event) PageRow {
	first, last := events[0], events[len(events)-1]
	r := PageRow{ID: "page:fold:" + first.ID, At: first.OccurredAt, Source: first.Source, EventIDs: []string{}}
	if !last.OccurredAt.Equal(first.OccurredAt) {
		r.End = last.OccurredAt
	}
	for _, e := range events {
		r.Collapsed = append(r.Collapsed, e.ID)
	}
	n := len(events)
	kind, _, _ := strings.Cut(key, ":")
	switch kind {
	case "notified":
		r.Kind = rowKindNotifications
		var names []string
		channels := map[string][]string{}
		for _, e := range events {
			name := notifiedName(*e)
			if _, seen := channels[name]; !seen {
				names = append(names, name)
			}
			if c := detailString(*e, timeline.DetailNotifyChannel); c != "" && !contains(channels[name], c) {
				channels[name] = append(channels[name], c)
			} else if _, ok := channels[name]; !ok {
				channels[name] = nil
			}
		}
		parts := make([]string, len(names))
		for i, name := range names {
			parts[i] = name
			if cs := channels[name]; len(cs) > 0 {
				parts[i] += " (" + strings.Join(cs, ", ") + ")"
			}
		}
		r.Title = fmt.Sprintf("%d notifications: %s", n, strings.Join(parts, "; "))
	case "joined":
		r.Kind = rowKindPresence
		r.Channel = channelLabel(*first)
		var names []string
		for _, e := range events {
			if e.Actor != nil && !contains(names, e.Actor.Name) {
				names = append(names, e.Actor.Name)
			}
		}
		r.Title = fmt.Sprintf("%d joined %s: %s", n, r.Channel, strings.Join(names, ", "))
	case "commits":
		r.Kind = rowKindChanges
		r.Title = fmt.Sprintf("%d commits to %s", n, repoOf(*first))
	case "ci":
		r.Kind = rowKindChanges
		states := map[string]int{}
		for _, e := range events {
			states[cmpOr(detailString(*e, "conclusion"), "completed")]++
		}
		var parts []string
		for st, c := range states {
			parts = append(parts, fmt.Sprintf("%d %s", c, st))
		}
		sort.Strings(parts)
		r.Title = fmt.Sprintf("%d CI runs of %s: %s", n, repoOf(*first), strings.Join(parts, ", "))
	}
	return r
}

func notifiedName(e timeline.Event) string {
	if u, ok := e.Details[timeline.DetailNotifiedPerson].(map[string]any); ok {
		if name, _ := u["name"].(string); name != "" {
			return name
		}
	}
	if e.Actor != nil && e.Actor.Name != "" {
		return e.Actor.Name
	}
	return "someone"
}

func detailString(e timeline.Event, key string) string {
	switch v := e.Details[key].(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// repoOf is the event's repo detail, else the owner/name part of its id
// ("github:commit:acme/api:sha").
func repoOf(e timeline.Event) string {
	if r := detailString(e, timeline.DetailRepo); r != "" {
		return r
	}
	parts := strings.SplitN(e.ID, ":", 4)
	if len(parts) >= 3 {
		return parts[2]
	}
	return e.Source
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
