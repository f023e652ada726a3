package pgwire

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// execModes are pgx's ways of running a query: named prepared statements,
// unnamed ones with and without a description round trip, and the simple
// protocol.
var execModes = []struct {
	name string
	mode pgx.QueryExecMode
}{
	{"cache_statement", pgx.QueryExecModeCacheStatement},
	{"cache_describe", pgx.QueryExecModeCacheDescribe},
	{"describe_exec", pgx.QueryExecModeDescribeExec},
	{"exec", pgx.QueryExecModeExec},
	{"simple_protocol", pgx.QueryExecModeSimpleProtocol},
}

// answer is everything a client sees of one query.
type answer struct {
	Fields []field
	Rows   [][]string
	Tag    string
	Err    *pgconn.PgError
	Other  string // an error without a SQLSTATE
}

type field struct {
	Name   string
	OID    uint32
	Format int16
}

func ask(ctx context.Context, c *pgx.Conn, mode pgx.QueryExecMode, sql string, args ...any) answer {
	var a answer
	rows, err := c.Query(ctx, sql, append([]any{mode}, args...)...)
	if err == nil {
		for _, fd := range rows.FieldDescriptions() {
			a.Fields = append(a.Fields, field{fd.Name, fd.DataTypeOID, fd.Format})
		}
		for rows.Next() {
			vals, verr := rows.Values()
			if verr != nil {
				a.Other = verr.Error()
				break
			}
			a.Rows = append(a.Rows, printable(vals))
		}
		rows.Close()
		err = rows.Err()
		a.Tag = rows.CommandTag().String()
	}
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			a.Err = pe
		} else {
			a.Other = err.Error()
		}
	}
	return a
}

// printable renders values with their types (NaN never equals itself).
func printable(vals []any) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = fmt.Sprintf("%T %v", v, v)
	}
	return out
}

const kindsTable = `CREATE TABLE kinds (
	id int PRIMARY KEY, i2 smallint, i8 bigint, n numeric(10,2), f float8, t text, vc varchar(10),
	b bool, ts timestamptz, d date, iv interval, u uuid, j jsonb, js json, by bytea, arr int[], tarr text[], nul text)`

const kindsRows = `INSERT INTO kinds VALUES
	(1, 1, 9007199254740993, 12.50, 0.1, 'héllo ✓', 'v', true, '2024-02-29 12:34:56.789+01', '2024-02-29', '1 day 02:03:04', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2.5, null]}', '{"b" : 1}', '\x00ff', '{1,NULL,3}', '{"x","y z"}', NULL),
	(2, -32768, -1, -0.01, 'NaN', '', NULL, false, 'infinity', '0001-01-01', '-1 mon', NULL, 'null', '[]', '', '{}', '{}', NULL),
	(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`

func TestResultsMatchPostgres(t *testing.T) {
	t.Parallel()
	h := startServer(t, nil, nil)
	h.exec(t, kindsTable, kindsRows)
	queries := []struct {
		name string
		sql  string
		args []any
	}{
		{"all types", "SELECT * FROM kinds ORDER BY id", nil},
		{"parameter", "SELECT * FROM kinds WHERE id = $1", []any{2}},
		{"typed parameters", "SELECT $1::text || 'x', $2::int * 2, $3::numeric + 1, $4::timestamptz, $5::bytea", []any{"a", 21, "1.25", "2020-01-01T00:00:00Z", []byte{1, 2}}},
		{"null parameter", "SELECT $1::text IS NULL", []any{nil}},
		{"aggregate", "SELECT count(*), sum(n), avg(i8), string_agg(t, ',' ORDER BY id) FROM kinds", nil},
		{"update", "UPDATE kinds SET t = t WHERE id = $1", []any{1}},
		{"many rows", "SELECT g, md5(g::text) FROM generate_series(1, 3000) g", nil},
		{"no rows", "SELECT * FROM kinds WHERE false", nil},
		{"show", "SHOW TimeZone", nil},
	}
	via, direct := h.connect(t, ""), h.direct(t, "")
	ctx := context.Background()
	for _, m := range execModes {
		for _, q := range queries {
			want := ask(ctx, direct, m.mode, q.sql, q.args...)
			got := ask(ctx, via, m.mode, q.sql, q.args...)
			if want.Err != nil || want.Other != "" {
				t.Fatalf("%s/%s: PostgreSQL itself failed: %v %s", m.name, q.name, want.Err, want.Other)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s/%s:\n got %+v\nwant %+v", m.name, q.name, got, want)
			}
		}
	}
	if v := metricValue(t, h.srv.m.queries.WithLabelValues(routePass, "ok")); v < float64(len(execModes)*len(queries)) {
		t.Errorf("pgsurreal_pgwire_queries_total{passthrough,ok} = %v", v)
	}
}

func TestErrorsMatchPostgres(t *testing.T) {
	t.Parallel()
	h := startServer(t, nil, nil)
	h.exec(t, kindsTable, kindsRows)
	queries := []struct {
		name, code string
		sql        string
		args       []any
	}{
		{"unknown table", "42P01", "SELECT * FROM no_such_table", nil},
		{"syntax error", "42601", "SELECT 1 FROM kinds WHERE WHERE", nil},
		{"syntax error at start", "42601", "SELEC 1", nil},
		{"division by zero", "22012", "SELECT 1/0", nil},
		{"division by zero with parameter", "22012", "SELECT $1::int / 0", []any{5}},
		{"unique violation", "23505", "INSERT INTO kinds (id) VALUES (1)", nil},
		{"unknown column", "42703", "SELECT nosuch FROM kinds", nil},
		{"bad input", "22P02", "SELECT 'abc'::int", nil},
		{"raise with detail and hint", "P0001", "DO $$BEGIN RAISE EXCEPTION 'boom' USING DETAIL = 'd', HINT = 'h'; END$$", nil},
	}
	via, direct := h.connect(t, ""), h.direct(t, "")
	ctx := context.Background()
	for _, m := range execModes {
		for _, q := range queries {
			want := ask(ctx, direct, m.mode, q.sql, q.args...)
			got := ask(ctx, via, m.mode, q.sql, q.args...)
			if want.Err == nil || want.Err.Code != q.code {
				t.Fatalf("%s/%s: PostgreSQL answered %+v, expected SQLSTATE %s", m.name, q.name, want, q.code)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s/%s:\n got %+v %+v\nwant %+v %+v", m.name, q.name, got, got.Err, want, want.Err)
			}
		}
	}
	// Still usable after all that.
	var n int
	if err := via.QueryRow(ctx, "SELECT count(*) FROM kinds").Scan(&n); err != nil || n != 3 {
		t.Fatalf("after errors: %v, %d rows", err, n)
	}
	if v := metricValue(t, h.srv.m.queries.WithLabelValues(routePass, "error")); v < float64(len(queries)) {
		t.Errorf("pgsurreal_pgwire_queries_total{passthrough,error} = %v", v)
	}
}

func TestPreparedStatements(t *testing.T) {
	t.Parallel()
	h := startServer(t, nil, nil)
	h.exec(t, kindsTable, kindsRows)
	ctx := context.Background()
	c := h.connect(t, "")
	sd, err := c.Prepare(ctx, "by_id", "SELECT id, t FROM kinds WHERE id = $1")
	if err != nil {
		t.Fatal(err)
	}
	if len(sd.ParamOIDs) != 1 || sd.ParamOIDs[0] != 23 || len(sd.Fields) != 2 {
		t.Fatalf("description %+v", sd)
	}
	for _, id := range []int{1, 2, 1} {
		var got int
		var text *string
		if err := c.QueryRow(ctx, "by_id", id).Scan(&got, &text); err != nil || got != id {
			t.Fatalf("by_id(%d): %v %d", id, err, got)
		}
	}
	// The statement exists in PostgreSQL under the client's name.
	var names []string
	rows, _ := c.Query(ctx, "SELECT name FROM pg_prepared_statements WHERE name NOT LIKE 'stmtcache%' ORDER BY name")
	names, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || !reflect.DeepEqual(names, []string{"by_id"}) {
		t.Fatalf("pg_prepared_statements: %v %v", names, err)
	}
	if err := c.Deallocate(ctx, "by_id"); err != nil {
		t.Fatal(err)
	}
	_, err = c.Exec(ctx, "by_id", 1)
	var pe *pgconn.PgError
	if err == nil {
		t.Fatal("executed a deallocated statement")
	}
	// SQL-level PREPARE and EXECUTE.
	if _, err := c.Exec(ctx, "PREPARE twice(int) AS SELECT $1 * 2"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := c.QueryRow(ctx, "EXECUTE twice(21)", pgx.QueryExecModeSimpleProtocol).Scan(&n); err != nil || n != 42 {
		t.Fatalf("EXECUTE: %v %d", err, n)
	}
	_, err = c.Exec(ctx, "PREPARE twice(int) AS SELECT 1")
	if !errors.As(err, &pe) || pe.Code != "42P05" {
		t.Fatalf("second PREPARE: %v", err)
	}
}
