package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are Groundwork's Prometheus metrics. It implements
// collectors.Observer, so collectors' transports report to it directly.
type Metrics struct {
	reg         *prometheus.Registry
	collections *prometheus.CounterVec
	requests    *prometheus.CounterVec
	rateWaits   *prometheus.CounterVec
	rateWaitSec *prometheus.CounterVec
	deliveries  *prometheus.CounterVec
	httpLatency *prometheus.HistogramVec
}

// NewMetrics registers every metric on a fresh registry, with the Go and
// process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		collections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "groundwork_collections_total", Help: "Source collections finished, by source and outcome (succeeded, failed, rate_limited, skipped).",
		}, []string{"source", "outcome"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "groundwork_upstream_requests_total", Help: "Requests sent to upstream APIs (each attempt), by source.",
		}, []string{"source"}),
		rateWaits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "groundwork_upstream_rate_limit_waits_total", Help: "Times an upstream refused a request for its rate limit, by source.",
		}, []string{"source"}),
		rateWaitSec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "groundwork_upstream_rate_limit_wait_seconds_total", Help: "Seconds spent waiting out upstream rate limits, by source.",
		}, []string{"source"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "groundwork_webhook_deliveries_total", Help: "Webhook deliveries, by receiver and outcome (accepted, duplicate, ignored, bad_signature, malformed, too_large, unavailable, error).",
		}, []string{"receiver", "outcome"}),
		httpLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "groundwork_http_request_duration_seconds", Help: "HTTP request latency, by route pattern, method and status code.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "code"}),
	}
	m.reg.MustRegister(m.collections, m.requests, m.rateWaits, m.rateWaitSec, m.deliveries, m.httpLatency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry, for tests and for extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Request implements collectors.Observer.
func (m *Metrics) Request(source string) { m.requests.WithLabelValues(source).Inc() }

// RateLimited implements collectors.Observer.
func (m *Metrics) RateLimited(source string, d time.Duration) {
	m.rateWaits.WithLabelValues(source).Inc()
	m.rateWaitSec.WithLabelValues(source).Add(d.Seconds())
}

// CollectionDone counts one source's finished collection.
func (m *Metrics) CollectionDone(source, outcome string) {
	m.collections.WithLabelValues(source, outcome).Inc()
}

// WebhookDelivery counts one webhook delivery.
func (m *Metrics) WebhookDelivery(receiver, outcome string) {
	m.deliveries.WithLabelValues(receiver, outcome).Inc()
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// instrument records the latency of every request under its route pattern
// (never the raw path, which would explode the label space).
func (m *Metrics) instrument(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		m.httpLatency.WithLabelValues(route, r.Method, strconv.Itoa(sw.code)).Observe(time.Since(start).Seconds())
	})
}

// statusWriter remembers the status code; it passes Flush and the rest
// through via Unwrap, for http.ResponseController.
type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
