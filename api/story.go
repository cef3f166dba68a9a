package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/timeline"
)

// Views of GET /v1/incidents/{id}/timeline: raw is every event, paged;
// story is the timeline with its noise collapsed (timeline.BuildStory).
const (
	viewRaw   = "raw"
	viewStory = "story"
)

// storyRefused are the parameters of the raw view that the story view, which
// always tells the whole timeline, refuses rather than ignores.
var storyRefused = []string{"source", "kind", "since", "until", "limit", "cursor"}

// parseStoryParams returns the format of a story request.
func parseStoryParams(q url.Values) (string, error) {
	for _, k := range storyRefused {
		if q.Has(k) {
			return "", badRequest("invalid_parameter", fmt.Sprintf("view=story tells the whole timeline: %s applies to view=raw only", k))
		}
	}
	switch f := q.Get("format"); f {
	case "", formatJSON:
		return formatJSON, nil
	case formatMarkdown:
		return formatMarkdown, nil
	default:
		return "", badRequest("invalid_format", fmt.Sprintf("view=story comes as format=json or format=markdown, got %s", quoted(f)))
	}
}

// getStory serves view=story. The ETag covers the incident's version, the
// story rules, the time zone and the hide and star marks.
func (s *Server) getStory(w http.ResponseWriter, r *http.Request, id string) error {
	format, err := parseStoryParams(r.URL.Query())
	if err != nil {
		return err
	}
	ctx := r.Context()
	// The version is read before the data, as for the raw view.
	version, err := s.version(r, id)
	if err != nil {
		return err
	}
	var marks timeline.StoryMarks
	if ms, ok := s.Store.(timeline.StoryMarkStore); ok {
		if marks, err = ms.StoryMarks(ctx, id); err != nil {
			return err
		}
	}
	loc := s.Review.Location
	if loc == nil {
		loc = time.UTC
	}
	if version != "" {
		etag := etagOf(version, "story", format, loc, storyConfigDigest(s.Story), storyMarksDigest(marks))
		if notModified(w, r, etag) {
			return nil
		}
	}
	inc, err := s.Store.Incident(ctx, id)
	if err != nil {
		return err
	}
	events, err := s.Store.Timeline(ctx, timeline.TimelineQuery{IncidentID: id})
	if err != nil {
		return err
	}
	moments := timeline.Summarize(timeline.SummaryInput{Incident: inc, Events: events, Config: s.Review, Now: s.now()}).KeyMoments
	story := timeline.BuildStory(timeline.StoryInput{Events: events, KeyMoments: moments,
		Hidden: marks.Hidden, Starred: marks.Starred, Config: s.Story, Location: loc})
	if format == formatMarkdown {
		return writeStoryMarkdown(w, inc, story, loc)
	}
	return writeJSON(w, http.StatusOK, storyJSON(id, story, loc))
}

// storyConfigDigest digests the story rules, for the ETag.
func storyConfigDigest(c timeline.StoryConfig) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d|%d|%d|%d|%d|%d|%d|%d|%t|%t|%q", c.BurstWindow, c.BurstMinMessages, c.BurstMinPeople, c.BurstMaxSpan,
		c.BurstLines, c.PresenceWindow, c.InterruptionGap, c.EchoWindow, c.KeepSuccessfulCI, c.LowContent == nil, c.LowContent)
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// storyMarksDigest digests the hide and star marks, for the ETag.
func storyMarksDigest(m timeline.StoryMarks) string {
	h := sha256.New()
	for _, set := range []map[string]bool{m.Hidden, m.Starred} {
		var ids []string
		for id, on := range set {
			if on {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		for _, id := range ids {
			fmt.Fprintf(h, "%q,", id)
		}
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

func storyJSON(incidentID string, st timeline.Story, loc *time.Location) StoryJSON {
	out := StoryJSON{IncidentID: incidentID, View: viewStory, Timezone: loc.String(), Events: st.Events,
		Hidden: StoryCollapsedJSON{Count: len(st.Hidden), EventIDs: nonNil(st.Hidden)}, Rows: make([]StoryRowJSON, 0, len(st.Rows))}
	for _, r := range st.Rows {
		row := StoryRowJSON{ID: r.ID, At: formatTime(r.At), Kind: r.Kind, Source: r.Source, Title: r.Title, Text: r.Text,
			URL: r.URL, Channel: r.Channel, EventIDs: nonNil(r.EventIDs), KeyMoment: r.KeyMoment, Starred: r.Starred, Presence: r.Presence}
		if !r.End.IsZero() {
			e := formatTime(r.End)
			row.End = &e
		}
		if r.Actor != nil {
			row.Actor = &StoryActorJSON{ID: r.Actor.ID, Name: r.Actor.Name}
		}
		if r.ThreadParent != nil {
			row.ThreadParent = &StoryRefJSON{ID: r.ThreadParent.ID, Title: r.ThreadParent.Title}
		}
		if len(r.Collapsed) > 0 {
			row.Collapsed = &StoryCollapsedJSON{Count: len(r.Collapsed), EventIDs: r.Collapsed}
		}
		out.Rows = append(out.Rows, row)
	}
	return out
}

// writeStoryMarkdown writes the story as a table a facilitator pastes into
// a review document, in the review's time zone.
func writeStoryMarkdown(w http.ResponseWriter, inc timeline.Incident, st timeline.Story, loc *time.Location) error {
	var b bytes.Buffer
	title := inc.ID
	if inc.Title != "" {
		title = inc.Title + " (" + inc.ID + ")"
	}
	heading := mdInline(title)
	if u := mdURL(inc.URL); u != "" {
		heading = "[" + heading + "](" + u + ")"
	}
	zone := mdInline(loc.String())
	fmt.Fprintf(&b, "## Story: %s\n\nTimes are in %s. %s tell %s", heading, zone, countOf(len(st.Rows), "row"), countOf(st.Events, "event"))
	if len(st.Hidden) > 0 {
		fmt.Fprintf(&b, "; %d hidden", len(st.Hidden))
	}
	fmt.Fprintf(&b, ".\n\n| Time (%s) | What | Who | Events |\n|---|---|---|---|\n", zone)
	for _, r := range st.Rows {
		when := r.At.In(loc).Format("2006-01-02 15:04")
		if !r.End.IsZero() {
			when += "–" + r.End.In(loc).Format("15:04")
		}
		what := mdCell(r.Title)
		if u := mdURL(r.URL); u != "" {
			what = "[" + what + "](" + u + ")"
		}
		if r.Starred {
			what = "★ " + what
		}
		if r.KeyMoment != "" {
			what = "**" + mdInline(strings.ReplaceAll(r.KeyMoment, "_", " ")) + ":** " + what
		}
		if r.Channel != "" {
			what += " (" + mdInline(r.Channel) + ")"
		}
		if r.ThreadParent != nil && r.ThreadParent.Title != "" {
			what += "<br>in the thread of " + mdCell(r.ThreadParent.Title)
		}
		if r.Text != "" {
			what += "<br>" + mdCell(r.Text)
		}
		if len(r.Presence) > 0 {
			what += "<br>also there: " + mdCell(strings.Join(r.Presence, ", "))
		}
		who := ""
		if r.Actor != nil {
			who = mdCell(r.Actor.Name)
		}
		events := strconv.Itoa(len(r.EventIDs))
		if len(r.Collapsed) > 0 {
			events = fmt.Sprintf("%d (%d folded)", len(r.EventIDs)+len(r.Collapsed), len(r.Collapsed))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", when, what, who, events)
	}
	h := w.Header()
	h.Set("Content-Type", exportContentTypes[formatMarkdown])
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(b.Bytes())
	return err
}

func countOf(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
