package timeline

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the DST cases must not depend on the machine's zoneinfo

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// at parses an RFC 3339 time or panics: test data is written by hand.
func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func zone(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

type evOpt func(*Event)

// ev builds an event; its source is the prefix of its id.
func ev(id, kind, when string, opts ...evOpt) Event {
	src, _, _ := strings.Cut(id, ":")
	e := Event{ID: id, Source: src, Kind: kind, OccurredAt: at(when), Title: kind, Details: map[string]any{}}
	for _, o := range opts {
		o(&e)
	}
	return e
}

func by(id, name, email string) evOpt {
	return func(e *Event) { e.Actor = &Actor{ID: id, Name: name, Email: email} }
}

func titled(s string) evOpt { return func(e *Event) { e.Title = s; e.Text = s } }

func with(kv ...any) evOpt {
	return func(e *Event) {
		for i := 0; i < len(kv); i += 2 {
			e.Details[kv[i].(string)] = kv[i+1]
		}
	}
}

// pdUser is how pager log entries of a person are normalised.
func pdUser(id, name, email string) evOpt { return by(id, name, email) }

// pdSystem is a log entry whose agent is not a person: the normaliser marks
// it a bot (typ is the upstream's type of the agent, for the reader).
func pdSystem(id, name, typ string) evOpt {
	_ = typ
	return func(e *Event) {
		by(id, name, "")(e)
		e.Actor.Bot = true
	}
}

// bot marks the event's actor as not a person, as the normalisers do.
func bot() evOpt { return func(e *Event) { e.Actor.Bot = true } }

func notified(id, name, email string) evOpt {
	// A JSON round trip through the store gives map[string]any.
	return with(DetailNotifiedPerson, map[string]any{"id": id, "name": name, "email": email})
}

func deploy(repo string, deploymentID any, env, sha string) evOpt {
	return with(DetailRepo, repo, DetailDeploymentID, deploymentID, DetailEnvironment, env, DetailSHA, sha)
}

// slackID builds a Slack message id from its channel and time.
func slackID(channel, when string) string {
	return fmt.Sprintf("slack:message:%s:%d.000100", channel, at(when).Unix())
}

func ptr[T any](v T) *T { return &v }

func incident(id, title, source, started, resolved string) Incident {
	inc := Incident{ID: id, Title: title, Source: source, StartedAt: at(started)}
	if resolved != "" {
		inc.ResolvedAt = ptr(at(resolved))
	}
	return inc
}

func withIncident(id string, events ...Event) []Event {
	for i := range events {
		events[i].IncidentID = id
	}
	return events
}

const (
	shaOld    = "1111111a2b3c4d5e6f708192a3b4c5d6e7f80910"
	shaPool   = "2222222b3c4d5e6f708192a3b4c5d6e7f8091011"
	shaRevert = "3333333c4d5e6f708192a3b4c5d6e7f809101112"
)

// realistic: a night-time checkout outage caused by an evening deploy and
// fixed by redeploying the previous sha. Europe/London in November is UTC+0.
func realisticInput() SummaryInput {
	const ch = "C0CHECKOUT"
	carolSlack := by("U0CAROL", "Carol Nguyen", "carol@acme.io")
	aliceSlack := by("U0ALICE", "Alice Moreau", "alice@acme.io")
	daveSlack := by("U0DAVE", "dave", "dave@acme.io")
	carolPD := pdUser("PCAROL1", "Carol Nguyen", "carol@acme.io")
	ghBot := func(e *Event) { by("github-actions[bot]", "github-actions[bot]", "")(e); e.Actor.Bot = true }
	bob := by("bobdev", "bobdev", "")
	carolGH := by("carol-n", "carol-n", "carol@acme.io")
	const repo = "acme/checkout-api"
	dep := func(n int) string { return fmt.Sprintf("github:deployment_status:%s:%d", repo, n) }
	inc := incident("Q1CHECKOUT", "Checkout API 5xx", "pagerduty", "2025-11-20T02:58:10Z", "2025-11-20T04:40:00Z")
	events := withIncident(inc.ID,
		// The previous release, then the change that caused the incident.
		ev(dep(100), KindDeployStarted, "2025-11-20T00:59:00Z", ghBot, deploy(repo, int64(9000), "production", shaOld), titled("Deploying 1111111 to production")),
		ev(dep(101), KindDeploySucceeded, "2025-11-20T01:02:00Z", ghBot, deploy(repo, int64(9000), "production", shaOld), titled("Deployed 1111111 to production")),
		ev("github:commit:"+repo+":"+shaPool, KindChangeCommit, "2025-11-20T01:20:00Z", bob, titled("Enable pooled connections to payments")),
		ev(dep(102), KindDeployQueued, "2025-11-20T01:30:00Z", bob, deploy(repo, int64(9001), "production", shaPool), titled("Queued 2222222 for production")),
		ev(dep(103), KindDeployStarted, "2025-11-20T01:30:40Z", bob, deploy(repo, int64(9001), "production", shaPool), titled("Deploying 2222222 to production")),
		ev(dep(104), KindDeploySucceeded, "2025-11-20T01:34:00Z", bob, deploy(repo, int64(9001), "production", shaPool), titled("Deployed 2222222 to production")),
		// The page.
		ev("pagerduty:alert:PALRT01", KindAlertTriggered, "2025-11-20T02:57:30Z", titled("High 5xx rate on checkout-api"), with("severity", "critical", "status", "resolved")),
		ev("pagerduty:log_entry:R0TRIG", KindPageTriggered, "2025-11-20T02:58:10Z", pdSystem("PSVC001", "Checkout API", "service_reference"), titled("Triggered through the API")),
		ev("pagerduty:log_entry:R0NOTA", KindPageNotified, "2025-11-20T03:00:00Z", notified("PALICE1", "Alice Moreau", "alice@acme.io"), titled("Notified Alice Moreau by phone")),
		ev("pagerduty:log_entry:R0ESC1", KindPageEscalated, "2025-11-20T03:13:00Z", pdSystem("PEP0001", "Checkout escalation", "escalation_policy_reference"), with("escalation_level", 2), titled("Escalated to level 2 after 13 minutes")),
		ev("pagerduty:log_entry:R0NOTC", KindPageNotified, "2025-11-20T03:13:02Z", notified("PCAROL1", "Carol Nguyen", "carol@acme.io"), titled("Notified Carol Nguyen by push")),
		ev("pagerduty:log_entry:R0ACK1", KindPageAcknowledged, "2025-11-20T03:15:30Z", carolPD, titled("Acknowledged by Carol Nguyen")),
		// The channel, with a thread, a PagerDuty app (bot user id) and a
		// Grafana integration (bot_id on a user-looking id).
		ev(slackID(ch, "2025-11-20T03:16:00Z"), KindChatMessage, "2025-11-20T03:16:00Z", carolSlack, with("channel", ch), titled("Ack'd, looking at checkout 5xx")),
		ev(slackID(ch, "2025-11-20T03:16:30Z"), KindChatMessage, "2025-11-20T03:16:30Z", by("B0PDAPP", "PagerDuty", ""), bot(), with("channel", ch), titled("Incident #4521 triggered: High 5xx rate on checkout-api")),
		ev(slackID(ch, "2025-11-20T03:18:00Z"), KindChatMessage, "2025-11-20T03:18:00Z", daveSlack, with("channel", ch), titled("Seeing 502s from the LB in eu-west-1")),
		ev(slackID(ch, "2025-11-20T03:19:00Z"), KindChatReply, "2025-11-20T03:19:00Z", carolSlack, with("channel", ch, "thread_ts", "1763608680.000100"), titled("Payments pool saturation?")),
		ev(slackID(ch, "2025-11-20T03:20:00Z"), KindChatJoined, "2025-11-20T03:20:00Z", aliceSlack, with("channel", ch, "subtype", "channel_join"), titled("Alice Moreau joined")),
		ev(slackID(ch, "2025-11-20T03:21:00Z"), KindChatReply, "2025-11-20T03:21:00Z", aliceSlack, with("channel", ch, "thread_ts", "1763608680.000100"), titled("That's my pooling change from 01:30, reverting")),
		ev(slackID(ch, "2025-11-20T03:22:00Z"), KindChatMessage, "2025-11-20T03:22:00Z", by("U0GRAFANA", "Grafana", ""), bot(), with("channel", ch), titled("[FIRING] checkout 5xx > 5%")),
		// The fix: a revert for later, a redeploy of the previous sha now.
		ev("github:commit:"+repo+":"+shaRevert, KindChangeCommit, "2025-11-20T03:35:00Z", by("alice-gh", "alice-gh", "Alice@Acme.IO"), titled(`Revert "Enable pooled connections to payments"`)),
		ev("github:pull:"+repo+":512", KindChangeMerged, "2025-11-20T03:38:00Z", by("alice-gh", "alice-gh", ""), titled("#512 Revert pooled connections")),
		ev(dep(105), KindDeployStarted, "2025-11-20T03:40:00Z", carolGH, deploy(repo, int64(9002), "production", shaOld), titled("Deploying 1111111 to production")),
		ev(dep(106), KindDeploySucceeded, "2025-11-20T03:44:00Z", carolGH, deploy(repo, int64(9002), "production", shaOld), titled("Deployed 1111111 to production")),
		ev(slackID(ch, "2025-11-20T03:45:00Z"), KindChatMessage, "2025-11-20T03:45:00Z", carolSlack, with("channel", ch), titled("Rollback is out, 5xx back under 0.1%")),
		// 40 quiet minutes, then a note; resolved exactly 15 minutes later
		// (not a gap: a gap must be longer than quiet_gap).
		ev("pagerduty:note:PNOTE01", KindPageAnnotated, "2025-11-20T04:25:00Z", by("PCAROL1", "Carol Nguyen", ""), titled("Stable for 40 minutes; resolving after one more check")),
		ev("pagerduty:log_entry:R0RES1", KindPageResolved, "2025-11-20T04:40:00Z", carolPD, titled("Resolved by Carol Nguyen")),
		ev(slackID(ch, "2025-11-20T04:41:00Z"), KindChatMessage, "2025-11-20T04:41:00Z", daveSlack, with("channel", ch), titled("Thanks all, I'll start the write-up")),
	)
	return SummaryInput{
		Incident: inc,
		Events:   events,
		Overlapping: []Incident{
			incident("Q0PAYMENTS", "Payments API latency", "pagerduty", "2025-11-20T02:30:00Z", "2025-11-20T03:30:00Z"),
			inc, // the store may hand the incident itself back: it is left out
			incident("Q0EARLIER", "Disk full on build runner", "pagerduty", "2025-11-19T20:00:00Z", "2025-11-19T21:00:00Z"),
		},
		PriorPages: map[string]int{"PALICE1": 3},
		Config:     ReviewConfig{Location: zone("Europe/London"), BusinessStart: 9 * 60, BusinessEnd: 18 * 60, QuietGap: 15 * time.Minute},
		Now:        at("2025-11-20T06:00:00Z"),
	}
}

// multiDay: a search backlog from Friday evening to Monday morning (British
// Summer Time), no alert, a failed deploy, a declared rollback, a deploy
// still in progress, weekend pages.
func multiDayInput() SummaryInput {
	const ch = "C0SEARCH"
	const repo = "acme/search-indexer"
	dep := func(r string, n int) string { return fmt.Sprintf("github:deployment_status:%s:%d", r, n) }
	mlee := by("mlee", "mlee", "")
	sam := pdUser("PSAM001", "Sam Okafor", "sam@acme.io")
	priyaPD := pdUser("PPRIYA1", "Priya Shah", "priya@acme.io")
	priyaSlack := by("U0PRIYA", "Priya Shah", "priya@acme.io")
	inc := incident("Q2SEARCH", "Search indexing backlog", "pagerduty", "2025-06-13T16:10:00Z", "2025-06-16T09:30:00Z")
	events := withIncident(inc.ID,
		ev(dep(repo, 7001), KindDeployStarted, "2025-06-13T15:20:00Z", mlee, deploy(repo, "700", "production", "5151515"), titled("Deploying 5151515 to production")),
		ev(dep(repo, 7002), KindDeployFailed, "2025-06-13T15:26:00Z", mlee, deploy(repo, "700", "production", "5151515"), titled("Deploy of 5151515 to production failed")),
		ev("github:workflow_run:"+repo+":990", KindCICompleted, "2025-06-13T15:35:00Z", mlee, titled("CI passed on main")),
		ev(dep(repo, 7003), KindDeployStarted, "2025-06-13T15:40:00Z", mlee, deploy(repo, "701", "production", "5151515"), titled("Deploying 5151515 to production")),
		ev(dep(repo, 7004), KindDeploySucceeded, "2025-06-13T15:47:00Z", mlee, deploy(repo, "701", "production", "5151515"), titled("Deployed 5151515 to production")),
		ev("pagerduty:log_entry:R2TRIG", KindPageTriggered, "2025-06-13T16:10:00Z", pdSystem("PSVC009", "Search", "service_reference"), titled("Triggered through the API")),
		ev("pagerduty:log_entry:R2NOT1", KindPageNotified, "2025-06-13T16:10:05Z", notified("PMLEE01", "Min Lee", "min.lee@acme.io"), titled("Notified Min Lee by SMS")),
		ev("pagerduty:log_entry:R2ESC1", KindPageEscalated, "2025-06-13T16:40:00Z", pdSystem("PEP0009", "Search escalation", "escalation_policy_reference"), titled("Escalated to level 2")),
		ev("pagerduty:log_entry:R2NOT2", KindPageNotified, "2025-06-13T16:40:02Z", notified("PSAM001", "Sam Okafor", "sam@acme.io"), titled("Notified Sam Okafor by phone")),
		ev("pagerduty:log_entry:R2ACK1", KindPageAcknowledged, "2025-06-13T17:05:00Z", sam, titled("Acknowledged by Sam Okafor")),
		ev(slackID(ch, "2025-06-13T17:10:00Z"), KindChatMessage, "2025-06-13T17:10:00Z", by("U0SAM", "sam", "SAM@acme.io"), titled("Backlog at 2M documents and growing")),
		// Saturday: handed over to Priya, who is paged at 09:00 local on a
		// weekend.
		ev("pagerduty:log_entry:R2ASN1", KindPageReassigned, "2025-06-14T08:00:00Z", sam, titled("Reassigned to Priya Shah")),
		ev("pagerduty:log_entry:R2NOT3", KindPageNotified, "2025-06-14T08:00:03Z", notified("PPRIYA1", "Priya Shah", "priya@acme.io"), titled("Notified Priya Shah by push")),
		ev(slackID(ch, "2025-06-14T08:20:00Z"), KindChatMessage, "2025-06-14T08:20:00Z", priyaSlack, titled("Picking this up")),
		ev(slackID(ch, "2025-06-14T11:00:00Z"), KindChatMessage, "2025-06-14T11:00:00Z", priyaSlack, titled("Rolling the indexer back to 5050505")),
		ev(dep(repo, 7005), KindDeployStarted, "2025-06-14T11:05:00Z", by("priya-gh", "priya-gh", "priya@acme.io"), deploy(repo, "702", "production", "5050505"), with(DetailRollback, true), titled("Rolling back to 5050505")),
		ev(dep(repo, 7006), KindDeploySucceeded, "2025-06-14T11:12:00Z", by("priya-gh", "priya-gh", "priya@acme.io"), deploy(repo, "702", "production", "5050505"), with(DetailRollback, true), titled("Rolled back to 5050505")),
		// Sunday: an unrelated staging deploy that never finished, without
		// a title, and a note.
		ev(dep("acme/infra", 8001), KindDeployStarted, "2025-06-15T14:00:00Z", by("ops-bot[bot]", "ops-bot[bot]", ""), bot(), deploy("acme/infra", 55.0, "staging", "9f8e7d6c5b4a"), titled("")),
		ev("pagerduty:note:PNOTE22", KindPageAnnotated, "2025-06-15T20:00:00Z", by("PPRIYA1", "Priya Shah", ""), titled("Backlog down to 200k; leaving it to drain overnight")),
		// Monday morning.
		ev(slackID(ch, "2025-06-16T08:45:00Z"), KindChatMessage, "2025-06-16T08:45:00Z", priyaSlack, titled("Backlog drained")),
		ev("pagerduty:log_entry:R2RES1", KindPageResolved, "2025-06-16T09:30:00Z", priyaPD, titled("Resolved by Priya Shah")),
	)
	start, end, err := ParseBusinessHours("09:00-18:00")
	if err != nil {
		panic(err)
	}
	return SummaryInput{
		Incident: inc,
		Events:   events,
		Config:   ReviewConfig{Location: zone("Europe/London"), BusinessStart: start, BusinessEnd: end, QuietGap: 30 * time.Minute},
		Now:      at("2025-06-16T12:00:00Z"),
	}
}

// noAck: an incident declared through the generic hook, never
// acknowledged, with the zero ReviewConfig (defaults: UTC, 09:00-18:00, 15m).
func noAckInput() SummaryInput {
	const ch = "C0BILLING"
	const repo = "acme/billing"
	dep := func(n int) string { return fmt.Sprintf("github:deployment_status:%s:%d", repo, n) }
	eve := by("U0EVE", "Eve Adams", "eve@acme.io")
	inc := incident("GEN-42", "Nightly billing export failed", "generic", "2025-09-02T23:05:00Z", "2025-09-03T01:15:00Z")
	events := withIncident(inc.ID,
		ev(dep(31), KindDeployStarted, "2025-09-02T22:40:00Z", by("ops", "Ops deployer", "ops@acme.io"), deploy(repo, 3, "production", "b2b2b2b"), titled("Deploying b2b2b2b")),
		ev(dep(32), KindDeploySucceeded, "2025-09-02T22:44:00Z", by("ops", "Ops deployer", "ops@acme.io"), deploy(repo, 3, "production", "b2b2b2b"), titled("Deployed b2b2b2b")),
		ev("generic:incident:GEN-42:opened", KindIncidentOpened, "2025-09-02T23:05:00Z", titled("Nightly billing export failed")),
		ev(slackID(ch, "2025-09-02T23:20:00Z"), KindChatMessage, "2025-09-02T23:20:00Z", eve, titled("Export job died at 23:04, looking")),
		ev(slackID(ch, "2025-09-02T23:21:00Z"), KindChatMessage, "2025-09-02T23:21:00Z", by("U0APP01", "Jobs", ""), bot(), titled("Job billing-export failed (exit 137)")),
		ev(slackID(ch, "2025-09-02T23:50:00Z"), KindChatReply, "2025-09-02T23:50:00Z", eve, with("thread_ts", "1756855200.000100"), titled("OOM after the new batch size")),
		ev("github:commit:"+repo+":b3b3b3b", KindChangeCommit, "2025-09-03T00:30:00Z", by("eve-b", "eve-b", "EVE@acme.io"), titled("Halve export batch size")),
		// The status creator carries no email: joined through the commit.
		ev(dep(41), KindDeployStarted, "2025-09-03T00:40:00Z", by("eve-b", "eve-b", ""), deploy(repo, 4, "production", "b3b3b3b"), titled("Deploying b3b3b3b")),
		ev(dep(42), KindDeploySucceeded, "2025-09-03T00:46:00Z", by("eve-b", "eve-b", ""), deploy(repo, 4, "production", "b3b3b3b"), titled("Deployed b3b3b3b")),
		ev("generic:incident:GEN-42:closed", KindIncidentClosed, "2025-09-03T01:15:00Z", titled("Nightly billing export failed")),
	)
	return SummaryInput{
		Incident: inc,
		Events:   events,
		Overlapping: []Incident{
			incident("GEN-41", "Reporting DB replica lag", "generic", "2025-09-02T20:00:00Z", ""),
		},
		PriorPages: map[string]int{}, // known, but nobody here has a PagerDuty identity
		Now:        at("2025-09-03T02:00:00Z"),
	}
}

// noDeploys: a daytime incident in New York that is still open.
func noDeploysInput() SummaryInput {
	const ch = "C0EDGE"
	frankPD := pdUser("PFRANK1", "Frank Ortiz", "frank@acme.io")
	inc := incident("Q3EDGE", "Edge cache hit ratio dropped", "pagerduty", "2025-07-09T14:00:00Z", "")
	events := withIncident(inc.ID,
		ev("pagerduty:alert:PALRT30", KindAlertTriggered, "2025-07-09T13:58:00Z", titled("Cache hit ratio below 80%")),
		ev("pagerduty:log_entry:R3TRIG", KindPageTriggered, "2025-07-09T14:00:00Z", pdSystem("PSVC030", "Edge", "service_reference"), titled("Triggered through the API")),
		ev("pagerduty:log_entry:R3NOT1", KindPageNotified, "2025-07-09T14:00:02Z", notified("PFRANK1", "Frank Ortiz", "frank@acme.io"), titled("Notified Frank Ortiz by push")),
		ev("pagerduty:log_entry:R3ACK1", KindPageAcknowledged, "2025-07-09T14:03:00Z", frankPD, titled("Acknowledged by Frank Ortiz")),
		ev(slackID(ch, "2025-07-09T14:05:00Z"), KindChatMessage, "2025-07-09T14:05:00Z", by("U0FRANK", "frank", "frank@acme.io"), titled("Purging the bad config from the edge")),
		ev(slackID(ch, "2025-07-09T14:06:00Z"), KindChatMessage, "2025-07-09T14:06:00Z", by("U0GINA", "Gina Park", ""), titled("Want me to page the CDN vendor?")),
		ev("pagerduty:log_entry:R3PRI1", KindPagePriorityChanged, "2025-07-09T14:07:00Z", frankPD, titled("Priority changed to P2")),
	)
	return SummaryInput{
		Incident:   inc,
		Events:     events,
		PriorPages: map[string]int{"PFRANK1": 1},
		Config:     ReviewConfig{Location: zone("America/New_York"), BusinessStart: 9 * 60, BusinessEnd: 18 * 60, QuietGap: 15 * time.Minute},
		Now:        at("2025-07-09T14:30:00Z"),
	}
}

// dstLondon straddles the start of British Summer Time (Sunday 2025-03-30,
// 01:00 GMT becomes 02:00 BST). Business hours 09:00-17:30 local.
func dstLondonInput() SummaryInput {
	const ch = "C0QUEUE"
	inc := incident("Q4QUEUE", "Queue consumer lag", "pagerduty", "2025-03-28T08:46:00Z", "2025-03-31T16:45:00Z")
	events := withIncident(inc.ID,
		ev("pagerduty:alert:PALRT40", KindAlertTriggered, "2025-03-28T08:45:00Z", titled("Consumer lag above 10 minutes")), // 08:45 GMT: outside
		ev("pagerduty:log_entry:R4TRIG", KindPageTriggered, "2025-03-28T08:46:00Z", titled("Triggered through the API")),   // outside
		ev("pagerduty:log_entry:R4NOT1", KindPageNotified, "2025-03-28T08:46:05Z", notified("PGINA01", "Gina Park", "gina@acme.io"), titled("Notified Gina Park")),
		ev("pagerduty:log_entry:R4ACK1", KindPageAcknowledged, "2025-03-28T09:01:00Z", pdUser("PGINA01", "Gina Park", "gina@acme.io"), titled("Acknowledged by Gina Park")),          // 09:01 GMT: inside
		ev(slackID(ch, "2025-03-28T17:15:00Z"), KindChatMessage, "2025-03-28T17:15:00Z", by("U0GINA", "Gina Park", "gina@acme.io"), titled("Lag stable, watching over the weekend")), // 17:15 GMT: inside
		// Around the change: 00:50 GMT and 02:10 BST are 20 minutes apart.
		ev(slackID(ch, "2025-03-30T00:50:00Z"), KindChatMessage, "2025-03-30T00:50:00Z", by("U0GINA", "Gina Park", "gina@acme.io"), titled("Lag climbing again")),
		ev(slackID(ch, "2025-03-30T01:10:00Z"), KindChatMessage, "2025-03-30T01:10:00Z", by("U0GINA", "Gina Park", "gina@acme.io"), titled("Restarted consumers")),
		// Monday in BST: 08:30Z is 09:30 local (inside), 16:45Z is 17:45
		// local (outside), though both would read the other way in GMT.
		ev("pagerduty:log_entry:R4NOT2", KindPageNotified, "2025-03-31T08:30:00Z", notified("PHUGO01", "Hugo Blanc", "hugo@acme.io"), titled("Notified Hugo Blanc")),
		ev("pagerduty:log_entry:R4RES1", KindPageResolved, "2025-03-31T16:45:00Z", pdUser("PHUGO01", "Hugo Blanc", "hugo@acme.io"), titled("Resolved by Hugo Blanc")),
	)
	return SummaryInput{
		Incident:   inc,
		Events:     events,
		PriorPages: map[string]int{"PGINA01": 2, "PHUGO01": 5},
		Config:     ReviewConfig{Location: zone("Europe/London"), BusinessStart: 9 * 60, BusinessEnd: 17*60 + 30, QuietGap: 15 * time.Minute},
		Now:        at("2025-04-01T00:00:00Z"),
	}
}

// dstNewYork straddles the end of daylight saving time in New York (Sunday
// 2025-11-02, 02:00 EDT becomes 01:00 EST): 01:30 local happens twice.
func dstNewYorkInput() SummaryInput {
	const ch = "C0ORDERS"
	ivan := pdUser("PIVAN01", "Ivan Petrov", "ivan@acme.io")
	inc := incident("Q5ORDERS", "Order webhooks delayed", "pagerduty", "2025-10-31T12:45:00Z", "2025-11-03T23:15:00Z")
	events := withIncident(inc.ID,
		ev("pagerduty:alert:PALRT50", KindAlertTriggered, "2025-10-31T12:40:00Z", titled("Webhook queue age above 5 minutes")), // 08:40 EDT: outside
		ev("pagerduty:log_entry:R5TRIG", KindPageTriggered, "2025-10-31T12:45:00Z", titled("Triggered through the API")),
		ev("pagerduty:log_entry:R5NOT1", KindPageNotified, "2025-10-31T12:45:03Z", notified("PIVAN01", "Ivan Petrov", "ivan@acme.io"), titled("Notified Ivan Petrov")),  // 08:45 EDT: outside
		ev("pagerduty:log_entry:R5ACK1", KindPageAcknowledged, "2025-10-31T13:15:00Z", ivan, titled("Acknowledged by Ivan Petrov")),                                     // 09:15 EDT: inside
		ev("pagerduty:log_entry:R5NOT2", KindPageNotified, "2025-10-31T21:45:00Z", notified("PKIM001", "Kim Lee", "kim@acme.io"), titled("Notified Kim Lee")),           // 17:45 EDT: inside
		ev(slackID(ch, "2025-10-31T22:15:00Z"), KindChatMessage, "2025-10-31T22:15:00Z", by("U0KIM", "Kim Lee", "kim@acme.io"), titled("Handing over for the weekend")), // 18:15 EDT: outside
		ev(slackID(ch, "2025-11-02T05:30:00Z"), KindChatMessage, "2025-11-02T05:30:00Z", by("U0IVAN", "ivan", "ivan@acme.io"), titled("01:30 EDT: replaying the backlog")),
		ev(slackID(ch, "2025-11-02T06:30:00Z"), KindChatMessage, "2025-11-02T06:30:00Z", by("U0IVAN", "ivan", "ivan@acme.io"), titled("01:30 EST: replay done")),
		// Monday in EST: 13:45Z is 08:45 local (outside), 14:15Z 09:15
		// (inside), 22:45Z 17:45 (inside), 23:15Z 18:15 (outside).
		ev("pagerduty:log_entry:R5NOT3", KindPageNotified, "2025-11-03T13:45:00Z", notified("PJO0001", "Jo Smith", "jo@acme.io"), titled("Notified Jo Smith")),
		ev("pagerduty:log_entry:R5NOT4", KindPageNotified, "2025-11-03T14:15:00Z", notified("PJO0001", "Jo Smith", "jo@acme.io"), titled("Notified Jo Smith again")),
		ev(slackID(ch, "2025-11-03T22:45:00Z"), KindChatMessage, "2025-11-03T22:45:00Z", by("U0JO", "Jo Smith", "jo@acme.io"), titled("Queue age normal for 8 hours")),
		ev("pagerduty:log_entry:R5RES1", KindPageResolved, "2025-11-03T23:15:00Z", pdUser("PJO0001", "Jo Smith", "jo@acme.io"), titled("Resolved by Jo Smith")),
	)
	return SummaryInput{
		Incident:   inc,
		Events:     events,
		PriorPages: map[string]int{"PIVAN01": 1, "PKIM001": 0, "PJO0001": 4},
		Config:     ReviewConfig{Location: zone("America/New_York"), BusinessStart: 9 * 60, BusinessEnd: 18 * 60, QuietGap: 30 * time.Minute},
		Now:        at("2025-11-04T00:00:00Z"),
	}
}

var summaryCases = []struct {
	name  string
	input func() SummaryInput
}{
	{"realistic", realisticInput},
	{"multi_day", multiDayInput},
	{"no_ack", noAckInput},
	{"no_deploys", noDeploysInput},
	{"dst_london", dstLondonInput},
	{"dst_new_york", dstNewYorkInput},
	{"empty", func() SummaryInput { return SummaryInput{} }},
}

func marshalSummary(t *testing.T, s Summary) []byte {
	t.Helper()
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// golden compares got with testdata/summary/name.json, or rewrites the file
// under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "summary", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./timeline -run TestSummarizeGolden -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("summary of %s differs from %s (-want +got):\n%s", name, path, diff)
	}
}

func TestSummarizeGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range summaryCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			golden(t, tc.name, marshalSummary(t, Summarize(tc.input())))
		})
	}
}

// TestSummarizeDeterministic: the same timeline in any order, given twice,
// gives byte-identical output, and the input is left as it was.
func TestSummarizeDeterministic(t *testing.T) {
	t.Parallel()
	for _, tc := range summaryCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := tc.input()
			want := marshalSummary(t, Summarize(in))
			orig := slices.Clone(in.Events)
			for i := 0; i < 3; i++ {
				in.Events = slices.Clone(orig)
				slices.Reverse(in.Events)
				if i == 2 && len(in.Events) > 2 {
					in.Events[0], in.Events[len(in.Events)/2] = in.Events[len(in.Events)/2], in.Events[0]
				}
				shuffled := slices.Clone(in.Events)
				got := marshalSummary(t, Summarize(in))
				if diff := cmp.Diff(string(want), string(got)); diff != "" {
					t.Fatalf("order of input changed the summary (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(shuffled, in.Events); diff != "" {
					t.Fatalf("Summarize changed its input (-before +after):\n%s", diff)
				}
			}
		})
	}
}

// TestSummarizeRealistic states the facts of the realistic case outright, so
// that an -update cannot quietly bless a regression.
func TestSummarizeRealistic(t *testing.T) {
	t.Parallel()
	s := Summarize(realisticInput())

	wantDur := Durations{
		ToAcknowledgeS:          ptr[int64](17*60 + 20),  // 02:58:10 -> 03:15:30
		ToResolveS:              ptr[int64](101*60 + 50), // 02:58:10 -> 04:40:00
		LastDeployToFirstAlertS: ptr[int64](83*60 + 30),  // 01:34:00 -> 02:57:30
		DetectToPageS:           ptr[int64](40),          // the alert 02:57:30 -> the page 02:58:10
		PageToAckS:              ptr[int64](17*60 + 20),  // 02:58:10 -> 03:15:30
		PageToMitigateS:         ptr[int64](45*60 + 50),  // 02:58:10 -> the rollback live 03:44:00
		MitigateToResolveS:      ptr[int64](56 * 60),     // 03:44:00 -> 04:40:00
	}
	if diff := cmp.Diff(wantDur, s.Durations); diff != "" {
		t.Errorf("durations (-want +got):\n%s", diff)
	}

	var moments []string
	for _, m := range s.KeyMoments {
		moments = append(moments, m.Moment+" "+m.At.Format("15:04:05"))
	}
	wantMoments := []string{
		"deploy 01:02:00",
		"last_deploy_before_first_alert 01:34:00",
		"first_alert 02:57:30",
		"triggered 02:58:10",
		"escalated 03:13:00",
		"first_acknowledgement 03:15:30",
		"rollback 03:44:00",
		"resolved 04:40:00",
	}
	if diff := cmp.Diff(wantMoments, moments); diff != "" {
		t.Errorf("key moments (-want +got):\n%s", diff)
	}
	for _, m := range s.KeyMoments {
		if m.Moment == MomentLastDeployBeforeFirstAlert {
			want := []string{
				"github:deployment_status:acme/checkout-api:102",
				"github:deployment_status:acme/checkout-api:103",
				"github:deployment_status:acme/checkout-api:104",
			}
			if diff := cmp.Diff(want, m.EventIDs); diff != "" {
				t.Errorf("last deploy cites (-want +got):\n%s", diff)
			}
		}
	}

	type who struct {
		Name       string
		Identities []Identity
		Paged      *bool
		Prior      *int
	}
	var got []who
	for _, r := range s.Responders {
		got = append(got, who{r.Name, r.Identities, r.PagedOutsideBusinessHours, r.PagesInPrior7Days})
	}
	want := []who{
		// bobdev only committed and deployed, before the incident: he is
		// among the others active, not a responder.
		{"Alice Moreau", []Identity{{"github", "alice-gh"}, {"pagerduty", "PALICE1"}, {"slack", "U0ALICE"}}, ptr(true), ptr(3)},
		{"Carol Nguyen", []Identity{{"github", "carol-n"}, {"pagerduty", "PCAROL1"}, {"slack", "U0CAROL"}}, ptr(true), nil},
		{"dave", []Identity{{"slack", "U0DAVE"}}, nil, nil},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("responders (-want +got):\n%s", diff)
	}
	wantCarol := map[string]int{
		KindPageNotified: 1, KindPageAcknowledged: 1, KindChatMessage: 2, KindChatReply: 1,
		KindDeployStarted: 1, KindDeploySucceeded: 1, KindPageAnnotated: 1, KindPageResolved: 1,
	}
	if diff := cmp.Diff(wantCarol, s.Responders[1].Counts); diff != "" {
		t.Errorf("Carol's counts (-want +got):\n%s", diff)
	}

	// Gaps are per human lane and inside the incident's span: the commits
	// and deploys before the page fill no silence and make none.
	wantGaps := []string{"pager 03:15:30 4170", "chat:C0CHECKOUT 03:21:00 1440"}
	var gotGaps []string
	for _, g := range s.Gaps {
		gotGaps = append(gotGaps, fmt.Sprintf("%s %s %d", g.Lane, g.Start.Format("15:04:05"), g.Seconds))
	}
	if diff := cmp.Diff(wantGaps, gotGaps); diff != "" {
		t.Errorf("gaps (-want +got):\n%s", diff)
	}
	if g := s.Gaps[0]; g.AfterEventID != "pagerduty:log_entry:R0ACK1" || g.BeforeEventID != "pagerduty:note:PNOTE01" || g.AllLanesQuiet {
		t.Errorf("the pager's gap cites %s .. %s (all quiet %v)", g.AfterEventID, g.BeforeEventID, g.AllLanesQuiet)
	}

	// Pager, alert and chat events inside the span, all at night.
	if n := s.Context.EventsOutsideBusinessHours; n != 16 {
		t.Errorf("events outside business hours = %d, want the 16 of the response (night time)", n)
	}
	if len(s.Context.OverlappingIncidents) != 1 || s.Context.OverlappingIncidents[0].ID != "Q0PAYMENTS" {
		t.Errorf("overlapping = %+v, want only Q0PAYMENTS", s.Context.OverlappingIncidents)
	}
}

func TestSummarizeNullsWhenUnknown(t *testing.T) {
	t.Parallel()
	s := Summarize(noAckInput())
	if s.Durations.ToAcknowledgeS != nil {
		t.Errorf("to_acknowledge_s = %d, want null without an acknowledgement", *s.Durations.ToAcknowledgeS)
	}
	if got := s.Durations.LastDeployToFirstAlertS; got == nil || *got != 21*60 {
		t.Errorf("last_deploy_to_first_alert_s = %v, want 1260 (anchored on incident.opened)", got)
	}
	for _, r := range s.Responders {
		if r.PagesInPrior7Days != nil || r.PagedOutsideBusinessHours != nil {
			t.Errorf("%s: pages %v, paged outside %v; want null for people never paged", r.Name, r.PagesInPrior7Days, r.PagedOutsideBusinessHours)
		}
	}
	// The deploy before the incident is not a response: its deployer is
	// among the others active, not a responder.
	if len(s.Responders) != 1 || s.Responders[0].Name != "Eve Adams" || len(s.Responders[0].Identities) != 2 {
		t.Errorf("want only Eve (slack + github joined by email then id), got %+v", s.Responders)
	}
	if p := Prepare(noAckInput()).People; len(p.OthersActive) != 1 || p.OthersActive[0].Name != "Ops deployer" {
		t.Errorf("others active = %+v, want the Ops deployer", p.OthersActive)
	}

	open := Summarize(noDeploysInput())
	if open.Durations.ToResolveS != nil || open.Durations.LastDeployToFirstAlertS != nil {
		t.Errorf("open incident without deploys: durations %+v", open.Durations)
	}
	for _, m := range open.KeyMoments {
		if strings.Contains(m.Moment, "deploy") || m.Moment == MomentRollback || m.Moment == MomentResolved {
			t.Errorf("unexpected moment %+v", m)
		}
	}

	b := marshalSummary(t, Summarize(SummaryInput{}))
	for _, frag := range []string{`"key_moments": []`, `"responders": []`, `"gaps": []`, `"overlapping_incidents": []`, `"to_acknowledge_s": null`, `"timezone": "UTC"`} {
		if !strings.Contains(string(b), frag) {
			t.Errorf("empty summary lacks %s:\n%s", frag, b)
		}
	}
}

func TestSummarizeDeployGrouping(t *testing.T) {
	t.Parallel()
	const repo = "acme/api"
	st := func(n int, kind, when string, dep int, env, sha string, more ...evOpt) Event {
		opts := append([]evOpt{by("dev", "dev", ""), deploy(repo, dep, env, sha), titled(fmt.Sprintf("status %d", n))}, more...)
		return ev(fmt.Sprintf("github:deployment_status:%s:%d", repo, n), kind, when, opts...)
	}
	alert := ev("pagerduty:alert:A1", KindAlertTriggered, "2025-01-06T12:00:00Z")
	tests := []struct {
		name   string
		events []Event
		want   []string // moment dep at, in order
	}{
		{
			name: "redeploy after a different sha succeeded is a rollback",
			events: []Event{
				st(1, KindDeploySucceeded, "2025-01-06T10:00:00Z", 1, "prod", "aaa"),
				st(2, KindDeploySucceeded, "2025-01-06T11:00:00Z", 2, "prod", "bbb"),
				alert,
				st(3, KindDeploySucceeded, "2025-01-06T12:30:00Z", 3, "prod", "aaa"),
			},
			want: []string{"deploy 10:00", "last_deploy_before_first_alert 11:00", "first_alert 12:00", "rollback 12:30"},
		},
		{
			name: "redeploy after a failed different sha is not a rollback",
			events: []Event{
				st(1, KindDeploySucceeded, "2025-01-06T10:00:00Z", 1, "prod", "aaa"),
				st(2, KindDeployFailed, "2025-01-06T11:00:00Z", 2, "prod", "bbb"),
				alert,
				st(3, KindDeploySucceeded, "2025-01-06T12:30:00Z", 3, "prod", "aaa"),
			},
			want: []string{"last_deploy_before_first_alert 10:00", "deploy 11:00", "first_alert 12:00", "deploy 12:30"},
		},
		{
			name: "same sha in another environment is not a rollback",
			events: []Event{
				st(1, KindDeploySucceeded, "2025-01-06T10:00:00Z", 1, "staging", "aaa"),
				st(2, KindDeploySucceeded, "2025-01-06T11:00:00Z", 2, "prod", "bbb"),
				alert,
				st(3, KindDeploySucceeded, "2025-01-06T12:30:00Z", 3, "prod", "aaa"),
			},
			want: []string{"deploy 10:00", "last_deploy_before_first_alert 11:00", "first_alert 12:00", "deploy 12:30"},
		},
		{
			name: "statuses of one deployment are one moment at its last terminal status; inactive and queued-only are not moments",
			events: []Event{
				st(1, KindDeployQueued, "2025-01-06T09:00:00Z", 9, "prod", "zzz"),
				st(2, KindDeployStarted, "2025-01-06T10:00:00Z", 1, "prod", "aaa"),
				st(3, KindDeployFailed, "2025-01-06T10:05:00Z", 1, "prod", "aaa"),
				st(4, KindDeploySucceeded, "2025-01-06T10:20:00Z", 1, "prod", "aaa"),
				alert,
				st(5, KindDeployInactive, "2025-01-06T12:10:00Z", 1, "prod", "aaa"),
			},
			want: []string{"last_deploy_before_first_alert 10:20 [2 3 4]", "first_alert 12:00"},
		},
		{
			name: "declared rollback",
			events: []Event{
				alert,
				st(1, KindDeployStarted, "2025-01-06T12:10:00Z", 1, "prod", "aaa", with(DetailRollback, "true")),
			},
			want: []string{"first_alert 12:00", "rollback 12:10"},
		},
		{
			name: "a monitoring alert that fired is the first alert, and anchors the last deploy before it",
			events: []Event{
				st(1, KindDeploySucceeded, "2025-01-06T11:00:00Z", 1, "prod", "aaa"),
				ev("monitor:alert:HighLatency:00000000000000aa:1736164800", KindAlertFiring, "2025-01-06T11:50:00Z"),
				alert,
			},
			want: []string{"last_deploy_before_first_alert 11:00", "first_alert 11:50"},
		},
		{
			name: "a deploy after the first alert is not the last deploy before it",
			events: []Event{
				alert,
				st(1, KindDeploySucceeded, "2025-01-06T12:10:00Z", 1, "prod", "aaa"),
			},
			want: []string{"first_alert 12:00", "deploy 12:10"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := Summarize(SummaryInput{Events: tc.events})
			var got []string
			for _, m := range s.KeyMoments {
				line := m.Moment + " " + m.At.Format("15:04")
				if len(m.EventIDs) > 1 {
					var ns []string
					for _, id := range m.EventIDs {
						ns = append(ns, id[strings.LastIndex(id, ":")+1:])
					}
					line += " [" + strings.Join(ns, " ") + "]"
				}
				got = append(got, line)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("moments (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSummarizePeople(t *testing.T) {
	t.Parallel()
	events := []Event{
		// Not people: a service, an integration, bots of every kind.
		ev("pagerduty:log_entry:T", KindPageTriggered, "2025-01-06T10:00:00Z", pdSystem("PSVC", "Service", "service_reference")),
		ev("pagerduty:log_entry:R", KindPageResolved, "2025-01-06T10:12:00Z", by("PINT", "Integration", ""), bot()), // not a person
		ev("slack:message:C:1", KindChatMessage, "2025-01-06T10:02:00Z", by("B012", "bot", ""), bot()),
		ev("slack:message:C:2", KindChatMessage, "2025-01-06T10:03:00Z", by("U0APP", "app", ""), bot()),
		ev("slack:message:C:3", KindChatMessage, "2025-01-06T10:04:00Z", by("USLACKBOT", "Slackbot", ""), bot()),
		ev("github:commit:a/b:1", KindChangeCommit, "2025-01-06T10:05:00Z", by("dependabot[bot]", "dependabot[bot]", ""), bot()),
		ev("github:workflow_run:a/b:1", KindCICompleted, "2025-01-06T10:06:00Z", by("zed", "zed", "")), // not an act of response
		// People: identities chained a-b-c through ids and emails.
		ev("slack:message:C:4", KindChatMessage, "2025-01-06T10:07:00Z", by("U0ZED", "Zed", "")),
		ev("slack:message:C:5", KindChatMessage, "2025-01-06T10:08:00Z", by("U0ZED", "Zed", "zed@x.io")),
		ev("github:commit:a/b:2", KindChangeCommit, "2025-01-06T10:09:00Z", by("zed-gh", "zed-gh", "ZED@x.io")),
		ev("pagerduty:log_entry:E", KindPageEscalated, "2025-01-06T10:10:00Z", pdUser("PZED", "Zed Zed", "zed@X.io")),
		ev("pagerduty:log_entry:N", KindPageNotified, "2025-01-06T10:11:00Z", notified("PYAN", "Yan", "")),
	}
	s := Summarize(SummaryInput{Events: events, PriorPages: map[string]int{"PYAN": 7}})
	var got []string
	for _, r := range s.Responders {
		var ids []string
		for _, id := range r.Identities {
			ids = append(ids, id.Source+":"+id.ID)
		}
		got = append(got, r.Name+" "+strings.Join(ids, ","))
	}
	want := []string{"Zed Zed github:zed-gh,pagerduty:PZED,slack:U0ZED", "Yan pagerduty:PYAN"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("responders (-want +got):\n%s", diff)
	}
	if p := s.Responders[1].PagesInPrior7Days; p == nil || *p != 7 {
		t.Errorf("Yan's prior pages = %v, want 7", p)
	}
	// Groundwork's own incidents are a lower bound: none found is unknown.
	if p := s.Responders[0].PagesInPrior7Days; p != nil {
		t.Errorf("Zed's prior pages = %v, want null (no count from the source, none among collected incidents)", *p)
	}
}

func TestOutsideBusinessHoursDST(t *testing.T) {
	t.Parallel()
	london, newYork := zone("Europe/London"), zone("America/New_York")
	nineToSix := func(l *time.Location) ReviewConfig {
		return ReviewConfig{Location: l, BusinessStart: 9 * 60, BusinessEnd: 18 * 60}
	}
	allDay := func(l *time.Location) ReviewConfig {
		return ReviewConfig{Location: l, BusinessStart: 0, BusinessEnd: 24 * 60}
	}
	tests := []struct {
		cfg     ReviewConfig
		at      string
		outside bool
		why     string
	}{
		// London, spring forward on Sunday 2025-03-30.
		{nineToSix(london), "2025-03-28T08:30:00Z", true, "Fri 08:30 GMT"},
		{nineToSix(london), "2025-03-28T17:59:59Z", false, "Fri 17:59 GMT"},
		{nineToSix(london), "2025-03-31T08:30:00Z", false, "Mon 09:30 BST"},
		{nineToSix(london), "2025-03-31T16:59:00Z", false, "Mon 17:59 BST"},
		{nineToSix(london), "2025-03-31T17:00:00Z", true, "Mon 18:00 BST"},
		{allDay(london), "2025-03-30T23:30:00Z", false, "UTC Sunday, but Mon 00:30 BST"},
		{allDay(london), "2025-03-30T22:59:00Z", true, "Sun 23:59 BST"},
		// London, fall back on Sunday 2025-10-26.
		{nineToSix(london), "2025-10-24T08:30:00Z", false, "Fri 09:30 BST"},
		{nineToSix(london), "2025-10-24T17:30:00Z", true, "Fri 18:30 BST"},
		{nineToSix(london), "2025-10-26T12:00:00Z", true, "Sunday"},
		{nineToSix(london), "2025-10-27T08:30:00Z", true, "Mon 08:30 GMT"},
		{nineToSix(london), "2025-10-27T17:59:00Z", false, "Mon 17:59 GMT"},
		{nineToSix(london), "2025-10-27T18:00:00Z", true, "Mon 18:00 GMT"},
		// New York, spring forward on Sunday 2025-03-09.
		{nineToSix(newYork), "2025-03-07T13:30:00Z", true, "Fri 08:30 EST"},
		{nineToSix(newYork), "2025-03-07T22:30:00Z", false, "Fri 17:30 EST"},
		{nineToSix(newYork), "2025-03-10T13:30:00Z", false, "Mon 09:30 EDT"},
		{nineToSix(newYork), "2025-03-10T22:30:00Z", true, "Mon 18:30 EDT"},
		// New York, fall back on Sunday 2025-11-02.
		{nineToSix(newYork), "2025-10-31T13:15:00Z", false, "Fri 09:15 EDT"},
		{nineToSix(newYork), "2025-10-31T22:15:00Z", true, "Fri 18:15 EDT"},
		{allDay(newYork), "2025-11-01T02:00:00Z", false, "UTC Saturday, but Fri 22:00 EDT"},
		{nineToSix(newYork), "2025-11-03T13:45:00Z", true, "Mon 08:45 EST"},
		{nineToSix(newYork), "2025-11-03T22:45:00Z", false, "Mon 17:45 EST"},
		{nineToSix(newYork), "2025-11-03T23:00:00Z", true, "Mon 18:00 EST"},
	}
	for _, tc := range tests {
		if got := tc.cfg.outsideBusinessHours(at(tc.at)); got != tc.outside {
			t.Errorf("%s (%s in %s): outside = %v, want %v", tc.at, tc.why, tc.cfg.Location, got, tc.outside)
		}
	}
}

func TestParseBusinessHours(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in         string
		start, end int
		err        string // a fragment of the error; "" for none
	}{
		{in: "09:00-18:00", start: 540, end: 1080},
		{in: " 08:30 - 17:45 ", start: 510, end: 1065},
		{in: "00:00-24:00", start: 0, end: 1440},
		{in: "23:59-24:00", start: 1439, end: 1440},
		{in: "", err: "want HH:MM-HH:MM"},
		{in: "09:00", err: "want HH:MM-HH:MM"},
		{in: "9-17", err: `start: "9" is not HH:MM`},
		{in: "9:00-18:00", err: `start: "9:00" is not HH:MM`},
		{in: "09:00-18", err: `end: "18" is not HH:MM`},
		{in: "09.00-18.00", err: `start: "09.00" is not HH:MM`},
		{in: "+9:00-18:00", err: "is not HH:MM"},
		{in: "09:00-18:00-19:00", err: `end: "18:00-19:00" is not HH:MM`},
		{in: "09:60-18:00", err: "minute 60"},
		{in: "25:00-26:00", err: "hour 25"},
		{in: "24:00-24:00", err: "start: hour 24"},
		{in: "09:00-24:01", err: "end: hour 24"},
		{in: "18:00-09:00", err: "start 18:00 is not before end 09:00"},
		{in: "09:00-09:00", err: "start 09:00 is not before end 09:00"},
	}
	for _, tc := range tests {
		start, end, err := ParseBusinessHours(tc.in)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("ParseBusinessHours(%q): %v", tc.in, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseBusinessHours(%q) = %d, %d, %v; want an error containing %q", tc.in, start, end, err, tc.err)
		case tc.err == "" && (start != tc.start || end != tc.end):
			t.Errorf("ParseBusinessHours(%q) = %d, %d; want %d, %d", tc.in, start, end, tc.start, tc.end)
		}
	}
}

func TestReviewConfigValidate(t *testing.T) {
	t.Parallel()
	if err := DefaultReviewConfig().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	for _, c := range []ReviewConfig{
		{BusinessStart: 600, BusinessEnd: 540},
		{BusinessStart: -1, BusinessEnd: 540},
		{BusinessStart: 0, BusinessEnd: 1441},
		{BusinessStart: 540, BusinessEnd: 1080, QuietGap: -time.Minute},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: Validate() = nil, want an error", c)
		}
	}
}

// TestSummarizeAcrossDST states the DST cases' facts outright.
func TestSummarizeAcrossDST(t *testing.T) {
	t.Parallel()
	type fact struct {
		outside int
		paged   map[string]bool // responder name -> paged outside business hours
		gap     int64           // seconds of the gap across the clock change
	}
	tests := []struct {
		name  string
		input SummaryInput
		want  fact
	}{
		// 00:50 GMT to 02:10 BST is 20 minutes, not 80.
		{"london", dstLondonInput(), fact{6, map[string]bool{"Gina Park": true, "Hugo Blanc": false}, 20 * 60}},
		// 01:30 EDT to 01:30 EST is an hour, not nothing.
		{"new_york", dstNewYorkInput(), fact{8, map[string]bool{"Ivan Petrov": true, "Kim Lee": false, "Jo Smith": true}, 60 * 60}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := Summarize(tc.input)
			got := fact{outside: s.Context.EventsOutsideBusinessHours, paged: map[string]bool{}}
			for _, r := range s.Responders {
				if r.PagedOutsideBusinessHours != nil {
					got.paged[r.Name] = *r.PagedOutsideBusinessHours
				}
			}
			for _, g := range s.Gaps {
				if g.Start.Weekday() == time.Sunday && g.End.Weekday() == time.Sunday {
					got.gap = g.Seconds
				}
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(fact{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
