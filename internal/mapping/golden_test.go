package mapping

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	surrealdb "github.com/surrealdb/surrealdb.go"
	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var (
	_ Querier = (*pgx.Conn)(nil)
	_ Querier = (*pgxpool.Pool)(nil)
	_ Querier = (pgx.Tx)(nil)
)

// golden is one line of testdata/types.golden.json.
type golden struct {
	PGType    string  `json:"pg_type"`
	PGLiteral *string `json:"pg_literal"`
	// PGText is the column's text output (the type's output function, as
	// pgoutput and a text-format snapshot deliver it; not col::text, which
	// differs for bool, bpchar and inet).
	PGText *string `json:"pg_text"`
	// SurrealExpect is "<type::of(v)> <v rendered by SurrealQL>", or
	// "error: ..." when Convert refuses the value.
	SurrealExpect string `json:"surreal_expect"`
	// SurrealField is Type.SurrealType(true); the test defines the field
	// with it, so a value outside it fails.
	SurrealField string `json:"surreal_field"`
}

// session is one PostgreSQL connection set up as pgsurreal's replication
// and snapshot sessions are, plus a SurrealDB client.
type session struct {
	pg *pgx.Conn
	db *surrealdb.DB
}

func newSession(t *testing.T) *session {
	t.Helper()
	env := testenv.Get(t)
	_, pool := env.NewPostgresPool(t)
	_, client := env.NewSurrealClient(t)
	ctx := context.Background()
	pc, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pc.Release)
	params := map[string]string{"TimeZone": "America/St_Johns"} // offsets with minutes and, before 1935, seconds
	for k, v := range SessionParams {
		params[k] = v
	}
	for k, v := range params {
		if _, err := pc.Exec(ctx, "SELECT set_config($1, $2, false)", k, v); err != nil {
			t.Fatalf("setting %s: %v", k, err)
		}
	}
	return &session{pg: pc.Conn(), db: client.DB}
}

func (s *session) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := s.pg.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// textOutput runs a query returning one value and gives that value in
// text format, exactly as the server's output function wrote it (nil for
// NULL).
func (s *session) textOutput(t *testing.T, sql string) *string {
	t.Helper()
	res := s.pg.PgConn().ExecParams(context.Background(), sql, nil, nil, nil, []int16{pgx.TextFormatCode}).Read()
	if res.Err != nil {
		t.Fatalf("%s: %v", sql, res.Err)
	}
	if len(res.Rows) != 1 || len(res.Rows[0]) != 1 {
		t.Fatalf("%s: want one value, got %d rows", sql, len(res.Rows))
	}
	if res.Rows[0][0] == nil {
		return nil
	}
	text := string(res.Rows[0][0])
	return &text
}

// columnType loads the type of table.column as pgoutput announces it
// (pg_attribute.atttypid: a domain column has the domain's OID).
func (s *session) columnType(t *testing.T, table, column string) *Type {
	t.Helper()
	ctx := context.Background()
	var oid uint32
	err := s.pg.QueryRow(ctx, `SELECT atttypid FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2`,
		postgres.Ident(table), column).Scan(&oid)
	if err != nil {
		t.Fatalf("type of %s.%s: %v", table, column, err)
	}
	types, err := LoadTypes(ctx, s.pg, []uint32{oid})
	if err != nil {
		t.Fatal(err)
	}
	return types[oid]
}

// defineField gives table.field a SurrealQL type, so writing a value
// outside it fails.
func (s *session) defineField(t *testing.T, table, field, typ string) {
	t.Helper()
	sql := "DEFINE FIELD " + surreal.Ident(field) + " ON " + surreal.Ident(table) + " TYPE " + typ
	if _, err := surrealdb.Query[any](context.Background(), s.db, sql, nil); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// roundTrip writes v as field of record table:id and reads back SurrealDB's
// type name and SurrealQL rendering of the stored value.
func (s *session) roundTrip(t *testing.T, table string, id any, field string, v any) string {
	t.Helper()
	ctx := context.Background()
	rid := models.RecordID{Table: table, ID: RecordIDValue([]any{id})}
	f := surreal.Ident(field)
	if _, err := surrealdb.Query[any](ctx, s.db, "CREATE $rid SET "+f+" = $v", map[string]any{"rid": rid, "v": v}); err != nil {
		return "error from SurrealDB: " + err.Error()
	}
	res, err := surrealdb.Query[[]map[string]string](ctx, s.db,
		"SELECT type::of("+f+") AS t, <string> ["+f+"] AS s FROM $rid", map[string]any{"rid": rid})
	if err != nil {
		t.Fatalf("reading %v back: %v", rid, err)
	}
	rows := (*res)[0].Result
	if len(rows) != 1 {
		t.Fatalf("reading %v back: %d rows", rid, len(rows))
	}
	r := rows[0]
	return r["t"] + " " + strings.TrimSuffix(strings.TrimPrefix(r["s"], "["), "]")
}

func TestGoldenTypes(t *testing.T) {
	t.Parallel()
	s := newSession(t)
	for _, q := range setupSQL {
		s.exec(t, q)
	}
	var got []golden
	for i, c := range typeCases {
		table := fmt.Sprintf("t%02d", i)
		s.exec(t, "CREATE TABLE "+postgres.Ident(table)+" (id int PRIMARY KEY, v "+c.Type+")")
		lits := append([]*string{}, ptrs(c.Values)...)
		lits = append(lits, nil)
		for j, lit := range lits {
			s.exec(t, "INSERT INTO "+postgres.Ident(table)+" VALUES ($1, $2::text::"+c.Type+")", j+1, lit)
		}
		typ := s.columnType(t, table, "v")
		s.defineField(t, table, "v", typ.SurrealType(true))
		for j, lit := range lits {
			text := s.textOutput(t, "SELECT v FROM "+postgres.Ident(table)+" WHERE id = "+fmt.Sprint(j+1))
			g := golden{PGType: c.Type, PGLiteral: lit, PGText: text, SurrealField: typ.SurrealType(true)}
			var v any
			if text != nil {
				var err error
				if v, err = Convert(typ, *text); err != nil {
					g.SurrealExpect = "error: " + err.Error()
					got = append(got, g)
					continue
				}
			}
			g.SurrealExpect = s.roundTrip(t, table, int64(j+1), "v", v)
			got = append(got, g)
		}
	}
	checkGolden(t, "types.golden.json", got)
}

func ptrs(ss []string) []*string {
	out := make([]*string, len(ss))
	for i := range ss {
		out[i] = &ss[i]
	}
	return out
}

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden[T any](t *testing.T, name string, got []T) {
	t.Helper()
	// One case per line keeps diffs readable.
	var buf bytes.Buffer
	buf.WriteString("[\n")
	for i, g := range got {
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if i > 0 {
			buf.Truncate(buf.Len() - 1)
			buf.WriteString(",\n")
		}
		if err := enc.Encode(g); err != nil {
			t.Fatal(err)
		}
	}
	buf.WriteString("]\n")
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/mapping -update to create it)", err)
	}
	var wantRows []T
	if err := json.Unmarshal(want, &wantRows); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(wantRows) != len(got) {
		t.Errorf("%s has %d cases, the test produced %d (run with -update after adding cases)", path, len(wantRows), len(got))
	}
	for i := range min(len(wantRows), len(got)) {
		w, _ := json.Marshal(wantRows[i])
		g, _ := json.Marshal(got[i])
		if !bytes.Equal(w, g) {
			t.Errorf("case %d:\n got  %s\n want %s", i, g, w)
		}
	}
}

// TestIntervalISO8601MatchesPostgres checks the ISO 8601 text Convert gives
// intervals that are not durations against PostgreSQL's own rendering
// under IntervalStyle iso_8601.
func TestIntervalISO8601MatchesPostgres(t *testing.T) {
	t.Parallel()
	s := newSession(t)
	ctx := context.Background()
	inputs := []string{
		"1 year 2 months 3 days 04:05:06.789", "-1 year +2 months -3 days +04:05:06.5", "-00:00:01",
		"-0.000001 seconds", "1 mon -1 day", "178000000 years", "-178000000 years -1 day -00:00:00.5",
		"2562048 hours", "-2562047788 hours -54.775807 seconds", "1 day -25:00:00", "0 seconds", "7 weeks",
		"1.5 months", "-1 year -1 month", "100 years 1 microsecond",
	}
	for _, in := range inputs {
		var pgText, isoText string
		if err := s.pg.QueryRow(ctx, "SELECT $1::text::interval::text", in).Scan(&pgText); err != nil {
			t.Fatal(err)
		}
		tx, err := s.pg.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tx.Exec(ctx, "SET LOCAL IntervalStyle = iso_8601")
		if err == nil {
			err = tx.QueryRow(ctx, "SELECT $1::text::interval::text", in).Scan(&isoText)
		}
		_ = tx.Rollback(ctx)
		if err != nil {
			t.Fatal(err)
		}
		iv, err := parseInterval(pgText)
		if err != nil {
			t.Errorf("%q (PostgreSQL: %q): %v", in, pgText, err)
			continue
		}
		if got := iv.iso8601(); got != isoText {
			t.Errorf("%q (PostgreSQL: %q): got %q, PostgreSQL's iso_8601 %q", in, pgText, got, isoText)
		}
	}
}
