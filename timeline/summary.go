package timeline

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The summary is derived from an incident's timeline by a pure function: the
// store finds the inputs, Summarize reads nothing else. Everything it reports
// rests on events it can cite; what the timeline does not show is null or
// empty, never guessed.
//
// Facts the collectors must put in Event.Details for the summary to see them
// (the Detail* constants below name the keys):
//
//   - page.notified: "user" is the notified PagerDuty user, an object
//     {"id", "name", "email"} (map[string]any or map[string]string). The
//     event's Actor is ignored: PagerDuty's agent of a notification is not
//     the person paged.
//   - page.*: "agent_type" is the PagerDuty type of the log entry's agent
//     ("user_reference", "service_reference", "escalation_policy_reference",
//     ...). Only an agent of type "user_reference" is a person. An
//     acknowledgement or a note without "agent_type" is taken to be a
//     person's (PagerDuty only lets users do those); every other page.* event
//     without it is taken to be the system's.
//   - chat.*: "bot_id" set (non-empty) or "subtype" "bot_message" marks a bot,
//     as does an Actor.ID starting with "B" or equal to "USLACKBOT".
//   - deploy.*: "deployment_id" (string or number) groups the statuses of one
//     deployment; "repo" ("owner/name", else read from the event id),
//     "environment" and "sha" say what went where; "rollback" (bool, or the
//     string "true") marks a deployment the deployer declared a rollback.
//     A status without "deployment_id" is a deployment of its own.
//   - GitHub actors whose id or name ends in "[bot]" are not people.
//   - Actor.Email, where an upstream reports one, joins identities across
//     tools (compared case-insensitively).

// Detail keys the summary reads (see the comment at the top of summary.go).
const (
	DetailUser         = "user"
	DetailAgentType    = "agent_type"
	DetailBotID        = "bot_id"
	DetailSubtype      = "subtype"
	DetailDeploymentID = "deployment_id"
	DetailRepo         = "repo"
	DetailEnvironment  = "environment"
	DetailSHA          = "sha"
	DetailRollback     = "rollback"

	// AgentTypeUser is the PagerDuty agent type of a person.
	AgentTypeUser = "user_reference"
)

// Key moment names (Summary.KeyMoments[].Moment).
const (
	MomentFirstAlert                 = "first_alert"
	MomentTriggered                  = "triggered"
	MomentFirstAcknowledgement       = "first_acknowledgement"
	MomentEscalated                  = "escalated"
	MomentDeploy                     = "deploy"
	MomentLastDeployBeforeFirstAlert = "last_deploy_before_first_alert"
	MomentRollback                   = "rollback"
	MomentResolved                   = "resolved"
)

// ReviewConfig is the `review:` section of the configuration.
type ReviewConfig struct {
	// Location is the time zone business hours are local to; nil is UTC.
	Location *time.Location
	// BusinessStart and BusinessEnd are minutes since local midnight; a
	// moment is inside business hours when its local time of day t is
	// BusinessStart <= t < BusinessEnd on Monday to Friday. Both zero means
	// the default, 09:00-18:00. See ParseBusinessHours.
	BusinessStart int
	BusinessEnd   int
	// QuietGap is the shortest stretch without events that is called out
	// as a gap (a stretch must be longer than it); zero means 15 minutes.
	QuietGap time.Duration
}

// DefaultReviewConfig returns the defaults: UTC, 09:00-18:00, 15 minutes.
func DefaultReviewConfig() ReviewConfig {
	return ReviewConfig{Location: time.UTC, BusinessStart: 9 * 60, BusinessEnd: 18 * 60, QuietGap: 15 * time.Minute}
}

// Validate reports the first thing wrong with c, naming the setting.
func (c ReviewConfig) Validate() error {
	switch {
	case c.BusinessStart < 0 || c.BusinessStart >= 24*60:
		return fmt.Errorf("review.business_hours: start %d is not a minute of the day", c.BusinessStart)
	case c.BusinessEnd <= 0 || c.BusinessEnd > 24*60:
		return fmt.Errorf("review.business_hours: end %d is not a minute of the day", c.BusinessEnd)
	case c.BusinessStart >= c.BusinessEnd:
		return fmt.Errorf("review.business_hours: start %s is not before end %s", clock(c.BusinessStart), clock(c.BusinessEnd))
	case c.QuietGap < 0:
		return fmt.Errorf("review.quiet_gap: %s is negative", c.QuietGap)
	}
	return nil
}

func (c ReviewConfig) withDefaults() ReviewConfig {
	d := DefaultReviewConfig()
	if c.Location == nil {
		c.Location = d.Location
	}
	if c.BusinessStart == 0 && c.BusinessEnd == 0 {
		c.BusinessStart, c.BusinessEnd = d.BusinessStart, d.BusinessEnd
	}
	if c.QuietGap == 0 {
		c.QuietGap = d.QuietGap
	}
	return c
}

// outsideBusinessHours reports whether t falls outside business hours in
// c.Location. Saturdays and Sundays (local) are outside all day. The instant
// is converted with t.In, so daylight saving time is applied as the zone's
// rules say for that instant.
func (c ReviewConfig) outsideBusinessHours(t time.Time) bool {
	l := t.In(c.Location)
	if wd := l.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return true
	}
	m := l.Hour()*60 + l.Minute()
	return m < c.BusinessStart || m >= c.BusinessEnd
}

// ParseBusinessHours parses "HH:MM-HH:MM" (24-hour clock, local time) into
// minutes since midnight. The end may be "24:00"; the start must be before
// the end (ranges across midnight are not supported).
func ParseBusinessHours(s string) (start, end int, err error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return 0, 0, fmt.Errorf("business hours %q: want HH:MM-HH:MM", s)
	}
	start, err = parseClock(strings.TrimSpace(a), false)
	if err != nil {
		return 0, 0, fmt.Errorf("business hours %q: start: %w", s, err)
	}
	end, err = parseClock(strings.TrimSpace(b), true)
	if err != nil {
		return 0, 0, fmt.Errorf("business hours %q: end: %w", s, err)
	}
	if start >= end {
		return 0, 0, fmt.Errorf("business hours %q: start %s is not before end %s", s, clock(start), clock(end))
	}
	return start, end, nil
}

func parseClock(s string, end bool) (int, error) {
	if len(s) != 5 || s[2] != ':' || !digits(s[:2]) || !digits(s[3:]) {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	h, _ := strconv.Atoi(s[:2])
	m, _ := strconv.Atoi(s[3:])
	if m > 59 {
		return 0, fmt.Errorf("minute %02d of %q is out of range 00-59", m, s)
	}
	if h > 23 && !(end && h == 24 && m == 0) {
		return 0, fmt.Errorf("hour %02d of %q is out of range 00-23", h, s)
	}
	return h*60 + m, nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func clock(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// SummaryInput is everything Summarize needs; the store gathers it.
type SummaryInput struct {
	Incident Incident
	// Events is the incident's whole timeline, in (OccurredAt, ID) order.
	Events []Event
	// Overlapping are other incidents whose [StartedAt, ResolvedAt or Now]
	// overlaps this one's.
	Overlapping []Incident
	// PriorPages maps a PagerDuty user id to the number of page.notified
	// events for that user in other incidents during the 7 days before this
	// one started. nil means unknown; a user missing from a non-nil map had
	// none.
	PriorPages map[string]int
	Config     ReviewConfig
	// Now bounds incidents that are still open.
	Now time.Time
}

// Summary is the prepared review of one incident (PRODUCT.md §5). Times are
// UTC, durations whole seconds; absent facts are null or empty.
type Summary struct {
	KeyMoments []KeyMoment    `json:"key_moments"`
	Durations  Durations      `json:"durations"`
	Responders []Responder    `json:"responders"`
	Gaps       []Gap          `json:"gaps"`
	Context    SummaryContext `json:"context"`
}

// KeyMoment is one turning point of the incident and the events it rests on.
type KeyMoment struct {
	Moment   string    `json:"moment"`
	At       time.Time `json:"at"`
	Title    string    `json:"title"`
	EventIDs []string  `json:"event_ids"`
}

// Durations are whole seconds, or nil when the timeline does not show them.
type Durations struct {
	// ToAcknowledgeS is from the first trigger (else the incident's start)
	// to the first acknowledgement.
	ToAcknowledgeS *int64 `json:"to_acknowledge_s"`
	// ToResolveS is from the incident's start to its resolution.
	ToResolveS *int64 `json:"to_resolve_s"`
	// LastDeployToFirstAlertS is from the last successful deploy before the
	// first alert (else the trigger, else the start) to that alert.
	LastDeployToFirstAlertS *int64 `json:"last_deploy_to_first_alert_s"`
}

// Responder is one person who acted on the incident, in whatever tools.
type Responder struct {
	Name            string         `json:"name"`
	Identities      []Identity     `json:"identities"`
	FirstActivityAt time.Time      `json:"first_activity_at"`
	LastActivityAt  time.Time      `json:"last_activity_at"`
	Counts          map[string]int `json:"counts"`
	// PagedOutsideBusinessHours is nil when the person was never paged.
	PagedOutsideBusinessHours *bool `json:"paged_outside_business_hours"`
	// PagesInPrior7Days is nil when unknown or the person has no PagerDuty
	// identity.
	PagesInPrior7Days *int     `json:"pages_in_prior_7_days"`
	EventIDs          []string `json:"event_ids"`
}

// Identity is a person's id in one source.
type Identity struct {
	Source string `json:"source"`
	ID     string `json:"id"`
}

// Gap is a stretch between two consecutive events longer than the quiet gap.
type Gap struct {
	Start         time.Time `json:"start"`
	End           time.Time `json:"end"`
	Seconds       int64     `json:"seconds"`
	AfterEventID  string    `json:"after_event_id"`
	BeforeEventID string    `json:"before_event_id"`
}

// SummaryContext is what surrounded the incident.
type SummaryContext struct {
	Timezone string `json:"timezone"`
	// EventsOutsideBusinessHours counts events whose local time is outside
	// business hours, Saturdays and Sundays counting as outside all day.
	EventsOutsideBusinessHours int                   `json:"events_outside_business_hours"`
	OverlappingIncidents       []OverlappingIncident `json:"overlapping_incidents"`
}

// OverlappingIncident is another incident open at the same time.
type OverlappingIncident struct {
	ID         string     `json:"id"`
	Title      string     `json:"title"`
	StartedAt  time.Time  `json:"started_at"`
	ResolvedAt *time.Time `json:"resolved_at"`
}

// Summarize derives the review summary of in.Incident from its timeline. It
// does no I/O and its output depends only on in: every list is sorted.
func Summarize(in SummaryInput) Summary {
	cfg := in.Config.withDefaults()
	events := slices.Clone(in.Events)
	slices.SortStableFunc(events, Compare)

	moments, durations := keyMoments(in.Incident, events)
	s := Summary{
		KeyMoments: moments,
		Durations:  durations,
		Responders: responders(events, in.PriorPages, cfg),
		Gaps:       gaps(events, cfg.QuietGap),
		Context: SummaryContext{
			Timezone:             cfg.Location.String(),
			OverlappingIncidents: overlapping(in.Incident, in.Overlapping, in.Now),
		},
	}
	for _, e := range events {
		if cfg.outsideBusinessHours(e.OccurredAt) {
			s.Context.EventsOutsideBusinessHours++
		}
	}
	return s
}

// deployment is one GitHub deployment seen through its statuses.
type deployment struct {
	key, repo, env, sha string
	rollback            bool
	statuses            []*Event // every status but inactive, in order
	started, terminal   *Event   // the last in_progress and the last success/failure
}

func (d *deployment) at() time.Time {
	if d.terminal != nil {
		return d.terminal.OccurredAt
	}
	return d.started.OccurredAt
}

func (d *deployment) succeeded() bool {
	return d.terminal != nil && d.terminal.Kind == KindDeploySucceeded
}

// deployments groups deploy.* events by (repo, deployment_id) and returns the
// deployments that started or finished inside the timeline, by time.
func deployments(events []Event) []*deployment {
	byKey := map[string]*deployment{}
	var all []*deployment
	for i := range events {
		e := &events[i]
		if !strings.HasPrefix(e.Kind, "deploy.") {
			continue
		}
		repo := detailString(e.Details, DetailRepo)
		if repo == "" {
			repo = repoFromID(e.ID)
		}
		key := "event\x00" + e.ID
		if id := detailString(e.Details, DetailDeploymentID); id != "" {
			key = "deployment\x00" + repo + "\x00" + id
		}
		d := byKey[key]
		if d == nil {
			d = &deployment{key: key, repo: repo}
			byKey[key] = d
			all = append(all, d)
		}
		d.env = cmp.Or(d.env, detailString(e.Details, DetailEnvironment))
		d.sha = cmp.Or(d.sha, detailString(e.Details, DetailSHA))
		d.rollback = d.rollback || detailBool(e.Details, DetailRollback)
		switch e.Kind {
		case KindDeployInactive:
			continue // superseded later; not part of this deployment's story
		case KindDeployStarted:
			d.started = e
		case KindDeploySucceeded, KindDeployFailed:
			d.terminal = e
		}
		d.statuses = append(d.statuses, e)
	}
	var out []*deployment
	for _, d := range all {
		if d.started != nil || d.terminal != nil {
			out = append(out, d)
		}
	}
	slices.SortStableFunc(out, func(a, b *deployment) int {
		return cmp.Or(a.at().Compare(b.at()), cmp.Compare(a.key, b.key))
	})
	return out
}

// rollbacks marks the deployments that are rollbacks: declared so, or
// putting back a sha that an earlier successful deployment to the same repo
// and environment had put there before a different sha succeeded.
func rollbacks(deps []*deployment) map[*deployment]bool {
	out := map[*deployment]bool{}
	history := map[string][]string{} // repo, env -> successful shas in order
	for _, d := range deps {
		place := d.repo + "\x00" + d.env
		h := history[place]
		if d.rollback {
			out[d] = true
		} else if d.sha != "" {
			if i := slices.Index(h, d.sha); i >= 0 && slices.ContainsFunc(h[i+1:], func(s string) bool { return s != d.sha }) {
				out[d] = true
			}
		}
		if d.succeeded() && d.sha != "" {
			history[place] = append(h, d.sha)
		}
	}
	return out
}

func keyMoments(inc Incident, events []Event) ([]KeyMoment, Durations) {
	moments := []KeyMoment{}
	add := func(name string, at time.Time, title string, evs ...*Event) {
		ids := make([]string, len(evs))
		for i, e := range evs {
			ids[i] = e.ID
		}
		moments = append(moments, KeyMoment{Moment: name, At: at.UTC(), Title: title, EventIDs: ids})
	}
	addEvent := func(name string, e *Event) { add(name, e.OccurredAt, titleOf(e), e) }

	var firstAlert, firstTrigger, firstOpened, firstAck, lastResolved, lastClosed *Event
	for i := range events {
		e := &events[i]
		switch e.Kind {
		case KindAlertTriggered, KindAlertFiring:
			firstAlert = cmp.Or(firstAlert, e)
		case KindPageTriggered:
			firstTrigger = cmp.Or(firstTrigger, e)
		case KindIncidentOpened:
			firstOpened = cmp.Or(firstOpened, e)
		case KindPageAcknowledged:
			firstAck = cmp.Or(firstAck, e)
		case KindPageEscalated:
			addEvent(MomentEscalated, e)
		case KindPageResolved:
			lastResolved = e
		case KindIncidentClosed:
			lastClosed = e
		}
	}
	triggered := cmp.Or(firstTrigger, firstOpened)
	resolved := cmp.Or(lastResolved, lastClosed)
	for _, m := range []struct {
		name string
		e    *Event
	}{
		{MomentFirstAlert, firstAlert},
		{MomentTriggered, triggered},
		{MomentFirstAcknowledgement, firstAck},
		{MomentResolved, resolved},
	} {
		if m.e != nil {
			addEvent(m.name, m.e)
		}
	}

	// The deploy the incident most likely followed: the last one that
	// succeeded before the first alert, else the trigger, else the start.
	var anchor *time.Time
	switch {
	case firstAlert != nil:
		anchor = &firstAlert.OccurredAt
	case triggered != nil:
		anchor = &triggered.OccurredAt
	case !inc.StartedAt.IsZero():
		anchor = &inc.StartedAt
	}
	deps := deployments(events)
	var lastBefore *deployment
	if anchor != nil {
		for _, d := range deps {
			if d.succeeded() && d.at().Before(*anchor) {
				lastBefore = d
			}
		}
	}
	isRollback := rollbacks(deps)
	for _, d := range deps {
		name := MomentDeploy
		switch {
		case d == lastBefore:
			name = MomentLastDeployBeforeFirstAlert
		case isRollback[d]:
			name = MomentRollback
		}
		e := cmp.Or(d.terminal, d.started)
		title := e.Title
		if title == "" {
			title = deployTitle(d)
		}
		add(name, d.at(), title, d.statuses...)
	}
	slices.SortStableFunc(moments, func(a, b KeyMoment) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.EventIDs[0], b.EventIDs[0]), cmp.Compare(a.Moment, b.Moment))
	})

	var d Durations
	start := inc.StartedAt
	if start.IsZero() && triggered != nil {
		start = triggered.OccurredAt
	}
	triggerAt := start
	if triggered != nil {
		triggerAt = triggered.OccurredAt
	}
	if firstAck != nil && !triggerAt.IsZero() {
		d.ToAcknowledgeS = seconds(firstAck.OccurredAt.Sub(triggerAt))
	}
	var resolvedAt time.Time
	if resolved != nil {
		resolvedAt = resolved.OccurredAt
	} else if inc.ResolvedAt != nil {
		resolvedAt = *inc.ResolvedAt
	}
	if !resolvedAt.IsZero() && !start.IsZero() {
		d.ToResolveS = seconds(resolvedAt.Sub(start))
	}
	if lastBefore != nil {
		d.LastDeployToFirstAlertS = seconds(anchor.Sub(lastBefore.at()))
	}
	return moments, d
}

func deployTitle(d *deployment) string {
	sha := d.sha
	if len(sha) > 7 {
		sha = sha[:7]
	}
	state := "in progress"
	if d.terminal != nil {
		state = strings.TrimPrefix(d.terminal.Kind, "deploy.")
	}
	return strings.Join(strings.Fields(fmt.Sprintf("Deploy %s %s to %s: %s", d.repo, sha, d.env, state)), " ")
}

// person is who an event shows acting (or being paged).
type person struct {
	source, id, name, email string
}

// actorOf returns the person an event counts for, if it counts for one.
func actorOf(e *Event) (person, bool) {
	if e.Kind == KindPageNotified {
		u := detailMap(e.Details, DetailUser)
		p := person{source: e.Source, id: u["id"], name: u["name"], email: u["email"]}
		return p, p.id != "" || p.email != ""
	}
	if e.Actor == nil || (e.Actor.ID == "" && e.Actor.Email == "") {
		return person{}, false
	}
	p := person{source: e.Source, id: e.Actor.ID, name: e.Actor.Name, email: e.Actor.Email}
	switch {
	case e.Kind == KindPageAcknowledged || e.Kind == KindPageAnnotated:
		at := detailString(e.Details, DetailAgentType)
		return p, at == "" || at == AgentTypeUser
	case strings.HasPrefix(e.Kind, "page."):
		return p, detailString(e.Details, DetailAgentType) == AgentTypeUser
	case e.Kind == KindChatMessage || e.Kind == KindChatReply || e.Kind == KindChatJoined:
		bot := detailString(e.Details, DetailBotID) != "" ||
			detailString(e.Details, DetailSubtype) == "bot_message" ||
			strings.HasPrefix(p.id, "B") || p.id == "USLACKBOT"
		return p, !bot
	case e.Kind == KindChangeCommit || e.Kind == KindChangeMerged || strings.HasPrefix(e.Kind, "deploy."):
		bot := strings.HasSuffix(p.id, "[bot]") || strings.HasSuffix(p.name, "[bot]")
		return p, !bot
	}
	return person{}, false
}

// namePreference orders sources by how readable their names are: PagerDuty
// and Slack carry people's names, GitHub mostly logins.
var namePreference = map[string]int{SourcePagerDuty: 0, SourceSlack: 1, SourceGeneric: 2, SourceGitHub: 3}

func responders(events []Event, prior map[string]int, cfg ReviewConfig) []Responder {
	// Union-find over identity keys ("i" source id) and email keys ("e"
	// email): an event naming both joins them.
	parent := map[string]string{}
	var find func(string) string
	find = func(k string) string {
		p, ok := parent[k]
		if !ok {
			parent[k] = k
			return k
		}
		if p == k {
			return k
		}
		r := find(p)
		parent[k] = r
		return r
	}
	union := func(a, b string) {
		ra, rb := find(a), find(b)
		if ra != rb {
			// Deterministic root: the smaller key.
			if rb < ra {
				ra, rb = rb, ra
			}
			parent[rb] = ra
		}
	}
	keyOf := func(p person) string {
		if p.id != "" {
			return "i\x00" + p.source + "\x00" + p.id
		}
		return "e\x00" + strings.ToLower(p.email)
	}
	type act struct {
		p person
		e *Event
	}
	var acts []act
	for i := range events {
		p, ok := actorOf(&events[i])
		if !ok {
			continue
		}
		acts = append(acts, act{p, &events[i]})
		k := keyOf(p)
		find(k)
		if p.id != "" && p.email != "" {
			union(k, "e\x00"+strings.ToLower(p.email))
		}
	}

	type build struct {
		r        Responder
		ids      map[Identity]bool
		nameRank int
		paged    bool
		outside  bool
	}
	groups := map[string]*build{}
	var order []*build
	for _, a := range acts {
		root := find(keyOf(a.p))
		b := groups[root]
		if b == nil {
			b = &build{r: Responder{Counts: map[string]int{}, EventIDs: []string{}}, ids: map[Identity]bool{}, nameRank: 1 << 30}
			b.r.FirstActivityAt = a.e.OccurredAt.UTC()
			groups[root] = b
			order = append(order, b)
		}
		b.r.LastActivityAt = a.e.OccurredAt.UTC() // events are in time order
		b.r.Counts[a.e.Kind]++
		b.r.EventIDs = append(b.r.EventIDs, a.e.ID)
		if a.p.id != "" {
			b.ids[Identity{Source: a.p.source, ID: a.p.id}] = true
		}
		if rank, ok := namePreference[a.p.source]; a.p.name != "" && ok && rank < b.nameRank {
			b.r.Name, b.nameRank = a.p.name, rank
		} else if a.p.name != "" && b.r.Name == "" {
			b.r.Name = a.p.name
		}
		if a.e.Kind == KindPageNotified {
			b.paged = true
			b.outside = b.outside || cfg.outsideBusinessHours(a.e.OccurredAt)
		}
	}

	out := make([]Responder, 0, len(order))
	for _, b := range order {
		r := b.r
		r.Identities = make([]Identity, 0, len(b.ids))
		for id := range b.ids {
			r.Identities = append(r.Identities, id)
		}
		slices.SortFunc(r.Identities, func(x, y Identity) int {
			return cmp.Or(cmp.Compare(x.Source, y.Source), cmp.Compare(x.ID, y.ID))
		})
		if r.Name == "" && len(r.Identities) > 0 {
			r.Name = r.Identities[0].ID
		}
		if b.paged {
			r.PagedOutsideBusinessHours = &b.outside
		}
		if prior != nil {
			n, has := 0, false
			for _, id := range r.Identities {
				if id.Source == SourcePagerDuty {
					n += prior[id.ID]
					has = true
				}
			}
			if has {
				r.PagesInPrior7Days = &n
			}
		}
		out = append(out, r)
	}
	slices.SortStableFunc(out, func(x, y Responder) int {
		return cmp.Or(x.FirstActivityAt.Compare(y.FirstActivityAt), cmp.Compare(x.Name, y.Name),
			cmp.Compare(firstIdentity(x), firstIdentity(y)))
	})
	return out
}

func firstIdentity(r Responder) string {
	if len(r.Identities) == 0 {
		return ""
	}
	return r.Identities[0].Source + ":" + r.Identities[0].ID
}

func gaps(events []Event, quiet time.Duration) []Gap {
	out := []Gap{}
	if quiet <= 0 {
		return out
	}
	for i := 1; i < len(events); i++ {
		a, b := events[i-1], events[i]
		if d := b.OccurredAt.Sub(a.OccurredAt); d > quiet {
			out = append(out, Gap{
				Start: a.OccurredAt.UTC(), End: b.OccurredAt.UTC(), Seconds: *seconds(d),
				AfterEventID: a.ID, BeforeEventID: b.ID,
			})
		}
	}
	return out
}

// overlapping lists the other incidents whose [StartedAt, ResolvedAt or now]
// meets inc's, by start then id.
func overlapping(inc Incident, others []Incident, now time.Time) []OverlappingIncident {
	end := func(i Incident) (time.Time, bool) {
		if i.ResolvedAt != nil {
			return *i.ResolvedAt, true
		}
		return now, !now.IsZero()
	}
	out := []OverlappingIncident{}
	seen := map[string]bool{inc.ID: true}
	for _, o := range others {
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
		oi := OverlappingIncident{ID: o.ID, Title: o.Title, StartedAt: o.StartedAt.UTC()}
		if o.ResolvedAt != nil {
			r := o.ResolvedAt.UTC()
			oi.ResolvedAt = &r
		}
		out = append(out, oi)
	}
	slices.SortFunc(out, func(a, b OverlappingIncident) int {
		return cmp.Or(a.StartedAt.Compare(b.StartedAt), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// seconds rounds d to whole seconds.
func seconds(d time.Duration) *int64 {
	s := int64(d.Round(time.Second) / time.Second)
	return &s
}

func titleOf(e *Event) string { return cmp.Or(e.Title, e.Kind) }

// repoFromID reads "owner/name" from github:{type}:{owner}/{name}:{id}.
func repoFromID(id string) string {
	parts := strings.Split(id, ":")
	if len(parts) >= 4 && parts[0] == SourceGitHub {
		return parts[2]
	}
	return ""
}

// detailString returns details[key] as a string; numbers are formatted
// without exponent so that an id survives a JSON round trip.
func detailString(d map[string]any, key string) string {
	switch v := d[key].(type) {
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case fmt.Stringer: // json.Number
		return v.String()
	}
	return ""
}

func detailBool(d map[string]any, key string) bool {
	switch v := d[key].(type) {
	case bool:
		return v
	case string:
		b, _ := strconv.ParseBool(v)
		return b
	}
	return false
}

func detailMap(d map[string]any, key string) map[string]string {
	out := map[string]string{}
	switch v := d[key].(type) {
	case map[string]string:
		return v
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok {
				out[k] = s
			}
		}
	}
	return out
}
