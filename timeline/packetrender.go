package timeline

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"net/url"
	"strings"
	"time"
)

// The packet's renderers: Markdown to paste into a review document, and a
// self-contained HTML page (inline CSS that prints well, no script, no
// external asset).

// location is the zone the packet's times are shown in.
func (p Packet) location() *time.Location {
	if p.loc != nil {
		return p.loc
	}
	if l := loadLocation(p.Timezone); l != nil {
		return l
	}
	return time.UTC
}

// clock shows t in the packet's zone: the time of day, with the date when
// it is not the incident's first day.
func (p Packet) clock(t time.Time, seconds bool) string {
	loc := p.location()
	l := t.In(loc)
	layout := "15:04"
	if seconds {
		layout = "15:04:05"
	}
	if s := p.Facts.StartedAt.In(loc); !p.Facts.StartedAt.IsZero() && (l.YearDay() != s.YearDay() || l.Year() != s.Year()) {
		layout = "Jan 2 " + layout
	}
	return l.Format(layout)
}

func (p Packet) dateTime(t time.Time) string {
	return t.In(p.location()).Format("Mon 2006-01-02 15:04")
}

var phaseLabels = map[string]string{
	PhaseDetection: "Detection", PhasePage: "Page", PhaseFirstAck: "First acknowledgement",
	PhaseMitigation: "Mitigation", PhaseResolved: "Resolved",
}

func label(s string) string {
	if l, ok := phaseLabels[s]; ok {
		return l
	}
	s = strings.ReplaceAll(s, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func modeLabel(m string) string {
	if l, ok := modeLabels[m]; ok {
		return l
	}
	return strings.ReplaceAll(m, "_", " ")
}

// span says when a person was there.
func (p Packet) span(pp PacketPerson) string {
	if pp.PresentFrom.Equal(pp.PresentUntil) {
		return p.clock(pp.PresentFrom, false)
	}
	return p.clock(pp.PresentFrom, false) + "–" + p.clock(pp.PresentUntil, false)
}

// localPaged says when a person was first paged, by their own clock.
func localPaged(l *PacketLocal) string {
	if l == nil {
		return ""
	}
	t, err := time.Parse(time.RFC3339, l.LocalTime)
	if err != nil {
		return ""
	}
	s := fmt.Sprintf("%s %s, %s", t.Format("15:04"), l.Zone, l.LocalClass)
	if l.Weekend {
		s += ", " + t.Weekday().String()
	}
	return s
}

func shortSHA(s string) string {
	if len(s) > 7 {
		return s[:7]
	}
	return s
}

func (c PacketChange) name() string {
	s := c.Repo
	if c.Environment != "" {
		s += " to " + c.Environment
	}
	if ref := strings.TrimSpace(c.Ref + " " + shortSHA(c.SHA)); ref != "" {
		s += " (" + ref + ")"
	}
	return s
}

func (c PacketChange) state() string {
	s := c.State
	if c.Rollback {
		s += ", a rollback"
	}
	if c.RolledBack {
		s += ", rolled back later"
	}
	return s
}

func (c PacketChange) shipped() []string {
	var out []string
	for _, pr := range c.PullRequests {
		out = append(out, fmt.Sprintf("#%d %s", pr.Number, pr.Title))
	}
	return out
}

// plural says "1 merge", "2 merges".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// scope says how many took part and how much shipped.
func (f PacketFacts) scope() string {
	others := fmt.Sprintf("%d other people", f.OthersActive)
	if f.OthersActive == 1 {
		others = "1 other person"
	}
	return fmt.Sprintf("%s; %s active in the window without responding; %s", plural(f.Responders, "responder"), others,
		plural(f.ProductionDeploys, "production deploy"))
}

// notListed says what the changes leave out.
func (c PacketChanges) notListed() string {
	s := "Not listed: " + plural(c.NotListed.NonProductionDeploys, "non-production deploy")
	if n := c.NotListed.MergesShippingNothing; n != nil {
		s += "; " + plural(*n, "merge") + " that no listed deployment shipped"
	}
	return s + "."
}

func durationsLine(ds []PacketDuration) []string {
	var out []string
	for _, d := range ds {
		out = append(out, strings.ToLower(d.Label[:1])+d.Label[1:]+" "+humanDuration(time.Duration(d.Seconds)*time.Second))
	}
	return out
}

func (p Packet) omitted(name string) string {
	if n := p.Omitted[name]; n > 0 {
		return fmt.Sprintf("%d more", n)
	}
	return ""
}

func (q ReviewedQuestion) statusLabel() string {
	if q.Status == nil {
		return ""
	}
	switch *q.Status {
	case AnnotationConfirmed:
		return "confirmed"
	case AnnotationDismissed:
		return "dismissed"
	}
	return "suggested"
}

func (a PacketAnnotation) statusLabel() string {
	var parts []string
	if a.Author == SuggestedAuthor {
		if a.Status == AnnotationConfirmed {
			parts = append(parts, "suggested by Groundwork, confirmed")
		} else {
			parts = append(parts, "suggested by Groundwork")
		}
	} else {
		parts = append(parts, "by "+a.Author)
	}
	if a.Orphaned {
		parts = append(parts, "an event it cites has left the timeline")
	}
	return strings.Join(parts, "; ")
}

// Markdown renders the packet as Markdown: at most MaxPacketLines lines for
// the caps BuildPacket applies.
func (p Packet) Markdown() string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	link := func(text, u string) string {
		if u = mdLinkURL(u); u == "" {
			return text
		}
		return "[" + text + "](" + u + ")"
	}
	more := func(name, where string) {
		if m := p.omitted(name); m != "" {
			line("")
			line("_…and %s %s._", m, where)
		}
	}

	line("# Review packet: %s (%s)", md(p.Title), md(p.IncidentID))
	line("")
	var links []string
	for _, l := range []struct{ text, u string }{{"Meeting page", p.Links.Page}, {"Full timeline", p.Links.Timeline},
		{"Timeline as Markdown", p.Links.TimelineMarkdown}, {"Questions", p.Links.Questions}} {
		if u := mdLinkURL(l.u); u != "" {
			links = append(links, link(l.text, u))
		}
	}
	line("%sTimes are in %s.", strings.Join(append(links, ""), " · "), md(p.Timezone))
	line("")
	line("> **The Retrospective Prime Directive.** “%s” — %s", md(p.PrimeDirective.Text), md(p.PrimeDirective.By))
	line("")

	f := p.Facts
	line("## Facts")
	line("")
	title := md(p.Title)
	if f.URL != nil {
		title = link(title, *f.URL)
	}
	facts := []string{title, md(p.IncidentID)}
	if f.ServiceID != "" {
		facts = append(facts, "service "+md(f.ServiceID))
	}
	if f.Urgency != "" {
		facts = append(facts, md(f.Urgency)+" urgency")
	}
	facts = append(facts, md(p.Status))
	line("- **Incident:** %s", strings.Join(facts, " · "))
	when := "**Started:** " + p.dateTime(f.StartedAt)
	if f.ResolvedAt != nil {
		when += " · **Resolved:** " + p.dateTime(*f.ResolvedAt) + " (" + humanDuration(f.ResolvedAt.Sub(f.StartedAt)) + ")"
	} else {
		when += " · still open"
	}
	line("- %s", when)
	line("- **Scope:** %s.", f.scope())
	line("")

	line("## Phases")
	line("")
	if len(p.Phases) == 0 {
		line("The timeline shows no phase.")
	} else {
		line("| Phase | Time | What | How the data shows it |")
		line("|---|---|---|---|")
		for _, ph := range p.Phases {
			line("| %s | %s | %s | %s |", label(ph.Phase), p.clock(ph.At, true), mdCell(ph.Title), mdCell(ph.Detail))
		}
	}
	if ds := durationsLine(p.Durations); len(ds) > 0 {
		line("")
		line("**Durations:** %s.", md(strings.Join(ds, " · ")))
	}
	line("")

	line("## Key moments")
	line("")
	if len(p.KeyMoments) == 0 {
		line("No key moment.")
	} else {
		line("| Time | Moment | What | Timeline |")
		line("|---|---|---|---|")
		for _, m := range p.KeyMoments {
			what := mdCell(m.Title)
			if m.URL != nil {
				what = link(what, *m.URL)
			}
			line("| %s | %s | %s | %s |", p.clock(m.At, true), md(label(m.Moment)), what, link("events", m.TimelineURL))
		}
	}
	more("key_moments", "in the full timeline")
	line("")

	line("## People")
	line("")
	if len(p.People) == 0 {
		line("No responder.")
	} else {
		line("| Person | How they came | Present | First paged (their own time) | Roles |")
		line("|---|---|---|---|---|")
		for _, pp := range p.People {
			line("| %s | %s | %s | %s | %s |", mdCell(pp.Name), md(modeLabel(pp.Mode)), p.span(pp), md(localPaged(pp.FirstPaged)), md(strings.Join(pp.Roles, ", ")))
		}
	}
	more("people", "responders in GET /people")
	line("")

	line("## Changes in flight")
	line("")
	line("_%s_", md(p.Changes.Note))
	line("")
	if len(p.Changes.Items) == 0 {
		line("No production deployment in the window.")
	} else {
		line("| Time | Change | State | Relation to the page | Shipped |")
		line("|---|---|---|---|---|")
		for _, c := range p.Changes.Items {
			at, rel := "", ""
			if c.At != nil {
				at = p.clock(*c.At, false)
			}
			if c.Relation != nil {
				rel = *c.Relation
			}
			line("| %s | %s | %s | %s | %s |", at, mdCell(c.name()), md(c.state()), md(rel), mdCell(strings.Join(c.shipped(), "; ")))
		}
	}
	more("changes", "in GET /changes")
	line("")
	line("%s", p.Changes.notListed())
	line("")

	line("## Context")
	line("")
	if len(p.Context) == 0 {
		line("Nothing else the data shows.")
	}
	for _, c := range p.Context {
		line("- %s", md(c.Text))
	}
	more("context", "in the summary")
	line("")

	line("## Questions")
	line("")
	if len(p.Questions) == 0 {
		line("No pattern in the data raised a question.")
	}
	for i, q := range p.Questions {
		tail := ""
		if q.At != nil {
			tail = " (" + link("events", p.momentURL(*q.At)) + ")"
		}
		if s := q.statusLabel(); s == "confirmed" || s == "dismissed" {
			tail += " _" + s + "_"
		}
		line("%d. **%s.** %s%s", i+1, md(q.Title), md(q.Text), tail)
	}
	more("questions", "in GET /questions")
	line("")

	line("## Blind spots")
	line("")
	if len(p.BlindSpots) == 0 {
		line("The data shows none; ask whether part of the work happened where the timeline cannot see.")
	}
	for _, bs := range p.BlindSpots {
		tail := ""
		if bs.At != nil {
			tail = " (" + link("events", p.momentURL(*bs.At)) + ")"
		}
		line("- %s%s", md(bs.Text), tail)
	}
	more("blind_spots", "in the full timeline")
	line("")

	line("## Annotations")
	line("")
	if len(p.Annotations) == 0 {
		line("No annotation yet.")
	}
	for _, a := range p.Annotations {
		text := "**" + md(label(a.Marker)) + "**"
		if a.At != nil {
			text += " " + p.clock(*a.At, false)
		}
		if a.Title != "" {
			text += " " + md(a.Title)
		}
		if a.Note != "" {
			text += " — " + md(a.Note)
		}
		line("- %s _(%s)_", text, md(a.statusLabel()))
	}
	more("annotations", "in GET /annotations")
	line("")
	line("---")
	line("")
	line("The full timeline: %s. Prepared by Groundwork from the incident's own data; every question cites the events that raised it.",
		strings.Join(nonNilSlice(joinLinks(link, p.Links)), " · "))
	return b.String()
}

func joinLinks(link func(text, u string) string, l PacketLinks) []string {
	var out []string
	if u := mdLinkURL(l.Page); u != "" {
		out = append(out, link("the meeting page", u))
	}
	if u := mdLinkURL(l.Timeline); u != "" {
		out = append(out, link("the API", u))
	}
	if len(out) == 0 {
		out = append(out, "GET /v1/incidents/{id}/timeline")
	}
	return out
}

// momentURL is the timeline at t.
func (p Packet) momentURL(t time.Time) string {
	if p.Links.MomentFunc != nil {
		return p.Links.MomentFunc(t)
	}
	return p.Links.Timeline
}

// mdReplacer escapes what would inject markup into Markdown text or break
// a table cell.
var mdReplacer = strings.NewReplacer(`\`, `\\`, `|`, `\|`, `[`, `\[`, `]`, `\]`, `<`, `&lt;`, `>`, `&gt;`, `&`, `&amp;`,
	"*", `\*`, "_", `\_`, "`", "\\`")

// md escapes s for one line of Markdown, folding line breaks to spaces.
func md(s string) string { return mdReplacer.Replace(strings.Join(strings.Fields(s), " ")) }

// mdCell is md for a table cell.
func mdCell(s string) string { return md(s) }

// mdLinkURL returns u ready for a Markdown link target, or "" when it is
// not an absolute http(s) URL.
func mdLinkURL(u string) string {
	pu, err := url.Parse(strings.TrimSpace(u))
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return ""
	}
	return strings.NewReplacer(" ", "%20", "(", "%28", ")", "%29", "|", "%7C", "<", "%3C", ">", "%3E").Replace(pu.String())
}

//go:embed packet.html
var packetHTML string

var packetTemplate = template.Must(template.New("packet").Funcs(template.FuncMap{
	"label":      label,
	"modeLabel":  modeLabel,
	"localPaged": localPaged,
	"durations":  durationsLine,
	"join":       strings.Join,
	"httpURL":    mdLinkURL,
	"clock":      func(p Packet, t time.Time) string { return p.clock(t, true) },
	"clockPtr": func(p Packet, t *time.Time) string {
		if t == nil {
			return ""
		}
		return p.clock(*t, false)
	},
	"dateTime":  Packet.dateTime,
	"span":      Packet.span,
	"momentURL": Packet.momentURL,
	"omitted":   Packet.omitted,
	"duration": func(p Packet) string {
		if p.Facts.ResolvedAt == nil {
			return ""
		}
		return humanDuration(p.Facts.ResolvedAt.Sub(p.Facts.StartedAt))
	},
	"notListed":       PacketChanges.notListed,
	"scope":           PacketFacts.scope,
	"changeName":      PacketChange.name,
	"changeState":     PacketChange.state,
	"changeShipped":   func(c PacketChange) string { return strings.Join(c.shipped(), "; ") },
	"questionStatus":  ReviewedQuestion.statusLabel,
	"annotationState": PacketAnnotation.statusLabel,
	"deref": func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	},
}).Parse(packetHTML))

// WriteHTML writes the packet as one self-contained HTML page: inline CSS
// with print rules, no script, no external asset.
func (p Packet) WriteHTML(w io.Writer) error {
	var buf bytes.Buffer
	if err := packetTemplate.Execute(&buf, p); err != nil {
		return fmt.Errorf("rendering the review packet: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// SummaryMarkdown returns the lines the Markdown timeline export opens
// with: the phases, the durations and the people, one name per person.
func (p Packet) SummaryMarkdown() []string {
	var out []string
	if len(p.Phases) > 0 {
		var ph []string
		for _, x := range p.Phases {
			s := label(x.Phase) + " " + p.clock(x.At, true)
			switch {
			case x.Phase == PhaseFirstAck && x.Detail != "":
				s += " (" + x.Detail + ")"
			case x.Suggested:
				s += " (suggested)"
			}
			ph = append(ph, md(s))
		}
		out = append(out, "- **Phases:** "+strings.Join(ph, " · "))
	}
	if ds := durationsLine(p.Durations); len(ds) > 0 {
		out = append(out, "- **Durations:** "+md(strings.Join(ds, " · ")))
	}
	if len(p.People) > 0 {
		var ps []string
		for _, pp := range p.People {
			ps = append(ps, md(pp.Name+", "+modeLabel(pp.Mode)+", "+p.span(pp)))
		}
		line := "- **People:** " + strings.Join(ps, " · ")
		if m := p.omitted("people"); m != "" {
			line += " · and " + m
		}
		out = append(out, line)
	}
	return out
}

// PersonNames maps every identity of the review's people (responders and
// others active), as "source\x00id" with the id lower-cased, to the one
// name the review gives that person.
func PersonNames(rv Review) map[string]string {
	out := map[string]string{}
	for _, p := range rv.People.Responders {
		for _, id := range p.Identities {
			out[id.Source+"\x00"+strings.ToLower(id.ID)] = p.Name
		}
	}
	for _, o := range rv.People.OthersActive {
		for _, id := range o.Identities {
			out[id.Source+"\x00"+strings.ToLower(id.ID)] = o.Name
		}
	}
	return out
}
