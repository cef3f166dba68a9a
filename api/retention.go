package api

import (
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/groundwork-dev/groundwork/timeline"
)

// IncidentRemovalJSON is the feed's entry for a deleted incident: drop
// every event and annotation of it. It carries "type": "incident".
type IncidentRemovalJSON struct {
	Type       string `json:"type"`
	IncidentID string `json:"incident_id"`
	Deleted    bool   `json:"deleted"`
	Seq        int64  `json:"seq"`
	DeletedAt  string `json:"deleted_at"`
}

// feedTypeIncident is the type of the feed's incident removals.
const feedTypeIncident = "incident"

func incidentRemovalJSON(rm timeline.IncidentRemoval) IncidentRemovalJSON {
	return IncidentRemovalJSON{Type: feedTypeIncident, IncidentID: rm.IncidentID, Deleted: true, Seq: rm.Seq,
		DeletedAt: formatTime(rm.RemovedAt)}
}

// deleteIncident is DELETE /v1/incidents/{id}: the incident and everything
// stored of it go, and the feed carries one removal for it. 204 when done,
// 404 for an unknown incident, 409 while a collection of it runs.
func (s *Server) deleteIncident(w http.ResponseWriter, r *http.Request) (err error) {
	id := r.PathValue("id")
	if err := checkIncidentID(id); err != nil {
		return err
	}
	if err := onlyParams(r); err != nil {
		return err
	}
	if s.Deleter == nil {
		return &Error{Status: http.StatusServiceUnavailable, Code: "deletion_unavailable",
			Message: "this server does not delete incidents"}
	}
	rm, err := s.Deleter.DeleteIncident(r.Context(), id, tokenName(r))
	switch {
	case errors.Is(err, timeline.ErrNotFound):
		return incidentNotFound(id)
	case errors.Is(err, timeline.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: "collection_running",
			Message: "a collection of incident " + quoted(id) + " is running; delete it once the collection has finished"}
	case err != nil:
		return err
	}
	s.logger().Info("incident deleted", zap.String("incident_id", id), zap.String("by", rm.By),
		zap.Int("events", rm.Events), zap.Int64("seq", rm.Seq))
	w.WriteHeader(http.StatusNoContent)
	return nil
}
