package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/api"
	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
)

// withShares wires the share links of the server's store.
func withShares(t testing.TB) func(*api.Server) {
	return func(s *api.Server) {
		st := s.Store.(*postgres.Store)
		key, err := st.ShareKey(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		s.Shares, s.ShareCodec = st, timeline.ShareCodec{Key: key}
	}
}

// share creates a share link of incident id with body (JSON, or "").
func share(t *testing.T, b *reviewBundle, id, body string) api.ShareLinkJSON {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	resp := b.do(t, http.MethodPost, "/v1/incidents/"+id+"/share", r, "Authorization", "Bearer "+writeToken)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST share: %d %s", resp.StatusCode, raw)
	}
	return decode[api.ShareLinkJSON](t, raw)
}

// get sends a GET with the given headers (pairs) and no token.
func get(t *testing.T, b *reviewBundle, path string, headers ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(raw)
}

func TestIncidentPageThroughAShareLink(t *testing.T) {
	t.Parallel()
	b := setupReview(t, withShares(t))
	checkoutIncident(t, b)
	// Annotations are flags: one on events, one on a moment; a hide
	// marker is none.
	for _, body := range []string{
		`{"event_ids":["` + slackID + `"],"marker":"diagnosis","title":"Rollback decided in chat"}`,
		`{"marker":"blind_spot","title":"Nobody watched the pool","at":"2026-11-20T09:30:00Z"}`,
		`{"event_ids":["` + ackID + `"],"marker":"hide","title":"Hidden flag"}`,
	} {
		resp := b.do(t, http.MethodPost, "/v1/incidents/PCHECKOUT/annotations", strings.NewReader(body), "Authorization", "Bearer "+writeToken)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST annotation: %d", resp.StatusCode)
		}
	}
	link := share(t, b, "PCHECKOUT", `{"expires_in": "2h"}`)
	if link.Token == "" || link.Status != timeline.ShareActive || link.CreatedBy != "writer" ||
		!strings.HasPrefix(link.URL, b.srv.URL+"/incidents/PCHECKOUT?s=") || link.Path != strings.TrimPrefix(link.URL, b.srv.URL) {
		t.Fatalf("share link = %+v", link)
	}
	if want := b.now.Add(2 * time.Hour).Format(time.RFC3339); link.ExpiresAt != want {
		t.Errorf("expires_at = %s, want %s", link.ExpiresAt, want)
	}
	status, h, body := get(t, b, link.Path)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", link.Path, status, body)
	}
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if h.Get("Referrer-Policy") != "no-referrer" || h.Get("Cache-Control") != "no-store" {
		t.Errorf("headers: Referrer-Policy %q, Cache-Control %q", h.Get("Referrer-Policy"), h.Get("Cache-Control"))
	}
	for _, want := range []string{`data-lane="pager"`, `data-lane="alerts"`, `data-lane="changes"`, `data-lane="chat:C0CHECKOUT"`,
		`data-lane="person:`, "Checkout 5xx | payments", "looking, rolling back", "First acknowledgement",
		"<strong>Diagnosis</strong> Rollback decided in chat (writer)", "<strong>Blind spot</strong> Nobody watched the pool"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(body, "Hidden flag") {
		t.Error("a hide marker is shown as a flag")
	}
	if n := strings.Count(body, `class="flag annotation"`); n != 2*2 {
		t.Errorf("%d annotation flags (on the axis and in the list), want 2 each", n)
	}
	// Nothing inline: no script or style element with content, no style
	// or event handler attribute.
	for _, re := range []string{`<script>`, `<script [^>]*>[^<]`, `<style`, `\sstyle=`, `\son[a-z]+=`} {
		if m := regexp.MustCompile(re).FindString(body); m != "" {
			t.Errorf("the page has inline code or style the policy would block: %q", m)
		}
	}
	// The page's own links keep the share token.
	if !strings.Contains(body, "s="+url.QueryEscape(link.Token)+"&amp;zoom=window") {
		t.Errorf("the zoom link does not carry the share token")
	}
	// The assets it names are served, cached for good.
	for _, m := range regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`).FindAllStringSubmatch(body, -1) {
		st, ah, _ := get(t, b, m[1])
		if st != http.StatusOK || !strings.Contains(ah.Get("Cache-Control"), "immutable") {
			t.Errorf("GET %s: %d, Cache-Control %q", m[1], st, ah.Get("Cache-Control"))
		}
	}
	if st, _, _ := get(t, b, "/static/page.css"); st != http.StatusNotFound {
		t.Errorf("an asset under its unhashed name: %d, want 404", st)
	}
}

func TestShareLinksAreRefusedWhenAlteredExpiredRevokedOrElsewhere(t *testing.T) {
	t.Parallel()
	b := setupReview(t, withShares(t))
	checkoutIncident(t, b) // also PSEARCH
	link := share(t, b, "PCHECKOUT", `{"expires_in": "1h"}`)
	other := share(t, b, "PSEARCH", "")
	if st, _, body := get(t, b, other.Path); st != http.StatusOK {
		t.Fatalf("the other incident's link: %d %s", st, body)
	}
	// One character of the token changed, at the start, the middle and
	// the end (the signature).
	for _, i := range []int{0, len(link.Token) / 2, len(link.Token) - 1} {
		tok := []byte(link.Token)
		if tok[i] == 'A' {
			tok[i] = 'B'
		} else {
			tok[i] = 'A'
		}
		st, h, body := get(t, b, "/incidents/PCHECKOUT?s="+url.QueryEscape(string(tok)))
		if st != http.StatusForbidden || !strings.Contains(body, "not valid") || h.Get("WWW-Authenticate") != "" {
			t.Errorf("token altered at %d: %d %q, want 403 without a login prompt", i, st, body)
		}
		if h.Get("Content-Security-Policy") == "" || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			t.Errorf("the refusal is not a page under the policy: %v", h)
		}
	}
	// A link of one incident opens no other.
	if st, _, body := get(t, b, "/incidents/PSEARCH?s="+url.QueryEscape(link.Token)); st != http.StatusForbidden || !strings.Contains(body, "another incident") {
		t.Errorf("PCHECKOUT's link on PSEARCH: %d %s", st, body)
	}
	// A share token opens nothing of the API, as a bearer token or in the
	// query.
	for _, req := range []struct{ path, auth string }{
		{"/v1/incidents/PCHECKOUT", "Bearer " + link.Token},
		{"/v1/incidents/PCHECKOUT?s=" + url.QueryEscape(link.Token), ""},
		{"/v1/incidents/PCHECKOUT/timeline?s=" + url.QueryEscape(link.Token), ""},
		{"/v1/feed?s=" + url.QueryEscape(link.Token), ""},
		{"/incidents?s=" + url.QueryEscape(link.Token), ""},
	} {
		if st, _, body := get(t, b, req.path, "Authorization", req.auth); st != http.StatusUnauthorized {
			t.Errorf("GET %s with the share token: %d %s, want 401", req.path, st, body)
		}
	}
	// Expired: the clock passes its expiry.
	b.now = b.now.Add(61 * time.Minute)
	if st, _, body := get(t, b, link.Path); st != http.StatusForbidden || !strings.Contains(body, "expired") {
		t.Errorf("expired link: %d %s", st, body)
	}
	// Revoked.
	resp := b.do(t, http.MethodDelete, "/v1/incidents/PSEARCH/share/"+other.ID, nil, "Authorization", "Bearer "+writeToken)
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if revoked := decode[api.ShareLinkJSON](t, raw); resp.StatusCode != http.StatusOK || revoked.Status != timeline.ShareRevoked || revoked.RevokedAt == nil {
		t.Fatalf("DELETE share: %d %s", resp.StatusCode, raw)
	}
	if st, _, body := get(t, b, other.Path); st != http.StatusForbidden || !strings.Contains(body, "revoked") {
		t.Errorf("revoked link: %d %s", st, body)
	}
	// The list says which is which, and shows no token.
	st, _, body := b.fetch(t, "/v1/incidents/PCHECKOUT/share")
	list := decode[api.ShareLinkListJSON](t, body)
	if st != http.StatusOK || len(list.Links) != 1 || list.Links[0].Status != timeline.ShareExpired || list.Links[0].Token != "" || list.Links[0].URL != "" {
		t.Errorf("GET share: %d %s", st, body)
	}
	if strings.Contains(string(body), link.Token) {
		t.Error("the list shows the token")
	}
}

func TestShareLinkRequests(t *testing.T) {
	t.Parallel()
	b := setupReview(t, withShares(t))
	checkoutIncident(t, b)
	for name, tc := range map[string]struct {
		method, path, token, body string
		status                    int
		code                      string
	}{
		"read token":        {"POST", "/v1/incidents/PCHECKOUT/share", readToken, "", 403, "forbidden"},
		"no token":          {"POST", "/v1/incidents/PCHECKOUT/share", "", "", 401, "unauthorized"},
		"unknown incident":  {"POST", "/v1/incidents/PNOPE/share", writeToken, "", 404, "not_found"},
		"too long":          {"POST", "/v1/incidents/PCHECKOUT/share", writeToken, `{"expires_in": "2000h"}`, 400, "invalid_expiry"},
		"in the past":       {"POST", "/v1/incidents/PCHECKOUT/share", writeToken, `{"expires_at": "2020-01-01T00:00:00Z"}`, 400, "invalid_expiry"},
		"not a duration":    {"POST", "/v1/incidents/PCHECKOUT/share", writeToken, `{"expires_in": "soon"}`, 400, "malformed_body"},
		"both":              {"POST", "/v1/incidents/PCHECKOUT/share", writeToken, `{"expires_in": "1h", "expires_at": "2030-01-01T00:00:00Z"}`, 400, "malformed_body"},
		"unknown field":     {"POST", "/v1/incidents/PCHECKOUT/share", writeToken, `{"expires": "1h"}`, 400, "malformed_body"},
		"revoke unknown":    {"DELETE", "/v1/incidents/PCHECKOUT/share/0b7e3e2a-5f0c-4d7e-9a43-3c1f6c0de9a1", writeToken, "", 404, "not_found"},
		"revoke not a uuid": {"DELETE", "/v1/incidents/PCHECKOUT/share/nope", writeToken, "", 400, "invalid_link_id"},
		"revoke read token": {"DELETE", "/v1/incidents/PCHECKOUT/share/0b7e3e2a-5f0c-4d7e-9a43-3c1f6c0de9a1", readToken, "", 403, "forbidden"},
		"list unknown":      {"GET", "/v1/incidents/PNOPE/share", readToken, "", 404, "not_found"},
	} {
		t.Run(name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			resp := b.do(t, tc.method, tc.path, body, "Authorization", "Bearer "+tc.token)
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var e struct {
				Error struct{ Code, Message string }
			}
			_ = json.Unmarshal(raw, &e)
			if resp.StatusCode != tc.status || e.Error.Code != tc.code {
				t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, resp.StatusCode, raw, tc.status, tc.code)
			}
		})
	}
	// Nothing was stored by the refusals.
	_, _, body := b.fetch(t, "/v1/incidents/PCHECKOUT/share")
	if list := decode[api.ShareLinkListJSON](t, body); len(list.Links) != 0 {
		t.Errorf("refused requests stored links: %s", body)
	}
	// Revoking twice keeps the first revocation.
	created := b.now
	l := share(t, b, "PCHECKOUT", "")
	var first string
	for i := 0; i < 2; i++ {
		resp := b.do(t, http.MethodDelete, "/v1/incidents/PCHECKOUT/share/"+l.ID, nil, "Authorization", "Bearer "+writeToken)
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got := decode[api.ShareLinkJSON](t, raw)
		if i == 0 {
			first = *got.RevokedAt
			b.now = b.now.Add(time.Minute)
		} else if *got.RevokedAt != first {
			t.Errorf("revoked again: revoked_at %s, want %s", *got.RevokedAt, first)
		}
	}
	// The default lifetime is a day.
	if want := created.Add(timeline.DefaultShareLifetime).Format(time.RFC3339); l.ExpiresAt != want {
		t.Errorf("default expiry %s, want %s", l.ExpiresAt, want)
	}
}

func TestPagesWithAnAPIToken(t *testing.T) {
	t.Parallel()
	b := setupReview(t, withShares(t))
	checkoutIncident(t, b)
	// Without credentials: a login prompt, for an API token as the
	// password.
	st, h, body := get(t, b, "/incidents")
	if st != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic ") || !strings.Contains(body, "share link") {
		t.Errorf("index without credentials: %d %q %s", st, h.Get("WWW-Authenticate"), body)
	}
	basic := func(token string) string {
		req, _ := http.NewRequest("GET", "/", nil)
		req.SetBasicAuth("facilitator", token)
		return req.Header.Get("Authorization")
	}
	if err := b.store.SetSourceStatus(context.Background(), timeline.SourceStatus{IncidentID: "PCHECKOUT", Source: "pagerduty",
		State: timeline.StateSucceeded, EventCount: 5}); err != nil {
		t.Fatal(err)
	}
	if err := b.store.SetSourceStatus(context.Background(), timeline.SourceStatus{IncidentID: "PCHECKOUT", Source: "slack",
		State: timeline.StateFailed, Error: "slack: channel_not_found"}); err != nil {
		t.Fatal(err)
	}
	st, _, body = get(t, b, "/incidents", "Authorization", basic(readToken))
	if st != http.StatusOK || !strings.Contains(body, `href="/incidents/PCHECKOUT"`) || !strings.Contains(body, "PSEARCH") {
		t.Errorf("index with the read token: %d %s", st, body)
	}
	for _, want := range []string{"pagerduty: succeeded, 5 events", "slack: failed, 0 events — slack: channel_not_found", "not collected yet"} {
		if !strings.Contains(body, want) {
			t.Errorf("the index lacks the collection status %q", want)
		}
	}
	if st, _, _ = get(t, b, "/incidents", "Authorization", basic(writeToken)); st != http.StatusForbidden {
		t.Errorf("index with a token without the read scope: %d, want 403", st)
	}
	if st, _, _ = get(t, b, "/incidents", "Authorization", basic("nope")); st != http.StatusUnauthorized {
		t.Errorf("index with a wrong token: %d, want 401", st)
	}
	if st, _, body = get(t, b, "/incidents/PCHECKOUT", "Authorization", basic(readToken)); st != http.StatusOK || !strings.Contains(body, `data-lane="pager"`) {
		t.Errorf("page with the read token: %d", st)
	}
	if st, _, body = get(t, b, "/incidents/PCHECKOUT", "Authorization", "Bearer "+readToken); st != http.StatusOK {
		t.Errorf("page with a bearer read token: %d %s", st, body)
	}
	for _, q := range []string{"zoom=far", "step=0", "present=1&step=x", "colour=red"} {
		if st, _, body = get(t, b, "/incidents/PCHECKOUT?"+q, "Authorization", basic(readToken)); st != http.StatusBadRequest {
			t.Errorf("page?%s: %d %s, want 400", q, st, body)
		}
	}
	if st, _, _ = get(t, b, "/incidents/PNOPE", "Authorization", basic(readToken)); st != http.StatusNotFound {
		t.Errorf("page of an unknown incident: %d, want 404", st)
	}
}

// sseEvents reads n events of a stream, returning their ids and data.
func sseEvents(t *testing.T, r *bufio.Reader, n int) (ids []string, data []string) {
	t.Helper()
	id := ""
	for len(ids) < n {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream after %d events: %v", len(ids), err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "id: "):
			id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			ids, data = append(ids, id), append(data, strings.TrimPrefix(line, "data: "))
		}
	}
	return ids, data
}

func openIncident(t *testing.T, b *reviewBundle, id string) {
	t.Helper()
	b.incident(t, timeline.Incident{ID: id, Title: "Payments latency", Source: "pagerduty", StartedAt: b.now.Add(-20 * time.Minute),
		Channels: []string{"C0PAY"}})
}

func chat(id, incident string, at time.Time, text string) timeline.Event {
	return timeline.Event{ID: "slack:message:C0PAY:" + id, IncidentID: incident, Source: "slack", Kind: timeline.KindChatMessage,
		OccurredAt: at, Title: text, Text: text, Actor: &timeline.Actor{ID: "U1", Name: "Sam"}, Details: map[string]any{"channel": "C0PAY"}}
}

func TestPageFeedKeepsItsIncidentAndEndsWithItsLink(t *testing.T) {
	t.Parallel()
	b := setupReview(t, withShares(t))
	openIncident(t, b, "PPAY")
	openIncident(t, b, "POTHER")
	link := share(t, b, "PPAY", `{"expires_in": "1h"}`)
	_, _, page := get(t, b, link.Path)
	m := regexp.MustCompile(`data-feed="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("the open incident's page names no feed")
	}
	feed := strings.ReplaceAll(m[1], "&amp;", "&")
	if !strings.Contains(feed, "s="+url.QueryEscape(link.Token)) || !strings.Contains(feed, "after=") {
		t.Fatalf("feed URL %q", feed)
	}
	if st, _, body := get(t, b, feed); st != http.StatusNotAcceptable {
		t.Errorf("the feed without Accept: text/event-stream: %d %s", st, body)
	}
	open := func(lastID string) (*http.Response, *bufio.Reader) {
		req, _ := http.NewRequest(http.MethodGet, b.srv.URL+feed, nil)
		req.Header.Set("Accept", "text/event-stream")
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := b.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			raw, _ := io.ReadAll(resp.Body)
			t.Fatalf("GET feed: %d %s", resp.StatusCode, raw)
		}
		return resp, bufio.NewReader(resp.Body)
	}
	resp, r := open("")
	at := b.now.Add(-10 * time.Minute)
	b.events(t, chat("1.1", "POTHER", at, "other incident"), chat("1.2", "PPAY", at, "first"))
	b.events(t, chat("1.3", "POTHER", at, "other again"), chat("1.4", "PPAY", at, "second"))
	ids, data := sseEvents(t, r, 2)
	resp.Body.Close()
	if !strings.Contains(data[0], `"title":"first"`) || !strings.Contains(data[1], `"title":"second"`) {
		t.Fatalf("the stream sent %v, want PPAY's two events only", data)
	}
	// Resumed after the first: the second again, then what came since,
	// and still nothing of the other incident.
	b.events(t, chat("1.5", "POTHER", at, "other third"), chat("1.6", "PPAY", at, "third"))
	resp, r = open(ids[0])
	_, data = sseEvents(t, r, 2)
	if !strings.Contains(data[0], `"title":"second"`) || !strings.Contains(data[1], `"title":"third"`) {
		t.Fatalf("resumed stream sent %v", data)
	}
	// Revoked: the open stream ends, and a reconnection is refused.
	done := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, r); done <- err }()
	del := b.do(t, http.MethodDelete, "/v1/incidents/PPAY/share/"+link.ID, nil, "Authorization", "Bearer "+writeToken)
	del.Body.Close()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the stream of a revoked link did not end")
	}
	resp.Body.Close()
	req, _ := http.NewRequest(http.MethodGet, b.srv.URL+feed, nil)
	req.Header.Set("Accept", "text/event-stream")
	again, err := b.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(again.Body)
	again.Body.Close()
	if again.StatusCode != http.StatusForbidden || !bytes.Contains(raw, []byte("share_link_revoked")) {
		t.Errorf("reconnecting with a revoked link: %d %s", again.StatusCode, raw)
	}
}

// The page's table is the story view: runs of notifications and of
// commits no deployment shipped fold into one row each, key moments stay
// rows of their own, every event is in exactly one row, and an event a
// hide annotation hid is on neither the table nor the lanes.
func TestPageTellsTheStory(t *testing.T) {
	t.Parallel()
	b := setupReview(t, withShares(t))
	checkoutIncident(t, b)
	var evs []timeline.Event
	for i := 0; i < 4; i++ {
		evs = append(evs, timeline.Event{ID: fmt.Sprintf("github:commit:acme/checkout-api:%040d", i), IncidentID: "PCHECKOUT",
			Source: "github", Kind: timeline.KindChangeCommit, OccurredAt: t0.Add(-50*time.Minute + time.Duration(i)*time.Minute),
			Title: fmt.Sprintf("commit %d", i), Details: map[string]any{"repo": "acme/checkout-api", "sha": fmt.Sprintf("%040d", i)}})
	}
	for i := 0; i < 3; i++ {
		user := map[string]any{"id": "PBOB", "name": "Bob", "email": "bob@acme.test"}
		evs = append(evs, timeline.Event{ID: fmt.Sprintf("pagerduty:log_entry:RN%d", i), IncidentID: "PCHECKOUT", Source: "pagerduty",
			Kind: timeline.KindPageNotified, OccurredAt: t0.Add(30*time.Second + time.Duration(i)*time.Second), Title: "Notified Bob",
			Details: map[string]any{"user": user, "notification_type": []string{"push", "sms", "phone"}[i]}})
	}
	b.events(t, evs...)
	hide := b.do(t, http.MethodPost, "/v1/incidents/PCHECKOUT/annotations", strings.NewReader(`{"event_ids":["`+slackID+`"],"marker":"hide"}`),
		"Authorization", "Bearer "+writeToken)
	hide.Body.Close()
	if hide.StatusCode != http.StatusCreated {
		t.Fatalf("POST hide: %d", hide.StatusCode)
	}
	st, _, page := get(t, b, "/incidents/PCHECKOUT", "Authorization", "Bearer "+readToken)
	if st != http.StatusOK {
		t.Fatalf("page: %d %s", st, page)
	}
	rows := regexp.MustCompile(`(?s)<tr id="(r-[0-9a-f]+)"[^>]*data-event-ids="([^"]*)"[^>]*>(.*?)</tr>`).FindAllStringSubmatch(page, -1)
	seen := map[string]int{}
	var folded []string
	for _, r := range rows {
		for _, id := range strings.Fields(r[2]) {
			seen[id]++
		}
		if strings.Contains(r[3], "<details") {
			folded = append(folded, r[3])
		}
	}
	all, _ := b.store.Timeline(context.Background(), timeline.TimelineQuery{IncidentID: "PCHECKOUT"})
	for _, e := range all {
		want := 1
		if e.ID == slackID {
			want = 0
		}
		if seen[e.ID] != want {
			t.Errorf("event %s is in %d rows, want %d", e.ID, seen[e.ID], want)
		}
	}
	if len(seen) != len(all)-1 {
		t.Errorf("rows hold %d events, the timeline %d of which one is hidden", len(seen), len(all))
	}
	if strings.Contains(page, `data-event-id="`+slackID+`"`) || !strings.Contains(page, "1 hidden by annotations") {
		t.Error("the hidden message is drawn in the lanes, or the table does not say one is hidden")
	}
	var commits, notes bool
	for _, f := range folded {
		commits = commits || strings.Contains(f, "commit 0") && strings.Contains(f, "commit 3")
		notes = notes || strings.Count(f, "Notified Bob") == 3
	}
	if !commits || !notes {
		t.Errorf("folded rows %q, want the commits and the notifications folded", folded)
	}
	// The story's key moments stay rows of their own.
	if !strings.Contains(page, `<strong class="moment-label">First acknowledgement:</strong>`) {
		t.Error("the first acknowledgement is not a row of its own")
	}
}

// The axis is the incident's span by default, its whole window with
// zoom=window; events outside the view are counted, not drawn.
func TestPageZoom(t *testing.T) {
	t.Parallel()
	b := setupReview(t, withShares(t))
	inc := checkoutIncident(t, b)
	axis := func(q string) (start, end int64, body string) {
		t.Helper()
		st, _, body := get(t, b, "/incidents/PCHECKOUT"+q, "Authorization", "Bearer "+readToken)
		if st != http.StatusOK {
			t.Fatalf("page%s: %d %s", q, st, body)
		}
		m := regexp.MustCompile(`data-start="(\d+)" data-end="(\d+)"`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("page%s has no axis", q)
		}
		fmt.Sscan(m[1], &start)
		fmt.Sscan(m[2], &end)
		return start, end, body
	}
	s, e, body := axis("")
	// The span runs from the deploy before the alert (a key moment) to the
	// resolution, padded by a few minutes.
	from, to := t0.Add(-15*time.Minute), inc.ResolvedAt
	if s > from.UnixMilli() || s < from.Add(-10*time.Minute).UnixMilli() || e < to.UnixMilli() || e > to.Add(10*time.Minute).UnixMilli() {
		t.Errorf("incident axis %s..%s, want just around %s..%s", time.UnixMilli(s).UTC(), time.UnixMilli(e).UTC(), from, to)
	}
	if !strings.Contains(body, "zoom=window") {
		t.Error("no link to the whole window")
	}
	s, e, body = axis("?zoom=window")
	if s != inc.WindowStart.UnixMilli() || e != inc.WindowEnd.UnixMilli() {
		t.Errorf("window axis %d..%d, want %d..%d", s, e, inc.WindowStart.UnixMilli(), inc.WindowEnd.UnixMilli())
	}
	if !strings.Contains(body, "Zoom to the incident") {
		t.Error("no link back to the incident's span")
	}
}

// What upstreams wrote is text on the page: markup is escaped, a
// javascript: link is not a link.
func TestPageEscapesWhatUpstreamsWrote(t *testing.T) {
	t.Parallel()
	b := setupReview(t, withShares(t))
	checkoutIncident(t, b)
	evs := trickyEvents("PCHECKOUT")
	evs = append(evs, timeline.Event{ID: "pagerduty:alert:AXSS", IncidentID: "PCHECKOUT", Source: "pagerduty",
		Kind: timeline.KindAlertTriggered, OccurredAt: t0.Add(time.Minute), Title: `<script>alert(1)</script><img src=x onerror=alert(2)>`,
		Text: "<b>bold</b> & more", URL: "javascript:alert(3)"})
	b.events(t, evs...)
	st, _, body := get(t, b, "/incidents/PCHECKOUT", "Authorization", "Bearer "+readToken)
	if st != http.StatusOK {
		t.Fatalf("page: %d %s", st, body)
	}
	for _, bad := range []string{"<script>alert", "<img src=x", `href="javascript:`, "<b>bold</b>"} {
		if strings.Contains(body, bad) {
			t.Errorf("the page holds %q unescaped", bad)
		}
	}
	if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") || !strings.Contains(body, "&lt;b&gt;bold&lt;/b&gt;") {
		i := strings.Index(body, "alert(1)")
		t.Errorf("the markup is not shown as text: %s", body[max(0, i-300):min(len(body), i+600)])
	}
}

// TestPageOfAHugeIncidentStaysLight: an incident of thousands of messages
// (a war room) still makes a page a projector can show: a lane draws its
// crowded marks as one mark that counts them, and a folded row lists its
// first and last events and says how many are left out between them.
func TestPageOfAHugeIncidentStaysLight(t *testing.T) {
	t.Parallel()
	b := setupReview(t, withShares(t))
	start := b.now.Add(-10 * time.Hour)
	resolved := start.Add(3 * time.Hour)
	b.incident(t, timeline.Incident{ID: "PWARROOM", Title: "Everything is down", Source: "pagerduty", StartedAt: start,
		ResolvedAt: &resolved, WindowStart: start.Add(-time.Hour), WindowEnd: resolved.Add(time.Hour), Channels: []string{"C0PAY"}})
	const n = 6000
	evs := make([]timeline.Event, 0, n)
	for i := range n {
		at := start.Add(time.Duration(i) * 1500 * time.Millisecond)
		e := chat(fmt.Sprintf("%d.%06d", at.Unix(), i), "PWARROOM", at, fmt.Sprintf("update %d", i))
		e.Actor = &timeline.Actor{ID: fmt.Sprintf("U%d", i%12), Name: fmt.Sprintf("Responder %d", i%12)}
		evs = append(evs, e)
	}
	if _, err := b.store.UpsertEvents(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	link := share(t, b, "PWARROOM", `{}`)
	st, _, page := get(t, b, link.Path)
	if st != http.StatusOK {
		t.Fatalf("page: %d", st)
	}
	// The chat lane draws at most 600 marks, crowds among them.
	chatLane := regexp.MustCompile(`(?s)<circle class="m k-chat[^"]*"`).FindAllString(page, -1)
	crowds := regexp.MustCompile(`<circle class="m k-chat crowd"[^>]*><title>(\d+) events: `).FindAllStringSubmatch(page, -1)
	if len(chatLane) > 600 || len(crowds) == 0 {
		t.Errorf("the chat lane draws %d marks, %d of them crowds; want at most 600, with crowds", len(chatLane), len(crowds))
	}
	drawn := len(chatLane) - len(crowds)
	for _, c := range crowds {
		k, _ := strconv.Atoi(c[1])
		drawn += k
	}
	if drawn != n {
		t.Errorf("the chat lane's marks stand for %d events, want all %d", drawn, n)
	}
	// Every folded row lists at most 100 events, and says how many more
	// the timeline has.
	rows := regexp.MustCompile(`(?s)<details class="fold">.*?</details>`).FindAllString(page, -1)
	if len(rows) == 0 {
		t.Fatal("no folded rows")
	}
	told := 0
	for _, r := range rows {
		listed := strings.Count(r, "<li data-event-id=")
		more := 0
		if m := regexp.MustCompile(`… (\d+) more between these`).FindStringSubmatch(r); m != nil {
			more, _ = strconv.Atoi(m[1])
		}
		if listed > 100 || (more > 0 && listed != 100) {
			t.Errorf("a folded row lists %d events and leaves %d out; want at most 100 listed", listed, more)
		}
		told += listed + more
	}
	if told > n || told < n/2 {
		t.Errorf("the folded rows tell %d events of %d", told, n)
	}
	if len(page) > 1<<20 {
		t.Errorf("the page is %d bytes, want under 1 MiB", len(page))
	}
}
