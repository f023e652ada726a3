package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/pgsurreal/pgsurreal/bench/internal/harness"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
)

// loadResult is one throughput phase, measured as bench/streaming does:
// writers inserting as fast as they can, held back only while the
// backlog exceeds a cap; the applied rate from the pipeline's metrics.
type loadResult struct {
	RowsPerTxn        int       `json:"rows_per_transaction"`
	Seconds           float64   `json:"seconds"`
	Inserted          int64     `json:"rows_inserted"`
	InsertedPerS      float64   `json:"inserted_rows_per_s"`
	AppliedPerS       float64   `json:"applied_rows_per_s"`
	AppliedPerSMedian float64   `json:"applied_rows_per_s_median"`
	AppliedSamples    []float64 `json:"applied_rows_per_s_samples"`
	BacklogAtEnd      int64     `json:"backlog_at_end_rows"`
	DrainSeconds      float64   `json:"drain_seconds"`
	ThrottledSeconds  float64   `json:"throttled_seconds"`
	KeptUp            bool      `json:"kept_up"`
	// Pipeline describes the SurrealDB transactions and published groups
	// of the load and its drain.
	Pipeline groupStats `json:"pipeline"`
}

// runLoad drives rowsPerTxn-row INSERT transactions into public.ev from
// writers connections for d and measures what the pipeline applies.
func runLoad(ctx context.Context, pg config.Postgres, p *pipeline, ids *atomic.Int64, rowsPerTxn, writers int, d time.Duration, maxBacklog int64) (loadResult, error) {
	r := loadResult{RowsPerTxn: rowsPerTxn}
	var conns []*pgx.Conn
	defer func() {
		for _, c := range conns {
			_ = c.Close(context.Background())
		}
	}()
	for range writers {
		c, err := postgres.ConnectOne(ctx, pg, nil)
		if err != nil {
			return r, err
		}
		conns = append(conns, c)
	}
	before := p.stats()
	base := int64(before.changes)
	var inserted, applied, throttledTicks atomic.Int64
	start := time.Now()
	deadline := start.Add(d)
	stopMon := make(chan struct{})
	monDone := make(chan []float64)
	go func() {
		var samples []float64
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		lastT, lastA := start, int64(0)
		for {
			select {
			case <-stopMon:
				monDone <- samples
				return
			case now := <-t.C:
				a := p.applied() - base
				applied.Store(a)
				if inserted.Load()-a > maxBacklog {
					throttledTicks.Add(1)
				}
				if now.Sub(lastT) >= time.Second && now.Before(deadline.Add(50*time.Millisecond)) {
					samples = append(samples, float64(a-lastA)/now.Sub(lastT).Seconds())
					lastT, lastA = now, a
				}
			}
		}
	}()
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range conns {
		g.Go(func() error {
			for time.Now().Before(deadline) {
				if inserted.Load()-applied.Load() > maxBacklog {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				first := ids.Add(int64(rowsPerTxn)) - int64(rowsPerTxn)
				var err error
				if rowsPerTxn == 1 {
					_, err = c.Exec(gctx, "INSERT INTO ev (id, n, s) VALUES ($1, $2, $3)", first, first%1000, fmt.Sprintf("row %d", first))
				} else {
					_, err = c.Exec(gctx, "INSERT INTO ev (id, n, s) SELECT g, (g % 1000)::int4, 'row ' || g FROM generate_series($1::int8, $1::int8 + $2::int8 - 1) g", first, rowsPerTxn)
				}
				if err != nil {
					return fmt.Errorf("inserting: %w", err)
				}
				inserted.Add(int64(rowsPerTxn))
			}
			return nil
		})
	}
	err := g.Wait()
	end := time.Now()
	atEnd := p.applied() - base
	close(stopMon)
	samples := <-monDone
	if err != nil {
		return r, err
	}
	if err := p.failed(); err != nil {
		return r, err
	}
	window := end.Sub(start).Seconds()
	r.Seconds = harness.Round(window, 2)
	r.Inserted = inserted.Load()
	r.InsertedPerS = harness.Round(float64(r.Inserted)/window, 0)
	r.AppliedPerS = harness.Round(float64(atEnd)/window, 0)
	for _, s := range samples {
		r.AppliedSamples = append(r.AppliedSamples, harness.Round(s, 0))
	}
	r.AppliedPerSMedian = harness.Round(harness.Median(samples), 0)
	r.BacklogAtEnd = r.Inserted - atEnd
	r.ThrottledSeconds = float64(throttledTicks.Load()) / 10
	drain, err := p.waitApplied(ctx, base+r.Inserted, 5*time.Minute)
	if err != nil {
		return r, err
	}
	r.DrainSeconds = harness.Round(drain.Seconds(), 2)
	r.KeptUp = r.ThrottledSeconds == 0 && r.DrainSeconds <= 1
	r.Pipeline = since(before, p.stats())
	return r, nil
}
