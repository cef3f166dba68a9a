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
	_ collectors.Collector      = (*Collector)(nil)
	_ collectors.IncidentScoper = (*Collector)(nil)
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

// CanCollect implements collectors.IncidentScoper: an incident whose
// service has no matcher, when others have, gets no alerts.
func (c *Collector) CanCollect(w timeline.Window) bool {
	_, ok := c.cfg.selectorFor(w.ServiceID)
	return ok
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
			a, keep, err := c.span(ctx, series.Metric, sp, step, from, w.End, rules)
			if err != nil {
				return err
			}
			if !keep {
				continue
			}
			for _, e := range a.events() {
				if w.Contains(e.OccurredAt) {
					if err := emit(e); err != nil {
						return err
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

// span turns one run of a series into the alert span, with its exact start
// and end read from the raw samples. keep is false for a span whose start
// lies before the query (lookback too short).
func (c *Collector) span(ctx context.Context, metric model.Metric, sp stepSpan, step time.Duration,
	from, end time.Time, rules ruleIndex) (alert, bool, error) {
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
		return alert{}, false, nil
	}
	// Raw samples in (first-step, last]: all of this span's up to last.
	rng := sp.last.Sub(sp.first) + step
	val, warns, _, err := c.api.Query(ctx, fmt.Sprintf("%s[%dms]", alertsSelector(nil, labels), rng.Milliseconds()), sp.last)
	if err != nil {
		return alert{}, false, fmt.Errorf("raw samples of %s: %w", name, err)
	}
	c.logWarnings(warns)
	start, lastSample, minGap := sp.first, sp.last, time.Duration(0)
	if m, ok := val.(model.Matrix); ok && len(m) > 0 && len(m[0].Values) > 0 {
		vs := m[0].Values
		start, lastSample = vs[0].Timestamp.Time(), vs[len(vs)-1].Timestamp.Time()
		for i := 1; i < len(vs); i++ {
			if g := vs[i].Timestamp.Time().Sub(vs[i-1].Timestamp.Time()); g > 0 && (minGap == 0 || g < minGap) {
				minGap = g
			}
		}
	}
	r := rules.find(name, labels)
	for k, v := range c.cfg.ExternalLabels {
		if _, has := labels[k]; !has {
			labels[k] = v
		}
	}
	a := alert{Labels: labels, Start: start.UTC(), Annotations: r.annotations, URL: r.url}
	if next := sp.last.Add(step); !next.After(end) {
		// The series is absent at the next point: the alert resolved at the
		// evaluation after its last sample.
		interval := r.interval
		if interval <= 0 {
			interval = minGap
		}
		resolved := next
		if interval > 0 && !lastSample.Add(interval).After(next) {
			resolved = lastSample.Add(interval)
		}
		resolved = resolved.UTC()
		a.End = &resolved
	}
	return a, true, nil
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
