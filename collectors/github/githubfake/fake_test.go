package githubfake

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const tok = "fake-token"

var t0 = time.Date(2025, 11, 20, 10, 0, 0, 0, time.UTC)

type answer struct {
	status int
	header http.Header
	body   []byte
}

func get(t *testing.T, srv *httptest.Server, path, auth string) answer {
	t.Helper()
	req, err := http.NewRequest("GET", srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
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
	return answer{resp.StatusCode, resp.Header, b}
}

func serve(t *testing.T, f *Server) *httptest.Server {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv
}

func TestLinkHeaderLikeGitHub(t *testing.T) {
	f := New(tok)
	for i := range 250 {
		f.AddCommit("acme/api", Commit{Message: fmt.Sprint(i), AuthorName: "a", AuthorEmail: "a@x", AuthorDate: t0.Add(time.Duration(i) * time.Second)})
	}
	srv := serve(t, f)
	u := func(page int) string {
		return fmt.Sprintf("<%s/repos/acme/api/commits?page=%d&per_page=100>", srv.URL, page)
	}
	cases := []struct {
		query string
		link  string
		n     int
	}{
		{"?per_page=100", u(2) + `; rel="next", ` + u(3) + `; rel="last"`, 100},
		{"?per_page=100&page=2", u(1) + `; rel="prev", ` + u(3) + `; rel="next", ` + u(3) + `; rel="last", ` + u(1) + `; rel="first"`, 100},
		{"?per_page=100&page=3", u(2) + `; rel="prev", ` + u(1) + `; rel="first"`, 50},
		{"?per_page=500", "", 0}, // capped at 100: checked below
	}
	for _, c := range cases[:3] {
		a := get(t, srv, "/repos/acme/api/commits"+c.query, "Bearer "+tok)
		if a.status != 200 {
			t.Fatalf("%s: status %d", c.query, a.status)
		}
		if got := a.header.Get("Link"); got != c.link {
			t.Errorf("%s: Link\n got %s\nwant %s", c.query, got, c.link)
		}
		var items []map[string]any
		if err := json.Unmarshal(a.body, &items); err != nil || len(items) != c.n {
			t.Errorf("%s: %d items (%v), want %d", c.query, len(items), err, c.n)
		}
	}
	a := get(t, srv, "/repos/acme/api/commits?per_page=500", "Bearer "+tok)
	var items []map[string]any
	json.Unmarshal(a.body, &items)
	if len(items) != 100 {
		t.Errorf("per_page=500 gave %d items, want 100", len(items))
	}
	a = get(t, srv, "/repos/acme/api/commits", "Bearer "+tok)
	json.Unmarshal(a.body, &items)
	if len(items) != 30 || !strings.Contains(a.header.Get("Link"), `page=9>; rel="last"`) {
		t.Errorf("default page: %d items, Link %s", len(items), a.header.Get("Link"))
	}
	// Newest first.
	if items[0]["commit"].(map[string]any)["message"] != "249" {
		t.Errorf("first commit = %v, want the newest", items[0]["commit"])
	}
}

func TestCommitsSinceUntilInclusive(t *testing.T) {
	f := New(tok)
	for i := range 10 {
		f.AddCommit("acme/api", Commit{Message: fmt.Sprint(i), AuthorName: "a", AuthorEmail: "a@x",
			AuthorDate: t0.Add(-time.Hour), CommitterDate: t0.Add(time.Duration(i) * time.Minute)})
	}
	srv := serve(t, f)
	a := get(t, srv, "/repos/acme/api/commits?since=2025-11-20T10:02:00Z&until=2025-11-20T10:05:00Z", "token "+tok)
	var items []struct {
		Commit struct{ Message string }
	}
	if err := json.Unmarshal(a.body, &items); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range items {
		got = append(got, c.Commit.Message)
	}
	if diff := cmp.Diff([]string{"5", "4", "3", "2"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if a := get(t, srv, "/repos/acme/api/commits?since=yesterday", "token "+tok); a.status != 422 {
		t.Errorf("bad since: status %d", a.status)
	}
}

func TestAuthAndNotFound(t *testing.T) {
	f := New(tok)
	f.AddRepo("acme/empty")
	srv := serve(t, f)
	for _, auth := range []string{"", "Bearer wrong", "Basic " + tok, tok} {
		a := get(t, srv, "/repos/acme/empty/releases", auth)
		if a.status != 401 || !bytes.Contains(a.body, []byte(`"message":"Bad credentials"`)) {
			t.Errorf("auth %q: %d %s", auth, a.status, a.body)
		}
	}
	for path, want := range map[string]int{
		"/repos/acme/empty/releases":               200,
		"/repos/acme/empty/commits":                409, // "Git Repository is empty."
		"/repos/acme/nope/releases":                404,
		"/repos/acme/empty/deployments/1/statuses": 404,
		"/users/nobody":                            404,
		"/nothing/here":                            404,
	} {
		if a := get(t, srv, path, "bearer "+tok); a.status != want {
			t.Errorf("%s: status %d, want %d (%s)", path, a.status, want, a.body)
		}
	}
}

func TestRateLimitModes(t *testing.T) {
	f := New(tok)
	f.AddRepo("acme/api")
	f.SetNow(func() time.Time { return t0 })
	f.SetRateLimitWaits(7*time.Second, 3*time.Minute)
	srv := serve(t, f)
	reset := strconv.FormatInt(t0.Add(3*time.Minute).Unix(), 10)
	cases := []struct {
		mode      RateLimitMode
		status    int
		retry     string
		remaining string
		reset     string
		body      string
	}{
		{Limit429RetryAfter, 429, "7", "5000", "", "secondary rate limit"},
		{LimitPrimary403, 403, "", "0", reset, "API rate limit exceeded"},
		{LimitPrimary429, 429, "", "0", reset, "API rate limit exceeded"},
		{LimitSecondary403, 403, "", "5000", "", "secondary rate limit"},
	}
	for _, c := range cases {
		f.RateLimitNext(1, c.mode)
		a := get(t, srv, "/repos/acme/api/releases", "Bearer "+tok)
		if a.status != c.status || a.header.Get("Retry-After") != c.retry || a.header.Get("X-RateLimit-Remaining") != c.remaining ||
			(c.reset != "" && a.header.Get("X-RateLimit-Reset") != c.reset) || !bytes.Contains(a.body, []byte(c.body)) {
			t.Errorf("mode %d: %d retry-after=%q remaining=%q reset=%q %s", c.mode, a.status,
				a.header.Get("Retry-After"), a.header.Get("X-RateLimit-Remaining"), a.header.Get("X-RateLimit-Reset"), a.body)
		}
	}
	if a := get(t, srv, "/repos/acme/api/releases", "Bearer "+tok); a.status != 200 || a.header.Get("X-RateLimit-Limit") != "5000" || a.header.Get("X-RateLimit-Resource") != "core" {
		t.Errorf("after the refusals: %d %v", a.status, a.header)
	}
	if f.RateLimited() != 4 || f.Requests() != 5 || f.RequestsTo("GET", "/repos/acme/api/releases") != 5 {
		t.Errorf("counters: limited %d, total %d", f.RateLimited(), f.Requests())
	}
}

func TestBudget(t *testing.T) {
	now := t0
	f := New(tok)
	f.AddRepo("acme/api")
	f.SetNow(func() time.Time { return now })
	f.SetBudget(2, time.Minute)
	srv := serve(t, f)
	var got []string
	for range 3 {
		a := get(t, srv, "/repos/acme/api/releases", "Bearer "+tok)
		got = append(got, fmt.Sprintf("%d/%s/%s", a.status, a.header.Get("X-RateLimit-Remaining"), a.header.Get("X-RateLimit-Reset")))
	}
	now = now.Add(time.Minute)
	a := get(t, srv, "/repos/acme/api/releases", "Bearer "+tok)
	got = append(got, fmt.Sprintf("%d/%s", a.status, a.header.Get("X-RateLimit-Remaining")))
	r := strconv.FormatInt(t0.Add(time.Minute).Unix(), 10)
	want := []string{"200/1/" + r, "200/0/" + r, "403/0/" + r, "200/1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestFailures(t *testing.T) {
	f := New(tok)
	f.AddRepo("acme/api")
	f.AddRepo("acme/web")
	srv := serve(t, f)
	f.FailNext(1, 502)
	f.FailNext(1, 403)
	f.FailRepo("acme/web", 500)
	var got []int
	for _, p := range []string{"/repos/acme/api/releases", "/repos/acme/api/releases", "/repos/acme/web/releases", "/repos/acme/api/releases"} {
		got = append(got, get(t, srv, p, "Bearer "+tok).status)
	}
	f.FailRepo("acme/web", 0)
	got = append(got, get(t, srv, "/repos/acme/web/releases", "Bearer "+tok).status)
	if diff := cmp.Diff([]int{502, 403, 500, 200, 200}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestPullsOrderAndState(t *testing.T) {
	f := New(tok)
	f.AddPull("acme/api", Pull{Title: "open old", CreatedAt: t0, UpdatedAt: t0.Add(5 * time.Hour)})
	f.AddPull("acme/api", Pull{Title: "merged", CreatedAt: t0.Add(time.Hour), MergedAt: t0.Add(2 * time.Hour)})
	f.AddPull("acme/api", Pull{Title: "closed", CreatedAt: t0.Add(2 * time.Hour), ClosedAt: t0.Add(3 * time.Hour)})
	srv := serve(t, f)
	titles := func(q string) []string {
		var items []struct{ Title string }
		json.Unmarshal(get(t, srv, "/repos/acme/api/pulls"+q, "Bearer "+tok).body, &items)
		var out []string
		for _, p := range items {
			out = append(out, p.Title)
		}
		return out
	}
	for q, want := range map[string][]string{
		"":                        {"open old"},
		"?state=all":              {"closed", "merged", "open old"},
		"?state=all&sort=updated": {"merged", "closed", "open old"},
		"?state=closed&sort=updated&direction=desc": {"closed", "merged"},
		"?state=all&direction=asc":                  {"open old", "merged", "closed"},
	} {
		if diff := cmp.Diff(want, titles(q)); diff != "" {
			t.Errorf("%q (-want +got):\n%s", q, diff)
		}
	}
}

func TestWorkflowRunSearch(t *testing.T) {
	f := New(tok)
	for i := range 1200 {
		c := t0.Add(time.Duration(i) * time.Second)
		f.AddWorkflowRun("acme/api", WorkflowRun{Name: "CI", CreatedAt: c})
	}
	f.AddWorkflowRun("acme/api", WorkflowRun{Name: "CI", Status: "in_progress", CreatedAt: t0})
	f.AddWorkflowRun("acme/api", WorkflowRun{Name: "CI", Conclusion: "failure", CreatedAt: t0.Add(-time.Hour)})
	srv := serve(t, f)
	type page struct {
		TotalCount   int `json:"total_count"`
		WorkflowRuns []struct {
			ID     int64
			Status string
		} `json:"workflow_runs"`
	}
	list := func(q string) (page, http.Header) {
		a := get(t, srv, "/repos/acme/api/actions/runs"+q, "Bearer "+tok)
		var p page
		if err := json.Unmarshal(a.body, &p); err != nil {
			t.Fatalf("%s: %v %s", q, err, a.body)
		}
		return p, a.header
	}
	all, _ := list("")
	if all.TotalCount != 1202 || len(all.WorkflowRuns) != 30 {
		t.Errorf("unfiltered: total %d, %d runs", all.TotalCount, len(all.WorkflowRuns))
	}
	p, h := list("?created=2025-11-20T10:00:00Z..2025-11-20T11:00:00Z&status=completed&per_page=100")
	if p.TotalCount != 1200 || !strings.Contains(h.Get("Link"), `page=10&per_page=100&status=completed>; rel="last"`) {
		t.Errorf("search: total %d, Link %s", p.TotalCount, h.Get("Link"))
	}
	if p, _ := list("?created=2025-11-20T10:00:00Z..2025-11-20T11:00:00Z&status=completed&per_page=100&page=11"); len(p.WorkflowRuns) != 0 {
		t.Errorf("page past the 1,000-result cap gave %d runs", len(p.WorkflowRuns))
	}
	if p, _ := list("?created=2025-11-20T10:00:00Z..2025-11-20T10:00:09Z"); p.TotalCount != 11 {
		t.Errorf("ten seconds: total %d, want 11 (10 completed + 1 in progress)", p.TotalCount)
	}
	if p, _ := list("?status=failure"); p.TotalCount != 1 {
		t.Errorf("status=failure (a conclusion): total %d", p.TotalCount)
	}
	if p, _ := list("?created=<2025-11-20T10:00:00Z"); p.TotalCount != 1 {
		t.Errorf("created=<: total %d", p.TotalCount)
	}
}

func TestDeploymentUpdatedAtFollowsStatuses(t *testing.T) {
	f := New(tok)
	d := f.AddDeployment("acme/api", Deployment{Creator: "hubot", CreatedAt: t0})
	f.AddDeploymentStatus("acme/api", d, DeploymentStatus{State: "queued", CreatedAt: t0.Add(time.Minute)})
	f.AddDeploymentStatus("acme/api", d, DeploymentStatus{State: "success", CreatedAt: t0.Add(3 * time.Minute)})
	f.AddDeploymentStatus("acme/api", d, DeploymentStatus{State: "in_progress", CreatedAt: t0.Add(2 * time.Minute)})
	if _, err := f.AddDeploymentStatus("acme/api", 999, DeploymentStatus{State: "success"}); err == nil {
		t.Error("status of a missing deployment accepted")
	}
	srv := serve(t, f)
	var deps []struct {
		UpdatedAt string `json:"updated_at"`
	}
	json.Unmarshal(get(t, srv, "/repos/acme/api/deployments", "Bearer "+tok).body, &deps)
	if len(deps) != 1 || deps[0].UpdatedAt != "2025-11-20T10:03:00Z" {
		t.Errorf("deployments = %+v", deps)
	}
	var sts []struct{ State string }
	json.Unmarshal(get(t, srv, fmt.Sprintf("/repos/acme/api/deployments/%d/statuses", d), "Bearer "+tok).body, &sts)
	if diff := cmp.Diff([]struct{ State string }{{"success"}, {"in_progress"}, {"queued"}}, sts); diff != "" {
		t.Errorf("statuses, newest first (-want +got):\n%s", diff)
	}
}

// TestWireGolden keeps the JSON of one object of each kind, to be read
// against GitHub's published examples.
func TestWireGolden(t *testing.T) {
	f := New(tok)
	f.AddUser(User{Login: "mona", Name: "Mona Lisa", Email: "mona@acme.test"})
	sha := f.AddCommit("acme/api", Commit{SHA: "6dcb09b5b57875f334f61aebed695e2e4193db5e", Message: "Fix all the bugs",
		AuthorLogin: "mona", AuthorName: "Mona Lisa", AuthorEmail: "mona@acme.test", AuthorDate: t0,
		Parents: []string{"553c2077f0edc3d5dc5d17262f6aa498e69d6f8e"}})
	f.AddPull("acme/api", Pull{Number: 1347, Title: "Amazing new feature", Body: "Please pull these awesome changes in!", User: "mona",
		Head: "new-topic", HeadSHA: sha, CreatedAt: t0.Add(-time.Hour), MergedAt: t0})
	d := f.AddDeployment("acme/api", Deployment{ID: 42, SHA: sha, Ref: "topic-branch", Description: "Deploy request from hubot",
		Creator: "mona", CreatedAt: t0, ProductionEnvironment: true})
	f.AddDeploymentStatus("acme/api", d, DeploymentStatus{ID: 1, State: "success", Description: "Deployment finished successfully.",
		TargetURL: "https://example.com/deployment/42/output", LogURL: "https://example.com/deployment/42/output",
		EnvironmentURL: "https://test-branch.lab.acme.com", CreatedAt: t0.Add(time.Minute)})
	f.AddRelease("acme/api", Release{ID: 1, TagName: "v1.0.0", Name: "v1.0.0", Body: "Description of the release", Author: "mona",
		CreatedAt: t0, PublishedAt: t0})
	f.AddWorkflowRun("acme/api", WorkflowRun{ID: 30433642, Name: "Build", HeadSHA: sha, RunNumber: 562, WorkflowID: 159038,
		Actor: "mona", CreatedAt: t0, UpdatedAt: t0.Add(5 * time.Minute)})
	srv := serve(t, f)
	for name, path := range map[string]string{
		"commits":             "/repos/acme/api/commits",
		"pulls":               "/repos/acme/api/pulls?state=closed",
		"deployments":         "/repos/acme/api/deployments",
		"deployment_statuses": "/repos/acme/api/deployments/42/statuses",
		"releases":            "/repos/acme/api/releases",
		"workflow_runs":       "/repos/acme/api/actions/runs",
		"user":                "/users/mona",
	} {
		a := get(t, srv, path, "Bearer "+tok)
		if a.status != 200 {
			t.Fatalf("%s: %d %s", path, a.status, a.body)
		}
		var buf bytes.Buffer
		if err := json.Indent(&buf, a.body, "", "  "); err != nil {
			t.Fatal(err)
		}
		buf.WriteByte('\n')
		file := filepath.Join("testdata", name+".golden.json")
		if *update {
			if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("%v (run go test -update)", err)
		}
		if diff := cmp.Diff(string(want), buf.String()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", file, diff)
		}
	}
}

func BenchmarkListCommitsPage(b *testing.B) {
	f := New(tok)
	for i := range 50000 {
		f.AddCommit("acme/api", Commit{Message: "m", AuthorLogin: "mona", AuthorName: "a", AuthorEmail: "a@x", AuthorDate: t0.Add(time.Duration(i) * time.Second)})
	}
	f.DisableLog()
	req := httptest.NewRequest("GET", "/repos/acme/api/commits?per_page=100&page=250&since=2025-11-20T10:00:00Z", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		f.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}
