package fakeapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/groundwork-dev/groundwork/collectors/internal/fakeapi"
	"github.com/groundwork-dev/groundwork/collectors/internal/faults"
)

// newCore serves GET /items/{id} (200 "item"), GET /other and POST /form
// (which parses its form); the gate refuses requests without
// "Authorization: ok" with 401; failures answer "vendor <status>".
func newCore(t *testing.T) (*fakeapi.Core, *httptest.Server) {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		fakeapi.WriteJSON(w, http.StatusOK, "item "+r.PathValue("id"))
	})
	mux.HandleFunc("GET /other", func(w http.ResponseWriter, r *http.Request) {
		fakeapi.Note(w, "other")
		fakeapi.WriteJSON(w, http.StatusTeapot, "other")
	})
	mux.HandleFunc("POST /form", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fakeapi.WriteJSON(w, http.StatusOK, r.PostForm.Get("a"))
	})
	c := fakeapi.New(fakeapi.Options{
		Handler: mux,
		GateFunc: func(w http.ResponseWriter, r *http.Request) bool {
			if r.Header.Get("Authorization") != "ok" {
				http.Error(w, "no", http.StatusUnauthorized)
				return false
			}
			return true
		},
		FailFunc: func(w http.ResponseWriter, _ *http.Request, status int) {
			w.WriteHeader(status)
			_, _ = io.WriteString(w, "vendor "+http.StatusText(status))
		},
		Secrets: []string{"token"},
	})
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return c, srv
}

type answer struct {
	status int
	body   string
	header http.Header
}

func do(t *testing.T, ctx context.Context, srv *httptest.Server, method, path, auth, body string) (answer, error) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", auth)
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b), resp.Header}, err
}

func get(t *testing.T, srv *httptest.Server, path string) answer {
	t.Helper()
	a, err := do(t, context.Background(), srv, "GET", path, "ok", "")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestCountsPerEndpointAndPath(t *testing.T) {
	c, srv := newCore(t)
	for _, p := range []string{"/items/1", "/items/1", "/items/2", "/other", "/nowhere"} {
		get(t, srv, p)
	}
	got := map[string]int{
		"total":           c.Requests(),
		"/items/1":        c.RequestsTo("GET", "/items/1"),
		"GET /items/{id}": c.RequestsMatching("GET /items/{id}"),
		"GET /other":      c.RequestsMatching("GET /other"),
		"GET /nowhere":    c.RequestsMatching("GET /nowhere"),
	}
	want := map[string]int{"total": 5, "/items/1": 2, "GET /items/{id}": 3, "GET /other": 1, "GET /nowhere": 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
	c.ResetCounters()
	if c.Requests() != 0 || c.RequestsMatching("GET /items/{id}") != 0 || len(c.Log()) != 0 {
		t.Errorf("after ResetCounters: %d requests, %d logged", c.Requests(), len(c.Log()))
	}
}

func TestFaultsInOrderAfterTheGate(t *testing.T) {
	c, srv := newCore(t)
	c.FailNext(1, http.StatusBadGateway)
	c.Inject(1, func(r *http.Request) bool { return r.URL.Path == "/other" }, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fakeapi.Limited(w)
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	c.FailNext(1, http.StatusServiceUnavailable)

	// A refused request uses no fault.
	if a, err := do(t, context.Background(), srv, "GET", "/items/1", "wrong", ""); err != nil || a.status != http.StatusUnauthorized {
		t.Fatalf("wrong token: %v %v", a, err)
	}
	var got []string
	for _, p := range []string{"/items/1", "/items/1", "/other", "/items/1"} {
		a := get(t, srv, p)
		got = append(got, strings.TrimSpace(p+" "+http.StatusText(a.status)+" "+a.body))
	}
	want := []string{
		"/items/1 Bad Gateway vendor Bad Gateway",
		// The /other fault waits for its request; the next one in line
		// takes this one.
		"/items/1 Service Unavailable vendor Service Unavailable",
		"/other Too Many Requests",
		`/items/1 OK "item 1"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
	if c.RateLimited() != 1 {
		t.Errorf("RateLimited() = %d, want 1", c.RateLimited())
	}
}

func TestFailNextWithoutAVendorBody(t *testing.T) {
	c := fakeapi.New(fakeapi.Options{Handler: http.NotFoundHandler()})
	c.FailNext(1, http.StatusInternalServerError)
	w := httptest.NewRecorder()
	c.ServeHTTP(w, httptest.NewRequest("GET", "/x", nil))
	if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), "Internal Server Error") {
		t.Errorf("FailNext without FailFunc: %d %q", w.Code, w.Body.String())
	}
}

func TestLogKeepsWhatWasAnswered(t *testing.T) {
	c, srv := newCore(t)
	get(t, srv, "/items/7?page=2")
	get(t, srv, "/other")
	if _, err := do(t, context.Background(), srv, "POST", "/form?x=1", "ok", "a=b&token=xoxb-secret"); err != nil {
		t.Fatal(err)
	}
	log := c.Log()
	type row struct {
		Method, Path, Endpoint string
		Query, Form            url.Values
		Status                 int
		Note                   string
	}
	var got []row
	for _, r := range log {
		got = append(got, row{r.Method, r.Path, r.Endpoint, r.Query, r.Form, r.Status, r.Note})
	}
	want := []row{
		{"GET", "/items/7", "GET /items/{id}", url.Values{"page": {"2"}}, nil, 200, ""},
		{"GET", "/other", "GET /other", url.Values{}, nil, http.StatusTeapot, "other"},
		{"POST", "/form", "POST /form", url.Values{"x": {"1"}}, url.Values{"a": {"b"}, "x": {"1"}}, 200, ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
	c.DisableLog()
	get(t, srv, "/items/1")
	if len(c.Log()) != 0 || c.Requests() != 4 {
		t.Errorf("after DisableLog: %d logged, %d counted", len(c.Log()), c.Requests())
	}
}

func TestLogIsBounded(t *testing.T) {
	c := fakeapi.New(fakeapi.Options{Handler: http.NotFoundHandler()})
	for i := range fakeapi.MaxLog + 1 {
		c.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/n?i="+strings.Repeat("x", i%3), nil))
	}
	if n := len(c.Log()); n > fakeapi.MaxLog || n < fakeapi.MaxLog/2 {
		t.Errorf("log holds %d requests, want between %d and %d", n, fakeapi.MaxLog/2, fakeapi.MaxLog)
	}
	if c.Requests() != fakeapi.MaxLog+1 {
		t.Errorf("Requests() = %d, want every one counted", c.Requests())
	}
}

// TestLatencyEndsWithTheClient: a request that waits an hour ends when its
// client gives up, a POST with a body too (the server notices only once the
// body was read).
func TestLatencyEndsWithTheClient(t *testing.T) {
	c, srv := newCore(t)
	c.SetLatency(time.Hour)
	for _, m := range []string{"GET", "POST"} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		done := make(chan error, 1)
		go func() {
			path, body := "/items/1", ""
			if m == "POST" {
				path, body = "/form", "a=b"
			}
			_, err := do(t, ctx, srv, m, path, "ok", body)
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s: err = %v, want the deadline", m, err)
			}
		case <-time.After(time.Minute): // hang guard only
			t.Fatalf("%s: the request outlived its client", m)
		}
		cancel()
	}
	c.SetLatency(0)
	if a := get(t, srv, "/items/1"); a.status != http.StatusOK {
		t.Errorf("without latency: %d", a.status)
	}
}

// TestInjectedStall: an answer that stalls, from faults, is one more fault.
func TestInjectedStall(t *testing.T) {
	c, srv := newCore(t)
	c.Inject(1, nil, faults.Stall(`{"items": [`))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := do(t, ctx, srv, "GET", "/items/1", "ok", ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("stalled: err = %v, want the deadline", err)
	}
	if a := get(t, srv, "/items/1"); a.status != http.StatusOK {
		t.Errorf("after the stall: %d", a.status)
	}
}

func TestClock(t *testing.T) {
	c := fakeapi.New(fakeapi.Options{})
	if d := time.Since(c.Now()); d < 0 || d > time.Hour {
		t.Errorf("default clock is %v off", d)
	}
	t0 := time.Date(2025, 11, 20, 10, 0, 0, 0, time.UTC)
	c.SetNow(func() time.Time { return t0 })
	if !c.Now().Equal(t0) {
		t.Errorf("Now() = %v, want %v", c.Now(), t0)
	}
}

func TestWriteJSON(t *testing.T) {
	w := httptest.NewRecorder()
	fakeapi.WriteJSON(w, http.StatusCreated, map[string]string{"text": "<@U1> & co"})
	if w.Code != http.StatusCreated || w.Body.String() != `{"text":"<@U1> & co"}` ||
		w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Content-Length") != "21" {
		t.Errorf("%d %q %v", w.Code, w.Body.String(), w.Header())
	}
	w = httptest.NewRecorder()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	fakeapi.WriteJSON(w, http.StatusOK, func() {})
	if w.Code != http.StatusInternalServerError {
		t.Errorf("unencodable value: %d", w.Code)
	}
}

func TestOffset(t *testing.T) {
	for _, c := range []struct{ n, offset, limit, lo, hi int }{
		{10, 0, 3, 0, 3}, {10, 9, 3, 9, 10}, {10, 10, 3, 10, 10}, {10, 12, 3, 10, 10}, {0, 0, 25, 0, 0},
	} {
		lo, hi, more := fakeapi.Offset(c.n, c.offset, c.limit)
		if lo != c.lo || hi != c.hi || more != (c.hi < c.n) {
			t.Errorf("Offset(%d, %d, %d) = %d, %d, %t", c.n, c.offset, c.limit, lo, hi, more)
		}
	}
}

func TestPagesLink(t *testing.T) {
	for _, c := range []struct {
		query  string
		lo, hi int
		link   string
	}{
		{"", 0, 30, `<http://x.test/l?page=2>; rel="next", <http://x.test/l?page=4>; rel="last"`},
		{"?per_page=40&page=2", 40, 80, `<http://x.test/l?page=1&per_page=40>; rel="prev", <http://x.test/l?page=3&per_page=40>; rel="next", ` +
			`<http://x.test/l?page=3&per_page=40>; rel="last", <http://x.test/l?page=1&per_page=40>; rel="first"`},
		{"?per_page=500&page=1", 0, 100, ""},
		{"?page=9", 100, 100, `<http://x.test/l?page=4>; rel="prev", <http://x.test/l?page=1>; rel="first"`},
	} {
		w := httptest.NewRecorder()
		lo, hi := fakeapi.Pages(w, httptest.NewRequest("GET", "http://x.test/l"+c.query, nil), 100, 30, 100)
		if lo != c.lo || hi != c.hi || w.Header().Get("Link") != c.link {
			t.Errorf("%q: [%d, %d) Link %q, want [%d, %d) %q", c.query, lo, hi, w.Header().Get("Link"), c.lo, c.hi, c.link)
		}
	}
}

func TestCursor(t *testing.T) {
	cur := fakeapi.Cursor("next_ts", 1700000000000001)
	if cur != "bmV4dF90czoxNzAwMDAwMDAwMDAwMDAx" {
		t.Errorf("cursor %q", cur)
	}
	if n, err := fakeapi.ParseCursor("next_ts", cur); err != nil || n != 1700000000000001 {
		t.Errorf("ParseCursor = %d, %v", n, err)
	}
	for _, bad := range []string{"", "%%%", fakeapi.Cursor("other", 5), fakeapi.Cursor("next_ts", 0)} {
		if _, err := fakeapi.ParseCursor("next_ts", bad); err == nil {
			t.Errorf("ParseCursor(%q) accepted it", bad)
		}
	}
}

func TestInsertSorted(t *testing.T) {
	type item struct{ at, seq int }
	var s []item
	for i, at := range []int{5, 1, 5, 3, 1, 9} {
		s = fakeapi.InsertSorted(s, item{at, i}, func(a, b item) bool { return a.at < b.at })
	}
	want := []item{{1, 1}, {1, 4}, {3, 3}, {5, 0}, {5, 2}, {9, 5}}
	if diff := cmp.Diff(want, s, cmp.AllowUnexported(item{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestObjectKeepsItsOrder(t *testing.T) {
	var nilPtr *int
	zero := 0
	o := fakeapi.Obj("z", 1, "a", "<b>", "m", nil, "skip", fakeapi.OmitEmpty(""), "nested", fakeapi.Obj("y", true, "x", []int{}),
		"gone", fakeapi.OmitEmpty(nilPtr), "kept", fakeapi.OmitEmpty(&zero), "none", fakeapi.OmitEmpty([]string{}),
		"empty", fakeapi.OmitEmpty(map[string]int{}), "null", fakeapi.OmitEmpty(nil)).With("last", 2.5)
	w := httptest.NewRecorder()
	fakeapi.WriteJSON(w, http.StatusOK, []any{o, fakeapi.Obj()})
	want := `[{"z":1,"a":"<b>","m":null,"nested":{"y":true,"x":[]},"kept":0,"last":2.5},{}]`
	if got := w.Body.String(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	for _, bad := range [][]any{{"odd"}, {1, "key not a string"}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Obj(%v) did not panic", bad)
				}
			}()
			fakeapi.Obj(bad...)
		}()
	}
}
