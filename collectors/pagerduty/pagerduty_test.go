package pagerduty_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/time/rate"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/collectors/pagerduty"
	"github.com/groundwork-dev/groundwork/collectors/pagerduty/pagerdutyfake"
	"github.com/groundwork-dev/groundwork/timeline"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const token = "u+pd-secret-token-7f3a9c"

// sleeps records the waits the transport asks for and returns at once.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.d)
}

type bundle struct {
	fake   *pagerdutyfake.Fake
	srv    *httptest.Server
	col    *pagerduty.Collector
	sleeps *sleeps
}

var testNow = time.Date(2025, 11, 21, 8, 0, 0, 0, time.UTC)

// setup serves a fake (through wrap, when given, which may also configure
// the fake before it serves) and builds a collector on it with instant
// sleeps and no pacing.
func setup(t *testing.T, wrap func(f *pagerdutyfake.Fake) http.Handler) *bundle {
	t.Helper()
	b := &bundle{fake: pagerdutyfake.New(token), sleeps: &sleeps{}}
	var handler http.Handler = b.fake
	if wrap != nil {
		handler = wrap(b.fake)
	}
	b.srv = httptest.NewServer(handler)
	t.Cleanup(b.srv.Close)
	col, err := pagerduty.New(pagerduty.Config{Token: token, APIURL: b.srv.URL, WebhookSecret: "whsec"}, pagerduty.Options{
		ClientOptions: collectors.ClientOptions{
			SleepFunc: b.sleeps.sleep,
			NowFunc:   func() time.Time { return testNow },
		},
		Limiter: rate.NewLimiter(rate.Inf, 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	b.col = col
	return b
}

func (b *bundle) collect(ctx context.Context, id string) ([]timeline.Event, error) {
	var events []timeline.Event
	err := b.col.Collect(ctx, timeline.Window{IncidentID: id, Start: testNow, End: testNow}, func(e timeline.Event) error {
		events = append(events, e)
		return nil
	})
	slices.SortFunc(events, timeline.Compare)
	return events, err
}

func eventIDs(events []timeline.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

func golden(t *testing.T, name string, v any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), buf.String()); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

// TestCollectCheckoutIncidentGolden collects the fake's realistic incident:
// every log entry but the annotate one, every note (in UTC, whatever offset
// its author wrote), every alert, with user names and emails resolved.
func TestCollectCheckoutIncidentGolden(t *testing.T) {
	b := setup(t, nil)
	id := pagerdutyfake.SeedCheckoutIncident(b.fake)
	events, err := b.collect(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if err := e.Validate(); err != nil {
			t.Error(err)
		}
		if e.OccurredAt.Location() != time.UTC {
			t.Errorf("%s: occurred_at %v is not in UTC", e.ID, e.OccurredAt)
		}
	}
	golden(t, "checkout_events.golden.json", events)
}

func TestAnnotateEntriesAreNotDuplicatedWithNotes(t *testing.T) {
	b := setup(t, nil)
	id := pagerdutyfake.SeedCheckoutIncident(b.fake)
	events, err := b.collect(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var annotated []string
	for _, e := range events {
		if e.ID == "pagerduty:log_entry:R8ANNOTATE000000000000008" {
			t.Errorf("the annotate log entry was emitted as %s", e.Kind)
		}
		if e.Kind == timeline.KindPageAnnotated {
			annotated = append(annotated, e.ID)
		}
	}
	want := []string{"pagerduty:note:PNOTEBOT1", "pagerduty:note:PNOTEPRI1", "pagerduty:note:PNOTETOM1"}
	if diff := cmp.Diff(want, annotated); diff != "" {
		t.Errorf("page.annotated events (-want +got):\n%s", diff)
	}
}

func TestNotesAreConvertedToUTC(t *testing.T) {
	b := setup(t, nil)
	id := pagerdutyfake.SeedCheckoutIncident(b.fake)
	events, err := b.collect(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Time{
		// Written as 2025-11-20T05:12:00-05:00 and 2025-11-20T15:40:00+05:30.
		"pagerduty:note:PNOTETOM1": time.Date(2025, 11, 20, 10, 12, 0, 0, time.UTC),
		"pagerduty:note:PNOTEPRI1": time.Date(2025, 11, 20, 10, 10, 0, 0, time.UTC),
	}
	for _, e := range events {
		if w, ok := want[e.ID]; ok {
			if !e.OccurredAt.Equal(w) || e.OccurredAt.Location() != time.UTC {
				t.Errorf("%s: occurred_at %v, want %v", e.ID, e.OccurredAt, w)
			}
			delete(want, e.ID)
		}
	}
	if len(want) > 0 {
		t.Errorf("notes not emitted: %v", want)
	}
}

func TestUserLookupsAreCachedPerRun(t *testing.T) {
	b := setup(t, nil)
	id := pagerdutyfake.SeedCheckoutIncident(b.fake)
	if _, err := b.collect(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	// Three people appear on many entries, notes and assignments; the bot
	// user and the service are not looked up.
	if got := b.fake.RequestsMatching("GET /users/{id}"); got != 3 {
		t.Errorf("GET /users/{id} requested %d times, want 3", got)
	}
	for _, u := range []string{"PNATPRI", "PORTTOM", "POKASAM"} {
		if got := b.fake.RequestsTo("GET", "/users/"+u); got != 1 {
			t.Errorf("GET /users/%s requested %d times, want 1", u, got)
		}
	}
	// A new run looks them up again (names may have changed).
	if _, err := b.collect(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if got := b.fake.RequestsMatching("GET /users/{id}"); got != 6 {
		t.Errorf("after a second run GET /users/{id} requested %d times, want 6", got)
	}
}

func TestDeletedUserKeepsReferenceName(t *testing.T) {
	b := setup(t, nil)
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	b.fake.AddIncident(pagerdutyfake.Incident{ID: "PGONE", CreatedAt: start})
	gone := pagerdutyfake.UserRef("PGONEUSR", "Former Employee")
	b.fake.AddLogEntry(pagerdutyfake.LogEntry{ID: "RACK", IncidentID: "PGONE", Type: "acknowledge", Summary: "Acknowledged", CreatedAt: start, Agent: &gone})
	events, err := b.collect(context.Background(), "PGONE")
	if err != nil {
		t.Fatal(err)
	}
	want := &timeline.Actor{ID: "PGONEUSR", Name: "Former Employee"}
	if len(events) != 1 || !cmp.Equal(events[0].Actor, want) {
		t.Errorf("events %+v, want one with actor %+v", events, want)
	}
}

// seedMany adds an incident with n notify entries, one every step from start.
func seedMany(f *pagerdutyfake.Fake, id string, n int, start time.Time, step time.Duration) {
	svc := pagerdutyfake.ServiceRef("PSVC", "svc")
	f.AddIncident(pagerdutyfake.Incident{ID: id, Number: 7, Title: "busy", CreatedAt: start, Service: svc})
	for i := range n {
		f.AddLogEntry(pagerdutyfake.LogEntry{ID: fmt.Sprintf("R%06d", i), IncidentID: id, Type: "notify",
			Summary: "Notified", CreatedAt: start.Add(time.Duration(i) * step), Agent: &svc,
			Channel: map[string]any{"type": "email"}})
	}
}

// requestsMatching returns the path and query of every request the fake
// received whose path and query contain sub, oldest first.
func requestsMatching(f *pagerdutyfake.Fake, sub string) []string {
	var out []string
	for _, r := range f.Log() {
		if u := r.Path + "?" + r.Query.Encode(); strings.Contains(u, sub) {
			out = append(out, u)
		}
	}
	return out
}

func TestLogEntriesOffsetPaging(t *testing.T) {
	b := setup(t, nil)
	seedMany(b.fake, "PMANY", 250, time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC), time.Second)
	events, err := b.collect(context.Background(), "PMANY")
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 250 {
		t.Fatalf("%d events, want 250", len(events))
	}
	for i, e := range events {
		if want := fmt.Sprintf("pagerduty:log_entry:R%06d", i); e.ID != want {
			t.Fatalf("event %d is %s, want %s", i, e.ID, want)
		}
	}
	pages := requestsMatching(b.fake, "/log_entries")
	var offsets []string
	for _, p := range pages {
		for _, kv := range strings.Split(strings.SplitN(p, "?", 2)[1], "&") {
			if strings.HasPrefix(kv, "offset=") || (strings.HasPrefix(kv, "limit=") && kv != "limit=100") {
				offsets = append(offsets, kv)
			}
		}
	}
	// go-pagerduty omits offset=0.
	if diff := cmp.Diff([]string{"offset=100", "offset=200"}, offsets); diff != "" || len(pages) != 3 {
		t.Errorf("%d log entry pages %v (-want +got offsets):\n%s", len(pages), pages, diff)
	}
}

// TestLogEntriesPastTenThousandSplitTheRange: PagerDuty refuses
// offset+limit over 10,000 (the fake too), so the collector reads a bigger
// incident in time ranges, each of at most 10,000 entries.
func TestLogEntriesPastTenThousandSplitTheRange(t *testing.T) {
	b := setup(t, nil)
	const n = 10250
	seedMany(b.fake, "PHUGE", n, time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC), time.Second)
	events, err := b.collect(context.Background(), "PHUGE")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range events {
		if seen[e.ID] {
			t.Fatalf("%s emitted twice", e.ID)
		}
		seen[e.ID] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct log entries, want %d", len(seen), n)
	}
	// The fake answers 400 past the bound, so no error means none was asked.
	if got := requestsMatching(b.fake, "since="); len(got) == 0 {
		t.Error("no request used since/until")
	}
}

func TestAlertsOffsetPaging(t *testing.T) {
	b := setup(t, nil)
	start := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	b.fake.AddIncident(pagerdutyfake.Incident{ID: "PALERTS", CreatedAt: start})
	for i := range 205 {
		b.fake.AddAlert(pagerdutyfake.Alert{ID: fmt.Sprintf("PA%04d", i), IncidentID: "PALERTS", Summary: "disk full",
			CreatedAt: start.Add(time.Duration(i) * time.Minute), Service: pagerdutyfake.ServiceRef("PSVC", "svc")})
	}
	events, err := b.collect(context.Background(), "PALERTS")
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 205 || b.fake.RequestsMatching("GET /incidents/{id}/alerts") != 3 {
		t.Errorf("%d events in %d alert requests, want 205 in 3", len(events), b.fake.RequestsMatching("GET /incidents/{id}/alerts"))
	}
}

func TestRateLimitWaitsRatelimitReset(t *testing.T) {
	b := setup(t, nil)
	id := pagerdutyfake.SeedCheckoutIncident(b.fake)
	b.fake.RateLimitNext(2, 7)
	events, err := b.collect(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 17 {
		t.Errorf("%d events after the rate limit, want 17", len(events))
	}
	if diff := cmp.Diff([]time.Duration{7 * time.Second, 7 * time.Second}, b.sleeps.all()); diff != "" {
		t.Errorf("requested waits (-want +got):\n%s", diff)
	}
}

func TestRateLimitTooLongIsRateLimitError(t *testing.T) {
	b := setup(t, nil)
	id := pagerdutyfake.SeedCheckoutIncident(b.fake)
	b.fake.RateLimitNext(100, 3600)
	_, err := b.col.DescribeIncident(context.Background(), id)
	var rl *collectors.RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != time.Hour {
		t.Fatalf("err = %v, want a *collectors.RateLimitError of 1h", err)
	}
	_, err = b.collect(context.Background(), id)
	if !errors.As(err, &rl) {
		t.Fatalf("Collect err = %v, want a *collectors.RateLimitError", err)
	}
}

func TestServerErrorsAreRetried(t *testing.T) {
	b := setup(t, nil)
	id := pagerdutyfake.SeedCheckoutIncident(b.fake)
	b.fake.FailNext(3, http.StatusServiceUnavailable)
	events, err := b.collect(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 17 || len(b.sleeps.all()) != 3 {
		t.Errorf("%d events after %d backoffs, want 17 after 3", len(events), len(b.sleeps.all()))
	}
}

// TestOneListFailingKeepsTheOthers: the notes endpoint always fails; the
// log entries and alerts are still emitted and the error names the notes.
func TestOneListFailingKeepsTheOthers(t *testing.T) {
	b := setup(t, func(f *pagerdutyfake.Fake) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/notes") {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = w.Write([]byte(`{"error":{"message":"Internal Server Error","code":2000}}`))
				return
			}
			f.ServeHTTP(w, r)
		})
	})
	id := pagerdutyfake.SeedCheckoutIncident(b.fake)
	events, err := b.collect(context.Background(), id)
	if err == nil || !strings.Contains(err.Error(), "notes") {
		t.Fatalf("err = %v, want one naming the notes", err)
	}
	if strings.Contains(err.Error(), "log entries") || strings.Contains(err.Error(), "alerts") {
		t.Errorf("err = %v names lists that succeeded", err)
	}
	if len(events) != 14 {
		t.Errorf("%d events, want the 12 log entries and 2 alerts", len(events))
	}
}

func TestDescribeIncident(t *testing.T) {
	b := setup(t, nil)
	id := pagerdutyfake.SeedCheckoutIncident(b.fake)
	got, err := b.col.DescribeIncident(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	resolved := time.Date(2025, 11, 20, 11, 10, 35, 0, time.UTC)
	want := timeline.Incident{
		ID: id, Title: "Checkout API error rate above 5%", ServiceID: "PSVC001", Urgency: "high",
		Source: "pagerduty", StartedAt: time.Date(2025, 11, 20, 9, 58, 2, 0, time.UTC), ResolvedAt: &resolved,
		StatusAt: resolved, URL: "https://acme.pagerduty.com/incidents/" + id,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("incident (-want +got):\n%s", diff)
	}
}

func TestMissingIncidentIsNotFound(t *testing.T) {
	b := setup(t, nil)
	_, err := b.col.DescribeIncident(context.Background(), "PNOPE")
	if !errors.Is(err, timeline.ErrNotFound) {
		t.Errorf("DescribeIncident err = %v, want timeline.ErrNotFound", err)
	}
	_, err = b.collect(context.Background(), "PNOPE")
	if !errors.Is(err, timeline.ErrNotFound) {
		t.Errorf("Collect err = %v, want timeline.ErrNotFound", err)
	}
}

func TestTokenIsNeverInAnError(t *testing.T) {
	// An upstream (or a proxy) that echoes the request's credentials.
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		msg, _ := json.Marshal("bad request with " + r.Header.Get("Authorization"))
		_, _ = fmt.Fprintf(w, `{"error":{"message":%s,"code":2001}}`, msg)
	})
	b := setup(t, func(*pagerdutyfake.Fake) http.Handler { return echo })
	_, err := b.col.DescribeIncident(context.Background(), "PX")
	if err == nil || strings.Contains(err.Error(), token) {
		t.Errorf("DescribeIncident err = %v, want an error without the token", err)
	}
	_, err = b.collect(context.Background(), "PX")
	if err == nil || strings.Contains(err.Error(), token) {
		t.Errorf("Collect err = %v, want an error without the token", err)
	}

	// A wrong token, and server errors until the retries run out.
	b = setup(t, func(*pagerdutyfake.Fake) http.Handler { return pagerdutyfake.New("another-token") })
	_, err = b.collect(context.Background(), "PX")
	if err == nil || strings.Contains(err.Error(), token) {
		t.Errorf("401: err = %v, want an error without the token", err)
	}
	b = setup(t, nil)
	b.fake.FailNext(1000, http.StatusBadGateway)
	_, err = b.col.DescribeIncident(context.Background(), "PX")
	if err == nil || strings.Contains(err.Error(), token) {
		t.Errorf("502: err = %v, want an error without the token", err)
	}
}

func TestEmitErrorIsReturnedUnchanged(t *testing.T) {
	b := setup(t, nil)
	id := pagerdutyfake.SeedCheckoutIncident(b.fake)
	stop := errors.New("store is down")
	calls := 0
	err := b.col.Collect(context.Background(), timeline.Window{IncidentID: id}, func(timeline.Event) error {
		calls++
		return stop
	})
	if err != stop {
		t.Errorf("err = %v, want the emit error itself", err)
	}
	if calls != 1 {
		t.Errorf("emit called %d times after failing, want 1", calls)
	}
}

func TestCancelledContext(t *testing.T) {
	b := setup(t, nil)
	id := pagerdutyfake.SeedCheckoutIncident(b.fake)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := b.collect(ctx, id)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestAPIURLWithTrailingSlash(t *testing.T) {
	f := pagerdutyfake.New(token)
	srv := httptest.NewServer(f)
	defer srv.Close()
	id := pagerdutyfake.SeedCheckoutIncident(f)
	col, err := pagerduty.New(pagerduty.Config{Token: token, APIURL: srv.URL + "/", WebhookSecret: "s"},
		pagerduty.Options{Limiter: rate.NewLimiter(rate.Inf, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := col.DescribeIncident(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if f.RequestsTo("GET", "/incidents/"+id) != 1 {
		t.Error("the incident was not requested at its path")
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  pagerduty.Config
		want string // substring of the error; empty for none
	}{
		{"disabled", pagerduty.Config{}, ""},
		{"enabled", pagerduty.Config{Token: "t", WebhookSecret: "w"}, ""},
		{"eu", pagerduty.Config{Token: "t", WebhookSecret: "w", APIURL: "https://api.eu.pagerduty.com"}, ""},
		{"no webhook secret", pagerduty.Config{Token: "t"}, "sources.pagerduty.webhook_secret"},
		{"relative url", pagerduty.Config{Token: "t", WebhookSecret: "w", APIURL: "api.pagerduty.com"}, "sources.pagerduty.api_url"},
		{"ftp url", pagerduty.Config{Token: "t", WebhookSecret: "w", APIURL: "ftp://x"}, "sources.pagerduty.api_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
	if got := (pagerduty.Config{}).WithDefaults().APIURL; got != "https://api.pagerduty.com" || pagerduty.DefaultConfig().APIURL != got {
		t.Errorf("default api_url %q", got)
	}
	if (pagerduty.Config{}).Enabled() || !(pagerduty.Config{Token: "t"}).Enabled() {
		t.Error("Enabled() should follow the token")
	}
	if _, err := pagerduty.New(pagerduty.Config{}, pagerduty.Options{}); err == nil || !strings.Contains(err.Error(), "sources.pagerduty.token") {
		t.Errorf("New on a disabled config: %v", err)
	}
	if c, err := pagerduty.New(pagerduty.Config{Token: "t", WebhookSecret: "w"}, pagerduty.Options{}); err != nil || c.Name() != "pagerduty" {
		t.Errorf("New: %v, %v", c, err)
	}
}

func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name    string
		status  int
		header  map[string]string
		wait    time.Duration
		limited bool
	}{
		{"ok", 200, nil, 0, false},
		{"server error", 503, map[string]string{"ratelimit-reset": "5"}, 0, false},
		{"reset", 429, map[string]string{"ratelimit-reset": "12"}, 12 * time.Second, true},
		{"reset wins", 429, map[string]string{"ratelimit-reset": "3", "Retry-After": "30"}, 3 * time.Second, true},
		{"retry-after", 429, map[string]string{"Retry-After": "30"}, 30 * time.Second, true},
		{"zero is not hot", 429, map[string]string{"ratelimit-reset": "0"}, time.Second, true},
		{"fraction is not hot", 429, map[string]string{"ratelimit-reset": "0.2"}, time.Second, true},
		{"nothing", 429, nil, time.Second, true},
		{"garbage", 429, map[string]string{"ratelimit-reset": "soon"}, time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tc.status, Header: http.Header{}}
			for k, v := range tc.header {
				resp.Header.Set(k, v)
			}
			wait, limited := pagerduty.RetryAfter(resp, testNow)
			if wait != tc.wait || limited != tc.limited {
				t.Errorf("RetryAfter = %v, %v; want %v, %v", wait, limited, tc.wait, tc.limited)
			}
		})
	}
}

// withoutTotal hides total from the fake, as if PagerDuty did not report it.
func withoutTotal(f *pagerdutyfake.Fake) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		q.Del("total")
		r.URL.RawQuery = q.Encode()
		f.ServeHTTP(w, r)
	})
}

// TestLogEntriesPastTheBoundWithoutTotal: when no total warns of a range
// too big to page, the collector notices at the bound, reads the range again
// in halves and emits each entry once.
func TestLogEntriesPastTheBoundWithoutTotal(t *testing.T) {
	pagerduty.SetMaxOffset(t, 1000)
	b := setup(t, withoutTotal)
	const n = 2500
	seedMany(b.fake, "PBIG", n, testNow.Add(-3*time.Hour), time.Second)
	var ids []string
	err := b.col.Collect(context.Background(), timeline.Window{IncidentID: "PBIG"}, func(e timeline.Event) error {
		ids = append(ids, e.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	if len(ids) != n || len(slices.Compact(ids)) != n {
		t.Errorf("%d events emitted, want %d distinct ones each once", len(ids), n)
	}
}

func TestLogEntriesInOneSecondPastTheBound(t *testing.T) {
	pagerduty.SetMaxOffset(t, 1000)
	b := setup(t, nil)
	seedMany(b.fake, "PBURST", 1200, testNow.Add(-time.Hour), 0)
	events, err := b.collect(context.Background(), "PBURST")
	if err == nil || !strings.Contains(err.Error(), "cannot be split further") {
		t.Errorf("err = %v, want one saying the range cannot be split", err)
	}
	if len(events) != 1000 {
		t.Errorf("%d events, want the 1000 that could be paged", len(events))
	}
}

func TestAlertsPastTheBound(t *testing.T) {
	pagerduty.SetMaxOffset(t, 1000)
	b := setup(t, nil)
	b.fake.AddIncident(pagerdutyfake.Incident{ID: "PALERTS", CreatedAt: testNow})
	for i := range 1050 {
		b.fake.AddAlert(pagerdutyfake.Alert{ID: fmt.Sprintf("PA%04d", i), IncidentID: "PALERTS", Summary: "disk full",
			CreatedAt: testNow, Service: pagerdutyfake.ServiceRef("PSVC", "svc")})
	}
	events, err := b.collect(context.Background(), "PALERTS")
	if err == nil || !strings.Contains(err.Error(), "alerts") || len(events) != 1000 {
		t.Errorf("%d events, err = %v; want 1000 and an error naming the alerts", len(events), err)
	}
}
