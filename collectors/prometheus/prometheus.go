// Package prometheus is the Prometheus and Alertmanager source: it collects
// the spans an alert fired from Prometheus' ALERTS series, and receives
// Alertmanager's webhook, giving both the same event ids.
//
// A span of an alert is the time its ALERTS{alertstate="firing"} series
// has samples. Its start is the first sample: the evaluation at which the
// alert fired, Prometheus' FiredAt, which is exactly the startsAt that
// Prometheus sends Alertmanager (not activeAt, which is earlier by the
// rule's for:). query_range finds the spans at its step's resolution; a
// query of the raw samples of each span then gives its exact start, so that
// the id does not depend on the step. Its end is the evaluation after the
// last sample, at which Prometheus resolved it and wrote a staleness marker:
// the last sample plus the rule group's interval (from the rules API), which
// is Alertmanager's endsAt.
package prometheus

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"go.uber.org/zap"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/timeline"
)

// Name is the source's name: its config key and Event.Source.
const Name = "prometheus"

// Source is the Prometheus and Alertmanager source, for cmd's list.
var Source = collectors.Source{
	Name:      Name,
	NewConfig: func() collectors.Config { return DefaultConfig() },
	New: func(cfg collectors.Config, opts collectors.ClientOptions) (collectors.Collector, error) {
		return New(cfg.(*Config), opts)
	},
	Receivers: func(cfg collectors.Config, _ collectors.Collector, opts collectors.ClientOptions) []collectors.WebhookReceiver {
		return []collectors.WebhookReceiver{NewReceiver(cfg.(*Config), opts)}
	},
}

// maxPoints is Prometheus' limit of points per series in one query_range.
const maxPoints = 11000

// Collector collects alert spans from Prometheus' HTTP API.
type Collector struct {
	cfg  *Config
	api  v1.API
	opts collectors.ClientOptions
}

var (
	_ collectors.Collector = (*Collector)(nil)
	_ collectors.Skipper   = (*Collector)(nil)
)

// New returns a collector for cfg, which it validates.
func New(cfg *Config, opts collectors.ClientOptions) (*Collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := opts.Transport(Name, retryAfter, nil)
	client, err := promapi.NewClient(promapi.Config{
		Address: cfg.APIURL,
		Client:  collectors.NewHTTPClient(t, opts.Timeout),
	})
	if err != nil {
		return nil, fmt.Errorf("prometheus client: %w", err)
	}
	if cfg.BearerToken != "" || cfg.BasicAuth.Username != "" {
		t.Base = &authTransport{base: t.Base, cfg: cfg}
	}
	return &Collector{cfg: cfg, api: v1.NewAPI(client), opts: opts}, nil
}

// Name implements collectors.Collector.
func (c *Collector) Name() string { return Name }

// Skip implements collectors.Skipper: an incident whose service has no
// matcher, when others have and there is no default_matcher, gets no
// alerts.
func (c *Collector) Skip(w timeline.Window) (string, bool) {
	if _, ok := c.cfg.selectorFor(w.ServiceID); ok {
		return "", false
	}
	return fmt.Sprintf("no alerts are matched for service %q: it has no sources.prometheus.matchers entry and default_matcher is empty", w.ServiceID), true
}

// Collect implements collectors.Collector: every alert span of the
// incident's service that starts or ends inside w, oldest first per series.
func (c *Collector) Collect(ctx context.Context, w timeline.Window, emit func(timeline.Event) error) error {
	sel, ok := c.cfg.selectorFor(w.ServiceID)
	if !ok {
		return nil
	}
	from := w.Start.Add(-c.cfg.Lookback).Truncate(time.Second)
	step := c.cfg.Step
	if span := w.End.Sub(from); span/step >= maxPoints {
		step = (span/maxPoints + time.Second).Truncate(time.Second)
	}
	val, warns, _, err := c.api.QueryRange(ctx, alertsSelector(sel, nil), v1.Range{Start: from, End: w.End, Step: step})
	if err != nil {
		return fmt.Errorf("query_range of ALERTS: %w", err)
	}
	c.logWarnings(warns)
	matrix, ok := val.(model.Matrix)
	if !ok {
		return fmt.Errorf("query_range of ALERTS: a %s result, want a matrix", val.Type())
	}
	rules := c.rules(ctx)
	for _, series := range matrix {
		for _, sp := range spans(series.Values, step) {
			alerts, err := c.span(ctx, series.Metric, sp, step, from, w.End, rules)
			if err != nil {
				return err
			}
			for _, a := range alerts {
				for _, e := range a.events() {
					if w.Contains(e.OccurredAt) {
						if err := emit(e); err != nil {
							return err
						}
					}
				}
			}
		}
	}
	return nil
}

// stepSpan is a run of consecutive query_range points: first and last.
type stepSpan struct{ first, last time.Time }

// spans splits a series' points into runs of consecutive steps.
func spans(points []model.SamplePair, step time.Duration) []stepSpan {
	var out []stepSpan
	for i, p := range points {
		t := p.Timestamp.Time()
		if i > 0 && t.Sub(points[i-1].Timestamp.Time()) <= step+step/2 {
			out[len(out)-1].last = t
			continue
		}
		out = append(out, stepSpan{first: t, last: t})
	}
	return out
}

// span turns one run of query_range points of a series into the alert's
// spans, with their exact starts and ends read from the raw samples: a run
// may hold several spans less than a step apart. No span is returned for a
// run already present at the start of the query (lookback too short),
// whose start is unknown.
func (c *Collector) span(ctx context.Context, metric model.Metric, sp stepSpan, step time.Duration,
	from, end time.Time, rules ruleIndex) ([]alert, error) {
	labels := map[string]string{}
	for k, v := range metric {
		if k != model.MetricNameLabel && k != "alertstate" {
			labels[string(k)] = string(v)
		}
	}
	name := labels[model.AlertNameLabel]
	if sp.first.Sub(from) < step {
		c.opts.Log().Warn("alert already firing at the start of the lookback: its start is unknown, so it is skipped; raise sources.prometheus.lookback",
			zap.String("alertname", name), zap.Time("lookback_start", from))
		return nil, nil
	}
	// The raw samples in (first-step, next]: the series is absent before
	// first and at next (or next is the window's end), so all of them are
	// this run's, and no staleness marker is among them.
	next := sp.last.Add(step)
	ended := !next.After(end)
	qt := next
	if !ended {
		qt = end
	}
	rng := qt.Sub(sp.first) + step
	val, warns, _, err := c.api.Query(ctx, fmt.Sprintf("%s[%dms]", alertsSelector(nil, labels), rng.Milliseconds()), qt)
	if err != nil {
		return nil, fmt.Errorf("raw samples of %s: %w", name, err)
	}
	c.logWarnings(warns)
	var ts []time.Time
	if m, ok := val.(model.Matrix); ok && len(m) > 0 {
		for _, v := range m[0].Values {
			ts = append(ts, v.Timestamp.Time().UTC())
		}
	}
	if len(ts) == 0 {
		ts = []time.Time{sp.first.UTC()}
	}
	r := rules.find(name, labels)
	interval := r.interval
	if interval <= 0 {
		for i := 1; i < len(ts); i++ {
			if g := ts[i].Sub(ts[i-1]); g > 0 && (interval == 0 || g < interval) {
				interval = g
			}
		}
	}
	for k, v := range c.cfg.ExternalLabels {
		if _, has := labels[k]; !has {
			labels[k] = v
		}
	}
	var out []alert
	begin := 0
	for i := 1; i <= len(ts); i++ {
		if i < len(ts) && (interval <= 0 || ts[i].Sub(ts[i-1]) <= interval+interval/2) {
			continue
		}
		a := alert{Labels: labels, Start: ts[begin], Annotations: r.annotations, URL: r.url}
		last := ts[i-1]
		switch {
		case i < len(ts):
			// A gap in the samples: resolved at the evaluation after last.
			e := last.Add(interval)
			a.End = &e
		case ended:
			// Absent at next: resolved at the evaluation after last.
			e := next.UTC()
			if interval > 0 && !last.Add(interval).After(next) {
				e = last.Add(interval)
			}
			a.End = &e
		}
		out = append(out, a)
		begin = i
	}
	return out, nil
}

func (c *Collector) logWarnings(w v1.Warnings) {
	for _, s := range w {
		c.opts.Log().Warn("prometheus query warning", zap.String("warning", s))
	}
}

// ruleIndex holds what the rules API says of each alerting rule.
type ruleIndex map[string][]ruleFacts

type ruleFacts struct {
	labels      map[string]string
	annotations map[string]string // static ones, those without templates
	active      map[string]map[string]string
	url         string
	interval    time.Duration
}

// rules reads the alerting rules, for their annotations, links and
// evaluation intervals. Without them (an API that does not serve rules)
// alerts are still collected, with labels only.
func (c *Collector) rules(ctx context.Context) ruleIndex {
	res, err := c.api.Rules(ctx, nil)
	if err != nil {
		c.opts.Log().Warn("prometheus rules unavailable: alerts are collected without annotations", zap.Error(err))
		return nil
	}
	idx := ruleIndex{}
	base := strings.TrimRight(c.cfg.APIURL, "/")
	for _, g := range res.Groups {
		for _, r := range g.Rules {
			ar, ok := r.(v1.AlertingRule)
			if !ok {
				continue
			}
			f := ruleFacts{labels: map[string]string{}, annotations: map[string]string{}, active: map[string]map[string]string{},
				url: base + tableLink(ar.Query), interval: time.Duration(g.Interval * float64(time.Second))}
			for k, v := range ar.Labels {
				f.labels[string(k)] = string(v)
			}
			for k, v := range ar.Annotations {
				if !strings.Contains(string(v), "{{") {
					f.annotations[string(k)] = string(v)
				}
			}
			for _, al := range ar.Alerts {
				if al == nil || al.State != v1.AlertStateFiring {
					continue
				}
				ls := map[string]string{}
				for k, v := range al.Labels {
					ls[string(k)] = string(v)
				}
				ann := map[string]string{}
				for k, v := range al.Annotations {
					ann[string(k)] = string(v)
				}
				f.active[Fingerprint(ls)] = ann
			}
			idx[ar.Name] = append(idx[ar.Name], f)
		}
	}
	return idx
}

// ruleMatch is what the rules API says of one alert.
type ruleMatch struct {
	annotations map[string]string
	url         string
	interval    time.Duration
}

// find returns the facts of the rule that made an alert, by its name and
// the rule's labels, which the alert carries; labels are the ALERTS
// series' (without external labels). A firing alert gets the annotations
// Prometheus expanded for it; an ended one the rule's static annotations.
func (idx ruleIndex) find(name string, labels map[string]string) ruleMatch {
	for _, f := range idx[name] {
		match := true
		for k, v := range f.labels {
			if labels[k] != v {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		out := ruleMatch{url: f.url, interval: f.interval, annotations: f.annotations}
		if ann, ok := f.active[Fingerprint(labels)]; ok {
			out.annotations = ann
		}
		return out
	}
	return ruleMatch{}
}

// authTransport adds the collector's credentials to every request.
type authTransport struct {
	base http.RoundTripper
	cfg  *Config
}

func (t *authTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if t.cfg.BearerToken != "" {
		r.Header.Set("Authorization", "Bearer "+t.cfg.BearerToken.Value())
	} else {
		r.SetBasicAuth(t.cfg.BasicAuth.Username, t.cfg.BasicAuth.Password.Value())
	}
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}

// retryAfter recognises a refusal for load: 429, or 503 with Retry-After,
// as a proxy in front of Prometheus (or Thanos, Mimir) sends it.
func retryAfter(resp *http.Response, now time.Time) (time.Duration, bool) {
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
		return 0, false
	}
	if d, ok := collectors.SecondsHeader(resp.Header, "Retry-After"); ok {
		return d, true
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return 5 * time.Second, true
	}
	return 0, false
}
