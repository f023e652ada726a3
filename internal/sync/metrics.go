package sync

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/mapping"
)

// Metrics are the pipeline's Prometheus metrics.
type Metrics struct {
	Changes          *prometheus.CounterVec
	Transactions     prometheus.Counter
	ApplySeconds     prometheus.Histogram
	BatchChanges     prometheus.Histogram
	GroupLimit       prometheus.Gauge
	LoopsSuppressed  prometheus.Counter
	LagBytes         prometheus.Gauge
	LagSeconds       prometheus.Gauge
	Position         prometheus.Gauge
	SlotRetainedWAL  prometheus.Gauge
	Errors           *prometheus.CounterVec
	DeadLetters      prometheus.Counter
	SnapshotRows     *prometheus.CounterVec
	SnapshotEstimate *prometheus.GaugeVec
	// Running is 1 while the pipeline snapshots or streams, 0 while it
	// is stopped or reconnecting (readiness and the sync-stopped alert
	// read it).
	Running prometheus.Gauge
}

// NewMetrics creates the metrics and registers them with reg (none when
// reg is nil, as in tests that do not look at them).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pgsurreal_sync_changes_total", Help: "Row changes applied to SurrealDB, by source table and operation.",
		}, []string{"table", "op"}),
		Transactions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pgsurreal_sync_transactions_total", Help: "Source transactions applied to SurrealDB.",
		}),
		ApplySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "pgsurreal_sync_apply_duration_seconds", Help: "Time to apply one group of transactions to SurrealDB.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		BatchChanges: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "pgsurreal_sync_batch_changes", Help: "Row changes per SurrealDB transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 16),
		}),
		LoopsSuppressed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pgsurreal_sync_loops_suppressed_total", Help: "Row changes not replicated to SurrealDB because the reverse direction wrote them (replication origin sync.SkipOrigin).",
		}),
		GroupLimit: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pgsurreal_sync_group_limit_changes", Help: "Most row changes the applier groups into one SurrealDB transaction now (adapts to apply latency, capped by sync.batch_size).",
		}),
		LagBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pgsurreal_sync_lag_bytes", Help: "WAL received from PostgreSQL but not yet applied to SurrealDB.",
		}),
		LagSeconds: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pgsurreal_sync_lag_seconds", Help: "Age of the last applied source transaction when it was applied.",
		}),
		Position: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pgsurreal_sync_position_lsn", Help: "The PostgreSQL LSN SurrealDB is replicated up to.",
		}),
		SlotRetainedWAL: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pgsurreal_sync_slot_retained_wal_bytes", Help: "WAL the replication slot keeps on the PostgreSQL server.",
		}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pgsurreal_sync_errors_total", Help: "Pipeline errors: retryable (reconnected) or fatal (stopped).",
		}, []string{"kind"}),
		DeadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pgsurreal_sync_dead_letters_total", Help: "Changes SurrealDB refused that were parked in the dead-letter table.",
		}),
		SnapshotRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pgsurreal_sync_snapshot_rows_total", Help: "Rows copied by the snapshot, by table.",
		}, []string{"table"}),
		SnapshotEstimate: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pgsurreal_sync_snapshot_rows_estimated", Help: "Estimated rows of each table being snapshotted.",
		}, []string{"table"}),
		Running: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pgsurreal_sync_running", Help: "1 while the PostgreSQL -> SurrealDB pipeline snapshots or streams, 0 while it is stopped or reconnecting.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Changes, m.Transactions, m.ApplySeconds, m.BatchChanges, m.GroupLimit, m.LoopsSuppressed, m.LagBytes, m.LagSeconds,
			m.Position, m.SlotRetainedWAL, m.Errors, m.DeadLetters, m.SnapshotRows, m.SnapshotEstimate, m.Running)
	}
	return m
}

// changeCounts are row changes by table and operation, counted once the
// SurrealDB transaction holding them committed (a failed group is
// replayed, and must not count twice).
type changeCounts map[[2]string]int

func (c changeCounts) add(ch cdc.Change) {
	if ch.Op == cdc.OpTruncate {
		for _, r := range ch.Truncated {
			c[[2]string{r.QualifiedName(), "truncate"}]++
		}
		return
	}
	c[[2]string{ch.Rel.QualifiedName(), ch.Op.String()}]++
}

// targetsOf names the SurrealDB tables (and edge tables) that the counted
// changes wrote.
func (p *Pipeline) targetsOf(c changeCounts) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for k := range c {
		if s := p.shapes[k[0]]; s != nil {
			out = appendTargets(out, seen, s)
		}
	}
	return out
}

// allTargets names every SurrealDB table the pipeline writes.
func (p *Pipeline) allTargets() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, s := range p.shapes {
		out = appendTargets(out, seen, s)
	}
	return out
}

func appendTargets(out []string, seen map[string]bool, s *mapping.Shape) []string {
	add := func(t string) {
		if t != "" && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	add(s.Target)
	for _, e := range s.Edges {
		add(e.Name)
	}
	return out
}

// flush adds the counts to m and empties c.
func (c changeCounts) flush(m *Metrics) {
	for k, n := range c {
		m.Changes.WithLabelValues(k[0], k[1]).Add(float64(n))
	}
	clear(c)
}

// watchSlot samples how much WAL the slot retains every 5 seconds.
func (p *Pipeline) watchSlot(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		var retained int64
		err := p.pool.QueryRow(ctx, "SELECT COALESCE(pg_current_wal_lsn() - restart_lsn, 0)::int8 FROM pg_replication_slots WHERE slot_name = $1", p.o.Sync.Slot).Scan(&retained)
		if err == nil {
			p.o.Metrics.SlotRetainedWAL.Set(float64(retained))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
