package sync

import (
	"log/slog"
	gosync "sync"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
)

// TableProgress is one table's snapshot progress.
type TableProgress struct {
	Table     string
	Rows      int64
	Estimated int64
	Elapsed   time.Duration
	Done      bool
}

// ProgressFunc receives every table's progress about once a second and a
// last time when the snapshot ends.
type ProgressFunc func(tables []TableProgress, final bool)

type progress struct {
	mu      gosync.Mutex
	order   []string
	tables  map[string]*TableProgress
	start   time.Time
	report  ProgressFunc
	log     *slog.Logger
	metrics *Metrics
	stopc   chan struct{}
	wg      gosync.WaitGroup
}

func newProgress(tables []*cdc.Table, report ProgressFunc, log *slog.Logger, m *Metrics) *progress {
	p := &progress{tables: map[string]*TableProgress{}, start: time.Now(), report: report, log: log, metrics: m, stopc: make(chan struct{})}
	for _, t := range tables {
		name := t.QualifiedName()
		p.order = append(p.order, name)
		p.tables[name] = &TableProgress{Table: name, Estimated: t.EstimatedRows}
		m.SnapshotEstimate.WithLabelValues(name).Set(float64(t.EstimatedRows))
	}
	p.wg.Add(1)
	go p.loop()
	return p
}

func (p *progress) add(t *cdc.Table, n int64) {
	if n == 0 {
		return
	}
	name := t.QualifiedName()
	p.metrics.SnapshotRows.WithLabelValues(name).Add(float64(n))
	p.mu.Lock()
	p.tables[name].Rows += n
	p.mu.Unlock()
}

func (p *progress) snapshot() []TableProgress {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]TableProgress, 0, len(p.order))
	for _, n := range p.order {
		tp := *p.tables[n]
		tp.Elapsed = time.Since(p.start)
		out = append(out, tp)
	}
	return out
}

// loop reports once a second to the terminal bar, or every 10 seconds as
// log lines when there is no terminal.
func (p *progress) loop() {
	defer p.wg.Done()
	every := time.Second
	if p.report == nil {
		every = 10 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.stopc:
			return
		case <-t.C:
			p.emit(false)
		}
	}
}

func (p *progress) emit(final bool) {
	tables := p.snapshot()
	if p.report != nil {
		p.report(tables, final)
		return
	}
	for _, tp := range tables {
		rate := float64(tp.Rows) / max(tp.Elapsed.Seconds(), 0.001)
		p.log.Info("snapshot progress", "table", tp.Table, "rows", tp.Rows, "estimated", tp.Estimated, "rows_per_s", int64(rate))
	}
}

func (p *progress) stop() {
	close(p.stopc)
	p.wg.Wait()
	p.emit(true)
}
