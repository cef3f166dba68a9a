package pagerdutyfake

import (
	"cmp"
	"strconv"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/collectors/internal/fakeapi"
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

func (f *Fake) renderIncident(d *incidentData) fakeapi.Object {
	inc := d.inc
	status := inc.Status
	if status == "" {
		status = "triggered"
		if inc.ResolvedAt != nil {
			status = "resolved"
		}
	}
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
	assignments := []any{}
	if status != "resolved" {
		for _, a := range inc.Assignees {
			assignments = append(assignments, fakeapi.Obj("at", ts(inc.CreatedAt), "assignee", f.ref(a)))
		}
	}
	var resolvedAt, priority, firstTrigger any
	if inc.ResolvedAt != nil {
		resolvedAt = ts(*inc.ResolvedAt)
	}
	if inc.Priority != "" {
		id := "PPRI" + strings.ToUpper(inc.Priority)
		priority = wireRef{ID: id, Type: "priority_reference", Summary: inc.Priority, Self: f.apiBase() + "/priorities/" + id}
	}
	for _, le := range d.logs {
		if le.Type == "trigger_log_entry" {
			firstTrigger = wireRef{ID: le.ID, Type: "trigger_log_entry_reference", Summary: le.Summary,
				Self:    f.apiBase() + "/log_entries/" + le.ID + "?incident_id=" + inc.ID,
				HTMLURL: f.webBase() + "/incidents/" + inc.ID + "/log_entries/" + le.ID}
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
	return fakeapi.Obj(
		"id", inc.ID, "type", "incident", "summary", incidentSummary(inc),
		"self", f.apiBase()+"/incidents/"+inc.ID, "html_url", f.webBase()+"/incidents/"+inc.ID,
		"incident_number", inc.Number, "title", inc.Title, "created_at", ts(inc.CreatedAt), "updated_at", ts(updated),
		"status", status, "incident_key", inc.IncidentKey, "service", f.ref(inc.Service),
		"assignments", assignments, "assigned_via", "escalation_policy", "last_status_change_at", ts(lsc),
		"resolved_at", resolvedAt, "first_trigger_log_entry", fakeapi.OmitEmpty(firstTrigger),
		"alert_counts", counts, "is_mergeable", true, "incident_type", map[string]any{"name": "incident_default"},
		"escalation_policy", fakeapi.OmitEmpty(f.optRef(inc.EscalationPolicy)), "teams", f.refs(inc.Teams),
		"pending_actions", []any{}, "acknowledgements", []any{},
		"last_status_change_by", fakeapi.OmitEmpty(f.optRef(inc.LastStatusChangeBy)),
		"priority", priority, "resolve_reason", nil, "incidents_responders", []any{}, "responder_requests", []any{},
		"urgency", cmp.Or(inc.Urgency, "high"))
}

func (f *Fake) renderLogEntry(le *LogEntry) fakeapi.Object {
	ch := le.Channel
	if ch == nil {
		ch = map[string]any{"type": "auto"}
	}
	return fakeapi.Obj(
		"id", le.ID, "type", le.Type, "summary", le.Summary,
		"self", f.apiBase()+"/log_entries/"+le.ID+"?incident_id="+le.IncidentID,
		"html_url", f.webBase()+"/incidents/"+le.IncidentID+"/log_entries/"+le.ID,
		"created_at", ts(le.CreatedAt), "agent", f.optRef(le.Agent), "channel", ch,
		"incident", f.incidentRef(le.IncidentID), "teams", f.refs(le.Teams), "contexts", []any{},
		"event_details", fakeapi.OmitEmpty(le.EventDetails), "user", fakeapi.OmitEmpty(f.optRef(le.User)),
		"assignees", fakeapi.OmitEmpty(f.refs(le.Assignees)),
		"acknowledgement_timeout", fakeapi.OmitEmpty(le.AcknowledgementTimeout))
}

func (f *Fake) renderNote(n *Note) fakeapi.Object {
	updated := n.UpdatedAt
	if updated.IsZero() {
		updated = n.CreatedAt
	}
	return fakeapi.Obj(
		"id", n.ID, "user", f.ref(n.User),
		"channel", map[string]any{"summary": cmp.Or(n.ChannelSummary, "The PagerDuty website or APIs")},
		"content", n.Content, "created_at", n.CreatedAt.Format(time.RFC3339), "updated_at", updated.Format(time.RFC3339))
}

func (f *Fake) renderAlert(a *Alert) fakeapi.Object {
	details := a.Details
	if details == nil {
		details = map[string]any{}
	}
	var integration any
	if a.Integration != nil {
		in := f.ref(*a.Integration)
		in.Self = cmp.Or(in.Self, f.apiBase()+"/services/"+a.Service.ID+"/integrations/"+in.ID)
		in.HTMLURL = cmp.Or(in.HTMLURL, f.webBase()+"/services/"+a.Service.ID+"/integrations/"+in.ID)
		integration = in
	}
	return fakeapi.Obj(
		"id", a.ID, "type", "alert", "summary", a.Summary,
		"self", f.apiBase()+"/incidents/"+a.IncidentID+"/alerts/"+a.ID, "html_url", f.webBase()+"/alerts/"+a.ID,
		"created_at", ts(a.CreatedAt), "status", cmp.Or(a.Status, "triggered"), "alert_key", a.AlertKey,
		"service", f.ref(a.Service), "body", map[string]any{"type": "alert_body", "contexts": []any{}, "details": details},
		"incident", wireRef{ID: a.IncidentID, Type: "incident_reference"}, "suppressed", a.Suppressed,
		"severity", cmp.Or(a.Severity, "critical"), "integration", fakeapi.OmitEmpty(integration))
}

func (f *Fake) renderUser(u User) fakeapi.Object {
	return fakeapi.Obj(
		"name", u.Name, "email", u.Email, "time_zone", cmp.Or(u.TimeZone, "Etc/UTC"), "color", "green",
		"role", cmp.Or(u.Role, "user"), "avatar_url", "https://secure.gravatar.com/avatar/"+u.ID+".png?d=mm&r=PG",
		"description", nil, "invitation_sent", false, "job_title", u.JobTitle, "teams", []any{},
		"contact_methods", []any{}, "notification_rules", []any{},
		"id", u.ID, "type", "user", "summary", u.Name,
		"self", f.apiBase()+"/users/"+u.ID, "html_url", f.webBase()+"/users/"+u.ID)
}
