package reverse_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/mapping"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/reverse"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/surreal/source"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

// fixture is a PostgreSQL database and a SurrealDB namespace of the
// test's own, and the reverse configuration between them.
type fixture struct {
	t    *testing.T
	pg   config.Postgres
	pool *pgxpool.Pool
	sur  config.Surreal
	cl   *surreal.Client
	rev  config.Reverse
	// ended is closed when the in-process pipeline started by start
	// returns.
	ended  chan struct{}
	runErr error
	// metrics, when set, is passed to the in-process pipeline.
	metrics *reverse.Metrics
}

func newFixture(t *testing.T, surql string, tables ...config.ReverseTable) *fixture {
	t.Helper()
	env := testenv.Get(t)
	f := &fixture{t: t}
	f.pg, f.pool = env.NewPostgresPool(t)
	f.sur, f.cl = env.NewSurrealClient(t)
	f.rev = config.Default().Reverse
	f.rev.PollInterval.Duration = 20 * time.Millisecond
	f.rev.Tables = tables
	if surql != "" {
		f.query(surql, nil)
	}
	// Replication origins are cluster-wide and take a replication slot's
	// place each: drop this database's once its pipelines are gone.
	t.Cleanup(func() {
		_, _ = f.pool.Exec(context.Background(), `SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname = $1`, f.rev.OriginFor(f.pg.Database))
	})
	return f
}

func (f *fixture) options() reverse.Options {
	return reverse.Options{Postgres: f.pg, Surreal: f.sur, Reverse: f.rev, Metrics: f.metrics, Log: testLog()}
}

// start runs the pipeline in-process until the returned stop is called.
func (f *fixture) start() func() error {
	f.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ended := make(chan struct{})
	f.ended = ended
	o := f.options()
	go func() {
		err := reverse.Run(ctx, o)
		f.runErr = err
		done <- err
		close(ended)
	}()
	var once bool
	var err error
	stop := func() error {
		if !once {
			once = true
			cancel()
			err = <-done
		}
		return err
	}
	f.t.Cleanup(func() { _ = stop() })
	return stop
}

// query runs SurrealQL in the fixture's namespace, failing on any error.
func (f *fixture) query(q string, vars map[string]any) []surrealdb.QueryResult[any] {
	f.t.Helper()
	res, err := surrealdb.Query[any](context.Background(), f.cl.DB, q, vars)
	if err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
	return *res
}

func (f *fixture) exec(sql string, args ...any) {
	f.t.Helper()
	if _, err := f.pool.Exec(context.Background(), sql, args...); err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
}

// position is the versionstamp the pipeline stored, 0 before it did.
func (f *fixture) position() uint64 {
	var s string
	err := f.pool.QueryRow(context.Background(), `SELECT versionstamp::text FROM pgsurreal.reverse_position`).Scan(&s)
	if err != nil {
		return 0
	}
	v, _ := strconv.ParseUint(s, 10, 64)
	return v
}

// caughtUp waits until everything SurrealDB committed so far is applied:
// it takes a marker versionstamp and waits for the stored position to
// reach it.
func (f *fixture) caughtUp(timeout time.Duration) {
	f.t.Helper()
	now, err := source.Now(context.Background(), f.cl, time.Hour)
	if err != nil {
		f.t.Fatal(err)
	}
	deadline := time.Now().Add(timeout)
	for f.position() < now {
		if f.ended != nil {
			select {
			case <-f.ended:
				f.t.Fatalf("the pipeline stopped: %v", f.runErr)
			default:
			}
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("not caught up after %s: position %d, want %d", timeout, f.position(), now)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// assertSame compares every replicated table through the mapping: each
// SurrealDB record, mapped by a shape of the same table, is written into
// an expectation table created as the pipeline created the target; the
// two tables must hold the same rows.
func (f *fixture) assertSame() {
	f.t.Helper()
	ctx := context.Background()
	f.exec(`DROP SCHEMA IF EXISTS expect CASCADE`)
	f.exec(`CREATE SCHEMA expect`)
	for _, tc := range f.rev.Tables {
		def, err := source.Describe(ctx, f.cl, tc.Name)
		if err != nil {
			f.t.Fatal(err)
		}
		st, err := mapping.ParseSurrealTable(tc.Name, def.Table, def.Fields)
		if err != nil {
			f.t.Fatal(err)
		}
		schema, name, _ := strings.Cut(tc.TargetName(), ".")
		target := postgres.QualifiedIdent(schema, name)
		expect := postgres.QualifiedIdent("expect", name)
		shape, err := mapping.NewReverseShape(st, tc, "expect", name, nil)
		if err != nil {
			f.t.Fatal(err)
		}
		f.exec(shape.CreateSQL())
		res, err := surrealdb.Query[[]map[string]any](ctx, f.cl.DB, "SELECT * FROM "+surreal.Ident(tc.Name), nil)
		if err != nil {
			f.t.Fatal(err)
		}
		for _, rec := range (*res)[0].Result {
			vals, err := shape.Row(rec)
			if err != nil {
				f.t.Fatal(err)
			}
			f.exec(shape.UpsertSQL(), vals...)
		}
		got, want := f.rows(target), f.rows(expect)
		if !slices.Equal(got, want) {
			f.t.Errorf("%s differs from SurrealDB table %s (%d rows, want %d):\n%s", target, tc.Name, len(got), len(want), diff(got, want))
		}
	}
}

func (f *fixture) rows(table string) []string {
	f.t.Helper()
	rows, err := f.pool.Query(context.Background(), `SELECT to_jsonb(t)::text FROM `+table+` t ORDER BY 1`)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func diff(got, want []string) string {
	var b strings.Builder
	n := 0
	for _, g := range got {
		if !slices.Contains(want, g) && n < 10 {
			fmt.Fprintf(&b, "  extra:   %s\n", g)
			n++
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) && n < 20 {
			fmt.Fprintf(&b, "  missing: %s\n", w)
			n++
		}
	}
	return b.String()
}

// process starts `pgsurreal reverse` for the fixture as a real process.
func (f *fixture) process() *exec.Cmd {
	f.t.Helper()
	cfgFile := filepath.Join(f.t.TempDir(), "pgsurreal.yaml")
	y := "reverse:\n  poll_interval: 20ms\n  tables:\n"
	for _, tc := range f.rev.Tables {
		y += fmt.Sprintf("    - name: %q\n", tc.Name)
		if tc.Target != "" {
			y += fmt.Sprintf("      target: %q\n", tc.Target)
		}
		if len(tc.Columns) > 0 {
			y += "      columns:\n"
			for _, c := range tc.Columns {
				y += fmt.Sprintf("        - {name: %q, field: %q, type: %q}\n", c.Name, c.Field, c.Type)
			}
		}
	}
	if err := os.WriteFile(cfgFile, []byte(y), 0o600); err != nil {
		f.t.Fatal(err)
	}
	cmd := exec.Command(testenv.Binary(f.t), "reverse", "--log-level", "warn", "--config", cfgFile,
		"--set", "postgres.host="+f.pg.Host,
		"--set", fmt.Sprintf("postgres.port=%d", f.pg.Port),
		"--set", "postgres.user="+f.pg.User,
		"--set", "postgres.database="+f.pg.Database,
		"--set", "postgres.sslmode=disable",
		"--set", "surreal.url="+f.sur.URL,
		"--set", "surreal.namespace="+f.sur.Namespace,
		"--set", "surreal.database="+f.sur.Database,
		"--set", "surreal.username="+f.sur.Username,
		"--set", "http.listen=127.0.0.1:0", "--set", "federation.listen=off",
	)
	cmd.Env = append(os.Environ(),
		"PGSURREAL_POSTGRES_PASSWORD="+f.pg.Password.Reveal(),
		"PGSURREAL_SURREAL_PASSWORD="+f.sur.Password.Reveal())
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	return cmd
}

// testLog logs warnings (PGSURREAL_TEST_DEBUG=1: everything) to stderr.
func testLog() *slog.Logger {
	lvl := slog.LevelWarn
	if os.Getenv("PGSURREAL_TEST_DEBUG") != "" {
		lvl = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
}
