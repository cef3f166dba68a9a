package timeline

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"
)

// DetailRepoBaseline, on a repository's change.merged and deploy.* events,
// is what the source counted for that repository over the BaselineDays
// before the window: {"since", "until" (RFC 3339), "merges" (integer),
// "deployments" ({environment: integer}), "complete" (bool: false when the
// source stopped counting early)}.
const DetailRepoBaseline = "repo_baseline"

// BaselineDays is the span of the production pressure's baseline.
const BaselineDays = 28

// ProductionPressure compares the merges and production deploys around the
// incident with the same repositories' previous 28 days.
type ProductionPressure struct {
	Window         ChangeCounts `json:"window"`
	DuringIncident ChangeCounts `json:"during_incident"`
	// Baseline is nil when a repository in scope has no complete baseline.
	Baseline *ChangeCounts `json:"baseline"`
	// Ratios are each span's daily rate over the baseline's; nil when
	// unknown (or the baseline's rate is zero).
	WindowRatio         *Ratios  `json:"window_ratio"`
	DuringIncidentRatio *Ratios  `json:"during_incident_ratio"`
	EventIDs            []string `json:"event_ids"`
}

// ChangeCounts counts merges and production deploys over a span.
type ChangeCounts struct {
	From              *time.Time `json:"from"`
	Until             *time.Time `json:"until"`
	Merges            int        `json:"merges"`
	ProductionDeploys int        `json:"production_deploys"`
}

// Ratios are rates relative to the baseline's (1 is usual).
type Ratios struct {
	Merges            *float64 `json:"merges"`
	ProductionDeploys *float64 `json:"production_deploys"`
}

func (a *analysis) context(people People, changes Changes) SummaryContext {
	c := SummaryContext{
		Timezone:             a.cfg.Location.String(),
		OverlappingIncidents: a.overlapping(people),
		ProductionPressure:   a.pressure(),
		Calendar:             a.calendar(),
		LocalTimeAtPage:      a.localTimes(people),
	}
	for i := range a.events {
		e := &a.events[i]
		if !a.inSpan(e.OccurredAt) || !(strings.HasPrefix(e.Kind, "page.") || strings.HasPrefix(e.Kind, "alert.") ||
			isChat(e.Kind) || strings.HasPrefix(e.Kind, "incident.")) {
			continue
		}
		if a.cfg.outsideBusinessHours(e.OccurredAt) {
			c.EventsOutsideBusinessHours++
		}
	}
	return c
}

func (a *analysis) localTimes(people People) []LocalTime {
	out := []LocalTime{}
	if a.page == nil {
		return out
	}
	for _, p := range people.Responders {
		loc := a.cfg.Location
		if p.TimeZone != nil {
			if l := loadLocation(*p.TimeZone); l != nil {
				loc = l
			}
		}
		lt := a.page.OccurredAt.In(loc)
		wd := lt.Weekday()
		out = append(out, LocalTime{PersonID: p.ID, Name: p.Name, TimeZone: p.TimeZone, LocalTime: lt.Format(time.RFC3339),
			LocalClass: a.cfg.LocalHours.class(lt.Hour()*60 + lt.Minute()), Weekend: wd == time.Saturday || wd == time.Sunday})
	}
	return out
}

// calendar lists the configured entries that overlap the incident.
func (a *analysis) calendar() []CalendarEntry {
	out := []CalendarEntry{}
	start := a.in.Incident.StartedAt
	if start.IsZero() {
		start = a.spanStart
	}
	end := a.in.Now
	if a.resolvedAt != nil {
		end = *a.resolvedAt
	}
	if start.IsZero() {
		return out
	}
	if end.Before(start) {
		end = start
	}
	for _, e := range a.cfg.Calendar {
		if !e.End.Before(start) && !e.Start.After(end) {
			out = append(out, CalendarEntry{Title: e.Title, Kind: e.Kind, Start: e.Start.UTC(), End: e.End.UTC()})
		}
	}
	slices.SortStableFunc(out, func(x, y CalendarEntry) int { return cmp.Or(x.Start.Compare(y.Start), cmp.Compare(x.Title, y.Title)) })
	return out
}

func (a *analysis) pressure() ProductionPressure {
	inc := a.in.Incident
	p := ProductionPressure{EventIDs: []string{}}
	span := func(from, until time.Time) ChangeCounts {
		c := ChangeCounts{}
		if !from.IsZero() {
			f := from.UTC()
			c.From = &f
		}
		if !until.IsZero() {
			u := until.UTC()
			c.Until = &u
		}
		return c
	}
	in := func(c ChangeCounts, t time.Time) bool {
		return (c.From == nil || !t.Before(*c.From)) && (c.Until == nil || !t.After(*c.Until))
	}
	p.Window = span(inc.WindowStart, inc.WindowEnd)
	incStart := inc.StartedAt
	if incStart.IsZero() && a.page != nil {
		incStart = a.page.OccurredAt
	}
	var incEnd time.Time
	if a.resolvedAt != nil {
		incEnd = *a.resolvedAt
	}
	p.DuringIncident = span(incStart, incEnd)

	type base struct {
		merges, deploys int
		complete        bool
		since, until    time.Time
	}
	baselines := map[string]*base{}
	repos := map[string]bool{}
	for _, r := range inc.Repos {
		repos[r] = true
	}
	for i := range a.events {
		e := &a.events[i]
		if e.Kind != KindChangeMerged && !strings.HasPrefix(e.Kind, "deploy.") {
			continue
		}
		repo := cmp.Or(detailString(e.Details, DetailRepo), repoFromID(e.ID))
		repos[repo] = true
		v, ok := e.Details[DetailRepoBaseline].(map[string]any)
		if !ok {
			continue
		}
		b := baselines[repo]
		if b == nil {
			b = &base{complete: true}
			baselines[repo] = b
			p.EventIDs = append(p.EventIDs, e.ID)
		}
		if s, err := time.Parse(time.RFC3339Nano, anyString(v["since"])); err == nil {
			b.since = s
		}
		if u, err := time.Parse(time.RFC3339Nano, anyString(v["until"])); err == nil {
			b.until = u
		}
		if c, ok := v["complete"].(bool); ok && !c {
			b.complete = false
		}
		if n, ok := detailInt(v, "merges"); ok {
			b.merges = int(n)
		}
		if envs, ok := v["deployments"].(map[string]any); ok {
			b.deploys = 0
			for env, n := range envs {
				if a.cfg.isProduction(env) {
					if k, ok := detailInt(map[string]any{"n": n}, "n"); ok {
						b.deploys += int(k)
					}
				}
			}
		}
	}
	for i := range a.events {
		e := &a.events[i]
		if e.Kind != KindChangeMerged {
			continue
		}
		if in(p.Window, e.OccurredAt) {
			p.Window.Merges++
		}
		if in(p.DuringIncident, e.OccurredAt) {
			p.DuringIncident.Merges++
		}
	}
	for _, d := range deployments(a.events, true) {
		if !a.cfg.isProduction(d.env) {
			continue
		}
		if in(p.Window, d.first()) {
			p.Window.ProductionDeploys++
		}
		if in(p.DuringIncident, d.first()) {
			p.DuringIncident.ProductionDeploys++
		}
	}
	known := len(repos) > 0
	total := base{}
	for r := range repos {
		b := baselines[r]
		if b == nil || !b.complete {
			known = false
			break
		}
		total.merges += b.merges
		total.deploys += b.deploys
		total.since, total.until = b.since, b.until
	}
	if !known {
		return p
	}
	bc := ChangeCounts{Merges: total.merges, ProductionDeploys: total.deploys}
	if !total.since.IsZero() {
		bc.From, bc.Until = &total.since, &total.until
	}
	p.Baseline = &bc
	days := func(c ChangeCounts) float64 {
		if c.From == nil || c.Until == nil {
			return 0
		}
		return c.Until.Sub(*c.From).Hours() / 24
	}
	bd := float64(BaselineDays)
	if d := days(bc); d > 0 {
		bd = d
	}
	ratio := func(c ChangeCounts) *Ratios {
		d := days(c)
		if d <= 0 {
			return nil
		}
		r := func(n, base int) *float64 {
			if base == 0 {
				return nil
			}
			v := math.Round((float64(n)/d)/(float64(base)/bd)*100) / 100
			return &v
		}
		return &Ratios{Merges: r(c.Merges, bc.Merges), ProductionDeploys: r(c.ProductionDeploys, bc.ProductionDeploys)}
	}
	p.WindowRatio = ratio(p.Window)
	p.DuringIncidentRatio = ratio(p.DuringIncident)
	return p
}

// overlapping lists the other incidents whose [StartedAt, ResolvedAt or now]
// meets this one's, by start then id, with what they share.
func (a *analysis) overlapping(people People) []OverlappingIncident {
	inc, now := a.in.Incident, a.in.Now
	end := func(i Incident) (time.Time, bool) {
		if i.ResolvedAt != nil {
			return *i.ResolvedAt, true
		}
		return now, !now.IsZero()
	}
	mine := map[Identity]string{}
	for _, p := range people.Responders {
		for _, id := range p.Identities {
			mine[Identity{Source: id.Source, ID: strings.ToLower(id.ID)}] = p.Name
		}
	}
	out := []OverlappingIncident{}
	seen := map[string]bool{inc.ID: true}
	for _, o := range a.in.Overlapping {
		if seen[o.ID] {
			continue
		}
		if e, ok := end(o); ok && !inc.StartedAt.IsZero() && e.Before(inc.StartedAt) {
			continue
		}
		if e, ok := end(inc); ok && !o.StartedAt.IsZero() && o.StartedAt.After(e) {
			continue
		}
		seen[o.ID] = true
		oi := OverlappingIncident{ID: o.ID, Title: o.Title, StartedAt: o.StartedAt.UTC(),
			Shares: Shared{Channels: intersect(inc.Channels, o.Channels), Repos: intersect(inc.Repos, o.Repos)}}
		if o.ResolvedAt != nil {
			r := o.ResolvedAt.UTC()
			oi.ResolvedAt = &r
		}
		if ids, ok := a.in.OverlappingPeople[o.ID]; ok {
			oi.Shares.Responders = []string{}
			for _, id := range ids {
				if n, ok := mine[Identity{Source: id.Source, ID: strings.ToLower(id.ID)}]; ok && !slices.Contains(oi.Shares.Responders, n) {
					oi.Shares.Responders = append(oi.Shares.Responders, n)
				}
			}
			slices.Sort(oi.Shares.Responders)
		}
		out = append(out, oi)
	}
	slices.SortFunc(out, func(a, b OverlappingIncident) int {
		return cmp.Or(a.StartedAt.Compare(b.StartedAt), cmp.Compare(a.ID, b.ID))
	})
	return out
}

func intersect(a, b []string) []string {
	out := []string{}
	for _, x := range a {
		if slices.Contains(b, x) && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return out
}

// gaps finds, in each human lane (each chat channel's messages, the
// pager's log) and inside the incident's span, the stretches between two
// consecutive events longer than the quiet gap.
func (a *analysis) gaps() []Gap {
	out := []Gap{}
	quiet := a.cfg.QuietGap
	if quiet <= 0 {
		return out
	}
	lanes := map[string][]*Event{}
	var names []string
	for i := range a.events {
		e := &a.events[i]
		if !a.inSpan(e.OccurredAt) {
			continue
		}
		lane := ""
		switch {
		case strings.HasPrefix(e.Kind, "page."):
			lane = "pager"
		case isChat(e.Kind):
			if e.Actor != nil && e.Actor.Bot {
				continue
			}
			lane = "chat"
			if ch := detailString(e.Details, DetailChatChannel); ch != "" {
				lane += ":" + ch
			}
		default:
			continue
		}
		if _, ok := lanes[lane]; !ok {
			names = append(names, lane)
		}
		lanes[lane] = append(lanes[lane], e)
	}
	slices.Sort(names)
	busy := func(lane string, from, to time.Time) bool {
		for _, n := range names {
			if n == lane {
				continue
			}
			for _, e := range lanes[n] {
				if e.OccurredAt.After(from) && e.OccurredAt.Before(to) {
					return true
				}
			}
		}
		return false
	}
	for _, n := range names {
		evs := lanes[n]
		for i := 1; i < len(evs); i++ {
			x, y := evs[i-1], evs[i]
			if d := y.OccurredAt.Sub(x.OccurredAt); d > quiet {
				out = append(out, Gap{Lane: n, Start: x.OccurredAt.UTC(), End: y.OccurredAt.UTC(), Seconds: *seconds(d),
					AfterEventID: x.ID, BeforeEventID: y.ID, AllLanesQuiet: !busy(n, x.OccurredAt, y.OccurredAt)})
			}
		}
	}
	slices.SortStableFunc(out, func(x, y Gap) int { return cmp.Or(x.Start.Compare(y.Start), cmp.Compare(x.Lane, y.Lane)) })
	return out
}
