package mapping

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

// revEnv is a PostgreSQL database and a SurrealDB namespace for one
// reverse-mapping test, read the way the reverse pipeline reads: records
// from SHOW CHANGES, decoded by the Go SDK into any.
type revEnv struct {
	pool *pgxpool.Pool
	pg   *pgx.Conn
	db   *surrealdb.DB
}

func newRevEnv(t *testing.T) *revEnv {
	t.Helper()
	env := testenv.Get(t)
	_, pool := env.NewPostgresPool(t)
	_, client := env.NewSurrealClient(t)
	pc, err := pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pc.Release)
	e := &revEnv{pool: pool, pg: pc.Conn(), db: client.DB}
	// The expected values below are PostgreSQL's text output under these
	// settings.
	e.exec(t, "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 1")
	return e
}

func (e *revEnv) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := e.pg.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// surreal runs SurrealQL and fails the test on any statement's error.
func (e *revEnv) surreal(t *testing.T, q string) []any {
	t.Helper()
	res, err := surrealdb.Query[any](context.Background(), e.db, q, nil)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	out := make([]any, len(*res))
	for i, r := range *res {
		if r.Error != nil {
			t.Fatalf("%s: statement %d: %v", q, i, r.Error)
		}
		out[i] = r.Result
	}
	return out
}

// table reads a table's definition as the reverse pipeline does.
func (e *revEnv) table(t *testing.T, name string) *SurrealTable {
	t.Helper()
	res := e.surreal(t, "INFO FOR DB; INFO FOR TABLE "+surreal.Ident(name))
	tables := res[0].(map[string]any)["tables"].(map[string]any)
	fields := map[string]string{}
	for k, v := range res[1].(map[string]any)["fields"].(map[string]any) {
		fields[k] = v.(string)
	}
	st, err := ParseSurrealTable(name, tables[name].(string), fields)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// revChange is one changefeed entry: an update (Rec) or a delete (ID).
type revChange struct {
	Rec map[string]any
	ID  any
}

// changes reads a table's changefeed from the start.
func (e *revEnv) changes(t *testing.T, table string) []revChange {
	t.Helper()
	res := e.surreal(t, "SHOW CHANGES FOR TABLE "+surreal.Ident(table)+" SINCE 0 LIMIT 1000")
	var out []revChange
	for _, entry := range res[0].([]any) {
		for _, c := range entry.(map[string]any)["changes"].([]any) {
			m := c.(map[string]any)
			if rec, ok := m["update"].(map[string]any); ok {
				out = append(out, revChange{Rec: rec})
			}
			if del, ok := m["delete"].(map[string]any); ok {
				out = append(out, revChange{ID: del["id"]})
			}
		}
	}
	return out
}

// apply creates the table and applies every change; Row errors are
// collected by record id text and returned, the rest fails the test.
func (e *revEnv) apply(t *testing.T, s *ReverseShape, chs []revChange) map[string]error {
	t.Helper()
	ctx := context.Background()
	e.exec(t, s.CreateSQL())
	errs := map[string]error{}
	for _, ch := range chs {
		if ch.Rec == nil {
			key, err := s.Key(ch.ID)
			if err != nil {
				t.Fatalf("key of %v: %v", ch.ID, err)
			}
			if _, err := e.pg.Exec(ctx, s.DeleteSQL(), key...); err != nil {
				t.Fatalf("%s %v: %v", s.DeleteSQL(), key, err)
			}
			continue
		}
		row, err := s.Row(ch.Rec)
		if err != nil {
			errs[fmt.Sprint(ch.Rec["id"])] = err
			continue
		}
		if _, err := e.pg.Exec(ctx, s.UpsertSQL(), row...); err != nil {
			t.Fatalf("upserting %v: %s %v: %v", ch.Rec["id"], s.UpsertSQL(), row, err)
		}
	}
	return errs
}

// row reads one row as PostgreSQL's text output of each column (nil for
// NULL), or nil when there is no such row.
func (e *revEnv) row(t *testing.T, s *ReverseShape, cols []string, key ...string) []*string {
	t.Helper()
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = postgres.Ident(c)
	}
	conds := make([]string, len(key))
	params := make([][]byte, len(key))
	for i, k := range s.KeyColumns() {
		conds[i] = fmt.Sprintf("%s::text = $%d", postgres.Ident(k), i+1)
		params[i] = []byte(key[i])
	}
	sql := "SELECT " + strings.Join(q, ", ") + " FROM " + postgres.QualifiedIdent(s.Schema(), s.Name()) + " WHERE " + strings.Join(conds, " AND ")
	res := e.pg.PgConn().ExecParams(context.Background(), sql, params, nil, nil, []int16{pgx.TextFormatCode}).Read()
	if res.Err != nil {
		t.Fatalf("%s: %v", sql, res.Err)
	}
	if len(res.Rows) == 0 {
		return nil
	}
	out := make([]*string, len(cols))
	for i, v := range res.Rows[0] {
		if v != nil {
			s := string(v)
			out[i] = &s
		}
	}
	return out
}

// columnTypes are format_type of each column of a table.
func (e *revEnv) columnTypes(t *testing.T, schema, table string) map[string]string {
	t.Helper()
	rows, err := e.pg.Query(context.Background(), `SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`, postgres.QualifiedIdent(schema, table))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for rows.Next() {
		var n, typ string
		if err := rows.Scan(&n, &typ); err != nil {
			t.Fatal(err)
		}
		out[n] = typ
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// describe loads an existing table as the reverse pipeline does.
func (e *revEnv) describe(t *testing.T, schema, name string) *cdc.Table {
	t.Helper()
	tb, err := postgres.DescribeTable(context.Background(), e.pg, schema, name)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func newShape(t *testing.T, st *SurrealTable, cfg config.ReverseTable, name string, existing *cdc.Table) *ReverseShape {
	t.Helper()
	s, err := NewReverseShape(st, cfg, "public", name, existing)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func str(s string) *string { return &s }

func show(p *string) string {
	if p == nil {
		return "NULL"
	}
	return fmt.Sprintf("%q", *p)
}
