package timeline

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The review packet is what a facilitator pastes into the review document:
// about three pages holding the Retrospective Prime Directive, the facts
// and phase durations, the key moments with links, the people, the changes
// in flight, the context, the questions, the blind spots, the annotations
// and links to the full timeline. BuildPacket derives it from the prepared
// review and the incident's annotations; it does no I/O. Each list is
// capped so that the Markdown stays within MaxPacketLines; what a cap left
// out is counted, and the full timeline holds it.

// PrimeDirective is Norm Kerth's Retrospective Prime Directive, verbatim.
const PrimeDirective = "Regardless of what we discover, we understand and truly believe that everyone did the best job " +
	"they could, given what they knew at the time, their skills and abilities, the resources available, and the situation at hand."

// PrimeDirectiveBy attributes PrimeDirective.
const PrimeDirectiveBy = "Norm Kerth, Project Retrospectives: A Handbook for Team Reviews"

// Caps of the packet's lists: with every list full, the Markdown is 148
// lines (TestPacketMarkdownWithinBudget).
const (
	MaxPacketLines       = 150
	maxPacketMoments     = 20
	maxPacketPeople      = 12
	maxPacketChanges     = 10
	maxPacketQuestions   = 12
	maxPacketBlindSpots  = 6
	maxPacketAnnotations = 10
	maxPacketContext     = 6
	packetNoteLen        = 240
)

// Packet is the review packet of one incident. Times are UTC; the
// renderers show them in Timezone.
type Packet struct {
	IncidentID     string             `json:"incident_id"`
	Title          string             `json:"title"`
	Status         string             `json:"status"`
	Timezone       string             `json:"timezone"`
	PrimeDirective PacketQuote        `json:"prime_directive"`
	Facts          PacketFacts        `json:"facts"`
	Phases         []PacketPhase      `json:"phases"`
	Durations      []PacketDuration   `json:"durations"`
	KeyMoments     []PacketMoment     `json:"key_moments"`
	People         []PacketPerson     `json:"people"`
	Changes        PacketChanges      `json:"changes"`
	Context        []PacketContext    `json:"context"`
	Questions      []ReviewedQuestion `json:"questions"`
	BlindSpots     []PacketBlindSpot  `json:"blind_spots"`
	Annotations    []PacketAnnotation `json:"annotations"`
	// Omitted counts what each capped list left out, by list name
	// (key_moments, people, changes, questions, blind_spots, annotations,
	// context); a list with nothing left out is absent.
	Omitted map[string]int `json:"omitted"`
	Links   PacketLinks    `json:"links"`

	loc *time.Location
}

// PacketQuote is a quotation and whom it is by.
type PacketQuote struct {
	Text string `json:"text"`
	By   string `json:"by"`
}

// PacketFacts are the incident's facts.
type PacketFacts struct {
	StartedAt  time.Time  `json:"started_at"`
	ResolvedAt *time.Time `json:"resolved_at"`
	ServiceID  string     `json:"service_id"`
	Urgency    string     `json:"urgency"`
	// URL is the incident upstream; nil when unknown.
	URL        *string `json:"url"`
	Responders int     `json:"responders"`
	// OthersActive acted in the window without responding.
	OthersActive      int `json:"others_active"`
	ProductionDeploys int `json:"production_deploys"`
}

// PacketPhase is one phase of the incident.
type PacketPhase struct {
	// Phase is detection, page, first_ack, mitigation or resolved.
	Phase string    `json:"phase"`
	At    time.Time `json:"at"`
	Title string    `json:"title"`
	// Detail says how the data shows it (by whom, at which level, which
	// rule); Suggested marks a phase a person has yet to confirm.
	Detail    string   `json:"detail"`
	Suggested bool     `json:"suggested"`
	EventIDs  []string `json:"event_ids"`
}

// PacketDuration is one of the incident's durations.
type PacketDuration struct {
	// Name is the Durations field's JSON name; Label says it in words.
	Name    string `json:"name"`
	Label   string `json:"label"`
	Seconds int64  `json:"seconds"`
}

// PacketMoment is one key moment, with links.
type PacketMoment struct {
	At     time.Time `json:"at"`
	Moment string    `json:"moment"`
	Title  string    `json:"title"`
	// URL is the first cited event upstream; nil when unknown.
	URL *string `json:"url"`
	// TimelineURL is the timeline at that moment.
	TimelineURL string   `json:"timeline_url"`
	EventIDs    []string `json:"event_ids"`
}

// PacketPerson is one responder: how they came and when they were there.
// The packet counts nobody's messages.
type PacketPerson struct {
	Name         string    `json:"name"`
	Mode         string    `json:"mode"`
	Modes        []string  `json:"modes"`
	PresentFrom  time.Time `json:"present_from"`
	PresentUntil time.Time `json:"present_until"`
	Roles        []string  `json:"roles"`
	// FirstPaged is the first interruption in the person's own zone; nil
	// when never paged.
	FirstPaged *PacketLocal `json:"first_paged"`
}

// PacketLocal is a moment in a person's own zone.
type PacketLocal struct {
	LocalTime  string `json:"local_time"`
	Zone       string `json:"zone"`
	LocalClass string `json:"local_class"`
	Weekend    bool   `json:"weekend"`
}

// PacketChanges are the changes in flight, without authors.
type PacketChanges struct {
	Note      string         `json:"note"`
	Items     []PacketChange `json:"items"`
	NotListed NotListed      `json:"not_listed"`
}

// PacketChange is one production deployment.
type PacketChange struct {
	Repo        string  `json:"repo"`
	Environment string  `json:"environment"`
	Ref         string  `json:"ref"`
	SHA         string  `json:"sha"`
	State       string  `json:"state"`
	Relation    *string `json:"relation_to_page"`
	// At is when it went live or failed, else began.
	At           *time.Time    `json:"at"`
	PullRequests []ShippedPull `json:"pull_requests"`
	Rollback     bool          `json:"rollback"`
	RolledBack   bool          `json:"rolled_back"`
	EventIDs     []string      `json:"event_ids"`
}

// Kinds of context (PacketContext.Kind).
const (
	ContextOverlapping = "overlapping_incident"
	ContextCalendar    = "calendar"
	ContextPressure    = "production_pressure"
	ContextPrecursor   = "precursor_alert"
	ContextOffHours    = "outside_business_hours"
)

// PacketContext is one thing that surrounded the incident, said in words.
type PacketContext struct {
	Kind     string   `json:"kind"`
	Text     string   `json:"text"`
	EventIDs []string `json:"event_ids"`
}

// Kinds of blind spot (PacketBlindSpot.Kind).
const (
	BlindSpotCall       = "call"
	BlindSpotQuiet      = "quiet"
	BlindSpotAnnotation = "annotation"
)

// PacketBlindSpot is a stretch the timeline cannot see into: a call, a
// silence of every human lane, or one a person marked.
type PacketBlindSpot struct {
	Kind     string     `json:"kind"`
	At       *time.Time `json:"at"`
	Until    *time.Time `json:"until"`
	Text     string     `json:"text"`
	EventIDs []string   `json:"event_ids"`
}

// PacketAnnotation is a marker or note on the timeline.
type PacketAnnotation struct {
	ID       string     `json:"id"`
	Marker   string     `json:"marker"`
	Title    string     `json:"title"`
	Note     string     `json:"note"`
	At       *time.Time `json:"at"`
	Author   string     `json:"author"`
	Status   string     `json:"status"`
	Orphaned bool       `json:"orphaned"`
	EventIDs []string   `json:"event_ids"`
}

// PacketLinks are the addresses the packet links to; the API fills them
// in.
type PacketLinks struct {
	// Timeline is the full timeline in the API; TimelineMarkdown the same
	// as Markdown; Page the meeting page; Questions the questions.
	Timeline         string `json:"timeline"`
	TimelineMarkdown string `json:"timeline_markdown"`
	Page             string `json:"page"`
	Questions        string `json:"questions"`
	// MomentFunc returns the address of the timeline at a moment; nil
	// links moments to Timeline.
	MomentFunc func(at time.Time) string `json:"-"`
}

// ReviewedQuestion is a question and what a person made of it.
type ReviewedQuestion struct {
	Question
	// AnnotationID and Status are those of the suggested annotation the
	// question is recorded as; nil when it is not recorded.
	AnnotationID *string `json:"annotation_id"`
	Status       *string `json:"status"`
}

// ReviewQuestions pairs each question with its suggested annotation among
// anns (by SuggestedKey). recorded says every question was offered to the
// store (AnnotationStore.SuggestAnnotations), so that one without a live
// annotation was deleted by a person. Questions a person dismissed or
// deleted are left out and counted, unless includeDismissed, which keeps
// the dismissed ones (never the deleted).
func ReviewQuestions(qs []Question, anns []Annotation, recorded, includeDismissed bool) (out []ReviewedQuestion, left int) {
	byKey := make(map[string]*Annotation, len(anns))
	for i := range anns {
		if anns[i].Suggested && !anns[i].Deleted {
			byKey[anns[i].SuggestedKey] = &anns[i]
		}
	}
	out = []ReviewedQuestion{}
	for _, q := range qs {
		rq := ReviewedQuestion{Question: q}
		a := byKey[q.SuggestedKey()]
		switch {
		case a != nil:
			id, st := a.ID, a.Status
			rq.AnnotationID, rq.Status = &id, &st
			if st == AnnotationDismissed && !includeDismissed {
				left++
				continue
			}
		case recorded:
			left++ // deleted by a person
			continue
		}
		out = append(out, rq)
	}
	return out, left
}

// BuildPacket derives the review packet of inc from its prepared review,
// its questions (as ReviewQuestions paired them) and its annotations
// (dismissed and question ones are left out here: the questions carry
// theirs).
func BuildPacket(inc Incident, rv Review, qs []ReviewedQuestion, anns []Annotation, links PacketLinks) Packet {
	s := rv.Summary
	loc := loadLocation(s.Context.Timezone)
	if loc == nil {
		loc = time.UTC
	}
	p := Packet{IncidentID: inc.ID, Title: cmp.Or(inc.Title, inc.ID), Status: inc.Status(), Timezone: loc.String(),
		PrimeDirective: PacketQuote{Text: PrimeDirective, By: PrimeDirectiveBy},
		Facts: PacketFacts{StartedAt: inc.StartedAt.UTC(), ResolvedAt: utcTimePtr(inc.ResolvedAt), ServiceID: inc.ServiceID,
			Urgency: inc.Urgency, Responders: len(rv.People.Responders), OthersActive: len(rv.People.OthersActive),
			ProductionDeploys: len(rv.Changes.Changes)},
		Phases: packetPhases(s.Phases), Durations: packetDurations(s.Durations),
		Omitted: map[string]int{}, Links: links, loc: loc}
	if inc.URL != "" {
		u := inc.URL
		p.Facts.URL = &u
	}
	p.KeyMoments = capList(p, "key_moments", packetMoments(rv, anns, links), maxPacketMoments)
	p.People = capList(p, "people", packetPeople(rv.People), maxPacketPeople)
	p.Changes = PacketChanges{Note: ChangesNote, NotListed: rv.Changes.NotListed,
		Items: capList(p, "changes", packetChangeList(rv.Changes), maxPacketChanges)}
	p.Context = capList(p, "context", packetContext(s, loc), maxPacketContext)
	var asked []ReviewedQuestion
	for _, q := range qs {
		if q.Pattern != PatternMovedToCall {
			asked = append(asked, q)
		}
	}
	p.Questions = capList(p, "questions", nonNilSlice(asked), maxPacketQuestions)
	p.BlindSpots = capList(p, "blind_spots", packetBlindSpots(s, qs, anns, loc), maxPacketBlindSpots)
	p.Annotations = capList(p, "annotations", packetAnnotations(anns), maxPacketAnnotations)
	return p
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// capList keeps the first n of list and counts the rest in p.Omitted.
func capList[T any](p Packet, name string, list []T, n int) []T {
	if len(list) > n {
		p.Omitted[name] = len(list) - n
		return list[:n]
	}
	return nonNilSlice(list)
}

func utcTimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// Phase names (PacketPhase.Phase).
const (
	PhaseDetection  = "detection"
	PhasePage       = "page"
	PhaseFirstAck   = "first_ack"
	PhaseMitigation = "mitigation"
	PhaseResolved   = "resolved"
)

func packetPhases(ph Phases) []PacketPhase {
	out := []PacketPhase{}
	if d := ph.Detection; d != nil {
		detail := "the alert"
		if d.Kind == DetectionHuman && d.By != nil {
			detail = "noticed by " + d.By.Name
		}
		out = append(out, PacketPhase{Phase: PhaseDetection, At: d.At, Title: d.Title, Detail: detail + "; " + d.Basis, EventIDs: d.EventIDs})
	}
	if pg := ph.Page; pg != nil {
		out = append(out, PacketPhase{Phase: PhasePage, At: pg.At, Title: pg.Title, Detail: "the page", EventIDs: pg.EventIDs})
	}
	if a := ph.FirstAck; a != nil {
		var parts []string
		if a.By != nil {
			parts = append(parts, "by "+a.By.Name)
		}
		if a.EscalationLevel != nil {
			parts = append(parts, fmt.Sprintf("at level %d", *a.EscalationLevel))
		}
		for _, e := range a.EscalatedPast {
			parts = append(parts, fmt.Sprintf("after the page left %s (%s)", e.Person.Name, strings.ReplaceAll(e.Reason, "_", " ")))
		}
		if n := len(a.AcknowledgedInChat); n > 0 {
			parts = append(parts, fmt.Sprintf("acknowledged in chat first by %s", a.AcknowledgedInChat[0].By.Name))
		}
		out = append(out, PacketPhase{Phase: PhaseFirstAck, At: a.At, Title: "First acknowledgement in the pager",
			Detail: strings.Join(parts, ", "), EventIDs: a.EventIDs})
	}
	if m := ph.Mitigation; m != nil {
		detail := strings.ReplaceAll(m.Kind, "_", " ")
		if m.Suggested && m.ConfirmedBy == nil {
			detail += "; suggested by Groundwork, to confirm in the review"
		} else if m.ConfirmedBy != nil {
			detail += "; confirmed by " + *m.ConfirmedBy
		}
		out = append(out, PacketPhase{Phase: PhaseMitigation, At: m.At, Title: m.Title, Detail: detail,
			Suggested: m.Suggested && m.ConfirmedBy == nil, EventIDs: m.EventIDs})
	}
	if r := ph.Resolved; r != nil {
		out = append(out, PacketPhase{Phase: PhaseResolved, At: r.At, Title: r.Title, Detail: "the resolution", EventIDs: r.EventIDs})
	}
	return out
}

func packetDurations(d Durations) []PacketDuration {
	out := []PacketDuration{}
	for _, x := range []struct {
		name, label string
		v           *int64
	}{
		{"detect_to_page_s", "Detection to page", d.DetectToPageS},
		{"page_to_ack_s", "Page to first acknowledgement", d.PageToAckS},
		{"page_to_mitigate_s", "Page to mitigation (suggested)", d.PageToMitigateS},
		{"mitigate_to_resolve_s", "Mitigation to resolution", d.MitigateToResolveS},
		{"to_resolve_s", "Start to resolution", d.ToResolveS},
		{"last_deploy_to_first_alert_s", "Last production deploy to first alert", d.LastDeployToFirstAlertS},
	} {
		if x.v != nil {
			out = append(out, PacketDuration{Name: x.name, Label: x.label, Seconds: *x.v})
		}
	}
	return out
}

// momentMarkers are the annotation markers that make a key moment.
var momentMarkers = []string{MarkerKeyMoment, MarkerStar, MarkerDetection, MarkerDiagnosis, MarkerRepair, MarkerHandoff, MarkerCoordination}

func packetMoments(rv Review, anns []Annotation, links PacketLinks) []PacketMoment {
	var out []PacketMoment
	seen := map[string]bool{}
	// Events a person hid are no key moment.
	hidden := map[string]bool{}
	for _, a := range anns {
		if a.Marker == MarkerHide && !a.Deleted && a.Status != AnnotationDismissed {
			for _, id := range a.EventIDs {
				hidden[id] = true
			}
		}
	}
	link := func(at time.Time) string {
		if links.MomentFunc != nil {
			return links.MomentFunc(at)
		}
		return links.Timeline
	}
	add := func(m PacketMoment) {
		if len(m.EventIDs) > 0 && !slices.ContainsFunc(m.EventIDs, func(id string) bool { return !hidden[id] }) {
			return
		}
		if len(m.EventIDs) > 0 {
			if seen[m.Moment+"\x00"+m.EventIDs[0]] {
				return
			}
			seen[m.Moment+"\x00"+m.EventIDs[0]] = true
			for _, id := range m.EventIDs {
				if u := rv.URLs[id]; u != "" {
					m.URL = &u
					break
				}
			}
		}
		m.At = m.At.UTC()
		m.TimelineURL = link(m.At)
		out = append(out, m)
	}
	if d := rv.Summary.Phases.Detection; d != nil && d.Kind == DetectionHuman {
		add(PacketMoment{At: d.At, Moment: PhaseDetection, Title: d.Title, EventIDs: d.EventIDs})
	}
	for _, k := range rv.Summary.KeyMoments {
		add(PacketMoment{At: k.At, Moment: k.Moment, Title: k.Title, EventIDs: k.EventIDs})
	}
	if m := rv.Summary.Phases.Mitigation; m != nil && m.Kind != MitigationRollback {
		add(PacketMoment{At: m.At, Moment: PhaseMitigation, Title: m.Title, EventIDs: m.EventIDs})
	}
	for _, a := range anns {
		if a.Deleted || a.Status == AnnotationDismissed || strings.HasPrefix(a.SuggestedKey, SuggestKeyQuestion) ||
			!slices.Contains(momentMarkers, a.Marker) {
			continue
		}
		at := a.At
		if at == nil {
			continue // a marker on events only: the annotations list shows it
		}
		add(PacketMoment{At: *at, Moment: a.Marker, Title: cmp.Or(a.Title, a.Marker), EventIDs: nonNilSlice(slices.Clone(a.EventIDs))})
	}
	slices.SortStableFunc(out, func(x, y PacketMoment) int { return x.At.Compare(y.At) })
	return out
}

// modeLabels say the modes of engagement in words.
var modeLabels = map[string]string{
	ModePaged:               "paged",
	ModePagedByEscalation:   "paged by escalation",
	ModeAddedByReassignment: "added by reassignment",
	ModeSelfJoined:          "joined on their own",
	ModePresentBeforePage:   "there before the page",
	ModeObserver:            "followed the channel",
}

var roleLabels = map[string]string{
	RoleIncidentCommander:      "incident commander",
	RoleAssignedByReassignment: "assigned by reassignment",
	RoleHandedOver:             "handed the page over",
}

func packetPeople(pp People) []PacketPerson {
	out := []PacketPerson{}
	for _, r := range pp.Responders {
		p := PacketPerson{Name: r.Name, Mode: r.Mode, Modes: r.Modes, PresentFrom: r.PresentFrom, PresentUntil: r.PresentUntil, Roles: []string{}}
		for _, ro := range r.Roles {
			if l := roleLabels[ro.Role]; l != "" && !slices.Contains(p.Roles, l) {
				p.Roles = append(p.Roles, l)
			}
		}
		if len(r.Interruptions) > 0 {
			in := r.Interruptions[0]
			p.FirstPaged = &PacketLocal{LocalTime: in.LocalTime, Zone: in.Zone, LocalClass: in.LocalClass, Weekend: in.Weekend}
		}
		out = append(out, p)
	}
	return out
}

func packetChangeList(c Changes) []PacketChange {
	out := []PacketChange{}
	for _, ch := range c.Changes {
		out = append(out, PacketChange{Repo: ch.Repo, Environment: ch.Environment, Ref: ch.Ref, SHA: ch.SHA, State: ch.State,
			Relation: ch.RelationToPage, At: utcTimePtr(changeEnd(ch)), PullRequests: nonNilSlice(ch.PullRequests),
			Rollback: ch.Rollback, RolledBack: ch.RolledBack, EventIDs: ch.EventIDs})
	}
	return out
}

func packetContext(s Summary, loc *time.Location) []PacketContext {
	out := []PacketContext{}
	hm := func(t time.Time) string { return t.In(loc).Format("15:04") }
	for _, o := range s.Context.OverlappingIncidents {
		var shares []string
		if n := len(o.Shares.Channels); n > 0 {
			shares = append(shares, "channels "+strings.Join(o.Shares.Channels, ", "))
		}
		if n := len(o.Shares.Repos); n > 0 {
			shares = append(shares, "repositories "+strings.Join(o.Shares.Repos, ", "))
		}
		if n := len(o.Shares.Responders); n > 0 {
			shares = append(shares, fmt.Sprintf("%d responders", n))
		}
		text := fmt.Sprintf("Another incident was open at the same time: %s “%s” from %s", o.ID, Truncate(o.Title, 80), o.StartedAt.In(loc).Format("2006-01-02 15:04"))
		if o.ResolvedAt != nil {
			text += " to " + o.ResolvedAt.In(loc).Format("2006-01-02 15:04")
		}
		if len(shares) > 0 {
			text += ", sharing " + strings.Join(shares, " and ")
		}
		out = append(out, PacketContext{Kind: ContextOverlapping, Text: text + ".", EventIDs: []string{}})
	}
	for _, c := range s.Context.Calendar {
		out = append(out, PacketContext{Kind: ContextCalendar, Text: fmt.Sprintf("On the calendar: %s (%s, %s to %s).", c.Title, c.Kind,
			c.Start.In(loc).Format("2006-01-02 15:04"), c.End.In(loc).Format("2006-01-02 15:04")), EventIDs: []string{}})
	}
	pp := s.Context.ProductionPressure
	if pp.Window.Merges+pp.Window.ProductionDeploys > 0 {
		text := fmt.Sprintf("In the collection window: %s and %s; %s and %s while the incident was open",
			plural(pp.Window.Merges, "merge"), plural(pp.Window.ProductionDeploys, "production deploy"),
			plural(pp.DuringIncident.Merges, "merge"), plural(pp.DuringIncident.ProductionDeploys, "production deploy"))
		if r := pp.WindowRatio; r != nil && r.Merges != nil {
			text += fmt.Sprintf(" (merges at %.1f× the %d-day baseline's daily rate)", *r.Merges, BaselineDays)
		}
		out = append(out, PacketContext{Kind: ContextPressure, Text: text + ".", EventIDs: nonNilSlice(pp.EventIDs)})
	}
	for _, a := range s.PrecursorAlerts {
		text := fmt.Sprintf("An earlier alert was firing: “%s” since %s", Truncate(a.Title, 80), hm(a.At))
		if a.BeforePageS != nil {
			text += fmt.Sprintf(", %s before the page", humanDuration(time.Duration(*a.BeforePageS)*time.Second))
		}
		out = append(out, PacketContext{Kind: ContextPrecursor, Text: text + ".", EventIDs: a.EventIDs})
	}
	if n := s.Context.EventsOutsideBusinessHours; n > 0 {
		out = append(out, PacketContext{Kind: ContextOffHours, Text: fmt.Sprintf("%d pager, alert and chat events fell outside business hours (%s).",
			n, s.Context.Timezone), EventIDs: []string{}})
	}
	return out
}

func packetBlindSpots(s Summary, qs []ReviewedQuestion, anns []Annotation, loc *time.Location) []PacketBlindSpot {
	var out []PacketBlindSpot
	for _, q := range qs {
		if q.Pattern == PatternMovedToCall {
			out = append(out, PacketBlindSpot{Kind: BlindSpotCall, At: q.At, Text: q.Text, EventIDs: q.EventIDs})
		}
	}
	for _, g := range s.Gaps {
		if !g.AllLanesQuiet {
			continue
		}
		from, until := g.Start, g.End
		out = append(out, PacketBlindSpot{Kind: BlindSpotQuiet, At: &from, Until: &until,
			Text: fmt.Sprintf("Nothing in the chat or the pager for %s, %s to %s. What was happening then?",
				humanDuration(time.Duration(g.Seconds)*time.Second), from.In(loc).Format("15:04"), until.In(loc).Format("15:04")),
			EventIDs: []string{g.AfterEventID, g.BeforeEventID}})
	}
	for _, a := range anns {
		if a.Marker != MarkerBlindSpot || a.Deleted || a.Status == AnnotationDismissed || strings.HasPrefix(a.SuggestedKey, SuggestKeyQuestion) {
			continue
		}
		out = append(out, PacketBlindSpot{Kind: BlindSpotAnnotation, At: utcTimePtr(a.At), Text: oneLine(cmp.Or(a.Title, a.Note), packetNoteLen),
			EventIDs: nonNilSlice(slices.Clone(a.EventIDs))})
	}
	slices.SortStableFunc(out, func(x, y PacketBlindSpot) int { return compareTimePtr(x.At, y.At) })
	return nonNilSlice(out)
}

// packetAnnotations are the annotations worth pasting: not dismissed, not
// a question (the questions carry theirs), not a hide marker, not a blind
// spot (the blind spots carry those).
func packetAnnotations(anns []Annotation) []PacketAnnotation {
	out := []PacketAnnotation{}
	for _, a := range anns {
		if a.Deleted || a.Status == AnnotationDismissed || strings.HasPrefix(a.SuggestedKey, SuggestKeyQuestion) ||
			a.Marker == MarkerHide || a.Marker == MarkerBlindSpot {
			continue
		}
		out = append(out, PacketAnnotation{ID: a.ID, Marker: a.Marker, Title: a.Title, Note: oneLine(a.Note, packetNoteLen),
			At: utcTimePtr(a.At), Author: a.Author, Status: a.Status, Orphaned: a.Orphaned(), EventIDs: nonNilSlice(slices.Clone(a.EventIDs))})
	}
	slices.SortStableFunc(out, func(x, y PacketAnnotation) int { return compareTimePtr(x.At, y.At) })
	return out
}

// oneLine folds s to one line of at most n runes.
func oneLine(s string, n int) string {
	return Truncate(strings.Join(strings.Fields(s), " "), n)
}

// citedURLs maps the events the summary's key moments and phases and the
// questions cite to their upstream URLs.
func citedURLs(rv Review, events []Event) map[string]string {
	want := map[string]bool{}
	note := func(ids []string) {
		for _, id := range ids {
			want[id] = true
		}
	}
	for _, m := range rv.Summary.KeyMoments {
		note(m.EventIDs)
	}
	ph := rv.Summary.Phases
	if ph.Detection != nil {
		note(ph.Detection.EventIDs)
	}
	if ph.Page != nil {
		note(ph.Page.EventIDs)
	}
	if ph.FirstAck != nil {
		note(ph.FirstAck.EventIDs)
	}
	if ph.Mitigation != nil {
		note(ph.Mitigation.EventIDs)
	}
	if ph.Resolved != nil {
		note(ph.Resolved.EventIDs)
	}
	for _, q := range rv.Questions {
		note(q.EventIDs)
	}
	out := map[string]string{}
	for i := range events {
		if e := &events[i]; e.URL != "" && want[e.ID] {
			out[e.ID] = e.URL
		}
	}
	return out
}
