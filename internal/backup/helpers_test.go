package backup_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	surrealdb "github.com/surrealdb/surrealdb.go"
	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/pgsurreal/pgsurreal/internal/backup/backuptest"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	backuptest.Stop()
	os.Exit(code)
}

// env is the test environment with a SurrealDB that serves /export and
// /import.
func env(t *testing.T) *testenv.Env { return backuptest.Env(t) }

func logger() *slog.Logger {
	lvl := slog.LevelWarn
	if os.Getenv("PGSURREAL_TEST_DEBUG") != "" {
		lvl = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
}

// slotName is a replication slot name unique to the test (slot names are
// cluster-wide); the slot is dropped when the test ends, before the
// databases are.
func slotName(t *testing.T, pool *pgxpool.Pool, suffix string) string {
	t.Helper()
	name := "s_" + strings.TrimPrefix(testenv.Name(t), "t_")
	if len(name)+len(suffix) > 63 {
		name = name[len(name)+len(suffix)-63:]
	}
	name += suffix
	t.Cleanup(func() {
		ctx := context.Background()
		var err error
		for range 100 {
			_, _ = pool.Exec(ctx, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL", name)
			if _, err = pool.Exec(ctx, "SELECT pg_drop_replication_slot($1) FROM pg_replication_slots WHERE slot_name = $1", name); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("dropping slot %s: %v", name, err)
	})
	return name
}

func exec1(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
		first, _, _ := strings.Cut(strings.TrimSpace(sql), "\n")
		t.Fatalf("%s: %v", first, err)
	}
}

func surql(t *testing.T, cl *surreal.Client, q string, vars map[string]any) []surrealdb.QueryResult[any] {
	t.Helper()
	res, err := surrealdb.Query[any](context.Background(), cl.DB, q, vars)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return *res
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pgTables lists the ordinary tables of a database, schema-qualified.
func pgTables(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// pgRelations counts a database's own relations (what restore refuses).
func pgRelations(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	err := pool.QueryRow(context.Background(), `
SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// pgRows renders a table's rows as sorted JSON texts.
func pgRows(t *testing.T, pool *pgxpool.Pool, table string) []string {
	t.Helper()
	schema, name, _ := strings.Cut(table, ".")
	rows, err := pool.Query(context.Background(), "SELECT to_jsonb(t)::text FROM "+postgres.QualifiedIdent(schema, name)+" t ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("reading %s: %v", table, err)
	}
	return out
}

// surrealTables lists the tables of the client's database.
func surrealTables(t *testing.T, cl *surreal.Client) []string {
	t.Helper()
	res, err := surrealdb.Query[map[string]any](context.Background(), cl.DB, "INFO FOR DB", nil)
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return nil
		}
		t.Fatal(err)
	}
	var out []string
	if tbs, ok := (*res)[0].Result["tables"].(map[string]any); ok {
		for name := range tbs {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// records reads a SurrealDB table as canonical renderings by record id.
func records(t *testing.T, cl *surreal.Client, table string) map[string]string {
	t.Helper()
	res, err := surrealdb.Query[[]map[string]any](context.Background(), cl.DB, "SELECT * FROM "+surreal.Ident(table), nil)
	if err != nil {
		t.Fatalf("reading SurrealDB table %s: %v", table, err)
	}
	out := map[string]string{}
	for _, r := range (*res)[0].Result {
		out[canon(r["id"])] = canon(r)
	}
	return out
}

// canon renders a value decoded by the SDK so that equal values render
// equally: maps with sorted keys, everything else with its Go type.
func canon(v any) string {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		b.WriteString("{")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "%q:%s", k, canon(x[k]))
		}
		return b.String() + "}"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = canon(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case models.RecordID:
		return "r:" + x.Table + ":" + canon(x.ID)
	case *models.RecordID:
		return "r:" + x.Table + ":" + canon(x.ID)
	}
	return fmt.Sprintf("%T:%#v", v, v)
}

// copyDir copies a backup directory.
func copyDir(t *testing.T, from string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), filepath.Base(from))
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		src, err := os.Open(path)
		if err != nil {
			return err
		}
		defer src.Close()
		out, err := os.Create(dst)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, src); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	return to
}

// baseConfig is a configuration reaching pg and sur.
func baseConfig(pg config.Postgres, sur config.Surreal) config.Config {
	c := config.Default()
	c.Postgres, c.Surreal = pg, sur
	c.Sync.Heartbeat.Duration = 100 * time.Millisecond
	c.Sync.StatusInterval.Duration = 100 * time.Millisecond
	c.Reverse.PollInterval.Duration = 50 * time.Millisecond
	c.Reverse.Settle.Duration = 200 * time.Millisecond
	c.Backup.Jobs = 2
	return c
}
