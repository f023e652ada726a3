package monitor

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// Defaults of Options.
const (
	DefaultScrapeTimeout  = 3 * time.Second
	DefaultRecordsEvery   = 30 * time.Second
	DefaultRecordsTimeout = 20 * time.Second
)

// Options say what Register watches. A nil pool or an empty list leaves
// that collector out.
type Options struct {
	// PG is the pool the PostgreSQL collector queries (the database of
	// postgres.database).
	PG *pgxpool.Pool
	// Surreal is the pool the SurrealDB collector probes.
	Surreal *surreal.Pool
	// Tables are the SurrealDB tables whose records are counted (the
	// synced targets).
	Tables []string
	// TablesFunc, when set, is asked for the tables at each refresh of
	// the record counts instead of Tables (for a set that grows while
	// the daemon runs).
	TablesFunc func() []string
	// DiskPaths are directories whose filesystems are reported
	// (alerts.disk_paths plus the data directories serve knows).
	DiskPaths []string
	Log       *slog.Logger
	// Timeout bounds one scrape of each database; 0 means
	// DefaultScrapeTimeout (3s).
	Timeout time.Duration
	// RecordsEvery is the least time between two refreshes of the record
	// counts; 0 means DefaultRecordsEvery (30s).
	RecordsEvery time.Duration
	// RecordsTimeout bounds one refresh of the record counts; 0 means
	// DefaultRecordsTimeout (20s).
	RecordsTimeout time.Duration
}

// Register builds the PostgreSQL, SurrealDB and disk collectors that o
// asks for and registers them on reg. An error means a collector was
// already registered (Register called twice on one registry): nothing
// new is left registered then.
func Register(reg prometheus.Registerer, o Options) error {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultScrapeTimeout
	}
	if o.RecordsEvery <= 0 {
		o.RecordsEvery = DefaultRecordsEvery
	}
	if o.RecordsTimeout <= 0 {
		o.RecordsTimeout = DefaultRecordsTimeout
	}
	var cs []prometheus.Collector
	if o.PG != nil {
		cs = append(cs, newPGCollector(o.PG, o.Timeout, o.Log))
	}
	if o.Surreal != nil {
		tables := o.TablesFunc
		if tables == nil {
			fixed := append([]string(nil), o.Tables...)
			tables = func() []string { return fixed }
		}
		cs = append(cs, newSurrealCollector(o.Surreal, tables, o.Timeout, o.RecordsEvery, o.RecordsTimeout, o.Log))
	}
	if len(o.DiskPaths) > 0 {
		cs = append(cs, newDiskCollector(o.DiskPaths, o.Log))
	}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return fmt.Errorf("registering the database and disk metrics (is monitor.Register called twice on one registry?): %w", err)
		}
	}
	return nil
}
