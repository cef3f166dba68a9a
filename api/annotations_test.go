package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/groundwork-dev/groundwork/api"
	"github.com/groundwork-dev/groundwork/timeline"
)

const (
	ackID   = "pagerduty:log_entry:R3"
	slackID = "slack:message:C0CHECKOUT:1763629500.000100"
	alertID = "pagerduty:alert:A1"
)

// send sends a request with token and headers (pairs) and returns status,
// headers and body.
func (b *reviewBundle) send(t testing.TB, method, path, token string, body []byte, headers ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, b.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, raw
}

// annotate creates an annotation of PCHECKOUT with the write token.
func (b *reviewBundle) annotate(t testing.TB, body string) api.AnnotationJSON {
	t.Helper()
	status, h, raw := b.send(t, "POST", "/v1/incidents/PCHECKOUT/annotations", writeToken, []byte(body))
	if status != http.StatusCreated {
		t.Fatalf("POST annotation %s: %d %s", body, status, raw)
	}
	a := decode[api.AnnotationJSON](t, raw)
	if want := "/v1/incidents/PCHECKOUT/annotations/" + a.ID; h.Get("Location") != want {
		t.Errorf("Location %q, want %q", h.Get("Location"), want)
	}
	if h.Get("ETag") != fmt.Sprintf(`"%d"`, a.Version) {
		t.Errorf("ETag %q for version %d", h.Get("ETag"), a.Version)
	}
	return a
}

func apiError(t testing.TB, raw []byte) (string, string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("not an error body: %s", raw)
	}
	return e.Error.Code, e.Error.Message
}

// The life of an annotation over HTTP: written by a write token (its name
// the author), read by a read token, changed only with a current If-Match,
// deleted; every step in the feed, in seq order with events.
func TestAnnotationLifecycle(t *testing.T) {
	t.Parallel()
	b := setupReview(t)
	checkoutIncident(t, b)
	_, _, before := b.fetch(t, "/v1/feed?after=0&limit=5000")
	after := decode[api.FeedJSON](t, before).NextAfter

	a := b.annotate(t, `{"event_ids":["`+ackID+`","`+slackID+`"],"marker":"coordination","title":"Alice takes it","note":"acknowledged, then said so in Slack","at":"2026-11-20T09:04:10.123456789+01:00"}`)
	if a.Author != "writer" || a.Marker != "coordination" || a.Status != "active" || a.Suggested || a.Orphaned ||
		a.Version != 1 || a.At == nil || *a.At != "2026-11-20T08:04:10.123456789Z" || a.ReviewedBy != nil || len(a.MissingEventIDs) != 0 {
		t.Errorf("created %+v", a)
	}
	path := "/v1/incidents/PCHECKOUT/annotations/" + a.ID

	status, h, raw := b.fetch(t, path)
	if status != 200 || h.Get("ETag") != `"1"` {
		t.Fatalf("GET: %d %q %s", status, h.Get("ETag"), raw)
	}
	if diff := cmp.Diff(a, decode[api.AnnotationJSON](t, raw)); diff != "" {
		t.Errorf("GET (-created +read):\n%s", diff)
	}

	// PATCH needs If-Match, and a current one.
	patch := []byte(`{"title":"Alice takes over","at":null}`)
	if status, _, raw := b.send(t, "PATCH", path, writeToken, patch); status != http.StatusPreconditionRequired {
		t.Errorf("PATCH without If-Match: %d %s", status, raw)
	}
	if status, _, raw := b.send(t, "PATCH", path, writeToken, patch, "If-Match", `"7"`); status != http.StatusPreconditionFailed {
		t.Errorf("PATCH with a stale If-Match: %d %s", status, raw)
	}
	if status, _, raw := b.send(t, "PATCH", path, writeToken, patch, "If-Match", `W/"1"`); status != http.StatusPreconditionFailed {
		t.Errorf("PATCH with a weak If-Match: %d %s", status, raw)
	}
	status, h, raw = b.send(t, "PATCH", path, writeToken, patch, "If-Match", `"1"`)
	if status != 200 || h.Get("ETag") != `"2"` {
		t.Fatalf("PATCH: %d %q %s", status, h.Get("ETag"), raw)
	}
	p := decode[api.AnnotationJSON](t, raw)
	if p.Title != "Alice takes over" || p.At != nil || p.Note != a.Note || p.Version != 2 || p.Seq <= a.Seq {
		t.Errorf("patched %+v", p)
	}
	// Confirming is for suggestions only.
	if status, _, raw := b.send(t, "PATCH", path, writeToken, []byte(`{"status":"confirmed"}`), "If-Match", "*"); status != 400 {
		t.Errorf("confirming a person's annotation: %d %s", status, raw)
	} else if code, msg := apiError(t, raw); code != "invalid_annotation" || !strings.Contains(msg, "only a suggested annotation") {
		t.Errorf("confirming a person's annotation: %s %s", code, msg)
	}

	// DELETE: 412 on a stale If-Match, then 204; the annotation is gone.
	if status, _, raw := b.send(t, "DELETE", path, writeToken, nil, "If-Match", `"1"`); status != http.StatusPreconditionFailed {
		t.Errorf("DELETE with a stale If-Match: %d %s", status, raw)
	}
	if status, _, raw := b.send(t, "DELETE", path, writeToken, nil); status != http.StatusNoContent || len(raw) != 0 {
		t.Errorf("DELETE: %d %s", status, raw)
	}
	if status, _, raw := b.fetch(t, path); status != 404 {
		t.Errorf("GET after DELETE: %d %s", status, raw)
	}

	// The feed: after the events, the annotation at the seq of its last
	// change, which is its removal.
	status, _, raw = b.fetch(t, fmt.Sprintf("/v1/feed?after=%d", after))
	if status != 200 {
		t.Fatalf("feed: %d %s", status, raw)
	}
	var page struct {
		Events []map[string]any `json:"events"`
	}
	_ = json.Unmarshal(raw, &page)
	if len(page.Events) != 1 {
		t.Fatalf("feed after the events: %s", raw)
	}
	want := map[string]any{"type": "annotation", "id": a.ID, "incident_id": "PCHECKOUT", "deleted": true, "seq": page.Events[0]["seq"]}
	if diff := cmp.Diff(want, page.Events[0]); diff != "" {
		t.Errorf("removal entry (-want +got):\n%s", diff)
	}
	if seq, _ := page.Events[0]["seq"].(float64); int64(seq) <= p.Seq {
		t.Errorf("removal at seq %v, the change was at %d", seq, p.Seq)
	}
}

// Bad input is refused with a 4xx naming what is wrong, and nothing is
// stored.
func TestAnnotationRefusesBadInput(t *testing.T) {
	t.Parallel()
	b := setupReview(t, func(s *api.Server) { s.MaxBody = 64 << 10 })
	checkoutIncident(t, b)
	const post = "/v1/incidents/PCHECKOUT/annotations"
	for _, tc := range []struct {
		name, path, token, body string
		headers                 []string
		status                  int
		code, message           string
	}{
		{"unknown event", post, writeToken, `{"event_ids":["` + ackID + `","slack:message:C0X:1.1"],"marker":"star"}`, nil, 400, "unknown_event", `"slack:message:C0X:1.1" is not on the timeline of incident "PCHECKOUT"`},
		{"another incident's event", post, writeToken, `{"event_ids":["pagerduty:log_entry:RX"],"marker":"star"}`, nil, 400, "unknown_event", `"pagerduty:log_entry:RX"`},
		{"unknown marker", post, writeToken, `{"event_ids":["` + ackID + `"],"marker":"important"}`, nil, 400, "invalid_annotation", "marker must be one of detection"},
		{"no marker", post, writeToken, `{"event_ids":["` + ackID + `"]}`, nil, 400, "malformed_body", "marker: required"},
		{"no events and no moment", post, writeToken, `{"marker":"blind_spot"}`, nil, 400, "invalid_annotation", "event_ids: name at least one event, or give at"},
		{"unknown field", post, writeToken, `{"event_ids":["` + ackID + `"],"marker":"star","author":"someone else"}`, nil, 400, "malformed_body", `unknown field "author"`},
		{"suggested by a person", post, writeToken, `{"event_ids":["` + ackID + `"],"marker":"star","suggested":true}`, nil, 400, "malformed_body", `unknown field "suggested"`},
		{"NUL in the note", post, writeToken, `{"event_ids":["` + ackID + `"],"marker":"star","note":"a\u0000b"}`, nil, 400, "invalid_annotation", "note holds a NUL character"},
		{"long title", post, writeToken, `{"event_ids":["` + ackID + `"],"marker":"star","title":"` + strings.Repeat("x", 201) + `"}`, nil, 400, "invalid_annotation", "title is 201 characters long, at most 200"},
		{"event_ids not an array", post, writeToken, `{"event_ids":"` + ackID + `","marker":"star"}`, nil, 400, "malformed_body", "event_ids: must be a JSON array, not a string"},
		{"bad at", post, writeToken, `{"marker":"blind_spot","at":"yesterday"}`, nil, 400, "malformed_body", "at: must be an RFC 3339 time"},
		{"empty body", post, writeToken, ``, nil, 400, "malformed_body", "the body is empty"},
		{"not an object", post, writeToken, `[1]`, nil, 400, "malformed_body", "the body must be a JSON object"},
		{"two values", post, writeToken, `{"marker":"star","event_ids":["` + ackID + `"]}{}`, nil, 400, "malformed_body", "more than one JSON value"},
		{"too large", post, writeToken, `{"marker":"star","note":"` + strings.Repeat("x", 70<<10) + `"}`, nil, 413, "too_large", "exceeds the limit"},
		{"not JSON", post, writeToken, `{"marker":"star"}`, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type", "must be JSON"},
		{"read token", post, readToken, `{"event_ids":["` + ackID + `"],"marker":"star"}`, nil, 403, "forbidden", "write scope"},
		{"no token", post, "", `{"event_ids":["` + ackID + `"],"marker":"star"}`, nil, 401, "unauthorized", "bearer token"},
		{"unknown incident", "/v1/incidents/PNOPE/annotations", writeToken, `{"event_ids":["` + ackID + `"],"marker":"star"}`, nil, 404, "not_found", `incident "PNOPE" does not exist`},
		{"bad incident id", "/v1/incidents/bad'id/annotations", writeToken, `{"marker":"star"}`, nil, 400, "invalid_incident_id", "the incident id holds"},
		{"list: bad marker", post + "?marker=star,nope", readToken, ``, nil, 400, "invalid_marker", `got "nope"`},
		{"list: bad include_dismissed", post + "?include_dismissed=yes", readToken, ``, nil, 400, "invalid_include_dismissed", `got "yes"`},
		{"list: write token", post, writeToken, ``, nil, 403, "forbidden", "read scope"},
		{"get: malformed id", post + "/42", readToken, ``, nil, 400, "invalid_annotation_id", `got "42"`},
		{"get: unknown id", post + "/0b7e3e2a-5f0c-4d7e-9a43-3c1f6c0de9a1", readToken, ``, nil, 404, "not_found", `annotation "0b7e3e2a-5f0c-4d7e-9a43-3c1f6c0de9a1" does not exist in incident "PCHECKOUT"`},
		{"get: unknown incident", "/v1/incidents/PNOPE/annotations/0b7e3e2a-5f0c-4d7e-9a43-3c1f6c0de9a1", readToken, ``, nil, 404, "not_found", `incident "PNOPE" does not exist`},
		{"patch: unknown id", post + "/0b7e3e2a-5f0c-4d7e-9a43-3c1f6c0de9a1", writeToken, `{"title":"x"}`, []string{"If-Match", "*"}, 404, "not_found", "does not exist"},
		{"put", post + "/0b7e3e2a-5f0c-4d7e-9a43-3c1f6c0de9a1", writeToken, `{}`, nil, 405, "method_not_allowed", "GET, PATCH, DELETE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := "POST"
			switch {
			case strings.HasPrefix(tc.name, "list") || strings.HasPrefix(tc.name, "get"):
				method = "GET"
			case strings.HasPrefix(tc.name, "patch"):
				method = "PATCH"
			case tc.name == "put":
				method = "PUT"
			}
			status, _, raw := b.send(t, method, tc.path, tc.token, []byte(tc.body), tc.headers...)
			code, msg := apiError(t, raw)
			if status != tc.status || code != tc.code || !strings.Contains(msg, tc.message) {
				t.Errorf("%d %s %q, want %d %s containing %q", status, code, msg, tc.status, tc.code, tc.message)
			}
		})
	}
	var n int
	if err := b.schema.Pool.QueryRow(context.Background(), `SELECT count(*) FROM annotations`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d annotations stored (%v)", n, err)
	}
}

// Timeline rows carry their annotations, in json (from the store's
// encoder and from decoded events alike) and jsonl; rows without any carry
// no annotations key, and an annotation changes the timeline's ETag.
func TestTimelineRowsCarryAnnotations(t *testing.T) {
	t.Parallel()
	b := setupReview(t)
	checkoutIncident(t, b)
	_, h, _ := b.fetch(t, "/v1/incidents/PCHECKOUT/timeline")
	etag := h.Get("ETag")
	a := b.annotate(t, `{"event_ids":["`+alertID+`"],"marker":"detection","title":"the alert, <not> a person, saw it first"}`)
	s := b.annotate(t, `{"event_ids":["`+alertID+`","`+ackID+`"],"marker":"star"}`)
	b.annotate(t, `{"marker":"blind_spot","at":"2026-11-20T09:30:00Z","title":"nobody looked at the DB"}`)
	if status, _, _ := b.fetch(t, "/v1/incidents/PCHECKOUT/timeline", "If-None-Match", etag); status != 200 {
		t.Errorf("the old ETag still matches after annotating: %d", status)
	}

	status, _, raw := b.fetch(t, "/v1/incidents/PCHECKOUT/timeline")
	if status != 200 {
		t.Fatalf("%d %s", status, raw)
	}
	if !bytes.Contains(raw, []byte(`<not>`)) {
		t.Errorf("the annotation's title was HTML-escaped: %s", raw)
	}
	page := decode[api.TimelineJSON](t, raw)
	got := map[string][]string{}
	for _, e := range page.Events {
		for _, x := range e.Annotations {
			got[e.ID] = append(got[e.ID], x.ID)
		}
	}
	want := map[string][]string{alertID: {a.ID, s.ID}, ackID: {s.ID}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("annotations by event (-want +got):\n%s", diff)
	}
	if n := bytes.Count(raw, []byte(`"annotations":`)); n != 2 {
		t.Errorf("%d rows carry an annotations key, want 2", n)
	}

	// Page by page, each row carries the same annotations.
	var paged []api.EventJSON
	for next := ""; ; {
		p := "/v1/incidents/PCHECKOUT/timeline?limit=2"
		if next != "" {
			p += "&cursor=" + url.QueryEscape(next)
		}
		_, _, raw := b.fetch(t, p)
		pg := decode[api.TimelineJSON](t, raw)
		paged = append(paged, pg.Events...)
		if pg.NextCursor == nil {
			break
		}
		next = *pg.NextCursor
	}
	if diff := cmp.Diff(page.Events, paged); diff != "" {
		t.Errorf("paged timeline (-one page +pages of 2):\n%s", diff)
	}

	// The same page from decoded events (a store without TimelineEncoder).
	plain := httptest.NewServer((&api.Server{Store: plainStore{b.store}, Annotations: b.store, Cursors: b.server.Cursors,
		Tokens: []api.Token{{Name: "facilitators", Token: readToken, Scopes: []string{"read"}}}}).Handler())
	t.Cleanup(plain.Close)
	req, _ := http.NewRequest("GET", plain.URL+"/v1/incidents/PCHECKOUT/timeline", nil)
	req.Header.Set("Authorization", "Bearer "+readToken)
	resp, err := plain.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	plainRaw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if diff := cmp.Diff(decode[any](t, raw), decode[any](t, plainRaw)); diff != "" {
		t.Errorf("encoded and decoded pages differ (-encoded +decoded):\n%s", diff)
	}

	_, _, jsonl := b.fetch(t, "/v1/incidents/PCHECKOUT/timeline?format=jsonl")
	lines := strings.Split(strings.TrimSpace(string(jsonl)), "\n")
	if len(lines) != len(page.Events) {
		t.Fatalf("%d jsonl lines, %d events", len(lines), len(page.Events))
	}
	for i, l := range lines {
		if diff := cmp.Diff(page.Events[i], decode[api.EventJSON](t, []byte(l))); diff != "" {
			t.Errorf("jsonl line %d (-json +jsonl):\n%s", i, diff)
		}
	}
}

// plainStore hides the store's TimelineEncoder.
type plainStore struct{ timeline.Store }

// Annotations survive the deletion of an event they cite: orphaned, naming
// the missing event, in the list, in the single read and in the feed.
func TestAnnotationOrphanedOverHTTP(t *testing.T) {
	t.Parallel()
	b := setupReview(t)
	checkoutIncident(t, b)
	a := b.annotate(t, `{"event_ids":["`+slackID+`","`+ackID+`"],"marker":"key_moment","title":"the rollback call"}`)
	if _, err := b.schema.Pool.Exec(context.Background(), `DELETE FROM events WHERE incident_id = 'PCHECKOUT' AND id = $1`, slackID); err != nil {
		t.Fatal(err)
	}
	_, _, raw := b.fetch(t, "/v1/incidents/PCHECKOUT/annotations")
	list := decode[api.AnnotationListJSON](t, raw)
	if len(list.Annotations) != 1 {
		t.Fatalf("list %s", raw)
	}
	got := list.Annotations[0]
	if !got.Orphaned || !slices.Equal(got.MissingEventIDs, []string{slackID}) || !slices.Equal(got.EventIDs, a.EventIDs) || got.Version != 1 {
		t.Errorf("after the deletion %+v", got)
	}
	_, _, raw = b.fetch(t, "/v1/incidents/PCHECKOUT/annotations/"+a.ID)
	if one := decode[api.AnnotationJSON](t, raw); !one.Orphaned {
		t.Errorf("single read %+v", one)
	}
	// The row it is still attached to carries it, orphaned.
	_, _, raw = b.fetch(t, "/v1/incidents/PCHECKOUT/timeline")
	for _, e := range decode[api.TimelineJSON](t, raw).Events {
		if e.ID == ackID && (len(e.Annotations) != 1 || !e.Annotations[0].Orphaned) {
			t.Errorf("the acknowledgement carries %+v", e.Annotations)
		}
	}
	_, _, raw = b.fetch(t, fmt.Sprintf("/v1/feed?after=%d", a.Seq-1))
	if !bytes.Contains(raw, []byte(`"orphaned":true,"missing_event_ids":["`+slackID+`"]`)) {
		t.Errorf("feed %s", raw)
	}
}

// A suggestion is confirmed or dismissed by a person, who is recorded; a
// dismissed one leaves lists and rows unless asked for.
func TestSuggestedAnnotationConfirmAndDismiss(t *testing.T) {
	t.Parallel()
	b := setupReview(t)
	checkoutIncident(t, b)
	ctx := context.Background()
	sugg := func(key string) timeline.Annotation {
		return timeline.Annotation{IncidentID: "PCHECKOUT", EventIDs: []string{slackID}, Marker: timeline.MarkerRepair, Title: "Rollback",
			Author: timeline.SuggestedAuthor, Suggested: true, SuggestedKey: key, Status: timeline.AnnotationActive}
	}
	if _, err := b.store.SuggestAnnotations(ctx, "PCHECKOUT", []timeline.Annotation{sugg("a"), sugg("b")}); err != nil {
		t.Fatal(err)
	}
	_, _, raw := b.fetch(t, "/v1/incidents/PCHECKOUT/annotations?marker=repair")
	list := decode[api.AnnotationListJSON](t, raw).Annotations
	if len(list) != 2 || !list[0].Suggested || list[0].Author != "groundwork" {
		t.Fatalf("suggestions %s", raw)
	}
	path := func(a api.AnnotationJSON) string { return "/v1/incidents/PCHECKOUT/annotations/" + a.ID }
	status, _, raw := b.send(t, "PATCH", path(list[0]), writeToken, []byte(`{"status":"confirmed"}`), "If-Match", `"1"`)
	c := decode[api.AnnotationJSON](t, raw)
	if status != 200 || c.Status != "confirmed" || c.ReviewedBy == nil || *c.ReviewedBy != "writer" || c.ReviewedAt == nil {
		t.Errorf("confirmed: %d %s", status, raw)
	}
	status, _, raw = b.send(t, "PATCH", path(list[1]), writeToken, []byte(`{"status":"dismissed"}`), "If-Match", `"1"`)
	if status != 200 {
		t.Fatalf("dismiss: %d %s", status, raw)
	}
	_, _, raw = b.fetch(t, "/v1/incidents/PCHECKOUT/annotations")
	if l := decode[api.AnnotationListJSON](t, raw).Annotations; len(l) != 1 || l[0].ID != list[0].ID {
		t.Errorf("without dismissed: %s", raw)
	}
	_, _, raw = b.fetch(t, "/v1/incidents/PCHECKOUT/annotations?include_dismissed=true")
	if l := decode[api.AnnotationListJSON](t, raw).Annotations; len(l) != 2 {
		t.Errorf("with dismissed: %s", raw)
	}
	_, _, raw = b.fetch(t, "/v1/incidents/PCHECKOUT/timeline")
	if n := bytes.Count(raw, []byte(`"status":"dismissed"`)); n != 0 {
		t.Errorf("a dismissed suggestion is on the timeline: %s", raw)
	}
	// The detector running again brings nothing back.
	if n, err := b.store.SuggestAnnotations(ctx, "PCHECKOUT", []timeline.Annotation{sugg("a"), sugg("b")}); err != nil || n != 0 {
		t.Errorf("second run stored %d (%v)", n, err)
	}
}

// An event stream carries annotation changes as they are made, at their
// seq, after the events.
func TestFeedStreamCarriesAnnotations(t *testing.T) {
	t.Parallel()
	b := setupReview(t)
	checkoutIncident(t, b)
	_, _, raw := b.fetch(t, "/v1/feed?limit=5000")
	last := decode[api.FeedJSON](t, raw).NextAfter
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/v1/feed?after=%d", b.srv.URL, last), nil)
	req.Header.Set("Authorization", "Bearer "+readToken)
	req.Header.Set("Accept", "text/event-stream")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a hang guard only
	defer cancel()
	resp, err := b.srv.Client().Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	// The stream is open once its retry line is read.
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "retry:") {
		t.Fatalf("first line %q, %v", line, err)
	}
	a := b.annotate(t, `{"event_ids":["`+ackID+`"],"marker":"handoff"}`)
	var id, data string
	for data == "" {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended: %v", err)
		}
		if v, ok := strings.CutPrefix(line, "id: "); ok {
			id = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "data: "); ok {
			data = strings.TrimSpace(v)
		}
	}
	var entry api.AnnotationChangeJSON
	if err := json.Unmarshal([]byte(data), &entry); err != nil {
		t.Fatal(err)
	}
	if entry.Type != "annotation" || entry.Annotation.ID != a.ID || id != fmt.Sprint(a.Seq) || entry.Seq != a.Seq {
		t.Errorf("id %s, entry %s; want the annotation at seq %d", id, data, a.Seq)
	}
}

// annotationsContract exercises every annotation endpoint, for success and
// each failure, and the timeline and feed that carry annotations, against
// the OpenAPI document.
func annotationsContract(t *testing.T, c *contract, b *reviewBundle, broken *httptest.Server) {
	t.Helper()
	u := b.srv.URL
	const post = "/v1/incidents/PCHECKOUT/annotations"
	_, raw := c.call(t, u, "POST", post, writeToken, []byte(`{"event_ids":["`+ackID+`","`+slackID+`"],"marker":"coordination","title":"Alice takes it","note":"n","at":"2026-11-20T09:04:10Z"}`))
	a := decode[api.AnnotationJSON](t, raw)
	c.call(t, u, "POST", post, writeToken, []byte(`{"marker":"blind_spot","at":"2026-11-20T09:30:00Z"}`))
	for _, body := range []string{`{"event_ids":["nope"],"marker":"star"}`, `{"marker":"x"}`, `{"extra":1}`, ``} {
		c.call(t, u, "POST", post, writeToken, []byte(body))
	}
	c.call(t, u, "POST", post, writeToken, []byte(`{"marker":"star","note":"`+strings.Repeat("x", 2<<20)+`"}`))
	c.call(t, u, "POST", post, writeToken, []byte(`{"marker":"star"}`), "Content-Type", "text/plain")
	c.call(t, u, "POST", "/v1/incidents/PNOPE/annotations", writeToken, []byte(`{"marker":"star","event_ids":["x"]}`))
	c.call(t, u, "POST", post, readToken, []byte(`{}`))
	c.call(t, u, "POST", post, "", []byte(`{}`))

	_, raw = c.call(t, u, "GET", post, readToken, nil)
	resp := b.do(t, "GET", post, nil)
	resp.Body.Close()
	c.call(t, u, "GET", post, readToken, nil, "If-None-Match", resp.Header.Get("ETag"))
	c.call(t, u, "GET", post+"?marker=coordination,star&include_dismissed=true", readToken, nil)
	c.call(t, u, "GET", post+"?marker=nope", readToken, nil)
	c.call(t, u, "GET", "/v1/incidents/PNOPE/annotations", readToken, nil)
	c.call(t, u, "GET", post, writeToken, nil)
	c.call(t, u, "GET", post, "", nil)

	one := post + "/" + a.ID
	c.call(t, u, "GET", one, readToken, nil)
	c.call(t, u, "GET", post+"/nope", readToken, nil)
	c.call(t, u, "GET", post+"/0b7e3e2a-5f0c-4d7e-9a43-3c1f6c0de9a1", readToken, nil)
	c.call(t, u, "GET", one, writeToken, nil)
	c.call(t, u, "GET", one, "", nil)

	c.call(t, u, "PATCH", one, writeToken, []byte(`{"note":"changed"}`))
	c.call(t, u, "PATCH", one, writeToken, []byte(`{"note":"changed"}`), "If-Match", `"9"`)
	c.call(t, u, "PATCH", one, writeToken, []byte(`{"note":"changed","at":null}`), "If-Match", `"1"`)
	c.call(t, u, "PATCH", one, writeToken, []byte(`{"status":"confirmed"}`), "If-Match", "*")
	c.call(t, u, "PATCH", one, writeToken, []byte(`{"note":"`+strings.Repeat("x", 2<<20)+`"}`), "If-Match", "*")
	c.call(t, u, "PATCH", one, writeToken, []byte(`{"note":"x"}`), "If-Match", "*", "Content-Type", "text/plain")
	c.call(t, u, "PATCH", post+"/0b7e3e2a-5f0c-4d7e-9a43-3c1f6c0de9a1", writeToken, []byte(`{"note":"x"}`), "If-Match", "*")
	c.call(t, u, "PATCH", one, readToken, []byte(`{}`))
	c.call(t, u, "PATCH", one, "", []byte(`{}`))

	// Timeline rows and the feed carry annotations.
	_, raw = c.call(t, u, "GET", "/v1/incidents/PCHECKOUT/timeline", readToken, nil)
	if !bytes.Contains(raw, []byte(`"annotations":[`)) {
		t.Error("no timeline row carried an annotation")
	}
	_, raw = c.call(t, u, "GET", "/v1/incidents/PCHECKOUT/timeline?format=jsonl", readToken, nil)
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		c.visitSchema(t, "Event", []byte(line))
	}
	c.visitSchema(t, "FeedEntry", []byte(c.callStream(t, u, fmt.Sprintf("/v1/feed?after=%d", a.Seq-1))))

	c.call(t, u, "DELETE", one, writeToken, nil, "If-Match", `"1"`)
	c.call(t, u, "DELETE", one, writeToken, nil)
	c.call(t, u, "DELETE", one, writeToken, nil)
	c.call(t, u, "DELETE", post+"/nope", writeToken, nil)
	c.call(t, u, "DELETE", one, readToken, nil)
	c.call(t, u, "DELETE", one, "", nil)
	_, raw = c.call(t, u, "GET", fmt.Sprintf("/v1/feed?after=%d", a.Seq-1), readToken, nil)
	if !bytes.Contains(raw, []byte(`"deleted":true`)) || !bytes.Contains(raw, []byte(`"type":"annotation","incident_id"`)) {
		t.Errorf("the feed lacks an annotation change or removal: %s", raw)
	}

	// Without a database.
	for _, call := range []struct{ method, path, token string }{
		{"GET", post, readToken}, {"POST", post, writeToken}, {"GET", one, readToken}, {"PATCH", one, writeToken}, {"DELETE", one, writeToken},
	} {
		body := []byte(`{"marker":"star","event_ids":["x"]}`)
		if call.method == "GET" || call.method == "DELETE" {
			body = nil
		}
		if status, raw := c.call(t, broken.URL, call.method, call.path, call.token, body, "If-Match", "*"); status < 500 {
			t.Errorf("%s %s without a database: %d %s, want a 5xx", call.method, call.path, status, raw)
		}
	}
}
