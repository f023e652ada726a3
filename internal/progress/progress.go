// Package progress reports the progress of long work over tables (the
// snapshot, verify): a terminal bar once a second through a Func, or log
// lines every 10 seconds when there is no terminal.
package progress

import (
	"log/slog"
	"sync"
	"time"
)

// Table is one table's progress.
type Table struct {
	Table     string
	Rows      int64
	Estimated int64
	Elapsed   time.Duration
	Done      bool
}

// Func receives every table's progress about once a second and a last
// time when the work ends.
type Func func(tables []Table, final bool)

// Tracker counts the rows of each table and reports them.
type Tracker struct {
	mu     sync.Mutex
	order  []string
	tables map[string]*Table
	start  time.Time
	report Func
	log    *slog.Logger
	what   string
	stopc  chan struct{}
	wg     sync.WaitGroup
}

// Start tracks tables (names with their estimated rows). what names the
// work in log lines ("snapshot", "verify").
func Start(what string, names []string, estimates []int64, report Func, log *slog.Logger) *Tracker {
	p := &Tracker{tables: map[string]*Table{}, start: time.Now(), report: report, log: log, what: what, stopc: make(chan struct{})}
	for i, n := range names {
		p.order = append(p.order, n)
		p.tables[n] = &Table{Table: n, Estimated: estimates[i]}
	}
	p.wg.Add(1)
	go p.loop()
	return p
}

// Add counts n more rows of table.
func (p *Tracker) Add(table string, n int64) {
	p.mu.Lock()
	if t := p.tables[table]; t != nil {
		t.Rows += n
	}
	p.mu.Unlock()
}

// Estimate replaces table's row estimate when n is positive.
func (p *Tracker) Estimate(table string, n int64) {
	p.mu.Lock()
	if t := p.tables[table]; t != nil && n > 0 {
		t.Estimated = n
	}
	p.mu.Unlock()
}

// Done marks table finished.
func (p *Tracker) Done(table string) {
	p.mu.Lock()
	if t := p.tables[table]; t != nil {
		t.Done = true
	}
	p.mu.Unlock()
}

// Stop ends the reports with a final one.
func (p *Tracker) Stop() {
	close(p.stopc)
	p.wg.Wait()
	p.emit(true)
}

func (p *Tracker) snapshot() []Table {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Table, 0, len(p.order))
	for _, n := range p.order {
		t := *p.tables[n]
		t.Elapsed = time.Since(p.start)
		out = append(out, t)
	}
	return out
}

func (p *Tracker) loop() {
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

func (p *Tracker) emit(final bool) {
	tables := p.snapshot()
	if p.report != nil {
		p.report(tables, final)
		return
	}
	if final {
		return // the work logs each table's result
	}
	for _, t := range tables {
		if t.Done || t.Rows == 0 {
			continue
		}
		rate := float64(t.Rows) / max(t.Elapsed.Seconds(), 0.001)
		p.log.Info(p.what+" progress", "table", t.Table, "rows", t.Rows, "estimated", t.Estimated, "rows_per_s", int64(rate))
	}
}
