package sync_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	surrealdb "github.com/surrealdb/surrealdb.go"
	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/mapping"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	pgsync "github.com/pgsurreal/pgsurreal/internal/sync"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

// fixture is one test's pair of databases and sync configuration.
type fixture struct {
	t    *testing.T
	pg   config.Postgres
	pool *pgxpool.Pool
	sur  config.Surreal
	cl   *surreal.Client
	sync config.Sync
	// ended is closed when an in-process pipeline returns, with endErr.
	ended  chan struct{}
	endErr error
	// modify, when set, changes the options of in-process pipelines;
	// args are added to the command line of process().
	modify func(*pgsync.Options)
	args   []string
}

func newFixture(t *testing.T, schema string) *fixture {
	t.Helper()
	env := testenv.Get(t)
	f := &fixture{t: t}
	f.pg, f.pool = env.NewPostgresPool(t)
	f.sur, f.cl = env.NewSurrealClient(t)
	f.sync = config.Default().Sync
	f.sync.Slot = "s_" + strings.TrimPrefix(testenv.Name(t), "t_")
	if len(f.sync.Slot) > 63 {
		f.sync.Slot = f.sync.Slot[len(f.sync.Slot)-63:]
	}
	f.sync.Heartbeat.Duration = 100 * time.Millisecond
	f.sync.StatusInterval.Duration = 100 * time.Millisecond
	f.exec(schema)
	t.Cleanup(f.dropSlot) // the slot must go before the database can be dropped
	return f
}

// dropSlot drops the test's slot once no walsender holds it.
func (f *fixture) dropSlot() {
	ctx := context.Background()
	var err error
	for i := 0; i < 100; i++ {
		_, _ = f.pool.Exec(ctx, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL", f.sync.Slot)
		if _, err = f.pool.Exec(ctx, "SELECT pg_drop_replication_slot($1) FROM pg_replication_slots WHERE slot_name = $1", f.sync.Slot); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	f.t.Errorf("dropping slot %s: %v", f.sync.Slot, err)
}

func (f *fixture) exec(sql string, args ...any) {
	f.t.Helper()
	if _, err := f.pool.Exec(context.Background(), sql, args...); err != nil {
		f.t.Fatalf("%s: %v", firstLine(sql), err)
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func (f *fixture) options() pgsync.Options {
	lvl := slog.LevelWarn
	if os.Getenv("PGSURREAL_TEST_DEBUG") != "" {
		lvl = slog.LevelDebug
	}
	o := pgsync.Options{
		Postgres: f.pg, Surreal: f.sur, Sync: f.sync,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})),
	}
	if f.modify != nil {
		f.modify(&o)
	}
	return o
}

// start runs the pipeline in the background; the returned function stops
// it and returns its error.
func (f *fixture) start() func() error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ended := make(chan struct{})
	f.ended = ended
	go func() {
		err := pgsync.Run(ctx, f.options())
		f.endErr = err
		close(ended)
		done <- err
	}()
	stopped := false
	var result error
	stop := func() error {
		if !stopped {
			stopped = true
			cancel()
			result = <-done
			f.ended = nil
		}
		return result
	}
	f.t.Cleanup(func() { _ = stop() })
	return stop
}

// position reads the stored position, 0 if none.
func (f *fixture) position() cdc.LSN {
	res, err := surrealdb.Query[[]map[string]any](context.Background(), f.cl.DB,
		"SELECT lsn, phase FROM type::record('_pgsurreal_position', $s)", map[string]any{"s": f.sync.Slot})
	if err != nil || len(*res) == 0 || len((*res)[0].Result) == 0 {
		return 0
	}
	r := (*res)[0].Result[0]
	if r["phase"] != pgsync.PhaseStreaming {
		return 0
	}
	n, _ := strconv.ParseInt(fmt.Sprint(r["lsn"]), 10, 64)
	return cdc.LSN(n)
}

// caughtUp waits until SurrealDB holds every change committed so far.
func (f *fixture) caughtUp(timeout time.Duration) {
	f.t.Helper()
	var s string
	if err := f.pool.QueryRow(context.Background(), "SELECT pg_current_wal_lsn()::text").Scan(&s); err != nil {
		f.t.Fatal(err)
	}
	target, _ := cdc.ParseLSN(s)
	deadline := time.Now().Add(timeout)
	for f.position() < target {
		if f.ended != nil {
			select {
			case <-f.ended:
				f.t.Fatalf("the pipeline stopped: %v", f.endErr)
			default:
			}
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("SurrealDB did not catch up to %s within %s (at %s)", target, timeout, f.position())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// assertSame compares every replicated table, row by row, through the
// mapping: what PostgreSQL holds mapped to records must equal what
// SurrealDB holds, nothing missing, extra or stale.
func (f *fixture) assertSame() {
	f.t.Helper()
	for table, want := range f.want() {
		f.compare(table, want)
	}
}

// want maps every replicated table of PostgreSQL to the records it must
// be in SurrealDB: canonical records by canonical id part, by SurrealDB
// table (edge tables included).
func (f *fixture) want() map[string]map[string]string {
	f.t.Helper()
	ctx := context.Background()
	tables, err := postgres.ListTables(ctx, f.pool, []string{"public"})
	if err != nil {
		f.t.Fatal(err)
	}
	opts, err := mapping.OptionsFor(ctx, f.pool, tables, f.sync)
	if err != nil {
		f.t.Fatal(err)
	}
	shapes, err := mapping.BuildShapes(tables, opts, false)
	if err != nil {
		f.t.Fatal(err)
	}
	m := mapping.NewMapper(shapes, func(oids []uint32) (map[uint32]*mapping.Type, error) {
		return mapping.LoadTypes(ctx, f.pool, oids)
	})
	out := map[string]map[string]string{}
	for _, t := range tables {
		s := shapes[t.QualifiedName()]
		want := map[string]string{}
		edges := map[string]map[string]string{}
		// Simple protocol: text results, and no cached plan to go stale
		// after ALTER TABLE.
		rows, err := f.pool.Query(ctx, "SELECT * FROM "+postgres.QualifiedIdent(t.Schema, t.Name), pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			f.t.Fatal(err)
		}
		fds := rows.FieldDescriptions()
		for rows.Next() {
			r := mapping.Row{Vals: cdc.Tuple{}}
			for i, raw := range rows.RawValues() {
				r.Names = append(r.Names, fds[i].Name)
				r.OIDs = append(r.OIDs, fds[i].DataTypeOID)
				if raw == nil {
					r.Vals = append(r.Vals, cdc.Datum{Kind: cdc.Null})
				} else {
					r.Vals = append(r.Vals, cdc.Datum{Kind: cdc.Text, Text: string(raw)})
				}
			}
			rec, err := m.Record(s, r)
			if err != nil {
				f.t.Fatal(err)
			}
			want[mapping.Canon(rec.Doc["id"])] = mapping.Canon(rec.Doc)
			for name, e := range rec.Edges {
				if edges[name] == nil {
					edges[name] = map[string]string{}
				}
				edges[name][mapping.Canon(e["id"])] = mapping.Canon(e)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			f.t.Fatalf("reading %s: %v", t.QualifiedName(), err)
		}
		out[s.Target] = want
		for _, e := range s.Edges {
			out[e.Name] = edges[e.Name]
		}
	}
	return out
}

func (f *fixture) compare(table string, want map[string]string) {
	f.t.Helper()
	f.compareGot(table, want, f.records(table))
}

// compareGot fails the test unless got (records by id part) equals want.
func (f *fixture) compareGot(table string, want, got map[string]string) {
	f.t.Helper()
	var diffs []string
	for id, w := range want {
		switch g, ok := got[id]; {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("missing %s:%s", table, id))
		case g != w:
			diffs = append(diffs, fmt.Sprintf("different %s:%s\n  want %s\n  got  %s", table, id, w, g))
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			diffs = append(diffs, fmt.Sprintf("extra %s:%s", table, id))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		if len(diffs) > 10 {
			diffs = append(diffs[:10], fmt.Sprintf("... and %d more", len(diffs)-10))
		}
		f.t.Fatalf("%s differs from PostgreSQL (%d rows there, %d records here):\n%s", table, len(want), len(got), strings.Join(diffs, "\n"))
	}
}

// records reads a SurrealDB table as canonical strings by record id part.
func (f *fixture) records(table string) map[string]string {
	f.t.Helper()
	return recordsOf(f.t, f.cl, table)
}

// recordsOf reads a table through cl as canonical strings by id part.
func recordsOf(t *testing.T, cl *surreal.Client, table string) map[string]string {
	t.Helper()
	res, err := surrealdb.Query[[]map[string]any](context.Background(), cl.DB, "SELECT * FROM "+surreal.Ident(table), nil)
	out := map[string]string{}
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return out
		}
		t.Fatal(err)
	}
	for _, r := range (*res)[0].Result {
		id := r["id"].(models.RecordID)
		r["id"] = id.ID
		out[mapping.Canon(id.ID)] = mapping.Canon(r)
	}
	return out
}

// query runs SurrealQL and renders the first result.
func (f *fixture) query(sql string) string {
	f.t.Helper()
	res, err := surrealdb.Query[any](context.Background(), f.cl.DB, sql, nil)
	if err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
	return fmt.Sprint((*res)[0].Result)
}
