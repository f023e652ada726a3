package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"
	"golang.org/x/sync/errgroup"

	"github.com/pgsurreal/pgsurreal/bench/internal/harness"
	"github.com/pgsurreal/pgsurreal/bench/internal/throughput"
	"github.com/pgsurreal/pgsurreal/internal/config"
)

// lagResult is the end-to-end lag at a fixed change rate.
type lagResult struct {
	TargetPerS   float64 `json:"target_rows_per_s"`
	AchievedPerS float64 `json:"achieved_rows_per_s"`
	Seconds      float64 `json:"seconds"`
	Rows         int     `json:"rows"`
	Writers      int     `json:"writers"`
	PollMs       float64 `json:"poll_interval_ms"`
	P50Ms        float64 `json:"lag_p50_ms"`
	P90Ms        float64 `json:"lag_p90_ms"`
	P99Ms        float64 `json:"lag_p99_ms"`
	MaxMs        float64 `json:"lag_max_ms"`
	TargetP99Ms  float64 `json:"target_lag_p99_ms"`
	// PollP50Ms and PollP99Ms are how long the poller's query took: a
	// row's visibility is known to within a poll interval plus that.
	PollP50Ms float64               `json:"poll_query_p50_ms"`
	PollP99Ms float64               `json:"poll_query_p99_ms"`
	Pipeline  throughput.GroupStats `json:"pipeline"`
}

// runLag inserts single-row transactions at rate per second for d, paced
// on a fixed schedule over writers connections, and measures for each row
// the time from its commit (taken on the client when COMMIT returned) to
// when a poller, asking SurrealDB every interval for the rows above the
// lowest one not yet seen, first saw it.
func runLag(ctx context.Context, pg config.Postgres, sur config.Surreal, p *throughput.Pipeline, ids *atomic.Int64, rate float64, d time.Duration, writers int, interval time.Duration) (lagResult, error) {
	n := int(rate * d.Seconds())
	r := lagResult{TargetPerS: rate, Rows: n, Writers: writers, PollMs: float64(interval) / float64(time.Millisecond), TargetP99Ms: targetLagP99Ms}
	base := ids.Add(int64(n)) - int64(n)
	committed := make([]atomic.Int64, n)
	visible := make([]int64, n)
	conns, err := throughput.ConnectAll(ctx, pg, writers)
	if err != nil {
		return r, err
	}
	defer throughput.CloseAll(conns)
	db, err := harness.Connect(ctx, sur)
	if err != nil {
		return r, err
	}
	defer db.Close(context.WithoutCancel(ctx))

	pollCtx, stopPoll := context.WithCancel(ctx)
	defer stopPoll()
	pollDone := make(chan error, 1)
	var polls []float64
	before := p.Stats()
	go func() {
		var err error
		polls, err = poll(pollCtx, db, base, visible, interval)
		pollDone <- err
	}()

	tickets := make(chan int, n)
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range conns {
		g.Go(func() error {
			for i := range tickets {
				id := base + int64(i)
				if _, err := c.Exec(gctx, "INSERT INTO ev (id, n, s) VALUES ($1, $2, $3)", id, id%1000, fmt.Sprintf("row %d", id)); err != nil {
					return fmt.Errorf("inserting: %w", err)
				}
				committed[i].Store(time.Now().UnixNano())
			}
			return nil
		})
	}
	start := time.Now()
	g.Go(func() error {
		defer close(tickets)
		for sent := 0; sent < n; {
			due := min(n, int(time.Since(start).Seconds()*rate)+1)
			for ; sent < due; sent++ {
				tickets <- sent
			}
			select {
			case <-gctx.Done():
				return gctx.Err()
			case <-time.After(500 * time.Microsecond):
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return r, err
	}
	r.Seconds = harness.Round(time.Since(start).Seconds(), 2)
	r.AchievedPerS = harness.Round(float64(n)/time.Since(start).Seconds(), 0)

	select {
	case err := <-pollDone:
		if err != nil {
			return r, err
		}
	case <-time.After(2 * time.Minute):
		return r, fmt.Errorf("not every row reached SurrealDB within 2 minutes")
	}
	if err := p.Failed(); err != nil {
		return r, err
	}
	r.Pipeline = throughput.Since(before, p.Stats())
	r.PollP50Ms = harness.Round(harness.Percentile(polls, 50), 2)
	r.PollP99Ms = harness.Round(harness.Percentile(polls, 99), 2)
	lags := make([]float64, n)
	for k := range n {
		lags[k] = float64(visible[k]-committed[k].Load()) / float64(time.Millisecond)
	}
	r.P50Ms = harness.Round(harness.Percentile(lags, 50), 1)
	r.P90Ms = harness.Round(harness.Percentile(lags, 90), 1)
	r.P99Ms = harness.Round(harness.Percentile(lags, 99), 1)
	r.MaxMs = harness.Round(harness.Percentile(lags, 100), 1)
	return r, nil
}

// poll records in visible[k] when row base+k first appeared in SurrealDB,
// returning once every row has, with the duration of each query in ms.
func poll(ctx context.Context, db *surrealdb.DB, base int64, visible []int64, interval time.Duration) ([]float64, error) {
	var took []float64
	low := 0 // every row below low has been seen
	for low < len(visible) {
		sent := time.Now()
		res, err := surrealdb.Query[[]any](ctx, db, "SELECT VALUE record::id(id) FROM type::record($t, $from..)",
			map[string]any{"t": "ev", "from": base + int64(low)})
		if err != nil {
			return took, fmt.Errorf("polling SurrealDB: %w", err)
		}
		now := time.Now()
		took = append(took, float64(now.Sub(sent))/float64(time.Millisecond))
		for _, v := range (*res)[0].Result {
			k, ok := asInt(v)
			if !ok {
				return took, fmt.Errorf("polling SurrealDB: unexpected id %v (%T)", v, v)
			}
			k -= base
			if k >= 0 && k < int64(len(visible)) && visible[k] == 0 {
				visible[k] = now.UnixNano()
			}
		}
		for low < len(visible) && visible[low] != 0 {
			low++
		}
		select {
		case <-ctx.Done():
			return took, ctx.Err()
		case <-time.After(interval):
		}
	}
	return took, nil
}

func asInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case uint64:
		return int64(n), true
	case int:
		return int64(n), true
	}
	return 0, false
}
