package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/groundwork-dev/groundwork/api"
	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
)

// Bodies the OpenAPI document describes as text are decoded as text; their
// structure (an Event per JSONL line or SSE data) is checked against the
// Event schema separately.
func init() {
	for _, ct := range []string{"application/x-ndjson", "text/markdown", "text/event-stream", "text/html"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
	}
}

// contract validates real responses against the served /openapi.json and
// records which operation answered with which status.
type contract struct {
	doc    *openapi3.T
	router routers.Router
	mu     sync.Mutex
	seen   map[string]map[int]bool
}

func loadContract(t *testing.T, srvURL string) *contract {
	t.Helper()
	resp, err := http.Get(srvURL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Equal(raw, api.OpenAPIDocument()) {
		t.Fatalf("GET /openapi.json: %d, %d bytes; want the embedded document", resp.StatusCode, len(raw))
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		t.Fatalf("loading the OpenAPI document: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the OpenAPI document is invalid: %v", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &contract{doc: doc, router: router, seen: map[string]map[int]bool{}}
}

// validate checks one response (body already read) against the document.
func (c *contract) validate(t *testing.T, req *http.Request, resp *http.Response, body []byte) {
	t.Helper()
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		t.Errorf("%s %s: no operation in the document: %v", req.Method, req.URL.Path, err)
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status: resp.StatusCode, Header: resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s → %d does not match the document: %v\n%s", req.Method, req.URL, resp.StatusCode, err, truncate(body))
	}
	c.mu.Lock()
	key := req.Method + " " + route.Path
	if c.seen[key] == nil {
		c.seen[key] = map[int]bool{}
	}
	c.seen[key][resp.StatusCode] = true
	c.mu.Unlock()
}

func truncate(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

// call sends a request and validates the whole response.
func (c *contract) call(t *testing.T, srvURL, method, path, token string, body []byte, headers ...string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, srvURL+path, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	c.validate(t, req, resp, raw)
	return resp.StatusCode, raw
}

// callStream opens an event stream, reads it up to its first event, validates
// what it read and returns that event's data.
func (c *contract) callStream(t *testing.T, srvURL, path string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srvURL+path, nil)
	req.Header.Set("Authorization", "Bearer "+readToken)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var read bytes.Buffer
	var data string
	r := bufio.NewReader(resp.Body)
	for data == "" {
		line, err := r.ReadString('\n')
		read.WriteString(line)
		if err != nil {
			t.Fatalf("stream ended before an event: %v\n%s", err, read.String())
		}
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			data = strings.TrimSpace(d)
		}
	}
	c.validate(t, req, resp, read.Bytes())
	return data
}

// visitSchema validates one JSON value against a component schema.
func (c *contract) visitSchema(t *testing.T, name string, raw []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Errorf("%s: %v: %s", name, err, raw)
		return
	}
	if err := c.doc.Components.Schemas[name].Value.VisitJSON(v); err != nil {
		t.Errorf("%s does not match its schema: %v\n%s", name, err, raw)
	}
}

// TestResponsesMatchTheOpenAPIDocument sends real requests to every endpoint,
// for success and for each kind of failure, and validates every response
// (status, headers, body) against the served document, so that the two
// cannot drift apart.
func TestResponsesMatchTheOpenAPIDocument(t *testing.T) {
	t.Parallel()
	b := setupReview(t, withShares(t))
	checkoutIncident(t, b)
	b.events(t, trickyEvents("PCHECKOUT")...)
	// A skipped source shows its reason.
	if err := b.store.SetSourceStatus(context.Background(), timeline.SourceStatus{IncidentID: "PCHECKOUT", Source: "slack",
		State: timeline.StateSkipped, Reason: "no Slack channels are in the incident's scope"}); err != nil {
		t.Fatal(err)
	}
	c := loadContract(t, b.srv.URL)
	u := b.srv.URL

	// Read endpoints: success, 304, and every error a caller can cause.
	c.call(t, u, "GET", "/v1/incidents", readToken, nil)
	c.call(t, u, "GET", "/v1/incidents?limit=1", readToken, nil)
	c.call(t, u, "GET", "/v1/incidents?limit=0", readToken, nil)
	c.call(t, u, "GET", "/v1/incidents", "", nil)
	c.call(t, u, "GET", "/v1/incidents", writeToken, nil)
	_, raw := c.call(t, u, "GET", "/v1/incidents/PCHECKOUT", readToken, nil)
	var detail map[string]any
	_ = json.Unmarshal(raw, &detail)
	if detail["summary"] == nil {
		t.Error("the incident's summary was not exercised")
	}
	if !strings.Contains(string(raw), `"state":"skipped","error":null,"reason":"no Slack channels`) {
		t.Error("a skipped source's reason was not exercised")
	}
	resp := b.do(t, "GET", "/v1/incidents/PCHECKOUT", nil)
	resp.Body.Close()
	c.call(t, u, "GET", "/v1/incidents/PCHECKOUT", readToken, nil, "If-None-Match", resp.Header.Get("ETag"))
	c.call(t, u, "GET", "/v1/incidents/PNOPE", readToken, nil)
	c.call(t, u, "GET", "/v1/incidents/bad'id", readToken, nil)
	c.call(t, u, "GET", "/v1/incidents/PCHECKOUT", "", nil)
	c.call(t, u, "GET", "/v1/incidents/PCHECKOUT", writeToken, nil)

	for _, part := range []string{"people", "changes", "changes?authors=true"} {
		path := "/v1/incidents/PCHECKOUT/" + part
		if status, raw := c.call(t, u, "GET", path, readToken, nil); status != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, status, raw)
		}
		resp := b.do(t, "GET", path, nil)
		resp.Body.Close()
		c.call(t, u, "GET", path, readToken, nil, "If-None-Match", resp.Header.Get("ETag"))
	}
	c.call(t, u, "GET", "/v1/incidents/PCHECKOUT/changes?authors=maybe", readToken, nil)
	c.call(t, u, "GET", "/v1/incidents/PCHECKOUT/people?limit=3", readToken, nil)
	for _, part := range []string{"people", "changes"} {
		c.call(t, u, "GET", "/v1/incidents/PNOPE/"+part, readToken, nil)
		c.call(t, u, "GET", "/v1/incidents/bad'id/"+part, readToken, nil)
		c.call(t, u, "GET", "/v1/incidents/PCHECKOUT/"+part, "", nil)
		c.call(t, u, "GET", "/v1/incidents/PCHECKOUT/"+part, writeToken, nil)
	}

	questionsAndPacketContract(t, c, b)

	_, raw = c.call(t, u, "GET", "/v1/incidents/PCHECKOUT/timeline?limit=2", readToken, nil)
	var page api.TimelineJSON
	_ = json.Unmarshal(raw, &page)
	if page.NextCursor == nil {
		t.Fatal("no next_cursor")
	}
	c.call(t, u, "GET", "/v1/incidents/PCHECKOUT/timeline?limit=2&cursor="+*page.NextCursor, readToken, nil)
	for _, f := range []string{"json", "jsonl", "csv", "markdown"} {
		_, raw = c.call(t, u, "GET", "/v1/incidents/PCHECKOUT/timeline?format="+f, readToken, nil)
		if f == "jsonl" {
			for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
				c.visitSchema(t, "Event", []byte(line))
			}
		}
	}
	resp = b.do(t, "GET", "/v1/incidents/PCHECKOUT/timeline?format=csv", nil)
	resp.Body.Close()
	c.call(t, u, "GET", "/v1/incidents/PCHECKOUT/timeline?format=csv", readToken, nil, "If-None-Match", resp.Header.Get("ETag"))
	for _, q := range []string{"format=xml", "limit=99999", "cursor=forged", "since=yesterday", "kind=nope", "format=csv&limit=3"} {
		c.call(t, u, "GET", "/v1/incidents/PCHECKOUT/timeline?"+q, readToken, nil)
	}
	c.call(t, u, "GET", "/v1/incidents/PNOPE/timeline", readToken, nil)
	c.call(t, u, "GET", "/v1/incidents/bad'id/timeline", readToken, nil)
	c.call(t, u, "GET", "/v1/incidents/PCHECKOUT/timeline?limit=%zz", readToken, nil)
	c.call(t, u, "GET", "/v1/incidents/PCHECKOUT/timeline", "", nil)
	c.call(t, u, "GET", "/v1/incidents/PCHECKOUT/timeline", writeToken, nil)

	_, raw = c.call(t, u, "GET", "/v1/feed?after=0&limit=3", readToken, nil)
	var feed api.FeedJSON
	_ = json.Unmarshal(raw, &feed)
	if len(feed.Events) != 3 {
		t.Errorf("feed page of %d events, want 3", len(feed.Events))
	}
	c.call(t, u, "GET", "/v1/feed?after=-5", readToken, nil)
	c.call(t, u, "GET", "/v1/feed", "", nil)
	c.call(t, u, "GET", "/v1/feed", writeToken, nil)
	c.visitSchema(t, "Event", []byte(c.callStream(t, u, "/v1/feed?after=2")))
	// A deletion in the feed, polled and streamed.
	gone := trickyEvents("PCHECKOUT")[0]
	gone.Deleted, gone.Version = true, gone.OccurredAt.Add(time.Hour)
	b.events(t, gone)
	all, err := b.store.Feed(context.Background(), 0, 10000)
	if err != nil || !all[len(all)-1].Deleted {
		t.Fatalf("the deletion is not last in the feed: %v", err)
	}
	before := strconv.FormatInt(all[len(all)-1].Seq-1, 10)
	if _, raw = c.call(t, u, "GET", "/v1/feed?after="+before, readToken, nil); !strings.Contains(string(raw), `"deleted":true`) {
		t.Errorf("feed page without the deletion: %s", raw)
	}
	c.visitSchema(t, "DeletedEvent", []byte(c.callStream(t, u, "/v1/feed?after="+before)))

	// Operations.
	c.call(t, u, "GET", "/healthz", "", nil)
	c.call(t, u, "GET", "/readyz", "", nil)
	c.call(t, u, "GET", "/metrics", "", nil)
	c.call(t, u, "GET", "/openapi.json", "", nil)

	// Faults of the service: a server whose database is gone.
	broken := brokenServer(t, b)
	c.call(t, broken.URL, "GET", "/readyz", "", nil)
	for _, p := range []string{"/v1/incidents", "/v1/incidents/PCHECKOUT", "/v1/incidents/PCHECKOUT/timeline", "/v1/feed",
		"/v1/incidents/PCHECKOUT/people", "/v1/incidents/PCHECKOUT/changes", "/v1/incidents/PCHECKOUT/questions",
		"/v1/incidents/PCHECKOUT/review"} {
		if status, raw := c.call(t, broken.URL, "GET", p, readToken, nil); status < 500 {
			t.Errorf("GET %s without a database: %d %s, want a 5xx", p, status, raw)
		}
	}

	webhookAndCollectContract(t, c)
	annotationsContract(t, c, b, broken)
	sharesContract(t, c, b, broken)
	retentionContract(t, c, broken)

	// Oversized headers: the server answers before routing, through
	// ProtocolErrorsAsJSON as serve wires it.
	guarded := httptest.NewUnstartedServer(b.server.Handler())
	guarded.Config.MaxHeaderBytes = 4 << 10
	guarded.Listener = api.ProtocolErrorsAsJSON(guarded.Listener, guarded.Config.MaxHeaderBytes)
	guarded.Start()
	t.Cleanup(guarded.Close)
	for _, p := range []string{"/v1/incidents", "/v1/incidents/PCHECKOUT", "/v1/incidents/PCHECKOUT/timeline", "/v1/feed", "/healthz"} {
		if status, raw := c.call(t, guarded.URL, "GET", p, readToken, nil, "X-Padding", strings.Repeat("p", 16<<10)); status != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("GET %s with 16 KiB of headers: %d %s, want 431", p, status, raw)
		}
	}

	for op, statuses := range c.seen {
		var list []int
		for st := range statuses {
			list = append(list, st)
		}
		slices.Sort(list)
		t.Logf("%s answered %v", op, list)
	}

	// Every operation the document describes was exercised.
	var missing []string
	for path, item := range c.doc.Paths.Map() {
		for method := range item.Operations() {
			if len(c.seen[method+" "+path]) == 0 {
				missing = append(missing, method+" "+path)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("operations never exercised: %v", missing)
	}
	var documented []string
	for path, item := range c.doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	slices.Sort(documented)
	if diff := slices.Compare(documented, servedOperations); diff != 0 {
		t.Errorf("documented operations %v, want the served ones %v", documented, servedOperations)
	}
}

// servedOperations lists every route the server registers (server.go).
var servedOperations = []string{
	"DELETE /v1/incidents/{id}",
	"DELETE /v1/incidents/{id}/annotations/{aid}",
	"DELETE /v1/incidents/{id}/share/{link}",
	"GET /healthz",
	"GET /incidents",
	"GET /incidents/{id}",
	"GET /incidents/{id}/feed",
	"GET /metrics",
	"GET /openapi.json",
	"GET /readyz",
	"GET /static/{file}",
	"GET /v1/feed",
	"GET /v1/incidents",
	"GET /v1/incidents/{id}",
	"GET /v1/incidents/{id}/annotations",
	"GET /v1/incidents/{id}/annotations/{aid}",
	"GET /v1/incidents/{id}/changes",
	"GET /v1/incidents/{id}/people",
	"GET /v1/incidents/{id}/questions",
	"GET /v1/incidents/{id}/review",
	"GET /v1/incidents/{id}/share",
	"GET /v1/incidents/{id}/timeline",
	"PATCH /v1/incidents/{id}/annotations/{aid}",
	"POST /v1/incidents/{id}/annotations",
	"POST /v1/incidents/{id}/collect",
	"POST /v1/incidents/{id}/share",
	"POST /webhooks/github",
	"POST /webhooks/incident",
	"POST /webhooks/pagerduty",
	"POST /webhooks/slack",
	"POST /webhooks/{receiver}",
}

// brokenServer is b's server over a store whose database is closed.
func brokenServer(t *testing.T, b *reviewBundle) *httptest.Server {
	t.Helper()
	pool, err := postgres.Open(context.Background(), b.schema.URL)
	if err != nil {
		t.Fatal(err)
	}
	pool.Close()
	st := postgres.New(pool)
	s := &api.Server{
		Store: st, Summaries: st, Versions: st, Review: b.server.Review, Annotations: st,
		Shares: st, ShareCodec: timeline.ShareCodec{Key: []byte("k")},
		Tokens:    []api.Token{{Name: "facilitators", Token: readToken, Scopes: []string{"read"}}, {Name: "writer", Token: writeToken, Scopes: []string{"write"}}},
		ReadyFunc: func(ctx context.Context) error { return errors.Join(errors.New("database unreachable"), st.Ping(ctx)) },
		Cursors:   timeline.CursorCodec{Key: []byte("k")},
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv
}
