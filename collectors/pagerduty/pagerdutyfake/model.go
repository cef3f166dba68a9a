package pagerdutyfake

import "time"

// Ref is a reference to another PagerDuty object as it appears inside
// payloads ({"id", "type", "summary", "self", "html_url"}). Self and HTMLURL
// are derived from Type and ID when left empty.
type Ref struct {
	ID      string
	Type    string
	Summary string
	Self    string
	HTMLURL string
}

// UserRef references a user.
func UserRef(id, name string) Ref { return Ref{ID: id, Type: "user_reference", Summary: name} }

// ServiceRef references a service.
func ServiceRef(id, name string) Ref { return Ref{ID: id, Type: "service_reference", Summary: name} }

// IntegrationRef references an Events API v2 integration of a service.
func IntegrationRef(id, name string) Ref {
	return Ref{ID: id, Type: "events_api_v2_inbound_integration_reference", Summary: name}
}

// EscalationPolicyRef references an escalation policy.
func EscalationPolicyRef(id, name string) Ref {
	return Ref{ID: id, Type: "escalation_policy_reference", Summary: name}
}

// TeamRef references a team.
func TeamRef(id, name string) Ref { return Ref{ID: id, Type: "team_reference", Summary: name} }

// Incident seeds GET /incidents/{id}.
type Incident struct {
	ID     string
	Number int
	Title  string
	// Status is triggered, acknowledged or resolved; empty means resolved
	// when ResolvedAt is set, else triggered.
	Status string
	// Urgency is high or low (default high).
	Urgency     string
	IncidentKey string
	CreatedAt   time.Time
	// UpdatedAt defaults to LastStatusChangeAt.
	UpdatedAt  time.Time
	ResolvedAt *time.Time
	// LastStatusChangeAt defaults to ResolvedAt, else CreatedAt.
	LastStatusChangeAt time.Time
	LastStatusChangeBy *Ref
	Service            Ref
	EscalationPolicy   *Ref
	Teams              []Ref
	// Priority is a priority's name such as "P1"; empty renders null.
	Priority  string
	Assignees []Ref
}

// LogEntry seeds an incident's log entries (and the account-wide
// GET /log_entries).
type LogEntry struct {
	ID         string
	IncidentID string
	// Type such as "trigger_log_entry"; the suffix is added when missing.
	Type      string
	Summary   string
	CreatedAt time.Time
	// Agent is who or what acted (a user, service or integration).
	Agent *Ref
	// Channel is rendered as given (it must have a "type"); nil renders
	// {"type": "auto"}.
	Channel map[string]any
	// User is the notified user of a notify entry.
	User *Ref
	// Assignees of assign, escalate and trigger entries.
	Assignees              []Ref
	EventDetails           map[string]string
	AcknowledgementTimeout *int
	Teams                  []Ref
}

// Note seeds GET /incidents/{id}/notes. CreatedAt is rendered in its own
// location, so a note seeded with a -05:00 time shows that offset, as
// PagerDuty shows the author's.
type Note struct {
	ID         string
	IncidentID string
	User       Ref
	// ChannelSummary defaults to "The PagerDuty website or APIs".
	ChannelSummary string
	Content        string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Alert seeds GET /incidents/{id}/alerts.
type Alert struct {
	ID         string
	IncidentID string
	Summary    string
	// Status is triggered or resolved (default triggered).
	Status string
	// Severity is critical, error, warning or info (default critical).
	Severity    string
	AlertKey    string
	CreatedAt   time.Time
	Service     Ref
	Integration *Ref
	// Details are the alert body's custom details.
	Details    map[string]any
	Suppressed bool
}

// User seeds GET /users/{id}.
type User struct {
	ID       string
	Name     string
	Email    string
	TimeZone string
	Role     string
	JobTitle string
}
