package mapping

import (
	"context"
	"fmt"
	"strings"
	"testing"

	surrealdb "github.com/surrealdb/surrealdb.go"
	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

type idCase struct {
	Table   string   // used for both databases: hostile on purpose
	Columns []string // key column definitions
	Values  []string // one row, in column order
}

var idCases = []idCase{
	{"int8 key", []string{"int8"}, []string{"-9223372036854775808"}},
	{"int4_key", []string{"int4"}, []string{"42"}},
	{"text-key", []string{"text"}, []string{"it's \"q\" ü/:x ` ⟩"}},
	{"numeric text", []string{"text"}, []string{"42"}},
	{"uuid", []string{"uuid"}, []string{"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}},
	{"numeric", []string{"numeric"}, []string{"12.50"}},
	{"float8", []string{"float8"}, []string{"1.5"}},
	{"date", []string{"date"}, []string{"2024-02-29"}},
	{"select", []string{"int4", "text"}, []string{"1", "a"}},
	{"öäü 表", []string{"text", "int8", "uuid"}, []string{"x y", "7", "00000000-0000-0000-0000-000000000001"}},
	{"time series", []string{"int4", "timestamptz"}, []string{"3", "2024-01-02 03:04:05.25+00"}},
	{"decimal pair", []string{"numeric", "numeric"}, []string{"1.10", "-0.0"}},
}

// idGolden is one line of testdata/ids.golden.json.
type idGolden struct {
	Table  string   `json:"table"`
	Types  []string `json:"pg_types"`
	Values []string `json:"pg_values"`
	// Record is the record id as SurrealDB prints it.
	Record string `json:"surreal_record"`
}

// TestGoldenRecordIDs builds record ids from primary keys and checks that
// SurrealDB stores the same id whether it is sent as a models.RecordID
// (what the relation code does) or built with type::record.
func TestGoldenRecordIDs(t *testing.T) {
	t.Parallel()
	s := newSession(t)
	var got []idGolden
	for _, c := range idCases {
		var defs, names []string
		args := make([]any, len(c.Values))
		marks := make([]string, len(c.Values))
		for i, typ := range c.Columns {
			names = append(names, fmt.Sprintf("k%d %s", i, typ))
			defs = append(defs, postgres.Ident(names[i])+" "+typ)
			args[i], marks[i] = c.Values[i], fmt.Sprintf("$%d::text::%s", i+1, typ)
		}
		quoted := make([]string, len(names))
		for i, n := range names {
			quoted[i] = postgres.Ident(n)
		}
		tbl := postgres.Ident(c.Table)
		s.exec(t, "CREATE TABLE "+tbl+" ("+strings.Join(defs, ", ")+", PRIMARY KEY ("+strings.Join(quoted, ", ")+"))")
		s.exec(t, "INSERT INTO "+tbl+" VALUES ("+strings.Join(marks, ", ")+")", args...)

		key := make([]any, len(names))
		for i, n := range names {
			text := s.textOutput(t, "SELECT "+postgres.Ident(n)+" FROM "+tbl)
			v, err := Convert(s.columnType(t, c.Table, n), *text)
			if err != nil {
				t.Fatalf("%s: %v", c.Table, err)
			}
			key[i] = v
		}
		id := RecordIDValue(key)

		viaModel := createID(t, s, "CREATE $rid", map[string]any{"rid": models.RecordID{Table: c.Table, ID: id}})
		viaFunc := createID(t, s, "CREATE type::record($tb, $id)", map[string]any{"tb": c.Table + "2", "id": id})
		if viaFunc[1] != viaModel[1] {
			t.Errorf("%s: the id differs by how it is sent: models.RecordID %s, type::record %s", c.Table, viaModel[0], viaFunc[0])
		}
		got = append(got, idGolden{Table: c.Table, Types: c.Columns, Values: c.Values, Record: viaModel[0]})
	}
	checkGolden(t, "ids.golden.json", got)
}

// createID runs a CREATE and returns the new record id as SurrealDB prints
// it, and its id part alone.
func createID(t *testing.T, s *session, create string, vars map[string]any) [2]string {
	t.Helper()
	sql := create + " RETURN VALUE [<string> id, <string> [record::id(id)]]"
	res, err := surrealdb.Query[[][2]string](context.Background(), s.db, sql, vars)
	if err != nil {
		t.Fatalf("%s %v: %v", sql, vars, err)
	}
	if r := (*res)[0].Result; len(r) == 1 {
		return r[0]
	}
	t.Fatalf("%s: %v", sql, (*res)[0].Result)
	return [2]string{}
}

// TestHostileIdentifiers carries a row of a table whose table and column
// names hold spaces, quotes, dashes, reserved words and unicode from
// PostgreSQL to SurrealDB and reads it back by name.
func TestHostileIdentifiers(t *testing.T) {
	t.Parallel()
	s := newSession(t)
	ctx := context.Background()
	table := `Order "Items"-select ü 表`
	cols := []string{"id", `value-x "y" FROM`, "select", "ünï cödé`s", `back\slash`}
	vals := []string{"7", "it's", "true", "12.50", "{1,NULL}"}
	types := []string{"int8", "text", "bool", "numeric", "int4[]"}
	var defs, marks []string
	args := make([]any, len(vals))
	for i, c := range cols {
		defs = append(defs, postgres.Ident(c)+" "+types[i])
		marks = append(marks, fmt.Sprintf("$%d::text::%s", i+1, types[i]))
		args[i] = vals[i]
	}
	s.exec(t, "CREATE TABLE "+postgres.Ident(table)+" ("+strings.Join(defs, ", ")+", PRIMARY KEY (id))")
	s.exec(t, "INSERT INTO "+postgres.Ident(table)+" VALUES ("+strings.Join(marks, ", ")+")", args...)

	doc := map[string]any{}
	var sets []string
	for i, c := range cols {
		text := s.textOutput(t, "SELECT "+postgres.Ident(c)+" FROM "+postgres.Ident(table))
		v, err := Convert(s.columnType(t, table, c), *text)
		if err != nil {
			t.Fatal(err)
		}
		doc[c] = v
		sets = append(sets, surreal.Ident(c)+" = $v"+fmt.Sprint(i))
	}
	vars := map[string]any{"rid": models.RecordID{Table: table, ID: RecordIDValue([]any{doc["id"]})}}
	for i, c := range cols {
		vars["v"+fmt.Sprint(i)] = doc[c]
	}
	if _, err := surrealdb.Query[any](ctx, s.db, "CREATE $rid SET "+strings.Join(sets[1:], ", "), vars); err != nil {
		t.Fatal(err)
	}
	res, err := surrealdb.Query[[]map[string]any](ctx, s.db, "SELECT * FROM "+surreal.Ident(table), nil)
	if err != nil {
		t.Fatal(err)
	}
	rows := (*res)[0].Result
	if len(rows) != 1 {
		t.Fatalf("want 1 record in %s, got %v", table, rows)
	}
	want := fmt.Sprint(map[string]any{
		"id":    models.RecordID{Table: table, ID: int64(7)},
		cols[1]: "it's",
		cols[2]: true,
		cols[3]: models.DecimalString("12.5"),
		cols[4]: []any{int64(1), nil},
	})
	if got := fmt.Sprint(rows[0]); got != want {
		t.Errorf("record read back by name:\n got  %s\n want %s", got, want)
	}
}
