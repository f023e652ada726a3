package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsurreal/pgsurreal/bench/internal/harness"
	"github.com/pgsurreal/pgsurreal/internal/reverse"
)

// pipeline is reverse.Run running in this process. It is stopped while
// the baselines are measured and started again for the pipeline's
// phases; the metrics live on across runs.
type pipeline struct {
	o      reverse.Options
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
	err    error
	ended  bool
}

func newPipeline(o reverse.Options) *pipeline {
	p := &pipeline{reg: prometheus.NewRegistry(), ended: true}
	o.Metrics = reverse.NewMetrics(p.reg)
	p.o = o
	return p
}

// start runs the pipeline until stop.
func (p *pipeline) start() {
	p.o.Metrics.Position.Set(0) // see waitStreaming
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done, p.err, p.ended = cancel, make(chan error, 1), nil, false
	go func() { p.done <- reverse.Run(ctx, p.o) }()
}

// stop cancels the pipeline and waits for it.
func (p *pipeline) stop() error {
	if p.ended {
		return p.err
	}
	p.cancel()
	p.ended = true
	p.err = <-p.done
	return p.err
}

// failed returns the pipeline's error if it stopped by itself.
func (p *pipeline) failed() error {
	if p.ended {
		return p.err
	}
	select {
	case err := <-p.done:
		p.ended = true
		p.err = fmt.Errorf("the pipeline stopped: %w", err)
		if err == nil {
			p.err = errors.New("the pipeline stopped without an error")
		}
		return p.err
	default:
		return nil
	}
}

// waitStreaming waits until the pipeline (just started) has set up,
// copied what it had to and begun reading the changefeeds: it sets the
// position gauge then.
func (p *pipeline) waitStreaming(ctx context.Context, timeout time.Duration) error {
	start := time.Now()
	for p.stats().position == 0 {
		if err := p.failed(); err != nil {
			return err
		}
		if time.Since(start) > timeout {
			return fmt.Errorf("the pipeline did not start streaming within %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// waitApplied waits until the pipeline has applied want changes and
// returns how many it applied, and when the last of them was seen: fewer
// than want when it applied nothing for stall (a change it skipped never
// comes).
//
// The changes counter is exact for this load (every statement changes
// one record no other statement touches). A marker (source.Now) would
// not do here: SHOW CHANGES FOR TABLE ... reads at most 1,000 changefeed
// entries of the whole database per request, so under load a marker
// written now is not found from a minute back.
func (p *pipeline) waitApplied(ctx context.Context, want int64, stall time.Duration) (int64, time.Time, error) {
	last, progress := p.applied(), time.Now()
	for last < want {
		if err := p.failed(); err != nil {
			return last, progress, err
		}
		if time.Since(progress) > stall {
			return last, progress, nil
		}
		select {
		case <-ctx.Done():
			return last, progress, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
		if a := p.applied(); a != last {
			last, progress = a, time.Now()
		}
	}
	return last, progress, nil
}

// stats are the pipeline's cumulative apply figures.
type stats struct {
	changes, surrealTxns, pgTxns, applySeconds, position float64
}

func (p *pipeline) stats() stats {
	var s stats
	mfs, err := p.reg.Gather()
	if err != nil {
		return s
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch mf.GetName() {
			case "pgsurreal_reverse_changes_total":
				s.changes += m.GetCounter().GetValue()
			case "pgsurreal_reverse_transactions_total":
				s.surrealTxns = m.GetCounter().GetValue()
			case "pgsurreal_reverse_position_versionstamp":
				s.position = m.GetGauge().GetValue()
			case "pgsurreal_reverse_apply_duration_seconds":
				s.pgTxns, s.applySeconds = float64(m.GetHistogram().GetSampleCount()), m.GetHistogram().GetSampleSum()
			}
		}
	}
	return s
}

// applied returns the record changes the pipeline has committed to
// PostgreSQL (pgsurreal_reverse_changes_total, all labels).
func (p *pipeline) applied() int64 { return int64(p.stats().changes) }

// groupStats describes the PostgreSQL transactions of one phase (those
// that only moved the position past a marker included).
type groupStats struct {
	PGTransactions      int64   `json:"pg_transactions"`
	SurrealTransactions int64   `json:"surreal_transactions"`
	Changes             int64   `json:"changes"`
	MeanChangesPerPGTxn float64 `json:"mean_changes_per_pg_transaction"`
	MeanApplyMs         float64 `json:"mean_apply_ms"`
}

func since(before, after stats) groupStats {
	g := groupStats{
		PGTransactions:      int64(after.pgTxns - before.pgTxns),
		SurrealTransactions: int64(after.surrealTxns - before.surrealTxns),
		Changes:             int64(after.changes - before.changes),
	}
	if g.PGTransactions > 0 {
		g.MeanChangesPerPGTxn = harness.Round(float64(g.Changes)/float64(g.PGTransactions), 1)
		g.MeanApplyMs = harness.Round(1000*(after.applySeconds-before.applySeconds)/float64(g.PGTransactions), 2)
	}
	return g
}

func describe(g groupStats) string {
	return fmt.Sprintf("pipeline: %d PostgreSQL transactions (%d SurrealDB transactions) of %.1f changes on average, %.1f ms each",
		g.PGTransactions, g.SurrealTransactions, g.MeanChangesPerPGTxn, g.MeanApplyMs)
}
