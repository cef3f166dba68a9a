package timeline

import (
	"fmt"
	"unicode/utf8"
)

// MaxIncidentIDLen is the longest incident id, in bytes (all its characters
// are ASCII).
const MaxIncidentIDLen = 128

// IncidentIDRule says in words what ValidateIncidentID accepts.
const IncidentIDRule = "an incident id is 1 to 128 characters of A-Z, a-z, 0-9, '.', '_', ':' and '-', not starting with '.'"

// ValidateIncidentID reports whether id may name an incident: 1 to
// MaxIncidentIDLen characters of A-Z, a-z, 0-9, '.', '_', ':' and '-', the
// first not '.'. pagers' ids (PT4KHLK, Q1CHK5XX), ULIDs, UUIDs and keys
// such as INC-42 or ops:2026-11-20 all fit. What the rule keeps out could
// change the meaning of a URL, a path or a log line that the id is put into:
// '/', '.' and '..' segments, '%', '?', '#', quotes, spaces, control
// characters such as NUL, and non-ASCII look-alikes.
//
// The error wraps ErrInvalid, says what is wrong (naming the first character
// refused) and states the rule.
func ValidateIncidentID(id string) error {
	if problem := incidentIDProblem(id); problem != "" {
		return fmt.Errorf("%w: %s; %s", ErrInvalid, problem, IncidentIDRule)
	}
	return nil
}

// incidentIDProblem says what is wrong with id, or "" when it is valid.
func incidentIDProblem(id string) string {
	switch {
	case id == "":
		return "the incident id is empty"
	case len(id) > MaxIncidentIDLen:
		return fmt.Sprintf("the incident id is %d bytes long", len(id))
	case id[0] == '.':
		return "the incident id starts with '.'"
	}
	for i := 0; i < len(id); i++ {
		if !incidentIDChar(id[i]) {
			_, size := utf8.DecodeRuneInString(id[i:])
			return fmt.Sprintf("the incident id holds %q at byte %d", id[i:i+size], i)
		}
	}
	return ""
}

func incidentIDChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '.' || c == '_' || c == ':' || c == '-'
}
