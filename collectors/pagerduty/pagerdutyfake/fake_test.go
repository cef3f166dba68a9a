package pagerdutyfake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pd "github.com/PagerDuty/go-pagerduty"
	"github.com/google/go-cmp/cmp"

	"github.com/groundwork-dev/groundwork/collectors/pagerduty/pagerdutyfake"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const token = "u+fake-token-0123456789"

func newServer(t *testing.T) (*pagerdutyfake.Fake, *httptest.Server) {
	t.Helper()
	f := pagerdutyfake.New(token)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func get(t *testing.T, srv *httptest.Server, path, tok string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Token token="+tok)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET %s: Content-Type %q, want application/json", path, ct)
	}
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("GET %s: body is not a JSON object: %v\n%s", path, err, b)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: body}
}

// TestWireFormatGolden pins the payloads of every route for the seeded
// checkout incident. They are modelled on PagerDuty's published examples
// (incident_get, incident_log_entries_list, incident_notes_list,
// incident_alerts_list); review a diff against those before -update.
func TestWireFormatGolden(t *testing.T) {
	f, srv := newServer(t)
	id := pagerdutyfake.SeedCheckoutIncident(f)
	for name, path := range map[string]string{
		"incident":    "/incidents/" + id,
		"log_entries": "/incidents/" + id + "/log_entries?limit=100&total=true&include[]=channels",
		"notes":       "/incidents/" + id + "/notes",
		"alerts":      "/incidents/" + id + "/alerts?limit=100",
		"user":        "/users/PORTTOM",
	} {
		t.Run(name, func(t *testing.T) {
			a := get(t, srv, path, token)
			if a.status != http.StatusOK {
				t.Fatalf("status %d: %v", a.status, a.body)
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(a.body); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", name+".json"), buf.Bytes())
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func seedEntries(f *pagerdutyfake.Fake, incident string, n int, start time.Time, step time.Duration) {
	f.AddIncident(pagerdutyfake.Incident{ID: incident, Number: 1, Title: "t", CreatedAt: start,
		Service: pagerdutyfake.ServiceRef("PSVC", "svc")})
	svc := pagerdutyfake.ServiceRef("PSVC", "svc")
	for i := range n {
		f.AddLogEntry(pagerdutyfake.LogEntry{ID: fmt.Sprintf("R%06d", i), IncidentID: incident, Type: "notify",
			Summary: "n", CreatedAt: start.Add(time.Duration(i) * step), Agent: &svc})
	}
}

func ids(t *testing.T, a answer) []string {
	t.Helper()
	var out []string
	for _, le := range a.body["log_entries"].([]any) {
		out = append(out, le.(map[string]any)["id"].(string))
	}
	return out
}

func TestOffsetPagination(t *testing.T) {
	f, srv := newServer(t)
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	seedEntries(f, "PINC", 250, start, time.Second)

	a := get(t, srv, "/incidents/PINC/log_entries?limit=100&offset=200&total=true", token)
	if a.status != 200 {
		t.Fatalf("status %d", a.status)
	}
	if got := len(ids(t, a)); got != 50 {
		t.Errorf("last page has %d entries, want 50", got)
	}
	if a.body["more"] != false || a.body["total"] != float64(250) || a.body["offset"] != float64(200) || a.body["limit"] != float64(100) {
		t.Errorf("envelope = more %v total %v offset %v limit %v", a.body["more"], a.body["total"], a.body["offset"], a.body["limit"])
	}

	a = get(t, srv, "/incidents/PINC/log_entries", token)
	if got := ids(t, a); len(got) != 25 || got[0] != "R000000" {
		t.Errorf("default page: %d entries starting %v, want 25 from R000000", len(got), got[:1])
	}
	if a.body["more"] != true || a.body["total"] != nil {
		t.Errorf("default page: more %v total %v, want true and null", a.body["more"], a.body["total"])
	}

	a = get(t, srv, "/incidents/PINC/log_entries?limit=500", token)
	if got := len(ids(t, a)); got != 100 || a.body["limit"] != float64(100) {
		t.Errorf("limit=500 gave %d entries, limit %v; want the maximum of 100", got, a.body["limit"])
	}

	since := start.Add(10 * time.Second).Format(time.RFC3339)
	until := start.Add(20 * time.Second).Format(time.RFC3339)
	a = get(t, srv, "/log_entries?since="+since+"&until="+until+"&total=true", token)
	if got := ids(t, a); len(got) != 10 || got[0] != "R000010" || got[9] != "R000019" {
		t.Errorf("since/until gave %v, want R000010..R000019 (since inclusive, until exclusive)", got)
	}
}

func TestOffsetPastTenThousandIsRefused(t *testing.T) {
	f, srv := newServer(t)
	f.AddIncident(pagerdutyfake.Incident{ID: "PINC", CreatedAt: time.Now()})
	if a := get(t, srv, "/incidents/PINC/log_entries?limit=100&offset=9900", token); a.status != 200 {
		t.Errorf("offset 9900 + limit 100: status %d, want 200", a.status)
	}
	for _, path := range []string{
		"/incidents/PINC/log_entries?limit=100&offset=9901",
		"/incidents/PINC/alerts?limit=100&offset=10000",
		"/log_entries?offset=9990",
	} {
		a := get(t, srv, path, token)
		e, _ := a.body["error"].(map[string]any)
		if a.status != http.StatusBadRequest || e["code"] != float64(2001) {
			t.Errorf("GET %s: %d %v, want 400 with error code 2001", path, a.status, a.body)
		}
	}
}

func TestAuthorization(t *testing.T) {
	f, srv := newServer(t)
	pagerdutyfake.SeedCheckoutIncident(f)
	for _, tok := range []string{"", "wrong"} {
		a := get(t, srv, "/users/PORTTOM", tok)
		e, _ := a.body["error"].(map[string]any)
		if a.status != http.StatusUnauthorized || e["message"] == nil {
			t.Errorf("token %q: %d %v, want 401 with an error body", tok, a.status, a.body)
		}
	}
}

func TestNotFound(t *testing.T) {
	_, srv := newServer(t)
	for _, path := range []string{"/incidents/PNOPE", "/incidents/PNOPE/notes", "/users/PNOPE"} {
		a := get(t, srv, path, token)
		e, _ := a.body["error"].(map[string]any)
		if a.status != http.StatusNotFound || e["code"] != float64(2100) {
			t.Errorf("GET %s: %d %v, want 404 code 2100", path, a.status, a.body)
		}
	}
}

func TestKnobsAndCounters(t *testing.T) {
	f, srv := newServer(t)
	pagerdutyfake.SeedCheckoutIncident(f)

	f.RateLimitNext(1, 7)
	a := get(t, srv, "/users/PORTTOM", token)
	if a.status != http.StatusTooManyRequests || a.header.Get("ratelimit-reset") != "7" || a.header.Get("ratelimit-remaining") != "0" {
		t.Errorf("rate limited: %d reset %q remaining %q", a.status, a.header.Get("ratelimit-reset"), a.header.Get("ratelimit-remaining"))
	}
	f.FailNext(2, http.StatusBadGateway)
	for range 2 {
		if a := get(t, srv, "/users/PORTTOM", token); a.status != http.StatusBadGateway {
			t.Errorf("failing: status %d, want 502", a.status)
		}
	}
	if a := get(t, srv, "/users/PORTTOM", token); a.status != http.StatusOK {
		t.Errorf("after the failures: status %d, want 200", a.status)
	}
	get(t, srv, "/users/PNATPRI", token)

	if got := f.Requests(); got != 5 {
		t.Errorf("Requests() = %d, want 5", got)
	}
	if got := f.RequestsTo("GET", "/users/PORTTOM"); got != 4 {
		t.Errorf("RequestsTo(/users/PORTTOM) = %d, want 4", got)
	}
	if got := f.RequestsMatching("GET /users/{id}"); got != 5 {
		t.Errorf("RequestsMatching(GET /users/{id}) = %d, want 5", got)
	}
	f.ResetCounters()
	if f.Requests() != 0 {
		t.Error("ResetCounters left requests counted")
	}
}

func TestLatencyHonoursCancellation(t *testing.T) {
	f, srv := newServer(t)
	f.AddUser(pagerdutyfake.User{ID: "PU", Name: "U"})
	f.SetLatency(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/users/PU", nil)
	req.Header.Set("Authorization", "Token token="+token)
	_, err := srv.Client().Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the request's deadline", err)
	}
}

// TestGoPagerDutyDecodes reads the seeded incident through the real client
// library, as the collector does.
func TestGoPagerDutyDecodes(t *testing.T) {
	f, srv := newServer(t)
	id := pagerdutyfake.SeedCheckoutIncident(f)
	c := pd.NewClient(token, pd.WithAPIEndpoint(srv.URL))
	ctx := context.Background()

	inc, err := c.GetIncidentWithContext(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if inc.Title != "Checkout API error rate above 5%" || inc.Service.ID != "PSVC001" || inc.ResolvedAt != "2025-11-20T11:10:35Z" || inc.Priority.Summary != "P1" {
		t.Errorf("incident decoded as %+v", inc)
	}
	les, err := c.ListIncidentLogEntriesWithContext(ctx, id, pd.ListIncidentLogEntriesOptions{Limit: 100, Total: true})
	if err != nil {
		t.Fatal(err)
	}
	if les.Total != 13 || les.More || les.LogEntries[1].User.ID != "PNATPRI" || les.LogEntries[1].Channel.Type != "sms" {
		t.Errorf("log entries decoded as total %d more %v, second %+v", les.Total, les.More, les.LogEntries[1])
	}
	notes, err := c.ListIncidentNotesWithContext(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 3 || notes[1].CreatedAt != "2025-11-20T15:40:00+05:30" {
		t.Errorf("notes decoded as %+v", notes)
	}
	alerts, err := c.ListIncidentAlertsWithContext(ctx, id, pd.ListIncidentAlertsOptions{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts.Alerts) != 2 || alerts.Alerts[0].Severity != "critical" || alerts.Alerts[0].Integration.Summary != "Datadog" {
		t.Errorf("alerts decoded as %+v", alerts.Alerts)
	}

	_, err = c.GetIncidentWithContext(ctx, "PNOPE")
	var apiErr pd.APIError
	if !errors.As(err, &apiErr) || !apiErr.NotFound() {
		t.Errorf("missing incident: err = %v, want an APIError that is NotFound", err)
	}
	bad := pd.NewClient("wrong", pd.WithAPIEndpoint(srv.URL))
	_, err = bad.GetUserWithContext(ctx, "PORTTOM", pd.GetUserOptions{})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized || !apiErr.APIError.Valid {
		t.Errorf("wrong token: err = %v, want a decoded 401", err)
	}
}

// TestSeedingOutOfOrder checks that lists stay in created_at order.
func TestSeedingOutOfOrder(t *testing.T) {
	f, srv := newServer(t)
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	f.AddIncident(pagerdutyfake.Incident{ID: "PINC", CreatedAt: start})
	for i := 20000 - 1; i >= 0; i -= 2 {
		f.AddLogEntry(pagerdutyfake.LogEntry{ID: fmt.Sprintf("R%06d", i), IncidentID: "PINC", Type: "notify", CreatedAt: start.Add(time.Duration(i) * time.Second)})
	}
	for i := 0; i < 20000; i += 2 {
		f.AddLogEntry(pagerdutyfake.LogEntry{ID: fmt.Sprintf("R%06d", i), IncidentID: "PINC", Type: "notify", CreatedAt: start.Add(time.Duration(i) * time.Second)})
	}
	a := get(t, srv, "/incidents/PINC/log_entries?limit=5&offset=0&total=true", token)
	if got := strings.Join(ids(t, a), ","); got != "R000000,R000001,R000002,R000003,R000004" || a.body["total"] != float64(20000) {
		t.Errorf("first page %s total %v", got, a.body["total"])
	}
}
