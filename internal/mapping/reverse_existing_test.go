package mapping

import (
	"errors"
	"strings"
	"testing"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// TestReverseExistingTable writes records into a table that exists in
// PostgreSQL (a two-way table: the forward sync made the SurrealDB side),
// converting each value to the column's type.
func TestReverseExistingTable(t *testing.T) {
	t.Parallel()
	e := newRevEnv(t)
	e.exec(t, `CREATE TYPE mood AS ENUM ('happy ☺', 'sad');
CREATE TABLE customer (id bigint PRIMARY KEY);
INSERT INTO customer VALUES (42);
CREATE TABLE "order" (
  id bigint PRIMARY KEY,
  qty integer,
  amount numeric(40,9),
  note varchar(20),
  at timestamptz,
  ts timestamp,
  day date,
  meta jsonb,
  ok boolean NOT NULL,
  u uuid,
  raw bytea,
  tags int[],
  names text[],
  customer_id bigint REFERENCES customer(id),
  span interval,
  span_iso interval,
  addr inet,
  pt point,
  f float8,
  f4 real,
  m mood,
  tm time,
  r int4range,
  tr tstzrange,
  "we""ird col" text,
  total integer GENERATED ALWAYS AS (qty * 2) STORED
)`)
	tb := surreal.Ident("order")
	e.surreal(t, "DEFINE TABLE "+tb+" SCHEMALESS CHANGEFEED 1h;\n"+
		"CREATE "+tb+`:1 SET qty = 3, amount = 1234567890123456789.123456789dec, note = 'ünï', at = d'2024-01-02T03:04:05.123456789Z',
			ts = d'2024-01-02T03:04:05.123456Z', day = d'2024-02-29T00:00:00Z', meta = { a: [1, 1.5, NULL], b: 'x' }, ok = true,
			u = u'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', raw = b"00FF10", tags = [1, NULL, 3], names = ['a,b', NULL, 'e"f'],
			customer = customer:42, span = 3d4h5m6s, span_iso = 'P1Y2M3DT4H5M6.789S', addr = '192.168.0.1/24', pt = (1.5, -2.25),
			f = <float> 'NaN', f4 = 1.1, m = 'happy ☺', tm = '23:59:59.999999', r = { begin: 1, begin_inclusive: true, end: 10, end_inclusive: false },
			tr = { begin: d'2024-01-01T00:00:00Z', begin_inclusive: true, end_inclusive: false }, `+"`we\"ird col`"+` = 'w', total = 99, extra = 'ignored';
		CREATE `+tb+`:2 SET ok = false;
		CREATE `+tb+`:3 SET ok = true, qty = 1.5;
		CREATE `+tb+`:4 SET qty = 1;
		CREATE `+tb+`:5 SET ok = true, note = 'this is longer than twenty';
		CREATE `+tb+`:6 SET ok = true, day = d'2024-02-29T12:00:00Z';
		CREATE `+tb+`:7 SET ok = true, qty = 2147483648;
		CREATE `+tb+`:8 SET ok = true;
		DELETE `+tb+`:8;`)
	s := newShape(t, e.table(t, "order"), config.ReverseTable{Name: "order", TwoWay: true}, "order", e.describe(t, "public", "order"))
	if err := s.WithoutColumns("total"); err != nil {
		t.Fatal(err)
	}
	if err := s.WithoutColumns("id"); err == nil {
		t.Errorf("WithoutColumns accepted a key column")
	}
	errs := e.apply(t, s, e.changes(t, "order"))
	wantErrs := map[string]string{
		"3": "surreal table order record order:3 field qty: value 1.5f does not fit column qty integer: 1.5 is not an integer",
		"4": "surreal table order record order:4 field ok: no value, but column ok of public.order is NOT NULL",
		"6": "surreal table order record order:6 field day: value d'2024-02-29T12:00:00Z' does not fit column day date: 2024-02-29T12:00:00Z has a time of day",
		"5": "surreal table order record order:5 field note: value 'this is longer than twenty' does not fit column note character varying(20): 26 characters are more than the 20",
		"7": "surreal table order record order:7 field qty: value 2147483648 does not fit column qty integer: 2147483648 is out of range",
	}
	for id, want := range wantErrs {
		var err error
		for k, v := range errs {
			if strings.HasSuffix(k, " "+id+"}") {
				err = v
			}
		}
		var re *ReverseError
		if !errors.As(err, &re) || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("record %s: error %v\nwant %s...", id, err, want)
		}
	}
	if len(errs) != len(wantErrs) {
		t.Errorf("row errors %v, want %d", errs, len(wantErrs))
	}

	cols := []string{"qty", "amount", "note", "at", "ts", "day", "meta", "ok", "u", "raw", "tags", "names", "customer_id", "span", "span_iso",
		"addr", "pt", "f", "f4", "m", "tm", "r", "tr", `we"ird col`, "total"}
	want := []string{"3", "1234567890123456789.123456789", "ünï", "2024-01-02 03:04:05.123456+00", "2024-01-02 03:04:05.123456", "2024-02-29",
		`{"a": [1, 1.5, null], "b": "x"}`, "t", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", `\x00ff10`, "{1,NULL,3}", `{"a,b",NULL,"e\"f"}`, "42",
		"3 days 04:05:06", "1 year 2 mons 3 days 04:05:06.789", "192.168.0.1/24", "(1.5,-2.25)", "NaN", "1.1", "happy ☺", "23:59:59.999999",
		"[1,10)", `["2024-01-01 00:00:00+00",)`, "w", "6"}
	got := e.row(t, s, cols, "1")
	if got == nil {
		t.Fatal("order 1 is missing")
	}
	for i, c := range cols {
		if show(got[i]) != show(&want[i]) {
			t.Errorf("order 1 column %s: PostgreSQL has %s, want %q", c, show(got[i]), want[i])
		}
	}
	got = e.row(t, s, cols, "2")
	for i, c := range cols {
		if c != "ok" && got[i] != nil {
			t.Errorf("order 2 column %s: %s, want NULL (the record has no such field)", c, show(got[i]))
		}
	}
	if e.row(t, s, cols, "8") != nil {
		t.Errorf("deleted order 8 is still in PostgreSQL")
	}
}

// TestReverseExistingCompositeKey maps array ids to a composite primary
// key in key order, a column named id that is not the key from pg_id and
// an FK column from its link field.
func TestReverseExistingCompositeKey(t *testing.T) {
	t.Parallel()
	e := newRevEnv(t)
	e.exec(t, `CREATE TABLE orders (id bigint PRIMARY KEY);
INSERT INTO orders VALUES (1);
CREATE TABLE line_item (
  order_id bigint REFERENCES orders(id),
  line integer,
  id integer,
  sku text NOT NULL,
  day date,
  PRIMARY KEY (order_id, line)
)`)
	e.surreal(t, `DEFINE TABLE line_item SCHEMAFULL CHANGEFEED 1h;
		DEFINE FIELD `+"`order`"+` ON line_item TYPE record<orders>;
		DEFINE FIELD line ON line_item TYPE int;
		DEFINE FIELD pg_id ON line_item TYPE null | int;
		DEFINE FIELD sku ON line_item TYPE string;
		CREATE line_item:[1, 2] SET `+"`order`"+` = orders:1, line = 2, pg_id = 7, sku = 'abc';
		CREATE line_item:[1, 3] SET `+"`order`"+` = orders:1, line = 3, pg_id = NULL, sku = 'def';
		CREATE line_item:[1, 4] SET `+"`order`"+` = orders:1, line = 4, pg_id = 9, sku = 'ghi';
		DELETE line_item:[1, 3];`)
	s := newShape(t, e.table(t, "line_item"), config.ReverseTable{Name: "line_item"}, "line_item", e.describe(t, "public", "line_item"))
	// day has no field in the schemafull table: it is not written (PostgreSQL keeps its value).
	if got := strings.Join(s.Columns(), ","); got != "order_id,line,id,sku" {
		t.Errorf("columns %s, want order_id,line,id,sku", got)
	}
	e.exec(t, "INSERT INTO line_item VALUES (1, 4, 0, 'old', '2024-01-01')")
	if errs := e.apply(t, s, e.changes(t, "line_item")); len(errs) > 0 {
		t.Fatal(errs)
	}
	for key, want := range map[[2]string][]string{
		{"1", "2"}: {"7", "abc", ""},
		{"1", "4"}: {"9", "ghi", "2024-01-01"},
	} {
		got := e.row(t, s, []string{"id", "sku", "day"}, key[0], key[1])
		if got == nil || *got[0] != want[0] || *got[1] != want[1] || (want[2] != "" && show(got[2]) != show(&want[2])) {
			t.Errorf("line_item %v: %v, want %v", key, got, want)
		}
	}
	if e.row(t, s, []string{"id"}, "1", "3") != nil {
		t.Errorf("deleted line_item:[1, 3] is still in PostgreSQL")
	}
}
