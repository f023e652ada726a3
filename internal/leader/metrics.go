package leader

import "github.com/prometheus/client_golang/prometheus"

// metrics are the lease's Prometheus metrics.
type metrics struct {
	// leader is 1 while this process leads, 0 otherwise.
	leader prometheus.Gauge
	// standby is 1 while this process stands by behind a leader it can
	// see (another session holds the lock): its replication is meant to
	// be stopped, and the "sync stopped" alert is not for it.
	standby prometheus.Gauge
	// transitions counts changes of role, either way: a rate above zero
	// for long is a lease that flaps.
	transitions prometheus.Counter
	// checkFailures counts failed checks of the lock's session, by a
	// holder (each one ends its leadership) or a standby.
	checkFailures prometheus.Counter
}

// newMetrics builds the metrics and registers them on reg (nil: none).
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		leader:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "pgsurreal_leader", Help: "1 while this process holds the leader lease and runs replication and the transaction resolver, 0 on a standby."}),
		standby:       prometheus.NewGauge(prometheus.GaugeOpts{Name: "pgsurreal_leader_standby", Help: "1 while this process stands by because another process holds the leader lease, 0 while it leads or cannot tell (PostgreSQL unreachable)."}),
		transitions:   prometheus.NewCounter(prometheus.CounterOpts{Name: "pgsurreal_leader_transitions_total", Help: "Changes of this process's role (standby to leader or back)."}),
		checkFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "pgsurreal_leader_check_failures_total", Help: "Checks of the lease's PostgreSQL session that failed or timed out."}),
	}
	if reg != nil {
		reg.MustRegister(m.leader, m.standby, m.transitions, m.checkFailures)
	}
	return m
}
