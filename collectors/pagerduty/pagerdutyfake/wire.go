package pagerdutyfake

import (
	"cmp"
	"strconv"
	"strings"
	"time"
)

// The wire structs follow the examples of PagerDuty's OpenAPI description
// (api-schema, reference/REST/openapiv3.json): field names, nesting and
// reference objects.

type wireRef struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Summary string `json:"summary,omitempty"`
	Self    string `json:"self,omitempty"`
	HTMLURL string `json:"html_url,omitempty"`
}

type listEnvelope struct {
	Limit  int  `json:"limit"`
	Offset int  `json:"offset"`
	More   bool `json:"more"`
	Total  *int `json:"total"`
}

type wireLogEntry struct {
	ID                     string            `json:"id"`
	Type                   string            `json:"type"`
	Summary                string            `json:"summary"`
	Self                   string            `json:"self"`
	HTMLURL                string            `json:"html_url"`
	CreatedAt              string            `json:"created_at"`
	Agent                  *wireRef          `json:"agent"`
	Channel                map[string]any    `json:"channel"`
	Incident               wireRef           `json:"incident"`
	Teams                  []wireRef         `json:"teams"`
	Contexts               []any             `json:"contexts"`
	EventDetails           map[string]string `json:"event_details,omitempty"`
	User                   *wireRef          `json:"user,omitempty"`
	Assignees              []wireRef         `json:"assignees,omitempty"`
	AcknowledgementTimeout *int              `json:"acknowledgement_timeout,omitempty"`
}

type wireNote struct {
	ID        string         `json:"id"`
	User      wireRef        `json:"user"`
	Channel   map[string]any `json:"channel"`
	Content   string         `json:"content"`
	CreatedAt string         `json:"created_at"`
	UpdatedAt string         `json:"updated_at"`
}

type wireAlert struct {
	ID          string         `json:"id"`
	Type        string         `json:"type"`
	Summary     string         `json:"summary"`
	Self        string         `json:"self"`
	HTMLURL     string         `json:"html_url"`
	CreatedAt   string         `json:"created_at"`
	Status      string         `json:"status"`
	AlertKey    string         `json:"alert_key"`
	Service     wireRef        `json:"service"`
	Body        map[string]any `json:"body"`
	Incident    wireRef        `json:"incident"`
	Suppressed  bool           `json:"suppressed"`
	Severity    string         `json:"severity"`
	Integration *wireRef       `json:"integration,omitempty"`
}

type wireAssignment struct {
	At       string  `json:"at"`
	Assignee wireRef `json:"assignee"`
}

type wireIncident struct {
	ID                   string           `json:"id"`
	Type                 string           `json:"type"`
	Summary              string           `json:"summary"`
	Self                 string           `json:"self"`
	HTMLURL              string           `json:"html_url"`
	IncidentNumber       int              `json:"incident_number"`
	Title                string           `json:"title"`
	CreatedAt            string           `json:"created_at"`
	UpdatedAt            string           `json:"updated_at"`
	Status               string           `json:"status"`
	IncidentKey          string           `json:"incident_key"`
	Service              wireRef          `json:"service"`
	Assignments          []wireAssignment `json:"assignments"`
	AssignedVia          string           `json:"assigned_via"`
	LastStatusChangeAt   string           `json:"last_status_change_at"`
	ResolvedAt           *string          `json:"resolved_at"`
	FirstTriggerLogEntry *wireRef         `json:"first_trigger_log_entry,omitempty"`
	AlertCounts          map[string]int   `json:"alert_counts"`
	IsMergeable          bool             `json:"is_mergeable"`
	IncidentType         map[string]any   `json:"incident_type"`
	EscalationPolicy     *wireRef         `json:"escalation_policy,omitempty"`
	Teams                []wireRef        `json:"teams"`
	PendingActions       []any            `json:"pending_actions"`
	Acknowledgements     []any            `json:"acknowledgements"`
	LastStatusChangeBy   *wireRef         `json:"last_status_change_by,omitempty"`
	Priority             *wireRef         `json:"priority"`
	ResolveReason        any              `json:"resolve_reason"`
	IncidentsResponders  []any            `json:"incidents_responders"`
	ResponderRequests    []any            `json:"responder_requests"`
	Urgency              string           `json:"urgency"`
}

type wireUser struct {
	Name              string    `json:"name"`
	Email             string    `json:"email"`
	TimeZone          string    `json:"time_zone"`
	Color             string    `json:"color"`
	Role              string    `json:"role"`
	AvatarURL         string    `json:"avatar_url"`
	Description       *string   `json:"description"`
	InvitationSent    bool      `json:"invitation_sent"`
	JobTitle          string    `json:"job_title"`
	Teams             []wireRef `json:"teams"`
	ContactMethods    []any     `json:"contact_methods"`
	NotificationRules []any     `json:"notification_rules"`
	ID                string    `json:"id"`
	Type              string    `json:"type"`
	Summary           string    `json:"summary"`
	Self              string    `json:"self"`
	HTMLURL           string    `json:"html_url"`
}

func (f *Fake) apiBase() string {
	if f.APIBase != "" {
		return strings.TrimRight(f.APIBase, "/")
	}
	return "https://api.pagerduty.com"
}

func (f *Fake) webBase() string {
	if f.WebBase != "" {
		return strings.TrimRight(f.WebBase, "/")
	}
	return "https://acme.pagerduty.com"
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// ref renders a reference, deriving its links from its type.
func (f *Fake) ref(r Ref) wireRef {
	out := wireRef{ID: r.ID, Type: r.Type, Summary: r.Summary, Self: r.Self, HTMLURL: r.HTMLURL}
	var api, web string
	switch r.Type {
	case "user_reference", "user", "bot_user_reference":
		api, web = "/users/"+r.ID, "/users/"+r.ID
	case "service_reference", "service":
		api, web = "/services/"+r.ID, "/service-directory/"+r.ID
	case "escalation_policy_reference":
		api, web = "/escalation_policies/"+r.ID, "/escalation_policies/"+r.ID
	case "team_reference":
		api, web = "/teams/"+r.ID, "/teams/"+r.ID
	case "incident_reference":
		api, web = "/incidents/"+r.ID, "/incidents/"+r.ID
	}
	if out.Self == "" && api != "" {
		out.Self = f.apiBase() + api
	}
	if out.HTMLURL == "" && web != "" {
		out.HTMLURL = f.webBase() + web
	}
	return out
}

func (f *Fake) refs(rs []Ref) []wireRef {
	out := make([]wireRef, 0, len(rs))
	for _, r := range rs {
		out = append(out, f.ref(r))
	}
	return out
}

func (f *Fake) optRef(r *Ref) *wireRef {
	if r == nil {
		return nil
	}
	w := f.ref(*r)
	return &w
}

func incidentSummary(inc *Incident) string {
	return "[#" + strconv.Itoa(inc.Number) + "] " + inc.Title
}

func (f *Fake) incidentRef(id string) wireRef {
	r := f.ref(Ref{ID: id, Type: "incident_reference"})
	if d, ok := f.incidents[id]; ok && d.inc != nil {
		r.Summary = incidentSummary(d.inc)
	}
	return r
}

func (f *Fake) renderIncident(d *incidentData) wireIncident {
	inc := d.inc
	status := inc.Status
	if status == "" {
		status = "triggered"
		if inc.ResolvedAt != nil {
			status = "resolved"
		}
	}
	urgency := cmp.Or(inc.Urgency, "high")
	lsc := inc.LastStatusChangeAt
	if lsc.IsZero() {
		lsc = inc.CreatedAt
		if inc.ResolvedAt != nil {
			lsc = *inc.ResolvedAt
		}
	}
	updated := inc.UpdatedAt
	if updated.IsZero() {
		updated = lsc
	}
	out := wireIncident{
		ID:                  inc.ID,
		Type:                "incident",
		Summary:             incidentSummary(inc),
		Self:                f.apiBase() + "/incidents/" + inc.ID,
		HTMLURL:             f.webBase() + "/incidents/" + inc.ID,
		IncidentNumber:      inc.Number,
		Title:               inc.Title,
		CreatedAt:           ts(inc.CreatedAt),
		UpdatedAt:           ts(updated),
		Status:              status,
		IncidentKey:         inc.IncidentKey,
		Service:             f.ref(inc.Service),
		Assignments:         []wireAssignment{},
		AssignedVia:         "escalation_policy",
		LastStatusChangeAt:  ts(lsc),
		IsMergeable:         true,
		IncidentType:        map[string]any{"name": "incident_default"},
		EscalationPolicy:    f.optRef(inc.EscalationPolicy),
		Teams:               f.refs(inc.Teams),
		PendingActions:      []any{},
		Acknowledgements:    []any{},
		LastStatusChangeBy:  f.optRef(inc.LastStatusChangeBy),
		IncidentsResponders: []any{},
		ResponderRequests:   []any{},
		Urgency:             urgency,
	}
	if status != "resolved" {
		for _, a := range inc.Assignees {
			out.Assignments = append(out.Assignments, wireAssignment{At: ts(inc.CreatedAt), Assignee: f.ref(a)})
		}
	}
	if inc.ResolvedAt != nil {
		s := ts(*inc.ResolvedAt)
		out.ResolvedAt = &s
	}
	if inc.Priority != "" {
		out.Priority = &wireRef{ID: "PPRI" + strings.ToUpper(inc.Priority), Type: "priority_reference",
			Summary: inc.Priority, Self: f.apiBase() + "/priorities/PPRI" + strings.ToUpper(inc.Priority)}
	}
	for _, le := range d.logs {
		if le.Type == "trigger_log_entry" {
			r := wireRef{ID: le.ID, Type: "trigger_log_entry_reference", Summary: le.Summary,
				Self:    f.apiBase() + "/log_entries/" + le.ID + "?incident_id=" + inc.ID,
				HTMLURL: f.webBase() + "/incidents/" + inc.ID + "/log_entries/" + le.ID}
			out.FirstTriggerLogEntry = &r
			break
		}
	}
	counts := map[string]int{"all": len(d.alerts), "triggered": 0, "resolved": 0}
	for _, a := range d.alerts {
		if a.Status == "resolved" {
			counts["resolved"]++
		} else {
			counts["triggered"]++
		}
	}
	out.AlertCounts = counts
	return out
}

func (f *Fake) renderLogEntry(le *LogEntry) wireLogEntry {
	ch := le.Channel
	if ch == nil {
		ch = map[string]any{"type": "auto"}
	}
	out := wireLogEntry{
		ID:                     le.ID,
		Type:                   le.Type,
		Summary:                le.Summary,
		Self:                   f.apiBase() + "/log_entries/" + le.ID + "?incident_id=" + le.IncidentID,
		HTMLURL:                f.webBase() + "/incidents/" + le.IncidentID + "/log_entries/" + le.ID,
		CreatedAt:              ts(le.CreatedAt),
		Agent:                  f.optRef(le.Agent),
		Channel:                ch,
		Incident:               f.incidentRef(le.IncidentID),
		Teams:                  f.refs(le.Teams),
		Contexts:               []any{},
		EventDetails:           le.EventDetails,
		User:                   f.optRef(le.User),
		AcknowledgementTimeout: le.AcknowledgementTimeout,
	}
	if len(le.Assignees) > 0 {
		out.Assignees = f.refs(le.Assignees)
	}
	return out
}

func (f *Fake) renderNote(n *Note) wireNote {
	chs := cmp.Or(n.ChannelSummary, "The PagerDuty website or APIs")
	updated := n.UpdatedAt
	if updated.IsZero() {
		updated = n.CreatedAt
	}
	return wireNote{
		ID:        n.ID,
		User:      f.ref(n.User),
		Channel:   map[string]any{"summary": chs},
		Content:   n.Content,
		CreatedAt: n.CreatedAt.Format(time.RFC3339),
		UpdatedAt: updated.Format(time.RFC3339),
	}
}

func (f *Fake) renderAlert(a *Alert) wireAlert {
	status := cmp.Or(a.Status, "triggered")
	sev := cmp.Or(a.Severity, "critical")
	details := a.Details
	if details == nil {
		details = map[string]any{}
	}
	out := wireAlert{
		ID:         a.ID,
		Type:       "alert",
		Summary:    a.Summary,
		Self:       f.apiBase() + "/incidents/" + a.IncidentID + "/alerts/" + a.ID,
		HTMLURL:    f.webBase() + "/alerts/" + a.ID,
		CreatedAt:  ts(a.CreatedAt),
		Status:     status,
		AlertKey:   a.AlertKey,
		Service:    f.ref(a.Service),
		Body:       map[string]any{"type": "alert_body", "contexts": []any{}, "details": details},
		Incident:   wireRef{ID: a.IncidentID, Type: "incident_reference"},
		Suppressed: a.Suppressed,
		Severity:   sev,
	}
	if a.Integration != nil {
		in := f.ref(*a.Integration)
		in.Self = cmp.Or(in.Self, f.apiBase()+"/services/"+a.Service.ID+"/integrations/"+in.ID)
		in.HTMLURL = cmp.Or(in.HTMLURL, f.webBase()+"/services/"+a.Service.ID+"/integrations/"+in.ID)
		out.Integration = &in
	}
	return out
}

func (f *Fake) renderUser(u User) wireUser {
	tz := cmp.Or(u.TimeZone, "Etc/UTC")
	role := cmp.Or(u.Role, "user")
	return wireUser{
		Name:              u.Name,
		Email:             u.Email,
		TimeZone:          tz,
		Color:             "green",
		Role:              role,
		AvatarURL:         "https://secure.gravatar.com/avatar/" + u.ID + ".png?d=mm&r=PG",
		JobTitle:          u.JobTitle,
		Teams:             []wireRef{},
		ContactMethods:    []any{},
		NotificationRules: []any{},
		ID:                u.ID,
		Type:              "user",
		Summary:           u.Name,
		Self:              f.apiBase() + "/users/" + u.ID,
		HTMLURL:           f.webBase() + "/users/" + u.ID,
	}
}
