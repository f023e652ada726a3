package throughput

import (
	"context"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pgsurreal/pgsurreal/bench/internal/harness"
)

// Window is what Drive measured, rates rounded to whole changes per
// second.
type Window struct {
	Start, End time.Time
	Seconds    float64
	// Written is the changes the writers committed, AtEnd those the
	// pipeline had applied when the writers stopped.
	Written, AtEnd int64
	WrittenPerS    float64
	// AppliedPerS is over the whole window, AppliedSamples one a second,
	// AppliedPerSMedian their median.
	AppliedPerS       float64
	AppliedPerSMedian float64
	AppliedSamples    []float64
	BacklogAtEnd      int64
	// ThrottledSeconds is how long the writers waited for the backlog to
	// fall under the cap: the pipeline, not the source, set the pace.
	ThrottledSeconds float64
}

// Drive runs each of txns in a goroutine of its own, over and over for d;
// every call commits perTxn changes. A writer pauses while more than
// maxBacklog changes are committed but not yet applied (applied() minus
// base), so a pipeline slower than the source sets the pace instead of
// piling up minutes of backlog. The applied count is sampled every
// 100 ms, a rate every second.
func Drive(ctx context.Context, applied func() int64, base int64, txns []func(context.Context) error, perTxn int, d time.Duration, maxBacklog int64) (Window, error) {
	var written, seen, throttledTicks atomic.Int64
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
				a := applied() - base
				seen.Store(a)
				if written.Load()-a > maxBacklog {
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
	for _, txn := range txns {
		g.Go(func() error {
			for time.Now().Before(deadline) {
				if written.Load()-seen.Load() > maxBacklog {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				if err := txn(gctx); err != nil {
					return err
				}
				written.Add(int64(perTxn))
			}
			return nil
		})
	}
	err := g.Wait()
	w := Window{Start: start, End: time.Now()}
	w.AtEnd = applied() - base
	close(stopMon)
	samples := <-monDone
	if err != nil {
		return w, err
	}
	window := w.End.Sub(start).Seconds()
	w.Seconds = harness.Round(window, 2)
	w.Written = written.Load()
	w.WrittenPerS = harness.Round(float64(w.Written)/window, 0)
	w.AppliedPerS = harness.Round(float64(w.AtEnd)/window, 0)
	for _, s := range samples {
		w.AppliedSamples = append(w.AppliedSamples, harness.Round(s, 0))
	}
	w.AppliedPerSMedian = harness.Round(harness.Median(samples), 0)
	w.BacklogAtEnd = w.Written - w.AtEnd
	w.ThrottledSeconds = float64(throttledTicks.Load()) / 10
	return w, nil
}
