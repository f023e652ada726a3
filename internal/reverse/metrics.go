package reverse

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the reverse pipeline's Prometheus metrics.
type Metrics struct {
	Changes      *prometheus.CounterVec
	Transactions prometheus.Counter
	ApplySeconds prometheus.Histogram
	LagSeconds   prometheus.Gauge
	Position     prometheus.Gauge
	CopiedRows   *prometheus.CounterVec
	// LoopsSuppressed counts changes not applied because sync wrote them
	// (echoes of PostgreSQL changes).
	LoopsSuppressed prometheus.Counter
	// Conflicts counts two-way conflicts by SurrealDB table and winner.
	Conflicts *prometheus.CounterVec
	// Repairs counts PostgreSQL rows rewritten so sync sends them back.
	Repairs prometheus.Counter
	Errors  *prometheus.CounterVec
	// Running is 1 while the pipeline copies or streams, 0 while it is
	// stopped or reconnecting (readiness and the alerts read it).
	Running prometheus.Gauge
}

// NewMetrics creates the metrics and registers them with reg (none when
// reg is nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pgsurreal_reverse_changes_total", Help: "SurrealDB record changes applied to PostgreSQL, by SurrealDB table and operation.",
		}, []string{"table", "op"}),
		Transactions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pgsurreal_reverse_transactions_total", Help: "SurrealDB transactions applied to PostgreSQL.",
		}),
		ApplySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "pgsurreal_reverse_apply_duration_seconds", Help: "Time to apply one group of SurrealDB transactions to PostgreSQL.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		LagSeconds: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pgsurreal_reverse_lag_seconds", Help: "Age of the last applied SurrealDB transaction when it was applied (versionstamp time); 0 when caught up.",
		}),
		Position: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pgsurreal_reverse_position_versionstamp", Help: "The SurrealDB versionstamp PostgreSQL is replicated up to.",
		}),
		CopiedRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pgsurreal_reverse_copied_rows_total", Help: "Records copied by the initial copy of a table, by SurrealDB table.",
		}, []string{"table"}),
		LoopsSuppressed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pgsurreal_reverse_loops_suppressed_total", Help: "SurrealDB changes not applied to PostgreSQL because pgsurreal's sync wrote them (echoes).",
		}),
		Conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pgsurreal_reverse_conflicts_total", Help: "Two-way conflicts (the same key written on both sides concurrently), by SurrealDB table and winning side.",
		}, []string{"table", "winner"}),
		Repairs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pgsurreal_reverse_repairs_total", Help: "PostgreSQL rows rewritten after a conflict SurrealDB won, so that sync sends SurrealDB's version back.",
		}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pgsurreal_reverse_errors_total", Help: "Reverse pipeline errors: retryable (reconnected) or fatal (stopped).",
		}, []string{"kind"}),
		Running: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pgsurreal_reverse_running", Help: "1 while the SurrealDB -> PostgreSQL pipeline copies or streams, 0 while it is stopped or reconnecting.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Changes, m.Transactions, m.ApplySeconds, m.LagSeconds, m.Position, m.CopiedRows, m.LoopsSuppressed, m.Conflicts, m.Repairs, m.Errors, m.Running)
	}
	return m
}
