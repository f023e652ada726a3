package verify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/mapping"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/progress"
	"github.com/pgsurreal/pgsurreal/internal/route"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// Options configure one verify run.
type Options struct {
	// Config gives both databases, the mapping (sync and reverse
	// sections) and the verify section.
	Config config.Config
	// Tables limits the run to these tables: PostgreSQL schema.name of
	// forward tables, SurrealDB names of reverse tables. Empty: all.
	Tables []string
	// Repair rewrites confirmed differences from each table's source
	// and verifies them again.
	Repair bool
	// SamplePercent below 100 compares that share of each forward
	// table's rows (TABLESAMPLE) by key, and the counts for extras.
	SamplePercent int
	Log           *slog.Logger
	// Progress, when set, receives progress about once a second.
	Progress ProgressFunc
}

// Run verifies every replicated table (or those in o.Tables), forward
// (PostgreSQL -> SurrealDB) and reverse (SurrealDB -> PostgreSQL), and
// repairs what it confirmed when o.Repair is set.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.SamplePercent <= 0 || o.SamplePercent > 100 {
		o.SamplePercent = 100
	}
	v, err := open(ctx, o)
	if err != nil {
		return nil, err
	}
	defer v.close()
	rep := &Report{Started: time.Now(), Repair: o.Repair}
	jobs, err := v.plan(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(jobs))
	estimates := make([]int64, len(jobs))
	for i, j := range jobs {
		names[i], estimates[i] = j.name, j.rows
	}
	v.prog = progress.Start("verify", names, estimates, o.Progress, o.Log)
	defer v.prog.Stop()
	for _, j := range jobs {
		began := time.Now()
		tr, err := j.run(ctx)
		if err != nil {
			return nil, err
		}
		tr.Seconds = time.Since(began).Seconds()
		o.Log.Info("table verified", "table", tr.Table, "direction", tr.Direction, "source_rows", tr.SourceRows,
			"replica_rows", tr.ReplicaRows, "differences", len(tr.Differences), "repaired", tr.Repaired, "seconds", tr.Seconds)
		rep.Tables = append(rep.Tables, tr)
	}
	rep.Notes = v.notes
	rep.Finished = time.Now()
	return rep, nil
}

// verifier holds what the tables' comparisons share.
type verifier struct {
	o    Options
	cfg  config.Config
	log  *slog.Logger
	pool *pgxpool.Pool
	sur  *surreal.Pool
	// place says which SurrealDB servers hold each forward table (the
	// default server alone without surreal.servers); others are the
	// connections to the other servers.
	place  *route.Placement
	others serverClients
	prog   *progress.Tracker
	notes  []string
	// behind is set once waiting for a replication direction timed out:
	// later re-checks do not wait again.
	behind map[string]bool
}

func open(ctx context.Context, o Options) (*verifier, error) {
	pool, err := postgres.Connect(ctx, o.Config.Postgres)
	if err != nil {
		return nil, err
	}
	sur, err := surreal.NewPool(ctx, o.Config.Surreal, o.Log)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &verifier{o: o, cfg: o.Config, log: o.Log, pool: pool, sur: sur, behind: map[string]bool{}}, nil
}

func (v *verifier) close() {
	v.others.close()
	_ = v.sur.Close(context.Background())
	v.pool.Close()
}

// job verifies one table.
type job struct {
	name string
	rows int64 // estimate, for progress
	run  func(ctx context.Context) (TableReport, error)
}

// plan lists the forward and reverse tables to verify.
func (v *verifier) plan(ctx context.Context) ([]job, error) {
	var jobs []job
	want := map[string]bool{}
	for _, t := range v.o.Tables {
		want[t] = false
	}
	pick := func(name string) bool {
		if len(want) == 0 {
			return true
		}
		if _, ok := want[name]; ok {
			want[name] = true
			return true
		}
		return false
	}
	tables, shapes, err := v.forwardShapes(ctx)
	if err != nil {
		return nil, err
	}
	if v.place, err = route.New(v.cfg.Surreal, v.cfg.Sync, shapes); err != nil {
		return nil, err
	}
	reverseTargets := map[string]bool{}
	for _, rt := range v.cfg.Reverse.Tables {
		reverseTargets[rt.TargetName()] = true
	}
	for _, t := range tables {
		// A two-way table's PostgreSQL side is verified as the reverse
		// table it also is (SurrealDB is the source the reverse direction
		// keeps it equal to); checking it forward too would compare the
		// same pair twice.
		if reverseTargets[t.QualifiedName()] || !pick(t.QualifiedName()) {
			continue
		}
		s := shapes[t.QualifiedName()]
		f := &forward{v: v, table: t, shape: s, shapes: shapes, rule: v.place.Rule(s.Namespace, s.Database, s.Target)}
		jobs = append(jobs, job{name: t.QualifiedName(), rows: t.EstimatedRows, run: f.verify})
	}
	for _, rt := range v.cfg.Reverse.Tables {
		if !pick(rt.Name) {
			continue
		}
		r := &backward{v: v, cfg: rt}
		jobs = append(jobs, job{name: rt.Name, run: r.verify})
	}
	var unknown []string
	for name, found := range want {
		if !found {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, fmt.Errorf("verify --table %s: not a replicated table; name a PostgreSQL table as schema.name (one sync.include selects) or a SurrealDB table listed in reverse.tables", strings.Join(unknown, ", "))
	}
	if len(jobs) == 0 {
		return nil, errors.New("nothing to verify: no table is replicated (check sync.include and reverse.tables)")
	}
	return jobs, nil
}

// forwardShapes selects and shapes the forward tables as the sync does;
// with no sync configuration matching any table, there are none.
func (v *verifier) forwardShapes(ctx context.Context) ([]*cdc.Table, map[string]*mapping.Shape, error) {
	if len(v.cfg.Sync.Include) == 0 {
		return nil, nil, nil
	}
	tables, shapes, err := mapping.ForwardShapes(ctx, v.pool, v.cfg.Sync)
	if err != nil && strings.HasPrefix(err.Error(), "no table matches") && len(v.cfg.Reverse.Tables) > 0 {
		return nil, nil, nil // a reverse-only setup
	}
	if err != nil {
		return nil, nil, err
	}
	return tables, shapes, nil
}

// note records a limit of the result once.
func (v *verifier) note(format string, args ...any) {
	n := fmt.Sprintf(format, args...)
	if !slices.Contains(v.notes, n) {
		v.notes = append(v.notes, n)
		v.log.Warn(n)
	}
}
