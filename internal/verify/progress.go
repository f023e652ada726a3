package verify

import (
	"log/slog"
	"sync"
	"time"
)

// TableProgress is one table's progress: source rows compared so far.
type TableProgress struct {
	Table     string
	Rows      int64
	Estimated int64
	Elapsed   time.Duration
	Done      bool
}

// ProgressFunc receives every table's progress about once a second and
// a last time at the end (a terminal bar).
type ProgressFunc func(tables []TableProgress, final bool)

// progress reports to a ProgressFunc, or as log lines every 10 seconds
// when there is none (not a terminal).
type progress struct {
	mu     sync.Mutex
	order  []string
	tables map[string]*TableProgress
	start  time.Time
	report ProgressFunc
	log    *slog.Logger
	stopc  chan struct{}
	wg     sync.WaitGroup
}

func newProgress(jobs []job, report ProgressFunc, log *slog.Logger) *progress {
	p := &progress{tables: map[string]*TableProgress{}, start: time.Now(), report: report, log: log, stopc: make(chan struct{})}
	for _, j := range jobs {
		p.order = append(p.order, j.name)
		p.tables[j.name] = &TableProgress{Table: j.name, Estimated: j.rows}
	}
	p.wg.Add(1)
	go p.loop()
	return p
}

func (p *progress) add(table string, n int64) {
	p.mu.Lock()
	if t := p.tables[table]; t != nil {
		t.Rows += n
	}
	p.mu.Unlock()
}

func (p *progress) estimate(table string, n int64) {
	p.mu.Lock()
	if t := p.tables[table]; t != nil && n > 0 {
		t.Estimated = n
	}
	p.mu.Unlock()
}

func (p *progress) done(table string) {
	p.mu.Lock()
	if t := p.tables[table]; t != nil {
		t.Done = true
	}
	p.mu.Unlock()
}

func (p *progress) snapshot() []TableProgress {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]TableProgress, 0, len(p.order))
	for _, n := range p.order {
		t := *p.tables[n]
		t.Elapsed = time.Since(p.start)
		out = append(out, t)
	}
	return out
}

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
	if final {
		return // the run logs each table's result
	}
	for _, t := range tables {
		if t.Rows > 0 && !t.Done {
			p.log.Info("verify progress", "table", t.Table, "rows", t.Rows, "estimated", t.Estimated)
		}
	}
}

func (p *progress) stop() {
	close(p.stopc)
	p.wg.Wait()
	p.emit(true)
}
