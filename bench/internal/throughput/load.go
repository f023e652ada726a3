package throughput

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgsurreal/pgsurreal/bench/internal/harness"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
)

// Phase is one throughput phase of the sync: writers inserting into
// public.ev as fast as they can, held back only while the backlog exceeds
// a cap; the applied rate comes from the pipeline's metrics.
type Phase struct {
	RowsPerTxn int `json:"rows_per_transaction"`
	// Writers and MaxBacklog are the phase's settings, for the benchmarks
	// that record them with each phase (Load leaves them 0).
	Writers    int     `json:"writers,omitempty"`
	Seconds    float64 `json:"seconds"`
	MaxBacklog int64   `json:"max_backlog_rows,omitempty"`
	// Inserted rows, and their rate, committed in PostgreSQL.
	Inserted     int64   `json:"rows_inserted"`
	InsertedPerS float64 `json:"inserted_rows_per_s"`
	// Applied rows in SurrealDB during the window, overall and per second.
	AppliedPerS       float64   `json:"applied_rows_per_s"`
	AppliedPerSMedian float64   `json:"applied_rows_per_s_median"`
	AppliedSamples    []float64 `json:"applied_rows_per_s_samples"`
	// What was left when the writers stopped, and how long it took.
	BacklogAtEnd int64   `json:"backlog_at_end_rows"`
	DrainSeconds float64 `json:"drain_seconds"`
	// ThrottledSeconds is how long the writers waited for the backlog to
	// fall under the cap: the pipeline, not PostgreSQL, set the pace.
	ThrottledSeconds float64 `json:"throttled_seconds"`
	KeptUp           bool    `json:"kept_up"`
	// Before and After are the pipeline's figures at the start and once
	// the backlog drained, for each benchmark to describe as it needs.
	Before, After Stats `json:"-"`
}

// Load drives rowsPerTxn-row INSERT transactions into public.ev from
// writers connections for d and measures what the pipeline applies.
func Load(ctx context.Context, pg config.Postgres, p *Pipeline, ids *atomic.Int64, rowsPerTxn, writers int, d time.Duration, maxBacklog int64) (Phase, error) {
	r := Phase{RowsPerTxn: rowsPerTxn}
	conns, err := ConnectAll(ctx, pg, writers)
	if err != nil {
		return r, err
	}
	defer CloseAll(conns)
	txns := make([]func(context.Context) error, len(conns))
	for i, c := range conns {
		txns[i] = func(ctx context.Context) error { return insert(ctx, c, ids, rowsPerTxn) }
	}
	r.Before = p.Stats()
	base := int64(r.Before.Changes)
	w, err := Drive(ctx, p.Applied, base, txns, rowsPerTxn, d, maxBacklog)
	if err != nil {
		return r, err
	}
	if err := p.Failed(); err != nil {
		return r, err
	}
	r.Seconds = w.Seconds
	r.Inserted, r.InsertedPerS = w.Written, w.WrittenPerS
	r.AppliedPerS, r.AppliedPerSMedian, r.AppliedSamples = w.AppliedPerS, w.AppliedPerSMedian, w.AppliedSamples
	r.BacklogAtEnd = w.BacklogAtEnd
	r.ThrottledSeconds = w.ThrottledSeconds
	drain, err := p.WaitApplied(ctx, base+r.Inserted, 5*time.Minute)
	if err != nil {
		return r, err
	}
	r.DrainSeconds = harness.Round(drain.Seconds(), 2)
	r.KeptUp = r.ThrottledSeconds == 0 && r.DrainSeconds <= 1
	r.After = p.Stats()
	return r, nil
}

// insert commits one transaction of rowsPerTxn rows with the next ids.
func insert(ctx context.Context, c *pgx.Conn, ids *atomic.Int64, rowsPerTxn int) error {
	first := ids.Add(int64(rowsPerTxn)) - int64(rowsPerTxn)
	var err error
	if rowsPerTxn == 1 {
		_, err = c.Exec(ctx, "INSERT INTO ev (id, n, s) VALUES ($1, $2, $3)", first, first%1000, fmt.Sprintf("row %d", first))
	} else {
		_, err = c.Exec(ctx, "INSERT INTO ev (id, n, s) SELECT g, (g % 1000)::int4, 'row ' || g FROM generate_series($1::int8, $1::int8 + $2::int8 - 1) g", first, rowsPerTxn)
	}
	if err != nil {
		return fmt.Errorf("inserting: %w", err)
	}
	return nil
}

// ConnectAll opens n PostgreSQL connections, or none.
func ConnectAll(ctx context.Context, pg config.Postgres, n int) ([]*pgx.Conn, error) {
	var out []*pgx.Conn
	for range n {
		c, err := postgres.ConnectOne(ctx, pg, nil)
		if err != nil {
			CloseAll(out)
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// CloseAll closes conns.
func CloseAll(conns []*pgx.Conn) {
	for _, c := range conns {
		_ = c.Close(context.Background())
	}
}
