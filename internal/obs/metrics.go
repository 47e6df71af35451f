package obs

import (
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are one app's Prometheus collectors, on a registry of its own so
// that several apps in one test process do not collide.
type Metrics struct {
	Registry      *prometheus.Registry
	HTTPRequests  *prometheus.CounterVec
	HTTPDuration  *prometheus.HistogramVec
	HTTPPanics    *prometheus.CounterVec
	WebServices   *prometheus.CounterVec
	WebServiceDur *prometheus.HistogramVec
	JobRuns       *prometheus.CounterVec
	Deliveries    *prometheus.CounterVec
	DeliveryDur   *prometheus.HistogramVec
}

// NewMetrics registers the standard collectors.
func NewMetrics() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "openpsp_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "openpsp_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		// A recovered panic is answered in its caller's format, V4's
		// with HTTP 200: the status code alone does not show it.
		HTTPPanics: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "openpsp_http_panics_total", Help: "Panics recovered while serving a request, by route.",
		}, []string{"route"}),
		WebServices: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "openpsp_v4_calls_total", Help: "REST API V4 calls by web service and answer status (SUCCESS/ERROR).",
		}, []string{"web_service", "status"}),
		WebServiceDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "openpsp_v4_call_duration_seconds", Help: "REST API V4 call latency by web service.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"web_service"}),
		JobRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "openpsp_job_runs_total", Help: "Background job runs by job and outcome.",
		}, []string{"job", "outcome"}),
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "openpsp_outbox_attempts_total",
			Help: "Notification delivery attempts (IPN, webhook, email, SMS) by channel and outcome: delivered, retry (failed, will be retried) or dead (given up).",
		}, []string{"channel", "outcome"}),
		DeliveryDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "openpsp_outbox_attempt_duration_seconds", Help: "Notification delivery attempt latency by channel.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"channel"}),
	}
	r.MustRegister(m.HTTPRequests, m.HTTPDuration, m.HTTPPanics, m.WebServices, m.WebServiceDur, m.JobRuns, m.Deliveries, m.DeliveryDur,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// WriteCounters are the database's group-commit counters (store.WriteStats).
type WriteCounters func() (requests, commits, walSyncs int64)

// RegisterWrites serves the database's write counters: how many writes
// share a commit, and on SQLite how many commits share an fsync.
func (m *Metrics) RegisterWrites(read WriteCounters) {
	counter := func(name, help string, pick func(r, c, s int64) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 {
			return float64(pick(read()))
		})
	}
	m.Registry.MustRegister(
		counter("openpsp_db_write_requests_total", "Writes run through the group-commit queue.", func(r, _, _ int64) int64 { return r }),
		counter("openpsp_db_commits_total", "Transactions committed for them (writes per commit = requests / commits).", func(_, c, _ int64) int64 { return c }),
		counter("openpsp_db_wal_syncs_total", "SQLite WAL fsyncs that made commits durable (0 on PostgreSQL).", func(_, _, s int64) int64 { return s }),
	)
}

// OutboxCounters are the dispatcher's counts (outbox.Dispatcher.Stats).
type OutboxCounters func() (claimed, handed int64)

// RegisterOutbox serves how the dispatcher found the messages it delivered:
// by its claim query, or handed over by this process at their commit.
func (m *Metrics) RegisterOutbox(read OutboxCounters) {
	vec := func(how string, pick func(c, h int64) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "openpsp_outbox_taken_total",
			Help:        "Outbox messages this process took to deliver, by how: claimed (claim query) or handed (at their commit).",
			ConstLabels: prometheus.Labels{"how": how}}, func() float64 { return float64(pick(read())) })
	}
	m.Registry.MustRegister(
		vec("claimed", func(c, _ int64) int64 { return c }),
		vec("handed", func(_, h int64) int64 { return h }),
	)
}

// ObserveWebService records one V4 call.
func (m *Metrics) ObserveWebService(name, status string, d time.Duration) {
	m.WebServices.WithLabelValues(name, status).Inc()
	m.WebServiceDur.WithLabelValues(name).Observe(d.Seconds())
}

// ObserveDelivery records one notification delivery attempt
// (outbox.Options.Observe).
func (m *Metrics) ObserveDelivery(channel, outcome string, d time.Duration) {
	m.Deliveries.WithLabelValues(channel, outcome).Inc()
	m.DeliveryDur.WithLabelValues(channel).Observe(d.Seconds())
}

// PendingOp is one kind of pending (or retrying) operation now: how many
// transactions have it, and how long ago the oldest of them was claimed
// (for a retrying one: was due); 0 for none.
type PendingOp struct {
	Count     int64
	OldestAge time.Duration
}

// PendingOps reads the pending operations now, by operation
// (store.DB.PendingOps), the retrying ones (store.DB.RetryingOps), or the
// due ones not yet tried (store.DB.DueOps).
type PendingOps func() (map[string]PendingOp, error)

// pendingOps are the pending operations the gauges always show (0 when
// none), so that an alert on one finds its series.
var pendingOps = []string{"AUTHORISE", "CAPTURE", "CANCEL"}

// scheduledOps are the operations a job sends at their date (a capture, a
// deferred authorization the day before the capture date): the ones
// counted due and never tried, and retried after the acquirer could not
// take them (a cancellation stays pending instead).
var scheduledOps = []string{"AUTHORISE", "CAPTURE"}

// RegisterPending serves openpsp_pending_operations{op}, the transactions
// whose operation is sent or being settled with the acquirer, and
// openpsp_pending_operation_oldest_seconds{op}, how long ago the oldest of
// them was claimed, both from one read at each scrape. An operation is
// pending for the acquirer's timeout, then until recovery settles it; a
// cancellation recovery cannot send again (the acquirer unreachable) stays
// pending until it can, without limit: an age above a few recovery
// periods is the alert (a count above 0 may be new operations each time).
// A scrape whose read fails reports no series (and the error) rather than
// a 0.
func (m *Metrics) RegisterPending(read PendingOps) {
	m.registerOps(read, pendingOps,
		"openpsp_pending_operations",
		"Transactions whose operation (AUTHORISE, CAPTURE, CANCEL) is under way or being settled with the acquirer; a cancellation stays pending while recovery cannot reach the acquirer to send it again.",
		"openpsp_pending_operation_oldest_seconds",
		"Seconds since the oldest pending operation (AUTHORISE, CAPTURE, CANCEL) was claimed, across recovery rounds; 0 when none is pending.")
}

// RegisterRetrying serves openpsp_retrying_operations{op}, the captures
// and deferred authorizations due that the acquirer could not take and
// that wait for their retry time (up to an hour apart), and
// openpsp_retrying_operation_overdue_seconds{op}, how long ago the oldest
// of them was due, from one read at each scrape as RegisterPending's.
// Released between tries, they are in no pending count: the overdue age
// is what shows an acquirer down for hours.
func (m *Metrics) RegisterRetrying(read PendingOps) {
	m.registerOps(read, scheduledOps,
		"openpsp_retrying_operations",
		"Captures (CAPTURE) and deferred authorizations (AUTHORISE) due that the acquirer could not take, waiting for their retry time.",
		"openpsp_retrying_operation_overdue_seconds",
		"Seconds since the oldest retrying operation (CAPTURE, AUTHORISE) was due (capture date; a deferred authorization a day before it); 0 when none.")
}

// RegisterDue serves openpsp_due_operations{op}, the captures and deferred
// authorizations due that no run of their job has tried yet, and
// openpsp_due_operation_overdue_seconds{op}, how long ago the oldest of
// them was due, from one read at each scrape as RegisterPending's. Each
// job sends them within seconds: a count that stays above 0 with an age of
// minutes is a job stuck or outrun, which no pending or retrying gauge
// shows (they were never claimed).
func (m *Metrics) RegisterDue(read PendingOps) {
	m.registerOps(read, scheduledOps,
		"openpsp_due_operations",
		"Captures (CAPTURE) and deferred authorizations (AUTHORISE) due that no run of their job has tried yet.",
		"openpsp_due_operation_overdue_seconds",
		"Seconds since the oldest operation due and not yet tried (CAPTURE, AUTHORISE) was due (capture date; a deferred authorization a day before it); 0 when none.")
}

// registerOps serves, by operation (label op, a series for each of
// always), the gauges count (help countHelp) and oldest (oldestHelp) from
// one read at each scrape.
func (m *Metrics) registerOps(read PendingOps, always []string, count, countHelp, oldest, oldestHelp string) {
	m.Registry.MustRegister(opCollector{read: read, always: always,
		count:  prometheus.NewDesc(count, countHelp, []string{"op"}, nil),
		oldest: prometheus.NewDesc(oldest, oldestHelp, []string{"op"}, nil)})
}

// opCollector serves a count and an age by operation from one read per
// scrape, with a series for each of the operations always.
type opCollector struct {
	read          PendingOps
	always        []string
	count, oldest *prometheus.Desc
}

func (c opCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.count; ch <- c.oldest }

func (c opCollector) Collect(ch chan<- prometheus.Metric) {
	ops, err := c.read()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.count, err)
		ch <- prometheus.NewInvalidMetric(c.oldest, err)
		return
	}
	send := func(op string, p PendingOp) {
		ch <- prometheus.MustNewConstMetric(c.count, prometheus.GaugeValue, float64(p.Count), strings.ToLower(op))
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, p.OldestAge.Seconds(), strings.ToLower(op))
	}
	for _, op := range c.always {
		send(op, ops[op])
	}
	for op, p := range ops {
		if !slices.Contains(c.always, op) {
			send(op, p)
		}
	}
}
