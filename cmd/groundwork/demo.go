package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/groundwork-dev/groundwork/api"
	"github.com/groundwork-dev/groundwork/collectors/fakeworld"
	"github.com/groundwork-dev/groundwork/collectors/generic"
	"github.com/groundwork-dev/groundwork/collectors/github"
	"github.com/groundwork-dev/groundwork/collectors/pagerduty"
	"github.com/groundwork-dev/groundwork/collectors/slack"
	"github.com/groundwork-dev/groundwork/timeline"
)

// Secrets of the demo's own configuration; nothing outside this process
// ever sees them.
const (
	demoPagerDutyHook = "demo-pagerduty-webhook-secret"
	demoGitHubHook    = "demo-github-webhook-secret"
	demoSlackSigning  = "demo-slack-signing-secret"
	demoGenericHook   = "demo-generic-webhook-secret"
	demoReadToken     = "demo-read-token"
	demoWriteToken    = "demo-write-token"
)

// demoConfig points every source at the fake world.
func demoConfig(w *fakeworld.World, databaseURL, listen string) Config {
	cfg := DefaultConfig()
	cfg.Listen = listen
	cfg.DatabaseURL = databaseURL
	cfg.APITokens = []api.Token{
		{Name: "facilitators", Token: demoReadToken, Scopes: []string{api.ScopeRead}},
		{Name: "automation", Token: demoWriteToken, Scopes: []string{api.ScopeRead, api.ScopeWrite}},
	}
	cfg.Review.Timezone = "Europe/London"
	src := &cfg.Sources
	pd := src.Plugins[pagerduty.Name].(*pagerduty.Config)
	pd.Token, pd.APIURL, pd.WebhookSecret = fakeworld.PagerDutyToken, w.PDURL, demoPagerDutyHook
	gh := src.Plugins[github.Name].(*github.Config)
	gh.Token, gh.APIURL, gh.WebhookSecret = fakeworld.GitHubToken, w.GHURL, demoGitHubHook
	sl := src.Plugins[slack.Name].(*slack.Config)
	sl.Token, sl.APIURL, sl.SigningSecret = fakeworld.SlackToken, w.SlackURL, demoSlackSigning
	// The fake answers at once; the default paces to Slack's tier 3.
	sl.RequestsPerMinute = 6000
	src.Plugins[generic.Name].(*generic.Config).WebhookSecret = demoGenericHook
	cfg.Services = map[string]Scope{fakeworld.ServiceID: {GitHubRepos: []string{fakeworld.Repo}, SlackChannels: []string{fakeworld.Channel}}}
	return cfg
}

func (e *env) demoCmd(ctx context.Context, args []string) error {
	fs := e.flags("demo")
	once := fs.Bool("once", false, "exit after printing the summary: status 0 only if the timeline is complete")
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve on (a free port is taken if it is busy)")
	wait := fs.Duration("wait", 2*time.Minute, "how long to wait for the collection before giving up")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: groundwork demo [-once] [-listen ADDR] [-wait DURATION]\n\nRuns the whole pipeline against built-in fakes of PagerDuty, GitHub and Slack: no accounts, no configuration.")
		fs.PrintDefaults()
	}
	// The demo talks to a person: by default only warnings go to the log.
	_ = fs.Set("log-level", "warn")
	fs.Lookup("log-level").DefValue = "warn"
	if err := e.parse(fs, args); err != nil {
		return err
	}
	out := e.stdout
	step := func(format string, a ...any) { fmt.Fprintf(out, "• "+format+"\n", a...) }

	baseURL, where, stopDB, err := e.demoDatabase(ctx, step)
	if err != nil {
		return err
	}
	defer stopDB()
	ds, err := openDemoSchema(ctx, baseURL, step)
	if err != nil {
		return err
	}
	// Runs last, after the server, the workers and the pool have stopped,
	// also when ctx ends on Ctrl-C or SIGTERM.
	defer func() {
		if err := ds.drop(); err != nil {
			e.logger.Warn("dropping the demo schema (the next demo drops it)", zap.String("schema", ds.name), zap.Error(err))
		}
	}()
	step("Using %s, in a schema of its own (%s) that is dropped on exit", where, ds.name)
	dbURL := ds.url

	world, err := fakeworld.Start()
	if err != nil {
		return err
	}
	defer world.Close()
	step("Fake PagerDuty, GitHub and Slack are serving incident %s (%s)", fakeworld.IncidentID, "Checkout API error rate above 5%")

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("listen: %w", err)
		}
	}
	cfg := demoConfig(world, dbURL, ln.Addr().String())
	a, err := newApp(ctx, cfg, e.logger, nil)
	if err != nil {
		ln.Close()
		return err
	}
	defer a.close()
	base := "http://" + ln.Addr().String()
	srvCtx, stopServer := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- a.serve(srvCtx, ln) }()
	defer func() { stopServer(); <-served }()
	step("Groundwork is serving on %s with its workers running", base)

	if err := sendResolvedWebhook(ctx, base); err != nil {
		return err
	}
	step("Sent a signed PagerDuty incident.resolved webhook; waiting for the collection")
	detail, err := waitForCollection(ctx, base, fakeworld.IncidentID, *wait)
	if err != nil {
		return err
	}
	complete, problems := demoComplete(ctx, a, detail)
	page, err := demoShareLink(ctx, base, fakeworld.IncidentID)
	if err != nil {
		complete, problems = false, append(problems, "the meeting page: "+err.Error())
	}
	fmt.Fprintln(out)
	printDetail(ctx, out, base, detail)
	printCurls(out, base, fakeworld.IncidentID)
	if page != "" {
		fmt.Fprintf(out, "\nThe meeting page, for the people in the room (a share link, read-only, valid for a day):\n  %s\n", page)
		fmt.Fprintf(out, "Recent incidents: %s/incidents (sign in with any user name and the password %s)\n", base, demoReadToken)
	}
	if !complete {
		return fmt.Errorf("%w: %s", errIncomplete, strings.Join(problems, "; "))
	}
	fmt.Fprintf(out, "\nThe timeline is complete: %d events from PagerDuty, GitHub and Slack.\n", sumExpected())
	if *once {
		return nil
	}
	fmt.Fprintln(out, "Serving until Ctrl-C.")
	select {
	case <-ctx.Done():
		return nil
	case err := <-served:
		served <- err
		return err
	}
}

var errIncomplete = errors.New("the timeline is incomplete")

// demoDatabase picks the server: DATABASE_URL, else a Postgres on
// localhost:5432, else a throwaway cluster from the machine's
// initdb/pg_ctl. Whichever it is, the demo works in a schema of its own
// (see openDemoSchema). The returned func stops what was started.
func (e *env) demoDatabase(ctx context.Context, step func(string, ...any)) (url, where string, stop func(), err error) {
	if u := e.getenv("DATABASE_URL"); u != "" {
		return u, "the database in DATABASE_URL", func() {}, nil
	}
	for _, u := range localPostgresURLs() {
		if canConnect(ctx, u) {
			return u, "the Postgres on localhost:5432", func() {}, nil
		}
	}
	bin, ok := pgBinDir()
	if !ok {
		return "", "", nil, errNoPostgres
	}
	step("No Postgres answers on localhost:5432: starting a throwaway cluster with %s", bin)
	c, err := startTempCluster(ctx, bin)
	if err != nil {
		return "", "", nil, err
	}
	return c.URL, "a throwaway cluster", func() {
		if err := c.Stop(); err != nil {
			e.logger.Warn("stopping the throwaway cluster", zap.Error(err))
		}
	}, nil
}

// sendResolvedWebhook delivers a signed PagerDuty V3 incident.resolved event,
// as PagerDuty would.
func sendResolvedWebhook(ctx context.Context, base string) error {
	body, _ := json.Marshal(map[string]any{"event": map[string]any{
		"id": "01DEMO" + strings.ToUpper(hex.EncodeToString([]byte(time.Now().Format("150405")))), "event_type": "incident.resolved",
		"resource_type": "incident", "occurred_at": "2025-11-20T11:10:35.000Z",
		"agent":  map[string]any{"id": "POKASAM", "type": "user_reference", "summary": "Sam Okafor"},
		"client": nil,
		"data": map[string]any{"id": fakeworld.IncidentID, "type": "incident", "number": 4242, "status": "resolved",
			"title": "Checkout API error rate above 5%", "created_at": "2025-11-20T09:58:02Z", "urgency": "high",
			"service": map[string]any{"id": fakeworld.ServiceID, "type": "service_reference", "summary": "checkout-api"}},
	}})
	mac := hmac.New(sha256.New, []byte(demoPagerDutyHook))
	mac.Write(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/webhooks/pagerduty", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-PagerDuty-Signature", "v1="+hex.EncodeToString(mac.Sum(nil)))
	req.Header.Set("X-Webhook-Id", "demo-"+hex.EncodeToString(mac.Sum(nil)[:8]))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("sending the webhook: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("the webhook was answered %d: %s", resp.StatusCode, b)
	}
	return nil
}

// demoShareLink makes a share link of the incident's meeting page, as a
// facilitator would, and opens it once to check that it works.
func demoShareLink(ctx context.Context, base, id string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/incidents/"+id+"/share", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+demoWriteToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var link api.ShareLinkJSON
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return "", fmt.Errorf("POST share: %d %s", resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&link); err != nil {
		return "", err
	}
	page, err := http.NewRequestWithContext(ctx, http.MethodGet, link.URL, nil)
	if err != nil {
		return "", err
	}
	got, err := http.DefaultClient.Do(page)
	if err != nil {
		return "", err
	}
	_, _ = io.Copy(io.Discard, got.Body)
	got.Body.Close()
	if got.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %d", link.Path, got.StatusCode)
	}
	return link.URL, nil
}

// incidentDetail is the part of GET /v1/incidents/{id} the demo reads.
type incidentDetail struct {
	ID         string                 `json:"id"`
	Title      string                 `json:"title"`
	StartedAt  string                 `json:"started_at"`
	ResolvedAt *string                `json:"resolved_at"`
	Window     api.WindowJSON         `json:"window"`
	Collection []api.SourceStatusJSON `json:"collection"`
	Summary    *timeline.Summary      `json:"summary"`
}

func apiGet(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+demoReadToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// waitForCollection polls the incident until every source has finished.
func waitForCollection(ctx context.Context, base, id string, limit time.Duration) (incidentDetail, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var d incidentDetail
	for {
		d = incidentDetail{}
		err := apiGet(ctx, base+"/v1/incidents/"+id, &d)
		if err == nil && len(d.Collection) == 3 && finished(d.Collection) {
			return d, nil
		}
		select {
		case <-ctx.Done():
			return d, fmt.Errorf("the collection did not finish within %s (last answer: %v, %+v)", limit, err, d.Collection)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func finished(sts []api.SourceStatusJSON) bool {
	for _, s := range sts {
		if s.State != timeline.StateSucceeded && s.State != timeline.StateFailed && s.State != timeline.StateSkipped {
			return false
		}
	}
	return true
}

// demoComplete compares the stored timeline with what the fakes hold.
func demoComplete(ctx context.Context, a *app, d incidentDetail) (bool, []string) {
	var problems []string
	for _, s := range d.Collection {
		if s.State != timeline.StateSucceeded {
			msg := ""
			if s.Error != nil {
				msg = *s.Error
			}
			problems = append(problems, fmt.Sprintf("%s %s: %s", s.Source, s.State, msg))
		}
	}
	events, err := a.store.Timeline(ctx, timeline.TimelineQuery{IncidentID: d.ID})
	if err != nil {
		return false, append(problems, err.Error())
	}
	got := map[string]int{}
	for _, e := range events {
		got[e.Kind]++
	}
	kinds := map[string]bool{}
	for k := range got {
		kinds[k] = true
	}
	for k := range fakeworld.Expected {
		kinds[k] = true
	}
	for k := range kinds {
		if got[k] != fakeworld.Expected[k] {
			problems = append(problems, fmt.Sprintf("%s: %d stored, %d expected", k, got[k], fakeworld.Expected[k]))
		}
	}
	sort.Strings(problems)
	return len(problems) == 0, problems
}

func sumExpected() int {
	n := 0
	for _, v := range fakeworld.Expected {
		n += v
	}
	return n
}

// printDetail prints the incident's collection and then the review packet
// a facilitator pastes into the review document (GET .../review, Markdown).
func printDetail(ctx context.Context, w io.Writer, base string, d incidentDetail) {
	fmt.Fprintf(w, "Incident %s — %s\n", d.ID, d.Title)
	fmt.Fprintf(w, "Window %s .. %s\n", d.Window.Start, d.Window.End)
	for _, s := range d.Collection {
		fmt.Fprintf(w, "  %-10s %-10s %4d events\n", s.Source, s.State, s.EventCount)
	}
	packet, err := apiGetText(ctx, base+"/v1/incidents/"+d.ID+"/review?format=markdown")
	if err != nil {
		fmt.Fprintf(w, "\n(the review packet is not available: %v)\n", err)
		return
	}
	fmt.Fprintf(w, "\n%s", packet)
}

// apiGetText is apiGet for a text answer.
func apiGetText(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+demoReadToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b), nil
}

func printCurls(w io.Writer, base, id string) {
	h := fmt.Sprintf("-H 'Authorization: Bearer %s'", demoReadToken)
	fmt.Fprintf(w, "\nTry it:\n")
	fmt.Fprintf(w, "  curl -s %s '%s/v1/incidents/%s'\n", h, base, id)
	fmt.Fprintf(w, "  curl -s %s '%s/v1/incidents/%s/timeline?limit=20'\n", h, base, id)
	fmt.Fprintf(w, "  curl -s %s '%s/v1/incidents/%s/timeline?view=story'\n", h, base, id)
	fmt.Fprintf(w, "  curl -s %s '%s/v1/incidents/%s/people'\n", h, base, id)
	fmt.Fprintf(w, "  curl -s %s '%s/v1/incidents/%s/changes'\n", h, base, id)
	fmt.Fprintf(w, "  curl -s %s '%s/v1/incidents/%s/questions'\n", h, base, id)
	fmt.Fprintf(w, "  curl -s %s '%s/v1/incidents/%s/review?format=html' > review.html\n", h, base, id)
	fmt.Fprintf(w, "  curl -s %s '%s/v1/incidents/%s/timeline?format=markdown'\n", h, base, id)
	fmt.Fprintf(w, "  curl -sN %s -H 'Accept: text/event-stream' '%s/v1/feed?after=0'\n", h, base)
}
