package main

import (
	"context"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pgsurreal/pgsurreal/bench/internal/harness"
	"github.com/pgsurreal/pgsurreal/bench/internal/throughput"
	"github.com/pgsurreal/pgsurreal/internal/config"
)

// stallAfter is how long the pipeline may apply nothing, while changes
// are outstanding, before they count as lost.
const stallAfter = 5 * time.Second

// rawResult is the rate at which SurrealDB takes the load's writes with
// no pipeline running.
type rawResult struct {
	RecordsPerTxn int     `json:"records_per_transaction"`
	Writers       int     `json:"writers"`
	Seconds       float64 `json:"seconds"`
	Changes       int64   `json:"changes"`
	PerS          float64 `json:"changes_per_s"`
	Retries       int64   `json:"conflict_retries"`
}

// catchUpResult is the pipeline applying a backlog left while it was
// stopped: its own limit, with no writes competing.
type catchUpResult struct {
	Changes int64 `json:"changes"`
	Lost    int64 `json:"lost_changes"`
	// StartSeconds is from the start to streaming (connections, setup,
	// table checks); Seconds from then until every change was applied.
	StartSeconds float64    `json:"start_seconds"`
	Seconds      float64    `json:"seconds"`
	PerS         float64    `json:"changes_per_s"`
	Pipeline     groupStats `json:"pipeline"`
}

// catchUp starts the pipeline and times how long it takes to apply the
// backlog of changes written while it was stopped; it is left running.
func catchUp(ctx context.Context, p *pipeline, backlog int64) (catchUpResult, error) {
	r := catchUpResult{Changes: backlog}
	before := p.stats()
	start := time.Now()
	p.start()
	if err := p.waitStreaming(ctx, 2*time.Minute); err != nil {
		return r, err
	}
	streaming := time.Now()
	got, done, err := p.waitApplied(ctx, int64(before.changes)+backlog, stallAfter)
	if err != nil {
		return r, err
	}
	r.Lost = int64(before.changes) + backlog - got
	d := done.Sub(streaming)
	r.StartSeconds = harness.Round(streaming.Sub(start).Seconds(), 2)
	r.Seconds = harness.Round(d.Seconds(), 2)
	r.PerS = harness.Round(float64(backlog)/d.Seconds(), 0)
	r.Pipeline = since(before, p.stats())
	return r, nil
}

// loadResult is one throughput phase: writers writing as fast as they
// can while the pipeline runs, held back only while the backlog exceeds
// a cap.
type loadResult struct {
	RecordsPerTxn int     `json:"records_per_transaction"`
	Writers       int     `json:"writers"`
	Seconds       float64 `json:"seconds"`
	MaxBacklog    int64   `json:"max_backlog_changes"`
	// Written changes, and their rate, committed in SurrealDB.
	Written     int64   `json:"changes_written"`
	WrittenPerS float64 `json:"written_changes_per_s"`
	Retries     int64   `json:"conflict_retries"`
	// Applied changes in PostgreSQL during the window, overall and per
	// second.
	AppliedPerS       float64   `json:"applied_changes_per_s"`
	AppliedPerSMedian float64   `json:"applied_changes_per_s_median"`
	AppliedSamples    []float64 `json:"applied_changes_per_s_samples"`
	// What was left when the writers stopped, and how long it took to
	// apply.
	BacklogAtEnd int64   `json:"backlog_at_end_changes"`
	DrainSeconds float64 `json:"drain_seconds"`
	// Lost is the changes written but never applied (the pipeline applied
	// nothing more for stallAfter): should be 0.
	Lost int64 `json:"lost_changes"`
	// ThrottledSeconds is how long the writers waited for the backlog to
	// fall under the cap: the pipeline, not SurrealDB, set the pace.
	ThrottledSeconds float64 `json:"throttled_seconds"`
	// KeptUp: never throttled, and the backlog drained within 1 s plus
	// reverse.settle (lost changes aside): SurrealDB's writes, not the
	// pipeline, set the pace.
	KeptUp   bool       `json:"kept_up"`
	Pipeline groupStats `json:"pipeline"`
}

// runRaw writes the load's transactions of recordsPerTxn records into
// the replicated table (schemaless, with a changefeed) from writers
// connections, flat out for d, while the pipeline is stopped.
func runRaw(ctx context.Context, sur config.Surreal, table string, ids *atomic.Int64, recordsPerTxn, writers int, d time.Duration) (rawResult, error) {
	r := rawResult{RecordsPerTxn: recordsPerTxn, Writers: writers}
	ws, err := newWriters(ctx, sur, table, ids, writers)
	if err != nil {
		return r, err
	}
	defer closeWriters(ws)
	var written atomic.Int64
	start := time.Now()
	deadline := start.Add(d)
	g, gctx := errgroup.WithContext(ctx)
	for _, w := range ws {
		g.Go(func() error {
			for time.Now().Before(deadline) {
				if err := w.txn(gctx, recordsPerTxn); err != nil {
					return err
				}
				written.Add(int64(recordsPerTxn))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return r, err
	}
	window := time.Since(start).Seconds()
	r.Seconds = harness.Round(window, 2)
	r.Changes = written.Load()
	r.PerS = harness.Round(float64(r.Changes)/window, 0)
	for _, w := range ws {
		r.Retries += w.retries
	}
	return r, nil
}

// runLoad writes the load's transactions of recordsPerTxn records into
// the replicated table from writers connections for d and measures what
// the pipeline applies.
func runLoad(ctx context.Context, sur config.Surreal, table string, p *pipeline, ids *atomic.Int64, recordsPerTxn, writers int, d time.Duration, maxBacklog int64) (loadResult, error) {
	r := loadResult{RecordsPerTxn: recordsPerTxn, Writers: writers, MaxBacklog: maxBacklog}
	ws, err := newWriters(ctx, sur, table, ids, writers)
	if err != nil {
		return r, err
	}
	defer closeWriters(ws)
	txns := make([]func(context.Context) error, len(ws))
	for i, w := range ws {
		txns[i] = func(ctx context.Context) error { return w.txn(ctx, recordsPerTxn) }
	}
	before := p.stats()
	base := int64(before.changes)
	win, err := throughput.Drive(ctx, p.applied, base, txns, recordsPerTxn, d, maxBacklog)
	if err != nil {
		return r, err
	}
	if err := p.failed(); err != nil {
		return r, err
	}
	r.Written = win.Written
	got, done, err := p.waitApplied(ctx, base+r.Written, stallAfter)
	if err != nil {
		return r, err
	}
	r.Lost = base + r.Written - got
	drain := max(0, done.Sub(win.End))
	r.Seconds = win.Seconds
	r.WrittenPerS = win.WrittenPerS
	for _, w := range ws {
		r.Retries += w.retries
	}
	r.AppliedPerS, r.AppliedPerSMedian, r.AppliedSamples = win.AppliedPerS, win.AppliedPerSMedian, win.AppliedSamples
	r.BacklogAtEnd = win.BacklogAtEnd
	r.ThrottledSeconds = win.ThrottledSeconds
	r.DrainSeconds = harness.Round(drain.Seconds(), 2)
	// A change is applied once it is reverse.settle old, so the backlog
	// always takes that long to drain: allow it on top of the second.
	r.KeptUp = r.ThrottledSeconds == 0 && r.DrainSeconds <= 1+config.Default().Reverse.Settle.Seconds()
	r.Pipeline = since(before, p.stats())
	return r, nil
}
