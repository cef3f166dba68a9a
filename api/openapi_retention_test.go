package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/timeline"
)

// retentionContract exercises DELETE /v1/incidents/{id} and the feed's
// incident removals against the document.
func retentionContract(t *testing.T, c *contract, broken *httptest.Server) {
	t.Helper()
	ctx := context.Background()
	b := setupDeletion(t)
	u := b.srv.URL
	resolved := t0.Add(time.Hour)
	for _, id := range []string{"PGONE", "PRUN"} {
		if err := b.store.UpsertIncident(ctx, timeline.Incident{ID: id, StartedAt: t0, ResolvedAt: &resolved, WindowStart: t0, WindowEnd: resolved}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.store.UpsertEvents(ctx, benchTimeline(id, 3)); err != nil {
			t.Fatal(err)
		}
	}
	head, err := b.store.FeedHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st, raw := c.call(t, u, "DELETE", "/v1/incidents/PGONE", writeToken, nil); st != http.StatusNoContent {
		t.Errorf("DELETE: %d %s", st, raw)
	}
	c.call(t, u, "DELETE", "/v1/incidents/PGONE", writeToken, nil)  // 404
	c.call(t, u, "DELETE", "/v1/incidents/bad'id", writeToken, nil) // 400
	c.call(t, u, "DELETE", "/v1/incidents/PRUN", "", nil)           // 401
	c.call(t, u, "DELETE", "/v1/incidents/PRUN", readToken, nil)    // 403
	_, _, finish, ok, err := b.deliveries.StartRun(ctx, timeline.CollectRequest{IncidentID: "PRUN"}, 1, 1)
	if err != nil || !ok {
		t.Fatalf("StartRun: %v %v", ok, err)
	}
	if st, raw := c.call(t, u, "DELETE", "/v1/incidents/PRUN", writeToken, nil); st != http.StatusConflict {
		t.Errorf("DELETE while collecting: %d %s", st, raw)
	}
	if _, err := finish(ctx, false); err != nil {
		t.Fatal(err)
	}
	c.call(t, broken.URL, "DELETE", "/v1/incidents/PRUN", writeToken, nil) // 503
	after := "/v1/feed?after=" + strconv.FormatInt(head, 10)
	c.call(t, u, "GET", after, readToken, nil)
	c.visitSchema(t, "IncidentRemoval", []byte(c.callStream(t, u, after)))
}
