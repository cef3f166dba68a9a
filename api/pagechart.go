package api

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/timeline"
)

// The swimlanes of the meeting page are one SVG, drawn here: lanes on one
// time axis, marks for events, bars for deployments and presence, shaded
// quiet stretches and numbered flags. page.js reads the same geometry from
// the SVG's data attributes to add live events.

// Lane keys. A chat lane is "chat:" + the channel id, a person's
// "person:" + the person's id.
const (
	lanePager   = "pager"
	laneAlerts  = "alerts"
	laneChanges = "changes"
	laneOther   = "other"
	laneChat    = "chat:"
	lanePerson  = "person:"
)

// laneOf is the lane of an event's mark; page.js's laneOf keeps to the same
// rule.
func laneOf(e timeline.Event) string {
	k := e.Kind
	switch {
	case strings.HasPrefix(k, "page."), strings.HasPrefix(k, "incident."):
		return lanePager
	case strings.HasPrefix(k, "alert."):
		return laneAlerts
	case strings.HasPrefix(k, "change."), strings.HasPrefix(k, "deploy."), strings.HasPrefix(k, "ci."):
		return laneChanges
	case strings.HasPrefix(k, "chat."):
		return laneChat + chatChannel(e)
	}
	return laneOther
}

// chatChannel is a chat event's channel id: its channel detail, else the
// channel part of its id ("{source}:message:{channel}:{ts}").
func chatChannel(e timeline.Event) string {
	if ch := detailString(e, timeline.DetailChatChannel); ch != "" {
		return ch
	}
	if parts := strings.Split(e.ID, ":"); len(parts) == 4 {
		return parts[2]
	}
	return ""
}

// channelLabel names a chat event's channel: "#name" from the
// channel_name detail where the collector recorded one, else the id.
func channelLabel(e timeline.Event) string {
	if n := detailString(e, "channel_name"); n != "" {
		return "#" + strings.TrimPrefix(n, "#")
	}
	return "#" + chatChannel(e)
}

// markClass is the CSS class of an event's mark, by kind.
func markClass(kind string) string {
	family, _, _ := strings.Cut(kind, ".")
	switch family {
	case "page", "incident", "alert", "deploy", "change", "ci", "chat":
		return "k-" + family
	}
	return "k-other"
}

// Geometry of the chart, in SVG user units.
const (
	chartW    = 1200.0
	labelW    = 200.0
	rightPad  = 16.0
	flagRowH  = 24.0
	axisH     = 22.0
	laneH     = 30.0
	lanesTop  = flagRowH + axisH
	markR     = 4.5
	bottomPad = 8.0
)

// chartView is the SVG's model.
type chartView struct {
	Width, Height float64
	PlotX, PlotW  float64
	// StartMS and EndMS bound the axis, in Unix milliseconds.
	StartMS, EndMS int64
	// Caption says what the axis shows ("Thu 20 Nov 2025, 09:40–11:20
	// Europe/London").
	Caption  string
	Ticks    []chartTick
	Lanes    []chartLane
	Flags    []pageFlag
	LanesEnd float64
	// Cursor, in present mode, is the x of the current step.
	Cursor *float64
}

type chartTick struct {
	X     float64
	Label string
}

// chartLane is one lane.
type chartLane struct {
	Key, Label, Sub string
	// Kind is "events" or "person".
	Kind string
	Y, H float64
	// TZ is a person's time zone, which page.js shows the local time of.
	TZ     string
	Marks  []chartMark
	Bars   []chartBar
	Quiet  []chartBar
	Points []chartPoint
	// Empty says the lane has nothing in view.
	Empty bool
}

// chartMark is an event, drawn as a dot.
type chartMark struct {
	X, Y    float64
	Class   string
	Title   string
	Href    string
	EventID string
}

// A lane draws at most laneMarkCap marks one by one. A lane with more (a
// war room of thousands of messages) draws those that fall within
// crowdWidth pixels of each other as one mark that counts them (outlined,
// in the colour of the first), so that the
// page stays light enough to project however large the incident.
const (
	laneMarkCap = 600
	crowdWidth  = 3.0
)

// crowdMarks returns marks, sorted by X, with crowded runs drawn as one
// when there are more than laneMarkCap. A crowd mark links to its first
// event's row and carries no event id (it stands for several).
func crowdMarks(marks []chartMark) []chartMark {
	if len(marks) <= laneMarkCap {
		return marks
	}
	slices.SortStableFunc(marks, func(x, y chartMark) int { return cmp.Compare(x.X, y.X) })
	out := make([]chartMark, 0, laneMarkCap)
	for i := 0; i < len(marks); {
		j := i + 1
		for j < len(marks) && marks[j].X-marks[i].X < crowdWidth {
			j++
		}
		if j == i+1 {
			out = append(out, marks[i])
		} else {
			first, last := marks[i], marks[j-1]
			out = append(out, chartMark{X: first.X, Class: first.Class + " crowd", Href: first.Href,
				Title: fmt.Sprintf("%d events: %s … %s", j-i, first.Title, last.Title)})
		}
		i = j
	}
	return out
}

// chartBar is a span: a deployment, a presence, a quiet stretch.
type chartBar struct {
	X, Y, W, H float64
	Class      string
	Title      string
	Href       string
}

// chartPoint is an interruption: a triangle at X.
type chartPoint struct {
	Points string
	Class  string
	Title  string
}

// pageFlag is a key moment, a phase or an annotation.
type pageFlag struct {
	N     int
	At    time.Time
	Local string
	X     float64
	// Kind is moment, phase or annotation; Class styles it.
	Kind, Class string
	Label       string
	Title       string
	// Anchor is the table row of the first event it cites.
	Anchor   string
	EventIDs []string
	// InView says the flag lies on the axis.
	InView bool
	// MarkerX is where its numbered marker is drawn: X, or to the right
	// of the marker before it.
	MarkerX float64
}

// flagMarkerGap is the least distance between two flag markers.
const flagMarkerGap = 20.0

// axis maps instants to x.
type axis struct {
	start, end   time.Time
	plotX, plotW float64
}

func (a axis) x(t time.Time) float64 {
	span := a.end.Sub(a.start)
	if span <= 0 {
		return a.plotX
	}
	return a.plotX + float64(t.Sub(a.start))/float64(span)*a.plotW
}

func (a axis) contains(t time.Time) bool { return !t.Before(a.start) && !t.After(a.end) }

// clampX is x(t) kept on the plot.
func (a axis) clampX(t time.Time) float64 {
	return min(max(a.x(t), a.plotX), a.plotX+a.plotW)
}

// rowAnchor is the HTML id of the table row with id rowID: ids hold
// characters a fragment would need escaped.
func rowAnchor(rowID string) string {
	h := sha256.Sum256([]byte(rowID))
	return "r-" + hex.EncodeToString(h[:6])
}

// tickSteps are the steps the axis may use, smallest first.
var tickSteps = []time.Duration{
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// ticks returns the axis ticks: at most about 12, on round local times.
func ticks(a axis, loc *time.Location) []chartTick {
	span := a.end.Sub(a.start)
	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if span/s <= 12 {
			step = s
			break
		}
	}
	// Round up from the start in local time (steps divide a day).
	l := a.start.In(loc)
	day := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
	t := day
	for t.Before(a.start) {
		t = t.Add(step)
	}
	var out []chartTick
	prevDay := ""
	for ; !t.After(a.end) && len(out) < 50; t = t.Add(step) {
		lt := t.In(loc)
		label := lt.Format("15:04")
		if d := lt.Format("2006-01-02"); d != prevDay {
			if prevDay != "" {
				label = lt.Format("Mon 15:04")
			}
			prevDay = d
		}
		out = append(out, chartTick{X: a.x(t), Label: label})
	}
	return out
}

// chartInput is what the chart is drawn from.
type chartInput struct {
	Incident    timeline.Incident
	Events      []timeline.Event
	Review      *timeline.Review
	Annotations []timeline.Annotation
	// RowOf maps an event id to the anchor of its row.
	RowOf map[string]string
	Axis  axis
	Loc   *time.Location
	// Step, in present mode, is the flag (1-based) to mark; 0 otherwise.
	Step int
}

// buildChart draws the lanes.
func buildChart(in chartInput) chartView {
	a := in.Axis
	loc := in.Loc
	c := chartView{Width: chartW, PlotX: a.plotX, PlotW: a.plotW, StartMS: a.start.UnixMilli(), EndMS: a.end.UnixMilli()}
	c.Caption = fmt.Sprintf("%s – %s, times in %s", a.start.In(loc).Format("Mon 2 Jan 2006 15:04"), endLabel(a.start, a.end, loc), loc.String())
	c.Ticks = ticks(a, loc)
	byID := make(map[string]*timeline.Event, len(in.Events))
	for i := range in.Events {
		byID[in.Events[i].ID] = &in.Events[i]
	}

	// The event lanes: the fixed three, one per chat channel (the
	// incident's, and any its events name), other when anything is left.
	lanes := map[string]*chartLane{}
	var order []string
	add := func(key, label, sub string) *chartLane {
		if l, ok := lanes[key]; ok {
			return l
		}
		l := &chartLane{Key: key, Label: label, Sub: sub, Kind: "events"}
		lanes[key] = l
		order = append(order, key)
		return l
	}
	add(lanePager, "Pager", "pages, acks, escalations")
	add(laneAlerts, "Alerts", "")
	add(laneChanges, "Changes and deploys", "")
	channels := map[string]string{}
	for _, ch := range in.Incident.Channels {
		channels[ch] = "#" + ch
	}
	for _, e := range in.Events {
		if strings.HasPrefix(e.Kind, "chat.") {
			ch := chatChannel(e)
			if l := channelLabel(e); channels[ch] == "" || channels[ch] == "#"+ch {
				channels[ch] = l
			}
		}
	}
	chans := make([]string, 0, len(channels))
	for ch := range channels {
		chans = append(chans, ch)
	}
	slices.SortFunc(chans, func(x, y string) int { return cmp.Compare(channels[x], channels[y]) })
	for _, ch := range chans {
		add(laneChat+ch, channels[ch], "chat")
	}
	for _, e := range in.Events {
		if laneOf(e) == laneOther {
			add(laneOther, "Other", "")
			break
		}
	}
	for _, e := range in.Events {
		if e.Deleted || !a.contains(e.OccurredAt) {
			continue
		}
		l := add(laneOf(e), "Other", "")
		l.Marks = append(l.Marks, chartMark{X: a.x(e.OccurredAt), Class: "m " + markClass(e.Kind),
			Title: e.OccurredAt.In(loc).Format("15:04:05") + " " + e.Title + actorSuffix(e.Actor),
			Href:  "#" + in.RowOf[e.ID], EventID: e.ID})
	}
	var rv timeline.Review
	if in.Review != nil {
		rv = *in.Review
	}
	// Production deployments as bars, from queued or started to live or
	// failed.
	for _, ch := range rv.Changes.Changes {
		from := firstTime(ch.QueuedAt, ch.StartedAt, ch.LiveAt, ch.FailedAt)
		to := firstTime(ch.LiveAt, ch.FailedAt, ch.StartedAt, ch.QueuedAt)
		if from == nil || to == nil || to.Before(a.start) || from.After(a.end) {
			continue
		}
		class := "bar deploy"
		switch {
		case ch.Rollback:
			class += " rollback"
		case ch.FailedAt != nil:
			class += " failed"
		}
		x0, x1 := a.clampX(*from), a.clampX(*to)
		title := fmt.Sprintf("%s %s to %s: %s", ch.Repo, cmpOr(ch.Ref, shortSHA(ch.SHA)), ch.Environment, ch.State)
		if ch.Rollback {
			title = "Rollback: " + title
		}
		anchor := ""
		if len(ch.EventIDs) > 0 {
			anchor = "#" + in.RowOf[ch.EventIDs[0]]
		}
		lanes[laneChanges].Bars = append(lanes[laneChanges].Bars, chartBar{X: x0, W: max(x1-x0, 3), Class: class, Title: title, Href: anchor})
	}
	// Quiet stretches of the human lanes, as the summary found them.
	for _, g := range rv.Summary.Gaps {
		key := g.Lane
		if key == "" {
			continue
		}
		l, ok := lanes[key]
		if !ok || g.End.Before(a.start) || g.Start.After(a.end) {
			continue
		}
		x0, x1 := a.clampX(g.Start), a.clampX(g.End)
		title := fmt.Sprintf("Quiet for %s, %s–%s", humanDuration(time.Duration(g.Seconds)*time.Second),
			g.Start.In(loc).Format("15:04"), g.End.In(loc).Format("15:04"))
		if g.AllLanesQuiet {
			title += "; every lane was quiet"
		}
		l.Quiet = append(l.Quiet, chartBar{X: x0, W: x1 - x0, Class: "quiet", Title: title})
	}
	for _, key := range order {
		c.Lanes = append(c.Lanes, *lanes[key])
	}

	// People: presence, interruptions and acts.
	for _, p := range rv.People.Responders {
		zone := ""
		if p.TimeZone != nil {
			zone = *p.TimeZone
		}
		ploc := loadZone(zone, loc)
		sub := strings.ReplaceAll(p.Mode, "_", " ")
		if zone != "" {
			sub += " · " + zone
		}
		l := chartLane{Key: lanePerson + p.ID, Label: p.Name, Sub: sub, Kind: "person", TZ: ploc.String()}
		if !p.PresentFrom.IsZero() && !p.PresentUntil.Before(a.start) && !p.PresentFrom.After(a.end) {
			x0, x1 := a.clampX(p.PresentFrom), a.clampX(p.PresentUntil)
			l.Bars = append(l.Bars, chartBar{X: x0, W: max(x1-x0, 3), Class: "bar presence",
				Title: fmt.Sprintf("%s present %s–%s (%s–%s local, %s)", p.Name,
					p.PresentFrom.In(loc).Format("15:04"), p.PresentUntil.In(loc).Format("15:04"),
					p.PresentFrom.In(ploc).Format("15:04"), p.PresentUntil.In(ploc).Format("15:04"), ploc.String())})
		}
		for _, it := range p.Interruptions {
			if !a.contains(it.At) {
				continue
			}
			x := a.x(it.At)
			title := fmt.Sprintf("Interrupted at %s by %s: %s local (%s), %s", it.At.In(loc).Format("15:04"),
				cmpOr(strings.Join(it.Channels, ", "), "a page"), localClock(it, ploc),
				cmpOr(it.Zone, ploc.String()), it.LocalClass)
			if it.Weekend {
				title += ", weekend"
			}
			l.Points = append(l.Points, chartPoint{Class: "interrupt c-" + cmpOr(it.LocalClass, "working"), Title: title,
				Points: fmt.Sprintf("%.1f,%.1f %.1f,%.1f %.1f,%.1f", x, 6.0, x-5.5, laneH-7, x+5.5, laneH-7)})
		}
		for _, id := range p.EventIDs {
			e := byID[id]
			if e == nil || !a.contains(e.OccurredAt) {
				continue
			}
			l.Marks = append(l.Marks, chartMark{X: a.x(e.OccurredAt), Class: "act " + markClass(e.Kind),
				Title: fmt.Sprintf("%s (%s local) %s", e.OccurredAt.In(loc).Format("15:04:05"), e.OccurredAt.In(ploc).Format("15:04"), e.Title),
				Href:  "#" + in.RowOf[e.ID], EventID: e.ID})
		}
		c.Lanes = append(c.Lanes, l)
	}
	y := lanesTop
	for i := range c.Lanes {
		l := &c.Lanes[i]
		l.Marks = crowdMarks(l.Marks)
		l.Y, l.H = y, laneH
		l.Empty = len(l.Marks) == 0 && len(l.Bars) == 0 && len(l.Points) == 0
		for j := range l.Marks {
			l.Marks[j].Y = laneH / 2
		}
		for j := range l.Bars {
			if strings.Contains(l.Bars[j].Class, "presence") {
				l.Bars[j].Y, l.Bars[j].H = laneH/2-4, 8
			} else {
				l.Bars[j].Y, l.Bars[j].H = laneH/2-6, 12
			}
		}
		for j := range l.Quiet {
			l.Quiet[j].Y, l.Quiet[j].H = 1, laneH-2
		}
		y += laneH
	}
	c.LanesEnd = y
	c.Height = y + bottomPad
	c.Flags = pageFlags(in, a, byID)
	if in.Step > 0 && in.Step <= len(c.Flags) {
		x := c.Flags[in.Step-1].X
		c.Cursor = &x
		for i := range c.Flags {
			if i != in.Step-1 {
				c.Flags[i].Class += " dim"
			} else {
				c.Flags[i].Class += " current"
			}
		}
	}
	return c
}

func endLabel(start, end time.Time, loc *time.Location) string {
	if s, e := start.In(loc), end.In(loc); s.YearDay() == e.YearDay() && s.Year() == e.Year() {
		return e.Format("15:04")
	}
	return end.In(loc).Format("Mon 2 Jan 15:04")
}

// momentLabels name the key moments and phases for people.
var momentLabels = map[string]string{
	timeline.MomentFirstAlert:                 "First alert",
	timeline.MomentTriggered:                  "Paged",
	timeline.MomentFirstAcknowledgement:       "First acknowledgement",
	timeline.MomentEscalated:                  "Escalated",
	timeline.MomentDeploy:                     "Deploy",
	timeline.MomentLastDeployBeforeFirstAlert: "Last deploy before the first alert",
	timeline.MomentRollback:                   "Rollback",
	timeline.MomentResolved:                   "Resolved",
	"detection":                               "Detected",
	"mitigation":                              "Mitigated (suggested)",
}

func momentLabel(m string) string {
	if l, ok := momentLabels[m]; ok {
		return l
	}
	return strings.ToUpper(m[:1]) + strings.ReplaceAll(m[1:], "_", " ")
}

// pageFlags are the key moments, the phases the key moments do not name
// (detection, mitigation) and the annotations (not hide), numbered in time
// order.
func pageFlags(in chartInput, a axis, byID map[string]*timeline.Event) []pageFlag {
	var flags []pageFlag
	if in.Review != nil {
		s := in.Review.Summary
		for _, m := range s.KeyMoments {
			flags = append(flags, pageFlag{At: m.At, Kind: "moment", Class: "flag moment m-" + m.Moment,
				Label: momentLabel(m.Moment), Title: m.Title, EventIDs: m.EventIDs})
		}
		if d := s.Phases.Detection; d != nil {
			title := d.Title
			if d.By != nil {
				title += " (" + d.By.Name + ")"
			}
			flags = append(flags, pageFlag{At: d.At, Kind: "phase", Class: "flag phase", Label: momentLabel("detection"), Title: title, EventIDs: d.EventIDs})
		}
		if m := s.Phases.Mitigation; m != nil {
			label := momentLabel("mitigation")
			if !m.Suggested {
				label = "Mitigated"
			}
			flags = append(flags, pageFlag{At: m.At, Kind: "phase", Class: "flag phase", Label: label, Title: m.Title, EventIDs: m.EventIDs})
		}
	}
	for _, an := range in.Annotations {
		if an.Marker == timeline.MarkerHide || an.Status == timeline.AnnotationDismissed {
			continue
		}
		var at *time.Time
		if an.At != nil {
			at = an.At
		}
		for _, id := range an.EventIDs {
			if e := byID[id]; e != nil && (at == nil || e.OccurredAt.Before(*at)) {
				t := e.OccurredAt
				at = &t
			}
		}
		if at == nil {
			continue
		}
		label := momentLabel(an.Marker)
		if an.Suggested {
			label += " (suggested)"
		}
		title := an.Title
		if an.Note != "" {
			title = strings.TrimSpace(title + " — " + an.Note)
		}
		if an.Author != "" && !an.Suggested {
			title += " (" + an.Author + ")"
		}
		flags = append(flags, pageFlag{At: *at, Kind: "annotation", Class: "flag annotation", Label: label, Title: title, EventIDs: an.EventIDs})
	}
	slices.SortStableFunc(flags, func(x, y pageFlag) int { return x.At.Compare(y.At) })
	prev := -1e9
	for i := range flags {
		f := &flags[i]
		f.N = i + 1
		f.X = a.clampX(f.At)
		f.InView = a.contains(f.At)
		// Markers of flags close together move right, so that each
		// number stays readable; the line stays at the flag's time.
		f.MarkerX = f.X
		if f.InView {
			f.MarkerX = max(f.X, prev+flagMarkerGap)
			prev = f.MarkerX
		}
		f.Local = f.At.In(in.Loc).Format("15:04:05")
		for _, id := range f.EventIDs {
			if r := in.RowOf[id]; r != "" {
				f.Anchor = r
				break
			}
		}
	}
	return flags
}

func actorSuffix(a *timeline.Actor) string {
	if a == nil || a.Name == "" {
		return ""
	}
	return " — " + a.Name
}

func shortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

func firstTime(ts ...*time.Time) *time.Time {
	for _, t := range ts {
		if t != nil {
			return t
		}
	}
	return nil
}

// localClock is an interruption's local time of day: its LocalTime (RFC
// 3339, in the person's zone), else At in loc.
func localClock(it timeline.Interruption, loc *time.Location) string {
	if t, err := time.Parse(time.RFC3339, it.LocalTime); err == nil {
		return t.Format("15:04")
	}
	return it.At.In(loc).Format("15:04")
}

// loadZone is the named zone, else def.
func loadZone(name string, def *time.Location) *time.Location {
	if name == "" {
		return def
	}
	if l, err := time.LoadLocation(name); err == nil {
		return l
	}
	return def
}

// humanDuration says d in minutes, or hours and minutes.
func humanDuration(d time.Duration) string {
	d = d.Round(time.Minute)
	switch {
	case d < time.Minute:
		return "less than a minute"
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d%time.Hour == 0:
		return fmt.Sprintf("%d h", int(d.Hours()))
	}
	return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
}
