package api

import (
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/groundwork-dev/groundwork/timeline"
)

// Error is an error with the HTTP status and stable code the client sees.
// Handlers return it for anything the caller got wrong.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func badRequest(code, msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: code, Message: msg}
}

// errorBody is the JSON shape of every error response.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeError is the one place that maps errors to statuses. Only 5xx are
// logged in full; their details never reach the client.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var apiErr *Error
	switch {
	case errors.As(err, &apiErr):
	case errors.Is(err, timeline.ErrNotFound):
		apiErr = &Error{Status: http.StatusNotFound, Code: "not_found", Message: err.Error()}
	case errors.Is(err, timeline.ErrInvalid):
		apiErr = &Error{Status: http.StatusBadRequest, Code: "invalid", Message: err.Error()}
	case errors.Is(err, timeline.ErrUnavailable):
		apiErr = &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the database is unavailable; retry later"}
	case errors.Is(err, r.Context().Err()) && r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
		return
	default:
		apiErr = &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"}
	}
	if apiErr.Status >= 500 {
		s.logger().Error("request failed", zap.String("method", r.Method), zap.String("path", r.URL.Path),
			zap.Int("status", apiErr.Status), zap.Error(err))
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
