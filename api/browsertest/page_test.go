package browsertest

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"golang.org/x/time/rate"

	"github.com/groundwork-dev/groundwork/api"
	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/collectors/fakeworld"
	"github.com/groundwork-dev/groundwork/collectors/github"
	"github.com/groundwork-dev/groundwork/collectors/pagerduty"
	"github.com/groundwork-dev/groundwork/collectors/slack"
	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "write the README's screenshot, deploy/screenshots/incident-page.png")

const (
	readToken  = "browser-read-token"
	writeToken = "browser-write-token"
	// liveIncident is an open incident the live test publishes to.
	liveIncident = "PLIVE01"
	liveChannel  = "C0LIVE"
)

// chromium finds the browser: GROUNDWORK_CHROMIUM, /usr/bin/chromium, or
// chromium on the PATH. Without one the test fails (it never skips),
// naming the package to install.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("GROUNDWORK_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("GROUNDWORK_CHROMIUM=%s: %v; unset it to use Debian's chromium package (apt-get install -y chromium)", p, err)
		}
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium for the browser tests of package api/browsertest: install Debian's chromium package: apt-get install -y chromium " +
		"(or set GROUNDWORK_CHROMIUM to a Chromium binary)")
	return ""
}

// artifacts is where the tests write what a person looks at afterwards.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("GROUNDWORK_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "groundwork-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// fixture is a server with the demo incident collected through the real
// collectors from the fake world, and an open incident for the live test.
type fixture struct {
	store  *postgres.Store
	server *api.Server
	srv    *httptest.Server
	mu     sync.Mutex
	now    time.Time
	// feeds records the Last-Event-ID of each request of the live
	// incident's page stream; gate, when set, holds the next one until it
	// is closed.
	feeds []string
	gate  chan struct{}
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	schema := pgtest.New(t)
	st := postgres.New(schema.Pool)
	cursorKey, err := st.CursorKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	shareKey, err := st.ShareKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: st, now: time.Date(2025, 11, 21, 9, 0, 0, 0, time.UTC)}
	listener := postgres.NewFeedListener(schema.Pool)
	lctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = listener.Run(lctx) }()
	review := timeline.DefaultReviewConfig()
	review.Location, _ = time.LoadLocation("Europe/London")
	f.server = &api.Server{
		Store: st, Cursors: timeline.CursorCodec{Key: cursorKey}, Summaries: st, Versions: st, Annotations: st,
		Shares: st, ShareCodec: timeline.ShareCodec{Key: shareKey}, Review: review, Feed: listener,
		Tokens: []api.Token{
			{Name: "facilitators", Token: readToken, Scopes: []string{api.ScopeRead}},
			{Name: "automation", Token: writeToken, Scopes: []string{api.ScopeRead, api.ScopeWrite}},
		},
		NowFunc: f.clock, HeartbeatInterval: time.Second,
	}
	h := f.server.Handler()
	feedPath := "/incidents/" + liveIncident + "/feed"
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == feedPath {
			f.mu.Lock()
			f.feeds = append(f.feeds, r.Header.Get("Last-Event-ID"))
			gate := f.gate
			f.gate = nil
			f.mu.Unlock()
			if gate != nil {
				select {
				case <-gate:
				case <-r.Context().Done():
					return
				}
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		f.server.CloseStreams()
		f.srv.CloseClientConnections()
		f.srv.Close()
		stop()
		<-done
	})
	collectDemo(t, f)
	return f
}

// collectDemo collects the demo incident as a collection job does.
func collectDemo(t *testing.T, f *fixture) {
	t.Helper()
	ctx := context.Background()
	w, err := fakeworld.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	pd, err := pagerduty.New(pagerduty.Config{Token: fakeworld.PagerDutyToken, APIURL: w.PDURL, WebhookSecret: "s"},
		pagerduty.Options{Limiter: rate.NewLimiter(rate.Inf, 0), RecentLoad: true})
	if err != nil {
		t.Fatal(err)
	}
	gh, err := github.New(github.Config{Token: fakeworld.GitHubToken, APIURL: w.GHURL, WebhookSecret: "s"}, github.Options{RequestsPerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	sl, err := slack.New(slack.Config{Token: fakeworld.SlackToken, APIURL: w.SlackURL, SigningSecret: "s"},
		slack.Options{Limiter: rate.NewLimiter(rate.Inf, 0)})
	if err != nil {
		t.Fatal(err)
	}
	inc, err := pd.DescribeIncident(ctx, fakeworld.IncidentID)
	if err != nil {
		t.Fatal(err)
	}
	inc.WindowStart, inc.WindowEnd = timeline.WindowFor(inc.StartedAt, inc.ResolvedAt, 2*time.Hour, 30*time.Minute, f.clock())
	inc.Repos, inc.Channels = []string{fakeworld.Repo}, []string{fakeworld.Channel}
	if err := f.store.UpsertIncident(ctx, inc); err != nil {
		t.Fatal(err)
	}
	reg := &collectors.Registry{}
	reg.Register(pd)
	reg.Register(gh)
	reg.Register(sl)
	res := (&collectors.Runner{Registry: reg, Store: f.store}).Run(ctx, timeline.Window{IncidentID: inc.ID,
		Start: inc.WindowStart, End: inc.WindowEnd, Repos: inc.Repos, Channels: inc.Channels})
	if err := res.Err(); err != nil {
		t.Fatalf("collecting the demo incident: %v", err)
	}
}

// call sends an API request with a token and decodes the JSON answer.
func (f *fixture) call(t *testing.T, method, path, token, body string, out any) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, f.srv.URL+path, r)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

func (f *fixture) share(t *testing.T, id, body string) api.ShareLinkJSON {
	t.Helper()
	var l api.ShareLinkJSON
	f.call(t, http.MethodPost, "/v1/incidents/"+id+"/share", writeToken, body, &l)
	return l
}

// browser is one Chromium tab and what its console said.
type browser struct {
	ctx  context.Context
	mu   sync.Mutex
	logs []string
	errs []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromium(t)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true), chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("hide-scrollbars", true), chromedp.Flag("mute-audio", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 1000))
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{ctx: ctx}
	// The first action starts the browser.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	err := chromedp.Listen(ctx, func(ev any) {
		line, isErr := consoleLine(ev)
		if line == "" {
			return
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		b.logs = append(b.logs, line)
		if isErr {
			b.errs = append(b.errs, line)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// consoleLine is what the console shows for ev, and whether it is an
// error: console.error, an uncaught exception, an error of the browser's
// log (a failed load, a policy violation).
func consoleLine(ev any) (string, bool) {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		var parts []string
		for _, a := range ev.Args {
			if a.Value != nil {
				parts = append(parts, string(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		return "console." + string(ev.Type) + ": " + strings.Join(parts, " "), ev.Type == runtime.ConsoleAPICalledTypeError
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil {
			text += " " + d.Exception.Description
		}
		return fmt.Sprintf("exception: %s (%s:%d)", text, d.URL, d.LineNumber+1), true
	case *cdplog.EventEntryAdded:
		e := ev.Entry
		return fmt.Sprintf("log %s %s: %s %s", e.Level, e.Source, e.Text, e.URL), e.Level == cdplog.EntryLevelError
	}
	return "", false
}

// do runs actions with a deadline (a guard against a hang, not a timing).
func (b *browser) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v\nconsole:\n%s", err, strings.Join(b.console(), "\n"))
	}
}

func eval[T any](t *testing.T, b *browser, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluating %s: %v", js, err)
	}
	return v
}

func (b *browser) console() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.logs)
}

// takeErrors returns the console errors since the last call.
func (b *browser) takeErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.errs
	b.errs = nil
	return out
}

// waitFor polls a JavaScript condition until it holds (a hang guard
// bounds it, not a timing).
func waitFor(t *testing.T, b *browser, what, js string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		if err == nil && ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s (%s): %v\nconsole:\n%s", what, js, err, strings.Join(b.console(), "\n"))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func writeArtifact(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(artifacts(t), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", p, len(data))
	return p
}

type laneInfo struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	Marks int    `json:"marks"`
	W     int    `json:"w"`
	H     int    `json:"h"`
}

func TestMeetingPage(t *testing.T) {
	f := setup(t)
	b := newBrowser(t)
	demo := f.share(t, fakeworld.IncidentID, `{"expires_in": "2h"}`)

	t.Run("the demo incident renders every lane with no console error", func(t *testing.T) {
		b.takeErrors()
		b.do(t, chromedp.Navigate(demo.URL), chromedp.WaitVisible(chromedp.CSS("#lanes")))
		// The stylesheet and the script loaded under the policy.
		if w := eval[string](t, b, `getComputedStyle(document.querySelector(".lane-label")).fontWeight`); w != "600" {
			t.Errorf("lane label font weight %q: page.css did not apply", w)
		}
		if !eval[bool](t, b, `typeof window.groundworkLive === "object"`) {
			t.Error("page.js did not run")
		}
		lanes := eval[[]laneInfo](t, b, `Array.from(document.querySelectorAll("#lanes g.lane")).map(g => {
			const r = g.getBoundingClientRect();
			return {key: g.dataset.lane, label: g.querySelector(".lane-label").textContent,
				marks: g.querySelectorAll("circle, rect.bar, polygon").length, w: Math.round(r.width), h: Math.round(r.height)};
		})`)
		var people api.PeopleJSON
		f.call(t, http.MethodGet, "/v1/incidents/"+fakeworld.IncidentID+"/people", readToken, "", &people)
		want := []string{"pager", "alerts", "changes", "chat:" + fakeworld.Channel}
		for _, p := range people.Responders {
			want = append(want, "person:"+p.ID)
		}
		if len(people.Responders) < 2 {
			t.Errorf("the demo has %d responders, want at least 2", len(people.Responders))
		}
		got := map[string]laneInfo{}
		for _, l := range lanes {
			got[l.Key] = l
		}
		for _, key := range want {
			l, ok := got[key]
			switch {
			case !ok:
				t.Errorf("lane %s is missing; lanes: %+v", key, lanes)
			case l.Marks == 0:
				t.Errorf("lane %s (%s) has no marks", key, l.Label)
			case l.W < 600 || l.H < 10:
				t.Errorf("lane %s is drawn %dx%d", key, l.W, l.H)
			}
		}
		if n := eval[int](t, b, `document.querySelectorAll("#lanes .flag").length`); n < 4 {
			t.Errorf("%d flags, want the key moments", n)
		}
		if n := eval[int](t, b, `document.querySelectorAll("#rows tr").length`); n < 10 {
			t.Errorf("%d table rows", n)
		}
		// Each person's local time on hover.
		hover := eval[map[string]float64](t, b, `(() => { const s = document.getElementById("lanes").getBoundingClientRect();
			return {x: s.left + s.width * 0.6, y: s.top + s.height * 0.5}; })()`)
		b.do(t, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, hover["x"], hover["y"]))
		waitFor(t, b, "the hover readout", `document.getElementById("hover-readout").textContent.includes("Europe/London")`)
		locals := eval[[]string](t, b, `Array.from(document.querySelectorAll("#lanes g.lane[data-tz] .lane-local")).map(e => e.textContent)`)
		if len(locals) != len(people.Responders) || slices.Contains(locals, "") {
			t.Errorf("people's local times on hover: %q", locals)
		}
		if errs := b.takeErrors(); len(errs) > 0 {
			t.Errorf("console errors on the page:\n%s", strings.Join(errs, "\n"))
		}
		full, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		writeArtifact(t, "incident-page-full.png", full)
		b.do(t, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, 1, 1), chromedp.ScrollIntoView(chromedp.CSS("body")))
		top, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		writeArtifact(t, "incident-page.png", top)
		if *updateScreenshot {
			if err := os.WriteFile("../../deploy/screenshots/incident-page.png", top, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("clicking a collapsed row expands it", func(t *testing.T) {
		b.do(t, chromedp.Navigate(demo.URL), chromedp.WaitVisible(chromedp.CSS("#rows")))
		n := eval[int](t, b, `document.querySelectorAll("#rows details.fold").length`)
		if n == 0 {
			t.Fatal("the demo page has no collapsed row")
		}
		folded := `document.querySelector("#rows details.fold ol.folded li")`
		if eval[bool](t, b, `document.querySelector("#rows details.fold").open`) || eval[int](t, b, folded+`.checkVisibility() ? 1 : 0`) != 0 {
			t.Fatal("the collapsed row is open before the click")
		}
		b.do(t, chromedp.ScrollIntoView(chromedp.CSS("#rows details.fold summary")), chromedp.Click(chromedp.CSS("#rows details.fold summary")))
		waitFor(t, b, "the row to open", `document.querySelector("#rows details.fold").open`)
		if h := eval[int](t, b, folded+`.checkVisibility() ? 1 : 0`); h == 0 {
			t.Error("the folded events are not shown after the click")
		}
		count := eval[int](t, b, `document.querySelectorAll("#rows details.fold")[0].querySelectorAll("li").length`)
		if count < 2 {
			t.Errorf("the expanded row lists %d events", count)
		}
	})

	t.Run("present mode steps through the key moments", func(t *testing.T) {
		b.do(t, chromedp.Navigate(demo.URL), chromedp.Click(chromedp.CSS("#present-link")), chromedp.WaitVisible(chromedp.CSS("#present")))
		first := eval[string](t, b, `document.querySelector("#present .step").textContent`)
		if !strings.HasPrefix(first, "Key moment 1 of ") {
			t.Fatalf("present mode opens at %q", first)
		}
		b.do(t, chromedp.KeyEvent(kb.ArrowRight))
		waitFor(t, b, "step 2", `(document.querySelector("#present .step") || {}).textContent?.startsWith("Key moment 2 of ")`)
		if u := eval[string](t, b, `location.search`); !strings.Contains(u, "s=") {
			t.Errorf("present mode lost the share token: %s", u)
		}
		shot, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		writeArtifact(t, "incident-present.png", shot)
		b.do(t, chromedp.KeyEvent(kb.Escape))
		waitFor(t, b, "leaving present mode", `!document.body.classList.contains("present") && document.readyState === "complete"`)
		if errs := b.takeErrors(); len(errs) > 0 {
			t.Errorf("console errors in present mode:\n%s", strings.Join(errs, "\n"))
		}
	})

	t.Run("print gives a clean handout", func(t *testing.T) {
		b.do(t, chromedp.Navigate(demo.URL), chromedp.WaitVisible(chromedp.CSS("#lanes")))
		b.do(t, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"})
			return err
		}))
		if d := eval[string](t, b, `getComputedStyle(document.querySelector(".controls")).display`); d != "none" {
			t.Errorf("the controls print (display %q)", d)
		}
		if h := eval[int](t, b, `document.querySelector("#rows details.fold ol.folded li").checkVisibility() ? 1 : 0`); h == 0 {
			t.Error("folded rows are not expanded in print")
		}
		pdf, err := chromedp.Run(b.ctx, chromedp.PrintToPDF(chromedp.PDFPreferCSSPageSize(), chromedp.PDFPrintBackground()))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
			t.Errorf("print to PDF gave %d bytes that are not a PDF", len(pdf))
		}
		writeArtifact(t, "incident-page.pdf", pdf)
		b.do(t, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: ""})
			return err
		}))
	})

	t.Run("the share link works, and an altered, revoked or expired one is refused", func(t *testing.T) {
		b.takeErrors()
		b.do(t, chromedp.Navigate(demo.URL), chromedp.WaitVisible(chromedp.CSS("#lanes")))
		tok := []byte(demo.Token)
		tok[len(tok)/2] ^= 1 // still base64url, one bit off
		refused := func(u, want string) {
			t.Helper()
			b.do(t, chromedp.Navigate(u), chromedp.WaitVisible(chromedp.CSS(".error-message")))
			if title := eval[string](t, b, `document.title`); !strings.HasPrefix(title, "Forbidden") {
				t.Errorf("%s: title %q", want, title)
			}
			if msg := eval[string](t, b, `document.querySelector(".error-message").textContent`); !strings.Contains(msg, want) {
				t.Errorf("refusal %q, want it to say %q", msg, want)
			}
			if eval[int](t, b, `document.querySelectorAll("#lanes").length`) != 0 {
				t.Errorf("%s: the page is shown", want)
			}
		}
		refused(f.srv.URL+"/incidents/"+fakeworld.IncidentID+"?s="+url.QueryEscape(string(tok)), "not valid")
		refused(f.srv.URL+"/incidents/"+liveIncident+"?s="+url.QueryEscape(demo.Token), "another incident")
		revoked := f.share(t, fakeworld.IncidentID, "")
		f.call(t, http.MethodDelete, "/v1/incidents/"+fakeworld.IncidentID+"/share/"+revoked.ID, writeToken, "", nil)
		refused(revoked.URL, "revoked")
		f.advance(3 * time.Hour)
		defer f.advance(-3 * time.Hour)
		refused(demo.URL, "expired")
		// The refusals' 403s are the only errors the console saw.
		for _, e := range b.takeErrors() {
			if !strings.Contains(e, "403") {
				t.Errorf("console error: %s", e)
			}
		}
	})

	t.Run("the page follows the feed live, across a reconnection, with no gap or duplicate", func(t *testing.T) {
		ctx := context.Background()
		started := f.clock().Add(-30 * time.Minute)
		if err := f.store.UpsertIncident(ctx, timeline.Incident{ID: liveIncident, Title: "Payments latency", Source: "pagerduty",
			StartedAt: started, WindowStart: started.Add(-2 * time.Hour), WindowEnd: started.Add(time.Hour), Channels: []string{liveChannel}}); err != nil {
			t.Fatal(err)
		}
		msg := func(n int, text string) timeline.Event {
			return timeline.Event{ID: fmt.Sprintf("slack:message:%s:1763715600.%06d", liveChannel, n), IncidentID: liveIncident,
				Source: "slack", Kind: timeline.KindChatMessage, OccurredAt: started.Add(time.Duration(n) * time.Minute),
				Actor: &timeline.Actor{ID: "U0SAM", Name: "Sam Okafor"}, Title: text, Text: text, Details: map[string]any{"channel": liveChannel}}
		}
		upsert := func(evs ...timeline.Event) {
			t.Helper()
			if _, err := f.store.UpsertEvents(ctx, evs); err != nil {
				t.Fatal(err)
			}
		}
		upsert(msg(1, "p99 is climbing on payments"))
		link := f.share(t, liveIncident, "")
		b.takeErrors()
		b.do(t, chromedp.Navigate(link.URL), chromedp.WaitVisible(chromedp.CSS("#rows")))
		waitFor(t, b, "the stream to open", `window.groundworkLive.opens === 1`)

		rowOf := func(n int) string {
			return fmt.Sprintf(`document.querySelectorAll('#rows tr[data-event-ids="%s"]').length`, msg(n, "").ID)
		}
		upsert(msg(2, "rolling back payments-api"))
		waitFor(t, b, "the event published after load", rowOf(2)+` === 1`)
		if n := eval[int](t, b, `document.querySelectorAll('#lanes g.lane[data-lane="chat:`+liveChannel+`"] circle.live-new').length`); n != 1 {
			t.Errorf("%d live marks in the channel's lane, want 1", n)
		}

		// Drop the connection; hold the reconnection until two more
		// events are in, so that they can only come through the resume.
		gate := make(chan struct{})
		f.mu.Lock()
		f.gate = gate
		f.mu.Unlock()
		f.srv.CloseClientConnections()
		waitFor(t, b, "the stream to notice the drop", `window.groundworkLive.errors >= 1`)
		// The browser reconnects (after the stream's retry interval); the
		// gate holds its request while the events go in.
		guard := time.Now().Add(60 * time.Second)
		for {
			f.mu.Lock()
			n := len(f.feeds)
			f.mu.Unlock()
			if n >= 2 {
				break
			}
			if time.Now().After(guard) {
				t.Fatalf("the page did not reconnect\nconsole:\n%s", strings.Join(b.console(), "\n"))
			}
			time.Sleep(50 * time.Millisecond)
		}
		upsert(msg(3, "latency back to normal"), msg(4, "watching for ten minutes"))
		close(gate)
		waitFor(t, b, "the events published during the drop", rowOf(3)+` === 1 && `+rowOf(4)+` === 1`)
		waitFor(t, b, "the stream to reopen", `window.groundworkLive.opens === 2`)

		for n := 1; n <= 4; n++ {
			if c := eval[int](t, b, rowOf(n)); c != 1 {
				t.Errorf("message %d is in %d rows, want 1", n, c)
			}
		}
		received := eval[[]int64](t, b, `window.groundworkLive.received`)
		feed, err := f.store.Feed(ctx, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		var want []int64
		var seq2 int64
		for _, e := range feed {
			if e.IncidentID == liveIncident && e.Annotation == nil && e.ID != msg(1, "").ID {
				want = append(want, e.Seq)
				if e.ID == msg(2, "").ID {
					seq2 = e.Seq
				}
			}
		}
		if !slices.Equal(received, want) {
			t.Errorf("the page received seqs %v, want %v: no gap, no duplicate", received, want)
		}
		f.mu.Lock()
		feeds := slices.Clone(f.feeds)
		f.mu.Unlock()
		if len(feeds) < 2 || feeds[0] != "" || feeds[len(feeds)-1] != fmt.Sprint(seq2) {
			t.Errorf("the stream's requests carried Last-Event-ID %q, want none, then %d", feeds, seq2)
		}
	})
}

// The console check catches what the policy blocks: a page with an inline
// script under the same policy logs an error.
func TestConsoleCheckCatchesPolicyViolations(t *testing.T) {
	b := newBrowser(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!doctype html><html><head><link rel="icon" href="data:,"><title>x</title></head><body><p id="p">x</p><script>document.title = "ran"</script></body></html>`)
	}))
	t.Cleanup(srv.Close)
	b.do(t, chromedp.Navigate(srv.URL), chromedp.WaitVisible(chromedp.CSS("#p")))
	// The violation is reported as the page loads; wait for it (a hang
	// guard bounds the wait).
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(strings.Join(b.console(), "\n"), "Content Security Policy") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	errs := b.takeErrors()
	if len(errs) == 0 || !strings.Contains(strings.Join(errs, "\n"), "Content Security Policy") {
		t.Errorf("the inline script under the policy logged %q, want a Content Security Policy error", errs)
	}
	if title := eval[string](t, b, `document.title`); title == "ran" {
		t.Error("the inline script ran")
	}
}
