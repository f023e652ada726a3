package mapping

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// everyKind is a record holding every SurrealDB value kind, and
// everyKindJSON the JSON its doc column must hold (with the fields the
// test adds for extracted columns).
const everyKind = `b = true, i = -9223372036854775808, u64 = 9223372036854775807, f = 1.5, f01 = 0.1, fbig = 1e300,
	nan = <float> 'NaN', inf = <float> 'Infinity', ninf = <float> '-Infinity', fz = 100.0, negz = -0.0,
	d = 1234567890123456789.123456789dec, dmax = 79228162514264337593543950335dec, d2 = 12.50dec,
	s = 'ünï "q" \\ ☺', dt = d'2024-01-02T03:04:05.987654321Z', dt_old = d'1969-12-31T23:59:59.123456789Z',
	dt_bc = d'-0043-03-15T00:00:00Z', dt_max = d'+262142-12-31T23:59:59.999999999Z',
	du = 1y2w3d4h5m6s7ms8µs9ns, du0 = 0ns, u = u'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', by = <bytes> 'hi',
	o = { x: 1, y: { z: [1, 'a', NULL, NONE] }, n: NONE }, ea = [], eo = {}, link = customer:42,
	link_s = customer:⟨with space⟩, link_a = customer:['eu', 42], link_u = customer:u'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
	nl = NULL, no = NONE, g = (1.5, -2.25), st = <set> [3, 1, 2, 1], ` + "`we\"ird` = 1, `with space` = 2, `ünï` = 3, `order` = 4"

const everyKindJSON = `{
	"b": true, "i": -9223372036854775808, "u64": 9223372036854775807, "f": 1.5, "f01": 0.1, "fbig": 1e300,
	"nan": "NaN", "inf": "Infinity", "ninf": "-Infinity", "fz": 100, "negz": -0,
	"d": 1234567890123456789.123456789, "dmax": 79228162514264337593543950335, "d2": 12.5,
	"s": "ünï \"q\" \\ ☺", "dt": "2024-01-02T03:04:05.987654321Z", "dt_old": "1969-12-31T23:59:59.123456789Z",
	"dt_bc": "-0043-03-15T00:00:00Z", "dt_max": "+262142-12-31T23:59:59.999999999Z",
	"du": "1y2w3d4h5m6s7ms8µs9ns", "du0": "0ns", "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "by": "aGk=",
	"o": {"x": 1, "y": {"z": [1, "a", null, null]}}, "ea": [], "eo": {}, "link": "customer:42",
	"link_s": "customer:` + "`with space`" + `", "link_a": "customer:['eu', 42]", "link_u": "customer:u'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
	"nl": null, "g": {"type": "Point", "coordinates": [1.5, -2.25]}, "st": [1, 2, 3],
	"we\"ird": 1, "with space": 2, "ünï": 3, "order": 4,
	"title": "T", "author": {"name": "Ann", "age": 30}, "rating": 5, "price": 19.9, "at": "2024-01-02T03:04:05.5Z",
	"ok": true, "meta": {"k": [1, 2.5]}, "ref": "customer:42", "big": 9223372036854775807, "ratio": 0.25,
	"uid": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "rating_text": "7"
}`

// TestReverseSchemalessRoundTrip maps a schemaless table to id, doc and
// extracted columns: doc must hold every value faithfully, and ids of
// every kind must become distinct keys.
func TestReverseSchemalessRoundTrip(t *testing.T) {
	t.Parallel()
	e := newRevEnv(t)
	const table = `we"ird tab`
	tb := surreal.Ident(table)
	e.surreal(t, "DEFINE TABLE "+tb+" SCHEMALESS CHANGEFEED 1h;\n"+
		"CREATE "+tb+":1 SET "+everyKind+`, title = 'T', author = { name: 'Ann', age: 30 }, rating = 5, price = 19.90dec,
			at = d'2024-01-02T03:04:05.5Z', ok = true, meta = { k: [1, 2.5dec] }, ref = customer:42, big = 9223372036854775807,
			ratio = 0.25, uid = u'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', rating_text = '7';
		CREATE `+tb+":abc SET x = 1;\n"+
		"CREATE "+tb+":⟨42⟩ SET x = 2;\n"+
		"CREATE "+tb+":['eu', 42] SET x = 3;\n"+
		"CREATE "+tb+":u'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' SET x = 4;\n"+
		"CREATE "+tb+":{ a: 1, b: 'x' } SET x = 5;\n"+
		"CREATE "+tb+":⟨with space⟩ SET x = 6;\n"+
		"CREATE "+tb+":-5 SET x = 7;\n"+
		"CREATE "+tb+":bad SET rating = 1.5;\n"+
		"CREATE "+tb+":bad2 SET rating = 'five';\n"+
		"DELETE "+tb+":u'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11';\n"+
		"DELETE "+tb+":['eu', 42];")
	cfg := config.ReverseTable{Name: table, Columns: []config.ReverseColumn{
		{Name: "title"},
		{Name: "author name", Field: "author.name"},
		{Name: "rating", Type: "integer"},
		{Name: "price", Type: "numeric"},
		{Name: "at", Type: "timestamptz"},
		{Name: "ok", Type: "boolean"},
		{Name: "meta", Type: "jsonb"},
		{Name: "ref"},
		{Name: "big", Type: "bigint"},
		{Name: "ratio", Type: "double precision"},
		{Name: "uid", Type: "uuid"},
		{Name: "rating_text", Type: "integer"},
	}}
	s := newShape(t, e.table(t, table), cfg, table, nil)
	errs := e.apply(t, s, e.changes(t, table))

	// Values that do not fit: the error names table, record, field and column.
	for id, want := range map[string]string{
		"bad":  "surreal table we\"ird tab record `we\"ird tab`:bad field rating: value 1.5f does not fit column rating integer: 1.5 is not an integer",
		"bad2": "surreal table we\"ird tab record `we\"ird tab`:bad2 field rating: value 'five' does not fit column rating integer: \"five\" is not an integer",
	} {
		var err error
		for k, v := range errs {
			if strings.HasSuffix(k, " "+id+"}") {
				err = v
			}
		}
		var re *ReverseError
		if !errors.As(err, &re) || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("record %s: error %v, want %s...", id, err, want)
		}
	}
	if len(errs) != 2 {
		t.Errorf("row errors %v, want two", errs)
	}

	var same bool
	var doc string
	err := e.pg.QueryRow(context.Background(), `SELECT doc = $1::jsonb, doc::text FROM `+postgres.QualifiedIdent("public", table)+` WHERE id = '1'`,
		everyKindDoc(t)).Scan(&same, &doc)
	if err != nil {
		t.Fatal(err)
	}
	if !same {
		t.Errorf("doc of record 1:\n got %s\nwant %s", doc, everyKindDoc(t))
	}
	cols := []string{"title", "author name", "rating", "price", "at", "ok", "meta", "ref", "big", "ratio", "uid", "rating_text"}
	want := []string{"T", "Ann", "5", "19.9", "2024-01-02 03:04:05.5+00", "t", `{"k": [1, 2.5]}`, "42", "9223372036854775807", "0.25", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "7"}
	got := e.row(t, s, cols, "1")
	for i := range cols {
		if got == nil || show(got[i]) != show(&want[i]) {
			t.Errorf("column %s: got %v, want %q", cols[i], got, want[i])
			break
		}
	}
	if r := e.row(t, s, cols, "abc"); r == nil || r[0] != nil || r[2] != nil {
		t.Errorf("record abc: extracted columns %v, want NULLs", r)
	}

	// Ids: SurrealQL's rendering keeps the string '42' apart from the int 42.
	var ids []string
	rows, err := e.pg.Query(context.Background(), "SELECT id FROM "+postgres.QualifiedIdent("public", table)+" ORDER BY id COLLATE \"C\"")
	if err != nil {
		t.Fatal(err)
	}
	ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	wantIDs := []string{"-5", "1", "`42`", "`with space`", "abc", "{ a: 1, b: 'x' }"}
	if strings.Join(ids, " | ") != strings.Join(wantIDs, " | ") {
		t.Errorf("ids %q, want %q", ids, wantIDs)
	}
}

// everyKindDoc is everyKindJSON compacted, numbers kept as written.
func everyKindDoc(t *testing.T) string {
	t.Helper()
	var v any
	d := json.NewDecoder(strings.NewReader(everyKindJSON))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReverseRelation maps edge tables: schemafull ones get in_id and
// out_id, schemaless ones keep in and out in doc.
func TestReverseRelation(t *testing.T) {
	t.Parallel()
	e := newRevEnv(t)
	e.surreal(t, `DEFINE TABLE likes TYPE RELATION IN person OUT post SCHEMAFULL CHANGEFEED 1h;
		DEFINE FIELD since ON likes TYPE datetime;
		DEFINE FIELD `+"`with space`"+` ON likes TYPE option<string>;
		DEFINE TABLE knows TYPE RELATION CHANGEFEED 1h;
		RELATE person:1->likes:l1->post:⟨p 1⟩ SET since = d'2020-01-01T00:00:00Z', `+"`with space`"+` = 'x';
		RELATE person:2->likes:l2->post:p2 SET since = d'2020-01-02T00:00:00Z';
		DELETE likes:l2;
		RELATE person:1->knows:k1->person:two SET w = 1;`)

	likes := newShape(t, e.table(t, "likes"), config.ReverseTable{Name: "likes"}, "likes", nil)
	if got := strings.Join(likes.Columns(), ","); got != "id,in_id,out_id,since,with space" {
		t.Errorf("likes columns %s", got)
	}
	if errs := e.apply(t, likes, e.changes(t, "likes")); len(errs) > 0 {
		t.Fatal(errs)
	}
	got := e.row(t, likes, likes.Columns(), "l1")
	want := []string{"l1", "1", "`p 1`", "2020-01-01 00:00:00+00", "x"}
	for i := range want {
		if got == nil || show(got[i]) != show(&want[i]) {
			t.Fatalf("likes:l1 = %v, want %q", got, want)
		}
	}
	if e.row(t, likes, []string{"id"}, "l2") != nil {
		t.Errorf("deleted edge likes:l2 is still in PostgreSQL")
	}

	knows := newShape(t, e.table(t, "knows"), config.ReverseTable{Name: "knows"}, "knows", nil)
	if errs := e.apply(t, knows, e.changes(t, "knows")); len(errs) > 0 {
		t.Fatal(errs)
	}
	var same bool
	if err := e.pg.QueryRow(context.Background(), `SELECT doc = '{"in": "person:1", "out": "person:two", "w": 1}'::jsonb FROM knows WHERE id = 'k1'`).Scan(&same); err != nil || !same {
		t.Errorf("knows:k1 doc: same=%v err=%v", same, err)
	}
}

// TestReverseIDText checks the id rendering of key columns against the
// engine's own (<string> of a record id).
func TestReverseIDText(t *testing.T) {
	t.Parallel()
	e := newRevEnv(t)
	ids := []string{
		"t:abc", "t:ABC", "t:_a", "t:1abc", "t:1_a", "t:e5", "t:⟨123⟩", "t:123", "t:-5", "t:0", "t:⟨0⟩", "t:⟨_⟩", "t:⟨__⟩",
		"t:⟨with space⟩", "t:⟨ünï⟩", "t:⟨a-b⟩", "t:⟨⟩", "t:⟨1_000⟩", "t:⟨NaN⟩", "t:true",
		"type::record('t', 'we\"ird ⟩ id')", "type::record('t', 'a`b\\\\c')",
		"t:u'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "t:9223372036854775807", "t:-9223372036854775808",
		"t:[1, 'a', \"it's\", '']", "t:['x\"y']", "t:[d'2024-01-01T00:00:00Z', 2.5dec, -0.5f, NULL, true, u'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11']",
		"t:[[1, 'x'], { a: [1d, t:x] }]", "t:{ a: 1, b: 'x', `c d`: 2, `1`: 3, _e: 4 }",
		"`order`:1", "`we\"ird tab`:x", "`123`:x", "`ünï`:x", "`with space`:⟨with space⟩",
	}
	res := e.surreal(t, "RETURN ["+strings.Join(ids, ", ")+"]; RETURN [<string> "+strings.Join(ids, ", <string> ")+"]")
	recs, texts := res[0].([]any), res[1].([]any)
	for i, r := range recs {
		rid, ok := r.(models.RecordID)
		if !ok {
			t.Fatalf("%s decoded as %T", ids[i], r)
		}
		got, err := recordText(rid.Table, rid.ID)
		if err != nil || got != texts[i] {
			t.Errorf("%s: rendered %q (%v), SurrealDB prints %q", ids[i], got, err, texts[i])
		}
	}
}
