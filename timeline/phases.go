package timeline

import (
	"cmp"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Rules of the phases, stated once.
const (
	// triggerAlertBefore and triggerAlertAfter bound how far an alert may
	// lie from the page to be taken as its trigger (the nearest one before
	// it wins, else the nearest after).
	triggerAlertBefore = 10 * time.Minute
	triggerAlertAfter  = time.Minute
	// detectionLookback is how long before the page a person's message
	// about the symptom counts as the incident's detection.
	detectionLookback = 30 * time.Minute
	// mitigationGrace is how soon after a mitigation candidate an alert or
	// page may still come without putting the candidate in doubt (alerting
	// evaluates over a window and lags the fix).
	mitigationGrace = 5 * time.Minute
)

// Phase kinds and names used in the phases.
const (
	DetectionHuman = "human"
	DetectionAlert = "alert"

	MitigationRollback       = "rollback"
	MitigationFixDeploy      = "fix_deploy"
	MitigationRecoveryAlert  = "recovery_alert"
	MitigationUrgencyLowered = "urgency_lowered"

	ReasonTimeout      = "timeout"
	ReasonManual       = "manual_escalation"
	ReasonReassignment = "reassignment"
)

// Phases are the incident's phases; a phase the timeline does not show is
// nil.
type Phases struct {
	Detection  *Detection  `json:"detection"`
	Page       *PagePhase  `json:"page"`
	FirstAck   *AckPhase   `json:"first_ack"`
	Mitigation *Mitigation `json:"mitigation"`
	Resolved   *Resolved   `json:"resolved"`
}

// Detection is the earliest sign of the incident: a person's message about
// the symptom shortly before the page, or the page's triggering alert.
type Detection struct {
	At time.Time `json:"at"`
	// Kind is "human" or "alert".
	Kind  string `json:"kind"`
	Title string `json:"title"`
	// By is the person who wrote the message (Kind human).
	By *PersonRef `json:"by"`
	// Basis says which rule found it.
	Basis    string   `json:"basis"`
	EventIDs []string `json:"event_ids"`
}

// PagePhase is the page: its trigger, titled with the symptom.
type PagePhase struct {
	At    time.Time `json:"at"`
	Title string    `json:"title"`
	// EventIDs are the trigger and, first, its alert when there is one.
	EventIDs []string `json:"event_ids"`
}

// PersonRef names a person of People.Responders.
type PersonRef struct {
	PersonID string `json:"person_id"`
	Name     string `json:"name"`
}

// AckPhase is the first acknowledgement in the pager.
type AckPhase struct {
	At time.Time  `json:"at"`
	By *PersonRef `json:"by"`
	// EscalationLevel is the level the acknowledger was paged at.
	EscalationLevel *int `json:"escalation_level"`
	// EscalatedPast are the people the page went past before it.
	EscalatedPast []EscalatedPast `json:"escalated_past"`
	// AcknowledgedInChat are paged people's messages that acknowledged the
	// page in chat before (or without) the pager acknowledgement.
	AcknowledgedInChat []ChatAck `json:"acknowledged_in_chat"`
	EventIDs           []string  `json:"event_ids"`
}

// EscalatedPast is a person the page moved on from, and why.
type EscalatedPast struct {
	Person PersonRef `json:"person"`
	// Reason is "timeout", "manual_escalation" or "reassignment".
	Reason   string    `json:"reason"`
	At       time.Time `json:"at"`
	EventIDs []string  `json:"event_ids"`
}

// ChatAck is a message acknowledging the page in chat.
type ChatAck struct {
	At       time.Time `json:"at"`
	By       PersonRef `json:"by"`
	Text     string    `json:"text"`
	EventIDs []string  `json:"event_ids"`
}

// Mitigation is the suggested moment the impact ended, with every
// candidate. It stays Suggested until a person confirms it.
type Mitigation struct {
	At          time.Time             `json:"at"`
	Kind        string                `json:"kind"`
	Title       string                `json:"title"`
	Suggested   bool                  `json:"suggested"`
	ConfirmedBy *string               `json:"confirmed_by"`
	Candidates  []MitigationCandidate `json:"candidates"`
	EventIDs    []string              `json:"event_ids"`
}

// MitigationCandidate is one thing that may have ended the impact: a
// successful rollback or fix deploy, a recovery alert, urgency lowered.
type MitigationCandidate struct {
	At    time.Time `json:"at"`
	Kind  string    `json:"kind"`
	Title string    `json:"title"`
	// FollowedBy are the alerts and pages that came after it, before the
	// resolution.
	FollowedBy []FollowUp `json:"followed_by"`
	EventIDs   []string   `json:"event_ids"`
}

// FollowUp is an alert or page after a mitigation candidate.
type FollowUp struct {
	At       time.Time `json:"at"`
	Kind     string    `json:"kind"`
	Title    string    `json:"title"`
	AfterS   int64     `json:"after_s"`
	EventIDs []string  `json:"event_ids"`
}

// Resolved is the resolution.
type Resolved struct {
	At       time.Time `json:"at"`
	Title    string    `json:"title"`
	EventIDs []string  `json:"event_ids"`
}

// analysis is what every part of the review is derived from.
type analysis struct {
	in     SummaryInput
	cfg    ReviewConfig
	events []Event

	page, triggerAlert, resolved *Event
	resolvedAt                   *time.Time
	precursors                   []*Event
	spanStart                    time.Time
	spanEnd                      *time.Time // nil while open

	deps       []*deployment
	isRollback map[*deployment]bool

	idx    *personIndex
	pager  pagerWalk
	phases Phases
}

func analyze(in SummaryInput) *analysis {
	a := &analysis{in: in, cfg: in.Config.withDefaults()}
	a.events = slices.Clone(in.Events)
	slices.SortStableFunc(a.events, Compare)
	a.idx = indexPeople(a.events, a.cfg)

	var firstTrigger, firstOpened, lastResolved, lastClosed *Event
	var alerts []*Event
	for i := range a.events {
		e := &a.events[i]
		switch e.Kind {
		case KindPageTriggered:
			firstTrigger = cmp.Or(firstTrigger, e)
		case KindIncidentOpened:
			firstOpened = cmp.Or(firstOpened, e)
		case KindPageResolved:
			lastResolved = e
		case KindIncidentClosed:
			lastClosed = e
		case KindAlertTriggered, KindAlertFiring:
			alerts = append(alerts, e)
		}
	}
	a.page = cmp.Or(firstTrigger, firstOpened)
	a.resolved = cmp.Or(lastResolved, lastClosed)
	if a.resolved != nil {
		t := a.resolved.OccurredAt
		a.resolvedAt = &t
	} else if in.Incident.ResolvedAt != nil {
		t := *in.Incident.ResolvedAt
		a.resolvedAt = &t
	}
	a.triggerAlert, a.precursors = splitAlerts(alerts, a.page)
	a.deps = deployments(a.events, false)
	a.isRollback = rollbacks(a.deps)
	a.pager = a.walkPager()

	a.phases.Detection = a.detection()
	switch {
	case a.phases.Detection != nil:
		a.spanStart = a.phases.Detection.At
	case a.page != nil:
		a.spanStart = a.page.OccurredAt
	case !in.Incident.StartedAt.IsZero():
		a.spanStart = in.Incident.StartedAt
	case len(a.events) > 0:
		a.spanStart = a.events[0].OccurredAt
	}
	if a.page != nil && a.page.OccurredAt.Before(a.spanStart) {
		a.spanStart = a.page.OccurredAt
	}
	a.spanEnd = a.resolvedAt
	a.phases.Page = a.pagePhase()
	a.phases.FirstAck = a.firstAck()
	a.phases.Mitigation = a.mitigation()
	if a.resolved != nil {
		a.phases.Resolved = &Resolved{At: a.resolved.OccurredAt.UTC(), Title: titleOf(a.resolved), EventIDs: []string{a.resolved.ID}}
	} else if a.resolvedAt != nil {
		a.phases.Resolved = &Resolved{At: a.resolvedAt.UTC(), Title: "Resolved", EventIDs: []string{}}
	}
	return a
}

// inSpan reports whether t lies inside the incident's span, from its
// detection to its resolution (or on while it is open).
func (a *analysis) inSpan(t time.Time) bool {
	if a.spanStart.IsZero() || t.Before(a.spanStart) {
		return false
	}
	return a.spanEnd == nil || !t.After(*a.spanEnd)
}

// splitAlerts finds the page's triggering alert (the nearest alert at most
// triggerAlertBefore before the page, else the nearest at most
// triggerAlertAfter after it) and the precursors: the other alerts that
// began before the page. Without a page, the first alert is the trigger.
func splitAlerts(alerts []*Event, page *Event) (trigger *Event, precursors []*Event) {
	if page == nil {
		if len(alerts) > 0 {
			return alerts[0], nil
		}
		return nil, nil
	}
	p := page.OccurredAt
	for _, e := range alerts {
		if !e.OccurredAt.After(p) && p.Sub(e.OccurredAt) <= triggerAlertBefore {
			trigger = e // the last such is the nearest
		}
	}
	if trigger == nil {
		for _, e := range alerts {
			if e.OccurredAt.After(p) && e.OccurredAt.Sub(p) <= triggerAlertAfter {
				trigger = e
				break
			}
		}
	}
	for _, e := range alerts {
		if e != trigger && e.OccurredAt.Before(p) {
			precursors = append(precursors, e)
		}
	}
	return trigger, precursors
}

// symptomWords are words that name a symptom whatever the alert says.
var symptomWords = map[string]bool{
	"error": true, "errors": true, "5xx": true, "500": true, "500s": true, "502": true, "502s": true, "503": true, "503s": true,
	"failing": true, "failed": true, "failure": true, "failures": true, "down": true, "outage": true, "broken": true,
	"timeout": true, "timeouts": true, "latency": true, "slow": true, "degraded": true, "unavailable": true,
}

var stopWords = map[string]bool{
	"the": true, "and": true, "for": true, "with": true, "from": true, "above": true, "below": true, "than": true,
	"this": true, "that": true, "api": true, "rate": true, "through": true, "triggered": true, "alert": true, "high": true,
}

var wordRE = regexp.MustCompile(`[\p{L}\p{N}]+`)

func words(s string) []string { return wordRE.FindAllString(strings.ToLower(s), -1) }

// symptomVocabulary is the words of the page's trigger, alert and incident
// titles that can name its symptom.
func (a *analysis) symptomVocabulary() map[string]bool {
	out := map[string]bool{}
	var texts []string
	if a.triggerAlert != nil {
		texts = append(texts, a.triggerAlert.Title, a.triggerAlert.Text)
	}
	if a.page != nil {
		texts = append(texts, a.page.Text)
	}
	texts = append(texts, a.in.Incident.Title)
	for _, t := range texts {
		for _, w := range words(t) {
			if len([]rune(w)) >= 3 && !stopWords[w] {
				out[w] = true
			}
		}
	}
	return out
}

// aboutSymptom reports whether a message names the symptom: a word of the
// alert's or incident's title, or a word that names a symptom anywhere.
func aboutSymptom(text string, vocab map[string]bool) (string, bool) {
	for _, w := range words(text) {
		if vocab[w] || symptomWords[w] {
			return w, true
		}
	}
	return "", false
}

func (a *analysis) detection() *Detection {
	if a.page == nil {
		if a.triggerAlert == nil {
			return nil
		}
		return &Detection{At: a.triggerAlert.OccurredAt.UTC(), Kind: DetectionAlert, Title: titleOf(a.triggerAlert),
			Basis: "the first alert", EventIDs: []string{a.triggerAlert.ID}}
	}
	p := a.page.OccurredAt
	vocab := a.symptomVocabulary()
	for i := range a.events {
		e := &a.events[i]
		if e.OccurredAt.After(p) {
			break
		}
		if p.Sub(e.OccurredAt) > detectionLookback || !isChat(e.Kind) || e.Kind == KindChatJoined {
			continue
		}
		g := a.idx.actorGroup(e)
		if g == nil {
			continue
		}
		if a.triggerAlert != nil && !e.OccurredAt.Before(a.triggerAlert.OccurredAt) {
			break // the alert came first
		}
		if w, ok := aboutSymptom(e.Text+" "+e.Title, vocab); ok {
			ref := g.ref()
			ev := []string{e.ID}
			if a.triggerAlert != nil {
				ev = append(ev, a.triggerAlert.ID)
			}
			return &Detection{At: e.OccurredAt.UTC(), Kind: DetectionHuman, Title: titleOf(e), By: &ref,
				Basis: "the first message in the incident's channels within " + detectionLookback.String() +
					" before the page that names the symptom (" + w + ")", EventIDs: ev}
		}
	}
	if a.triggerAlert != nil {
		return &Detection{At: a.triggerAlert.OccurredAt.UTC(), Kind: DetectionAlert, Title: titleOf(a.triggerAlert),
			Basis: "the alert that triggered the page", EventIDs: []string{a.triggerAlert.ID}}
	}
	return nil
}

func (a *analysis) pagePhase() *PagePhase {
	if a.page == nil {
		return nil
	}
	title := ""
	ev := []string{}
	if a.triggerAlert != nil {
		title = a.triggerAlert.Title
		ev = append(ev, a.triggerAlert.ID)
	}
	title = cmp.Or(title, a.in.Incident.Title, Truncate(strings.TrimSpace(a.page.Text), 120), titleOf(a.page))
	return &PagePhase{At: a.page.OccurredAt.UTC(), Title: title, EventIDs: append(ev, a.page.ID)}
}

// assignment is how a person came to be paged.
type assignment struct {
	level int
	cause string // mode: paged, paged_by_escalation, added_by_reassignment
	at    time.Time
	event *Event
}

// handoff is an escalation or a reassignment of the page.
type handoff struct {
	at     time.Time
	reason string
	level  int
	event  *Event
}

type pagerWalk struct {
	assigned map[*personGroup]assignment
	handoffs []handoff
	notified map[*personGroup][]*Event
}

// walkPager follows the pager's log: the levels, who was assigned when and
// why, and every notification.
func (a *analysis) walkPager() pagerWalk {
	w := pagerWalk{assigned: map[*personGroup]assignment{}, notified: map[*personGroup][]*Event{}}
	level, cause := 0, ModePaged
	assign := func(g *personGroup, e *Event) {
		if g == nil {
			return
		}
		if _, ok := w.assigned[g]; !ok {
			w.assigned[g] = assignment{level: max(level, 1), cause: cause, at: e.OccurredAt, event: e}
		}
	}
	for i := range a.events {
		e := &a.events[i]
		switch e.Kind {
		case KindPageTriggered:
			level, cause = max(level, 1), ModePaged
		case KindPageEscalated:
			next := level + 1
			if n, ok := detailInt(e.Details, DetailEscalationLevel); ok && n > 0 {
				next = int(n)
			}
			reason := ReasonManual
			if detailString(e.Details, DetailEscalationReason) == EscalationTimeout {
				reason = ReasonTimeout
			}
			w.handoffs = append(w.handoffs, handoff{at: e.OccurredAt, reason: reason, level: next, event: e})
			level, cause = next, ModePagedByEscalation
		case KindPageReassigned:
			w.handoffs = append(w.handoffs, handoff{at: e.OccurredAt, reason: ReasonReassignment, level: level, event: e})
			cause = ModeAddedByReassignment
		case KindPageNotified:
			g := a.idx.group(e, roleNotified)
			assign(g, e)
			if g != nil {
				w.notified[g] = append(w.notified[g], e)
			}
			continue
		default:
			continue
		}
		for _, g := range a.idx.groupsOf(e, roleAssigned) {
			assign(g, e)
		}
	}
	return w
}

var chatAckRE = regexp.MustCompile(`(?i)(^|[^\p{L}])(ack|acked|ack'd|ack’d|acking|acknowledged|on it|looking( into it| at it| at this)?|i'?m on( it| this)?|investigating|taking a look)([^\p{L}]|$)`)

func (a *analysis) firstAck() *AckPhase {
	var ack *Event
	for i := range a.events {
		if a.events[i].Kind == KindPageAcknowledged {
			ack = &a.events[i]
			break
		}
	}
	if ack == nil {
		return nil
	}
	out := &AckPhase{At: ack.OccurredAt.UTC(), EscalatedPast: []EscalatedPast{}, AcknowledgedInChat: []ChatAck{}, EventIDs: []string{ack.ID}}
	by := a.idx.actorGroup(ack)
	if by != nil {
		ref := by.ref()
		out.By = &ref
	}
	if n, ok := detailInt(ack.Details, DetailEscalationLevel); ok && n > 0 {
		lvl := int(n)
		out.EscalationLevel = &lvl
	} else if as, ok := a.pager.assigned[by]; ok && by != nil {
		lvl := as.level
		out.EscalationLevel = &lvl
	}
	// Whom the page went past on its way to the acknowledger: everyone
	// assigned before each hand-off between the page and the ack.
	seen := map[*personGroup]bool{by: true}
	for _, h := range a.pager.handoffs {
		if a.page != nil && h.at.Before(a.page.OccurredAt) || h.at.After(ack.OccurredAt) {
			continue
		}
		var past []*personGroup
		for g, as := range a.pager.assigned {
			if as.at.Before(h.at) && !seen[g] {
				past = append(past, g)
			}
		}
		slices.SortFunc(past, func(x, y *personGroup) int {
			return cmp.Or(a.pager.assigned[x].at.Compare(a.pager.assigned[y].at), cmp.Compare(x.id, y.id))
		})
		for _, g := range past {
			seen[g] = true
			ev := []string{h.event.ID}
			for _, n := range a.pager.notified[g] {
				if n.OccurredAt.Before(h.at) {
					ev = append(ev, n.ID)
				}
			}
			out.EscalatedPast = append(out.EscalatedPast, EscalatedPast{Person: g.ref(), Reason: h.reason, At: h.at.UTC(), EventIDs: ev})
		}
	}
	// Paged people who acknowledged in chat first.
	if a.page != nil {
		acked := map[*personGroup]bool{}
		for i := range a.events {
			e := &a.events[i]
			if e.OccurredAt.Before(a.page.OccurredAt) {
				continue
			}
			if e.OccurredAt.After(ack.OccurredAt) {
				break
			}
			if !isChat(e.Kind) || e.Kind == KindChatJoined {
				continue
			}
			g := a.idx.actorGroup(e)
			as, paged := a.pager.assigned[g]
			if g == nil || !paged || as.at.After(e.OccurredAt) || acked[g] || !chatAckRE.MatchString(e.Text) {
				continue
			}
			acked[g] = true
			out.AcknowledgedInChat = append(out.AcknowledgedInChat, ChatAck{At: e.OccurredAt.UTC(), By: g.ref(),
				Text: Truncate(e.Text, 120), EventIDs: []string{e.ID}})
		}
	}
	return out
}

func (a *analysis) mitigation() *Mitigation {
	if a.page == nil {
		return nil
	}
	p := a.page.OccurredAt
	var cands []MitigationCandidate
	for _, d := range a.deps {
		if !d.succeeded() || !d.at().After(p) || !a.cfg.isProduction(d.env) || !a.inSpan(d.at()) {
			continue
		}
		kind := MitigationFixDeploy
		if a.isRollback[d] {
			kind = MitigationRollback
		}
		title := d.terminal.Title
		if title == "" {
			title = deployTitle(d)
		}
		cands = append(cands, MitigationCandidate{At: d.at().UTC(), Kind: kind, Title: title, EventIDs: d.eventIDs()})
	}
	for i := range a.events {
		e := &a.events[i]
		if !e.OccurredAt.After(p) || !a.inSpan(e.OccurredAt) {
			continue
		}
		switch {
		case e.Kind == KindAlertResolved:
			cands = append(cands, MitigationCandidate{At: e.OccurredAt.UTC(), Kind: MitigationRecoveryAlert, Title: titleOf(e), EventIDs: []string{e.ID}})
		case strings.HasPrefix(e.Kind, "page.") && strings.EqualFold(detailString(e.Details, DetailUrgency), "low"):
			cands = append(cands, MitigationCandidate{At: e.OccurredAt.UTC(), Kind: MitigationUrgencyLowered, Title: titleOf(e), EventIDs: []string{e.ID}})
		}
	}
	if len(cands) == 0 {
		return nil
	}
	slices.SortStableFunc(cands, func(x, y MitigationCandidate) int {
		return cmp.Or(x.At.Compare(y.At), cmp.Compare(x.EventIDs[0], y.EventIDs[0]))
	})
	for i := range cands {
		cands[i].FollowedBy = a.followUps(cands[i].At)
	}
	// The suggestion is the first candidate that held (nothing paged or
	// alerted later than the grace after it), else the last one.
	chosen := len(cands) - 1
	for i := range cands {
		held := true
		for _, f := range cands[i].FollowedBy {
			if time.Duration(f.AfterS)*time.Second > mitigationGrace {
				held = false
			}
		}
		if held {
			chosen = i
			break
		}
	}
	c := cands[chosen]
	return &Mitigation{At: c.At, Kind: c.Kind, Title: c.Title, Suggested: true, Candidates: cands, EventIDs: c.EventIDs}
}

// followUps lists the alerts and pages after t, before the resolution: a
// notification just after an escalation or reassignment is that hand-off's,
// not a new page.
func (a *analysis) followUps(t time.Time) []FollowUp {
	out := []FollowUp{}
	lastHandoff := time.Time{}
	for i := range a.events {
		e := &a.events[i]
		if e.Kind == KindPageEscalated || e.Kind == KindPageReassigned {
			lastHandoff = e.OccurredAt
		}
		if !e.OccurredAt.After(t) || !a.inSpan(e.OccurredAt) {
			continue
		}
		switch e.Kind {
		case KindAlertTriggered, KindAlertFiring, KindPageTriggered:
		case KindPageNotified:
			if !lastHandoff.IsZero() && e.OccurredAt.Sub(lastHandoff) <= time.Minute {
				continue
			}
		default:
			continue
		}
		out = append(out, FollowUp{At: e.OccurredAt.UTC(), Kind: e.Kind, Title: titleOf(e),
			AfterS: *seconds(e.OccurredAt.Sub(t)), EventIDs: []string{e.ID}})
	}
	return out
}

func isChat(kind string) bool { return strings.HasPrefix(kind, "chat.") }
