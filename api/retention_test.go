package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/groundwork-dev/groundwork/api"
	"github.com/groundwork-dev/groundwork/collectors/jobs"
	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

// delBundle is a server that deletes incidents, over a store with a real
// River queue (nothing works the jobs).
type delBundle struct {
	schema     *pgtest.Schema
	store      *postgres.Store
	deliveries *postgres.Deliveries
	srv        *httptest.Server
}

func setupDeletion(t *testing.T) *delBundle {
	t.Helper()
	s := pgtest.New(t)
	client, err := river.NewClient(riverpgxv5.New(s.Pool), &river.Config{})
	if err != nil {
		t.Fatal(err)
	}
	st := postgres.New(s.Pool)
	d := &postgres.Deliveries{Store: st, Queue: jobs.Queue{Client: client}, Sources: []string{"pagerduty", "slack"}}
	key, err := st.CursorKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	server := &api.Server{Store: st, Deliveries: d, Deleter: d, Annotations: st, Summaries: st, Versions: st,
		Cursors: timeline.CursorCodec{Key: key}, Review: timeline.DefaultReviewConfig(),
		Tokens: []api.Token{
			{Name: "facilitators", Token: readToken, Scopes: []string{"read"}},
			{Name: "records-officer", Token: writeToken, Scopes: []string{"write"}},
		}}
	srv := httptest.NewServer(server.Handler())
	t.Cleanup(srv.Close)
	return &delBundle{schema: s, store: st, deliveries: d, srv: srv}
}

func (b *delBundle) call(t *testing.T, method, path, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, b.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

func (b *delBundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := b.schema.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDeleteIncident: DELETE /v1/incidents/{id} (write scope) takes the
// incident and everything stored of it away in one go (events and
// tombstones, collection status, annotations, its queued collection,
// cancelled) and leaves every other incident alone; the feed carries one
// removal for the incident, after everything it carried of it; a second
// DELETE, and every read of it, is 404.
func TestDeleteIncident(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupDeletion(t)
	for _, id := range []string{"PGONE", "PKEEP"} {
		resolved := t0.Add(time.Hour)
		if err := b.store.UpsertIncident(ctx, timeline.Incident{ID: id, Title: "checkout errors", StartedAt: t0, ResolvedAt: &resolved,
			WindowStart: t0.Add(-2 * time.Hour), WindowEnd: resolved.Add(30 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
		evs := benchTimeline(id, 20)
		evs[3].Deleted, evs[3].Version = true, t0.Add(2*time.Hour) // a tombstone
		if _, err := b.store.UpsertEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
		if err := b.store.SetSourceStatus(ctx, timeline.SourceStatus{IncidentID: id, Source: "slack", State: timeline.StateSucceeded, EventCount: 19}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.store.CreateAnnotation(ctx, timeline.Annotation{IncidentID: id, EventIDs: []string{evs[0].ID},
			Marker: timeline.MarkerDetection, Author: "facilitators", Status: timeline.AnnotationActive}); err != nil {
			t.Fatal(err)
		}
	}
	// A collection of PGONE waits in the queue.
	if st, body := b.call(t, "POST", "/v1/incidents/PGONE/collect", writeToken); st != http.StatusAccepted {
		t.Fatalf("collect: %d %s", st, body)
	}
	before, err := b.store.Feed(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	head := before[len(before)-1].Seq

	if st, _ := b.call(t, "DELETE", "/v1/incidents/PGONE", readToken); st != http.StatusForbidden {
		t.Errorf("DELETE with a read token: %d, want 403", st)
	}
	if st, body := b.call(t, "DELETE", "/v1/incidents/PGONE?cascade=yes", writeToken); st != http.StatusBadRequest {
		t.Errorf("DELETE with an unknown parameter: %d %s, want 400", st, body)
	}
	if b.count(t, `SELECT count(*) FROM events WHERE incident_id = 'PGONE'`) != 20 {
		t.Fatal("a refused DELETE deleted something")
	}
	if st, body := b.call(t, "DELETE", "/v1/incidents/PGONE", writeToken); st != http.StatusNoContent || len(body) != 0 {
		t.Fatalf("DELETE: %d %s, want 204 and no body", st, body)
	}

	for _, tc := range []struct{ what, sql string }{
		{"incident", `SELECT count(*) FROM incidents WHERE id = $1`},
		{"events", `SELECT count(*) FROM events WHERE incident_id = $1`},
		{"collection status", `SELECT count(*) FROM collection_status WHERE incident_id = $1`},
		{"annotations", `SELECT count(*) FROM annotations WHERE incident_id = $1`},
		{"current job", `SELECT count(*) FROM collection_jobs WHERE incident_id = $1`},
	} {
		if n := b.count(t, tc.sql, "PGONE"); n != 0 {
			t.Errorf("%d rows of the deleted incident's %s are left", n, tc.what)
		}
		if n := b.count(t, tc.sql, "PKEEP"); n == 0 && tc.what != "current job" {
			t.Errorf("the other incident's %s are gone", tc.what)
		}
	}
	if n := b.count(t, `SELECT count(*) FROM events WHERE incident_id = 'PKEEP'`); n != 20 {
		t.Errorf("the other incident has %d events, want 20", n)
	}
	if n := b.count(t, `SELECT count(*) FROM river_job WHERE kind = $1 AND state <> 'cancelled'`, jobs.Kind); n != 0 {
		t.Errorf("%d collection jobs left uncancelled", n)
	}
	for _, p := range []string{"/v1/incidents/PGONE", "/v1/incidents/PGONE/timeline", "/v1/incidents/PGONE/people", "/v1/incidents/PGONE/annotations"} {
		if st, body := b.call(t, "GET", p, readToken); st != http.StatusNotFound {
			t.Errorf("GET %s after deletion: %d %s, want 404", p, st, body)
		}
	}
	if st, body := b.call(t, "DELETE", "/v1/incidents/PGONE", writeToken); st != http.StatusNotFound || !strings.Contains(string(body), `"not_found"`) {
		t.Errorf("second DELETE: %d %s, want 404", st, body)
	}

	// The feed: nothing of PGONE is left but its removal, after the head.
	st, body := b.call(t, "GET", "/v1/feed?after=0&limit=5000", readToken)
	if st != http.StatusOK {
		t.Fatalf("feed: %d %s", st, body)
	}
	var page struct {
		Events []map[string]any `json:"events"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	var removals []map[string]any
	for _, e := range page.Events {
		if e["incident_id"] != "PGONE" {
			continue
		}
		if e["type"] != "incident" {
			t.Errorf("the feed still holds an entry of the deleted incident: %v", e)
			continue
		}
		removals = append(removals, e)
	}
	if len(removals) != 1 {
		t.Fatalf("the feed holds %d removals of the incident, want 1", len(removals))
	}
	rm := removals[0]
	if seq, _ := rm["seq"].(float64); int64(seq) <= head || rm["deleted"] != true || rm["deleted_at"] == "" || len(rm) != 5 {
		t.Errorf("removal %v, want type, incident_id, deleted: true, deleted_at and a seq after %d", rm, head)
	}
	// And a reader positioned before it gets it next.
	_, body = b.call(t, "GET", "/v1/feed?after="+strconv.FormatInt(head, 10), readToken)
	if !strings.Contains(string(body), `"type":"incident","incident_id":"PGONE","deleted":true`) {
		t.Errorf("feed after %d: %s", head, body)
	}
	var by string
	if err := b.schema.Pool.QueryRow(ctx, `SELECT removed_by FROM incident_removals WHERE incident_id = 'PGONE'`).Scan(&by); err != nil || by != "records-officer" {
		t.Errorf("removed by %q (%v), want the token's name", by, err)
	}
}

// TestDeleteIncidentWhileCollecting: an incident whose collection runs (its
// run lock held, or its job fetched by River and not yet started) is not
// deleted, since the run would store it again: 409, and nothing changes;
// once the run ends it is.
func TestDeleteIncidentWhileCollecting(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupDeletion(t)
	resolved := t0.Add(time.Hour)
	if err := b.store.UpsertIncident(ctx, timeline.Incident{ID: "PRUN", StartedAt: t0, ResolvedAt: &resolved,
		WindowStart: t0, WindowEnd: resolved}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.UpsertEvents(ctx, benchTimeline("PRUN", 5)); err != nil {
		t.Fatal(err)
	}
	_, _, finish, ok, err := b.deliveries.StartRun(ctx, timeline.CollectRequest{IncidentID: "PRUN"}, 1, 1)
	if err != nil || !ok {
		t.Fatalf("StartRun: %v %v", ok, err)
	}
	st, body := b.call(t, "DELETE", "/v1/incidents/PRUN", writeToken)
	if st != http.StatusConflict || !strings.Contains(string(body), `"collection_running"`) {
		t.Errorf("DELETE while the run lock is held: %d %s, want 409 collection_running", st, body)
	}
	if _, err := finish(ctx, false); err != nil {
		t.Fatal(err)
	}
	// River has fetched a job of it (running) whose worker has not taken
	// the run lock yet.
	if st, body := b.call(t, "POST", "/v1/incidents/PRUN/collect", writeToken); st != http.StatusAccepted {
		t.Fatalf("collect: %d %s", st, body)
	}
	if _, err := b.schema.Pool.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() WHERE kind = $1`, jobs.Kind); err != nil {
		t.Fatal(err)
	}
	if st, body := b.call(t, "DELETE", "/v1/incidents/PRUN", writeToken); st != http.StatusConflict {
		t.Errorf("DELETE while River runs its job: %d %s, want 409", st, body)
	}
	if n := b.count(t, `SELECT count(*) FROM events WHERE incident_id = 'PRUN'`); n != 5 {
		t.Errorf("a refused DELETE left %d of 5 events", n)
	}
	if _, err := b.schema.Pool.Exec(ctx, `UPDATE river_job SET state = 'completed', finalized_at = now() WHERE kind = $1`, jobs.Kind); err != nil {
		t.Fatal(err)
	}
	if st, body := b.call(t, "DELETE", "/v1/incidents/PRUN", writeToken); st != http.StatusNoContent {
		t.Errorf("DELETE once the run ended: %d %s, want 204", st, body)
	}
}
