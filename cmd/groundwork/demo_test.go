package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/collectors/fakeworld"
	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

// The README's first command, end to end: fakes, server, workers, a signed
// webhook, the collection and the printed summary. The test then reads the
// stored timeline itself.
func TestDemoOnce(t *testing.T) {
	s := pgtest.NewEmpty(t)
	var stdout, stderr bytes.Buffer
	env := map[string]string{"DATABASE_URL": s.URL}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := run(ctx, []string{"demo", "-once", "-listen", "127.0.0.1:0"}, getenv(env), &stdout, &stderr)
	out := stdout.String()
	if code != 0 {
		t.Fatalf("demo -once exited %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr.String())
	}
	for _, want := range []string{
		"last_deploy_before_first_alert", "rollback", "first_acknowledgement", "escalated", "resolved",
		"Tomás Ortega", "pagerduty+", "Quiet gaps", "format=markdown", "text/event-stream", "Bearer " + demoReadToken,
		"The timeline is complete",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}

	st := postgres.New(s.Pool)
	events, err := st.Timeline(ctx, timeline.TimelineQuery{IncidentID: fakeworld.IncidentID})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	byID := map[string]timeline.Event{}
	for _, e := range events {
		got[e.Kind]++
		byID[e.ID] = e
	}
	if diff := cmp.Diff(fakeworld.Expected, got); diff != "" {
		t.Errorf("stored kinds (-want +got):\n%s", diff)
	}
	// Spot checks of content, not just counts.
	ack := byID["pagerduty:log_entry:R7ACK00000000000000000007"]
	if ack.Kind != timeline.KindPageAcknowledged || ack.Actor == nil || ack.Actor.Name != "Tomás Ortega" ||
		!ack.OccurredAt.Equal(time.Date(2025, 11, 20, 10, 9, 40, 0, time.UTC)) {
		t.Errorf("acknowledgement = %+v", ack)
	}
	note := byID["pagerduty:note:PNOTETOM1"]
	if !note.OccurredAt.Equal(time.Date(2025, 11, 20, 10, 12, 0, 0, time.UTC)) || note.OccurredAt.Location() != time.UTC {
		t.Errorf("a -05:00 note was not converted to UTC: %v", note.OccurredAt)
	}
	var edited, rollback, reply bool
	for _, e := range events {
		switch {
		case e.Kind == timeline.KindChatMessage && strings.Contains(e.Text, "(EU only)"):
			edited = true
		case e.Kind == timeline.KindDeploySucceeded && e.Details["rollback"] == true:
			rollback = true
		case e.Kind == timeline.KindChatReply && e.Details["thread_ts"] != nil && e.Actor != nil && e.Actor.Name != "":
			reply = true
		}
	}
	if !edited || !rollback || !reply {
		t.Errorf("edited message %v, rollback deploy %v, named thread reply %v: want all", edited, rollback, reply)
	}
}

// Without a Postgres to use, the demo starts a private cluster from the
// machine's initdb and pg_ctl on a Unix socket, and removes it on exit.
func TestThrowawayCluster(t *testing.T) {
	bin, ok := pgBinDir()
	if !ok {
		t.Fatal("initdb and pg_ctl are not installed (apt-get install postgresql); this test needs them")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := startTempCluster(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if c != nil {
			_ = c.Stop()
		}
	}()
	if !strings.Contains(c.URL, "host=/") {
		t.Errorf("cluster URL %q is not a Unix socket", c.URL)
	}
	pool, err := pgxpool.New(ctx, c.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if err := postgres.New(pool).UpsertIncident(ctx, timeline.Incident{ID: "P1", StartedAt: time.Now(), WindowStart: time.Now(), WindowEnd: time.Now()}); err != nil {
		t.Fatal(err)
	}
	pool.Close()
	dir := c.dir
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	c = nil
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("cluster directory %s still exists after Stop: %v", dir, err)
	}
}
