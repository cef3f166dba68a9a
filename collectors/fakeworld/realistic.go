package fakeworld

import (
	"fmt"
	"time"

	"github.com/groundwork-dev/groundwork/collectors/github/githubfake"
	"github.com/groundwork-dev/groundwork/collectors/pagerduty/pagerdutyfake"
	"github.com/groundwork-dev/groundwork/collectors/slack/slackfake"
	"github.com/groundwork-dev/groundwork/timeline"
)

// The realistic incident: ids and the facts a review must get right.
const (
	RealisticIncidentID = "Q3POOL9RLSTC42"
	RealisticServiceID  = "PSVC001"
	RealisticRepo       = "acme/checkout-api"
	RealisticChannel    = "C0CHKPOOL"
	// RealisticTestUserEmail is the synthetic-check user ignore_actors
	// names.
	RealisticTestUserEmail = "qa-synthetic@acme.example"
	// RealisticSupportChannel is the support team's channel, where the
	// incident channel's question is asked too.
	RealisticSupportChannel = "C0SUPPORT"
	// RealisticOverlappingID is an incident of another service that is
	// open during the realistic one, in the same channel.
	RealisticOverlappingID = "Q3CARTLAT7"
)

// RealisticChannels are the channels of the realistic incident's scope.
var RealisticChannels = []string{RealisticChannel, RealisticSupportChannel}

// RealisticReview is the review configuration of the realistic incident:
// London, Tomás's GitHub account (whose commits carry a noreply address)
// joined to him by an alias, and the synthetic-check user ignored.
func RealisticReview() timeline.ReviewConfig {
	rc := timeline.DefaultReviewConfig()
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		panic(err)
	}
	rc.Location = loc
	rc.People = []timeline.PersonAlias{{Name: "Tomás Ortega", Identities: []timeline.Identity{
		{Source: timeline.SourceGitHub, ID: "tortega"}, {Source: timeline.SourceSlack, ID: "U0TOMAS"}}}}
	rc.IgnoreActors = []string{RealisticTestUserEmail}
	rc.Calendar = []timeline.CalendarEntry{
		{Title: "Payments offsite", Kind: "offsite", Start: at18("00:00:00"), End: at18("23:59:59")},
		{Title: "Black Friday freeze", Kind: "freeze", Start: time.Date(2025, 11, 27, 0, 0, 0, 0, time.UTC), End: time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)},
	}
	return rc
}

// StartRealistic is Start with SeedRealistic instead of the demo's Seed.
func StartRealistic() (*World, error) { return start(SeedRealistic) }

func at18(hms string) time.Time {
	t, err := time.Parse(time.RFC3339, "2025-11-18T"+hms+"Z")
	if err != nil {
		panic(err)
	}
	return t
}

// SeedRealistic adds a realistic incident on Tuesday 2025-11-18 (London is
// on UTC): a pool-size change goes live at 09:52:11 (queued 09:45); people
// notice at 09:55; the page is at 10:00:01, over a stale pool warning from
// 07:41. Level 1 (Priya) types "ack" in Slack at 10:01 but the page times
// out to Level 2 (Marco), who acknowledges at 10:07, after Lena and Sam
// were already talking in the channel; Marco reassigns to Tomás in New York
// (05:08 his time), who is paged by push, SMS, phone and email. A hotfix
// fails; a rollback is live at 10:36:00; the error alert fires again 17 s
// later; the incident is resolved at 11:12. Jonas only commits and merges;
// a synthetic-check user posts; Ana joins and listens. Marco, Tomás and Wei
// join within four minutes; Sam says the responders are on a call; Lena
// asks in the support channel what Sam asks in the incident channel; a
// cart-api latency incident (RealisticOverlappingID) is open from 10:20 to
// 10:45 and shares the incident channel.
func SeedRealistic(w *World) error {
	at := at18
	id := RealisticIncidentID

	// PagerDuty.
	pd := w.PD
	priya := pagerdutyfake.UserRef("PPRIYA1", "Priya Natarajan")
	marco := pagerdutyfake.UserRef("PMARCO1", "Marco Rossi")
	tomas := pagerdutyfake.UserRef("PTOMAS1", "Tomás Ortega")
	service := pagerdutyfake.ServiceRef(RealisticServiceID, "checkout-api")
	datadog := pagerdutyfake.IntegrationRef("PINTDD1", "Datadog")
	pd.AddUser(pagerdutyfake.User{ID: priya.ID, Name: priya.Summary, Email: "priya@acme.example", TimeZone: "Europe/London"})
	pd.AddUser(pagerdutyfake.User{ID: marco.ID, Name: marco.Summary, Email: "marco@acme.example", TimeZone: "Europe/Berlin"})
	pd.AddUser(pagerdutyfake.User{ID: tomas.ID, Name: tomas.Summary, Email: "tomas@acme.example", TimeZone: "America/New_York"})
	resolved := at("11:12:00")
	pd.AddIncident(pagerdutyfake.Incident{ID: id, Number: 5120, Title: "[Datadog] checkout-api error rate above 5%",
		Urgency: "high", IncidentKey: "checkout-api/5xx-rate", CreatedAt: at("10:00:01"), ResolvedAt: &resolved,
		Service: service, LastStatusChangeBy: &tomas})
	notify := func(leID, hms string, u pagerdutyfake.Ref, channel string) pagerdutyfake.LogEntry {
		return pagerdutyfake.LogEntry{ID: leID, Type: "notify", Summary: "Notified " + u.Summary + " via " + channel,
			CreatedAt: at(hms), Agent: &service, Channel: map[string]any{"type": channel}, User: &u}
	}
	entries := []pagerdutyfake.LogEntry{
		{ID: "RPTRIG000000000000000001", Type: "trigger", Summary: "Triggered through the API", CreatedAt: at("10:00:01"),
			Agent: &service, Channel: map[string]any{"type": "api"}, Assignees: []pagerdutyfake.Ref{priya},
			EventDetails: map[string]string{"description": "checkout-api error rate above 5%"}},
		notify("RPNOT0000000000000000002", "10:00:03", priya, "push_notification"),
		notify("RPNOT0000000000000000003", "10:00:04", priya, "sms"),
		notify("RPNOT0000000000000000004", "10:00:05", priya, "email"),
		{ID: "RPESC000000000000000005", Type: "escalate", Summary: "Escalated to Marco Rossi (level 2)", CreatedAt: at("10:05:01"),
			Agent: &service, Channel: map[string]any{"type": "timeout", "escalation_level": 2}, Assignees: []pagerdutyfake.Ref{marco}},
		notify("RPNOT0000000000000000006", "10:05:03", marco, "push_notification"),
		notify("RPNOT0000000000000000007", "10:05:04", marco, "phone"),
		{ID: "RPACK000000000000000008", Type: "acknowledge", Summary: "Acknowledged by Marco Rossi", CreatedAt: at("10:07:00"),
			Agent: &marco, Channel: map[string]any{"type": "mobile"}},
		{ID: "RPASN000000000000000009", Type: "assign", Summary: "Reassigned to Tomás Ortega by Marco Rossi", CreatedAt: at("10:08:05"),
			Agent: &marco, Channel: map[string]any{"type": "website"}, Assignees: []pagerdutyfake.Ref{tomas}},
		notify("RPNOT000000000000000010", "10:08:07", tomas, "push_notification"),
		notify("RPNOT000000000000000011", "10:08:08", tomas, "sms"),
		notify("RPNOT000000000000000012", "10:08:09", tomas, "email"),
		notify("RPNOT000000000000000013", "10:08:40", tomas, "phone"),
		notify("RPNOT000000000000000014", "10:36:19", tomas, "push_notification"),
		{ID: "RPRES000000000000000015", Type: "resolve", Summary: "Resolved by Tomás Ortega", CreatedAt: at("11:12:00"),
			Agent: &tomas, Channel: map[string]any{"type": "website"}},
	}
	for _, le := range entries {
		le.IncidentID = id
		pd.AddLogEntry(le)
	}
	pd.AddAlert(pagerdutyfake.Alert{ID: "PALWARN741", IncidentID: id, Summary: "checkout-db connection pool usage above 80%",
		Status: "resolved", Severity: "warning", AlertKey: "checkout-db/pool", CreatedAt: at("07:41:00"), Service: service, Integration: &datadog})
	pd.AddAlert(pagerdutyfake.Alert{ID: "PAL5XX1000", IncidentID: id, Summary: "checkout-api error rate above 5%",
		Status: "resolved", Severity: "critical", AlertKey: "checkout-api/5xx-rate", CreatedAt: at("10:00:00"), Service: service, Integration: &datadog})
	pd.AddAlert(pagerdutyfake.Alert{ID: "PAL5XX1036", IncidentID: id, Summary: "checkout-api error rate above 5%",
		Status: "resolved", Severity: "critical", AlertKey: "checkout-api/5xx-rate", CreatedAt: at("10:36:17"), Service: service, Integration: &datadog})
	// Priya's load: another incident four days before, paged twice (a
	// push and an SMS within a minute are one interruption) and once more.
	other := "Q0OTHERINC001"
	pd.AddIncident(pagerdutyfake.Incident{ID: other, Number: 5050, Title: "Cart latency", CreatedAt: time.Date(2025, 11, 14, 2, 0, 0, 0, time.UTC), Service: service})
	for i, o := range []struct {
		when    time.Time
		channel string
	}{
		{time.Date(2025, 11, 14, 2, 0, 5, 0, time.UTC), "push_notification"},
		{time.Date(2025, 11, 14, 2, 0, 6, 0, time.UTC), "sms"},
		{time.Date(2025, 11, 14, 2, 20, 0, 0, time.UTC), "phone"},
		{time.Date(2025, 11, 14, 2, 20, 1, 0, time.UTC), "email"},
	} {
		pd.AddLogEntry(pagerdutyfake.LogEntry{ID: fmt.Sprintf("ROTHER%018d", i), IncidentID: other, Type: "notify",
			Summary: "Notified Priya Natarajan", CreatedAt: o.when, Agent: &service, Channel: map[string]any{"type": o.channel}, User: &priya})
	}

	// GitHub.
	gh := w.GH
	gh.AddRepo(RealisticRepo)
	gh.AddUser(githubfake.User{Login: "priya-n", Name: "Priya Natarajan", Email: "priya@acme.example"})
	gh.AddUser(githubfake.User{Login: "tortega", Name: "Tomás Ortega", Email: "tortega@users.noreply.github.com"})
	gh.AddUser(githubfake.User{Login: "jberg", Name: "Jonas Berg", Email: "jonas@acme.example"})
	gh.AddUser(githubfake.User{Login: "acme-deployer[bot]", Name: "acme-deployer", Bot: true})
	commit := func(msg, login, name, email string, t time.Time, parents ...string) string {
		return gh.AddCommit(RealisticRepo, githubfake.Commit{Message: msg, AuthorLogin: login, AuthorName: name, AuthorEmail: email,
			AuthorDate: t, CommitterLogin: login, CommitterName: name, CommitterEmail: email, CommitterDate: t, Parents: parents})
	}
	base := commit("Release v3.7.2", "jberg", "Jonas Berg", "jonas@acme.example", time.Date(2025, 11, 17, 16, 0, 0, 0, time.UTC))
	j1 := commit("Tidy checkout logging", "jberg", "Jonas Berg", "jonas@acme.example", at("08:15:00"), base)
	j2 := commit("Add cart service metrics", "jberg", "Jonas Berg", "jonas@acme.example", at("08:40:00"), j1)
	p1 := commit("Raise checkout DB pool size to 200", "priya-n", "Priya Natarajan", "priya@acme.example", at("09:10:00"), j2)
	m1 := commit("Merge pull request #2201 from acme/pool-size\n\nRaise checkout DB pool size to 200", "priya-n", "Priya Natarajan", "priya@acme.example", at("09:30:00"), j2, p1)
	h1 := commit("Cap checkout DB pool at 150", "tortega", "Tomás Ortega", "tortega@users.noreply.github.com", at("10:15:00"), m1)
	m2 := commit("Merge pull request #2203 from acme/hotfix-pool\n\nHotfix: cap checkout DB pool at 150", "tortega", "Tomás Ortega", "tortega@users.noreply.github.com", at("10:18:00"), m1, h1)
	d1 := commit("Update the pool runbook", "jberg", "Jonas Berg", "jonas@acme.example", at("10:48:00"), m2)
	m3 := commit("Merge pull request #2204 from acme/runbook\n\nDocs: update the pool runbook", "jberg", "Jonas Berg", "jonas@acme.example", at("10:50:00"), m2, d1)
	_ = m3
	for _, p := range []githubfake.Pull{
		{Number: 2201, Title: "Raise checkout DB pool size to 200", User: "priya-n", Head: "pool-size", HeadSHA: p1, MergeCommitSHA: m1,
			CreatedAt: at("09:11:00"), MergedAt: at("09:30:00")},
		{Number: 2203, Title: "Hotfix: cap checkout DB pool at 150", User: "tortega", Head: "hotfix-pool", HeadSHA: h1, MergeCommitSHA: m2,
			CreatedAt: at("10:15:30"), MergedAt: at("10:18:00")},
		{Number: 2204, Title: "Docs: update the pool runbook", User: "jberg", Head: "runbook", HeadSHA: d1, MergeCommitSHA: m3,
			CreatedAt: at("10:48:30"), MergedAt: at("10:50:00")},
	} {
		p.State, p.Base, p.UpdatedAt, p.ClosedAt = "closed", "main", p.MergedAt, p.MergedAt
		gh.AddPull(RealisticRepo, p)
	}
	gh.AddRelease(RealisticRepo, githubfake.Release{TagName: "v3.8.0", Name: "v3.8.0", Body: "Raise checkout DB pool size to 200 (#2201)",
		Author: "priya-n", CreatedAt: at("09:38:00"), PublishedAt: at("09:40:00")})
	type st struct{ state, hms, desc string }
	deploy := func(d githubfake.Deployment, sts ...st) error {
		d.Creator = "acme-deployer[bot]"
		id := gh.AddDeployment(RealisticRepo, d)
		for _, s := range sts {
			t := d.CreatedAt
			if s.hms != "" {
				t = at(s.hms)
			}
			if _, err := gh.AddDeploymentStatus(RealisticRepo, id, githubfake.DeploymentStatus{State: s.state, Description: s.desc, CreatedAt: t}); err != nil {
				return fmt.Errorf("seeding the realistic world: %w", err)
			}
		}
		return nil
	}
	yesterday := time.Date(2025, 11, 17, 16, 30, 0, 0, time.UTC)
	for _, err := range []error{
		deploy(githubfake.Deployment{SHA: base, Ref: "v3.7.2", Environment: "production", Description: "Deploy v3.7.2", CreatedAt: yesterday, ProductionEnvironment: true},
			st{"success", "", "v3.7.2 is live"}),
		deploy(githubfake.Deployment{SHA: m1, Ref: "v3.8.0", Environment: "staging", Description: "Deploy v3.8.0 to staging", CreatedAt: at("09:35:00")},
			st{"success", "09:37:00", "staging is live"}),
		deploy(githubfake.Deployment{SHA: m1, Ref: "v3.8.0", Environment: "production", Description: "Deploy v3.8.0", CreatedAt: at("09:45:00"), ProductionEnvironment: true},
			st{"queued", "09:45:00", "Queued"}, st{"in_progress", "09:46:00", "Rolling out to 12 pods"}, st{"success", "09:52:11", "v3.8.0 is live"}),
		deploy(githubfake.Deployment{SHA: m2, Ref: "main", Environment: "production", Description: "Hotfix: cap pool at 150", CreatedAt: at("10:20:00"), ProductionEnvironment: true},
			st{"queued", "10:20:00", "Queued"}, st{"in_progress", "10:21:00", "Rolling out"}, st{"failure", "10:27:00", "Health checks failed"}),
		deploy(githubfake.Deployment{SHA: base, Ref: "v3.7.2", Task: "deploy:rollback", Environment: "production", Description: "Rollback to v3.7.2", CreatedAt: at("10:30:30"), ProductionEnvironment: true},
			st{"in_progress", "10:31:00", "Rolling back 12 pods"}, st{"success", "10:36:00", "v3.7.2 is live"}),
	} {
		if err != nil {
			return err
		}
	}

	// Slack.
	sl := w.Slack
	sl.AddChannel(RealisticChannel)
	for _, u := range []slackfake.User{
		{ID: "U0LENA", Name: "lena", RealName: "Lena Schmidt", DisplayName: "Lena (Support)", Email: "lena@acme.example", TZ: "Europe/London"},
		{ID: "U0SAM", Name: "sam", RealName: "Sam Okafor", DisplayName: "Sam", Email: "sam@acme.example", TZ: "Europe/London"},
		{ID: "U0PRIYA", Name: "priya", RealName: "Priya Natarajan", DisplayName: "Priya", Email: "priya@acme.example", TZ: "Europe/London"},
		{ID: "U0MARCO", Name: "marco", RealName: "Marco Rossi", DisplayName: "Marco", Email: "marco@acme.example", TZ: "Europe/Berlin"},
		{ID: "U0TOMAS", Name: "tomas", RealName: "Tomás Ortega", DisplayName: "Tomás", Email: "tomas@acme.example", TZ: "America/New_York"},
		{ID: "U0JONAS", Name: "jonas", RealName: "Jonas Berg", DisplayName: "Jonas", Email: "jonas@acme.example", TZ: "Europe/London"},
		{ID: "U0ANA", Name: "ana", RealName: "Ana Lima", DisplayName: "Ana", Email: "ana@acme.example", TZ: "Europe/Lisbon"},
		{ID: "U0QATEST", Name: "qa-synthetic", RealName: "QA Synthetic", DisplayName: "QA Synthetic", Email: RealisticTestUserEmail, TZ: "Europe/London"},
		{ID: "U0WEI", Name: "wei", RealName: "Wei Chen", DisplayName: "Wei Chen", Email: "wei@acme.example", TZ: "Asia/Singapore"},
	} {
		sl.AddUserProfile(u)
	}
	sl.AddBot("B0PAGERDY", "PagerDuty")
	ts := func(hms string) string { return fmt.Sprintf("%d.000000", at(hms).Unix()) }
	for _, m := range []slackfake.Message{
		{TS: ts("08:05:00"), User: "U0JONAS", Text: "morning all"},
		{TS: ts("09:55:00"), User: "U0LENA", Text: "checkout is failing for a lot of customers right now, payments time out"},
		{TS: ts("09:57:10"), User: "U0SAM", Text: "seeing errors on checkout too, looking"},
		{TS: ts("10:00:10"), BotID: "B0PAGERDY", Subtype: "bot_message", Username: "PagerDuty", Text: "Incident #5120 triggered: checkout-api error rate above 5%"},
		{TS: ts("10:01:00"), User: "U0PRIYA", Text: "ack, on it"},
		{TS: ts("10:03:00"), User: "U0QATEST", Text: "[synthetic] checkout flow FAILED at payment step"},
		{TS: ts("10:06:00"), User: "U0MARCO", Subtype: "channel_join", Text: "<@U0MARCO> has joined the channel"},
		{TS: ts("10:07:30"), User: "U0MARCO", Text: "acked in PagerDuty, looking at checkout-db"},
		{TS: ts("10:08:30"), User: "U0TOMAS", Subtype: "channel_join", Text: "<@U0TOMAS> has joined the channel"},
		{TS: ts("10:09:00"), User: "U0SAM", Text: "I'm IC for this one. We're on a call in the bridge"},
		{TS: ts("10:10:00"), User: "U0TOMAS", Text: "pool size 200 is above max_connections on checkout-db, preparing a hotfix"},
		{TS: ts("10:20:00"), User: "U0ANA", Subtype: "channel_join", Text: "<@U0ANA> has joined the channel"},
		{TS: ts("10:27:30"), User: "U0TOMAS", Text: "hotfix failed health checks, rolling back to v3.7.2"},
		{TS: ts("10:36:30"), User: "U0TOMAS", Text: "rollback is live"},
		{TS: ts("10:38:00"), User: "U0LENA", Text: "customers confirm checkout works again"},
		{TS: ts("11:10:00"), User: "U0SAM", Text: "stable for 30 minutes, resolving"},
		// Later additions: the same question as in the support channel, a
		// third join within four minutes.
		{TS: ts("10:04:00"), User: "U0SAM", Text: "is checkout-db at max connections?"},
		{TS: ts("10:09:20"), User: "U0WEI", Subtype: "channel_join", Text: "<@U0WEI> has joined the channel"},
	} {
		if err := sl.AddMessage(RealisticChannel, m); err != nil {
			return fmt.Errorf("seeding the realistic world: %w", err)
		}
	}
	sl.AddChannel(RealisticSupportChannel)
	for _, m := range []slackfake.Message{
		{TS: ts("10:02:00"), User: "U0LENA", Text: "does anyone know if checkout-db is at max connections right now?"},
	} {
		if err := sl.AddMessage(RealisticSupportChannel, m); err != nil {
			return fmt.Errorf("seeding the realistic world: %w", err)
		}
	}

	// Another service's incident, open meanwhile in the same channel.
	cart := pagerdutyfake.ServiceRef("PSVC002", "cart-api")
	cartResolved := at("10:45:00")
	pd.AddIncident(pagerdutyfake.Incident{ID: RealisticOverlappingID, Number: 5121, Title: "[Datadog] cart-api p99 latency above 2s",
		Urgency: "high", CreatedAt: at("10:20:00"), ResolvedAt: &cartResolved, Service: cart})
	return nil
}
