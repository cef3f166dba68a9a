package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/timeline"
)

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

// Set implements flag.Value.
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// timeFlag is an optional RFC 3339 time flag.
type timeFlag struct{ t *time.Time }

func (f *timeFlag) String() string {
	if f.t == nil {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

// Set implements flag.Value.
func (f *timeFlag) Set(v string) error {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return fmt.Errorf("want an RFC 3339 time such as 2026-11-20T09:00:00Z, got %q", v)
	}
	t = t.UTC()
	f.t = &t
	return nil
}

func (e *env) collectCmd(ctx context.Context, args []string) error {
	fs := e.flags("collect")
	var since, until timeFlag
	var repos, channels listFlag
	fs.Var(&since, "since", "start of the window (RFC 3339), instead of started_at - window.before")
	fs.Var(&until, "until", "end of the window (RFC 3339), instead of resolved_at + window.after")
	fs.Var(&repos, "repo", "GitHub repository owner/name to add to the incident's scope (repeatable)")
	fs.Var(&channels, "channel", "Slack channel id to add to the incident's scope (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: groundwork collect [flags] INCIDENT_ID\n\nCollects the incident's window from every enabled source now, in the foreground.")
		fs.PrintDefaults()
	}
	// Flags may come before or after the incident id.
	var positional []string
	for {
		if err := e.parse(fs, args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(positional) != 1 {
		return fmt.Errorf("%w: want exactly one INCIDENT_ID, got %d", errUsage, len(positional))
	}
	if since.t != nil && until.t != nil && until.t.Before(*since.t) {
		return fmt.Errorf("%w: --until is before --since", errUsage)
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	a, err := newApp(ctx, cfg, e.logger, nil)
	if err != nil {
		return err
	}
	defer a.close()
	if len(a.registry.All()) == 0 {
		return errors.New("no source is enabled: configure one of " + strings.Join(collectorSections(), ", "))
	}
	req := timeline.CollectRequest{IncidentID: positional[0], Since: since.t, Until: until.t, Repos: repos, Channels: channels}
	inc, w, err := a.planner.Plan(ctx, req)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Collecting %s %q\n  window %s .. %s\n  repos %v, channels %v\n\n", inc.ID, inc.Title,
		w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339), w.Repos, w.Channels)

	stopProgress := e.showProgress(a.runner.Progress, a.registry)
	res := a.runner.Run(ctx, w)
	stopProgress()

	printCounts(e.stdout, res)
	if err := res.Err(); err != nil {
		return fmt.Errorf("collection incomplete: %w", err)
	}
	return nil
}

// showProgress redraws each source's requests, events and rate-limit waits
// on a terminal until the returned func is called.
func (e *env) showProgress(p *collectors.Progress, reg *collectors.Registry) func() {
	f, ok := e.stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return func() {}
	}
	names := []string{}
	for _, c := range reg.All() {
		names = append(names, c.Name())
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		drawn := false
		for {
			drawProgress(f, p, names, drawn)
			drawn = true
			select {
			case <-done:
				drawProgress(f, p, names, drawn)
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func drawProgress(w io.Writer, p *collectors.Progress, names []string, redraw bool) {
	snap := map[string]collectors.SourceProgress{}
	for _, sp := range p.Snapshot() {
		snap[sp.Source] = sp
	}
	var b strings.Builder
	if redraw {
		fmt.Fprintf(&b, "\x1b[%dA", len(names))
	}
	for _, n := range names {
		sp := snap[n]
		wait := ""
		if d := time.Until(sp.WaitingUntil); d > 0 {
			wait = fmt.Sprintf("  waiting on rate limit (%s)", d.Round(time.Second))
		}
		fmt.Fprintf(&b, "\x1b[2K  %-10s requests %-6d events %-7d%s\n", n, sp.Requests, sp.Events, wait)
	}
	_, _ = io.WriteString(w, b.String())
}

// printCounts prints events per source and kind, and each failure.
func printCounts(w io.Writer, res collectors.Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tKIND\tEVENTS")
	for _, s := range res.Sources {
		kinds := make([]string, 0, len(s.Kinds))
		for k := range s.Kinds {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			fmt.Fprintf(tw, "%s\t%s\t%d\n", s.Source, k, s.Kinds[k])
		}
		status := "ok"
		switch {
		case s.Err != nil:
			status = "FAILED: " + s.Err.Error()
		case s.Skipped != "":
			status = "skipped: " + s.Skipped
		}
		fmt.Fprintf(tw, "%s\t(total)\t%d\t%s\n", s.Source, s.Events, status)
	}
	_ = tw.Flush()
}
