package sync

import (
	"log/slog"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/progress"
)

// TableProgress is one table's snapshot progress.
type TableProgress = progress.Table

// ProgressFunc receives every table's progress about once a second and a
// last time when the snapshot ends.
type ProgressFunc = progress.Func

// snapProgress tracks the snapshot and keeps its metrics in step.
type snapProgress struct {
	*progress.Tracker
	metrics *Metrics
}

func newProgress(tables []*cdc.Table, report ProgressFunc, log *slog.Logger, m *Metrics) *snapProgress {
	names := make([]string, len(tables))
	estimates := make([]int64, len(tables))
	for i, t := range tables {
		names[i], estimates[i] = t.QualifiedName(), t.EstimatedRows
		m.SnapshotEstimate.WithLabelValues(names[i]).Set(float64(t.EstimatedRows))
	}
	return &snapProgress{Tracker: progress.Start("snapshot", names, estimates, report, log), metrics: m}
}

func (p *snapProgress) add(t *cdc.Table, n int64) {
	if n == 0 {
		return
	}
	p.metrics.SnapshotRows.WithLabelValues(t.QualifiedName()).Add(float64(n))
	p.Add(t.QualifiedName(), n)
}

func (p *snapProgress) stop() { p.Stop() }
