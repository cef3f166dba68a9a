// Package fakeworld serves one realistic incident from in-process fakes of
// PagerDuty, GitHub and Slack — the same fakes the collectors' tests use —
// for the demo, end-to-end tests and benchmarks.
package fakeworld

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/groundwork-dev/groundwork/collectors/github/githubfake"
	"github.com/groundwork-dev/groundwork/collectors/pagerduty/pagerdutyfake"
	"github.com/groundwork-dev/groundwork/collectors/slack/slackfake"
)

// The world's credentials and names. The tokens are what the fakes accept;
// they are not secrets.
const (
	PagerDutyToken = "demo-pagerduty-token"
	GitHubToken    = "demo-github-token"
	SlackToken     = "xoxb-demo-slack-token"
	ServiceID      = "PSVC001"
	Repo           = "acme/checkout-api"
	Channel        = "C0CHECKOUT"
	IncidentID     = pagerdutyfake.CheckoutIncidentID
)

// World is the three fakes, each on its own loopback listener.
type World struct {
	PD    *pagerdutyfake.Fake
	GH    *githubfake.Server
	Slack *slackfake.Server

	PDURL, GHURL, SlackURL string
	servers                []*http.Server
}

// Start seeds the fakes with the incident and serves them on 127.0.0.1
// until Close is called.
func Start() (*World, error) { return start(Seed) }

func start(seed func(*World) error) (*World, error) {
	w := &World{
		PD:    pagerdutyfake.New(PagerDutyToken),
		GH:    githubfake.New(GitHubToken),
		Slack: slackfake.New(SlackToken),
	}
	for _, h := range []struct {
		handler http.Handler
		url     *string
		suffix  string
	}{{w.PD, &w.PDURL, ""}, {w.GH, &w.GHURL, "/"}, {w.Slack, &w.SlackURL, "/api/"}} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("starting a fake upstream: %w", err)
		}
		srv := &http.Server{Handler: h.handler, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		w.servers = append(w.servers, srv)
		*h.url = "http://" + ln.Addr().String() + h.suffix
	}
	w.GH.SetBaseURLs(w.GHURL, "https://github.com")
	if err := seed(w); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// Close stops the fakes.
func (w *World) Close() {
	for _, s := range w.servers {
		_ = s.Shutdown(context.Background())
	}
}

// Seed adds the incident: the checkout API's error rate pages the
// on-call, who misses it; it escalates; the secondary acknowledges and rolls
// back the deploy that went out twelve minutes before the first alert; the
// channel is busy, then quiet, then the incident is resolved.
func Seed(w *World) error {
	pagerdutyfake.SeedCheckoutIncident(w.PD)
	at := func(hms string) time.Time {
		t, err := time.Parse(time.RFC3339, "2025-11-20T"+hms+"Z")
		if err != nil {
			panic(err)
		}
		return t
	}

	gh := w.GH
	gh.AddRepo(Repo)
	gh.AddUser(githubfake.User{Login: "priya-n", Name: "Priya Natarajan", Email: "priya@acme.example"})
	gh.AddUser(githubfake.User{Login: "tortega", Name: "Tomás Ortega", Email: "tomas@acme.example"})
	gh.AddUser(githubfake.User{Login: "acme-deployer[bot]", Name: "acme-deployer", Bot: true})
	commit := func(msg, login, name, email string, t time.Time, parents ...string) string {
		return gh.AddCommit(Repo, githubfake.Commit{Message: msg, AuthorLogin: login, AuthorName: name, AuthorEmail: email,
			AuthorDate: t, CommitterLogin: login, CommitterName: name, CommitterEmail: email, CommitterDate: t, Parents: parents})
	}
	base := commit("Release v2.41.0", "tortega", "Tomás Ortega", "tomas@acme.example", time.Date(2025, 11, 19, 16, 0, 0, 0, time.UTC))
	c1 := commit("Raise checkout DB pool max lifetime to 60m\n\nLong-lived connections avoid reconnect storms after failover.",
		"priya-n", "Priya Natarajan", "priya@acme.example", at("08:55:00"), base)
	c2 := commit("Merge pull request #1287 from acme/pool-lifetime\n\nRaise checkout DB pool max lifetime",
		"priya-n", "Priya Natarajan", "priya@acme.example", at("09:21:00"), base, c1)
	c3 := commit("Revert \"Raise checkout DB pool max lifetime to 60m\"\n\nConnections were never recycled; checkout-db-2 ran out of slots.",
		"tortega", "Tomás Ortega", "tomas@acme.example", at("10:25:10"), c2)
	gh.AddPull(Repo, githubfake.Pull{Number: 1287, Title: "Raise checkout DB pool max lifetime", User: "priya-n",
		State: "closed", Base: "main", Head: "pool-lifetime", HeadSHA: c1, MergeCommitSHA: c2,
		CreatedAt: at("08:56:00"), UpdatedAt: at("09:21:00"), ClosedAt: at("09:21:00"), MergedAt: at("09:21:00")})
	gh.AddPull(Repo, githubfake.Pull{Number: 1290, Title: "Revert pool max lifetime change", User: "tortega",
		State: "closed", Base: "main", Head: "revert-pool-lifetime", HeadSHA: c3, MergeCommitSHA: c3,
		CreatedAt: at("10:20:00"), UpdatedAt: at("10:28:00"), ClosedAt: at("10:28:00"), MergedAt: at("10:28:00")})
	gh.AddRelease(Repo, githubfake.Release{TagName: "v2.42.0", Name: "v2.42.0", Body: "Raise DB pool max lifetime (#1287)",
		Author: "priya-n", CreatedAt: at("09:36:00"), PublishedAt: at("09:38:00")})
	gh.AddWorkflowRun(Repo, githubfake.WorkflowRun{Name: "CI", HeadSHA: c2, Status: "completed", Conclusion: "success",
		Actor: "priya-n", CreatedAt: at("09:21:05"), RunStartedAt: at("09:21:10"), UpdatedAt: at("09:29:40")})
	gh.AddWorkflowRun(Repo, githubfake.WorkflowRun{Name: "CI", HeadSHA: c3, Status: "completed", Conclusion: "success",
		Actor: "tortega", CreatedAt: at("10:28:05"), RunStartedAt: at("10:28:10"), UpdatedAt: at("10:35:50")})

	deploy := gh.AddDeployment(Repo, githubfake.Deployment{SHA: c2, Ref: "v2.42.0", Environment: "production",
		Description: "Deploy v2.42.0", Creator: "priya-n", CreatedAt: at("09:40:00"), ProductionEnvironment: true})
	rollback := gh.AddDeployment(Repo, githubfake.Deployment{SHA: base, Ref: "v2.41.0", Task: "deploy:rollback", Environment: "production",
		Description: "Rollback to v2.41.0", Creator: "tortega", CreatedAt: at("10:13:00"), ProductionEnvironment: true})
	for _, st := range []struct {
		id          int64
		state, hms  string
		creator     string
		description string
	}{
		{deploy, "queued", "09:40:00", "acme-deployer[bot]", "Queued"},
		{deploy, "in_progress", "09:40:20", "acme-deployer[bot]", "Rolling out to 12 pods"},
		{deploy, "success", "09:46:30", "acme-deployer[bot]", "v2.42.0 is live"},
		{rollback, "in_progress", "10:13:05", "acme-deployer[bot]", "Rolling back 12 pods"},
		{rollback, "success", "10:17:40", "acme-deployer[bot]", "v2.41.0 is live"},
		{deploy, "inactive", "10:17:41", "acme-deployer[bot]", "Superseded by rollback"},
	} {
		if _, err := gh.AddDeploymentStatus(Repo, st.id, githubfake.DeploymentStatus{State: st.state, Creator: st.creator,
			Description: st.description, CreatedAt: at(st.hms)}); err != nil {
			return fmt.Errorf("seeding the fake world: %w", err)
		}
	}

	sl := w.Slack
	sl.AddChannel(Channel)
	sl.AddUserProfile(slackfake.User{ID: "U0PRIYA01", Name: "priya", RealName: "Priya Natarajan", DisplayName: "Priya", Email: "priya@acme.example", TZ: "Asia/Kolkata"})
	sl.AddUserProfile(slackfake.User{ID: "U0TOMAS01", Name: "tomas", RealName: "Tomás Ortega", DisplayName: "Tomás", Email: "tomas@acme.example", TZ: "America/New_York"})
	sl.AddUserProfile(slackfake.User{ID: "U0SAMOK01", Name: "sam", RealName: "Sam Okafor", DisplayName: "Sam", Email: "sam@acme.example", TZ: "Europe/London"})
	sl.AddUserProfile(slackfake.User{ID: "U0LENAS01", Name: "lena", RealName: "Lena Schmidt", DisplayName: "Lena (Support)", Email: "lena@acme.example", TZ: "Europe/Berlin"})
	sl.AddBot("B0PAGERDY", "PagerDuty")
	sl.AddBot("B0DEPLOYR", "acme-deployer")
	ts := func(hms string, micro int) string { return fmt.Sprintf("%d.%06d", at(hms).Unix(), micro) }
	thread := ts("10:09:50", 100)
	msgs := []slackfake.Message{
		{TS: ts("09:46:35", 1), BotID: "B0DEPLOYR", Subtype: "bot_message", Username: "acme-deployer", Text: "Deployed acme/checkout-api v2.42.0 to production"},
		{TS: ts("09:58:05", 1), BotID: "B0PAGERDY", Subtype: "bot_message", Username: "PagerDuty", Text: "Incident #4242 triggered: Checkout API error rate above 5% (assigned to Priya Natarajan)"},
		{TS: ts("10:00:12", 1), User: "U0LENAS01", Text: "Customers are reporting failed payments at checkout, 12 tickets in 5 minutes"},
		{TS: ts("10:02:40", 1), User: "U0LENAS01", Text: "Is anyone looking at this? <@U0PRIYA01> is on call I think"},
		{TS: ts("10:08:30", 1), User: "U0TOMAS01", Subtype: "channel_join", Text: "<@U0TOMAS01> has joined the channel"},
		{TS: thread, User: "U0TOMAS01", Text: "ack'd, looking. 5xx on checkout-api since ~09:58, p99 at 4s"},
		{TS: ts("10:10:30", 1), User: "U0LENAS01", ThreadTS: thread, Text: "Support has 40 tickets so far, status page?"},
		{TS: ts("10:10:55", 1), User: "U0TOMAS01", ThreadTS: thread, Text: "yes, posting \"investigating\" now"},
		{TS: ts("10:10:20", 1), User: "U0PRIYA01", Subtype: "channel_join", Text: "<@U0PRIYA01> has joined the channel"},
		{TS: ts("10:11:00", 1), User: "U0PRIYA01", Text: "sorry, was driving. DB pool exhausted on checkout-db-2 | v2.42.0 went out at 09:46 and raised the pool max lifetime"},
		{TS: ts("10:11:40", 1), User: "U0TOMAS01", Text: "<@U0PRIYA01> that lines up. Rolling back to v2.41.0"},
		{TS: ts("10:12:10", 1), User: "U0SAMOK01", Subtype: "channel_join", Text: "<@U0SAMOK01> has joined the channel"},
		{TS: ts("10:12:30", 1), User: "U0SAMOK01", Text: "I'm IC from here. Tomás on the rollback, Priya on the DB side"},
		{TS: ts("10:13:10", 1), User: "U0PRIYA01", ThreadTS: ts("10:12:30", 1), Text: "ok, watching connection counts on checkout-db-2"},
		{TS: ts("10:17:45", 1), BotID: "B0DEPLOYR", Subtype: "bot_message", Username: "acme-deployer", Text: "Deployed acme/checkout-api v2.41.0 to production (rollback)"},
		{TS: ts("10:19:00", 1), User: "U0PRIYA01", Text: "connections recycling again, pool at 41/100"},
		{TS: ts("10:21:30", 1), User: "U0LENAS01", Text: "New tickets have stopped 🎉 Ödeme hatası reports from TR customers too, all recovered"},
		{TS: ts("10:24:00", 1), User: "U0TOMAS01", Text: "revert PR coming so main matches prod"},
		{TS: ts("10:58:20", 1), User: "U0SAMOK01", Text: "error rate at baseline for 40 minutes, resolving. Review on Monday"},
		{TS: ts("11:10:40", 1), BotID: "B0PAGERDY", Subtype: "bot_message", Username: "PagerDuty", Text: "Incident #4242 resolved by Sam Okafor"},
		// Outside the window: yesterday's chatter is not part of the incident.
		{TS: fmt.Sprintf("%d.000001", time.Date(2025, 11, 19, 17, 0, 0, 0, time.UTC).Unix()), User: "U0TOMAS01", Text: "v2.41.0 is out, have a good evening"},
	}
	for _, m := range msgs {
		if err := sl.AddMessage(Channel, m); err != nil {
			return fmt.Errorf("seeding the fake world: %w", err)
		}
	}
	if err := sl.EditMessage(Channel, ts("10:00:12", 1), "Customers are reporting failed payments at checkout, 12 tickets in 5 minutes (EU only)", ts("10:01:00", 1)); err != nil {
		return fmt.Errorf("seeding the fake world: %w", err)
	}
	return nil
}

// Expected is what a complete collection of the incident holds, per kind.
// It is written out by hand from Seed and SeedCheckoutIncident, so a
// collector that drops or invents events fails every check built on it.
var Expected = map[string]int{
	"alert.triggered": 2, "page.triggered": 1, "page.notified": 4, "page.escalated": 1,
	"page.acknowledged": 1, "page.reassigned": 1, "page.priority_changed": 1, "page.other": 2,
	"page.resolved": 1, "page.annotated": 3,
	"change.commit": 3, "change.merged": 2, "change.release": 1, "ci.completed": 2,
	"deploy.queued": 1, "deploy.started": 2, "deploy.succeeded": 2, "deploy.inactive": 1,
	"chat.message": 14, "chat.reply": 3, "chat.joined": 3,
}
