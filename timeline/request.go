package timeline

import "time"

// CollectRequest asks for one incident's collection. Every field but
// IncidentID is an optional override (PRODUCT.md §4, §5). It is also the
// payload of a durable collection job, so its JSON form is stable.
type CollectRequest struct {
	IncidentID string     `json:"incident_id"`
	Title      string     `json:"title,omitempty"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
	// Since and Until override the window's ends.
	Since    *time.Time `json:"since,omitempty"`
	Until    *time.Time `json:"until,omitempty"`
	Repos    []string   `json:"github_repos,omitempty"`
	Channels []string   `json:"slack_channels,omitempty"`
}
