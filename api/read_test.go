package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/api"
	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

const (
	readToken  = "read-token-for-tests"
	writeToken = "write-only-token-for-tests"
)

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

type readBundle struct {
	srv   *httptest.Server
	store *postgres.Store
}

func setupRead(t *testing.T) readBundle {
	t.Helper()
	s := pgtest.New(t)
	st := postgres.New(s.Pool)
	key, err := st.CursorKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer((&api.Server{
		Store: st, Cursors: timeline.CursorCodec{Key: key}, Sources: testSources,
		Tokens: []api.Token{
			{Name: "facilitators", Token: readToken, Scopes: []string{"read"}},
			{Name: "writer", Token: writeToken, Scopes: []string{"write"}},
		},
	}).Handler())
	t.Cleanup(srv.Close)
	return readBundle{srv: srv, store: st}
}

func (b readBundle) seed(t *testing.T, id string, n int) {
	t.Helper()
	ctx := context.Background()
	if err := b.store.UpsertIncident(ctx, timeline.Incident{ID: id, Title: "checkout errors", StartedAt: t0,
		WindowStart: t0.Add(-2 * time.Hour), WindowEnd: t0.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var evs []timeline.Event
	for i := 0; i < n; i++ {
		kind, src, typ := timeline.KindChatMessage, "slack", "message"
		if i%3 == 0 {
			kind, src, typ = timeline.KindPageNotified, "pagerduty", "log_entry"
		}
		evs = append(evs, timeline.Event{ID: timeline.EventID(src, typ, fmt.Sprintf("E%04d", i)), IncidentID: id, Source: src, Kind: kind,
			OccurredAt: t0.Add(time.Duration(i/5) * time.Minute), Title: fmt.Sprintf("event %d", i)})
	}
	if _, err := b.store.UpsertEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
}

func (b readBundle) get(t *testing.T, path, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("GET %s: content type %q", path, ct)
	}
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, body
}

func TestAuth(t *testing.T) {
	t.Parallel()
	b := setupRead(t)
	for name, tc := range map[string]struct {
		token string
		want  int
		code  string
	}{
		"no token":      {"", 401, "unauthorized"},
		"wrong token":   {"not-a-token", 401, "unauthorized"},
		"missing scope": {writeToken, 403, "forbidden"},
		"read scope":    {readToken, 200, ""},
	} {
		status, body := b.get(t, "/v1/incidents", tc.token)
		if status != tc.want {
			t.Errorf("%s: status %d, want %d (%v)", name, status, tc.want, body)
		}
		if tc.code != "" {
			e, _ := body["error"].(map[string]any)
			if e["code"] != tc.code || e["message"] == "" {
				t.Errorf("%s: error body %v, want code %s and a message", name, body, tc.code)
			}
		}
	}
	if status, _ := b.get(t, "/healthz", ""); status != 200 {
		t.Errorf("/healthz needs no token, got %d", status)
	}
}

func TestTimelineBadInput(t *testing.T) {
	t.Parallel()
	b := setupRead(t)
	b.seed(t, "PINC1", 30)
	_, first := b.get(t, "/v1/incidents/PINC1/timeline?limit=5", readToken)
	cursor, _ := first["next_cursor"].(string)
	if cursor == "" {
		t.Fatalf("no next_cursor on a partial page: %v", first)
	}
	tampered := []byte(cursor)
	tampered[len(tampered)/2] ^= 1
	for name, tc := range map[string]struct {
		path    string
		status  int
		mention string
	}{
		"garbage cursor":       {"/v1/incidents/PINC1/timeline?cursor=not-a-cursor", 400, "cursor"},
		"tampered cursor":      {"/v1/incidents/PINC1/timeline?cursor=" + url.QueryEscape(string(tampered)), 400, "cursor"},
		"cursor of another q":  {"/v1/incidents/PINC1/timeline?kind=page.&cursor=" + url.QueryEscape(cursor), 400, "cursor"},
		"since after until":    {"/v1/incidents/PINC1/timeline?since=2026-11-20T10:00:00Z&until=2026-11-20T09:00:00Z", 400, "since"},
		"unparseable since":    {"/v1/incidents/PINC1/timeline?since=yesterday", 400, "since"},
		"unparseable until":    {"/v1/incidents/PINC1/timeline?until=2026-13-45", 400, "until"},
		"limit zero":           {"/v1/incidents/PINC1/timeline?limit=0", 400, "limit"},
		"limit over max":       {"/v1/incidents/PINC1/timeline?limit=5001", 400, "limit"},
		"limit not a number":   {"/v1/incidents/PINC1/timeline?limit=ten", 400, "limit"},
		"unknown source":       {"/v1/incidents/PINC1/timeline?source=jira", 400, "source"},
		"unknown kind":         {"/v1/incidents/PINC1/timeline?kind=page.exploded", 400, "kind"},
		"unknown incident":     {"/v1/incidents/PNOPE/timeline", 404, "PNOPE"},
		"unknown incident get": {"/v1/incidents/PNOPE", 404, "PNOPE"},
		"incident list limit":  {"/v1/incidents?limit=-1", 400, "limit"},
		"incident list cursor": {"/v1/incidents?cursor=" + url.QueryEscape(cursor), 400, "cursor"},
		"no such route":        {"/v1/nothing", 404, "/v1/nothing"},
	} {
		status, body := b.get(t, tc.path, readToken)
		e, _ := body["error"].(map[string]any)
		msg, _ := e["message"].(string)
		if status != tc.status || e["code"] == "" || !strings.Contains(msg, tc.mention) {
			t.Errorf("%s: %d %v, want %d with a message naming %q", name, status, body, tc.status, tc.mention)
		}
	}
}

func TestTimelinePagesThroughTheAPI(t *testing.T) {
	t.Parallel()
	b := setupRead(t)
	b.seed(t, "PINC1", 53)
	seen := map[string]bool{}
	path := "/v1/incidents/PINC1/timeline?limit=10"
	var last string
	for pages := 0; ; pages++ {
		status, body := b.get(t, path, readToken)
		if status != 200 {
			t.Fatalf("%s: %d %v", path, status, body)
		}
		for _, raw := range body["events"].([]any) {
			e := raw.(map[string]any)
			id := e["id"].(string)
			key := e["occurred_at"].(string) + " " + id
			if seen[id] || key <= last {
				t.Fatalf("event %s repeated or out of order", id)
			}
			seen[id], last = true, key
		}
		next, ok := body["next_cursor"].(string)
		if !ok {
			break
		}
		path = "/v1/incidents/PINC1/timeline?limit=10&cursor=" + url.QueryEscape(next)
	}
	if len(seen) != 53 {
		t.Fatalf("paged through %d events, want 53", len(seen))
	}
	_, body := b.get(t, "/v1/incidents/PINC1/timeline?kind=page.&source=pagerduty", readToken)
	if n := len(body["events"].([]any)); n != 18 {
		t.Errorf("kind=page. gave %d events, want 18", n)
	}
	_, body = b.get(t, "/v1/incidents/PINC1/timeline?since=2026-11-20T09:02:00Z&until=2026-11-20T09:03:00Z", readToken)
	if n := len(body["events"].([]any)); n != 10 {
		t.Errorf("since/until gave %d events, want 10", n)
	}
}

func TestWrongMethodIsJSON405(t *testing.T) {
	t.Parallel()
	b := setupRead(t)
	req, _ := http.NewRequest(http.MethodPut, b.srv.URL+"/v1/incidents/PINC1", nil)
	req.Header.Set("Authorization", "Bearer "+readToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 405 || !strings.Contains(resp.Header.Get("Allow"), "GET") || body["error"]["code"] != "method_not_allowed" {
		t.Fatalf("%d Allow=%q %v, want a JSON 405 naming the allowed methods", resp.StatusCode, resp.Header.Get("Allow"), body)
	}
}
