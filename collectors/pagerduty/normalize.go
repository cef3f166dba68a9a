package pagerduty

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	pd "github.com/PagerDuty/go-pagerduty"

	"github.com/groundwork-dev/groundwork/timeline"
)

// titleLen is the longest title, in runes, that an event gets.
const titleLen = 120

// Every Normalize function returns its event through timeline.MakeStorable:
// NUL characters and invalid UTF-8 that the upstream sent are replaced, so
// that one message can never make a write fail.

// User is a PagerDuty user with the facts a timeline needs about a person.
type User struct {
	ID    string
	Name  string
	Email string
	// TimeZone is the user's IANA time zone (time_zone).
	TimeZone string
}

// UserResolver looks PagerDuty users up by id. It reports false when it does
// not know the user; the normalisers then fall back to the reference's
// summary, which PagerDuty fills with the user's name.
type UserResolver interface {
	User(id string) (User, bool)
}

// Users is a UserResolver backed by a map from user id.
type Users map[string]User

// User implements UserResolver.
func (u Users) User(id string) (User, bool) {
	v, ok := u[id]
	return v, ok
}

// LogEntryKind maps a log entry type (with or without its "_log_entry"
// suffix) to a timeline kind. It reports false for annotate entries, which are
// left out because the incident's notes are the same facts (PRODUCT.md §3).
// Every type it does not know is page.other.
func LogEntryKind(typ string) (kind string, keep bool) {
	switch strings.TrimSuffix(typ, "_log_entry") {
	case "trigger":
		return timeline.KindPageTriggered, true
	case "acknowledge", "acknowledgement":
		return timeline.KindPageAcknowledged, true
	case "unacknowledge":
		return timeline.KindPageUnacknowledged, true
	case "escalate":
		return timeline.KindPageEscalated, true
	case "assign", "delegate", "reassign":
		return timeline.KindPageReassigned, true
	case "notify":
		return timeline.KindPageNotified, true
	case "priority_change":
		return timeline.KindPagePriorityChanged, true
	case "resolve":
		return timeline.KindPageResolved, true
	case "annotate":
		return "", false
	default:
		// urgency_change, snooze, field_value_change, exhaust_escalation_path
		// and whatever PagerDuty adds later.
		return timeline.KindPageOther, true
	}
}

// SkipLogEntry reports whether a log entry stays off the timeline: annotate
// entries, whose notes are collected from the notes endpoint instead.
func SkipLogEntry(le pd.LogEntry) bool {
	_, keep := LogEntryKind(le.Type)
	return !keep
}

// NormalizeLogEntry turns one incident log entry into an event with id
// pagerduty:log_entry:{id}. The actor is the entry's agent (a user resolved
// through users, or the service or integration under its own name). For
// notify entries the notified user and the notification type go into
// details; assignees and escalation facts are kept where the entry has them.
// Annotate entries should be skipped by the caller (see SkipLogEntry); given
// one, it returns an error. users may be nil.
func NormalizeLogEntry(incidentID string, le pd.LogEntry, users UserResolver) (timeline.Event, error) {
	kind, keep := LogEntryKind(le.Type)
	if !keep {
		return timeline.Event{}, fmt.Errorf("log entry %s: %s entries are collected as notes", le.ID, le.Type)
	}
	at, err := parseTime(le.CreatedAt)
	if err != nil {
		return timeline.Event{}, fmt.Errorf("log entry %s: created_at: %w", le.ID, err)
	}
	details := map[string]any{"type": le.Type}
	// agent_type tells a person's action (user_reference) from a service's,
	// an integration's or an event rule's; the summary counts only people.
	if le.Agent.Type != "" {
		details["agent_type"] = le.Agent.Type
	}
	if le.Channel.Type != "" {
		details["channel"] = le.Channel.Type
	}
	if len(le.Assignees) > 0 {
		as := make([]map[string]any, 0, len(le.Assignees))
		for _, a := range le.Assignees {
			as = append(as, userDetail(a, users))
		}
		details["assignees"] = as
	}
	if lvl, ok := escalationLevel(le); ok {
		details[timeline.DetailEscalationLevel] = lvl
	}
	if kind == timeline.KindPageEscalated {
		// An escalate entry's channel is "timeout" when the escalation rule
		// moved the page on by itself; a person escalating is any other.
		reason := timeline.EscalationManual
		if le.Channel.Type == "timeout" {
			reason = timeline.EscalationTimeout
		}
		details[timeline.DetailEscalationReason] = reason
	}
	if u := urgencySet(le); u != "" {
		details[timeline.DetailUrgency] = u
	}
	if le.AcknowledgementTimeout > 0 {
		details["acknowledgement_timeout_s"] = le.AcknowledgementTimeout
	}
	if len(le.EventDetails) > 0 {
		ed := make(map[string]any, len(le.EventDetails))
		for k, v := range le.EventDetails {
			ed[k] = v
		}
		details["event_details"] = ed
	}
	switch kind {
	case timeline.KindPageNotified:
		if le.User.ID != "" || le.User.Summary != "" {
			details["user"] = userDetail(le.User, users)
		}
		if nt := notificationType(le.Channel); nt != "" {
			details["notification_type"] = nt
		}
	case timeline.KindPagePriorityChanged:
		if p := channelName(le.Channel, "old_priority"); p != "" {
			details["old_priority"] = p
		}
		if p := channelName(le.Channel, "new_priority"); p != "" {
			details["new_priority"] = p
		}
	}
	title := le.Summary
	if title == "" {
		title = strings.ReplaceAll(strings.TrimSuffix(le.Type, "_log_entry"), "_", " ")
	}
	return timeline.MakeStorable(timeline.Event{
		ID:         timeline.EventID(Name, "log_entry", le.ID),
		IncidentID: incidentID,
		Source:     Name,
		Kind:       kind,
		OccurredAt: at,
		Actor:      actorFor(pd.APIObject(le.Agent), users),
		Title:      timeline.Truncate(title, titleLen),
		Text:       le.EventDetails["description"],
		URL:        le.HTMLURL,
		Details:    details,
	}), nil
}

// NormalizeNote turns an incident note into a page.annotated event with id
// pagerduty:note:{id}, at its created_at converted to UTC (notes carry the
// author's local offset). users may be nil.
func NormalizeNote(incidentID string, n pd.IncidentNote, users UserResolver) (timeline.Event, error) {
	at, err := parseTime(n.CreatedAt)
	if err != nil {
		return timeline.Event{}, fmt.Errorf("note %s: created_at: %w", n.ID, err)
	}
	var details map[string]any
	if n.User.Type != "" {
		// As on log entries: a note by an event rule is not a person's.
		details = map[string]any{"agent_type": n.User.Type}
	}
	return timeline.MakeStorable(timeline.Event{
		ID:         timeline.EventID(Name, "note", n.ID),
		IncidentID: incidentID,
		Source:     Name,
		Kind:       timeline.KindPageAnnotated,
		OccurredAt: at,
		Actor:      actorFor(n.User, users),
		Title:      timeline.Truncate(n.Content, titleLen),
		Text:       n.Content,
		Details:    details,
	}), nil
}

// NormalizeAlert turns one of the incident's alerts into an alert.triggered
// event with id pagerduty:alert:{id} at its created_at; status, severity,
// alert_key and the alert body's custom details go into details. The actor is
// the integration that raised it, else its service.
func NormalizeAlert(incidentID string, a pd.IncidentAlert) (timeline.Event, error) {
	at, err := parseTime(a.CreatedAt)
	if err != nil {
		return timeline.Event{}, fmt.Errorf("alert %s: created_at: %w", a.ID, err)
	}
	details := map[string]any{}
	for k, v := range map[string]string{"status": a.Status, "severity": a.Severity, "alert_key": a.AlertKey, "service_id": a.Service.ID} {
		if v != "" {
			details[k] = v
		}
	}
	if a.Suppressed {
		details["suppressed"] = true
	}
	if cd, ok := a.Body["details"]; ok && cd != nil {
		details["body_details"] = cd
	}
	actor := actorFor(a.Integration, nil)
	if actor == nil {
		actor = actorFor(a.Service, nil)
	}
	return timeline.MakeStorable(timeline.Event{
		ID:         timeline.EventID(Name, "alert", a.ID),
		IncidentID: incidentID,
		Source:     Name,
		Kind:       timeline.KindAlertTriggered,
		OccurredAt: at,
		Actor:      actor,
		Title:      timeline.Truncate(a.Summary, titleLen),
		URL:        a.HTMLURL,
		Details:    details,
	}), nil
}

// NormalizeIncident reads the facts of an incident that its window and its
// timeline's heading rest on. ResolvedAt comes from resolved_at, or for a
// resolved incident whose payload lacks it, from last_status_change_at;
// StatusAt is last_status_change_at (PagerDuty's clock, as the webhooks'
// occurred_at), so that a collection planned from an older view does not
// undo a newer reopen or resolve (timeline.Incident.Refresh); its
// strings are made storable (timeline.StorableString).
func NormalizeIncident(inc pd.Incident) (timeline.Incident, error) {
	started, err := parseTime(inc.CreatedAt)
	if err != nil {
		return timeline.Incident{}, fmt.Errorf("incident %s: created_at: %w", inc.ID, err)
	}
	out := timeline.Incident{
		ID:        inc.ID,
		Title:     timeline.StorableString(inc.Title),
		ServiceID: timeline.StorableString(inc.Service.ID),
		Urgency:   timeline.StorableString(inc.Urgency),
		Source:    Name,
		StartedAt: started,
		URL:       timeline.StorableString(inc.HTMLURL),
	}
	if out.Title == "" {
		out.Title = timeline.StorableString(inc.Summary)
	}
	if t, err := parseTime(inc.LastStatusChangeAt); err == nil {
		out.StatusAt = t
	}
	resolved := inc.ResolvedAt
	if resolved == "" && inc.Status == "resolved" {
		resolved = inc.LastStatusChangeAt
	}
	if resolved != "" {
		t, err := parseTime(resolved)
		if err != nil {
			return timeline.Incident{}, fmt.Errorf("incident %s: resolved_at: %w", inc.ID, err)
		}
		out.ResolvedAt = &t
	}
	return out, nil
}

// parseTime reads a PagerDuty timestamp (ISO 8601 with any offset) as UTC.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", s)
	}
	return t.UTC(), nil
}

// isUserRef reports whether a reference type names a human user (bot users,
// such as event rules, are not people and keep their summary).
func isUserRef(typ string) bool {
	return typ == "user_reference" || typ == "user"
}

func actorFor(ref pd.APIObject, users UserResolver) *timeline.Actor {
	if ref.ID == "" && ref.Summary == "" {
		return nil
	}
	a := &timeline.Actor{ID: ref.ID, Name: ref.Summary}
	// Services, integrations, escalation policies and bot users (event
	// rules) are not people. A reference without a type is taken as
	// PagerDuty's summary of a person.
	a.Bot = ref.Type != "" && !isUserRef(ref.Type)
	if isUserRef(ref.Type) && users != nil {
		if u, ok := users.User(ref.ID); ok {
			if u.Name != "" {
				a.Name = u.Name
			}
			a.Email = u.Email
			a.TimeZone = u.TimeZone
		}
	}
	return a
}

func userDetail(ref pd.APIObject, users UserResolver) map[string]any {
	a := actorFor(ref, users)
	m := map[string]any{"id": ref.ID, "name": ref.Summary}
	if a != nil {
		m["name"] = a.Name
		if a.Email != "" {
			m["email"] = a.Email
		}
		if a.TimeZone != "" {
			m["time_zone"] = a.TimeZone
		}
	}
	return m
}

// notificationType is how a notify entry reached the user: sms, phone,
// email or push. The channel either names it directly or carries a
// notification object (with include[]=channels).
func notificationType(ch pd.Channel) string {
	t := ch.Type
	if n, ok := ch.Raw["notification"].(map[string]any); ok {
		if nt, ok := n["type"].(string); ok && nt != "" {
			t = nt
		}
	}
	return strings.TrimSuffix(t, "_notification")
}

// escalationLevel finds the escalation level an entry reports, in its
// channel or event details. PagerDuty does not report it on every entry.
func escalationLevel(le pd.LogEntry) (any, bool) {
	if v, ok := le.Channel.Raw["escalation_level"]; ok && v != nil {
		return v, true
	}
	if v, ok := le.EventDetails["escalation_level"]; ok && v != "" {
		return v, true
	}
	return nil, false
}

var urgencyRE = regexp.MustCompile(`(?i)urgency (?:changed|lowered|raised)(?: from \w+)? to (high|low)`)

// urgencySet is the urgency an urgency_change entry set: the channel's
// new_urgency where PagerDuty gives it, else read from the summary
// ("Urgency changed from high to low").
func urgencySet(le pd.LogEntry) string {
	if strings.TrimSuffix(le.Type, "_log_entry") != "urgency_change" {
		return ""
	}
	for _, k := range []string{"new_urgency", "urgency"} {
		if v, ok := le.Channel.Raw[k].(string); ok && v != "" {
			return strings.ToLower(v)
		}
	}
	if m := urgencyRE.FindStringSubmatch(le.Summary); m != nil {
		return strings.ToLower(m[1])
	}
	return ""
}

// channelName reads the name of an object in a log entry's channel, such as
// old_priority {"summary": "P3"} on a priority change.
func channelName(ch pd.Channel, key string) string {
	switch v := ch.Raw[key].(type) {
	case string:
		return v
	case map[string]any:
		for _, k := range []string{"summary", "name"} {
			if s, ok := v[k].(string); ok && s != "" {
				return s
			}
		}
	}
	return ""
}
