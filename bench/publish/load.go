package main

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/pgsurreal/pgsurreal/bench/internal/harness"
	"github.com/pgsurreal/pgsurreal/bench/internal/throughput"
	"github.com/pgsurreal/pgsurreal/internal/config"
)

// loadResult is one throughput phase, measured as bench/streaming does
// (throughput.Load).
type loadResult struct {
	throughput.Phase
	// Pipeline describes the SurrealDB transactions and published groups
	// of the load and its drain.
	Pipeline groupStats `json:"pipeline"`
}

// groupStats describes the SurrealDB transactions and the published
// groups of one phase.
type groupStats struct {
	throughput.GroupStats
	Published     int64   `json:"messages_published"`
	PublishGroups int64   `json:"published_batches"`
	MeanPublishMs float64 `json:"mean_publish_ms"`
}

func since(before, after throughput.Stats) groupStats {
	g := groupStats{GroupStats: throughput.Since(before, after), Published: int64(after.Published - before.Published),
		PublishGroups: int64(after.PublishGroups - before.PublishGroups)}
	if g.PublishGroups > 0 {
		g.MeanPublishMs = harness.Round(1000*(after.PublishSeconds-before.PublishSeconds)/float64(g.PublishGroups), 2)
	}
	return g
}

// runLoad drives rowsPerTxn-row INSERT transactions into public.ev from
// writers connections for d and measures what the pipeline applies.
func runLoad(ctx context.Context, pg config.Postgres, p *throughput.Pipeline, ids *atomic.Int64, rowsPerTxn, writers int, d time.Duration, maxBacklog int64) (loadResult, error) {
	ph, err := throughput.Load(ctx, pg, p, ids, rowsPerTxn, writers, d, maxBacklog)
	return loadResult{Phase: ph, Pipeline: since(ph.Before, ph.After)}, err
}
