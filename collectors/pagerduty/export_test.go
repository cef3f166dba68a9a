package pagerduty

import "testing"

// SetMaxOffset lowers the offset bound for one test.
func SetMaxOffset(t testing.TB, n int) {
	old := maxOffset
	maxOffset = n
	t.Cleanup(func() { maxOffset = old })
}
