package maintenance

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Results of a job's time coming, the result label of runs_total.
const (
	resultOK      = "ok"
	resultError   = "error"
	resultSkipped = "skipped"
)

// metrics are the scheduler's Prometheus metrics. Alerts are built on
// them (docs/operations.md lists the expressions).
type metrics struct {
	runs         *prometheus.CounterVec
	lastRun      *prometheus.GaugeVec
	lastSuccess  *prometheus.GaugeVec
	lastDuration *prometheus.GaugeVec
	lastOK       *prometheus.GaugeVec
	running      *prometheus.GaugeVec
	differences  *prometheus.GaugeVec
	// backupSize has no labels but is a vector so that it is exported
	// only once a backup has reported a size: a 0 before the first backup
	// would look like an empty one.
	backupSize *prometheus.GaugeVec
	// differing are the tables pgsurreal_verify_differences has a value
	// for, so a verify can set those it no longer lists back to 0.
	differing map[string]bool
}

func newMetrics(reg prometheus.Registerer) *metrics {
	perJob := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "pgsurreal_maintenance_" + name, Help: help}, []string{"task"})
	}
	m := &metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pgsurreal_maintenance_runs_total",
			Help: "Times a maintenance job's time came, by result: ok, error, or skipped because the previous run was still going.",
		}, []string{"task", "result"}),
		lastRun:      perJob("last_run_timestamp_seconds", "When the job's last run ended, in seconds since the epoch."),
		lastSuccess:  perJob("last_success_timestamp_seconds", "When the job's last successful run ended, in seconds since the epoch."),
		lastDuration: perJob("last_duration_seconds", "How long the job's last run took."),
		lastOK:       perJob("last_ok", "1 when the job's last run succeeded, 0 when it failed."),
		running:      perJob("running", "1 while a run of the job is in progress."),
		differences: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pgsurreal_verify_differences",
			Help: "Records that differ between PostgreSQL and SurrealDB per table, as the last successful verify found them.",
		}, []string{"table"}),
		backupSize: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pgsurreal_backup_last_size_bytes",
			Help: "Size of the last successful backup.",
		}, nil),
		differing: map[string]bool{},
	}
	if reg != nil {
		reg.MustRegister(m.runs, m.lastRun, m.lastSuccess, m.lastDuration, m.lastOK, m.running, m.differences, m.backupSize)
	}
	return m
}

// addJob exports the job's counters at zero, so increase() and rate()
// see its first run, and its running gauge.
func (m *metrics) addJob(name string) {
	for _, r := range []string{resultOK, resultError, resultSkipped} {
		m.runs.WithLabelValues(name, r)
	}
	m.running.WithLabelValues(name).Set(0)
}

// ran records a finished run. The caller holds the scheduler's lock
// (differing is shared between runs).
func (m *metrics) ran(name string, r Run) {
	end := float64(r.End.UnixNano()) / 1e9
	m.running.WithLabelValues(name).Set(0)
	m.lastRun.WithLabelValues(name).Set(end)
	m.lastDuration.WithLabelValues(name).Set(r.DurationSeconds)
	if !r.OK {
		m.runs.WithLabelValues(name, resultError).Inc()
		m.lastOK.WithLabelValues(name).Set(0)
		return
	}
	m.runs.WithLabelValues(name, resultOK).Inc()
	m.lastOK.WithLabelValues(name).Set(1)
	m.lastSuccess.WithLabelValues(name).Set(end)
	if d := r.Outcome.Differences; d != nil {
		for table := range m.differing {
			if _, ok := d[table]; !ok {
				m.differences.WithLabelValues(table).Set(0)
			}
		}
		for table, n := range d {
			m.differences.WithLabelValues(table).Set(float64(n))
			m.differing[table] = true
		}
	}
	if b := r.Outcome.Backup; b != nil {
		m.backupSize.WithLabelValues().Set(float64(b.Bytes))
	}
}
