package monitor

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// Connection states pg_stat_activity reports; each is exported (0 when
// no session is in it) so alert expressions need no absent().
var pgStates = []string{"active", "idle", "idle in transaction", "idle in transaction (aborted)", "fastpath function call", "disabled"}

// walStatuses are the values of pg_replication_slots.wal_status.
var walStatuses = []string{"reserved", "extended", "unreserved", "lost"}

var (
	pgUpDesc = prometheus.NewDesc("pgsurreal_postgres_up",
		"1 when the last scrape reached PostgreSQL and read every figure, 0 when it did not.", nil, nil)
	pgConnsDesc = prometheus.NewDesc("pgsurreal_postgres_connections",
		"Sessions connected to the replicated database, by state (pg_stat_activity; \"unknown\": a session the role may not see, grant pg_monitor).", []string{"state"}, nil)
	pgSizeDesc = prometheus.NewDesc("pgsurreal_postgres_database_size_bytes",
		"Size of the replicated database on disk (pg_database_size).", nil, nil)
	pgSlotRetainedDesc = prometheus.NewDesc("pgsurreal_postgres_slot_retained_wal_bytes",
		"WAL a logical replication slot of the database keeps on the server (current WAL position - restart_lsn).", []string{"slot"}, nil)
	pgSlotStatusDesc = prometheus.NewDesc("pgsurreal_postgres_slot_wal_status",
		"1 for the slot's current wal_status (reserved, extended, unreserved, lost), 0 for the others.", []string{"slot", "status"}, nil)
	pgSlotActiveDesc = prometheus.NewDesc("pgsurreal_postgres_slot_active",
		"1 when a process is reading the slot, 0 when none is.", []string{"slot"}, nil)
	pgPreparedDesc = prometheus.NewDesc("pgsurreal_postgres_prepared_transactions",
		"Prepared transactions of the database waiting for COMMIT PREPARED or ROLLBACK PREPARED (pg_prepared_xacts).", nil, nil)
	pgPreparedAgeDesc = prometheus.NewDesc("pgsurreal_postgres_prepared_transaction_oldest_seconds",
		"Age of the oldest prepared transaction of the database, 0 when there is none (they hold locks and block VACUUM).", nil, nil)
	pgCommitsDesc = prometheus.NewDesc("pgsurreal_postgres_commits_total",
		"Transactions committed in the database (pg_stat_database.xact_commit).", nil, nil)
	pgRollbacksDesc = prometheus.NewDesc("pgsurreal_postgres_rollbacks_total",
		"Transactions rolled back in the database (pg_stat_database.xact_rollback).", nil, nil)
)

// The queries of one scrape, sent in one round trip. Every figure is for
// current_database(), the database pgsurreal replicates. On a standby the
// WAL position is the last one received.
const (
	pgConnsSQL = `SELECT COALESCE(state, 'unknown'), count(*) FROM pg_stat_activity
WHERE datname = current_database() GROUP BY 1`
	pgSizeSQL  = `SELECT pg_database_size(current_database())`
	pgSlotsSQL = `SELECT slot_name::text,
  COALESCE((CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END) - restart_lsn, 0)::float8,
  COALESCE(wal_status, ''), active
FROM pg_replication_slots WHERE slot_type = 'logical' AND database = current_database()`
	pgPreparedSQL = `SELECT count(*), COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - min(prepared)), 0)::float8
FROM pg_prepared_xacts WHERE database = current_database()`
	pgStatSQL = `SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = current_database()`
)

// pgCollector reads PostgreSQL's figures at each scrape.
type pgCollector struct {
	pool    *pgxpool.Pool
	timeout time.Duration
	log     *slog.Logger
}

func newPGCollector(pool *pgxpool.Pool, timeout time.Duration, log *slog.Logger) *pgCollector {
	return &pgCollector{pool: pool, timeout: timeout, log: log}
}

var _ prometheus.Collector = (*pgCollector)(nil)

func (c *pgCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{pgUpDesc, pgConnsDesc, pgSizeDesc, pgSlotRetainedDesc, pgSlotStatusDesc,
		pgSlotActiveDesc, pgPreparedDesc, pgPreparedAgeDesc, pgCommitsDesc, pgRollbacksDesc} {
		ch <- d
	}
}

// pgSlot is one logical slot's row.
type pgSlot struct {
	name      string
	retained  float64
	walStatus string
	active    bool
}

// pgFigures are the results of one scrape.
type pgFigures struct {
	conns              map[string]float64
	size               int64
	slots              []pgSlot
	prepared           int64
	preparedAge        float64
	commits, rollbacks int64
}

func (c *pgCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	f, err := c.read(ctx)
	if err != nil {
		c.log.Debug("PostgreSQL metrics: scrape failed", "err", err)
		ch <- prometheus.MustNewConstMetric(pgUpDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(pgUpDesc, prometheus.GaugeValue, 1)
	for _, s := range pgStates {
		ch <- prometheus.MustNewConstMetric(pgConnsDesc, prometheus.GaugeValue, f.conns[s], s)
	}
	for s, n := range f.conns {
		if !slices.Contains(pgStates, s) {
			ch <- prometheus.MustNewConstMetric(pgConnsDesc, prometheus.GaugeValue, n, s)
		}
	}
	ch <- prometheus.MustNewConstMetric(pgSizeDesc, prometheus.GaugeValue, float64(f.size))
	for _, s := range f.slots {
		ch <- prometheus.MustNewConstMetric(pgSlotRetainedDesc, prometheus.GaugeValue, s.retained, s.name)
		ch <- prometheus.MustNewConstMetric(pgSlotActiveDesc, prometheus.GaugeValue, bool01(s.active), s.name)
		if s.walStatus == "" {
			continue // no WAL reserved yet: no status to report
		}
		for _, st := range walStatuses {
			ch <- prometheus.MustNewConstMetric(pgSlotStatusDesc, prometheus.GaugeValue, bool01(st == s.walStatus), s.name, st)
		}
		if !slices.Contains(walStatuses, s.walStatus) {
			ch <- prometheus.MustNewConstMetric(pgSlotStatusDesc, prometheus.GaugeValue, 1, s.name, s.walStatus)
		}
	}
	ch <- prometheus.MustNewConstMetric(pgPreparedDesc, prometheus.GaugeValue, float64(f.prepared))
	ch <- prometheus.MustNewConstMetric(pgPreparedAgeDesc, prometheus.GaugeValue, f.preparedAge)
	ch <- prometheus.MustNewConstMetric(pgCommitsDesc, prometheus.CounterValue, float64(f.commits))
	ch <- prometheus.MustNewConstMetric(pgRollbacksDesc, prometheus.CounterValue, float64(f.rollbacks))
}

// read runs the scrape's queries in one batch on one connection.
func (c *pgCollector) read(ctx context.Context) (*pgFigures, error) {
	f := &pgFigures{conns: map[string]float64{}}
	b := &pgx.Batch{}
	b.Queue(pgConnsSQL).Query(func(rows pgx.Rows) error {
		var state string
		var n int64
		_, err := pgx.ForEachRow(rows, []any{&state, &n}, func() error {
			f.conns[state] += float64(n)
			return nil
		})
		return err
	})
	b.Queue(pgSizeSQL).QueryRow(func(row pgx.Row) error { return row.Scan(&f.size) })
	b.Queue(pgSlotsSQL).Query(func(rows pgx.Rows) error {
		var s pgSlot
		_, err := pgx.ForEachRow(rows, []any{&s.name, &s.retained, &s.walStatus, &s.active}, func() error {
			f.slots = append(f.slots, s)
			return nil
		})
		return err
	})
	b.Queue(pgPreparedSQL).QueryRow(func(row pgx.Row) error { return row.Scan(&f.prepared, &f.preparedAge) })
	b.Queue(pgStatSQL).QueryRow(func(row pgx.Row) error { return row.Scan(&f.commits, &f.rollbacks) })
	if err := c.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("reading PostgreSQL statistics: %w", err)
	}
	return f, nil
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
