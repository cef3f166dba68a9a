package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

func chatEvent(channel string, at time.Time, text string) timeline.Event {
	ts := fmt.Sprintf("%d.%06d", at.Unix(), at.Nanosecond()/1000)
	return timeline.Event{
		ID: "slack:message:" + channel + ":" + ts, Source: "slack", Kind: timeline.KindChatMessage,
		OccurredAt: at, Actor: &timeline.Actor{ID: "U0ANA", Name: "Ana"}, Title: "Ana: " + text, Text: text,
		URL: "https://acme.slack.com/archives/" + channel + "/p" + ts, Details: map[string]any{"channel": channel, "ts": ts},
	}
}

func commitEvent(repo string, at time.Time, sha string) timeline.Event {
	return timeline.Event{
		ID: "github:commit:" + repo + ":" + sha, Source: "github", Kind: timeline.KindChangeCommit,
		OccurredAt: at, Title: "commit " + sha, Details: map[string]any{"repo": repo, "sha": sha},
	}
}

func slackEntry(e timeline.Event) timeline.JournalEntry {
	ch, _ := e.Details["channel"].(string)
	return timeline.JournalEntry{Source: "slack", ScopeKind: timeline.ScopeChannel, Scope: ch, Event: e}
}

func record(t *testing.T, d *postgres.Deliveries, dl timeline.Delivery) timeline.DeliveryResult {
	t.Helper()
	res, err := d.RecordDelivery(context.Background(), dl)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func storedTimeline(t *testing.T, st *postgres.Store, id string) []timeline.Event {
	t.Helper()
	evs, err := st.Timeline(context.Background(), timeline.TimelineQuery{IncidentID: id})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func eventIDs(evs []timeline.Event) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.ID)
	}
	return out
}

// TestJournalJoinsIncidentWhenItAppears: live events of configured scopes
// delivered before any incident covers them are kept, and join the incident
// the moment it is declared (inside its window and scope only), with the
// content, hash and a seq as if they had been upserted; joining again adds
// nothing; a wider window brings the events it now holds.
func TestJournalJoinsIncidentWhenItAppears(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, s := newDeliveries(t)
	st := d.Store

	early := chatEvent("C0CHECKOUT", t0.Add(-3*time.Hour), "before the window")
	in1 := chatEvent("C0CHECKOUT", t0.Add(5*time.Minute+123456789), "checkout 500s")
	in2 := chatEvent("C0CHECKOUT", t0.Add(10*time.Minute), "rolling back")
	other := chatEvent("C0OTHER", t0.Add(6*time.Minute), "another channel")
	push := commitEvent("Acme/API", t0.Add(-time.Hour), "abc123") // the repo's case differs from the incident's scope
	for i, en := range []timeline.JournalEntry{slackEntry(early), slackEntry(in1), slackEntry(in2), slackEntry(other),
		{Source: "github", ScopeKind: timeline.ScopeRepo, Scope: "Acme/API", Event: push}} {
		res := record(t, d, timeline.Delivery{Receiver: en.Source, ID: fmt.Sprint("live-", i), Journal: []timeline.JournalEntry{en}})
		if res.Events.Changed() != 0 {
			t.Fatalf("delivery %d changed %d events with no incident to hold it", i, res.Events.Changed())
		}
	}
	var n int
	if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("events before any incident: %d (%v)", n, err)
	}

	inc := genericIncident("INC1", true) // window t0-2h .. t0+1h, acme/api and C0CHECKOUT
	record(t, d, timeline.Delivery{Receiver: "incident", ID: "declare", Incidents: []timeline.Incident{inc}})
	got := storedTimeline(t, st, "INC1")
	if diff := cmp.Diff([]string{push.ID, in1.ID, in2.ID}, eventIDs(got)); diff != "" {
		t.Fatalf("joined events (-want +got):\n%s", diff)
	}

	// The same events upserted the ordinary way give identical rows.
	ref := genericIncident("REF", true)
	ref.Channels, ref.Repos = nil, nil
	if err := st.UpsertIncident(ctx, ref); err != nil {
		t.Fatal(err)
	}
	var direct []timeline.Event
	for _, e := range []timeline.Event{push, in1, in2} {
		e.IncidentID = "REF"
		direct = append(direct, e)
	}
	if _, err := st.UpsertEvents(ctx, direct); err != nil {
		t.Fatal(err)
	}
	want := storedTimeline(t, st, "REF")
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(timeline.Event{}, "IncidentID", "Seq")); diff != "" {
		t.Errorf("joined events differ from upserted ones (-upserted +joined):\n%s", diff)
	}
	var hashesDiffer int
	if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM events a JOIN events b ON a.id = b.id
		WHERE a.incident_id = 'INC1' AND b.incident_id = 'REF' AND a.content_hash <> b.content_hash`).Scan(&hashesDiffer); err != nil || hashesDiffer != 0 {
		t.Errorf("%d joined rows have another content hash than upserted ones (%v)", hashesDiffer, err)
	}
	// An unchanged upsert of a joined event changes nothing: same hash.
	again := got[1]
	again.Seq = 0
	if res, err := st.UpsertEvents(ctx, []timeline.Event{again}); err != nil || res.Changed() != 0 {
		t.Errorf("re-upserting a joined event: %+v, %v; want no change", res, err)
	}

	// Joining again adds nothing and leaves the seqs alone.
	if n, err := st.JoinJournal(ctx, "INC1"); err != nil || n != 0 {
		t.Errorf("second join added %d (%v)", n, err)
	}
	if diff := cmp.Diff(got, storedTimeline(t, st, "INC1")); diff != "" {
		t.Errorf("second join changed the timeline:\n%s", diff)
	}

	// The window grows back to the early message: it joins, under a new seq.
	wider := inc
	wider.WindowStart = t0.Add(-4 * time.Hour)
	if err := st.UpsertIncident(ctx, wider); err != nil {
		t.Fatal(err)
	}
	after := storedTimeline(t, st, "INC1")
	if diff := cmp.Diff([]string{early.ID, push.ID, in1.ID, in2.ID}, eventIDs(after)); diff != "" {
		t.Fatalf("after the window grew (-want +got):\n%s", diff)
	}
	var maxBefore int64
	for _, e := range got {
		maxBefore = max(maxBefore, e.Seq)
	}
	if after[0].Seq <= maxBefore {
		t.Errorf("the newly joined event has seq %d, not above %d", after[0].Seq, maxBefore)
	}
}

// TestJournalFansOutAndKeepsCollectedEvents: a live event journaled while
// an incident covers it joins that incident in the same delivery; an edit
// updates both in place; a deletion makes the journal forget it; a join
// never overwrites an event the incident already holds from a collection.
func TestJournalFansOutAndKeepsCollectedEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := newDeliveries(t)
	st := d.Store
	record(t, d, timeline.Delivery{Receiver: "incident", ID: "declare", Incidents: []timeline.Incident{genericIncident("INC1", false)}})

	msg := chatEvent("C0CHECKOUT", t0.Add(time.Minute), "first")
	res := record(t, d, timeline.Delivery{Receiver: "slack", ID: "ev1", Journal: []timeline.JournalEntry{slackEntry(msg)}})
	if res.Events.Inserted != 1 {
		t.Fatalf("live event for a covering incident: %+v, want one inserted", res.Events)
	}
	edited := msg
	edited.Text, edited.Title = "first (edited)", "Ana: first (edited)"
	res = record(t, d, timeline.Delivery{Receiver: "slack", ID: "ev2", Journal: []timeline.JournalEntry{slackEntry(edited)}})
	if res.Events.Updated != 1 {
		t.Fatalf("live edit: %+v, want one updated", res.Events)
	}
	j, err := st.JournalEvents(ctx, "slack", timeline.ScopeChannel, "C0CHECKOUT", t0, t0.Add(time.Hour))
	if err != nil || len(j) != 1 || j[0].Text != "first (edited)" {
		t.Fatalf("journal after the edit: %+v (%v)", j, err)
	}

	// A collected version (names resolved) is not overwritten by a join.
	later := chatEvent("C0CHECKOUT", t0.Add(2*time.Minute), "second")
	record(t, d, timeline.Delivery{Receiver: "slack", ID: "ev3", Journal: []timeline.JournalEntry{slackEntry(later)}})
	collected := later
	collected.IncidentID = "INC2"
	collected.Actor = &timeline.Actor{ID: "U0ANA", Name: "Ana Lima"}
	inc2 := genericIncident("INC2", true)
	inc2.Channels = []string{"C0CHECKOUT"}
	if err := st.UpsertIncident(ctx, inc2); err != nil { // joins both messages
		t.Fatal(err)
	}
	if _, err := st.UpsertEvents(ctx, []timeline.Event{collected}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.JoinJournal(ctx, "INC2"); err != nil {
		t.Fatal(err)
	}
	for _, e := range storedTimeline(t, st, "INC2") {
		if e.ID == later.ID && e.Actor.Name != "Ana Lima" {
			t.Errorf("the join overwrote the collected event: %+v", e.Actor)
		}
	}

	gone := timeline.JournalEntry{Source: "slack", ScopeKind: timeline.ScopeChannel, Scope: "C0CHECKOUT", Event: timeline.Event{ID: msg.ID}, Deleted: true}
	record(t, d, timeline.Delivery{Receiver: "slack", ID: "ev4", Journal: []timeline.JournalEntry{gone}})
	if j, err := st.JournalEvents(ctx, "slack", timeline.ScopeChannel, "C0CHECKOUT", t0, t0.Add(time.Hour)); err != nil || len(j) != 1 || j[0].ID != later.ID {
		t.Errorf("journal after the deletion: %v (%v), want only %s", eventIDs(j), err, later.ID)
	}

	// Bad entries are refused whole.
	for _, bad := range []timeline.JournalEntry{
		{Source: "slack", Scope: "C0CHECKOUT", Event: msg}, // no kind of place
		{Source: "slack", ScopeKind: "room", Scope: "C0CHECKOUT", Event: msg},
		{Source: "slack", ScopeKind: timeline.ScopeChannel, Scope: "", Event: msg},
		{Source: "slack", ScopeKind: timeline.ScopeChannel, Scope: "C0CHECKOUT", Event: timeline.Event{ID: "slack:message:C0CHECKOUT:1", Kind: "chat.bogus", OccurredAt: t0}},
	} {
		if _, err := d.RecordDelivery(ctx, timeline.Delivery{Receiver: "slack", ID: "bad", Journal: []timeline.JournalEntry{bad}}); err == nil {
			t.Errorf("entry %+v accepted", bad)
		}
	}
}

// TestJournalRaceWithIncidentCreation: live events journaled at the same
// moment as their incident is declared all end up on its timeline, whichever
// commits first.
func TestJournalRaceWithIncidentCreation(t *testing.T) {
	t.Parallel()
	d, _ := newDeliveries(t)
	const n = 60
	var wg sync.WaitGroup
	errs := make(chan error, n+1)
	var want []string
	for i := range n {
		e := chatEvent("C0CHECKOUT", t0.Add(time.Duration(i)*time.Second), fmt.Sprint("msg ", i))
		want = append(want, e.ID)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := d.RecordDelivery(context.Background(), timeline.Delivery{Receiver: "slack", ID: fmt.Sprint("ev", i),
				Journal: []timeline.JournalEntry{slackEntry(e)}})
			errs <- err
		}()
		if i == n/2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := d.RecordDelivery(context.Background(), timeline.Delivery{Receiver: "incident", ID: "declare",
					Incidents: []timeline.Incident{genericIncident("INC1", false)}})
				errs <- err
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(want, eventIDs(storedTimeline(t, d.Store, "INC1"))); diff != "" {
		t.Errorf("events lost between journal and incident (-want +got):\n%s", diff)
	}
}

func spans(t *testing.T, st *postgres.Store, source, scope string, from, to, now time.Time) []timeline.Span {
	t.Helper()
	sp, err := st.Covered(context.Background(), source, timeline.ScopeChannel, scope, from, to, now)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// TestCoverageSpans: heartbeats extend one open span per scope; a silence
// longer than the tolerance starts a new span; an open span reaches up to
// now while its last heartbeat is within the tolerance; a refused delivery
// cuts its stretch out and closes the span; pruning trims coverage with the
// journal.
func TestCoverageSpans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := newDeliveries(t)
	st := d.Store
	const tol = 4 * time.Minute
	beat := func(at time.Time, scopes ...string) {
		t.Helper()
		if err := st.Heartbeat(ctx, "slack", timeline.ScopeChannel, scopes, at, tol); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i <= 20; i++ { // every 30 s from t0 to t0+10m
		beat(t0.Add(time.Duration(i)*30*time.Second), "C1", "C2", "C1")
	}
	// A 3-minute restart: within Slack's retries, the span goes on.
	beat(t0.Add(13*time.Minute), "C1", "C2")
	// A 10-minute outage: deliveries may be lost, a new span begins.
	beat(t0.Add(23*time.Minute), "C1")
	beat(t0.Add(24*time.Minute), "C1")
	day := []time.Time{t0.Add(-time.Hour), t0.Add(time.Hour)}
	at := func(m time.Duration) time.Time { return t0.Add(m * time.Minute) }
	if diff := cmp.Diff([]timeline.Span{{From: at(0), To: at(13)}, {From: at(23), To: at(24)}},
		spans(t, st, "slack", "C1", day[0], day[1], at(60))); diff != "" {
		t.Errorf("C1 spans, now long after the last heartbeat (-want +got):\n%s", diff)
	}
	// Two minutes after its last heartbeat the open span reaches now.
	if diff := cmp.Diff([]timeline.Span{{From: at(0), To: at(13)}, {From: at(23), To: at(26)}},
		spans(t, st, "slack", "C1", day[0], day[1], at(26))); diff != "" {
		t.Errorf("C1 spans while alive (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]timeline.Span{{From: at(0), To: at(13)}},
		spans(t, st, "slack", "C2", day[0], day[1], at(26))); diff != "" {
		t.Errorf("C2 spans (-want +got):\n%s", diff)
	}
	if sp := spans(t, st, "slack", "C3", day[0], day[1], at(26)); len(sp) != 0 {
		t.Errorf("an unconfigured channel has coverage %v", sp)
	}
	if sp := spans(t, st, "github", "C1", day[0], day[1], at(26)); len(sp) != 0 {
		t.Errorf("another source's scope has coverage %v", sp)
	}

	// A refused delivery about 5m..6m cuts C2's span in two.
	if err := st.BreakCoverage(ctx, "slack", timeline.ScopeChannel, "C2", at(5), at(6)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]timeline.Span{{From: at(0), To: at(5)}, {From: at(6), To: at(13)}},
		spans(t, st, "slack", "C2", day[0], day[1], at(26))); diff != "" {
		t.Errorf("C2 after the break (-want +got):\n%s", diff)
	}
	// A refusal closes the open span: the next heartbeat starts afresh,
	// however soon it comes.
	if err := st.BreakCoverage(ctx, "slack", timeline.ScopeChannel, "C1", at(24), at(24)); err != nil {
		t.Fatal(err)
	}
	beat(at(24).Add(30*time.Second), "C1")
	got := spans(t, st, "slack", "C1", day[0], day[1], at(60))
	if diff := cmp.Diff([]timeline.Span{{From: at(0), To: at(13)}, {From: at(23), To: at(24)}, {From: at(24).Add(30 * time.Second), To: at(24).Add(30 * time.Second)}}, got); diff != "" {
		t.Errorf("C1 after a refusal and a heartbeat (-want +got):\n%s", diff)
	}
	if g := timeline.Gaps(at(0), at(30), got); len(g) != 3 {
		t.Errorf("gaps of C1 over 0..30m = %v, want 3", g)
	}

	// Pruning at 8m trims coverage to what the journal still holds.
	if _, err := d.RecordDelivery(ctx, timeline.Delivery{Receiver: "slack", ID: "j", Journal: []timeline.JournalEntry{
		slackEntry(chatEvent("C2", at(2), "old")), slackEntry(chatEvent("C2", at(9), "kept"))}}); err != nil {
		t.Fatal(err)
	}
	n, err := st.PruneJournal(ctx, at(8))
	if err != nil || n != 1 {
		t.Fatalf("pruned %d (%v), want 1", n, err)
	}
	if diff := cmp.Diff([]timeline.Span{{From: at(8), To: at(13)}},
		spans(t, st, "slack", "C2", day[0], day[1], at(26))); diff != "" {
		t.Errorf("C2 after pruning (-want +got):\n%s", diff)
	}
	if j, _ := st.JournalEvents(ctx, "slack", timeline.ScopeChannel, "C2", day[0], day[1]); len(j) != 1 || j[0].Text != "kept" {
		t.Errorf("journal after pruning: %+v", j)
	}
}

// TestHeartbeatsFromSeveralProcesses: processes heartbeating the same
// scopes at once keep one open span per scope.
func TestHeartbeatsFromSeveralProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, s := newDeliveries(t)
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				at := t0.Add(time.Duration(i)*30*time.Second + time.Duration(p)*time.Millisecond)
				if err := d.Store.Heartbeat(ctx, "slack", timeline.ScopeChannel, []string{"C1", "C2"}, at, 4*time.Minute); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	var rows int
	if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM live_coverage`).Scan(&rows); err != nil || rows != 2 {
		t.Errorf("%d coverage rows (%v), want one per scope", rows, err)
	}
}

// TestJournalMatchesByKindOfPlace: the kind of place an entry declares, not
// its source, says which part of an incident's scope it joins through and
// how its scope compares: any source's channel entries join the incidents
// that hold the channel, its repository entries those that hold the
// repository in any case, and a place of one kind never matches a place of
// the other.
func TestJournalMatchesByKindOfPlace(t *testing.T) {
	t.Parallel()
	d, _ := newDeliveries(t)
	chat := chatEvent("C0CHECKOUT", t0.Add(time.Minute), "from another chat tool")
	chat.ID, chat.Source = "chatops:message:C0CHECKOUT:1", "chatops"
	push := commitEvent("acme/api", t0.Add(2*time.Minute), "def456")
	push.ID, push.Source = "forge:commit:ACME/Api:def456", "forge"
	stray := chatEvent("acme/api", t0.Add(3*time.Minute), "a channel named like the repository")
	stray.ID, stray.Source = "chatops:message:acme/api:2", "chatops"
	record(t, d, timeline.Delivery{Receiver: "live", ID: "before", Journal: []timeline.JournalEntry{
		{Source: "chatops", ScopeKind: timeline.ScopeChannel, Scope: "C0CHECKOUT", Event: chat},
		{Source: "forge", ScopeKind: timeline.ScopeRepo, Scope: "ACME/Api", Event: push},
		{Source: "chatops", ScopeKind: timeline.ScopeChannel, Scope: "acme/api", Event: stray},
	}})
	record(t, d, timeline.Delivery{Receiver: "incident", ID: "declare", Incidents: []timeline.Incident{genericIncident("INC1", true)}})
	if diff := cmp.Diff([]string{chat.ID, push.ID}, eventIDs(storedTimeline(t, d.Store, "INC1"))); diff != "" {
		t.Errorf("joined when the incident was declared (-want +got):\n%s", diff)
	}
	// Once the incident exists, an entry joins it as it is written.
	later := commitEvent("acme/api", t0.Add(4*time.Minute), "abc789")
	later.ID, later.Source = "forge:commit:acme/api:abc789", "forge"
	res := record(t, d, timeline.Delivery{Receiver: "live", ID: "after", Journal: []timeline.JournalEntry{
		{Source: "forge", ScopeKind: timeline.ScopeRepo, Scope: "Acme/API", Event: later}}})
	if res.Events.Changed() != 1 {
		t.Errorf("a repository entry written after the incident changed %d events, want 1", res.Events.Changed())
	}
	if j, err := d.Store.JournalEvents(context.Background(), "forge", timeline.ScopeRepo, "ACME/API", t0, t0.Add(time.Hour)); err != nil || len(j) != 2 {
		t.Errorf("forge's journal of acme/api in another case: %v (%v), want 2 events", eventIDs(j), err)
	}
}

// TestCoverageKeysByKindOfPlace: heartbeats, refusals and lookups of a
// repository compare its name in any case, those of a channel exactly,
// whatever the source.
func TestCoverageKeysByKindOfPlace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := newDeliveries(t)
	st := d.Store
	if err := st.Heartbeat(ctx, "forge", timeline.ScopeRepo, []string{"Acme/API"}, t0, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := st.Heartbeat(ctx, "chatops", timeline.ScopeChannel, []string{"C0ab"}, t0, time.Minute); err != nil {
		t.Fatal(err)
	}
	covered := func(source string, kind timeline.ScopeKind, scope string) int {
		t.Helper()
		sp, err := st.Covered(ctx, source, kind, scope, t0.Add(-time.Hour), t0.Add(time.Hour), t0)
		if err != nil {
			t.Fatal(err)
		}
		return len(sp)
	}
	for _, c := range []struct {
		source string
		kind   timeline.ScopeKind
		scope  string
		want   int
	}{
		{"forge", timeline.ScopeRepo, "acme/api", 1}, {"forge", timeline.ScopeRepo, "ACME/api", 1},
		{"chatops", timeline.ScopeChannel, "C0ab", 1}, {"chatops", timeline.ScopeChannel, "C0AB", 0},
	} {
		if got := covered(c.source, c.kind, c.scope); got != c.want {
			t.Errorf("%s %s %q: %d spans, want %d", c.source, c.kind, c.scope, got, c.want)
		}
	}
	if err := st.BreakCoverage(ctx, "forge", timeline.ScopeRepo, "ACME/API", t0.Add(-time.Second), t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := covered("forge", timeline.ScopeRepo, "acme/api"); got != 0 {
		t.Errorf("after a refusal named in another case: %d spans, want 0", got)
	}
}

// TestJournalScopeKindMigration: entries journaled before the journal kept
// kinds of place get theirs from their scope (a repository's owner/name
// has a '/', a channel id none) and join incidents as they did.
func TestJournalScopeKindMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := pgtest.NewEmpty(t)
	const beforeScopeKind = 375 // the migration is 00376
	if err := postgres.MigrateUpTo(ctx, s.Pool, beforeScopeKind); err != nil {
		t.Fatal(err)
	}
	old := []timeline.Event{commitEvent("acme/api", t0, "abc123"), chatEvent("C0CHECKOUT", t0.Add(time.Minute), "hello")}
	for i, e := range old {
		scope := []string{"acme/api", "C0CHECKOUT"}[i]
		if _, err := s.Pool.Exec(ctx, `INSERT INTO live_journal (source, scope, id, kind, occurred_at, title, content_hash)
			VALUES ($1, $2, $3, $4, $5, $6, '\x00')`, e.Source, scope, e.ID, e.Kind, e.OccurredAt, e.Title); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := postgres.Migrate(ctx, s.Pool); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	rows, err := s.Pool.Query(ctx, `SELECT scope, scope_kind FROM live_journal`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var scope, kind string
		if err := rows.Scan(&scope, &kind); err != nil {
			t.Fatal(err)
		}
		kinds[scope] = kind
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"acme/api": "repo", "C0CHECKOUT": "channel"}, kinds); diff != "" {
		t.Errorf("kinds of the entries written before (-want +got):\n%s", diff)
	}
	st := postgres.New(s.Pool)
	if err := st.UpsertIncident(ctx, genericIncident("INC1", true)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{old[0].ID, old[1].ID}, eventIDs(storedTimeline(t, st, "INC1"))); diff != "" {
		t.Errorf("old entries joined (-want +got):\n%s", diff)
	}
}
