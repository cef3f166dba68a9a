// Package promfake is a fake Prometheus server for tests: the HTTP API's
// query_range and query endpoints over the ALERTS series of the alerts it is
// given, as Prometheus' rule evaluation writes them, and the rules endpoint;
// and Alertmanager's webhook notifications of the same alerts. Payloads
// have the shapes of the real ones.
package promfake

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"

	"github.com/groundwork-dev/groundwork/collectors/internal/fakeapi"
)

// Alert is one alert (one label set) of an alerting rule and the spans it
// fired.
type Alert struct {
	// Labels are the alert's labels, alertname among them.
	Labels      map[string]string
	Annotations map[string]string
	Spans       []Span
}

// Span is one time the alert fired: from the evaluation at FiredAt (an
// evaluation time) until the evaluation at ResolvedAt, zero while firing.
type Span struct {
	FiredAt    time.Time
	ResolvedAt time.Time
}

// Rule is an alerting rule, for the rules endpoint.
type Rule struct {
	Name        string
	Query       string
	For         time.Duration
	Labels      map[string]string
	Annotations map[string]string
}

// Fake is a fake Prometheus. Set its fields before serving.
type Fake struct {
	// BearerToken, when set, is required as Authorization: Bearer.
	BearerToken string
	// Interval is the rule group's evaluation interval.
	Interval time.Duration
	// Now is the fake's present: no sample is later.
	Now    time.Time
	Rules  []Rule
	Alerts []Alert

	once sync.Once
	core *fakeapi.Core
}

// lookback is PromQL's default lookback delta.
const lookback = 5 * time.Minute

// Requests returns how many requests each endpoint (path) answered.
func (f *Fake) Requests(path string) int { return f.serving().RequestsMatching(path) }

// Queries returns every PromQL query received, in order.
func (f *Fake) Queries() []string {
	var out []string
	for _, r := range f.serving().Log() {
		if q, ok := r.Form["query"]; ok && strings.HasPrefix(r.Path, "/api/v1/query") {
			out = append(out, q[0])
		}
	}
	return out
}

// serving returns the fake's core, built on first use so that a Fake is a
// plain struct literal.
func (f *Fake) serving() *fakeapi.Core {
	f.once.Do(func() {
		f.core = fakeapi.New(fakeapi.Options{
			Handler:      http.HandlerFunc(f.serve),
			GateFunc:     f.gate,
			EndpointFunc: func(r *http.Request) string { return r.URL.Path },
		})
	})
	return f.core
}

// sample is one raw sample of a series; stale marks a staleness marker.
type sample struct {
	t     time.Time
	stale bool
}

type series struct {
	labels  map[string]string
	samples []sample
}

// series returns the ALERTS series as rule evaluation writes them: pending
// samples during for:, firing samples from FiredAt, a staleness marker at
// the resolving evaluation.
func (f *Fake) series() []series {
	var out []series
	forOf := map[string]time.Duration{}
	for _, r := range f.Rules {
		forOf[r.Name] = r.For
	}
	for _, a := range f.Alerts {
		firing := series{labels: withState(a.Labels, "firing")}
		pending := series{labels: withState(a.Labels, "pending")}
		for _, sp := range a.Spans {
			end := sp.ResolvedAt
			if end.IsZero() {
				end = f.Now.Add(time.Nanosecond)
			}
			for t := sp.FiredAt.Add(-forOf[a.Labels["alertname"]]); t.Before(sp.FiredAt); t = t.Add(f.Interval) {
				pending.samples = append(pending.samples, sample{t: t})
			}
			pending.samples = append(pending.samples, sample{t: sp.FiredAt, stale: true})
			for t := sp.FiredAt; t.Before(end) && !t.After(f.Now); t = t.Add(f.Interval) {
				firing.samples = append(firing.samples, sample{t: t})
			}
			if !sp.ResolvedAt.IsZero() && !sp.ResolvedAt.After(f.Now) {
				firing.samples = append(firing.samples, sample{t: sp.ResolvedAt, stale: true})
			}
		}
		out = append(out, firing, pending)
	}
	return out
}

func withState(labels map[string]string, state string) map[string]string {
	out := map[string]string{"__name__": "ALERTS", "alertstate": state}
	for k, v := range labels {
		out[k] = v
	}
	return out
}

// ServeHTTP implements http.Handler.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) { f.serving().ServeHTTP(w, r) }

func (f *Fake) gate(w http.ResponseWriter, r *http.Request) bool {
	if f.BearerToken != "" && r.Header.Get("Authorization") != "Bearer "+f.BearerToken {
		w.Header().Set("WWW-Authenticate", "Bearer")
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return false
	}
	if err := r.ParseForm(); err != nil {
		apiError(w, http.StatusBadRequest, "bad_data", err.Error())
		return false
	}
	return true
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/api/v1/query_range":
		f.queryRange(w, r)
	case "/api/v1/query":
		f.query(w, r)
	case "/api/v1/rules":
		f.rules(w)
	default:
		http.NotFound(w, r)
	}
}

var queryRE = regexp.MustCompile(`^ALERTS\{(.*)\}(?:\[(\d+)ms\])?$`)

var matcherRE = regexp.MustCompile(`^\s*("[^"]+"|[a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*")\s*(?:,|$)`)

type fakeMatcher struct{ name, op, value string }

// parse reads the queries the collector sends: an ALERTS selector, with a
// range in milliseconds for raw samples.
func parse(q string) ([]fakeMatcher, time.Duration, error) {
	m := queryRE.FindStringSubmatch(strings.TrimSpace(q))
	if m == nil {
		return nil, 0, fmt.Errorf("1:1: parse error: the fake answers ALERTS selectors only, got %q", q)
	}
	var out []fakeMatcher
	rest := m[1]
	for strings.TrimSpace(rest) != "" {
		mm := matcherRE.FindStringSubmatch(rest)
		if mm == nil {
			return nil, 0, fmt.Errorf("parse error: unexpected %q", rest)
		}
		name := strings.Trim(mm[1], `"`)
		v, err := strconv.Unquote(mm[3])
		if err != nil {
			return nil, 0, fmt.Errorf("parse error: %v", err)
		}
		out = append(out, fakeMatcher{name, mm[2], v})
		rest = rest[len(mm[0]):]
	}
	var rng time.Duration
	if m[2] != "" {
		ms, _ := strconv.ParseInt(m[2], 10, 64)
		rng = time.Duration(ms) * time.Millisecond
	}
	return out, rng, nil
}

func selects(ms []fakeMatcher, labels map[string]string) bool {
	for _, m := range ms {
		v := labels[m.name]
		var ok bool
		switch m.op {
		case "=":
			ok = v == m.value
		case "!=":
			ok = v != m.value
		case "=~", "!~":
			re := regexp.MustCompile("^(?:" + m.value + ")$")
			ok = re.MatchString(v) == (m.op == "=~")
		}
		if !ok {
			return false
		}
	}
	return true
}

func parseTime(s string) (time.Time, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return time.Parse(time.RFC3339Nano, s)
	}
	sec, frac := math.Modf(v)
	return time.Unix(int64(sec), int64(math.Round(frac*1000))*int64(time.Millisecond)).UTC(), nil
}

// queryRange answers a range query: at each step, a series has the value 1
// when its latest sample within the lookback is not a staleness marker.
func (f *Fake) queryRange(w http.ResponseWriter, r *http.Request) {
	q := r.Form.Get("query")
	ms, rng, err := parse(q)
	if err != nil || rng != 0 {
		apiError(w, http.StatusBadRequest, "bad_data", fmt.Sprintf("invalid parameter \"query\": %v", err))
		return
	}
	start, err1 := parseTime(r.Form.Get("start"))
	end, err2 := parseTime(r.Form.Get("end"))
	stepS, err3 := strconv.ParseFloat(r.Form.Get("step"), 64)
	if err1 != nil || err2 != nil || err3 != nil || stepS <= 0 || end.Before(start) {
		apiError(w, http.StatusBadRequest, "bad_data", "invalid start, end or step")
		return
	}
	step := time.Duration(stepS * float64(time.Second))
	if end.Sub(start)/step > 11000 {
		apiError(w, http.StatusBadRequest, "bad_data", "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")
		return
	}
	result := []map[string]any{}
	for _, s := range f.series() {
		if !selects(ms, s.labels) {
			continue
		}
		var values [][2]any
		for t := start; !t.After(end); t = t.Add(step) {
			var latest *sample
			for i := range s.samples {
				if !s.samples[i].t.After(t) {
					latest = &s.samples[i]
				}
			}
			if latest != nil && !latest.stale && t.Sub(latest.t) <= lookback {
				values = append(values, [2]any{promTime(t), "1"})
			}
		}
		if len(values) > 0 {
			result = append(result, map[string]any{"metric": s.labels, "values": values})
		}
	}
	ok(w, map[string]any{"resultType": "matrix", "result": result})
}

// query answers an instant query of a range selector: the raw samples in
// (time-range, time], staleness markers left out, as Prometheus does.
func (f *Fake) query(w http.ResponseWriter, r *http.Request) {
	q := r.Form.Get("query")
	ms, rng, err := parse(q)
	if err != nil || rng == 0 {
		apiError(w, http.StatusBadRequest, "bad_data", fmt.Sprintf("invalid parameter \"query\": the fake answers range selectors only (%v)", err))
		return
	}
	at, err := parseTime(r.Form.Get("time"))
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad_data", "invalid parameter \"time\"")
		return
	}
	result := []map[string]any{}
	for _, s := range f.series() {
		if !selects(ms, s.labels) {
			continue
		}
		var values [][2]any
		for _, smp := range s.samples {
			if !smp.stale && smp.t.After(at.Add(-rng)) && !smp.t.After(at) {
				values = append(values, [2]any{promTime(smp.t), "1"})
			}
		}
		if len(values) > 0 {
			result = append(result, map[string]any{"metric": s.labels, "values": values})
		}
	}
	ok(w, map[string]any{"resultType": "matrix", "result": result})
}

// rules answers /api/v1/rules with one group holding every rule and the
// alerts firing now.
func (f *Fake) rules(w http.ResponseWriter) {
	var rules []map[string]any
	for _, r := range f.Rules {
		alerts := []map[string]any{}
		state := "inactive"
		for _, a := range f.Alerts {
			if a.Labels["alertname"] != r.Name {
				continue
			}
			for _, sp := range a.Spans {
				if !sp.FiredAt.After(f.Now) && (sp.ResolvedAt.IsZero() || sp.ResolvedAt.After(f.Now)) {
					state = "firing"
					alerts = append(alerts, map[string]any{
						"labels": a.Labels, "annotations": a.Annotations, "state": "firing",
						"activeAt": sp.FiredAt.Add(-r.For).Format(time.RFC3339Nano), "value": "1e+00",
					})
				}
			}
		}
		rules = append(rules, map[string]any{
			"state": state, "name": r.Name, "query": r.Query, "duration": r.For.Seconds(),
			"keepFiringFor": 0, "labels": r.Labels, "annotations": r.Annotations, "alerts": alerts,
			"health": "ok", "evaluationTime": 0.000312, "lastEvaluation": f.Now.Format(time.RFC3339Nano), "type": "alerting",
		})
	}
	ok(w, map[string]any{"groups": []map[string]any{{
		"name": "checkout.rules", "file": "/etc/prometheus/rules/checkout.yml", "rules": rules,
		"interval": f.Interval.Seconds(), "limit": 0, "evaluationTime": 0.000561, "lastEvaluation": f.Now.Format(time.RFC3339Nano),
	}}})
}

// promTime is a sample time as the API writes it: seconds, milliseconds
// kept, as a number.
func promTime(t time.Time) json.Number {
	return json.Number(strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64))
}

func ok(w http.ResponseWriter, data any) {
	fakeapi.WriteJSON(w, http.StatusOK, map[string]any{"status": "success", "data": data})
}

func apiError(w http.ResponseWriter, status int, typ, msg string) {
	fakeapi.WriteJSON(w, status, map[string]any{"status": "error", "errorType": typ, "error": msg})
}

// Notification is the body Alertmanager's webhook_config posts for a group
// of alerts at the moment at: each alert firing, or resolved if its span
// ended by then (payload version 4). externalLabels are added to every
// alert, as Prometheus adds its global.external_labels when it sends them.
func Notification(receiver, externalURL string, at time.Time, externalLabels map[string]string, alerts ...AlertSpan) []byte {
	type amAlert struct {
		Status       string            `json:"status"`
		Labels       map[string]string `json:"labels"`
		Annotations  map[string]string `json:"annotations"`
		StartsAt     string            `json:"startsAt"`
		EndsAt       string            `json:"endsAt"`
		GeneratorURL string            `json:"generatorURL"`
		Fingerprint  string            `json:"fingerprint"`
	}
	var list []amAlert
	status := "resolved"
	var common map[string]string
	for _, a := range alerts {
		labels := map[string]string{}
		for k, v := range a.Labels {
			labels[k] = v
		}
		for k, v := range externalLabels {
			if _, has := labels[k]; !has {
				labels[k] = v
			}
		}
		ls := model.LabelSet{}
		for k, v := range labels {
			ls[model.LabelName(k)] = model.LabelValue(v)
		}
		al := amAlert{Status: "firing", Labels: labels, Annotations: a.Annotations,
			StartsAt: a.Span.FiredAt.Format(time.RFC3339Nano), EndsAt: "0001-01-01T00:00:00Z",
			GeneratorURL: a.GeneratorURL, Fingerprint: ls.Fingerprint().String()}
		if !a.Span.ResolvedAt.IsZero() && !a.Span.ResolvedAt.After(at) {
			al.Status, al.EndsAt = "resolved", a.Span.ResolvedAt.Format(time.RFC3339Nano)
		} else {
			status = "firing"
		}
		list = append(list, al)
		if common == nil {
			common = labels
		} else {
			next := map[string]string{}
			for k, v := range common {
				if labels[k] == v {
					next[k] = v
				}
			}
			common = next
		}
	}
	group := map[string]string{}
	if n, ok := common["alertname"]; ok {
		group["alertname"] = n
	}
	var keys []string
	for k := range group {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var gk []string
	for _, k := range keys {
		gk = append(gk, k+"="+strconv.Quote(group[k]))
	}
	body, _ := json.Marshal(map[string]any{
		"receiver": receiver, "status": status, "alerts": list, "groupLabels": group,
		"commonLabels": common, "commonAnnotations": map[string]string{}, "externalURL": externalURL,
		"version": "4", "groupKey": "{}:{" + strings.Join(gk, ", ") + "}", "truncatedAlerts": 0,
	})
	return body
}

// AlertSpan is one span of an alert, as a notification carries it.
type AlertSpan struct {
	Labels       map[string]string
	Annotations  map[string]string
	GeneratorURL string
	Span         Span
}
