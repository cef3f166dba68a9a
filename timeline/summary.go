package timeline

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
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

// SummaryInput is everything Prepare needs; the store gathers it.
type SummaryInput struct {
	Incident Incident
	// Events is the incident's whole timeline, in (OccurredAt, ID) order.
	Events []Event
	// Overlapping are other incidents whose [StartedAt, ResolvedAt or Now]
	// overlaps this one's.
	Overlapping []Incident
	// OverlappingPeople maps an overlapping incident's id to the identities
	// of the people who acted in it or were notified in it; nil when unknown.
	OverlappingPeople map[string][]Identity
	// PriorPages maps the id of each person the incident names (as
	// DetailNotifiedPerson "id" names a paged user) to
	// the interruptions that person had in other incidents Groundwork
	// collected during the 7 days before this one started. It is a lower
	// bound: the summary prefers the source's own DetailRecentLoad and
	// reports a count from PriorPages only when it is above zero.
	PriorPages map[string]int
	Config     ReviewConfig
	// Now bounds incidents that are still open.
	Now time.Time
}

// Summary is the prepared review of one incident (PRODUCT.md §5). Times are
// UTC, durations whole seconds; absent facts are null or empty.
type Summary struct {
	KeyMoments []KeyMoment `json:"key_moments"`
	// Phases are the incident's phases, each citing its evidence.
	Phases Phases `json:"phases"`
	// PrecursorAlerts began before the page and were not its trigger.
	PrecursorAlerts []AlertRef  `json:"precursor_alerts"`
	Durations       Durations   `json:"durations"`
	Responders      []Responder `json:"responders"`
	// People summarises GET /v1/incidents/{id}/people.
	People PeopleSummary `json:"people"`
	// Changes summarises GET /v1/incidents/{id}/changes.
	Changes ChangesSummary `json:"changes"`
	Gaps    []Gap          `json:"gaps"`
	Context SummaryContext `json:"context"`
}

// Review is everything prepared for one incident: the summary served with
// the incident, the people, the changes in flight and the questions.
type Review struct {
	Summary Summary
	People  People
	Changes Changes
	// Questions are the review meeting's questions (see Questions).
	Questions []Question
	// URLs maps the events the summary's key moments and phases and the
	// questions cite to their upstream URLs, where they have one.
	URLs map[string]string
}

// KeyMoment is one turning point of the incident and the events it rests on.
type KeyMoment struct {
	Moment   string    `json:"moment"`
	At       time.Time `json:"at"`
	Title    string    `json:"title"`
	EventIDs []string  `json:"event_ids"`
}

// AlertRef is an alert and the event it is.
type AlertRef struct {
	At    time.Time `json:"at"`
	Title string    `json:"title"`
	// BeforePageS is how long before the page it began.
	BeforePageS *int64   `json:"before_page_s"`
	EventIDs    []string `json:"event_ids"`
}

// Durations are whole seconds, or nil when the timeline does not show them.
type Durations struct {
	// ToAcknowledgeS is from the page (else the incident's start) to the
	// first acknowledgement in the pager, whoever made it; see
	// Phases.FirstAck for by whom, at which level and after whom.
	ToAcknowledgeS *int64 `json:"to_acknowledge_s"`
	// ToResolveS is from the incident's start to its resolution.
	ToResolveS *int64 `json:"to_resolve_s"`
	// LastDeployToFirstAlertS is from the last successful production
	// deploy before the page's triggering alert (else the page, else the
	// start) to that alert.
	LastDeployToFirstAlertS *int64 `json:"last_deploy_to_first_alert_s"`
	DetectToPageS           *int64 `json:"detect_to_page_s"`
	PageToAckS              *int64 `json:"page_to_ack_s"`
	// PageToMitigateS and MitigateToResolveS rest on the suggested
	// mitigation, which a person has yet to confirm.
	PageToMitigateS    *int64 `json:"page_to_mitigate_s"`
	MitigateToResolveS *int64 `json:"mitigate_to_resolve_s"`
}

// Responder is one person who responded to the incident, in whatever
// tools: the legacy view of People.Responders.
type Responder struct {
	Name       string     `json:"name"`
	Identities []Identity `json:"identities"`
	// FirstActivityAt and LastActivityAt bound the person's acts inside the
	// incident's span (from its detection to its resolution).
	FirstActivityAt time.Time      `json:"first_activity_at"`
	LastActivityAt  time.Time      `json:"last_activity_at"`
	Counts          map[string]int `json:"counts"`
	// PagedOutsideBusinessHours is judged in the person's own time zone
	// where the data gives it, else the company's; nil when never paged.
	PagedOutsideBusinessHours *bool `json:"paged_outside_business_hours"`
	// PagesInPrior7Days is the person's interruptions in the 7 days before
	// (see Person.RecentLoad); nil when unknown.
	PagesInPrior7Days *int     `json:"pages_in_prior_7_days"`
	EventIDs          []string `json:"event_ids"`
}

// Identity is a person's id in one source.
type Identity struct {
	Source string `json:"source"`
	ID     string `json:"id"`
}

// Gap is a stretch of one human lane (a chat channel, the pager's log)
// inside the incident's span with no event for longer than the quiet gap.
type Gap struct {
	// Lane is "chat:{channel}" or "pager".
	Lane          string    `json:"lane"`
	Start         time.Time `json:"start"`
	End           time.Time `json:"end"`
	Seconds       int64     `json:"seconds"`
	AfterEventID  string    `json:"after_event_id"`
	BeforeEventID string    `json:"before_event_id"`
	// AllLanesQuiet is true when no other human lane had an event in it
	// either.
	AllLanesQuiet bool `json:"all_lanes_quiet"`
}

// SummaryContext is what surrounded the incident.
type SummaryContext struct {
	Timezone string `json:"timezone"`
	// EventsOutsideBusinessHours counts the pager, alert and chat events
	// inside the incident's span whose company-local time is outside
	// business hours, Saturdays and Sundays counting as outside all day.
	EventsOutsideBusinessHours int                   `json:"events_outside_business_hours"`
	OverlappingIncidents       []OverlappingIncident `json:"overlapping_incidents"`
	ProductionPressure         ProductionPressure    `json:"production_pressure"`
	Calendar                   []CalendarEntry       `json:"calendar"`
	LocalTimeAtPage            []LocalTime           `json:"local_time_at_page"`
}

// OverlappingIncident is another incident open at the same time.
type OverlappingIncident struct {
	ID         string     `json:"id"`
	Title      string     `json:"title"`
	StartedAt  time.Time  `json:"started_at"`
	ResolvedAt *time.Time `json:"resolved_at"`
	// Shares is what it has in common with this incident.
	Shares Shared `json:"shares"`
}

// Shared lists the channels, repositories and responders two incidents
// have in common; Responders is nil when the other incident's people are
// unknown.
type Shared struct {
	Channels   []string `json:"channels"`
	Repos      []string `json:"repos"`
	Responders []string `json:"responders"`
}

// LocalTime is a responder's local time at the page.
type LocalTime struct {
	PersonID string `json:"person_id"`
	Name     string `json:"name"`
	// TimeZone is the person's own zone; nil when the data does not give
	// it (LocalTime is then in the company's zone).
	TimeZone   *string `json:"time_zone"`
	LocalTime  string  `json:"local_time"`
	LocalClass string  `json:"local_class"`
	Weekend    bool    `json:"weekend"`
}

// Summarize derives the review summary of in.Incident; see Prepare.
func Summarize(in SummaryInput) Summary { return Prepare(in).Summary }

// Prepare derives the review of in.Incident from its timeline: summary,
// people, changes and questions. It does no I/O and its output depends
// only on in: every list is sorted.
func Prepare(in SummaryInput) Review {
	a := analyze(in)
	people := a.people()
	changes := a.changes()
	s := Summary{
		KeyMoments:      a.keyMoments(),
		Phases:          a.phases,
		PrecursorAlerts: a.precursorRefs(),
		Durations:       a.durations(),
		Responders:      a.responders(people),
		People:          people.summary(),
		Changes:         changes.summary(),
		Gaps:            a.gaps(),
		Context:         a.context(people, changes),
	}
	rv := Review{Summary: s, People: people, Changes: changes}
	rv.Questions = Questions(rv, a.events)
	rv.URLs = citedURLs(rv, a.events)
	return rv
}

// deployment is one deployment seen through its statuses.
type deployment struct {
	key, repo, env, sha, ref, creator string
	rollback                          bool
	previousSHA                       string
	shipped                           []map[string]string
	shippedKnown                      bool
	shippedCommits                    *int64
	statuses                          []*Event // every status but inactive, in order
	queued, started, terminal         *Event   // the first queued, the last in_progress and the last success/failure
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

func (d *deployment) first() time.Time {
	if len(d.statuses) > 0 {
		return d.statuses[0].OccurredAt
	}
	return time.Time{}
}

func (d *deployment) eventIDs() []string { return ids(d.statuses) }

// deployments groups deploy.* events by (repo, deployment_id) and returns
// every deployment, by time: first those that started or finished, then
// (with all set) those only queued or pending.
func deployments(events []Event, all bool) []*deployment {
	byKey := map[string]*deployment{}
	var list []*deployment
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
			list = append(list, d)
		}
		d.env = cmp.Or(d.env, detailString(e.Details, DetailEnvironment))
		d.sha = cmp.Or(d.sha, detailString(e.Details, DetailSHA))
		d.ref = cmp.Or(d.ref, detailString(e.Details, DetailRef))
		d.rollback = d.rollback || detailBool(e.Details, DetailRollback)
		if p := detailString(e.Details, DetailPreviousSHA); p != "" {
			d.previousSHA = p
		}
		if v, ok := e.Details[DetailShippedPulls]; ok {
			d.shipped, d.shippedKnown = detailMaps(v), true
		}
		if n, ok := detailInt(e.Details, DetailShippedCommits); ok {
			d.shippedCommits = &n
		}
		if e.Actor != nil && !e.Actor.Bot && d.creator == "" {
			d.creator = e.Actor.Name
		}
		switch e.Kind {
		case KindDeployInactive:
			continue // superseded later; not part of this deployment's story
		case KindDeployQueued, KindDeployPending:
			if d.queued == nil {
				d.queued = e
			}
		case KindDeployStarted:
			d.started = e
		case KindDeploySucceeded, KindDeployFailed:
			d.terminal = e
		}
		d.statuses = append(d.statuses, e)
	}
	var out []*deployment
	for _, d := range list {
		if d.started != nil || d.terminal != nil || (all && len(d.statuses) > 0) {
			out = append(out, d)
		}
	}
	at := func(d *deployment) time.Time {
		if d.started != nil || d.terminal != nil {
			return d.at()
		}
		return d.first()
	}
	slices.SortStableFunc(out, func(a, b *deployment) int {
		return cmp.Or(at(a).Compare(at(b)), cmp.Compare(a.key, b.key))
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

func (a *analysis) keyMoments() []KeyMoment {
	moments := []KeyMoment{}
	add := func(name string, at time.Time, title string, evs ...*Event) {
		moments = append(moments, KeyMoment{Moment: name, At: at.UTC(), Title: title, EventIDs: ids(evs)})
	}
	addEvent := func(name string, e *Event) { add(name, e.OccurredAt, titleOf(e), e) }
	var firstAck *Event
	for i := range a.events {
		e := &a.events[i]
		switch e.Kind {
		case KindPageAcknowledged:
			firstAck = cmp.Or(firstAck, e)
		case KindPageEscalated:
			addEvent(MomentEscalated, e)
		}
	}
	for _, m := range []struct {
		name string
		e    *Event
	}{
		{MomentFirstAlert, a.triggerAlert},
		{MomentTriggered, a.page},
		{MomentFirstAcknowledgement, firstAck},
		{MomentResolved, a.resolved},
	} {
		if m.e != nil {
			addEvent(m.name, m.e)
		}
	}
	lastBefore := a.lastDeployBeforeAlert()
	for _, d := range a.deps {
		name := MomentDeploy
		switch {
		case d == lastBefore:
			name = MomentLastDeployBeforeFirstAlert
		case a.isRollback[d]:
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
	return moments
}

// alertAnchor is what a deploy is measured to: the page's triggering alert,
// else the page, else the incident's start.
func (a *analysis) alertAnchor() *time.Time {
	switch {
	case a.triggerAlert != nil:
		return &a.triggerAlert.OccurredAt
	case a.page != nil:
		return &a.page.OccurredAt
	case !a.in.Incident.StartedAt.IsZero():
		return &a.in.Incident.StartedAt
	}
	return nil
}

// lastDeployBeforeAlert is the last successful production deployment
// before the alert anchor.
func (a *analysis) lastDeployBeforeAlert() *deployment {
	anchor := a.alertAnchor()
	if anchor == nil {
		return nil
	}
	var last *deployment
	for _, d := range a.deps {
		if d.succeeded() && d.at().Before(*anchor) && a.cfg.isProduction(d.env) {
			last = d
		}
	}
	return last
}

func (a *analysis) durations() Durations {
	var d Durations
	start := a.in.Incident.StartedAt
	if start.IsZero() && a.page != nil {
		start = a.page.OccurredAt
	}
	pageAt := start
	if a.page != nil {
		pageAt = a.page.OccurredAt
	}
	if ack := a.phases.FirstAck; ack != nil && !pageAt.IsZero() {
		d.ToAcknowledgeS = seconds(ack.At.Sub(pageAt))
		if a.page != nil {
			d.PageToAckS = seconds(ack.At.Sub(pageAt))
		}
	}
	if a.resolvedAt != nil && !start.IsZero() {
		d.ToResolveS = seconds(a.resolvedAt.Sub(start))
	}
	if last := a.lastDeployBeforeAlert(); last != nil {
		d.LastDeployToFirstAlertS = seconds(a.alertAnchor().Sub(last.at()))
	}
	if det := a.phases.Detection; det != nil && a.page != nil {
		d.DetectToPageS = seconds(a.page.OccurredAt.Sub(det.At))
	}
	if m := a.phases.Mitigation; m != nil {
		if a.page != nil {
			d.PageToMitigateS = seconds(m.At.Sub(a.page.OccurredAt))
		}
		if a.resolvedAt != nil {
			d.MitigateToResolveS = seconds(a.resolvedAt.Sub(m.At))
		}
	}
	return d
}

func (a *analysis) precursorRefs() []AlertRef {
	out := []AlertRef{}
	for _, e := range a.precursors {
		r := AlertRef{At: e.OccurredAt.UTC(), Title: titleOf(e), EventIDs: []string{e.ID}}
		if a.page != nil {
			r.BeforePageS = seconds(a.page.OccurredAt.Sub(e.OccurredAt))
		}
		out = append(out, r)
	}
	return out
}

func deployTitle(d *deployment) string {
	sha := d.sha
	if len(sha) > 7 {
		sha = sha[:7]
	}
	state := "in progress"
	if d.terminal != nil {
		state = strings.TrimPrefix(d.terminal.Kind, "deploy.")
	} else if d.started == nil {
		state = "queued"
	}
	return strings.Join(strings.Fields(fmt.Sprintf("Deploy %s %s to %s: %s", d.repo, sha, d.env, state)), " ")
}

// seconds rounds d to whole seconds.
func seconds(d time.Duration) *int64 {
	s := int64(d.Round(time.Second) / time.Second)
	return &s
}

func titleOf(e *Event) string { return cmp.Or(e.Title, e.Kind) }

func ids(evs []*Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

// repoFromID reads "owner/name" from {source}:{type}:{owner}/{name}:{id}.
func repoFromID(id string) string {
	parts := strings.Split(id, ":")
	if len(parts) >= 4 && strings.Contains(parts[2], "/") {
		return parts[2]
	}
	return ""
}

// detailString returns details[key] as a string; numbers are formatted
// without exponent so that an id survives a JSON round trip.
func detailString(d map[string]any, key string) string {
	return anyString(d[key])
}

func anyString(v any) string {
	switch v := v.(type) {
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

func detailInt(d map[string]any, key string) (int64, bool) {
	s := detailString(d, key)
	if s == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
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
	return anyMap(d[key])
}

func anyMap(v any) map[string]string {
	out := map[string]string{}
	switch v := v.(type) {
	case map[string]string:
		return v
	case map[string]any:
		for k, x := range v {
			if s := anyString(x); s != "" {
				out[k] = s
			}
		}
	}
	return out
}

// detailMaps reads a list of objects, as []any of maps or []map[string]any.
func detailMaps(v any) []map[string]string {
	out := []map[string]string{}
	switch v := v.(type) {
	case []any:
		for _, x := range v {
			out = append(out, anyMap(x))
		}
	case []map[string]any:
		for _, x := range v {
			out = append(out, anyMap(x))
		}
	case []map[string]string:
		out = append(out, v...)
	}
	return out
}
