// Package throughput holds what the change-stream benchmarks share: the
// sync (sync.Run) running in this process and measured through its own
// metrics, as bench/streaming and bench/publish run it, and the
// throughput phase, writers going flat out while a cap on the backlog
// holds them back, which bench/reverse drives too.
package throughput

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/bench/internal/harness"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/publish"
	"github.com/pgsurreal/pgsurreal/internal/surreal/sink"
	pgsync "github.com/pgsurreal/pgsurreal/internal/sync"
)

// Pipeline is pgsync.Run running in this process, with or without a
// publisher.
type Pipeline struct {
	reg    *prometheus.Registry
	pub    *publish.Publisher
	cancel context.CancelFunc
	done   chan error
	err    error
	ended  bool
}

// Start starts the sync; with pc set it publishes to that stream.
func Start(o pgsync.Options, pc *config.Publish) (*Pipeline, error) {
	p := &Pipeline{reg: prometheus.NewRegistry(), done: make(chan error, 1)}
	o.Metrics = pgsync.NewMetrics(p.reg)
	if pc != nil {
		pub, err := publish.Open(publish.Options{Config: *pc, Slot: o.Sync.Slot, Log: o.Log, Registerer: p.reg})
		if err != nil {
			return nil, err
		}
		p.pub = pub
		o.Publisher = pub
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go func() { p.done <- pgsync.Run(ctx, o) }()
	return p, nil
}

// Failed returns the pipeline's error if it stopped by itself.
func (p *Pipeline) Failed() error {
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

// Stop cancels the pipeline, waits for it and closes its publisher.
func (p *Pipeline) Stop() error {
	p.cancel()
	var err error
	if !p.ended {
		p.ended = true
		err = <-p.done
	}
	if p.pub != nil {
		p.pub.Close()
	}
	return err
}

// Stats are the pipeline's cumulative figures; the publish ones stay 0
// without a publisher.
type Stats struct {
	Groups, Changes, ApplySeconds            float64
	Published, PublishGroups, PublishSeconds float64
}

// Stats reads the pipeline's metrics.
func (p *Pipeline) Stats() Stats {
	var s Stats
	mfs, err := p.reg.Gather()
	if err != nil {
		return s
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch mf.GetName() {
			case "pgsurreal_sync_batch_changes":
				s.Groups, s.Changes = float64(m.GetHistogram().GetSampleCount()), m.GetHistogram().GetSampleSum()
			case "pgsurreal_sync_apply_duration_seconds":
				s.ApplySeconds = m.GetHistogram().GetSampleSum()
			case "pgsurreal_publish_messages_total":
				s.Published = m.GetCounter().GetValue()
			case "pgsurreal_publish_duration_seconds":
				s.PublishGroups, s.PublishSeconds = float64(m.GetHistogram().GetSampleCount()), m.GetHistogram().GetSampleSum()
			}
		}
	}
	return s
}

// Applied returns the row changes the pipeline has committed to
// SurrealDB (the sum of pgsurreal_sync_batch_changes, observed after each
// SurrealDB transaction commits).
func (p *Pipeline) Applied() int64 { return int64(p.Stats().Changes) }

// GroupStats describes the SurrealDB transactions of one phase (heartbeat
// transactions, which carry no rows, included).
type GroupStats struct {
	Groups      int64   `json:"surreal_transactions"`
	MeanChanges float64 `json:"mean_rows_per_surreal_transaction"`
	MeanApplyMs float64 `json:"mean_apply_ms"`
}

// Since describes the SurrealDB transactions between two readings.
func Since(before, after Stats) GroupStats {
	g := GroupStats{Groups: int64(after.Groups - before.Groups)}
	if g.Groups > 0 {
		g.MeanChanges = harness.Round((after.Changes-before.Changes)/float64(g.Groups), 1)
		g.MeanApplyMs = harness.Round(1000*(after.ApplySeconds-before.ApplySeconds)/float64(g.Groups), 2)
	}
	return g
}

// WaitStreaming waits until the stored position of slot says the
// snapshot is over.
func (p *Pipeline) WaitStreaming(ctx context.Context, sur config.Surreal, slot string, timeout time.Duration) error {
	db, err := harness.Connect(ctx, sur)
	if err != nil {
		return err
	}
	defer db.Close(context.WithoutCancel(ctx))
	deadline := time.Now().Add(timeout)
	for {
		res, err := surrealdb.Query[[]sink.Position](ctx, db, "SELECT phase, lsn FROM type::record($t, $slot)",
			map[string]any{"t": sink.PositionTable, "slot": slot})
		if err == nil && len(*res) > 0 && len((*res)[0].Result) > 0 && (*res)[0].Result[0].Phase == pgsync.PhaseStreaming {
			return nil
		}
		if err := p.Failed(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the snapshot did not finish within %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// WaitApplied waits until the pipeline has applied want changes and
// returns how long that took.
func (p *Pipeline) WaitApplied(ctx context.Context, want int64, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	for p.Applied() < want {
		if err := p.Failed(); err != nil {
			return 0, err
		}
		if time.Since(start) > timeout {
			return 0, fmt.Errorf("the pipeline applied %d of %d changes within %s", p.Applied(), want, timeout)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return time.Since(start), nil
}

// Options are the pipeline's settings for these benchmarks: public.ev
// replicated through slot (and a publication of the same name), with
// heartbeats and status updates every 100 ms.
func Options(pg config.Postgres, sur config.Surreal, slot string, batch int, log *slog.Logger) pgsync.Options {
	sc := config.Default().Sync
	sc.Slot, sc.Publication = slot, slot
	sc.Include = []string{"public.ev"}
	sc.Heartbeat.Duration = 100 * time.Millisecond
	sc.StatusInterval.Duration = 100 * time.Millisecond
	if batch > 0 {
		sc.BatchSize = batch
	}
	return pgsync.Options{Postgres: pg, Surreal: sur, Sync: sc, Log: log}
}
