package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

// scaleLoader writes a synthetic organisation's incident history straight
// into a migrated schema with COPY, for BenchmarkScale: incidents at a
// steady rate (so a larger history is a longer one, as an organisation's
// grows), each with about 200 events of the shapes the collectors store
// (PagerDuty log entries, notes and alerts; GitHub commits, merges, CI runs
// and deployment statuses; Slack messages and replies), its collection
// status, and an annotation on one incident in ten.
//
// Incidents are numbered in time order, and loadTo only ever appends: the
// incidents of a smaller size are the first ones of a larger.
type scaleLoader struct {
	pool *pgxpool.Pool
	rng  *rand.Rand
	// start is when the first incident starts; every is the mean time
	// between two incidents' starts.
	start time.Time
	every time.Duration
	// next is the number of the next incident; events counts the events
	// loaded so far.
	next, events int
	// incidents are the ids loaded so far, in time order, with their
	// start times.
	incidents []scaleIncident
	people    []scalePerson
	services  []scaleService
}

type scaleIncident struct {
	ID        string
	StartedAt time.Time
	Events    int
}

type scalePerson struct {
	pd, slack, login, name, email string
}

type scaleService struct {
	id, name string
	repos    []string
	channel  string
}

// scaleEventsPerIncident is the mean size of an incident's timeline.
const scaleEventsPerIncident = 200

// newScaleLoader plans a history of total events spread over a year (their
// incidents at a steady rate); loadTo loads it a part at a time. seed fixes
// every choice, so two runs load the same history.
func newScaleLoader(pool *pgxpool.Pool, total int, seed uint64) *scaleLoader {
	incidents := max(total/scaleEventsPerIncident, 1)
	l := &scaleLoader{pool: pool, rng: rand.New(rand.NewPCG(seed, seed^0x5ca1e)),
		start: time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC),
		every: 365 * 24 * time.Hour / time.Duration(incidents)}
	for i := range 300 {
		first, last := scaleFirst[i%len(scaleFirst)], scaleLast[(i/len(scaleFirst)+i)%len(scaleLast)]
		l.people = append(l.people, scalePerson{
			pd: fmt.Sprintf("P%06X", 0x1A0000+i), slack: fmt.Sprintf("U0%08X", 0x7610000+i*37),
			login: strings.ToLower(first) + "-" + strings.ToLower(last), name: first + " " + last,
			email: strings.ToLower(first) + "." + strings.ToLower(last) + strconv.Itoa(i) + "@acme.test"})
	}
	for i := range 40 {
		name := scaleServiceNames[i%len(scaleServiceNames)] + "-" + strconv.Itoa(i/len(scaleServiceNames)+1)
		l.services = append(l.services, scaleService{id: fmt.Sprintf("PSVC%03d", i), name: name,
			repos: []string{"acme/" + name, "acme/infra"}, channel: fmt.Sprintf("C0INC%04d", i)})
	}
	return l
}

var (
	scaleFirst        = strings.Fields("Ana Ben Chloe Dev Eve Farah Gus Hana Ivan Jo Kai Lena Mo Nia Omar Priya Quinn Rosa Sam Tomas Uma Vik Wen Yuki Zoe")
	scaleLast         = strings.Fields("Lima Okafor Novak Sato Kowalski Haddad Mensah Ortiz Berg Chen Dubois Ito Jensen Khan Moreau Patel Rossi Silva")
	scaleServiceNames = strings.Fields("checkout payments search catalog auth gateway ledger inventory notifications")
	scaleWords        = strings.Fields("checkout p99 latency climbing after the deploy rolled back payments api errors 502 upstream " +
		"timeout pool exhausted retry storm cache cold looking at dashboards now paging db primary failover replica lag " +
		"can someone check the canary error budget burning fast customers reporting timeouts on mobile reverting to previous " +
		"build feature flag turned off queue depth recovering monitoring for another ten minutes")
)

// text returns about n characters of chat.
func (l *scaleLoader) text(n int) string {
	var sb strings.Builder
	for sb.Len() < n {
		sb.WriteString(scaleWords[l.rng.IntN(len(scaleWords))])
		sb.WriteByte(' ')
	}
	return strings.TrimSpace(sb.String())
}

func (l *scaleLoader) hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[l.rng.IntN(16)]
	}
	return string(b)
}

func (l *scaleLoader) upper(n int) string {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[l.rng.IntN(len(digits))]
	}
	return string(b)
}

// size draws a timeline's length: most incidents are small, a few are
// long-running and busy; the mean is about scaleEventsPerIncident.
func (l *scaleLoader) size() int {
	switch r := l.rng.Float64(); {
	case r < 0.70:
		return 50 + l.rng.IntN(100)
	case r < 0.95:
		return 200 + l.rng.IntN(300)
	default:
		return 500 + l.rng.IntN(500)
	}
}

// loadTo loads incidents until at least total events are stored, then
// VACUUM ANALYZEs the tables, as autovacuum would have by the time anyone
// reads them.
func (l *scaleLoader) loadTo(ctx context.Context, total int) error {
	const batch = 50_000
	var incRows, statusRows, eventRows [][]any
	var annotated []string
	flush := func() error {
		if len(incRows) == 0 {
			return nil
		}
		err := pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"incidents"}, []string{"id", "title", "service_id", "urgency", "source", "url",
				"started_at", "resolved_at", "window_start", "window_end", "repos", "channels", "status_at"}, pgx.CopyFromRows(incRows)); err != nil {
				return fmt.Errorf("copying incidents: %w", err)
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"events"}, []string{"incident_id", "id", "source", "kind", "occurred_at", "occurred_ns",
				"actor", "title", "text", "url", "details", "content_hash", "version"}, pgx.CopyFromRows(eventRows)); err != nil {
				return fmt.Errorf("copying events: %w", err)
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"collection_status"}, []string{"incident_id", "source", "state", "event_count",
				"started_at", "finished_at"}, pgx.CopyFromRows(statusRows)); err != nil {
				return fmt.Errorf("copying collection status: %w", err)
			}
			// An annotation on the incident's first page, as a facilitator
			// marks detection.
			_, err := tx.Exec(ctx, `INSERT INTO annotations (incident_id, event_ids, marker, title, author, seq)
				SELECT i, ARRAY[(SELECT id FROM events WHERE incident_id = i AND kind = 'page.triggered' LIMIT 1)],
				       'detection', 'paged here', 'facilitators', nextval('event_seq')
				FROM unnest($1::text[]) AS i`, annotated)
			return err
		})
		incRows, statusRows, eventRows, annotated = incRows[:0], statusRows[:0], eventRows[:0], annotated[:0]
		return err
	}
	for l.events < total {
		inc, evs := l.incident(min(l.size(), total-l.events+scaleEventsPerIncident/4))
		l.events += len(evs)
		l.incidents = append(l.incidents, scaleIncident{ID: inc.ID, StartedAt: inc.StartedAt, Events: len(evs)})
		incRows = append(incRows, []any{inc.ID, inc.Title, inc.ServiceID, inc.Urgency, inc.Source, inc.URL, inc.StartedAt, inc.ResolvedAt,
			inc.WindowStart, inc.WindowEnd, inc.Repos, inc.Channels, *inc.ResolvedAt})
		counts := map[string]int{}
		for _, e := range evs {
			counts[e.Source]++
			row, err := scaleEventRow(e)
			if err != nil {
				return err
			}
			eventRows = append(eventRows, row)
		}
		for _, src := range []string{"pagerduty", "github", "slack"} {
			done := inc.ResolvedAt.Add(45 * time.Minute)
			statusRows = append(statusRows, []any{inc.ID, src, timeline.StateSucceeded, counts[src], done.Add(-time.Minute), done})
		}
		if l.next%10 == 3 {
			annotated = append(annotated, inc.ID)
		}
		if len(eventRows) >= batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	for _, t := range []string{"incidents", "events", "collection_status", "annotations"} {
		if _, err := l.pool.Exec(ctx, "VACUUM ANALYZE "+t); err != nil {
			return fmt.Errorf("vacuum %s: %w", t, err)
		}
	}
	return nil
}

func scaleEventRow(e timeline.Event) ([]any, error) {
	var actor []byte
	if e.Actor != nil {
		var err error
		if actor, err = json.Marshal(e.Actor); err != nil {
			return nil, err
		}
	}
	details, err := json.Marshal(e.Details)
	if err != nil {
		return nil, err
	}
	at := e.OccurredAt.Truncate(time.Microsecond)
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00%s", e.Kind, at, actor, e.Title, e.Text, details)
	var version *time.Time
	if !e.Version.IsZero() {
		version = &e.Version
	}
	return []any{e.IncidentID, e.ID, e.Source, e.Kind, at, int32(e.OccurredAt.Sub(at)), actor, e.Title, e.Text, e.URL,
		details, h.Sum(nil), version}, nil
}

// incident makes the next incident and about n events of it.
func (l *scaleLoader) incident(n int) (timeline.Incident, []timeline.Event) {
	k := l.next
	l.next++
	rng := l.rng
	svc := l.services[rng.IntN(len(l.services))]
	started := l.start.Add(time.Duration(k)*l.every + time.Duration(rng.Int64N(int64(l.every)))).Truncate(time.Second)
	// Durations: a median of about 80 minutes, from a few minutes to most
	// of a day.
	dur := time.Duration(math.Min(math.Exp(rng.NormFloat64()*0.9+math.Log(80)), 20*60)*float64(time.Minute)) + 5*time.Minute
	resolved := started.Add(dur).Truncate(time.Second)
	id := fmt.Sprintf("Q%s%05d", l.upper(2), k)
	inc := timeline.Incident{ID: id, Title: svc.name + ": " + l.text(30), ServiceID: svc.id, Urgency: "high", Source: "pagerduty",
		URL: "https://acme.pagerduty.com/incidents/" + id, StartedAt: started, ResolvedAt: &resolved,
		WindowStart: started.Add(-2 * time.Hour), WindowEnd: resolved.Add(30 * time.Minute),
		Repos: svc.repos, Channels: []string{svc.channel, "C0INCIDENTS"}}
	crew := make([]scalePerson, 2+rng.IntN(5))
	for i := range crew {
		crew[i] = l.people[rng.IntN(len(l.people))]
	}
	var evs []timeline.Event
	add := func(e timeline.Event) {
		e.IncidentID = id
		evs = append(evs, e)
	}
	pdActor := func(p scalePerson) *timeline.Actor {
		return &timeline.Actor{ID: p.pd, Name: p.name, Email: p.email}
	}
	logEntry := func(kind string, at time.Time, actor *timeline.Actor, title, typ string, details map[string]any) {
		rid := "R" + l.upper(25)
		d := map[string]any{"type": typ, "channel": "website", "agent_type": "user_reference"}
		for k, v := range details {
			d[k] = v
		}
		add(timeline.Event{ID: "pagerduty:log_entry:" + rid, Source: "pagerduty", Kind: kind, OccurredAt: at,
			Actor: actor, Title: title, URL: inc.URL + "/log_entries/" + rid, Details: d})
	}
	svcActor := &timeline.Actor{ID: svc.id, Name: svc.name, Bot: true}
	// PagerDuty: the alert, the trigger, notifications of the first on
	// call, maybe an escalation, the acknowledgement, notes, the resolve.
	add(timeline.Event{ID: "pagerduty:alert:Q" + l.upper(13), Source: "pagerduty", Kind: timeline.KindAlertTriggered,
		OccurredAt: started.Add(-time.Minute), Title: svc.name + " error rate above 5%", URL: inc.URL + "/alerts",
		Details: map[string]any{"status": "resolved", "severity": "critical", "alert_key": l.hex(32)}})
	logEntry(timeline.KindPageTriggered, started, svcActor, "Triggered through the API", "trigger_log_entry", map[string]any{"agent_type": "service_reference", "channel": "api"})
	notify := func(p scalePerson, at time.Time) {
		for i, nt := range []string{"push", "sms", "phone"}[:1+rng.IntN(3)] {
			logEntry(timeline.KindPageNotified, at.Add(time.Duration(i)*time.Second), svcActor, "Notified "+p.name+" by "+nt, "notify_log_entry",
				map[string]any{"notification_type": nt, "agent_type": "service_reference", "channel": "notification",
					"user": map[string]any{"id": p.pd, "name": p.name, "email": p.email}})
		}
	}
	notify(crew[0], started.Add(2*time.Second))
	ack := started.Add(time.Duration(1+rng.IntN(15)) * time.Minute)
	if rng.IntN(4) == 0 {
		esc := started.Add(5 * time.Minute)
		logEntry(timeline.KindPageEscalated, esc, svcActor, "Escalated to level 2", "escalate_log_entry",
			map[string]any{"agent_type": "service_reference", "channel": "timeout", "escalation_level": 2})
		notify(crew[1], esc.Add(time.Second))
		ack = esc.Add(time.Duration(1+rng.IntN(5)) * time.Minute)
	}
	if ack.After(resolved) {
		ack = resolved.Add(-time.Minute)
	}
	logEntry(timeline.KindPageAcknowledged, ack, pdActor(crew[0]), "Acknowledged by "+crew[0].name, "acknowledge_log_entry", nil)
	for range rng.IntN(3) {
		at := ack.Add(time.Duration(rng.Int64N(int64(resolved.Sub(ack)) + 1)))
		nid := "P" + l.upper(13)
		add(timeline.Event{ID: "pagerduty:note:" + nid, Source: "pagerduty", Kind: timeline.KindPageAnnotated,
			OccurredAt: at, Actor: pdActor(crew[rng.IntN(len(crew))]), Title: "Note", Text: l.text(120), URL: inc.URL + "/notes"})
	}
	logEntry(timeline.KindPageResolved, resolved, pdActor(crew[0]), "Resolved by "+crew[0].name, "resolve_log_entry", nil)

	// GitHub: the changes before it and the rollback during it.
	repo := svc.repos[0]
	ghActor := func(p scalePerson) *timeline.Actor {
		return &timeline.Actor{ID: p.login, Name: p.name, Email: p.email}
	}
	for i := range 2 + rng.IntN(5) {
		sha := l.hex(40)
		p := l.people[rng.IntN(len(l.people))]
		at := started.Add(-time.Duration(10+rng.IntN(110)) * time.Minute)
		msg := l.text(60)
		add(timeline.Event{ID: "github:commit:" + repo + ":" + sha, Source: "github", Kind: timeline.KindChangeCommit,
			OccurredAt: at, Actor: ghActor(p), Title: timeline.Truncate(msg, 72), Text: msg + "\n\n" + l.text(100),
			URL: "https://github.com/" + repo + "/commit/" + sha, Details: map[string]any{"repo": repo, "sha": sha, "author_email": p.email}})
		if i == 0 {
			num := 1000 + rng.IntN(9000)
			add(timeline.Event{ID: fmt.Sprintf("github:pull:%s:%d", repo, num), Source: "github", Kind: timeline.KindChangeMerged,
				OccurredAt: at.Add(time.Minute), Actor: ghActor(p), Title: msg, URL: fmt.Sprintf("https://github.com/%s/pull/%d", repo, num),
				Details: map[string]any{"repo": repo, "number": num, "merge_commit_sha": sha, "base": "main"}})
		}
	}
	deploy := func(at time.Time, rollback bool) {
		sha := l.hex(40)
		did := 100000 + rng.IntN(900000)
		for i, kind := range []string{timeline.KindDeployQueued, timeline.KindDeployStarted, timeline.KindDeploySucceeded} {
			sid := did*10 + i
			d := map[string]any{"repo": repo, "sha": sha, "environment": "production", "deployment_id": did, "state": kind[len("deploy."):]}
			if rollback {
				d["rollback"] = true
			}
			add(timeline.Event{ID: fmt.Sprintf("github:deployment_status:%s:%d", repo, sid), Source: "github", Kind: kind,
				OccurredAt: at.Add(time.Duration(i) * 90 * time.Second), Actor: &timeline.Actor{ID: "github-actions[bot]", Name: "github-actions", Bot: true},
				Title: "Deploy to production: " + kind[len("deploy."):], URL: fmt.Sprintf("https://github.com/%s/deployments/%d", repo, did), Details: d})
		}
		run := 9_000_000_000 + rng.Int64N(1_000_000_000)
		add(timeline.Event{ID: fmt.Sprintf("github:workflow_run:%s:%d", repo, run), Source: "github", Kind: timeline.KindCICompleted,
			OccurredAt: at.Add(-4 * time.Minute), Actor: &timeline.Actor{ID: "github-actions[bot]", Name: "github-actions", Bot: true},
			Title: "CI: success", URL: fmt.Sprintf("https://github.com/%s/actions/runs/%d", repo, run),
			Details: map[string]any{"repo": repo, "conclusion": "success", "head_sha": sha, "run_attempt": 1}})
	}
	deploy(started.Add(-time.Duration(5+rng.IntN(40))*time.Minute), false)
	if rng.IntN(3) == 0 {
		deploy(ack.Add(time.Duration(rng.Int64N(int64(resolved.Sub(ack))/2+1))), true)
	}

	// Slack: the rest is the incident channel's conversation.
	chat := max(n-len(evs), 5)
	span := resolved.Add(15 * time.Minute).Sub(started)
	var thread string
	for i := range chat {
		at := started.Add(time.Duration(int64(i) * int64(span) / int64(chat))).Add(time.Duration(rng.IntN(1_000_000)) * time.Microsecond)
		ts := fmt.Sprintf("%d.%06d", at.Unix(), at.Nanosecond()/1000)
		p := crew[rng.IntN(len(crew))]
		e := timeline.Event{ID: timeline.EventID("slack", "message", svc.channel, ts), Source: "slack", OccurredAt: at,
			Actor:   &timeline.Actor{ID: p.slack, Name: p.name, Email: p.email, TimeZone: "Europe/London"},
			URL:     "https://acme.slack.com/archives/" + svc.channel + "/p" + strings.ReplaceAll(ts, ".", ""),
			Details: map[string]any{"channel": svc.channel, "ts": ts}}
		switch r := rng.IntN(20); {
		case i < len(crew) && r < 10:
			e.Kind, e.Title = timeline.KindChatJoined, p.name+" has joined the channel"
			e.Details["subtype"] = "channel_join"
		case thread != "" && r < 6:
			e.Kind = timeline.KindChatReply
			e.Details["thread_ts"] = thread
		default:
			e.Kind = timeline.KindChatMessage
			if r == 19 {
				thread = ts
				e.Details["reply_count"] = 3
			}
		}
		if e.Kind != timeline.KindChatJoined {
			e.Text = l.text(40 + rng.IntN(300))
			e.Title = timeline.Truncate(e.Text, 80)
		}
		add(e)
	}
	return inc, evs
}

// TestScaleLoader: the benchmark's loader writes what it plans, appends
// without changing what it wrote, and its incidents summarise with their
// responders and key moments, the last deploy before the page among them.
func TestScaleLoader(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := pgtest.New(t)
	l := newScaleLoader(s.Pool, 20_000, 1)
	if err := l.loadTo(ctx, 2_000); err != nil {
		t.Fatal(err)
	}
	first := len(l.incidents)
	if err := l.loadTo(ctx, 6_000); err != nil {
		t.Fatal(err)
	}
	var events, incidents, statuses, annotations int
	if err := s.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM incidents),
		(SELECT count(*) FROM collection_status), (SELECT count(*) FROM annotations)`).Scan(&events, &incidents, &statuses, &annotations); err != nil {
		t.Fatal(err)
	}
	if events != l.events || events < 6_000 || events > 6_000+1_000 {
		t.Errorf("%d events stored, loader counted %d, want about 6,000", events, l.events)
	}
	if incidents != len(l.incidents) || statuses != 3*incidents || annotations == 0 {
		t.Errorf("%d incidents (loader %d), %d statuses, %d annotations", incidents, len(l.incidents), statuses, annotations)
	}
	if first == 0 || first >= len(l.incidents) {
		t.Errorf("first load made %d incidents, the second %d in all", first, len(l.incidents))
	}
	for i := 1; i < len(l.incidents); i++ {
		if l.incidents[i].StartedAt.Before(l.incidents[i-1].StartedAt.Add(-l.every)) {
			t.Fatalf("incident %d starts at %v, before %d at %v", i, l.incidents[i].StartedAt, i-1, l.incidents[i-1].StartedAt)
		}
	}
	// A year's history of 100 incidents: one every 3.65 days.
	if got := l.every; got != 365*24*time.Hour/100 {
		t.Errorf("incidents every %v", got)
	}
	st := postgres.New(s.Pool)
	for _, si := range l.incidents {
		inc, err := st.Incident(ctx, si.ID)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := timeline.PrepareSummary(ctx, st, inc, timeline.DefaultReviewConfig(), inc.ResolvedAt.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(sum.Responders) < 2 {
			t.Errorf("%s: %d responders", si.ID, len(sum.Responders))
		}
		moments := map[string]bool{}
		for _, m := range sum.KeyMoments {
			moments[m.Moment] = true
		}
		for _, m := range []string{"triggered", "first_acknowledgement", "resolved", "last_deploy_before_first_alert"} {
			if !moments[m] {
				t.Errorf("%s: no %s among the key moments %+v", si.ID, m, sum.KeyMoments)
			}
		}
	}
}
