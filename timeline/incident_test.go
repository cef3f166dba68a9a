package timeline

import (
	"testing"
	"time"
)

// lifecycleView is what one delivery says of incident Q1: open (resolved
// nil) or resolved at r, reported at statusAt, with the window the receiver
// computes (2h before, 30m after, now for an open one).
func lifecycleView(statusAt, now string, resolved string) Incident {
	started := at("2026-11-20T10:00:00Z")
	inc := Incident{ID: "Q1", Source: "pagerduty", StartedAt: started, Repos: []string{"acme/api"}}
	var r *time.Time
	if resolved != "" {
		t := at(resolved)
		r = &t
	}
	inc.ResolvedAt = r
	if statusAt != "" {
		inc.StatusAt = at(statusAt)
	}
	inc.WindowStart, inc.WindowEnd = WindowFor(started, r, 2*time.Hour, 30*time.Minute, at(now))
	return inc
}

func TestMergeFollowsTheLifecycle(t *testing.T) {
	t.Parallel()
	type state struct {
		status, end string
	}
	trigger := lifecycleView("2026-11-20T10:00:00Z", "2026-11-20T10:00:05Z", "")
	ack := lifecycleView("2026-11-20T10:05:00Z", "2026-11-20T10:05:05Z", "")
	resolve := lifecycleView("2026-11-20T11:12:30Z", "2026-11-20T11:13:00Z", "2026-11-20T11:12:30Z")
	reopen := lifecycleView("2026-11-20T12:00:00Z", "2026-11-20T12:00:05Z", "")
	resolve2 := lifecycleView("2026-11-20T12:30:00Z", "2026-11-20T12:30:05Z", "2026-11-20T12:30:00Z")
	noClaimOpen := lifecycleView("", "2026-11-20T13:30:00Z", "")
	noClaimOpen.Repos = []string{"acme/infra"}
	for _, tc := range []struct {
		name  string
		views []Incident
		want  state
	}{
		{"triggered", []Incident{trigger}, state{IncidentOpen, "2026-11-20T10:00:05Z"}},
		{"acknowledged: still open, the window runs on", []Incident{trigger, ack}, state{IncidentOpen, "2026-11-20T10:05:05Z"}},
		{"resolved", []Incident{trigger, resolve}, state{IncidentResolved, "2026-11-20T11:42:30Z"}},
		{"reopened: open again, up to now", []Incident{trigger, resolve, reopen}, state{IncidentOpen, "2026-11-20T12:00:05Z"}},
		{"resolved again", []Incident{trigger, resolve, reopen, resolve2}, state{IncidentResolved, "2026-11-20T13:00:00Z"}},
		{"a late acknowledgement does not reopen", []Incident{trigger, resolve, ack}, state{IncidentResolved, "2026-11-20T11:42:30Z"}},
		{"a late first resolve does not close the reopened incident", []Incident{resolve, reopen, resolve}, state{IncidentOpen, "2026-11-20T12:00:05Z"}},
		{"the reopen delivered after the second resolve changes nothing", []Incident{resolve, resolve2, reopen}, state{IncidentResolved, "2026-11-20T13:00:00Z"}},
		{"a view without a status time never reopens", []Incident{resolve, noClaimOpen}, state{IncidentResolved, "2026-11-20T11:42:30Z"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.views[0]
			for _, v := range tc.views[1:] {
				got = got.Merge(v)
			}
			if got.Status() != tc.want.status || !got.WindowEnd.Equal(at(tc.want.end)) ||
				!got.WindowStart.Equal(at("2026-11-20T08:00:00Z")) {
				t.Errorf("status %s, window [%s, %s]; want %s ending %s", got.Status(), got.WindowStart.Format(time.RFC3339),
					got.WindowEnd.Format(time.RFC3339), tc.want.status, tc.want.end)
			}
			if got.Open() != (got.ResolvedAt == nil) {
				t.Errorf("Open() = %v with resolved_at %v", got.Open(), got.ResolvedAt)
			}
		})
	}
	merged := resolve.Merge(noClaimOpen)
	if got := merged.Repos; len(got) != 2 || got[0] != "acme/api" || got[1] != "acme/infra" {
		t.Errorf("repos = %v, want both, the stored first", got)
	}
}

func TestCoversRunsUpToNowWhileOpen(t *testing.T) {
	t.Parallel()
	open := lifecycleView("2026-11-20T10:00:00Z", "2026-11-20T10:00:05Z", "")
	resolved := lifecycleView("2026-11-20T11:12:30Z", "2026-11-20T11:13:00Z", "2026-11-20T11:12:30Z")
	now := at("2026-11-20T12:10:00Z")
	for _, tc := range []struct {
		name string
		inc  Incident
		t    string
		want bool
	}{
		{"open: before the window", open, "2026-11-20T07:59:59Z", false},
		{"open: the window's first instant", open, "2026-11-20T08:00:00Z", true},
		{"open: long after the last delivery, up to now", open, "2026-11-20T12:09:59Z", true},
		{"open: now", open, "2026-11-20T12:10:00Z", true},
		{"open: after now", open, "2026-11-20T12:10:01Z", false},
		{"resolved: the window's last instant", resolved, "2026-11-20T11:42:30Z", true},
		{"resolved: after the window", resolved, "2026-11-20T11:42:31Z", false},
	} {
		if got := tc.inc.Covers(at(tc.t), now); got != tc.want {
			t.Errorf("%s: Covers(%s) = %v, want %v", tc.name, tc.t, got, tc.want)
		}
	}
	if got := open.WindowEndAt(now); !got.Equal(now) {
		t.Errorf("open WindowEndAt = %s, want now", got)
	}
	if got := resolved.WindowEndAt(now); !got.Equal(resolved.WindowEnd) {
		t.Errorf("resolved WindowEndAt = %s, want its stored end", got)
	}
}

// TestRefreshKeepsNewerLifecycle: a collection's view (the planner's, read
// when it began) replaces the stored incident, but a reopen or resolve that
// a webhook recorded meanwhile stands.
func TestRefreshKeepsNewerLifecycle(t *testing.T) {
	t.Parallel()
	resolve := lifecycleView("2026-11-20T11:12:30Z", "2026-11-20T11:13:00Z", "2026-11-20T11:12:30Z")
	reopen := lifecycleView("2026-11-20T12:00:00Z", "2026-11-20T12:00:05Z", "")
	resolve2 := lifecycleView("2026-11-20T12:30:00Z", "2026-11-20T12:30:05Z", "2026-11-20T12:30:00Z")
	legacyOpen := lifecycleView("", "2026-11-20T12:40:00Z", "")
	legacyResolved := lifecycleView("", "2026-11-20T11:13:00Z", "2026-11-20T11:12:30Z")
	for _, tc := range []struct {
		name          string
		stored, view  Incident
		status, endAt string
	}{
		{"a view planned before the reopen leaves the incident open", reopen, resolve, IncidentOpen, "2026-11-20T12:00:05Z"},
		{"a view newer than the stored status stands", reopen, resolve2, IncidentResolved, "2026-11-20T13:00:00Z"},
		{"the same news stands", resolve, resolve, IncidentResolved, "2026-11-20T11:42:30Z"},
		{"a view planned before the second resolve leaves it resolved", resolve2, reopen, IncidentResolved, "2026-11-20T13:00:00Z"},
		{"without status times a view never reopens", Incident{ID: "Q1", ResolvedAt: legacyResolved.ResolvedAt, WindowEnd: legacyResolved.WindowEnd}, legacyOpen, IncidentResolved, "2026-11-20T12:40:00Z"},
	} {
		view := tc.view
		view.Title, view.Repos = "From the source", []string{"acme/web"}
		got := tc.stored.Refresh(view)
		if got.Status() != tc.status || !got.WindowEnd.Equal(at(tc.endAt)) {
			t.Errorf("%s: %s ending %s, want %s ending %s", tc.name, got.Status(), got.WindowEnd.Format(time.RFC3339), tc.status, tc.endAt)
		}
		if got.Title != "From the source" || len(got.Repos) != 1 || got.Repos[0] != "acme/web" {
			t.Errorf("%s: title %q repos %v, want the view's", tc.name, got.Title, got.Repos)
		}
		if got.StatusAt.Before(tc.stored.StatusAt) {
			t.Errorf("%s: status time went back from %s to %s", tc.name, tc.stored.StatusAt, got.StatusAt)
		}
	}
}
