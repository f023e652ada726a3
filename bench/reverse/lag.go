package main

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/pgsurreal/pgsurreal/bench/internal/harness"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
)

// lagResult is the end-to-end lag at a fixed change rate.
type lagResult struct {
	TargetPerS   float64 `json:"target_changes_per_s"`
	AchievedPerS float64 `json:"achieved_changes_per_s"`
	Seconds      float64 `json:"seconds"`
	Records      int     `json:"records"`
	// Missing is the records whose rows never appeared (nothing new for
	// stallAfter after the last write): should be 0. The percentiles
	// are over the others.
	Missing int     `json:"missing_records"`
	Writers int     `json:"writers"`
	PollMs  float64 `json:"poll_interval_ms"`
	P50Ms   float64 `json:"lag_p50_ms"`
	P90Ms   float64 `json:"lag_p90_ms"`
	P99Ms   float64 `json:"lag_p99_ms"`
	MaxMs   float64 `json:"lag_max_ms"`
	// WriteP50Ms and WriteP99Ms are how long SurrealDB took to commit
	// one record (request sent to answer received).
	WriteP50Ms float64 `json:"write_p50_ms"`
	WriteP99Ms float64 `json:"write_p99_ms"`
	// PollP50Ms and PollP99Ms are how long the poller's query took: a
	// row's visibility is known to within a poll interval plus that.
	PollP50Ms float64    `json:"poll_query_p50_ms"`
	PollP99Ms float64    `json:"poll_query_p99_ms"`
	Pipeline  groupStats `json:"pipeline"`
}

// runLag creates records in single-record transactions at rate per
// second for d, paced on a fixed schedule over writers connections, and
// measures for each the time from its commit (taken on the client when
// SurrealDB's answer arrived) to when a poller, asking PostgreSQL every
// interval for the rows at or above the lowest one not yet seen, first
// saw its row.
func runLag(ctx context.Context, pg config.Postgres, sur config.Surreal, table string, p *pipeline, ids *atomic.Int64, rate float64, d time.Duration, writers int, interval time.Duration) (lagResult, error) {
	n := int(rate * d.Seconds())
	r := lagResult{TargetPerS: rate, Records: n, Writers: writers, PollMs: float64(interval) / float64(time.Millisecond)}
	base := ids.Add(int64(n)) - int64(n) + 1
	sent := make([]int64, n)
	committed := make([]atomic.Int64, n)
	visible := make([]int64, n)
	ws, err := newWriters(ctx, sur, table, ids, writers)
	if err != nil {
		return r, err
	}
	defer closeWriters(ws)
	conn, err := postgres.ConnectOne(ctx, pg, nil)
	if err != nil {
		return r, err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	pollCtx, stopPoll := context.WithCancel(ctx)
	defer stopPoll()
	pollDone := make(chan error, 1)
	writing := make(chan struct{})
	var polls []float64
	before := p.stats()
	go func() {
		var err error
		polls, err = poll(pollCtx, conn, table, base, visible, interval, writing)
		pollDone <- err
	}()

	tickets := make(chan int, n)
	g, gctx := errgroup.WithContext(ctx)
	for _, w := range ws {
		g.Go(func() error {
			for i := range tickets {
				at := time.Now()
				if err := w.create(gctx, base+int64(i), at); err != nil {
					return err
				}
				sent[i] = at.UnixNano()
				committed[i].Store(time.Now().UnixNano())
			}
			return nil
		})
	}
	start := time.Now()
	g.Go(func() error {
		defer close(tickets)
		for next := 0; next < n; {
			due := min(n, int(time.Since(start).Seconds()*rate)+1)
			for ; next < due; next++ {
				tickets <- next
			}
			select {
			case <-gctx.Done():
				return gctx.Err()
			case <-time.After(500 * time.Microsecond):
			}
		}
		return nil
	})
	err = g.Wait()
	close(writing)
	if err != nil {
		return r, err
	}
	elapsed := time.Since(start).Seconds()
	r.Seconds = harness.Round(elapsed, 2)
	r.AchievedPerS = harness.Round(float64(n)/elapsed, 0)

	select {
	case err := <-pollDone:
		if err != nil {
			return r, err
		}
	case <-time.After(5 * time.Minute):
		return r, fmt.Errorf("the lag poller did not finish within 5 minutes")
	}
	if err := p.failed(); err != nil {
		return r, err
	}
	r.Pipeline = since(before, p.stats())
	r.PollP50Ms = harness.Round(harness.Percentile(polls, 50), 2)
	r.PollP99Ms = harness.Round(harness.Percentile(polls, 99), 2)
	var lags []float64
	writes := make([]float64, n)
	for k := range n {
		writes[k] = float64(committed[k].Load()-sent[k]) / float64(time.Millisecond)
		if visible[k] == 0 {
			r.Missing++
			continue
		}
		lags = append(lags, float64(visible[k]-committed[k].Load())/float64(time.Millisecond))
	}
	r.P50Ms = harness.Round(harness.Percentile(lags, 50), 1)
	r.P90Ms = harness.Round(harness.Percentile(lags, 90), 1)
	r.P99Ms = harness.Round(harness.Percentile(lags, 99), 1)
	r.MaxMs = harness.Round(harness.Percentile(lags, 100), 1)
	r.WriteP50Ms = harness.Round(harness.Percentile(writes, 50), 1)
	r.WriteP99Ms = harness.Round(harness.Percentile(writes, 99), 1)
	return r, nil
}

// poll records in visible[k] when the row of record base+k (its
// extracted seq column) first appeared in PostgreSQL, returning once
// every row has, or once writing is closed and no new row has appeared
// for stallAfter, with the duration of each query in ms.
//
// Each query asks for the rows at or above the lowest one not yet seen.
// A row still missing lateAfter after a later one appeared is asked for
// by its seq from then on, so that one lost change does not make every
// later query return all the rows above it.
func poll(ctx context.Context, conn *pgx.Conn, table string, base int64, visible []int64, interval time.Duration, writing <-chan struct{}) ([]float64, error) {
	const lateAfter = 2 * time.Second
	q := "SELECT seq FROM " + postgres.QualifiedIdent("public", table) + " WHERE (seq >= $1 AND seq < $2) OR seq = ANY($3)"
	end := base + int64(len(visible))
	var took []float64
	low := 0          // every row below low has been seen or is in late
	late := []int64{} // seqs of rows below low not seen yet
	high := -1        // the highest row seen
	var stuck time.Time
	lastNew := time.Now()
	for low < len(visible) || len(late) > 0 {
		sent := time.Now()
		rows, err := conn.Query(ctx, q, base+int64(low), end, late)
		if err != nil {
			return took, fmt.Errorf("polling PostgreSQL: %w", err)
		}
		var seqs []int64
		for rows.Next() {
			var s int64
			if err := rows.Scan(&s); err != nil {
				rows.Close()
				return took, fmt.Errorf("polling PostgreSQL: %w", err)
			}
			seqs = append(seqs, s)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return took, fmt.Errorf("polling PostgreSQL: %w", err)
		}
		now := time.Now()
		took = append(took, float64(now.Sub(sent))/float64(time.Millisecond))
		for _, s := range seqs {
			if k := s - base; k >= 0 && k < int64(len(visible)) && visible[k] == 0 {
				visible[k] = now.UnixNano()
				lastNew = now
				high = max(high, int(k))
			}
		}
		late = slices.DeleteFunc(late, func(s int64) bool { return visible[s-base] != 0 })
		for low < len(visible) && visible[low] != 0 {
			low++
		}
		switch {
		case low >= len(visible) || high < low:
			stuck = time.Time{}
		case stuck.IsZero():
			stuck = now
		case now.Sub(stuck) > lateAfter:
			late = append(late, base+int64(low))
			low++
			stuck = time.Time{}
		}
		select {
		case <-writing:
			if time.Since(lastNew) > stallAfter {
				return took, nil
			}
		default:
		}
		select {
		case <-ctx.Done():
			return took, ctx.Err()
		case <-time.After(interval):
		}
	}
	return took, nil
}
