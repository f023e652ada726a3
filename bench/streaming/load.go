package main

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/pgsurreal/pgsurreal/bench/internal/throughput"
	"github.com/pgsurreal/pgsurreal/internal/config"
)

// loadResult is one throughput phase (throughput.Load), with its writers
// and backlog cap.
type loadResult struct {
	throughput.Phase
	// Pipeline describes the SurrealDB transactions, load and drain.
	Pipeline throughput.GroupStats `json:"pipeline"`
}

// runLoad drives rowsPerTxn-row INSERT transactions into public.ev from
// writers connections for d and measures what the pipeline applies.
func runLoad(ctx context.Context, pg config.Postgres, p *throughput.Pipeline, ids *atomic.Int64, rowsPerTxn, writers int, d time.Duration, maxBacklog int64) (loadResult, error) {
	ph, err := throughput.Load(ctx, pg, p, ids, rowsPerTxn, writers, d, maxBacklog)
	ph.Writers, ph.MaxBacklog = writers, maxBacklog
	return loadResult{Phase: ph, Pipeline: throughput.Since(ph.Before, ph.After)}, err
}
