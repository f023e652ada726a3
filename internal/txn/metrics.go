package txn

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the distributed transactions' Prometheus metrics.
type Metrics struct {
	Committed     prometheus.Counter
	Aborted       prometheus.Counter
	Retried       prometheus.Counter
	Phase         *prometheus.HistogramVec
	InDoubt       prometheus.Gauge
	OldestInDoubt prometheus.Gauge
	Recovered     *prometheus.CounterVec
}

// NewMetrics builds the metrics and registers them on reg (nil: none).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Committed: prometheus.NewCounter(prometheus.CounterOpts{Name: "pgsurreal_tx_committed_total", Help: "Distributed transactions committed."}),
		Aborted:   prometheus.NewCounter(prometheus.CounterOpts{Name: "pgsurreal_tx_aborted_total", Help: "Distributed transactions that ended without committing."}),
		Retried:   prometheus.NewCounter(prometheus.CounterOpts{Name: "pgsurreal_tx_retries_total", Help: "Attempts run again after a serialization failure, deadlock or write conflict."}),
		Phase: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "pgsurreal_tx_phase_seconds", Help: "Latency of each commit phase.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2, 14)}, []string{"phase"}),
		InDoubt:       prometheus.NewGauge(prometheus.GaugeOpts{Name: "pgsurreal_tx_in_doubt", Help: "pgsurreal's prepared transactions found by the last recovery pass."}),
		OldestInDoubt: prometheus.NewGauge(prometheus.GaugeOpts{Name: "pgsurreal_tx_oldest_in_doubt_seconds", Help: "Age of the oldest of them (prepared transactions hold locks and block VACUUM)."}),
		Recovered:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pgsurreal_tx_recovered_total", Help: "In-doubt transactions the resolver finished, by outcome."}, []string{"outcome"}),
	}
	if reg != nil {
		reg.MustRegister(m.Committed, m.Aborted, m.Retried, m.Phase, m.InDoubt, m.OldestInDoubt, m.Recovered)
	}
	return m
}
