package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/api"
	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

// The battery's server: the limits are small so that oversized requests
// stay small too.
const (
	batteryMaxBody   = 64 << 10
	batteryMaxHeader = 64 << 10 // as serve sets it
)

// malformedCase is one malformed request and what it must be answered.
type malformedCase struct {
	group  string
	name   string
	method string
	// target is the request target, written as is: it may hold broken
	// escapes that no url.URL would let through.
	target  string
	headers []string // pairs
	body    []byte
	// contentType defaults to application/json for a request with a body;
	// "-" sends none.
	contentType string
	// raw, when set, is sent instead of a request built from the fields.
	raw []byte
	// status and code are the answer expected; allow, when set, must be in
	// the Allow header.
	status int
	code   string
	allow  string
}

// batteryBundle is a real http.Server, wired as serve wires it, over a
// store and a job queue on a private schema.
type batteryBundle struct {
	schema *pgtest.Schema
	addr   string
	now    time.Time
	// secrets must never appear in an answer.
	secrets []string
}

func setupBattery(t *testing.T) *batteryBundle {
	t.Helper()
	s := pgtest.New(t)
	st := postgres.New(s.Pool)
	key, err := st.CursorKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b := &batteryBundle{schema: s, now: t0.Add(2 * time.Hour)}
	server := &api.Server{
		Store: st, Deliveries: newDeliveries(t, s.Pool), Summaries: st, Versions: st,
		Cursors: timeline.CursorCodec{Key: key}, Metrics: api.NewMetrics(),
		Review: timeline.DefaultReviewConfig(), MaxBody: batteryMaxBody, Sources: testSources,
		Tokens: []api.Token{
			{Name: "facilitators", Token: readToken, Scopes: []string{"read"}},
			{Name: "automation-writer", Token: writeToken, Scopes: []string{"write"}},
		},
		NowFunc:   func() time.Time { return b.now },
		Receivers: testReceivers(),
		Webhooks: api.WebhookConfig{
			MaxBody: batteryMaxBody, Before: 2 * time.Hour, After: 30 * time.Minute,
		},
	}
	b.secrets = []string{readToken, writeToken, whPagerDutySecret, whGitHubSecret, whSlackSecret, whGenericSecret,
		"facilitators", "automation-writer", string(key)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: server.Handler(), MaxHeaderBytes: batteryMaxHeader, ReadHeaderTimeout: 30 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(api.ProtocolErrorsAsJSON(ln, srv.MaxHeaderBytes)) }()
	t.Cleanup(func() { srv.Close(); <-done })
	b.addr = ln.Addr().String()

	ctx := context.Background()
	for _, inc := range []timeline.Incident{
		{ID: "PCHECKOUT", Title: "Checkout errors", Source: "pagerduty", StartedAt: t0},
		{ID: "POTHER", Title: "Search slow", Source: "pagerduty", StartedAt: t0.Add(time.Hour)},
	} {
		inc.WindowStart, inc.WindowEnd = inc.StartedAt.Add(-2*time.Hour), inc.StartedAt.Add(2*time.Hour)
		if err := st.UpsertIncident(ctx, inc); err != nil {
			t.Fatal(err)
		}
	}
	var evs []timeline.Event
	for i := 0; i < 6; i++ {
		evs = append(evs, timeline.Event{ID: fmt.Sprintf("slack:message:C0CHECKOUT:%d.%06d", t0.Unix()+int64(i), i), IncidentID: "PCHECKOUT",
			Source: "slack", Kind: timeline.KindChatMessage, OccurredAt: t0.Add(time.Duration(i) * time.Second),
			Actor: &timeline.Actor{ID: "U1", Name: "Ana"}, Title: fmt.Sprintf("message %d", i), Text: "checkout is down"})
	}
	if _, err := st.UpsertEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	return b
}

// send writes c to the server over a fresh connection and reads the answer.
func (b *batteryBundle) send(t *testing.T, c malformedCase) (*http.Response, []byte, error) {
	t.Helper()
	raw := c.raw
	if raw == nil {
		var buf bytes.Buffer
		fmt.Fprintf(&buf, "%s %s HTTP/1.1\r\nHost: groundwork.test\r\nConnection: close\r\n", c.method, c.target)
		for i := 0; i+1 < len(c.headers); i += 2 {
			fmt.Fprintf(&buf, "%s: %s\r\n", c.headers[i], c.headers[i+1])
		}
		if c.body != nil {
			switch c.contentType {
			case "":
				buf.WriteString("Content-Type: application/json\r\n")
			case "-":
			default:
				fmt.Fprintf(&buf, "Content-Type: %s\r\n", c.contentType)
			}
			fmt.Fprintf(&buf, "Content-Length: %d\r\n", len(c.body))
		}
		buf.WriteString("\r\n")
		buf.Write(c.body)
		raw = buf.Bytes()
	}
	conn, err := net.Dial("tcp", b.addr)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second)) // a hang guard only
	// The server may answer (431, 413) before it has read everything: write
	// on the side and read the answer meanwhile.
	go func() { _, _ = conn.Write(raw) }()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// rowCounts counts the rows of every table of the schema.
func (b *batteryBundle) rowCounts(t *testing.T) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	rows, err := b.schema.Pool.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	for _, name := range tables {
		var n int64
		if err := b.schema.Pool.QueryRow(ctx, `SELECT count(*) FROM "`+name+`"`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		counts[name] = n
	}
	return counts
}

// get fetches a JSON document with the read token.
func (b *batteryBundle) get(t *testing.T, target string) map[string]any {
	t.Helper()
	resp, body, err := b.send(t, malformedCase{method: "GET", target: target, headers: []string{"Authorization", "Bearer " + readToken}})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %v %v %s", target, err, resp, body)
	}
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// leakMarkers are texts of internals that no answer may carry.
var leakMarkers = []string{"SQLSTATE", "pgx", "pgconn", "postgres", "pq:", "ERROR:", "json: ", "Go struct", "Go value",
	"goroutine", "runtime error", "panic", "invalid input:", "store unavailable", "*api.", "timeline.Err",
	"github.com/", "[]string", "map[", "time.Time"}

func TestMalformedRequestBattery(t *testing.T) {
	t.Parallel()
	b := setupBattery(t)
	cases := b.malformedCases(t)

	before := b.rowCounts(t)
	var wrong, fiveXX, writes, shape, leaks int
	perGroup := map[string]int{}
	for _, c := range cases {
		perGroup[c.group]++
		name := c.group + "/" + c.name
		resp, body, err := b.send(t, c)
		if err != nil {
			wrong++
			t.Errorf("%s: %v", name, err)
			continue
		}
		if resp.StatusCode != c.status {
			wrong++
			t.Errorf("%s: status %d, want %d: %s", name, resp.StatusCode, c.status, truncate(body))
		}
		if resp.StatusCode >= 500 {
			fiveXX++
		}
		var eb struct {
			Error *struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		switch {
		case !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json"):
			shape++
			t.Errorf("%s: Content-Type %q, want application/json: %s", name, resp.Header.Get("Content-Type"), truncate(body))
		case dec.Decode(&eb) != nil || eb.Error == nil || eb.Error.Code == "" || eb.Error.Message == "":
			shape++
			t.Errorf("%s: the body is not the JSON error shape: %s", name, truncate(body))
		case c.code != "" && eb.Error.Code != c.code:
			wrong++
			t.Errorf("%s: code %q, want %q: %s", name, eb.Error.Code, c.code, truncate(body))
		}
		if c.allow != "" && !strings.Contains(resp.Header.Get("Allow"), c.allow) {
			wrong++
			t.Errorf("%s: Allow %q, want it to name %s", name, resp.Header.Get("Allow"), c.allow)
		}
		if resp.StatusCode == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: a 401 without WWW-Authenticate", name)
		}
		if len(body) > 2048 {
			t.Errorf("%s: a %d-byte error answer; echoed values must be cut", name, len(body))
		}
		for _, m := range append(slices.Clone(leakMarkers), b.secrets...) {
			if strings.Contains(string(body), m) {
				leaks++
				t.Errorf("%s: the answer holds %q: %s", name, m, truncate(body))
			}
		}
		if after := b.rowCounts(t); !mapsEqual(before, after) {
			writes++
			t.Errorf("%s: rows changed: %v, want %v", name, after, before)
			before = after
		}
	}
	groups := make([]string, 0, len(perGroup))
	for g, n := range perGroup {
		groups = append(groups, fmt.Sprintf("%s %d", g, n))
	}
	slices.Sort(groups)
	t.Logf("malformed-request battery: %d cases (%s): %d wrong statuses, %d 5xx, %d writes, %d answers not the JSON error shape, %d leaks",
		len(cases), strings.Join(groups, ", "), wrong, fiveXX, writes, shape, leaks)

	// Control: the same server takes well-formed requests, and the row
	// count sees what they write, so a battery of refusals proves something.
	hook := []byte(`{"id":"INC-42","started_at":"2026-11-20T09:00:00Z","resolved_at":"2026-11-20T10:00:00Z"}`)
	if resp, body, err := b.send(t, malformedCase{method: "POST", target: "/webhooks/incident", body: hook, headers: genericHeaders(hook)}); err != nil || resp.StatusCode != 200 {
		t.Fatalf("control: a valid generic hook: %v %v %s", err, resp, body)
	}
	if resp, body, err := b.send(t, malformedCase{method: "POST", target: "/v1/incidents/PCHECKOUT/collect", body: []byte(`{}`),
		headers: []string{"Authorization", "Bearer " + writeToken}}); err != nil || resp.StatusCode != 202 {
		t.Fatalf("control: a valid collect: %v %v %s", err, resp, body)
	}
	if after := b.rowCounts(t); after["incidents"] != before["incidents"]+1 || after["river_job"] != before["river_job"]+2 ||
		after["webhook_deliveries"] <= before["webhook_deliveries"] {
		t.Errorf("control: rows %v after two valid requests, from %v: want one incident, two jobs and the delivery more", after, before)
	}
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// malformedCases is the battery: every endpoint, with malformed tokens,
// parameters, cursors, ids, bodies, signatures, content types, methods,
// paths and headers.
func (b *batteryBundle) malformedCases(t *testing.T) []malformedCase {
	t.Helper()
	read := []string{"Authorization", "Bearer " + readToken}
	write := []string{"Authorization", "Bearer " + writeToken}

	// Real cursors, to replay where they do not belong.
	listCursor, _ := b.get(t, "/v1/incidents?limit=1")["next_cursor"].(string)
	tlCursor, _ := b.get(t, "/v1/incidents/PCHECKOUT/timeline?limit=2")["next_cursor"].(string)
	chatCursor, _ := b.get(t, "/v1/incidents/PCHECKOUT/timeline?limit=2&kind=chat.")["next_cursor"].(string)
	if listCursor == "" || tlCursor == "" || chatCursor == "" {
		t.Fatalf("no cursors to replay: %q %q %q", listCursor, tlCursor, chatCursor)
	}
	tampered := []byte(tlCursor)
	tampered[len(tampered)/2] ^= 1
	esc := url.QueryEscape

	var cs []malformedCase
	add := func(c malformedCase) { cs = append(cs, c) }

	// Tokens, on every /v1 endpoint.
	endpoints := []struct{ method, target, scope string }{
		{"GET", "/v1/incidents", "read"},
		{"GET", "/v1/incidents/PCHECKOUT", "read"},
		{"GET", "/v1/incidents/PCHECKOUT/timeline", "read"},
		{"GET", "/v1/feed", "read"},
		{"POST", "/v1/incidents/PCHECKOUT/collect", "write"},
	}
	for _, e := range endpoints {
		wrongScope := writeToken
		if e.scope == "write" {
			wrongScope = readToken
		}
		for _, a := range []struct {
			name, header string
			status       int
			code         string
		}{
			{"no Authorization", "", 401, "unauthorized"},
			{"Bearer without a token", "Bearer", 401, "unauthorized"},
			{"Bearer and spaces", "Bearer    ", 401, "unauthorized"},
			{"Basic scheme", "Basic cmVhZDpyZWFk", 401, "unauthorized"},
			{"Token scheme", "Token " + readToken, 401, "unauthorized"},
			{"unknown token", "Bearer not-a-token", 401, "unauthorized"},
			{"token with a suffix", "Bearer " + readToken + "x", 401, "unauthorized"},
			{"wrong scope", "Bearer " + wrongScope, 403, "forbidden"},
		} {
			c := malformedCase{group: "tokens", name: e.method + " " + e.target + ": " + a.name, method: e.method, target: e.target, status: a.status, code: a.code}
			if a.header != "" {
				c.headers = []string{"Authorization", a.header}
			}
			add(c)
		}
	}

	// Parameters of the incident list.
	for _, q := range []struct{ name, query, code string }{
		{"limit 0", "limit=0", "invalid_limit"},
		{"limit -1", "limit=-1", "invalid_limit"},
		{"limit over max", "limit=501", "invalid_limit"},
		{"limit not a number", "limit=ten", "invalid_limit"},
		{"limit a fraction", "limit=1.5", "invalid_limit"},
		{"limit overflowing", "limit=99999999999999999999", "invalid_limit"},
		{"limit 10,000 digits", "limit=" + strings.Repeat("9", 10000), "invalid_limit"},
		{"limit broken escape", "limit=%zz", "invalid_query"},
		{"limit half an escape", "limit=5%2", "invalid_query"},
		{"semicolon separator", "limit=5;cursor=x", "invalid_query"},
	} {
		add(malformedCase{group: "parameters", name: "list: " + q.name, method: "GET", target: "/v1/incidents?" + q.query, headers: read, status: 400, code: q.code})
	}
	// Parameters of the timeline.
	for _, q := range []struct{ name, query, code string }{
		{"limit 0", "limit=0", "invalid_limit"},
		{"limit over max", "limit=5001", "invalid_limit"},
		{"limit not a number", "limit=ten", "invalid_limit"},
		{"since not a time", "since=yesterday", "invalid_since"},
		{"since without a zone", "since=2026-11-20T09:00:00", "invalid_since"},
		{"until not a date", "until=2026-13-45", "invalid_until"},
		{"since after until", "since=2026-11-20T10:00:00Z&until=2026-11-20T09:00:00Z", "invalid_range"},
		{"unknown source", "source=jira", "invalid_source"},
		{"one unknown source of two", "source=slack,jira", "invalid_source"},
		{"unknown kind", "kind=page.exploded", "invalid_kind"},
		{"unknown kind prefix", "kind=nope.", "invalid_kind"},
		{"NUL kind", "kind=%00", "invalid_kind"},
		{"unknown format", "format=xml", "invalid_format"},
		{"export with limit", "format=csv&limit=3", "invalid_parameter"},
		{"export with cursor", "format=jsonl&cursor=" + esc(tlCursor), "invalid_parameter"},
		{"since broken escape", "since=2026-11-20T09:00:00%2", "invalid_query"},
		{"source broken escape", "source=%G1", "invalid_query"},
		{"name broken escape", "%zz=1", "invalid_query"},
	} {
		add(malformedCase{group: "parameters", name: "timeline: " + q.name, method: "GET", target: "/v1/incidents/PCHECKOUT/timeline?" + q.query, headers: read, status: 400, code: q.code})
	}
	// Parameters of the feed.
	for _, q := range []struct {
		name, query string
		headers     []string
		code        string
	}{
		{"after -1", "after=-1", nil, "invalid_after"},
		{"after not a number", "after=abc", nil, "invalid_after"},
		{"after in exponent form", "after=1e3", nil, "invalid_after"},
		{"after overflowing", "after=99999999999999999999", nil, "invalid_after"},
		{"limit 0", "limit=0", nil, "invalid_limit"},
		{"limit over max", "limit=5001", nil, "invalid_limit"},
		{"after broken escape", "after=%zz", nil, "invalid_query"},
		{"stream with a bad Last-Event-ID", "", []string{"Accept", "text/event-stream", "Last-Event-ID", "abc"}, "invalid_last_event_id"},
		{"stream with a negative Last-Event-ID", "", []string{"Accept", "text/event-stream", "Last-Event-ID", "-3"}, "invalid_last_event_id"},
		{"stream with a bad after", "after=x", []string{"Accept", "text/event-stream"}, "invalid_after"},
	} {
		add(malformedCase{group: "parameters", name: "feed: " + q.name, method: "GET", target: "/v1/feed?" + q.query, headers: append(slices.Clone(read), q.headers...), status: 400, code: q.code})
	}

	// Cursors.
	for _, q := range []struct{ name, target string }{
		{"list: garbage", "/v1/incidents?cursor=not-a-cursor"},
		{"list: tampered", "/v1/incidents?cursor=" + esc(string(tampered))},
		{"list: a timeline cursor", "/v1/incidents?cursor=" + esc(tlCursor)},
		{"list: cut short", "/v1/incidents?cursor=" + esc(listCursor[:len(listCursor)/2])},
		{"list: padded base64", "/v1/incidents?cursor=" + esc(listCursor+"==")},
		{"timeline: garbage", "/v1/incidents/PCHECKOUT/timeline?cursor=not-a-cursor"},
		{"timeline: tampered", "/v1/incidents/PCHECKOUT/timeline?cursor=" + esc(string(tampered))},
		{"timeline: a list cursor", "/v1/incidents/PCHECKOUT/timeline?cursor=" + esc(listCursor)},
		{"timeline: another filter's cursor", "/v1/incidents/PCHECKOUT/timeline?cursor=" + esc(chatCursor)},
		{"timeline: the cursor without its filter", "/v1/incidents/PCHECKOUT/timeline?kind=page.&cursor=" + esc(tlCursor)},
		{"timeline: another incident's cursor", "/v1/incidents/POTHER/timeline?cursor=" + esc(tlCursor)},
		{"timeline: 10,000 characters", "/v1/incidents/PCHECKOUT/timeline?cursor=" + strings.Repeat("A", 10000)},
	} {
		add(malformedCase{group: "cursors", name: q.name, method: "GET", target: q.target, headers: read, status: 400, code: "invalid_cursor"})
	}
	add(malformedCase{group: "cursors", name: "timeline: broken escape", method: "GET", target: "/v1/incidents/PCHECKOUT/timeline?cursor=" + tlCursor[:8] + "%", headers: read, status: 400, code: "invalid_query"})
	add(malformedCase{group: "cursors", name: "list: broken escape", method: "GET", target: "/v1/incidents?cursor=%E0%A4%A", headers: read, status: 400, code: "invalid_query"})

	// Incident ids, escaped as a client library would send them.
	badIDs := []struct{ name, segment string }{
		{"../x", "..%2Fx"},
		{"..", "%2E%2E"},
		{".hidden", ".hidden"},
		{"a/b", "a%2Fb"},
		{`double quote`, "a%22b"},
		{"single quote", "a'b"},
		{"NUL", "%00"},
		{"NUL inside", "PT4K%00HLK"},
		{"10,000 characters", strings.Repeat("P", 10000)},
		{"129 characters", strings.Repeat("P", 129)},
		{"space", "PT4KHLK%20"},
		{"backslash", "a%5Cb"},
		{"newline", "a%0Ab"},
		{"semicolon", "a;b"},
		{"markup", "%3Cscript%3E"},
		{"non-ASCII", "caf%C3%A9"},
		{"invalid UTF-8", "%FF"},
	}
	for i, id := range badIDs {
		add(malformedCase{group: "ids", name: "collect: " + id.name, method: "POST", target: "/v1/incidents/" + id.segment + "/collect", headers: write, status: 400, code: "invalid_incident_id"})
		if i%2 == 0 {
			add(malformedCase{group: "ids", name: "incident: " + id.name, method: "GET", target: "/v1/incidents/" + id.segment, headers: read, status: 400, code: "invalid_incident_id"})
		} else {
			add(malformedCase{group: "ids", name: "timeline: " + id.name, method: "GET", target: "/v1/incidents/" + id.segment + "/timeline", headers: read, status: 400, code: "invalid_incident_id"})
		}
	}
	add(malformedCase{group: "ids", name: "collect with a body: ../x", method: "POST", target: "/v1/incidents/..%2Fx/collect", headers: write, body: []byte(`{"title":"x"}`), status: 400, code: "invalid_incident_id"})

	// Collect bodies.
	collect := func(name string, body []byte, ct string, status int, code string) {
		add(malformedCase{group: "collect", name: name, method: "POST", target: "/v1/incidents/PCHECKOUT/collect", headers: write, body: body, contentType: ct, status: status, code: code})
	}
	collect("not JSON", []byte(`{`), "", 400, "malformed_body")
	collect("cut short", []byte(`{"started_at":"2026-11-20T09:00:00Z"`), "", 400, "malformed_body")
	collect("an array", []byte(`[]`), "", 400, "malformed_body")
	collect("a string", []byte(`"PCHECKOUT"`), "", 400, "malformed_body")
	collect("null", []byte(`null`), "", 400, "malformed_body")
	collect("two objects", []byte(`{} {}`), "", 400, "malformed_body")
	collect("trailing garbage", []byte(`{"title":"x"}garbage`), "", 400, "malformed_body")
	collect("unknown field", []byte(`{"severity":1}`), "", 400, "malformed_body")
	collect("since is not a body field", []byte(`{"since":"2026-11-20T09:00:00Z"}`), "", 400, "malformed_body")
	collect("repos a string", []byte(`{"github_repos":"acme/api"}`), "", 400, "malformed_body")
	collect("started_at a number", []byte(`{"started_at":5}`), "", 400, "malformed_body")
	collect("title an array", []byte(`{"title":["a"]}`), "", 400, "malformed_body")
	collect("channels of numbers", []byte(`{"slack_channels":[1,2]}`), "", 400, "malformed_body")
	collect("started_at not a time", []byte(`{"started_at":"soon"}`), "", 400, "malformed_body")
	collect("resolved before started", []byte(`{"started_at":"2026-11-20T09:00:00Z","resolved_at":"2026-11-20T08:00:00Z"}`), "", 400, "invalid_body")
	collect("repo not owner/name", []byte(`{"github_repos":["not a repo"]}`), "", 400, "invalid_body")
	collect("channel with #", []byte(`{"slack_channels":["#checkout"]}`), "", 400, "invalid_body")
	collect("NUL in the title", []byte(`{"title":"check\u0000out"}`), "", 400, "invalid_body")
	collect("NUL in a repo", []byte(`{"github_repos":["acme/check\u0000out"]}`), "", 400, "invalid_body")
	collect("oversized", bytes.Repeat([]byte(" "), batteryMaxBody+1), "", 413, "too_large")
	collect("text/plain", []byte(`{"title":"x"}`), "text/plain", 415, "unsupported_media_type")
	collect("form", []byte(`title=x`), "application/x-www-form-urlencoded", 415, "unsupported_media_type")
	collect("JSON in Latin-1", []byte(`{"title":"x"}`), "application/json; charset=iso-8859-1", 415, "unsupported_media_type")
	collect("no Content-Type, not JSON", []byte(`title=x`), "-", 400, "malformed_body")

	// PagerDuty.
	pd := func(name string, body []byte, headers []string, ct string, status int, code string) {
		add(malformedCase{group: "pagerduty", name: name, method: "POST", target: "/webhooks/pagerduty", body: body, headers: headers, contentType: ct, status: status, code: code})
	}
	resolved := pdResolved("Q1CHK5XX", "Checkout errors")
	pd("unsigned", resolved, nil, "", 401, "bad_signature")
	pd("wrong signature", resolved, []string{"X-PagerDuty-Signature", "v1=" + mac(whPagerDutySecret, []byte("other"))}, "", 401, "bad_signature")
	pd("old secret", resolved, []string{"X-PagerDuty-Signature", "v1=" + mac("old-secret", resolved)}, "", 401, "bad_signature")
	pd("wrong scheme", resolved, []string{"X-PagerDuty-Signature", "v0=" + mac(whPagerDutySecret, resolved)}, "", 401, "bad_signature")
	pd("not hex", resolved, []string{"X-PagerDuty-Signature", "v1=zz"}, "", 401, "bad_signature")
	pd("text/plain, signed", resolved, pdHeaders(resolved, "b-1"), "text/plain", 415, "unsupported_media_type")
	pd("form, signed", resolved, pdHeaders(resolved, "b-2"), "application/x-www-form-urlencoded", 415, "unsupported_media_type")
	for i, m := range []struct {
		name string
		body []byte
	}{
		{"not JSON", []byte(`{not json`)},
		{"no event", []byte(`{}`)},
		{"event a string", []byte(`{"event":"incident.resolved"}`)},
		{"event_type a number", []byte(`{"event":{"event_type":5}}`)},
		{"resolved without data.id", []byte(`{"event":{"event_type":"incident.resolved","data":{}}}`)},
		{"id ../x", pdResolved("../x", "Checkout errors")},
		{"id with a quote", pdResolved(`Q1"CHK`, "Checkout errors")},
		{"id with NUL", pdResolved("Q1\x00CHK", "Checkout errors")},
		{"id of 10,000 characters", pdResolved(strings.Repeat("Q", 10000), "Checkout errors")},
		{"id with a space", pdResolved("Q1 CHK", "Checkout errors")},
		{"NUL in the title", pdResolved("Q1CHK5XX", "Checkout\x00errors")},
	} {
		pd(m.name+", signed", m.body, pdHeaders(m.body, "m-"+strconv.Itoa(i)), "", 400, "malformed_body")
	}
	big := bytes.Repeat([]byte("x"), batteryMaxBody+1)
	pd("oversized", big, pdHeaders(big, "b-3"), "", 413, "too_large")

	// GitHub (its content types are another matter: it may post forms).
	gh := func(name string, body []byte, headers []string, status int, code string) {
		add(malformedCase{group: "github", name: name, method: "POST", target: "/webhooks/github", body: body, headers: headers, status: status, code: code})
	}
	push := testdata(t, "webhook_push.json")
	gh("unsigned", push, []string{"X-GitHub-Event", "push"}, 401, "bad_signature")
	gh("wrong signature", push, []string{"X-GitHub-Event", "push", "X-Hub-Signature-256", "sha256=" + mac("old-secret", push)}, 401, "bad_signature")
	gh("SHA-1 only", push, []string{"X-GitHub-Event", "push", "X-Hub-Signature", "sha1=" + mac(whGitHubSecret, push)}, 401, "bad_signature")
	gh("not hex", push, []string{"X-GitHub-Event", "push", "X-Hub-Signature-256", "sha256=zz"}, 401, "bad_signature")
	gh("no X-GitHub-Event", push, []string{"X-Hub-Signature-256", "sha256=" + mac(whGitHubSecret, push)}, 400, "malformed_body")
	for _, m := range []struct{ name, event, body string }{
		{"push not JSON", "push", `[`},
		{"push with commits a string", "push", `{"commits":"x","repository":{"full_name":"acme/api"}}`},
		{"push without a repository", "push", `{"commits":[]}`},
		{"deployment_status without a deployment", "deployment_status", `{}`},
		{"workflow_run without a run", "workflow_run", `{"action":"completed"}`},
	} {
		gh(m.name+", signed", []byte(m.body), ghHeaders([]byte(m.body), m.event, "g-"+m.name), 400, "malformed_body")
	}
	gh("oversized", big, ghHeaders(big, "push", "g-big"), 413, "too_large")

	// Slack.
	sl := func(name string, body []byte, headers []string, ct string, status int, code string) {
		add(malformedCase{group: "slack", name: name, method: "POST", target: "/webhooks/slack", body: body, headers: headers, contentType: ct, status: status, code: code})
	}
	msg := testdata(t, "events_api_message_channels.json")
	ts := strconv.FormatInt(b.now.Unix(), 10)
	slackSig := func(ts string, body []byte) string { return "v0=" + mac(whSlackSecret, []byte("v0:"+ts+":"), body) }
	slackHeaders := func(body []byte) []string {
		return []string{"X-Slack-Request-Timestamp", ts, "X-Slack-Signature", slackSig(ts, body)}
	}
	stale := strconv.FormatInt(b.now.Add(-6*time.Minute).Unix(), 10)
	future := strconv.FormatInt(b.now.Add(6*time.Minute).Unix(), 10)
	sl("unsigned", msg, nil, "", 401, "bad_signature")
	sl("no timestamp", msg, []string{"X-Slack-Signature", slackSig(ts, msg)}, "", 401, "bad_signature")
	sl("timestamp not a number", msg, []string{"X-Slack-Request-Timestamp", "soon", "X-Slack-Signature", slackSig("soon", msg)}, "", 401, "bad_signature")
	sl("stale, signed", msg, []string{"X-Slack-Request-Timestamp", stale, "X-Slack-Signature", slackSig(stale, msg)}, "", 401, "bad_signature")
	sl("from the future, signed", msg, []string{"X-Slack-Request-Timestamp", future, "X-Slack-Signature", slackSig(future, msg)}, "", 401, "bad_signature")
	sl("signed for another timestamp", msg, []string{"X-Slack-Request-Timestamp", ts, "X-Slack-Signature", slackSig(stale, msg)}, "", 401, "bad_signature")
	sl("wrong secret", msg, []string{"X-Slack-Request-Timestamp", ts, "X-Slack-Signature", "v0=" + mac("old-secret", []byte("v0:"+ts+":"), msg)}, "", 401, "bad_signature")
	sl("text/plain, signed", msg, slackHeaders(msg), "text/plain", 415, "unsupported_media_type")
	form := []byte("token=x&team_id=T1&command=%2Fweather&text=94070")
	sl("slash-command form, signed", form, slackHeaders(form), "application/x-www-form-urlencoded", 415, "unsupported_media_type")
	for _, m := range []struct{ name, body string }{
		{"not JSON", `nope`},
		{"url_verification without a challenge", `{"type":"url_verification"}`},
		{"event a string", `{"type":"event_callback","event_id":"Ev1","event":"x"}`},
		{"message without event_id", `{"type":"event_callback","event":{"type":"message","channel":"C0CHECKOUT","user":"U1","text":"hi","ts":"1763632923.000200"}}`},
		{"message with a broken ts", `{"type":"event_callback","event_id":"Ev2","event":{"type":"message","channel":"C0CHECKOUT","user":"U1","text":"hi","ts":"soon"}}`},
	} {
		sl(m.name+", signed", []byte(m.body), slackHeaders([]byte(m.body)), "", 400, "malformed_body")
	}
	sl("oversized", big, slackHeaders(big), "", 413, "too_large")

	// The generic hook.
	gen := func(name string, body []byte, headers []string, ct string, status int, code string) {
		add(malformedCase{group: "generic", name: name, method: "POST", target: "/webhooks/incident", body: body, headers: headers, contentType: ct, status: status, code: code})
	}
	hook := []byte(`{"id":"INC-42","started_at":"2026-11-20T09:00:00Z"}`)
	gen("unsigned", hook, nil, "", 401, "bad_signature")
	gen("wrong secret", hook, []string{"X-Groundwork-Signature", "sha256=" + mac("old-secret", hook)}, "", 401, "bad_signature")
	gen("no sha256= prefix", hook, []string{"X-Groundwork-Signature", mac(whGenericSecret, hook)}, "", 401, "bad_signature")
	gen("not hex", hook, []string{"X-Groundwork-Signature", "sha256=zz"}, "", 401, "bad_signature")
	gen("text/plain, signed", hook, genericHeaders(hook), "text/plain", 415, "unsupported_media_type")
	gen("form, signed", hook, genericHeaders(hook), "application/x-www-form-urlencoded", 415, "unsupported_media_type")
	gen("JSON in Latin-1, signed", hook, genericHeaders(hook), "application/json; charset=iso-8859-1", 415, "unsupported_media_type")
	gen("no Content-Type, not JSON, signed", []byte(`id=INC-42`), genericHeaders([]byte(`id=INC-42`)), "-", 400, "malformed_body")
	for _, m := range []struct{ name, body string }{
		{"not JSON", `{"id":`},
		{"an array", `[{"id":"INC-42"}]`},
		{"two objects", `{"id":"INC-42","started_at":"2026-11-20T09:00:00Z"} {}`},
		{"unknown field", `{"id":"INC-42","started_at":"2026-11-20T09:00:00Z","severity":"sev1"}`},
		{"no id", `{"started_at":"2026-11-20T09:00:00Z"}`},
		{"id a number", `{"id":42,"started_at":"2026-11-20T09:00:00Z"}`},
		{"id ../x", `{"id":"../x","started_at":"2026-11-20T09:00:00Z"}`},
		{"id with a quote", `{"id":"INC\"42","started_at":"2026-11-20T09:00:00Z"}`},
		{"id with NUL", `{"id":"INC\u000042","started_at":"2026-11-20T09:00:00Z"}`},
		{"id of 10,000 characters", `{"id":"` + strings.Repeat("I", 10000) + `","started_at":"2026-11-20T09:00:00Z"}`},
		{"id starting with .", `{"id":".INC-42","started_at":"2026-11-20T09:00:00Z"}`},
		{"id with spaces", `{"id":" INC-42 ","started_at":"2026-11-20T09:00:00Z"}`},
		{"no started_at", `{"id":"INC-42"}`},
		{"started_at not a time", `{"id":"INC-42","started_at":"yesterday"}`},
		{"resolved before started", `{"id":"INC-42","started_at":"2026-11-20T09:00:00Z","resolved_at":"2026-11-20T08:00:00Z"}`},
		{"repo not owner/name", `{"id":"INC-42","started_at":"2026-11-20T09:00:00Z","github_repos":["checkout"]}`},
		{"channels a string", `{"id":"INC-42","started_at":"2026-11-20T09:00:00Z","slack_channels":"C0CHECKOUT"}`},
		{"NUL in the title", `{"id":"INC-42","title":"a\u0000b","started_at":"2026-11-20T09:00:00Z"}`},
	} {
		gen(m.name+", signed", []byte(m.body), genericHeaders([]byte(m.body)), "", 400, "malformed_body")
	}
	gen("oversized", big, genericHeaders(big), "", 413, "too_large")

	// Methods.
	for _, m := range []struct{ method, target, allow string }{
		{"PUT", "/v1/incidents/PCHECKOUT", "DELETE"},
		{"PUT", "/v1/incidents/PCHECKOUT/collect", "POST"},
		{"GET", "/v1/incidents/PCHECKOUT/collect", "POST"},
		{"POST", "/v1/incidents", "GET"},
		{"PATCH", "/v1/feed", "GET"},
		{"OPTIONS", "/v1/incidents/PCHECKOUT/timeline", "GET"},
		{"GET", "/webhooks/pagerduty", "POST"},
		{"PUT", "/webhooks/github", "POST"},
		{"DELETE", "/webhooks/slack", "POST"},
		{"GET", "/webhooks/incident", "POST"},
		{"POST", "/healthz", "GET"},
		{"POST", "/openapi.json", "GET"},
		{"POST", "/metrics", "GET"},
		{"BREW", "/v1/incidents", "GET"},
	} {
		add(malformedCase{group: "methods", name: m.method + " " + m.target, method: m.method, target: m.target, headers: write, status: 405, code: "method_not_allowed", allow: m.allow})
	}

	// Paths.
	for _, p := range []string{"/", "/v1", "/v1/nothing", "/v2/incidents", "/V1/INCIDENTS", "/v1/incidents/", "/v1/incidents/PCHECKOUT/timeline/extra",
		"/webhooks", "/webhooks/unknown", "/v1/incidents/PCHECKOUT/collect/now"} {
		add(malformedCase{group: "paths", name: "GET " + p, method: "GET", target: p, headers: read, status: 404, code: "not_found"})
	}
	for _, p := range []struct{ method, target string }{
		{"GET", "/v1/incidents/../x"},
		{"GET", "/v1/incidents/./PCHECKOUT"},
		{"GET", "//v1/incidents"},
		{"GET", "/v1/incidents/PCHECKOUT/timeline/.."},
		{"POST", "/v1/incidents/PCHECKOUT/../POTHER/collect"},
		{"POST", "/webhooks/../v1/incidents/PCHECKOUT/collect"},
	} {
		add(malformedCase{group: "paths", name: p.method + " " + p.target, method: p.method, target: p.target, headers: write, status: 400, code: "invalid_path"})
	}
	add(malformedCase{group: "paths", name: "GET *", method: "GET", target: "*", status: 400, code: "invalid_path"})

	// Requests the server refuses before routing.
	request := func(extra string) []byte {
		return []byte("GET /v1/incidents HTTP/1.1\r\nHost: groundwork.test\r\nAuthorization: Bearer " + readToken + "\r\n" + extra + "Connection: close\r\n\r\n")
	}
	var many strings.Builder
	for i := 0; many.Len() <= batteryMaxHeader+8<<10; i++ {
		fmt.Fprintf(&many, "X-Header-%04d: %s\r\n", i, strings.Repeat("v", 40))
	}
	for _, p := range []struct {
		name   string
		raw    []byte
		status int
		code   string
	}{
		{"one header of 70 KiB", request("X-Padding: " + strings.Repeat("p", 70<<10) + "\r\n"), 431, "headers_too_large"},
		{"a cookie of 2 MiB", request("Cookie: a=" + strings.Repeat("c", 2<<20) + "\r\n"), 431, "headers_too_large"},
		{"1,300 small headers", request(many.String()), 431, "headers_too_large"},
		{"a target of 70 KiB", []byte("GET /v1/incidents/" + strings.Repeat("P", 70<<10) + " HTTP/1.1\r\nHost: groundwork.test\r\n\r\n"), 431, "headers_too_large"},
		{"broken escape in the path", []byte("GET /v1/incidents/%zz/timeline HTTP/1.1\r\nHost: groundwork.test\r\nAuthorization: Bearer " + readToken + "\r\n\r\n"), 400, "bad_request"},
		{"broken escape in a collect path", []byte("POST /v1/incidents/P%2/collect HTTP/1.1\r\nHost: groundwork.test\r\nAuthorization: Bearer " + writeToken + "\r\nContent-Length: 0\r\n\r\n"), 400, "bad_request"},
		{"a space in a header name", request("Bad Header: x\r\n"), 400, "bad_request"},
		{"a control character in a header", request("X-Webhook-Id: a\x01b\r\n"), 400, "bad_request"},
		{"no Host", []byte("GET /v1/incidents HTTP/1.1\r\nAuthorization: Bearer " + readToken + "\r\n\r\n"), 400, "bad_request"},
		{"two Hosts", []byte("GET /v1/incidents HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400, "bad_request"},
		{"not HTTP", []byte("HELLO\r\n\r\n"), 400, "bad_request"},
		{"a Content-Length that is no number", []byte("POST /webhooks/incident HTTP/1.1\r\nHost: groundwork.test\r\nContent-Length: abc\r\n\r\n{}"), 400, "bad_request"},
		{"two Content-Lengths", []byte("POST /webhooks/incident HTTP/1.1\r\nHost: groundwork.test\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}"), 400, "bad_request"},
	} {
		add(malformedCase{group: "protocol", name: p.name, raw: p.raw, status: p.status, code: p.code})
	}
	return cs
}

// pdResolved is a PagerDuty V3 incident.resolved delivery for incident id.
func pdResolved(id, title string) []byte {
	b, err := json.Marshal(map[string]any{"event": map[string]any{
		"id": "01FKZSYE5HCMM576S6JUVIGLQT", "event_type": "incident.resolved", "resource_type": "incident",
		"occurred_at": "2026-11-20T10:00:00.000Z",
		"data": map[string]any{"id": id, "type": "incident", "title": title, "urgency": "high",
			"html_url": "https://acme.pagerduty.com/incidents/Q1CHK5XX", "created_at": "2026-11-20T09:00:00Z",
			"service": map[string]any{"id": "PNE3JZM", "type": "service_reference"}},
	}})
	if err != nil {
		panic(err)
	}
	return b
}

// TestProtocolErrorsAsJSON: each plain-text answer net/http's server writes
// by itself comes out as JSON with the same status, and nothing else is
// touched, whatever its shape.
func TestProtocolErrorsAsJSON(t *testing.T) {
	t.Parallel()
	const hdrs = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
	for _, tc := range []struct {
		in     string
		status int
		code   string
	}{
		{"HTTP/1.1 431 Request Header Fields Too Large" + hdrs + "431 Request Header Fields Too Large", 431, "headers_too_large"},
		{"HTTP/1.1 400 Bad Request" + hdrs + "400 Bad Request", 400, "bad_request"},
		{"HTTP/1.1 400 Bad Request: missing required Host header" + hdrs + "400 Bad Request: missing required Host header", 400, "bad_request"},
		{"HTTP/1.1 501 Not Implemented" + hdrs + "Unsupported transfer encoding", 501, "not_implemented"},
		{"HTTP/1.1 505 HTTP Version Not Supported: unsupported protocol version" + hdrs + "505 HTTP Version Not Supported: unsupported protocol version", 505, "http_version_not_supported"},
	} {
		resp, body := throughProtocolErrors(t, []byte(tc.in))
		var eb map[string]map[string]string
		if err := json.Unmarshal(body, &eb); err != nil || resp.StatusCode != tc.status || eb["error"]["code"] != tc.code || eb["error"]["message"] == "" ||
			!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || !resp.Close {
			t.Errorf("%.40q became %d %v %s, want %d JSON with code %s", tc.in, resp.StatusCode, resp.Header, body, tc.status, tc.code)
		}
	}
	for _, in := range []string{
		// A handler's answer always carries Date.
		"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nDate: Fri, 20 Nov 2026 09:00:00 GMT\r\nConnection: close\r\n\r\n431 Request Header Fields Too Large",
		// The body is not the status text.
		"HTTP/1.1 400 Bad Request" + hdrs + "something else",
		"HTTP/1.1 400 Bad Request" + hdrs + "400 Bad Request\r\n",
		"HTTP/1.1 200 OK" + hdrs + "200 OK",
		"HTTP/1.0 400 Bad Request" + hdrs + "400 Bad Request",
		// Body bytes that happen to begin like a status line.
		"HTTP/1.1 431 is what the server answers to oversized headers\n",
		"",
	} {
		if got := passThrough(t, []byte(in)); got != in {
			t.Errorf("%.60q was rewritten to %.60q", in, got)
		}
	}
}

// throughProtocolErrors writes p on the server side of a connection from
// ProtocolErrorsAsJSON and reads it as a response on the client side.
func throughProtocolErrors(t *testing.T, p []byte) (*http.Response, []byte) {
	t.Helper()
	got := passThrough(t, p)
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(got)), nil)
	if err != nil {
		t.Fatalf("%.40q: %v: %q", p, err, got)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// passThrough returns what the client reads when the server side writes p.
func passThrough(t *testing.T, p []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wrapped := api.ProtocolErrorsAsJSON(ln, 0)
	defer wrapped.Close()
	errc := make(chan error, 1)
	go func() {
		c, err := wrapped.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		n, err := c.Write(p)
		if err == nil && n != len(p) {
			err = fmt.Errorf("wrote %d of %d bytes", n, len(p))
		}
		errc <- err
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second)) // a hang guard only
	got, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return string(got)
}

// TestDeliveryIDsPostgresCannotStoreAreDigested: a sender's delivery id that
// is not text Postgres can keep (invalid UTF-8, control characters, a NUL
// inside JSON) is stored as a digest, so the delivery is recorded and its
// retry still recognised, instead of the store refusing it.
func TestDeliveryIDsPostgresCannotStoreAreDigested(t *testing.T) {
	t.Parallel()
	b := setupWebhooks(t)
	hook := []byte(`{"id":"INC-7","started_at":"2026-11-20T09:00:00Z"}`)
	for i, want := range []string{"accepted", "duplicate"} {
		code, body := b.post(t, "/webhooks/incident", hook, append(genericHeaders(hook), "X-Webhook-Id", "d\xff\xfe-1")...)
		if code != 200 || body["status"] != want {
			t.Errorf("delivery %d with an invalid UTF-8 id: %d %v, want 200 %s", i+1, code, body, want)
		}
	}
	long := strings.Repeat("d", 10000)
	for i, want := range []string{"accepted", "duplicate"} {
		hook := []byte(`{"id":"INC-8","started_at":"2026-11-20T09:00:00Z"}`)
		code, body := b.post(t, "/webhooks/incident", hook, append(genericHeaders(hook), "X-Webhook-Id", long)...)
		if code != 200 || body["status"] != want {
			t.Errorf("delivery %d with a 10,000-character id: %d %v, want 200 %s", i+1, code, body, want)
		}
	}
	var ids []string
	rows, err := b.schema.Pool.Query(context.Background(), `SELECT id FROM webhook_deliveries ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if len(ids) != 2 || !strings.HasPrefix(ids[0], "id-sha256:") || !strings.HasPrefix(ids[1], "id-sha256:") {
		t.Errorf("stored delivery ids %.80q, want two digests", ids)
	}
}

// TestFaultsDoNotReachTheClient: when the database fails, the answer is
// 500 internal or 503 unavailable with a message of the API's own; the
// Postgres error (which names relations, columns and hosts) stays in the log.
func TestFaultsDoNotReachTheClient(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	st := postgres.New(s.Pool)
	b := readBundle{store: st, srv: httptest.NewServer((&api.Server{Store: st,
		Tokens: []api.Token{{Name: "facilitators", Token: readToken, Scopes: []string{"read"}}}}).Handler())}
	t.Cleanup(b.srv.Close)
	b.seed(t, "PINC1", 3)
	// A schema gone wrong under the running server: every query of the
	// timeline fails with Postgres' "relation does not exist".
	if _, err := s.Pool.Exec(context.Background(), `ALTER TABLE events RENAME TO events_gone`); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/v1/incidents/PINC1/timeline", "/v1/feed"} {
		status, body := b.get(t, p, readToken)
		raw, _ := json.Marshal(body)
		if status != 500 || errorCode(body) != "internal" {
			t.Errorf("GET %s over a broken schema: %d %s, want 500 internal", p, status, raw)
		}
		for _, leak := range []string{"events", "relation", "SQLSTATE", "42P01", "exist"} {
			if strings.Contains(string(raw), leak) {
				t.Errorf("GET %s: the answer holds %q: %s", p, leak, raw)
			}
		}
	}
}
