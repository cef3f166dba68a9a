package prometheus

import (
	"net/url"
	"strconv"
	"time"

	"github.com/prometheus/common/model"

	"github.com/groundwork-dev/groundwork/timeline"
)

// alert is one span of an alert, as the ALERTS series or an Alertmanager
// notification tells it.
type alert struct {
	// Labels identify the alert: the rule's and the series' labels with
	// alertname, and Prometheus' external labels, without alertstate.
	Labels      map[string]string
	Annotations map[string]string
	// Start is when the alert began to fire (Alertmanager's startsAt,
	// Prometheus' FiredAt); End is when it resolved, nil while it fires.
	Start time.Time
	End   *time.Time
	// URL links to the rule's expression in Prometheus (generatorURL).
	URL string
}

// Fingerprint is the alert's identity: the fingerprint of its label set as
// Prometheus and Alertmanager compute it (model.LabelSet.Fingerprint, the
// "fingerprint" of Alertmanager's webhook), 16 hex digits.
func Fingerprint(labels map[string]string) string {
	ls := make(model.LabelSet, len(labels))
	for k, v := range labels {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls.Fingerprint().String()
}

// AlertID is the id of the event of an alert span's start:
// prometheus:alert:{alertname}:{fingerprint}:{start unix}; the end's adds
// ":resolved".
func AlertID(labels map[string]string, start time.Time) string {
	return timeline.EventID(Name, "alert", clean(labels[model.AlertNameLabel]), Fingerprint(labels), strconv.FormatInt(start.Unix(), 10))
}

// events returns the span's alert.firing event at its start and, once it
// has ended, its alert.resolved event at its end. Both carry the labels and
// annotations in details, so that the live and the collected events of one
// span are the same.
func (a alert) events() []timeline.Event {
	name := a.Labels[model.AlertNameLabel]
	fp := Fingerprint(a.Labels)
	labels := make(map[string]any, len(a.Labels))
	for k, v := range a.Labels {
		labels[clean(k)] = clean(v)
	}
	annotations := make(map[string]any, len(a.Annotations))
	for k, v := range a.Annotations {
		annotations[clean(k)] = clean(v)
	}
	details := func() map[string]any {
		d := map[string]any{
			DetailAlertName: clean(name), DetailFingerprint: fp, DetailLabels: labels,
			DetailAnnotations: annotations, DetailStartsAt: a.Start.UTC().Format(time.RFC3339Nano),
		}
		if sev := a.Labels["severity"]; sev != "" {
			d[DetailSeverity] = clean(sev)
		}
		return d
	}
	title := func(what string) string {
		t := clean(name) + " " + what
		if s := a.Annotations["summary"]; s != "" {
			t += ": " + clean(s)
		}
		return timeline.Truncate(t, 120)
	}
	id := AlertID(a.Labels, a.Start)
	out := []timeline.Event{{
		ID: id, Source: Name, Kind: timeline.KindAlertFiring, OccurredAt: a.Start.UTC(),
		Title: title("firing"), Text: clean(a.Annotations["description"]), URL: clean(a.URL), Details: details(),
	}}
	if a.End != nil {
		d := details()
		d[DetailEndsAt] = a.End.UTC().Format(time.RFC3339Nano)
		out = append(out, timeline.Event{
			ID: id + ":resolved", Source: Name, Kind: timeline.KindAlertResolved, OccurredAt: a.End.UTC(),
			Title: title("resolved"), Text: clean(a.Annotations["description"]), URL: clean(a.URL), Details: d,
		})
	}
	for i := range out {
		out[i] = timeline.MakeStorable(out[i])
	}
	return out
}

// Detail keys of the alert events.
const (
	DetailAlertName   = "alertname"
	DetailFingerprint = "fingerprint"
	DetailLabels      = "labels"
	DetailAnnotations = "annotations"
	DetailSeverity    = "severity"
	DetailStartsAt    = "starts_at"
	DetailEndsAt      = "ends_at"
)

// clean makes s storable (timeline.StorableString), as live and collected
// events both need it.
func clean(s string) string { return timeline.StorableString(s) }

// tableLink is the path Prometheus gives an alert's generatorURL, after its
// external URL: the rule's expression in the table view.
func tableLink(expr string) string {
	return "/graph?g0.expr=" + url.QueryEscape(expr) + "&g0.tab=1"
}
