package timeline

import "errors"

// Domain errors. Adapters translate their own errors into these at their edge
// (the store turns "no rows" into ErrNotFound); the API maps them to statuses.
var (
	// ErrNotFound: the incident (or other object) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the caller's input was wrong; wrap it with the detail.
	ErrInvalid = errors.New("invalid input")
	// ErrUnavailable: the store cannot be reached right now; try again later.
	ErrUnavailable = errors.New("store unavailable")
)
