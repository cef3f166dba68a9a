package api

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/timeline"
)

// pageInput is everything the incident page is drawn from.
type pageInput struct {
	Incident    timeline.Incident
	Events      []timeline.Event
	Review      *timeline.Review
	Annotations []timeline.Annotation
	Statuses    []timeline.SourceStatus
	// Story is the story view of Events; the events it hides are left
	// out of the lanes too.
	Story  timeline.Story
	Loc    *time.Location
	Now    time.Time
	Params pageParams
	// Token is the share token the page's links carry ("" for a token).
	Token string
	// FeedHead is where the live stream starts.
	FeedHead int64
	// Shared says the page was opened with a share link.
	Shared bool
}

// pageView is the model of page.html.
type pageView struct {
	ID, Title, Status, URL string
	Open                   bool
	Zone                   string
	Started, Resolved      string
	Duration               string
	Durations              []pageFact
	Sources                []pageSource
	Chart                  chartView
	Rows                   []pageRowView
	People                 []pagePerson
	// Before and After count the events outside the axis.
	Before, After int
	Events        int
	Folded        int
	// Hidden counts the events hide annotations left out.
	Hidden int
	Zoom   string
	Links  pageLinks
	// Live is set while the incident is open.
	Live    *pageLive
	Present *presentView
	Shared  bool
	Now     string
}

type pageFact struct{ Label, Value string }

type pageLinks struct {
	Self, ZoomIncident, ZoomWindow, Present string
	// API links, for token holders.
	APIIncident, APITimeline, APIStory, APIReview, APIQuestions string
}

type pageLive struct {
	FeedURL string
}

// pageRowView is one row of the table.
type pageRowView struct {
	Anchor  string
	AtMS    int64
	When    string
	WhenISO string
	Lane    string
	LaneKey string
	Kind    string
	Title   string
	Text    string
	URL     string
	Who     string
	Moment  string
	Starred bool
	// Thread is the title of a reply's thread parent; Presence the people
	// whose check-ins the row folds.
	Thread   string
	Presence string
	EventIDs string
	// Folded, for a row that folds events, are the events it tells,
	// listed when it is expanded; FoldedCount is how many it folds. A row
	// that tells more than foldedListCap lists its first and last
	// foldedListCap/2 (Folded, then FoldedTail), and says how many are
	// left out between them (FoldedMore); the timeline API has them all.
	Folded      []pageFolded
	FoldedTail  []pageFolded
	FoldedMore  int
	FoldedCount int
	Told        int
	Count       int
}

// foldedListCap is how many of a folded row's events the page lists.
const foldedListCap = 100

// foldedList is the listing of told.
func foldedList(told []*timeline.Event, loc *time.Location) []pageFolded {
	out := make([]pageFolded, 0, len(told))
	for _, e := range told {
		f := pageFolded{When: e.OccurredAt.In(loc).Format("15:04:05"), Title: e.Title, URL: e.URL, ID: e.ID}
		if e.Actor != nil {
			f.Who = e.Actor.Name
		}
		out = append(out, f)
	}
	return out
}

type pageFolded struct {
	When, Title, Who, URL, ID string
}

// pagePerson is one row of the people table.
type pagePerson struct {
	Name, Mode, Zone, Present, FirstNotified string
	Interruptions                            string
}

// presentView is present mode's card.
type presentView struct {
	Step, Total     int
	Flag            pageFlag
	Prev, Next      string
	Exit            string
	Cited           []pageFolded
	LocalTimes      []pageFact
	NoMoments       bool
	StepOutOfBounds bool
}

// pageURL builds a link to the page (or its feed) that keeps the share
// token; pairs are name, value.
func pageURL(id, token, suffix string, pairs ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			q.Set(pairs[i], pairs[i+1])
		}
	}
	if token != "" {
		q.Set(shareParam, token)
	}
	u := pagePath(id) + suffix
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// pageSpan is the incident's span: from its first sign to its resolution
// (now while it is open), widened to every key moment and phase, padded.
// An open incident's axis runs on past now, so that live events land on it.
func pageSpan(in pageInput) (time.Time, time.Time) {
	inc := in.Incident
	start := inc.StartedAt
	end := in.Now
	if inc.ResolvedAt != nil {
		end = *inc.ResolvedAt
	}
	widen := func(t time.Time) {
		if t.IsZero() {
			return
		}
		if t.Before(start) {
			start = t
		}
		if t.After(end) {
			end = t
		}
	}
	if rv := in.Review; rv != nil {
		for _, m := range rv.Summary.KeyMoments {
			widen(m.At)
		}
		ph := rv.Summary.Phases
		if ph.Detection != nil {
			widen(ph.Detection.At)
		}
		if ph.Resolved != nil {
			widen(ph.Resolved.At)
		}
	}
	if start.IsZero() || !end.After(start) {
		// Nothing to measure by: the window, or an hour around the start.
		if !inc.WindowStart.IsZero() {
			return inc.WindowStart, inc.WindowEndAt(in.Now)
		}
		return start.Add(-30 * time.Minute), start.Add(30 * time.Minute)
	}
	span := end.Sub(start)
	pad := max(span/25, 2*time.Minute)
	start, end = start.Add(-pad), end.Add(pad)
	if inc.Open() {
		end = end.Add(max(span/10, 10*time.Minute))
	}
	return start, end
}

func buildPageView(in pageInput) pageView {
	inc := in.Incident
	loc := in.Loc
	v := pageView{ID: inc.ID, Title: cmpOr(inc.Title, inc.ID), Status: inc.Status(), URL: inc.URL, Open: inc.Open(),
		Zone: loc.String(), Zoom: in.Params.Zoom, Shared: in.Shared, Now: in.Now.In(loc).Format("2 Jan 2006 15:04 MST")}
	v.Started = inc.StartedAt.In(loc).Format("Mon 2 Jan 2006 15:04")
	end := in.Now
	if inc.ResolvedAt != nil {
		end = *inc.ResolvedAt
		v.Resolved = inc.ResolvedAt.In(loc).Format("Mon 2 Jan 2006 15:04")
	}
	v.Duration = humanDuration(end.Sub(inc.StartedAt))
	if inc.Open() {
		v.Duration += " so far"
	}
	v.Sources = pageSources(in.Statuses)

	zoom := ""
	if in.Params.Zoom == "window" {
		zoom = "window"
	}
	v.Links = pageLinks{
		Self:         pageURL(inc.ID, in.Token, "", "zoom", zoom),
		ZoomIncident: pageURL(inc.ID, in.Token, ""),
		ZoomWindow:   pageURL(inc.ID, in.Token, "", "zoom", "window"),
		Present:      pageURL(inc.ID, in.Token, "", "zoom", zoom, "present", "1", "step", "1"),
	}
	api := "/v1/incidents/" + url.PathEscape(inc.ID)
	v.Links.APIIncident, v.Links.APITimeline = api, api+"/timeline"
	v.Links.APIStory, v.Links.APIReview, v.Links.APIQuestions = api+"/timeline?view=story", api+"/review?format=html", api+"/questions"
	if inc.Open() {
		v.Live = &pageLive{FeedURL: pageURL(inc.ID, in.Token, "/feed", "after", strconv.FormatInt(in.FeedHead, 10))}
	}

	// The events a hide annotation hid are on neither the table nor the
	// lanes.
	if len(in.Story.Hidden) > 0 {
		hidden := make(map[string]bool, len(in.Story.Hidden))
		for _, id := range in.Story.Hidden {
			hidden[id] = true
		}
		kept := make([]timeline.Event, 0, len(in.Events))
		for _, e := range in.Events {
			if !hidden[e.ID] {
				kept = append(kept, e)
			}
		}
		in.Events = kept
		v.Hidden = len(in.Story.Hidden)
	}
	// Rows, and which row holds each event.
	byID := make(map[string]*timeline.Event, len(in.Events))
	for i := range in.Events {
		byID[in.Events[i].ID] = &in.Events[i]
	}
	rowOf := make(map[string]string, len(in.Events))
	for _, r := range in.Story.Rows {
		anchor := rowAnchor(r.ID)
		for _, id := range r.EventIDs {
			rowOf[id] = anchor
		}
		for _, id := range r.Collapsed {
			rowOf[id] = anchor
		}
		rv := pageRowView{Anchor: anchor, AtMS: r.At.UnixMilli(), When: r.At.In(loc).Format("15:04:05"), WhenISO: formatTime(r.At),
			Kind: r.Kind, Title: r.Title, URL: r.URL, Count: len(r.EventIDs) + len(r.Collapsed)}
		if !r.End.IsZero() {
			rv.When += "–" + r.End.In(loc).Format("15:04:05")
		}
		rv.Text = cut(extraText(r.Title, r.Text), 600)
		if r.Actor != nil {
			rv.Who = r.Actor.Name
		}
		if r.KeyMoment != "" {
			rv.Moment = momentLabel(r.KeyMoment)
		}
		rv.Starred = r.Starred
		if r.ThreadParent != nil {
			rv.Thread = r.ThreadParent.Title
		}
		rv.Presence = strings.Join(r.Presence, ", ")
		rv.EventIDs = strings.Join(append(append([]string{}, r.EventIDs...), r.Collapsed...), " ")
		for _, id := range append(append([]string{}, r.EventIDs...), r.Collapsed...) {
			if e := byID[id]; e != nil {
				rv.LaneKey = laneOf(*e)
				break
			}
		}
		rv.Lane = laneName(rv.LaneKey, r.Channel)
		// A row that folds events lists every event it tells when it
		// is expanded: those it shows and those it folds, in time order.
		if len(r.Collapsed) > 0 {
			v.Folded += len(r.Collapsed)
			rv.FoldedCount = len(r.Collapsed)
			var told []*timeline.Event
			for _, id := range append(append([]string{}, r.EventIDs...), r.Collapsed...) {
				if e := byID[id]; e != nil {
					told = append(told, e)
				}
			}
			slices.SortStableFunc(told, func(x, y *timeline.Event) int { return timeline.Compare(*x, *y) })
			rv.Told = len(told)
			head, tail := told, []*timeline.Event(nil)
			if len(told) > foldedListCap {
				head, tail = told[:foldedListCap/2], told[len(told)-foldedListCap/2:]
				rv.FoldedMore = len(told) - foldedListCap
			}
			rv.Folded, rv.FoldedTail = foldedList(head, loc), foldedList(tail, loc)
		}
		v.Rows = append(v.Rows, rv)
	}
	v.Events = len(in.Events)

	start, endAxis := pageSpan(in)
	if in.Params.Zoom == "window" && !inc.WindowStart.IsZero() {
		start, endAxis = inc.WindowStart, inc.WindowEndAt(in.Now)
		if inc.Open() {
			endAxis = endAxis.Add(10 * time.Minute)
		}
	}
	a := axis{start: start, end: endAxis, plotX: labelW, plotW: chartW - labelW - rightPad}
	for _, e := range in.Events {
		switch {
		case e.OccurredAt.Before(a.start):
			v.Before++
		case e.OccurredAt.After(a.end):
			v.After++
		}
	}
	step := 0
	if in.Params.Present {
		step = in.Params.Step
	}
	v.Chart = buildChart(chartInput{Incident: inc, Events: in.Events, Review: in.Review, Annotations: in.Annotations,
		RowOf: rowOf, Axis: a, Loc: loc, Step: step})

	if rv := in.Review; rv != nil {
		d := rv.Summary.Durations
		for _, f := range []struct {
			label string
			s     *int64
		}{
			{"Detection to page", d.DetectToPageS}, {"Page to acknowledgement", d.PageToAckS},
			{"Page to mitigation (suggested)", d.PageToMitigateS}, {"To resolve", d.ToResolveS},
			{"Last deploy to first alert", d.LastDeployToFirstAlertS},
		} {
			if f.s != nil {
				v.Durations = append(v.Durations, pageFact{f.label, humanDuration(time.Duration(*f.s) * time.Second)})
			}
		}
		for _, p := range rv.People.Responders {
			pp := pagePerson{Name: p.Name, Mode: strings.ReplaceAll(p.Mode, "_", " ")}
			zone := ""
			if p.TimeZone != nil {
				zone = *p.TimeZone
			}
			ploc := loadZone(zone, loc)
			pp.Zone = ploc.String()
			if !p.PresentFrom.IsZero() {
				pp.Present = fmt.Sprintf("%s–%s (%s–%s local)", p.PresentFrom.In(loc).Format("15:04"), p.PresentUntil.In(loc).Format("15:04"),
					p.PresentFrom.In(ploc).Format("15:04"), p.PresentUntil.In(ploc).Format("15:04"))
			}
			if p.FirstNotifiedAt != nil {
				pp.FirstNotified = fmt.Sprintf("%s (%s local)", p.FirstNotifiedAt.In(loc).Format("15:04"), p.FirstNotifiedAt.In(ploc).Format("15:04"))
			}
			var parts []string
			for _, it := range p.Interruptions {
				parts = append(parts, fmt.Sprintf("%s (%s local, %s)", it.At.In(loc).Format("15:04"), localClock(it, ploc), it.LocalClass))
			}
			pp.Interruptions = strings.Join(parts, "; ")
			v.People = append(v.People, pp)
		}
	}

	if in.Params.Present {
		v.Present = presentCard(in, v, byID)
	}
	return v
}

// presentCard is the card of present mode's step.
func presentCard(in pageInput, v pageView, byID map[string]*timeline.Event) *presentView {
	flags := v.Chart.Flags
	zoom := ""
	if in.Params.Zoom == "window" {
		zoom = "window"
	}
	p := &presentView{Step: in.Params.Step, Total: len(flags), Exit: pageURL(in.Incident.ID, in.Token, "", "zoom", zoom)}
	if len(flags) == 0 {
		p.NoMoments = true
		return p
	}
	if p.Step > len(flags) {
		p.StepOutOfBounds = true
		p.Step = len(flags)
	}
	step := func(n int) string {
		return pageURL(in.Incident.ID, in.Token, "", "zoom", zoom, "present", "1", "step", strconv.Itoa(n))
	}
	if p.Step > 1 {
		p.Prev = step(p.Step - 1)
	}
	if p.Step < len(flags) {
		p.Next = step(p.Step + 1)
	}
	p.Flag = flags[p.Step-1]
	for _, id := range p.Flag.EventIDs {
		if e := byID[id]; e != nil {
			f := pageFolded{When: e.OccurredAt.In(in.Loc).Format("15:04:05"), Title: e.Title, URL: e.URL, ID: e.ID}
			if e.Actor != nil {
				f.Who = e.Actor.Name
			}
			p.Cited = append(p.Cited, f)
		}
	}
	if rv := in.Review; rv != nil {
		for _, person := range rv.People.Responders {
			zone := ""
			if person.TimeZone != nil {
				zone = *person.TimeZone
			}
			ploc := loadZone(zone, in.Loc)
			p.LocalTimes = append(p.LocalTimes, pageFact{person.Name, p.Flag.At.In(ploc).Format("15:04") + " in " + ploc.String()})
		}
	}
	return p
}

// laneName is the table's name of a lane.
func laneName(key, channel string) string {
	switch {
	case key == lanePager:
		return "Pager"
	case key == laneAlerts:
		return "Alerts"
	case key == laneChanges:
		return "Changes"
	case strings.HasPrefix(key, laneChat):
		if channel != "" {
			return channel
		}
		return "#" + strings.TrimPrefix(key, laneChat)
	}
	return "Other"
}

// extraText is what of an event's text its title does not already say:
// nothing when the title holds the text's first line (or the title's own
// words start it, untruncated), the lines after it then; the whole text
// when the title was cut short.
func extraText(title, text string) string {
	text = strings.TrimSpace(text)
	if text == "" {
		return ""
	}
	first, rest, _ := strings.Cut(text, "\n")
	first = strings.TrimSpace(first)
	t := strings.TrimSpace(title)
	truncated := strings.HasSuffix(t, "…") || strings.HasSuffix(t, "...")
	tail := strings.TrimRight(t, "…. ")
	if i := strings.Index(tail, ": "); i >= 0 && i < 60 {
		tail = tail[i+2:]
	}
	if strings.Contains(t, first) || (!truncated && tail != "" && strings.HasPrefix(first, tail)) {
		return strings.TrimSpace(rest)
	}
	return text
}

// cut shortens s to n characters, marking the cut.
func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
