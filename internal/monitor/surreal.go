package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

var (
	surUpDesc = prometheus.NewDesc("pgsurreal_surreal_up",
		"1 when the last scrape's probe (RETURN 1) reached SurrealDB, 0 when it did not.", nil, nil)
	surQueryDesc = prometheus.NewDesc("pgsurreal_surreal_query_seconds",
		"Round-trip time of the probe query RETURN 1 at the last scrape.", nil, nil)
	surRecordsDesc = prometheus.NewDesc("pgsurreal_surreal_records",
		"Records in a synced SurrealDB table (counted in the background at most every 30s; a table that does not exist yet counts 0).", []string{"table"}, nil)
)

// surrealCollector probes SurrealDB at each scrape and serves record
// counts from a cache that a background refresh keeps.
type surrealCollector struct {
	pool           *surreal.Pool
	tables         func() []string
	timeout        time.Duration
	every          time.Duration
	refreshTimeout time.Duration
	log            *slog.Logger

	refreshing atomic.Bool // one refresh at a time
	mu         gosync.Mutex
	counts     map[string]float64 // guarded by mu
	started    time.Time          // guarded by mu: when the last refresh began
}

func newSurrealCollector(pool *surreal.Pool, tables func() []string, timeout, every, refreshTimeout time.Duration, log *slog.Logger) *surrealCollector {
	return &surrealCollector{pool: pool, tables: tables, timeout: timeout, every: every, refreshTimeout: refreshTimeout, log: log, counts: map[string]float64{}}
}

var _ prometheus.Collector = (*surrealCollector)(nil)

func (c *surrealCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- surUpDesc
	ch <- surQueryDesc
	ch <- surRecordsDesc
}

func (c *surrealCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	took, err := probeSurreal(ctx, c.pool)
	if err != nil {
		// The cached counts are not served either: they could not be
		// told from current ones.
		c.log.Debug("SurrealDB metrics: probe failed", "err", err)
		ch <- prometheus.MustNewConstMetric(surUpDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(surUpDesc, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(surQueryDesc, prometheus.GaugeValue, took.Seconds())
	c.maybeRefresh()
	c.mu.Lock()
	defer c.mu.Unlock()
	for t, n := range c.counts {
		ch <- prometheus.MustNewConstMetric(surRecordsDesc, prometheus.GaugeValue, n, t)
	}
}

// probeSurreal runs RETURN 1 and times it.
func probeSurreal(ctx context.Context, pool *surreal.Pool) (time.Duration, error) {
	var took time.Duration
	err := poolDo(ctx, pool, func(ctx context.Context, cl *surreal.Client) error {
		start := time.Now()
		_, err := surrealdb.Query[any](ctx, cl.DB, "RETURN 1", nil)
		took = time.Since(start)
		return err
	})
	return took, err
}

// errPoolClosed is the error for a pool that was closed under a scrape
// or a refresh (the daemon shutting down).
var errPoolClosed = errors.New("the SurrealDB connection pool is closed (pgsurreal is shutting down)")

// poolDo is pool.Do on a pool that may be closed while the call runs (a
// background refresh can outlive the daemon's pools by its timeout):
// surreal.Pool hands out nil clients once closed, which Do does not
// expect, so a closed pool is an error here, never a panic.
func poolDo(ctx context.Context, pool *surreal.Pool, fn func(context.Context, *surreal.Client) error) (err error) {
	if pool.Get() == nil {
		return errPoolClosed
	}
	defer func() {
		if r := recover(); r != nil {
			if pool.Get() != nil {
				panic(r) // not the closed pool: a real bug
			}
			err = errPoolClosed
		}
	}()
	return pool.Do(ctx, fn)
}

// maybeRefresh starts a background refresh of the record counts when the
// last one began more than c.every ago and none is running.
func (c *surrealCollector) maybeRefresh() {
	if !c.refreshing.CompareAndSwap(false, true) {
		return
	}
	c.mu.Lock()
	if time.Since(c.started) < c.every {
		c.mu.Unlock()
		c.refreshing.Store(false)
		return
	}
	c.started = time.Now()
	c.mu.Unlock()
	go func() {
		defer c.refreshing.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), c.refreshTimeout)
		defer cancel()
		c.refresh(ctx)
	}()
}

// refresh counts each table's records. A table that cannot be counted
// (timeout, SurrealDB gone) drops out of the metric until it can: an old
// count would pass for a current one.
func (c *surrealCollector) refresh(ctx context.Context) {
	counts := map[string]float64{}
	for _, t := range c.tables() {
		n, err := countRecords(ctx, c.pool, t)
		if err != nil {
			c.log.Debug("SurrealDB metrics: counting records failed", "table", t, "err", err)
			continue
		}
		counts[t] = n
	}
	c.mu.Lock()
	c.counts = counts
	c.mu.Unlock()
}

// countRecords counts a table's records; a table SurrealDB does not know
// (not created yet) has none.
func countRecords(ctx context.Context, pool *surreal.Pool, table string) (float64, error) {
	var n float64
	err := poolDo(ctx, pool, func(ctx context.Context, cl *surreal.Client) error {
		res, err := surrealdb.Query[[]map[string]any](ctx, cl.DB, "SELECT count() FROM type::table($t) GROUP ALL", map[string]any{"t": table})
		if err != nil {
			if strings.Contains(err.Error(), "does not exist") {
				n = 0
				return nil
			}
			return err
		}
		n = 0
		if len(*res) > 0 && len((*res)[0].Result) > 0 {
			v, ok := toFloat((*res)[0].Result[0]["count"])
			if !ok {
				return fmt.Errorf("SurrealDB answered %v to the count of table %s", (*res)[0].Result[0], surreal.Ident(table))
			}
			n = v
		}
		return nil
	})
	return n, err
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case int:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}
