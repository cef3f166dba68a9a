package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/groundwork-dev/groundwork/timeline"
)

// collectBody is the optional body of POST /v1/incidents/{id}/collect.
type collectBody struct {
	Title      string `json:"title"`
	StartedAt  string `json:"started_at"`
	ResolvedAt string `json:"resolved_at"`
	// Repos and Channels add to the incident's scope: repositories
	// (owner/name) and channel ids, under the product's key names.
	Repos    []string `json:"github_repos"`
	Channels []string `json:"slack_channels"`
}

// CollectAcceptedJSON answers POST /v1/incidents/{id}/collect.
type CollectAcceptedJSON struct {
	IncidentID string `json:"incident_id"`
	JobID      int64  `json:"job_id"`
	Status     string `json:"status"`
}

// collect queues a (re)collection of an incident with the body's optional
// overrides. A request for an incident whose collection is still queued
// joins that job, so the job id may be one given before.
func (s *Server) collect(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := checkIncidentID(id); err != nil {
		return err
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large",
				Message: fmt.Sprintf("the body exceeds the limit of %d bytes", tooLarge.Limit)}
		}
		return badRequest("unreadable_body", "the body could not be read")
	}
	req := timeline.CollectRequest{IncidentID: id}
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := requireJSON(r); err != nil {
			return err
		}
		var b collectBody
		if err := decodeStrict(body, &b); err != nil {
			return err
		}
		if req.StartedAt, err = parseBodyTime("started_at", b.StartedAt, false); err != nil {
			return err
		}
		if req.ResolvedAt, err = parseBodyTime("resolved_at", b.ResolvedAt, false); err != nil {
			return err
		}
		req.Title, req.Repos, req.Channels = b.Title, b.Repos, b.Channels
	}
	if err := req.Validate(); err != nil {
		return badRequest("invalid_body", invalidDetail(err))
	}
	if s.Deliveries == nil {
		return errNoQueue
	}
	res, err := s.Deliveries.RecordDelivery(r.Context(), timeline.Delivery{Receiver: "api", Collect: []timeline.CollectRequest{req}})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, CollectAcceptedJSON{IncidentID: id, JobID: res.JobIDs[0], Status: "queued"})
}
