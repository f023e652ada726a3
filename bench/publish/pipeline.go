package main

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

// pipeline is pgsync.Run running in this process, with or without a
// publisher.
type pipeline struct {
	reg    *prometheus.Registry
	pub    *publish.Publisher
	cancel context.CancelFunc
	done   chan error
	err    error
	ended  bool
}

// startPipeline starts the sync; with pc set it publishes to that stream.
func startPipeline(o pgsync.Options, pc *config.Publish) (*pipeline, error) {
	p := &pipeline{reg: prometheus.NewRegistry(), done: make(chan error, 1)}
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

// stop cancels the pipeline and waits for it.
func (p *pipeline) stop() error {
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

// stats are the pipeline's cumulative figures.
type stats struct {
	groups, changes, applySeconds      float64
	published, publishGroups, publishS float64
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
			case "pgsurreal_sync_batch_changes":
				s.groups, s.changes = float64(m.GetHistogram().GetSampleCount()), m.GetHistogram().GetSampleSum()
			case "pgsurreal_sync_apply_duration_seconds":
				s.applySeconds = m.GetHistogram().GetSampleSum()
			case "pgsurreal_publish_messages_total":
				s.published = m.GetCounter().GetValue()
			case "pgsurreal_publish_duration_seconds":
				s.publishGroups, s.publishS = float64(m.GetHistogram().GetSampleCount()), m.GetHistogram().GetSampleSum()
			}
		}
	}
	return s
}

// applied returns the row changes committed to SurrealDB so far.
func (p *pipeline) applied() int64 { return int64(p.stats().changes) }

// groupStats describes the SurrealDB transactions (and the published
// groups) of one phase.
type groupStats struct {
	Groups        int64   `json:"surreal_transactions"`
	MeanChanges   float64 `json:"mean_rows_per_surreal_transaction"`
	MeanApplyMs   float64 `json:"mean_apply_ms"`
	Published     int64   `json:"messages_published"`
	PublishGroups int64   `json:"published_batches"`
	MeanPublishMs float64 `json:"mean_publish_ms"`
}

func since(before, after stats) groupStats {
	g := groupStats{Groups: int64(after.groups - before.groups), Published: int64(after.published - before.published),
		PublishGroups: int64(after.publishGroups - before.publishGroups)}
	if g.Groups > 0 {
		g.MeanChanges = harness.Round((after.changes-before.changes)/float64(g.Groups), 1)
		g.MeanApplyMs = harness.Round(1000*(after.applySeconds-before.applySeconds)/float64(g.Groups), 2)
	}
	if g.PublishGroups > 0 {
		g.MeanPublishMs = harness.Round(1000*(after.publishS-before.publishS)/float64(g.PublishGroups), 2)
	}
	return g
}

// waitStreaming waits until the stored position of slot says the
// snapshot is over.
func (p *pipeline) waitStreaming(ctx context.Context, sur config.Surreal, slot string, timeout time.Duration) error {
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
		if err := p.failed(); err != nil {
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

// waitApplied waits until the pipeline has applied want changes and
// returns how long that took.
func (p *pipeline) waitApplied(ctx context.Context, want int64, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	for p.applied() < want {
		if err := p.failed(); err != nil {
			return 0, err
		}
		if time.Since(start) > timeout {
			return 0, fmt.Errorf("the pipeline applied %d of %d changes within %s", p.applied(), want, timeout)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return time.Since(start), nil
}

// options are the pipeline's settings for this benchmark (those of
// bench/streaming).
func options(pg config.Postgres, sur config.Surreal, slot string, batch int, log *slog.Logger) pgsync.Options {
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
