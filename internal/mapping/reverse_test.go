package mapping

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gofrs/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/config"
)

// reverseInfo is testdata/reverse_info.json: INFO FOR DB's tables and
// INFO FOR TABLE's fields as the SurrealDB 3.0.2 engine printed them for
// definitions with every kind of field (schemafull, schemaless, relation,
// option, array, set, record, nested, literal, typed ids, hostile names).
type reverseInfo struct {
	Tables map[string]string
	Fields map[string]map[string]string
}

func loadReverseInfo(t *testing.T) reverseInfo {
	t.Helper()
	b, err := os.ReadFile("testdata/reverse_info.json")
	if err != nil {
		t.Fatal(err)
	}
	var info reverseInfo
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	return info
}

func parsedTable(t *testing.T, info reverseInfo, name string) *SurrealTable {
	t.Helper()
	st, err := ParseSurrealTable(name, info.Tables[name], info.Fields[name])
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestParseSurrealTable(t *testing.T) {
	t.Parallel()
	info := loadReverseInfo(t)
	for name, want := range map[string]SurrealTable{
		"sf":         {Schemafull: true},
		"sl":         {},
		"ünï":        {},
		"order":      {Schemafull: true},
		`we"ird tab`: {Schemafull: true},
		"rel":        {Schemafull: true, Relation: true, In: "person", Out: "post"},
		"rel2":       {Relation: true},
		"m":          {Schemafull: true, Relation: true, In: "a | b", Out: "c"}, // its COMMENT says 'SCHEMALESS TYPE NORMAL'
	} {
		st := parsedTable(t, info, name)
		if st.Name != name || st.Schemafull != want.Schemafull || st.Relation != want.Relation || st.In != want.In || st.Out != want.Out {
			t.Errorf("%s: got %+v, want %+v", name, *st, want)
		}
	}

	fields := func(name string) map[string]SurrealField {
		out := map[string]SurrealField{}
		for _, f := range parsedTable(t, info, name).Fields {
			out[f.Name] = f
		}
		return out
	}
	sf := fields("sf")
	for name, typ := range map[string]string{
		"b": "bool", "ad": "none | array<decimal>", "ad.*": "decimal", "as": "array<string, 10>", "author.name": "string",
		"by": "bytes", "cust": "record<customer>", "dflt": "int", "flex": "none | object", "g": "geometry<point>",
		"lit": "none | 'a' | 'b'", "nl": "null | int", "rl": "none | array<record<customer>>", "st": "set<int>",
		"untyped": "", `we"ird`: "string", "with space": "none | int", "ünï": "none | int", "order": "none | int",
	} {
		if f, ok := sf[name]; !ok || f.Type != typ {
			t.Errorf("sf field %q: got %+v, want type %q", name, f, typ)
		}
	}
	if len(sf) != 40 {
		t.Errorf("sf has %d fields, want 40", len(sf))
	}
	m := fields("m")
	for name, want := range map[string]SurrealField{
		"a.b":    {Type: "none | int", Path: []string{"a.b"}},
		"x.y z":  {Type: "none | int", Path: []string{"x", "y z"}},
		"ao.*.q": {Type: "none | int", Path: []string{"ao", "*", "q"}},
		"v":      {Type: "", Path: []string{"v"}},
		"df":     {Type: "datetime", Path: []string{"df"}},
		"rec2":   {Type: "none | record<m>", Path: []string{"rec2"}},
		"lo":     {Type: "none | { a: int, b: string }", Path: []string{"lo"}},
		"lit":    {Type: "none | 1 | 2 | -3", Path: []string{"lit"}},
		"s3":     {Type: "none | set<int, 3>", Path: []string{"s3"}},
		"in":     {Type: "record<a | b>", Path: []string{"in"}},
	} {
		f := m[name]
		if f.Type != want.Type || strings.Join(f.Path, "\x00") != strings.Join(want.Path, "\x00") {
			t.Errorf("m field %q: got %+v, want %+v", name, f, want)
		}
	}
	if f := fields("aid")["id"]; f.Type != "[int, string]" {
		t.Errorf("aid id: %+v", f)
	}
}

func TestParseSurrealTableStatements(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		stmt string
		want SurrealField
		err  string
	}{
		{stmt: "DEFINE FIELD OVERWRITE `a`.`b` ON TABLE t TYPE option<int> DEFAULT 1", want: SurrealField{Name: "a.b", Type: "option<int>", Path: []string{"a", "b"}}},
		{stmt: "DEFINE FIELD IF NOT EXISTS x ON t TYPE array<record<a | b>, 5> ASSERT $value != NONE", want: SurrealField{Name: "x", Type: "array<record<a | b>, 5>", Path: []string{"x"}}},
		{stmt: "DEFINE FIELD ao[*] ON t TYPE int", want: SurrealField{Name: "ao.*", Type: "int", Path: []string{"ao", "*"}}},
		{stmt: "DEFINE FIELD ⟨we`ird⟩ ON t TYPE 'a\\'b' | \"c\" READONLY", want: SurrealField{Name: "we`ird", Type: `'a\'b' | "c"`, Path: []string{"we`ird"}}},
		{stmt: "define field `x\\`y` on t type [int, { a: string }] comment 'TYPE string'", want: SurrealField{Name: "x`y", Type: "[int, { a: string }]", Path: []string{"x`y"}}},
		{stmt: "DEFINE INDEX i ON t FIELDS x", err: "not a DEFINE FIELD statement"},
		{stmt: "DEFINE FIELD `x ON t", err: "unterminated `"},
		{stmt: "DEFINE FIELD x ON t TYPE array<int", err: "expected , or > in array<...>"},
	} {
		st, err := ParseSurrealTable("t", "DEFINE TABLE t TYPE NORMAL SCHEMAFULL", map[string]string{"x": c.stmt})
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.stmt, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.stmt, err)
			continue
		}
		f := st.Fields[0]
		if f.Name != c.want.Name || f.Type != c.want.Type || strings.Join(f.Path, "\x00") != strings.Join(c.want.Path, "\x00") {
			t.Errorf("%s: got %+v, want %+v", c.stmt, f, c.want)
		}
	}
	if _, err := ParseSurrealTable("t", "DEFINE FIELD x ON t", nil); err == nil {
		t.Errorf("a DEFINE FIELD as the table's definition was accepted")
	}
}

// TestNewReverseShapeNew designs new tables from the captured definitions.
func TestNewReverseShapeNew(t *testing.T) {
	t.Parallel()
	info := loadReverseInfo(t)
	for name, want := range map[string]string{
		"tid":        "CREATE TABLE IF NOT EXISTS \"public\".\"tid\" (\n  \"id\" bigint NOT NULL,\n  \"v\" text NOT NULL,\n  PRIMARY KEY (\"id\")\n)",
		"uid":        "CREATE TABLE IF NOT EXISTS \"public\".\"uid\" (\n  \"id\" uuid NOT NULL,\n  PRIMARY KEY (\"id\")\n)",
		"aid":        "CREATE TABLE IF NOT EXISTS \"public\".\"aid\" (\n  \"id_1\" bigint NOT NULL,\n  \"id_2\" text NOT NULL,\n  PRIMARY KEY (\"id_1\", \"id_2\")\n)",
		"ai":         "CREATE TABLE IF NOT EXISTS \"public\".\"ai\" (\n  \"id_1\" bigint NOT NULL,\n  \"id_2\" bigint NOT NULL,\n  PRIMARY KEY (\"id_1\", \"id_2\")\n)",
		"rel":        "CREATE TABLE IF NOT EXISTS \"public\".\"rel\" (\n  \"id\" text NOT NULL,\n  \"in_id\" text NOT NULL,\n  \"out_id\" text NOT NULL,\n  \"since\" timestamptz NOT NULL,\n  PRIMARY KEY (\"id\")\n)",
		"rel2":       "CREATE TABLE IF NOT EXISTS \"public\".\"rel2\" (\n  \"id\" text NOT NULL,\n  \"doc\" jsonb NOT NULL,\n  PRIMARY KEY (\"id\")\n)",
		`we"ird tab`: "CREATE TABLE IF NOT EXISTS \"public\".\"we\"\"ird tab\" (\n  \"id\" text NOT NULL,\n  \"x\" text NOT NULL,\n  PRIMARY KEY (\"id\")\n)",
	} {
		s, err := NewReverseShape(parsedTable(t, info, name), config.ReverseTable{Name: name}, "public", name, nil)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := s.CreateSQL(); got != want {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}

	s, err := NewReverseShape(parsedTable(t, info, "sf"), config.ReverseTable{Name: "sf"}, "public", "sf", nil)
	if err != nil {
		t.Fatal(err)
	}
	wantCols := `"id" text NOT NULL|"a" jsonb|"ad" numeric[]|"ai" bigint[] NOT NULL|"anyrec_id" text NOT NULL|"ao" jsonb|"as" text[] NOT NULL|` +
		`"author" jsonb NOT NULL|"b" boolean NOT NULL|"by" bytea NOT NULL|"cust_id" text NOT NULL|"d" numeric NOT NULL|"dflt" bigint NOT NULL|` +
		`"dt" timestamptz NOT NULL|"du" interval NOT NULL|"f" double precision NOT NULL|"flex" jsonb|"g" point NOT NULL|"i" bigint NOT NULL|` +
		`"lit" text|"n" numeric NOT NULL|"nl" bigint|"o" jsonb NOT NULL|"opt" text|"order" bigint|"rl" jsonb|"s" text NOT NULL|` +
		`"st" bigint[] NOT NULL|"u" uuid NOT NULL|"untyped" jsonb|"we""ird" text NOT NULL|"with space" bigint|"ünï" bigint`
	if got := strings.Join(s.defs, "|"); got != wantCols {
		t.Errorf("sf columns:\n got %s\nwant %s", got, wantCols)
	}

	// Types without a PostgreSQL mapping, and ids whose parts cannot be counted.
	m := parsedTable(t, info, "m")
	if _, err := NewReverseShape(m, config.ReverseTable{}, "public", "m", nil); err == nil ||
		!strings.Contains(err.Error(), "surreal table m field fl: type none | file: type file has no PostgreSQL mapping: change the field's type") {
		t.Errorf("m: error %v", err)
	}
	var known []SurrealField
	for _, f := range m.Fields {
		if f.Name != "fl" && f.Name != "rg" && f.Name != "rx" {
			known = append(known, f)
		}
	}
	m.Fields = known
	s, err = NewReverseShape(m, config.ReverseTable{}, "public", "m", nil)
	if err != nil {
		t.Fatal(err)
	}
	wantCols = `"id" text NOT NULL|"in_id" text NOT NULL|"out_id" text NOT NULL|"a.b" bigint|"aa" jsonb|"an" jsonb|"ao" jsonb|` +
		`"df" timestamptz NOT NULL|"df2" numeric NOT NULL|"ds" jsonb|"gp" jsonb|"iu" jsonb|"lit" numeric|"lo" jsonb|"oao" bigint[]|` +
		`"rec2_id" text|"ru_id" text|"s3" bigint[]|"v" jsonb|"x" jsonb`
	if got := strings.Join(s.defs, "|"); got != wantCols {
		t.Errorf("m columns:\n got %s\nwant %s", got, wantCols)
	}
	// A link to the table itself has the id's type; a link whose
	// column name is taken keeps the field's name.
	self := &SurrealTable{Name: "node", Schemafull: true, Fields: []SurrealField{
		{Name: "id", Type: "int"}, {Name: "parent", Type: "option<record<node>>"}, {Name: "other", Type: "record<node | x>"},
		{Name: "customer", Type: "record<customer>"}, {Name: "customer_id", Type: "int"},
	}}
	s, err = NewReverseShape(self, config.ReverseTable{}, "public", "node", nil)
	if err != nil {
		t.Fatal(err)
	}
	wantCols = `"id" bigint NOT NULL|"customer" text NOT NULL|"customer_id" bigint NOT NULL|"other_id" text NOT NULL|"parent_id" bigint`
	if got := strings.Join(s.defs, "|"); got != wantCols {
		t.Errorf("node columns:\n got %s\nwant %s", got, wantCols)
	}
	if _, err := NewReverseShape(parsedTable(t, info, "aid2"), config.ReverseTable{}, "public", "aid2", nil); err == nil ||
		!strings.Contains(err.Error(), "type array<int> does not say how many parts an id has") {
		t.Errorf("aid2: error %v", err)
	}
}

func TestNewReverseShapeErrors(t *testing.T) {
	t.Parallel()
	sf := &SurrealTable{Name: "t", Schemafull: true, Fields: []SurrealField{{Name: "a", Type: "int"}, {Name: "customer", Type: "record<customer>"}, {Name: "zz", Type: "string"}}}
	pgt := &cdc.Table{Schema: "public", Name: "t", PrimaryKey: []string{"id"}, Columns: []cdc.TableColumn{
		{Name: "id", TypeOID: pgtype.Int8OID, TypeName: "bigint", NotNull: true},
		{Name: "a", TypeOID: pgtype.Int4OID, TypeName: "integer"},
		{Name: "customer_id", TypeOID: pgtype.Int8OID, TypeName: "bigint"},
		{Name: "unmapped", TypeOID: pgtype.TextOID, TypeName: "text"},
	}, ForeignKeys: []cdc.ForeignKey{{Name: "fk", Columns: []string{"customer_id"}, RefSchema: "public", RefTable: "customer", RefColumns: []string{"id"}}}}
	long := strings.Repeat("x", 64)
	for _, c := range []struct {
		name     string
		st       *SurrealTable
		cfg      config.ReverseTable
		existing *cdc.Table
		err      string
	}{
		{name: "field without column", st: sf, existing: pgt,
			err: `surreal table t field zz (type "string") has no column in PostgreSQL table public.t: add one (ALTER TABLE "public"."t" ADD COLUMN "zz" text), or remove the field (REMOVE FIELD zz ON t)`},
		{name: "no primary key", st: &SurrealTable{Name: "t"}, existing: &cdc.Table{Schema: "public", Name: "t"},
			err: `surreal table t: PostgreSQL table public.t has no primary key, which the reverse direction upserts by: add one`},
		{name: "extracted type", st: &SurrealTable{Name: "t"}, cfg: config.ReverseTable{Columns: []config.ReverseColumn{{Name: "x", Type: "money"}}},
			err: `surreal table t: reverse.tables[].columns[0] (x): type "money" is not one of text, bigint`},
		{name: "extracted doc", st: &SurrealTable{Name: "t"}, cfg: config.ReverseTable{Columns: []config.ReverseColumn{{Name: "doc"}}},
			err: `extracted column "doc" clashes with the doc column`},
		{name: "long name", st: &SurrealTable{Name: "t", Schemafull: true, Fields: []SurrealField{{Name: long, Type: "int"}}},
			err: "is 64 bytes long, PostgreSQL names are at most 63"},
		{name: "unknown type", st: &SurrealTable{Name: "t", Schemafull: true, Fields: []SurrealField{{Name: "r", Type: "regex"}}},
			err: "surreal table t field r: type regex: type regex has no PostgreSQL mapping"},
		{name: "no table", st: nil, err: "no SurrealDB table"},
	} {
		_, err := NewReverseShape(c.st, c.cfg, "public", "t", c.existing)
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.err)
		}
	}

	// Without zz the table maps: customer_id from the link, unmapped left alone.
	sf.Fields = sf.Fields[:2]
	s, err := NewReverseShape(sf, config.ReverseTable{}, "public", "t", pgt)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Columns(), ","); got != "id,a,customer_id" {
		t.Errorf("columns %s", got)
	}
	row, err := s.Row(map[string]any{"id": models.RecordID{Table: "t", ID: uint64(1)}, "a": uint64(5), "customer": models.RecordID{Table: "customer", ID: int64(-2)}})
	if err != nil || strings.Join(anyStrings(row), ",") != "1,5,-2" {
		t.Errorf("row %v, %v", row, err)
	}
}

func anyStrings(vs []any) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		if s, ok := v.(string); ok {
			out[i] = s
		} else {
			out[i] = "NULL"
		}
	}
	return out
}

func TestReverseShapeSQL(t *testing.T) {
	t.Parallel()
	st := &SurrealTable{Name: "t", Schemafull: true, Fields: []SurrealField{
		{Name: "id", Type: "[string, int]"}, {Name: `we"ird`, Type: "int"}, {Name: "with space", Type: "option<string>"},
	}}
	s, err := NewReverseShape(st, config.ReverseTable{}, `sch"ema`, "order", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ got, want string }{
		{s.UpsertSQL(), `INSERT INTO "sch""ema"."order" ("id_1", "id_2", "we""ird", "with space") VALUES ($1, $2, $3, $4) ON CONFLICT ("id_1", "id_2") DO UPDATE SET "we""ird" = EXCLUDED."we""ird", "with space" = EXCLUDED."with space"`},
		{s.DeleteSQL(), `DELETE FROM "sch""ema"."order" WHERE "id_1" = $1 AND "id_2" = $2`},
		{s.CreateSQL(), "CREATE TABLE IF NOT EXISTS \"sch\"\"ema\".\"order\" (\n  \"id_1\" text NOT NULL,\n  \"id_2\" bigint NOT NULL,\n  \"we\"\"ird\" bigint NOT NULL,\n  \"with space\" text,\n  PRIMARY KEY (\"id_1\", \"id_2\")\n)"},
		{strings.Join(s.KeyColumns(), ","), "id_1,id_2"},
		{s.Schema() + "." + s.Name(), `sch"ema.order`},
	} {
		if c.got != c.want {
			t.Errorf("\n got %s\nwant %s", c.got, c.want)
		}
	}
}

// TestReverseKey converts record ids of every kind to key values.
func TestReverseKey(t *testing.T) {
	t.Parallel()
	u := models.UUID{UUID: uuid.Must(uuid.FromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"))}
	shape := func(st *SurrealTable, existing *cdc.Table) *ReverseShape {
		s, err := NewReverseShape(st, config.ReverseTable{}, "public", st.Name, existing)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	untyped := shape(&SurrealTable{Name: "t"}, nil)
	uuidID := shape(&SurrealTable{Name: "u", Schemafull: true, Fields: []SurrealField{{Name: "id", Type: "uuid"}}}, nil)
	tuple := shape(&SurrealTable{Name: "a", Schemafull: true, Fields: []SurrealField{{Name: "id", Type: "[int, string, datetime]"}}}, nil)
	existing := shape(&SurrealTable{Name: "e"}, &cdc.Table{Schema: "public", Name: "e", PrimaryKey: []string{"n", "b", "d"}, Columns: []cdc.TableColumn{
		{Name: "n", TypeOID: pgtype.NumericOID, TypeName: "numeric"},
		{Name: "b", TypeOID: pgtype.ByteaOID, TypeName: "bytea"},
		{Name: "d", TypeOID: pgtype.DateOID, TypeName: "date"},
	}})
	intKey := shape(&SurrealTable{Name: "i"}, &cdc.Table{Schema: "public", Name: "i", PrimaryKey: []string{"id"}, Columns: []cdc.TableColumn{
		{Name: "id", TypeOID: pgtype.Int4OID, TypeName: "integer"},
	}})
	dt := models.CustomDateTime{Time: time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC)}
	for _, c := range []struct {
		s    *ReverseShape
		id   any
		want string // key values joined with |, or the error
	}{
		{untyped, models.RecordID{Table: "t", ID: "abc"}, "abc"},
		{untyped, &models.RecordID{Table: "t", ID: "with space"}, "`with space`"},
		{untyped, int64(-42), "-42"},
		{untyped, uint64(42), "42"},
		{untyped, "42", "`42`"},
		{untyped, []any{"eu", uint64(42), dt}, "['eu', 42, d'2024-01-02T03:04:05.000006Z']"},
		{untyped, u, "u'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"},
		{untyped, map[string]any{"b": "x", "a": uint64(1)}, "{ a: 1, b: 'x' }"},
		{untyped, models.RecordID{Table: "other", ID: "abc"}, "surreal table t record t:abc: the record belongs to table other, not t"},
		{untyped, nil, "surreal table t: a record without an id"},
		{uuidID, models.RecordID{Table: "u", ID: u}, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{uuidID, "not-a-uuid", `surreal table u record u:` + "`not-a-uuid`" + `: value 'not-a-uuid' does not fit key column id uuid: "not-a-uuid" is not a uuid`},
		{tuple, []any{uint64(1), "a", dt}, "1|a|2024-01-02 03:04:05.000006+00"},
		{tuple, []any{uint64(1)}, "surreal table a record a:[1]: the id is not an array of 3 parts, one per key column (id_1, id_2, id_3) of public.a"},
		{tuple, "x", "surreal table a record a:x: the id is not an array of 3 parts"},
		{tuple, []any{"x", "a", dt}, `surreal table a record a:['x', 'a', d'2024-01-02T03:04:05.000006Z']: id part 1: value 'x' does not fit key column id_1 bigint: "x" is not an integer`},
		// The forward mapping's canonical text of numeric, bytea and date keys.
		{existing, []any{"12.5", "00ff", "2024-02-29T00:00:00Z"}, `12.5|\x00ff|2024-02-29T00:00:00Z`},
		{intKey, uint64(math.MaxInt32) + 1, "surreal table i record i:2147483648: value 2147483648 does not fit key column id integer: 2147483648 is out of range"},
		{intKey, float64(7), "7"},
	} {
		key, err := c.s.Key(c.id)
		got := strings.Join(anyStrings(key), "|")
		if err != nil {
			got = err.Error()
		}
		if !strings.HasPrefix(got, c.want) {
			t.Errorf("%s key of %#v:\n got %s\nwant %s", c.s.SurrealTableName(), c.id, got, c.want)
		}
	}
}

// TestToPG converts single values, without a server (the round-trip tests
// check that PostgreSQL reads what these produce).
func TestToPG(t *testing.T) {
	t.Parallel()
	m := pgtype.NewMap()
	col := func(oid uint32, name string) *pgType { return columnType(m, oid, name, -1) }
	for _, c := range []struct {
		typ  *pgType
		v    any
		want string
	}{
		{col(pgtype.Int2OID, "smallint"), int64(-32768), "-32768"},
		{col(pgtype.Int2OID, "smallint"), int64(32768), "error: 32768 is out of range (-32768 to 32767)"},
		{col(pgtype.Int8OID, "bigint"), uint64(math.MaxUint64), "error: 18446744073709551615 is out of range"},
		{col(pgtype.Int8OID, "bigint"), models.DecimalString("12.0"), "12"},
		{col(pgtype.Int8OID, "bigint"), float32(2.5), "error: 2.5 is not an integer"},
		{col(pgtype.Int8OID, "bigint"), true, "error: a bool value is not an integer"},
		{col(pgtype.Float4OID, "real"), float32(1.1), "1.100000023841858"},
		{col(pgtype.Float8OID, "double precision"), math.Inf(-1), "-Infinity"},
		{col(pgtype.NumericOID, "numeric"), models.DecimalString("-0.0000000000000000000000000001"), "-0.0000000000000000000000000001"},
		{col(pgtype.NumericOID, "numeric"), "abc", `error: "abc" is not a number`},
		{col(moneyOID, "money"), math.NaN(), "error: NaN is not a money amount"},
		{col(pgtype.BoolOID, "boolean"), "yes", "yes"},
		{col(pgtype.TimestamptzOID, "timestamptz"), models.CustomDateTime{Time: time.Date(-4713, 11, 23, 0, 0, 0, 0, time.UTC)}, "error: -4713-11-23T00:00:00Z is before 4714-11-24 BC"},
		{col(pgtype.TimestamptzOID, "timestamptz"), models.CustomDateTime{Time: MinDatetime}, "-infinity"},
		{col(pgtype.TimestampOID, "timestamp"), time.Date(0, 1, 1, 0, 0, 0, 999, time.UTC), "0001-01-01 00:00:00 BC"},
		{col(pgtype.DateOID, "date"), models.CustomDateTime{Time: time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)}, "2024-02-29"},
		{col(pgtype.IntervalOID, "interval"), models.CustomDuration{Duration: 36*time.Hour + time.Nanosecond*1999}, "P1DT12H0M0.000001S"},
		{col(pgtype.IntervalOID, "interval"), models.CustomDuration{Duration: -1}, "error: duration is longer than about 292 years"},
		{col(pgtype.ByteaOID, "bytea"), []byte{0, 0xff}, `\x00ff`},
		{col(pgtype.UUIDOID, "uuid"), "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"},
		{col(pgtype.TextOID, "text"), "a\x00b", "error: the string holds a NUL character"},
		{col(pgtype.TextOID, "text"), models.RecordID{Table: "c", ID: "x y"}, "x y"},
		{col(pgtype.TextOID, "text"), models.RecordID{Table: "c", ID: []any{uint64(1)}}, "[1]"},
		{col(pgtype.TextOID, "text"), map[string]any{"a": []any{uint64(1), nil}}, `{"a":[1,null]}`},
		{col(pgtype.TextOID, "text"), models.CustomDuration{Duration: 90 * time.Minute}, "1h30m"},
		{col(pgtype.Int4ArrayOID, "integer[]"), []any{[]any{uint64(1), nil}, []any{uint64(3), int64(-4)}}, `{{"1",NULL},{"3","-4"}}`},
		{col(pgtype.TextArrayOID, "text[]"), []any{`a"b\c`, "", "NULL"}, `{"a\"b\\c","","NULL"}`},
		{col(pgtype.JSONBArrayOID, "jsonb[]"), []any{[]any{uint64(1)}, map[string]any{}}, `{"[1]","{}"}`},
		{col(pgtype.NumrangeOID, "numrange"), map[string]any{"empty": true}, "empty"},
		{col(pgtype.NumrangeOID, "numrange"), map[string]any{"end": models.DecimalString("2.5"), "end_inclusive": true, "begin_inclusive": false}, `(,"2.5"]`},
		{col(pgtype.PointOID, "point"), models.GeometryPoint{Longitude: 1e300, Latitude: -0.5}, "(1e+300,-0.5)"},
		{col(pgtype.JSONBOID, "jsonb"), models.GeometryLine{{Longitude: 1, Latitude: 2}}, `{"coordinates":[[1,2]],"type":"LineString"}`},
		{col(pgtype.JSONBOID, "jsonb"), "a\"\n\x01☺", `"a\"\n\u0001☺"`},
		{&pgType{kind: pgGeneric, sql: "mood"}, models.CustomDateTime{Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}, "2024-01-01 00:00:00+00"},
		{&pgType{kind: pgText, sql: "varchar(3)", maxLen: 3}, "abc  ", "abc  "},
		{&pgType{kind: pgText, sql: "varchar(3)", maxLen: 3}, "abcd", "error: 4 characters are more than the 3"},
	} {
		v, err := toPG(c.typ, c.v)
		got, _ := v.(string)
		if v == nil {
			got = "NULL"
		}
		if err != nil {
			got = "error: " + err.Error()
		}
		if !strings.HasPrefix(got, c.want) {
			t.Errorf("%s <- %#v:\n got %s\nwant %s", c.typ.sql, c.v, got, c.want)
		}
	}
}
