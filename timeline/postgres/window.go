package postgres

import "fmt"

// The incident window rule in SQL. The rule is timeline's (WindowFor
// computes a window, Incident.WindowEndAt and Incident.Covers apply it): an
// incident covers t when window_start <= t and, once it is resolved,
// t <= window_end, both ends included; while it is open its window runs up
// to now. The store is only asked about events that have happened
// (t <= now), so in SQL an open incident covers every t from its start on.
// Every query that finds incidents by time, or events by incident window,
// builds its condition here; TestWindowRuleAgrees checks the queries
// against Incident.Covers.

// windowCoversSQL is the condition that the incidents row inc (an alias
// with its dot, or "") covers the instant held as a timestamptz at plus ns
// nanoseconds past its microsecond (as events and the journal keep times;
// "0" for a plain timestamptz). Window bounds are whole microseconds, so
// an instant a nanosecond past window_end is outside, as in Go.
func windowCoversSQL(inc, at, ns string) string {
	return fmt.Sprintf(`%[2]s >= %[1]swindow_start AND (%[1]sresolved_at IS NULL OR (%[2]s, %[3]s) <= (%[1]swindow_end, 0))`,
		inc, at, ns)
}

// windowMeetsSQL is the condition that the incidents row inc (an alias with
// its dot, or "") covers some instant of [from, to].
func windowMeetsSQL(inc, from, to string) string {
	return fmt.Sprintf(`%[1]swindow_start <= %[3]s AND (%[1]sresolved_at IS NULL OR %[1]swindow_end >= %[2]s)`,
		inc, from, to)
}
