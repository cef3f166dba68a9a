package api

import (
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/timeline"
)

// Error is the one error a client reads: the HTTP status, a stable code and
// a message written for the caller. Handlers return it for anything the
// caller got wrong. Every other error is a fault of the service: writeError
// answers it with a code and message of its own and logs the cause, which
// never reaches the client (no Postgres message, no Go error chain).
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func badRequest(code, msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: code, Message: msg}
}

// incidentNotFound answers a request for an incident that does not exist.
func incidentNotFound(id string) *Error {
	return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "incident " + quoted(id) + " does not exist"}
}

// checkIncidentID refuses an incident id of the request path that breaks
// timeline.IncidentIDRule, with 400 naming the rule.
func checkIncidentID(id string) error {
	if err := timeline.ValidateIncidentID(id); err != nil {
		return badRequest("invalid_incident_id", invalidDetail(err))
	}
	return nil
}

// incidentErr turns the store's timeline.ErrNotFound for incident id into
// the client's 404; other errors pass unchanged.
func incidentErr(id string, err error) error {
	if errors.Is(err, timeline.ErrNotFound) {
		return incidentNotFound(id)
	}
	return err
}

// invalidDetail is the detail of a timeline.ErrInvalid, without its prefix.
// The domain writes those details for the caller (they name the field).
func invalidDetail(err error) string { return collectors.InvalidDetail(err) }

// quoted quotes a value of the request for an error message, cut to 64
// bytes (on a rune boundary) so that a 10,000-character parameter is not
// sent back whole.
func quoted(s string) string { return collectors.Quote(s) }

// jsonProblem describes what is wrong with a JSON body in the caller's terms:
// JSON types and field paths, never Go's type names.
func jsonProblem(err error) string { return collectors.JSONProblem(err) }

// clientText is what a caller may read of err, an error about its input:
// a JSON decoding error described in JSON terms, the detail of a
// timeline.ErrInvalid, and of any other error nothing but a generic phrase.
func clientText(err error) string { return collectors.ClientText(err) }

// errorBody is the JSON shape of every error response.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeError is the one place that maps errors to statuses.
//
// An *Error is sent as it is. Any other error is answered with a code and a
// message of writeError's own, and its cause is logged, never sent:
// timeline.ErrUnavailable is 503 unavailable; timeline.ErrInvalid that
// slipped past the handler's checks (the store refused a value, such as a
// NUL character Postgres cannot keep) is 400 invalid, since the input was
// wrong; everything else is 500 internal.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	apiErr := s.clientError(r, err)
	if apiErr == nil {
		return
	}
	var body errorBody
	body.Error.Code, body.Error.Message = apiErr.Code, apiErr.Message
	if apiErr.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="groundwork"`)
	}
	if apiErr.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	_ = writeJSON(w, apiErr.Status, body)
}

// clientError is what writeError answers for err, the cause of a 5xx
// logged; nil when the client went away and nobody reads the answer.
func (s *Server) clientError(r *http.Request, err error) *Error {
	var apiErr *Error
	switch {
	case errors.As(err, &apiErr):
	case errors.Is(err, r.Context().Err()) && r.Context().Err() != nil:
		return nil
	case errors.Is(err, timeline.ErrUnavailable):
		apiErr = &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the database is unavailable; retry later"}
	case errors.Is(err, timeline.ErrInvalid):
		s.logger().Warn("request refused by the store", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
		apiErr = badRequest("invalid", "the request holds a value that cannot be stored (for example a NUL character)")
	default:
		apiErr = &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"}
	}
	if apiErr.Status >= 500 {
		s.logger().Error("request failed", zap.String("method", r.Method), zap.String("path", r.URL.Path),
			zap.Int("status", apiErr.Status), zap.Error(err))
	}
	return apiErr
}
