package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/groundwork-dev/groundwork/api"
	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/collectors/fakeworld"
	"github.com/groundwork-dev/groundwork/collectors/github"
	"github.com/groundwork-dev/groundwork/collectors/pagerduty"
	"github.com/groundwork-dev/groundwork/collectors/slack"
	"github.com/groundwork-dev/groundwork/timeline"
)

// collectWorld collects incident id from the fake world with the real
// collectors, as a collection job does, into b's store.
func collectWorld(t *testing.T, b *reviewBundle, w *fakeworld.World, id string, repos, channels []string) {
	t.Helper()
	ctx := context.Background()
	pd, err := pagerduty.New(pagerduty.Config{Token: fakeworld.PagerDutyToken, APIURL: w.PDURL, WebhookSecret: "s"},
		pagerduty.Options{Limiter: rate.NewLimiter(rate.Inf, 0), RecentLoad: true})
	if err != nil {
		t.Fatal(err)
	}
	ghc, err := github.New(github.Config{Token: fakeworld.GitHubToken, APIURL: w.GHURL, WebhookSecret: "s"}, github.Options{RequestsPerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	sl, err := slack.New(slack.Config{Token: fakeworld.SlackToken, APIURL: w.SlackURL, SigningSecret: "s"},
		slack.Options{Limiter: rate.NewLimiter(rate.Inf, 0)})
	if err != nil {
		t.Fatal(err)
	}
	inc, err := pd.DescribeIncident(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	inc.WindowStart, inc.WindowEnd = timeline.WindowFor(inc.StartedAt, inc.ResolvedAt, 2*time.Hour, 30*time.Minute, b.now)
	inc.Repos, inc.Channels = repos, channels
	if err := b.store.UpsertIncident(ctx, inc); err != nil {
		t.Fatal(err)
	}
	reg := &collectors.Registry{}
	reg.Register(pd)
	reg.Register(ghc)
	reg.Register(sl)
	res := (&collectors.Runner{Registry: reg, Store: b.store}).Run(ctx, timeline.Window{IncidentID: id,
		Start: inc.WindowStart, End: inc.WindowEnd, Repos: repos, Channels: channels})
	if err := res.Err(); err != nil {
		t.Fatalf("collecting %s: %v", id, err)
	}
}

// realistic is the realistic incident collected and served.
func realistic(t *testing.T) (*reviewBundle, *fakeworld.World) {
	t.Helper()
	w, err := fakeworld.StartRealistic()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	b := setupReview(t, func(s *api.Server) { s.Review = fakeworld.RealisticReview() })
	b.now = time.Date(2025, 11, 19, 9, 0, 0, 0, time.UTC)
	collectWorld(t, b, w, fakeworld.RealisticIncidentID, []string{fakeworld.RealisticRepo}, fakeworld.RealisticChannels)
	return b, w
}

func at18(hms string) time.Time {
	t, _ := time.Parse(time.RFC3339, "2025-11-18T"+hms+"Z")
	return t
}

func getJSON[T any](t *testing.T, b *reviewBundle, path string) T {
	t.Helper()
	status, _, body := b.fetch(t, path)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, status, body)
	}
	return decode[T](t, body)
}

func summaryOf(t *testing.T, b *reviewBundle, id string) timeline.Summary {
	t.Helper()
	var d struct {
		Summary timeline.Summary `json:"summary"`
	}
	raw := getJSON[json.RawMessage](t, b, "/v1/incidents/"+id)
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	return d.Summary
}

// TestRealisticIncidentReview checks each fact the issue found wrong on the
// realistic incident, collected from the fakes by the real collectors.
func TestRealisticIncidentReview(t *testing.T) {
	t.Parallel()
	b, w := realistic(t)
	id := fakeworld.RealisticIncidentID
	s := summaryOf(t, b, id)
	people := getJSON[api.PeopleJSON](t, b, "/v1/incidents/"+id+"/people")
	changes := getJSON[api.ChangesJSON](t, b, "/v1/incidents/"+id+"/changes")
	person := func(name string) *timeline.Person {
		for i := range people.Responders {
			if people.Responders[i].Name == name {
				return &people.Responders[i]
			}
		}
		t.Fatalf("no responder %s among %+v", name, people.Responders)
		return nil
	}

	t.Run("first alert is the page's trigger; the stale warning is a precursor", func(t *testing.T) {
		var first *timeline.KeyMoment
		for i, m := range s.KeyMoments {
			if m.Moment == timeline.MomentFirstAlert {
				first = &s.KeyMoments[i]
			}
		}
		if first == nil || !first.At.Equal(at18("10:00:00")) || first.EventIDs[0] != "pagerduty:alert:PAL5XX1000" {
			t.Errorf("first_alert = %+v, want the 10:00:00 error-rate alert", first)
		}
		if len(s.PrecursorAlerts) != 1 || s.PrecursorAlerts[0].EventIDs[0] != "pagerduty:alert:PALWARN741" {
			t.Errorf("precursor alerts = %+v, want the 07:41 warning", s.PrecursorAlerts)
		}
		if d := s.Durations.LastDeployToFirstAlertS; d == nil || *d != 7*60+49 {
			t.Errorf("last_deploy_to_first_alert_s = %v, want 469 (live 09:52:11, alert 10:00:00)", d)
		}
		found := false
		for _, m := range s.KeyMoments {
			if m.Moment == timeline.MomentLastDeployBeforeFirstAlert && m.At.Equal(at18("09:52:11")) {
				found = true
			}
		}
		if !found {
			t.Errorf("the 09:52 production deploy is not the last deploy before the first alert: %+v", s.KeyMoments)
		}
	})

	t.Run("phases and durations", func(t *testing.T) {
		p := s.Phases
		if p.Detection == nil || p.Detection.Kind != timeline.DetectionHuman || !p.Detection.At.Equal(at18("09:55:00")) ||
			p.Detection.By == nil || p.Detection.By.Name != "Lena (Support)" {
			t.Errorf("detection = %+v, want Lena's message at 09:55", p.Detection)
		}
		if p.Page == nil || p.Page.Title != "checkout-api error rate above 5%" || !p.Page.At.Equal(at18("10:00:01")) {
			t.Errorf("page = %+v, want the trigger titled with the symptom", p.Page)
		}
		if p.Mitigation == nil || p.Mitigation.Kind != timeline.MitigationRollback || !p.Mitigation.At.Equal(at18("10:36:00")) || !p.Mitigation.Suggested {
			t.Fatalf("mitigation = %+v, want the suggested rollback live at 10:36:00", p.Mitigation)
		}
		var followed []int64
		for _, c := range p.Mitigation.Candidates {
			if c.Kind == timeline.MitigationRollback {
				for _, f := range c.FollowedBy {
					followed = append(followed, f.AfterS)
				}
			}
		}
		if !slices.Contains(followed, 17) {
			t.Errorf("the rollback's follow-ups %v do not show the re-page 17 s later", followed)
		}
		want := map[string]*int64{"detect_to_page_s": s.Durations.DetectToPageS, "page_to_ack_s": s.Durations.PageToAckS,
			"page_to_mitigate_s": s.Durations.PageToMitigateS, "mitigate_to_resolve_s": s.Durations.MitigateToResolveS,
			"to_resolve_s": s.Durations.ToResolveS}
		for k, v := range map[string]int64{"detect_to_page_s": 301, "page_to_ack_s": 419, "page_to_mitigate_s": 2159,
			"mitigate_to_resolve_s": 2160, "to_resolve_s": 4319} {
			if got := want[k]; got == nil || *got != v {
				t.Errorf("%s = %v, want %d", k, got, v)
			}
		}
	})

	t.Run("first ack came from level 2 after a timeout; level 1 acked in chat", func(t *testing.T) {
		a := s.Phases.FirstAck
		if a == nil || a.By == nil || a.By.Name != "Marco Rossi" || a.EscalationLevel == nil || *a.EscalationLevel != 2 {
			t.Fatalf("first ack = %+v, want Marco at level 2", a)
		}
		if len(a.EscalatedPast) != 1 || a.EscalatedPast[0].Person.Name != "Priya Natarajan" || a.EscalatedPast[0].Reason != timeline.ReasonTimeout {
			t.Errorf("escalated past = %+v, want Priya by timeout", a.EscalatedPast)
		}
		if len(a.AcknowledgedInChat) != 1 || a.AcknowledgedInChat[0].By.Name != "Priya Natarajan" || !a.AcknowledgedInChat[0].At.Equal(at18("10:01:00")) {
			t.Errorf("acknowledged in chat = %+v, want Priya at 10:01", a.AcknowledgedInChat)
		}
	})

	t.Run("responders: one per person, no committer, no test user, first activity in the response", func(t *testing.T) {
		var names []string
		for _, r := range s.Responders {
			names = append(names, r.Name)
			if r.FirstActivityAt.Before(at18("09:55:00")) {
				t.Errorf("%s's first activity %s is before the incident", r.Name, r.FirstActivityAt)
			}
		}
		slices.Sort(names)
		if want := []string{"Ana", "Lena (Support)", "Marco Rossi", "Priya Natarajan", "Sam", "Tomás Ortega", "Wei Chen"}; !slices.Equal(want, names) {
			t.Errorf("responders %v, want %v", names, want)
		}
		tomas := person("Tomás Ortega")
		var ids []string
		for _, id := range tomas.Identities {
			ids = append(ids, id.Source+":"+id.ID)
		}
		if want := []string{"github:tortega", "pagerduty:PTOMAS1", "slack:U0TOMAS"}; !slices.Equal(want, ids) {
			t.Errorf("Tomás's identities %v, want %v (joined by the alias map and email)", ids, want)
		}
		if people.Ignored != 1 {
			t.Errorf("ignored = %d, want the synthetic-check user", people.Ignored)
		}
		var others []string
		for _, o := range people.OthersActive {
			others = append(others, o.Name)
		}
		if !slices.Contains(others, "Jonas Berg") {
			t.Errorf("others active %v, want Jonas (commits and merges only)", others)
		}
	})

	t.Run("modes, interruptions and time zones", func(t *testing.T) {
		for name, mode := range map[string]string{"Priya Natarajan": timeline.ModePaged, "Marco Rossi": timeline.ModePagedByEscalation,
			"Tomás Ortega": timeline.ModeAddedByReassignment, "Lena (Support)": timeline.ModePresentBeforePage,
			"Sam": timeline.ModePresentBeforePage, "Ana": timeline.ModeObserver} {
			if p := person(name); p.Mode != mode {
				t.Errorf("%s: mode %s (%v), want %s", name, p.Mode, p.Modes, mode)
			}
		}
		tomas := person("Tomás Ortega")
		if tomas.TimeZone == nil || *tomas.TimeZone != "America/New_York" {
			t.Errorf("Tomás's zone = %v", tomas.TimeZone)
		}
		if len(tomas.Interruptions) != 2 || tomas.EmailNotifications != 1 {
			t.Fatalf("Tomás's interruptions = %+v (email %d), want 2 (push+SMS+phone within 60 s, then the re-page) and one email", tomas.Interruptions, tomas.EmailNotifications)
		}
		first := tomas.Interruptions[0]
		if first.LocalClass != timeline.LocalNight || !strings.HasPrefix(first.LocalTime, "2025-11-18T05:08:07-05:00") {
			t.Errorf("Tomás's first interruption = %+v, want night at 05:08 New York time", first)
		}
		var paged *bool
		for _, r := range s.Responders {
			if r.Name == "Tomás Ortega" {
				paged = r.PagedOutsideBusinessHours
			}
		}
		if paged == nil || !*paged {
			t.Errorf("Tomás paged outside business hours = %v, want true (05:08 his time)", paged)
		}
		if p := person("Priya Natarajan"); len(p.Interruptions) != 1 || p.EmailNotifications != 1 {
			t.Errorf("Priya's interruptions = %+v, want one (push and SMS within 60 s)", p.Interruptions)
		}
		var ic bool
		for _, r := range person("Sam").Roles {
			ic = ic || r.Role == timeline.RoleIncidentCommander
		}
		if !ic {
			t.Errorf("Sam declared himself IC, roles %+v", person("Sam").Roles)
		}
		localTimes := map[string]string{}
		for _, lt := range s.Context.LocalTimeAtPage {
			localTimes[lt.Name] = lt.LocalTime
		}
		if localTimes["Tomás Ortega"] != "2025-11-18T05:00:01-05:00" {
			t.Errorf("local times at the page: %v", localTimes)
		}
	})

	t.Run("recent load from the pager, per interruption", func(t *testing.T) {
		rl := person("Priya Natarajan").RecentLoad
		if rl == nil || rl.Interruptions == nil || *rl.Interruptions != 2 || rl.Incidents == nil || *rl.Incidents != 1 {
			t.Errorf("Priya's recent load = %+v, want 2 interruptions in 1 incident", rl)
		}
		if rl := person("Tomás Ortega").RecentLoad; rl == nil || rl.Interruptions == nil || *rl.Interruptions != 0 {
			t.Errorf("Tomás's recent load = %+v, want a known 0", rl)
		}
		if rl := person("Lena (Support)").RecentLoad; rl != nil {
			t.Errorf("Lena was never paged: recent load %+v, want null", rl)
		}
		if w.PD.RequestsMatching("GET /log_entries") == 0 {
			t.Error("the load was not read from the pager's log")
		}
	})

	t.Run("gaps are per human lane inside the span", func(t *testing.T) {
		for _, g := range s.Gaps {
			if g.Start.Before(at18("09:55:00")) || g.End.After(at18("11:12:00")) {
				t.Errorf("gap %+v lies outside the response", g)
			}
		}
		var lanes []string
		for _, g := range s.Gaps {
			lanes = append(lanes, g.Lane)
		}
		if !slices.Contains(lanes, "chat:"+fakeworld.RealisticChannel) || !slices.Contains(lanes, "pager") {
			t.Errorf("gap lanes %v, want the channel's and the pager's", lanes)
		}
		if n := s.Context.EventsOutsideBusinessHours; n != 0 {
			t.Errorf("events outside business hours = %d, want 0: the response was on a Tuesday morning in London", n)
		}
	})

	t.Run("changes in flight", func(t *testing.T) {
		if changes.Title != timeline.ChangesTitle || len(changes.Changes.Changes) != 3 {
			t.Fatalf("changes %+v, want the three production deployments", changes.Changes.Changes)
		}
		pool, hotfix, rollback := changes.Changes.Changes[0], changes.Changes.Changes[1], changes.Changes.Changes[2]
		if pool.RelationToPage == nil || *pool.RelationToPage != "live 7m50s before the page" || pool.QueuedAt == nil || !pool.QueuedAt.Equal(at18("09:45:00")) {
			t.Errorf("pool change: %+v", pool)
		}
		if pool.PreviousSHA == nil || len(pool.PullRequests) != 1 || pool.PullRequests[0].Number != 2201 || pool.Release == nil || pool.Release.Tag != "v3.8.0" || !pool.RolledBack {
			t.Errorf("pool change shipped %+v (previous %v, release %+v, rolled back %v)", pool.PullRequests, pool.PreviousSHA, pool.Release, pool.RolledBack)
		}
		if pool.Author != nil {
			t.Errorf("an author by default: %v", *pool.Author)
		}
		if hotfix.State != "failed" || len(hotfix.PullRequests) != 1 || hotfix.PullRequests[0].Number != 2203 {
			t.Errorf("hotfix: %+v", hotfix)
		}
		if !rollback.Rollback || rollback.State != "live" {
			t.Errorf("rollback: %+v", rollback)
		}
		if changes.NotListed.NonProductionDeploys != 1 || changes.NotListed.MergesShippingNothing == nil || *changes.NotListed.MergesShippingNothing != 1 {
			t.Errorf("not listed = %+v, want the staging deploy and the runbook merge", changes.NotListed)
		}
		if n := w.GH.RequestsTo("GET", "/repos/"+fakeworld.RealisticRepo+"/compare/"+*pool.PreviousSHA+"..."+pool.SHA); n != 1 {
			t.Errorf("compare of the pool change: %d calls, want 1", n)
		}
	})

	t.Run("context", func(t *testing.T) {
		var cal []string
		for _, c := range s.Context.Calendar {
			cal = append(cal, c.Title)
		}
		if !slices.Equal(cal, []string{"Payments offsite"}) {
			t.Errorf("calendar %v, want the offsite only", cal)
		}
		pp := s.Context.ProductionPressure
		if pp.DuringIncident.ProductionDeploys != 2 || pp.Window.Merges != 3 {
			t.Errorf("production pressure = %+v", pp)
		}
	})
}

// TestDemoIncidentReview checks the demo's incident: the facts the issue
// found wrong there too.
func TestDemoIncidentReview(t *testing.T) {
	t.Parallel()
	w, err := fakeworld.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	b := setupReview(t)
	b.now = time.Date(2025, 11, 21, 9, 0, 0, 0, time.UTC)
	collectWorld(t, b, w, fakeworld.IncidentID, []string{fakeworld.Repo}, []string{fakeworld.Channel})
	s := summaryOf(t, b, fakeworld.IncidentID)
	people := getJSON[api.PeopleJSON](t, b, "/v1/incidents/"+fakeworld.IncidentID+"/people")

	if p := s.Phases.Page; p == nil || p.Title == "Triggered through the API" {
		t.Errorf("page = %+v, want it titled with the symptom", p)
	}
	a := s.Phases.FirstAck
	if a == nil || a.By == nil || a.By.Name != "Tomás Ortega" || len(a.EscalatedPast) != 1 ||
		a.EscalatedPast[0].Person.Name != "Priya Natarajan" || a.EscalatedPast[0].Reason != timeline.ReasonTimeout {
		t.Errorf("first ack = %+v, want Tomás after Priya timed out", a)
	}
	if d := s.Durations.LastDeployToFirstAlertS; d == nil || *d != 11*60+31 {
		t.Errorf("last deploy to first alert = %v, want 691 (09:46:30 -> 09:58:01)", d)
	}
	for _, r := range s.Responders {
		switch r.Name {
		case "Tomás Ortega":
			// Paged at 10:08:05 UTC: 05:08 in New York, though 10:08 in London.
			if r.PagedOutsideBusinessHours == nil || !*r.PagedOutsideBusinessHours {
				t.Errorf("Tomás paged outside business hours = %v, want true", r.PagedOutsideBusinessHours)
			}
		case "acme-deployer", "PagerDuty":
			t.Errorf("a bot among the responders: %s", r.Name)
		}
	}
	for _, p := range people.Responders {
		if p.Name == "Tomás Ortega" && (p.RecentLoad == nil || p.RecentLoad.Interruptions == nil) {
			t.Errorf("Tomás's recent load = %+v, want the pager's count", p.RecentLoad)
		}
	}
	if m := s.Phases.Mitigation; m == nil || m.Kind != timeline.MitigationRollback || !m.At.Equal(time.Date(2025, 11, 20, 10, 17, 40, 0, time.UTC)) {
		t.Errorf("mitigation = %+v, want the rollback live at 10:17:40", m)
	}
}
