package federation

// The equivalence suite: one deterministic dataset lives in PostgreSQL
// and SurrealDB (the federated side) and, all of it, in a second
// PostgreSQL database (the copy, whose schema "surreal" holds real
// tables with the columns the federation exposes). The same SQL text runs
// on both and the results must be identical: the federation has to give
// exactly PostgreSQL's answer.

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

// oddTable is a SurrealDB table whose name needs quoting everywhere.
const oddTable = "o'dd `tbl`"

// Crafted instants around microsecond boundaries: SurrealDB keeps
// nanoseconds, PostgreSQL microseconds.
var (
	tsMicro = time.Date(2024, 5, 5, 10, 0, 0, 1000, time.UTC) // review 1
	tsNano  = time.Date(2024, 5, 6, 10, 0, 0, 900, time.UTC)  // review 2
	tsHalf  = time.Date(2024, 5, 7, 10, 0, 0, 1500, time.UTC) // review 3
)

var (
	eqZones = []*time.Location{time.UTC, time.FixedZone("EST", -5*3600), time.FixedZone("IST", 5*3600+1800),
		time.FixedZone("CHAST", 12*3600+45*60), time.FixedZone("HST", -10*3600)}
	eqNames = []string{"Ann", "Bob", "Cy", "Zoë", "O'Brien", `Say "hi"`, "back`tick", "日本語", "Émile", "émile", "ann",
		" spaced ", "", "🍕 Pizza", `a\b`, "'; DROP TABLE customer; --", "$v1", "Ünal", "Mary-Jane", "Ann"}
	eqCountries = []any{"DE", "US", "FR", "JP", "BR", nil, "de"}
	eqProducts  = []string{"apple", "Apple", "banana", "cherry", "mango", "melon", "zucchini", "Ärger", "éclair",
		"O'Reilly book", "`tick`", "'; DROP TABLE review; --", "$v1", "", "m", "M", "café", "cafe\u0301"}
	eqTags   = []string{"new", "sale", "a,b", "NULL", "{x}", `q"d`, "", `back\s`, " sp ", "ü", "$v1"}
	eqBodies = []string{"great", "Great!", "terrible", "it's ok", `said "meh"`, "multi\nline", "tab\there", "日本語のレビュー",
		"100% good", "under_score", "'; DROP TABLE review; --", "`; REMOVE TABLE review; --", "$v1", ""}
	eqColors = []string{"red", "green", "blue", "Red"}
)

// eqData is the dataset: PostgreSQL rows as CopyFrom values, SurrealDB
// records as INSERT content.
type eqData struct {
	customers, orders, products [][]any
	persons, reviews, friends   []map[string]any
	odd                         []map[string]any
}

func eqGenerate() *eqData {
	rng := rand.New(rand.NewPCG(20240505, 7))
	d := &eqData{}
	pick := func(n int) int { return rng.IntN(n) }
	chance := func(p float64) bool { return rng.Float64() < p }
	instant := func() time.Time {
		t := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.Int64N(500*24*3600)) * time.Second)
		switch pick(4) {
		case 0: // whole seconds
		case 1:
			t = t.Add(time.Duration(rng.IntN(1_000_000)) * time.Microsecond)
		default:
			t = t.Add(time.Duration(rng.IntN(1_000_000_000)))
		}
		return t.In(eqZones[pick(len(eqZones))])
	}
	pgTime := func() time.Time { return instant().Truncate(time.Microsecond) }

	custIDs := []int64{-5, 9007199254740993}
	for i := int64(1); i <= 80; i++ {
		custIDs = append(custIDs, i)
	}
	for _, id := range custIDs {
		var name, vip any = eqNames[pick(len(eqNames))], nil
		if chance(0.05) {
			name = nil
		}
		if !chance(0.2) {
			vip = chance(0.4)
		}
		d.customers = append(d.customers, []any{id, name, eqCountries[pick(len(eqCountries))], pgTime(), vip})
	}
	statuses := []any{"new", "paid", "shipped", "cancelled", "Paid", nil}
	for i := int64(1); i <= 500; i++ {
		var cust any = custIDs[pick(len(custIDs))]
		switch {
		case chance(0.05):
			cust = nil
		case chance(0.03):
			cust = int64(999)
		}
		var total any
		if !chance(0.05) {
			var n pgtype.Numeric
			cents := rng.Int64N(10_000_000) - 50_000
			if chance(0.02) {
				cents = 99_999_999
			}
			if err := n.Scan(fmt.Sprintf("%d.%02d", cents/100, abs64(cents%100))); err != nil {
				panic(err)
			}
			if cents < 0 && cents > -100 {
				_ = n.Scan(fmt.Sprintf("-0.%02d", -cents))
			}
			total = n
		}
		var meta any
		if !chance(0.1) {
			m := map[string]any{"channel": []string{"web", "app", "phone"}[pick(3)], "items": pick(9), "gift": chance(0.3),
				"color": eqColors[pick(len(eqColors))]}
			if chance(0.3) {
				m["coupon"] = nil
			} else if chance(0.3) {
				m["coupon"] = "X'Y"
			}
			meta = m
		}
		d.orders = append(d.orders, []any{i, cust, total, statuses[pick(len(statuses))], pgTime(), meta})
	}
	for i, p := range eqProducts {
		cat := []string{"fruit", "veg", "odd"}[i%3]
		var sku any
		if i%3 == 2 {
			sku = p // char(8): padded with blanks
			if len(p) > 8 {
				sku = p[:8]
			}
		}
		d.products = append(d.products, []any{p, cat, sku})
	}

	personIDs := []int64{-3, 4611686018427387904}
	for i := int64(1); i <= 70; i++ {
		personIDs = append(personIDs, i)
	}
	for _, id := range personIDs {
		p := map[string]any{"id": id, "name": eqNames[pick(len(eqNames))]}
		if !chance(0.15) {
			p["customer_id"] = custIDs[pick(len(custIDs))]
			if chance(0.05) {
				p["customer_id"] = int64(777)
			}
		}
		if !chance(0.2) {
			p["age"] = int64(pick(90) - 1)
		}
		if !chance(0.3) {
			p["city"] = []string{"Berlin", "berlin", "Paris", "東京", "São Paulo", "O'Fallon"}[pick(6)]
		}
		d.persons = append(d.persons, p)
	}
	bigs := []int64{math.MaxInt64, math.MinInt64, 4611686018427387904, -1}
	for i := int64(1); i <= 1000; i++ {
		r := map[string]any{"id": i, "customer_id": custIDs[pick(len(custIDs))], "product": eqProducts[pick(len(eqProducts))],
			"rating": int64(pick(6)), "created_at": instant()}
		if chance(0.03) {
			r["customer_id"] = int64(424242)
		}
		if chance(0.02) {
			r["rating"] = int64(-1)
		}
		if !chance(0.3) {
			r["body"] = eqBodies[pick(len(eqBodies))]
		}
		switch {
		case chance(0.25):
		case chance(0.02):
			r["helpful"] = bigs[pick(len(bigs))]
		default:
			r["helpful"] = int64(pick(54) - 3)
		}
		switch {
		case chance(0.2):
		case chance(0.03):
			r["score"] = []float64{0.1, 1e-7, 1.5e300, -2.5e-300, math.Inf(1), math.NaN()}[pick(6)]
		default:
			r["score"] = float64(rng.IntN(2000)-1000) / 8
		}
		if !chance(0.2) {
			r["price"] = models.DecimalString([]string{"12.50", "-0.01", "99999999999.999", "0", "3.14159265358979323846", "7"}[pick(6)])
			if chance(0.7) {
				r["price"] = models.DecimalString(fmt.Sprintf("%d.%02d", rng.IntN(500), rng.IntN(100)))
			}
		}
		tags := []any{}
		for range pick(4) {
			tags = append(tags, eqTags[pick(len(eqTags))])
		}
		r["tags"] = tags
		if !chance(0.25) {
			r["verified"] = chance(0.6)
		}
		if !chance(0.4) {
			x := map[string]any{"color": eqColors[pick(len(eqColors))], "gift": chance(0.3), "n": int64(pick(100))}
			if chance(0.2) {
				x["nested"] = map[string]any{"k": "v'`\"", "arr": []any{int64(1), "two", nil}}
			}
			r["extra"] = x
		}
		d.reviews = append(d.reviews, r)
	}
	d.reviews[0]["created_at"], d.reviews[1]["created_at"], d.reviews[2]["created_at"] = tsMicro, tsNano, tsHalf
	for i := range 260 {
		e := map[string]any{"id": "e" + strconv.Itoa(i+1), "a": personIDs[pick(len(personIDs))], "b": personIDs[pick(len(personIDs))],
			"since": models.CustomDateTime{Time: instant()}}
		if i%17 == 3 { // a second edge between the same people
			prev := d.friends[len(d.friends)-1]
			e["a"], e["b"] = prev["a"], prev["b"]
		}
		if !chance(0.3) {
			e["strength"] = int64(pick(10))
		}
		d.friends = append(d.friends, e)
	}
	for _, r := range d.reviews {
		r["created_at"] = models.CustomDateTime{Time: r["created_at"].(time.Time)}
	}
	oddIDs := []any{"a b", "it's", "123", "plain", "x`y", int64(7), `back\slash`, "日本"}
	for i, id := range oddIDs {
		o := map[string]any{"id": id, "we`ird": []string{"x`y", "plain", "it's", `"dq"`}[i%4]}
		if i%3 != 0 {
			o["a b"] = int64(i * 10)
		}
		if i%2 == 0 {
			o[`"dq"`] = eqBodies[i]
		}
		if i%4 != 1 {
			o["Mixed Case"] = i%3 == 0
		}
		d.odd = append(d.odd, o)
	}
	return d
}

func abs64(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// eqEnv is the federated side (fixture) and the all-PostgreSQL copy.
type eqEnv struct {
	f    *fixture
	copy *pgxpool.Pool
	data *eqData
	// tables are the SurrealDB tables as the federation exposes them.
	tables map[string][]Column
}

var eqSurrealTables = []string{"person", "review", "friend", oddTable}

func newEqEnv(t *testing.T) *eqEnv {
	t.Helper()
	return newEqEnvWith(t, config.Default().Federation)
}

func newEqEnvWith(t *testing.T, fc config.Federation) *eqEnv {
	t.Helper()
	ctx := context.Background()
	f := newFixture(t, fc)
	_, cp := testenv.Get(t).NewPostgresPool(t)
	env := &eqEnv{f: f, copy: cp, data: eqGenerate(), tables: map[string][]Column{}}
	for _, pool := range []*pgxpool.Pool{f.pg, cp} {
		env.loadPostgres(t, pool)
	}
	env.loadSurreal(t)
	for _, tb := range eqSurrealTables {
		env.copyTable(t, ctx, tb)
	}
	// odd_ref holds ids of the odd table as the federation spells them.
	res := env.fed(t, fmt.Sprintf("SELECT id FROM surreal.%s ORDER BY id", postgres.Ident(oddTable)))
	for _, pool := range []*pgxpool.Pool{f.pg, cp} {
		mustExec(t, pool, "CREATE TABLE odd_ref (rid text, tag text)")
		for i, r := range res.Rows {
			mustExec(t, pool, "INSERT INTO odd_ref VALUES ($1, $2)", r[0], []string{"sel", "other"}[i%2])
		}
	}
	return env
}

func mustExec(t *testing.T, q Querier, sql string, args ...any) {
	t.Helper()
	if _, err := q.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func (env *eqEnv) loadPostgres(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	mustExec(t, pool, `CREATE TABLE customer (id bigint PRIMARY KEY, name text, country text, created_at timestamptz, vip boolean);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint, total numeric(10,2), status text, placed_at timestamptz, meta jsonb);
CREATE TABLE product (name text PRIMARY KEY, category text, sku char(8))`)
	for _, tb := range []struct {
		name string
		cols []string
		rows [][]any
	}{
		{"customer", []string{"id", "name", "country", "created_at", "vip"}, env.data.customers},
		{"orders", []string{"id", "customer_id", "total", "status", "placed_at", "meta"}, env.data.orders},
		{"product", []string{"name", "category", "sku"}, env.data.products},
	} {
		if _, err := pool.CopyFrom(ctx, pgx.Identifier{tb.name}, tb.cols, pgx.CopyFromRows(tb.rows)); err != nil {
			t.Fatalf("loading %s: %v", tb.name, err)
		}
	}
	mustExec(t, pool, "ANALYZE")
}

func (env *eqEnv) loadSurreal(t *testing.T) {
	t.Helper()
	odd := surreal.Ident(oddTable)
	env.f.surrealExec(t, `DEFINE TABLE person SCHEMAFULL;
DEFINE FIELD id ON person TYPE int;
DEFINE FIELD name ON person TYPE string;
DEFINE FIELD customer_id ON person TYPE option<int>;
DEFINE FIELD age ON person TYPE option<int>;
DEFINE FIELD city ON person TYPE option<string>;
DEFINE TABLE review SCHEMAFULL;
DEFINE FIELD customer_id ON review TYPE int;
DEFINE FIELD product ON review TYPE string;
DEFINE FIELD rating ON review TYPE int;
DEFINE FIELD body ON review TYPE option<string>;
DEFINE FIELD created_at ON review TYPE datetime;
DEFINE FIELD helpful ON review TYPE option<int>;
DEFINE FIELD score ON review TYPE option<float>;
DEFINE FIELD price ON review TYPE option<decimal>;
DEFINE FIELD tags ON review TYPE array<string>;
DEFINE FIELD verified ON review TYPE option<bool>;
DEFINE FIELD extra ON review TYPE option<object> FLEXIBLE;
DEFINE TABLE friend TYPE RELATION IN person OUT person SCHEMAFULL;
DEFINE FIELD since ON friend TYPE datetime;
DEFINE FIELD strength ON friend TYPE option<int>;
DEFINE TABLE `+odd+` SCHEMAFULL;
DEFINE FIELD `+surreal.Ident("we`ird")+` ON `+odd+` TYPE string;
DEFINE FIELD `+surreal.Ident("a b")+` ON `+odd+` TYPE option<int>;
DEFINE FIELD `+surreal.Ident(`"dq"`)+` ON `+odd+` TYPE option<string>;
DEFINE FIELD `+surreal.Ident("Mixed Case")+` ON `+odd+` TYPE option<bool>;`, nil)
	insert := func(table string, rows []map[string]any) {
		for start := 0; start < len(rows); start += 250 {
			chunk := make([]any, 0, 250)
			for _, r := range rows[start:min(start+250, len(rows))] {
				chunk = append(chunk, r)
			}
			env.f.surrealExec(t, "INSERT INTO "+surreal.Ident(table)+" $rows", map[string]any{"rows": chunk})
		}
	}
	insert("person", env.data.persons)
	insert("review", env.data.reviews)
	insert(oddTable, env.data.odd)
	edges := make([]any, len(env.data.friends))
	for i, e := range env.data.friends {
		edges[i] = e
	}
	env.f.surrealExec(t, `FOR $e IN $edges {
	LET $from = type::record('person', $e.a);
	LET $to = type::record('person', $e.b);
	RELATE $from->friend->$to CONTENT { id: type::record('friend', $e.id), since: $e.since, strength: $e.strength };
};`, map[string]any{"edges": edges})
}

// copyTable creates surreal.<table> in the copy with the columns the
// federation exposes and fills it with what the federation returns.
func (env *eqEnv) copyTable(t *testing.T, ctx context.Context, table string) {
	t.Helper()
	ident := "surreal." + postgres.Ident(table)
	head := env.fed(t, "SELECT * FROM "+ident+" LIMIT 0")
	defs := make([]string, len(head.Columns))
	for i, c := range head.Columns {
		var typ string
		if err := env.copy.QueryRow(ctx, "SELECT format_type($1, NULL)", c.OID).Scan(&typ); err != nil {
			t.Fatal(err)
		}
		defs[i] = postgres.Ident(c.Name) + " " + typ
	}
	env.tables[table] = head.Columns
	mustExec(t, env.copy, "CREATE SCHEMA IF NOT EXISTS surreal")
	mustExec(t, env.copy, "CREATE TABLE "+ident+" ("+strings.Join(defs, ", ")+")")
	rows := env.fed(t, "SELECT json_agg(t)::text FROM "+ident+" t")
	mustExec(t, env.copy, "INSERT INTO "+ident+" SELECT * FROM json_populate_recordset(NULL::"+ident+", $1::json)", rows.Rows[0][0])
	mustExec(t, env.copy, "ANALYZE "+ident)
}

func (env *eqEnv) fed(t *testing.T, sql string, args ...any) *Result {
	t.Helper()
	res, err := env.f.engine.Query(context.Background(), nil, sql, args, QueryOptions{})
	if err != nil {
		t.Fatalf("federated %s: %v", sql, err)
	}
	return res
}

// eqCase is one query run on both sides.
type eqCase struct {
	name string
	sql  string
	args []any
	// ordered: the ORDER BY covers every output column, so the row order
	// must match too; else the rows are compared as multisets.
	ordered bool
	// limited: a LIMIT without ORDER BY, so only the row count must match
	// and every row must be one of full's rows (on the copy).
	limited bool
	full    string
}

// check runs c on both sides and compares the results.
func (env *eqEnv) check(t *testing.T, c eqCase) {
	t.Helper()
	ctx := context.Background()
	fed, ferr := env.f.engine.Query(ctx, nil, c.sql, c.args, QueryOptions{})
	pg, perr := collect(ctx, env.copy, c.sql, c.args)
	if ferr != nil || perr != nil {
		var fe, pe *pgconn.PgError
		if ferr != nil && perr != nil && errors.As(ferr, &fe) && errors.As(perr, &pe) && fe.Code == pe.Code {
			return // the same error on both sides
		}
		t.Fatalf("%s\nfederated error: %v\nPostgreSQL error: %v", c.sql, ferr, perr)
	}
	if d := diffColumns(fed.Columns, pg.Columns); d != "" {
		t.Fatalf("%s\ncolumns differ: %s", c.sql, d)
	}
	if c.limited {
		all, err := collect(ctx, env.copy, c.full, c.args)
		if err != nil {
			t.Fatalf("%s: %v", c.full, err)
		}
		if len(fed.Rows) != len(pg.Rows) {
			t.Fatalf("%s\nfederated gave %d rows, PostgreSQL %d", c.sql, len(fed.Rows), len(pg.Rows))
		}
		if missing := multisetMinus(canonRows(fed.Rows), canonRows(all.Rows)); len(missing) > 0 {
			t.Fatalf("%s\nfederated rows that are not in the full result: %s", c.sql, strings.Join(head(missing), "\n"))
		}
		return
	}
	if d := diffRows(fed.Rows, pg.Rows, c.ordered); d != "" {
		t.Fatalf("%s\nargs %v\n%s", c.sql, c.args, d)
	}
}

func diffColumns(a, b []Column) string {
	if len(a) != len(b) {
		return fmt.Sprintf("federated %v, PostgreSQL %v", a, b)
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].OID != b[i].OID {
			return fmt.Sprintf("column %d: federated %s (%s, %d), PostgreSQL %s (%s, %d)", i+1, a[i].Name, a[i].Type, a[i].OID, b[i].Name, b[i].Type, b[i].OID)
		}
	}
	return ""
}

// diffRows describes how the federated rows differ from PostgreSQL's, or
// returns "".
func diffRows(fedRows, pgRows [][]any, ordered bool) string {
	f, p := canonRows(fedRows), canonRows(pgRows)
	if ordered && slices.Equal(f, p) {
		return ""
	}
	fs, ps := slices.Sorted(slices.Values(f)), slices.Sorted(slices.Values(p))
	if slices.Equal(fs, ps) {
		if !ordered {
			return ""
		}
		i := 0
		for i < len(f) && f[i] == p[i] {
			i++
		}
		return fmt.Sprintf("same rows in another order; first difference at row %d: federated %s, PostgreSQL %s", i+1, f[i], p[i])
	}
	return fmt.Sprintf("federated %d rows, PostgreSQL %d\nonly federated:\n%s\nonly PostgreSQL:\n%s", len(f), len(p),
		strings.Join(head(multisetMinus(f, p)), "\n"), strings.Join(head(multisetMinus(p, f)), "\n"))
}

func head(s []string) []string {
	if len(s) > 12 {
		return append(slices.Clone(s[:12]), fmt.Sprintf("... %d more", len(s)-12))
	}
	return s
}

// multisetMinus is a minus b, as multisets.
func multisetMinus(a, b []string) []string {
	n := map[string]int{}
	for _, s := range b {
		n[s]++
	}
	var out []string
	for _, s := range a {
		if n[s] > 0 {
			n[s]--
			continue
		}
		out = append(out, s)
	}
	return out
}

func canonRows(rows [][]any) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		parts := make([]string, len(r))
		for j, v := range r {
			parts[j] = canon(v)
		}
		out[i] = "(" + strings.Join(parts, " | ") + ")"
	}
	return out
}

// canon is a value's canonical text: equal texts mean equal values of
// the same kind.
func canon(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return strconv.Quote(x)
	case bool:
		return strconv.FormatBool(x)
	case int64, int32, int16, int8, int, uint32, uint64:
		return fmt.Sprint(x)
	case float64:
		return "f" + strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return "f4:" + strconv.FormatFloat(float64(x), 'g', -1, 32)
	case time.Time:
		return x.UTC().Format("2006-01-02T15:04:05.999999999Z07:00")
	case pgtype.Numeric:
		s, err := x.Value()
		if err != nil {
			return "numeric?" + err.Error()
		}
		return fmt.Sprint("n", s)
	case pgtype.Interval:
		return fmt.Sprintf("interval(%d months %d days %d us)", x.Months, x.Days, x.Microseconds)
	case [16]byte:
		return "uuid:" + hex.EncodeToString(x[:])
	case []byte:
		return `\x` + hex.EncodeToString(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = canon(e)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case map[string]any:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprintf("json?%v", x)
		}
		return "json" + string(b)
	}
	return fmt.Sprintf("%T:%v", v, v)
}

// TestEquivalence runs every query of eqCases on both sides.
func TestEquivalence(t *testing.T) {
	t.Parallel()
	env := newEqEnv(t)
	cases := eqCases()
	if len(cases) < 45 {
		t.Fatalf("only %d queries", len(cases))
	}
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] {
			t.Fatalf("two cases named %s", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env.check(t, c)
		})
	}
}

// TestEquivalenceTables checks each SurrealDB table as a whole on both
// sides, and the federated review rows against the generated data (the
// copy is made from the federation, so this is what checks the values
// themselves).
func TestEquivalenceTables(t *testing.T) {
	t.Parallel()
	env := newEqEnv(t)
	for _, tb := range eqSurrealTables {
		env.check(t, eqCase{sql: "SELECT * FROM surreal." + postgres.Ident(tb)})
	}
	got := env.fed(t, "SELECT id, body, created_at, customer_id, helpful, price, product, rating, score, tags, verified, extra FROM surreal.review")
	want := make([][]any, len(env.data.reviews))
	for i, r := range env.data.reviews {
		var price any
		if p, ok := r["price"].(models.DecimalString); ok {
			var n pgtype.Numeric
			if err := n.Scan(surrealDecimal(string(p))); err != nil {
				t.Fatal(err)
			}
			price = n
		}
		var extra any
		if x, ok := r["extra"]; ok {
			b, _ := json.Marshal(x)
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			extra = m
		}
		want[i] = []any{strconv.FormatInt(r["id"].(int64), 10), r["body"], r["created_at"].(models.CustomDateTime).Truncate(time.Microsecond),
			r["customer_id"], r["helpful"], price, r["product"], r["rating"], r["score"], r["tags"], r["verified"], extra}
	}
	if d := diffRows(got.Rows, want, false); d != "" {
		t.Fatalf("federated review differs from the data loaded into SurrealDB:\n%s", d)
	}
	friends := env.fed(t, "SELECT id, in_id, out_id, strength FROM surreal.friend")
	want = nil
	for _, e := range env.data.friends {
		want = append(want, []any{e["id"], fmt.Sprint(e["a"]), fmt.Sprint(e["b"]), e["strength"]})
	}
	if d := diffRows(friends.Rows, want, false); d != "" {
		t.Fatalf("federated friend differs from the edges RELATE made:\n%s", d)
	}
}

// surrealDecimal is how SurrealDB keeps a decimal: without trailing
// zeros after the point.
func surrealDecimal(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// eqCases are the equivalence queries.
func eqCases() []eqCase {
	t1 := time.Date(2023, 6, 1, 0, 0, 0, 0, time.UTC)
	t2 := time.Date(2023, 12, 31, 12, 30, 0, 0, time.FixedZone("CET", 3600))
	return []eqCase{
		// joins between PostgreSQL and SurrealDB tables
		{name: "inner_join", sql: `SELECT c.id, c.name, r.id AS rid, r.rating FROM customer c JOIN surreal.review r ON r.customer_id = c.id`},
		{name: "inner_join_selective_bind", sql: `SELECT c.name, r.id, r.product, r.rating, r.body FROM customer c JOIN surreal.review r ON r.customer_id = c.id WHERE c.country = 'DE' AND c.vip`},
		{name: "inner_join_param_bind", sql: `SELECT c.name, r.id, r.rating FROM customer c JOIN surreal.review r ON r.customer_id = c.id WHERE c.id = $1 ORDER BY r.rating, r.id`, args: []any{int64(7)}, ordered: true},
		{name: "inner_join_big_key", sql: `SELECT c.id, r.id FROM customer c JOIN surreal.review r ON r.customer_id = c.id WHERE c.id > 1000000`},
		{name: "left_join_anti_by_id", sql: `SELECT c.id, c.name FROM customer c LEFT JOIN surreal.review r ON r.customer_id = c.id WHERE r.id IS NULL`},
		{name: "left_join_rating_is_null", sql: `SELECT c.id, c.name FROM customer c LEFT JOIN surreal.review r ON r.customer_id = c.id WHERE r.rating IS NULL`},
		{name: "left_join_nullable_col_is_null", sql: `SELECT c.id, r.id AS rid, r.helpful FROM customer c LEFT JOIN surreal.review r ON r.customer_id = c.id WHERE r.helpful IS NULL`},
		{name: "left_join_on_filter", sql: `SELECT c.id, r.id AS rid, r.rating FROM customer c LEFT JOIN surreal.review r ON r.customer_id = c.id AND r.rating >= 4`},
		{name: "left_join_on_is_null", sql: `SELECT c.id, r.id AS rid FROM customer c LEFT JOIN surreal.review r ON r.customer_id = c.id AND r.body IS NULL`},
		{name: "left_join_where_strict", sql: `SELECT c.id, r.id AS rid, r.rating FROM customer c LEFT JOIN surreal.review r ON r.customer_id = c.id WHERE r.rating <> 3 AND c.country = 'US'`},
		{name: "left_join_on_preserved_filter", sql: `SELECT c.id, r.id AS rid FROM customer c LEFT JOIN surreal.review r ON r.customer_id = c.id AND c.vip`},
		{name: "right_join", sql: `SELECT c.name, r.id, r.customer_id FROM customer c RIGHT JOIN surreal.review r ON r.customer_id = c.id AND c.country = 'US' WHERE r.rating = 5`},
		{name: "full_join_subqueries", sql: `SELECT c.id, r.id AS rid, r.rating FROM (SELECT * FROM customer WHERE country = 'FR') c FULL JOIN (SELECT * FROM surreal.review WHERE product = 'apple') r ON r.customer_id = c.id`},
		{name: "full_join_where", sql: `SELECT c.id, r.id AS rid FROM customer c FULL JOIN surreal.review r ON r.customer_id = c.id WHERE r.rating >= 4 OR c.vip IS NULL`},
		{name: "full_join_where_strict", sql: `SELECT c.id, r.id AS rid FROM customer c FULL JOIN surreal.review r ON r.customer_id = c.id WHERE r.helpful < 2`},
		{name: "full_join_where_is_null", sql: `SELECT c.id, r.id AS rid FROM customer c FULL JOIN surreal.review r ON r.customer_id = c.id WHERE r.verified IS NULL`},
		{name: "right_join_is_null", sql: `SELECT r.id, c.id AS cid FROM surreal.review r RIGHT JOIN customer c ON c.id = r.customer_id WHERE r.helpful IS NULL`},
		{name: "nested_join_on_nullable_side_is_null", sql: `SELECT c.id, r.id AS rid, p.id AS pid FROM customer c
			LEFT JOIN (surreal.review r JOIN surreal.person p ON p.customer_id = r.customer_id) ON r.customer_id = c.id WHERE p.age IS NULL`},
		{name: "nested_join_on_nullable_side_strict", sql: `SELECT c.id, r.id AS rid, p.id AS pid FROM customer c
			LEFT JOIN (surreal.review r JOIN surreal.person p ON p.customer_id = r.customer_id AND r.rating = 5) ON r.customer_id = c.id AND p.age > 40 WHERE c.vip`},
		// joins between two SurrealDB tables
		{name: "surreal_edges_join", sql: `SELECT f.id, a.name, b.name AS friend, f.since FROM surreal.friend f JOIN surreal.person a ON a.id::text = f.in_id JOIN surreal.person b ON b.id = f.out_id::bigint`},
		{name: "surreal_left_join", sql: `SELECT p.id, p.name, r.id AS rid, r.rating FROM surreal.person p LEFT JOIN surreal.review r ON r.customer_id = p.customer_id AND r.verified`},
		{name: "surreal_full_join", sql: `SELECT p.id, r.id AS rid FROM surreal.person p FULL JOIN surreal.review r ON r.customer_id = p.customer_id AND r.rating = 1`},
		{name: "surreal_join_using", sql: `SELECT customer_id, count(*) FROM surreal.review JOIN surreal.person USING (customer_id) GROUP BY customer_id`},
		{name: "surreal_natural_join_error", sql: `SELECT * FROM surreal.person NATURAL JOIN surreal.review`},
		{name: "surreal_self_join", sql: `SELECT a.id, b.id AS other FROM surreal.review a JOIN surreal.review b ON a.customer_id = b.customer_id AND a.product = b.product AND a.id < b.id WHERE a.rating = 5`},
		// semi and anti joins
		{name: "exists", sql: `SELECT c.id FROM customer c WHERE EXISTS (SELECT 1 FROM surreal.review r WHERE r.customer_id = c.id AND r.rating = 5)`},
		{name: "not_exists", sql: `SELECT c.id, c.name FROM customer c WHERE NOT EXISTS (SELECT 1 FROM surreal.review r WHERE r.customer_id = c.id AND r.verified)`},
		{name: "in_subquery_param", sql: `SELECT c.id, c.name FROM customer c WHERE c.id IN (SELECT r.customer_id FROM surreal.review r WHERE r.product = $1)`, args: []any{"apple"}},
		{name: "not_in_with_nulls", sql: `SELECT c.id FROM customer c WHERE c.id NOT IN (SELECT p.customer_id FROM surreal.person p)`},
		{name: "not_in_without_nulls", sql: `SELECT c.id FROM customer c WHERE c.id NOT IN (SELECT p.customer_id FROM surreal.person p WHERE p.customer_id IS NOT NULL)`},
		{name: "surreal_not_in_pg_nulls", sql: `SELECT r.id FROM surreal.review r WHERE r.customer_id NOT IN (SELECT o.customer_id FROM orders o)`},
		{name: "surreal_not_in_pg", sql: `SELECT r.id, r.customer_id FROM surreal.review r WHERE r.customer_id NOT IN (SELECT id FROM customer)`},
		{name: "surreal_in_surreal", sql: `SELECT p.id FROM surreal.person p WHERE p.id::text IN (SELECT f.in_id FROM surreal.friend f WHERE f.strength > 5)`},
		{name: "not_in_list_with_null", sql: `SELECT r.id FROM surreal.review r WHERE r.helpful NOT IN (1, 2, NULL)`},
		{name: "not_in_list", sql: `SELECT r.id FROM surreal.review r WHERE r.helpful NOT IN (1, 2) AND r.rating NOT IN (0)`},
		{name: "in_lists", sql: `SELECT r.id FROM surreal.review r WHERE r.rating IN (1, 5) AND r.product IN ('apple', 'Apple', '')`},
		{name: "in_list_params", sql: `SELECT r.id, r.helpful FROM surreal.review r WHERE r.helpful IN ($1, $2, $3)`, args: []any{int64(0), int64(math.MaxInt64), int64(math.MinInt64)}},
		// aggregates
		{name: "group_having", sql: `SELECT r.product, count(*), count(r.helpful), sum(r.helpful), avg(r.rating), min(r.created_at), max(r.body), sum(r.price), max(r.score)
			FROM surreal.review r GROUP BY r.product HAVING count(*) > 5`},
		{name: "count_distinct", sql: `SELECT c.country, count(DISTINCT r.product), count(DISTINCT r.customer_id), count(*) FROM customer c JOIN surreal.review r ON r.customer_id = c.id GROUP BY c.country`},
		{name: "distinct", sql: `SELECT DISTINCT r.product FROM surreal.review r`},
		{name: "distinct_rows", sql: `SELECT DISTINCT r.body, r.verified FROM surreal.review r`},
		{name: "distinct_on", sql: `SELECT DISTINCT ON (r.customer_id) r.customer_id, r.id, r.rating, r.created_at FROM surreal.review r ORDER BY r.customer_id, r.created_at DESC, r.id`, ordered: true},
		{name: "rollup_filter", sql: `SELECT r.product, r.rating, count(*), count(*) FILTER (WHERE r.verified) FROM surreal.review r GROUP BY ROLLUP (r.product, r.rating)`},
		{name: "count_star_only", sql: `SELECT count(*) FROM surreal.review`},
		{name: "aggregate_empty", sql: `SELECT count(*), sum(r.helpful), max(r.body) FROM surreal.review r WHERE r.rating > 100`},
		// aggregates SurrealDB computes (agg.go): extreme and missing values
		{name: "agg_whole_table", sql: `SELECT count(*), count(helpful), sum(helpful), min(helpful), max(helpful), sum(rating), min(rating), max(rating) FROM surreal.review`},
		{name: "agg_grouped_int", sql: `SELECT rating, count(*), count(helpful) AS n, sum(helpful), min(helpful), max(helpful) FROM surreal.review GROUP BY rating`},
		{name: "agg_grouped_text", sql: `SELECT product, count(*), sum(rating), max(customer_id) FROM surreal.review GROUP BY product ORDER BY product`, ordered: true},
		{name: "agg_grouped_nullable_key", sql: `SELECT body, verified, count(*), min(rating) FROM surreal.review GROUP BY body, verified`},
		{name: "agg_where_less_than", sql: `SELECT count(*), count(helpful), sum(helpful) FROM surreal.review WHERE helpful < 3`},
		{name: "agg_where_not_equal", sql: `SELECT verified, count(*) FROM surreal.review WHERE body <> 'great' AND verified <> true GROUP BY verified`},
		{name: "agg_where_is_null", sql: `SELECT product, count(*) FROM surreal.review WHERE helpful IS NULL GROUP BY product`},
		{name: "agg_where_in", sql: `SELECT count(*), max(helpful) FROM surreal.review WHERE rating IN (1, 2) AND product IN ('apple', '')`},
		{name: "agg_empty_where", sql: `SELECT count(*), count(helpful), sum(helpful), min(rating) FROM surreal.review WHERE rating = 42`},
		{name: "agg_empty_not_null", sql: `SELECT sum(rating), min(rating), max(customer_id), count(rating) FROM surreal.review WHERE rating = 42`},
		{name: "agg_limit_offset", sql: `SELECT count(*) FROM surreal.review LIMIT 1 OFFSET 1`},
		{name: "agg_empty_grouped", sql: `SELECT product, count(*) FROM surreal.review WHERE rating = 42 GROUP BY product`},
		{name: "agg_order_limit", sql: `SELECT customer_id, count(*) AS n FROM surreal.review GROUP BY customer_id ORDER BY n DESC, customer_id LIMIT 5`, ordered: true},
		{name: "agg_key_not_selected", sql: `SELECT count(*) FROM surreal.review GROUP BY product`},
		{name: "agg_person", sql: `SELECT city, count(*), count(age), sum(age), min(age), max(customer_id) FROM surreal.person GROUP BY city`},
		{name: "agg_edges", sql: `SELECT count(*), count(strength), sum(strength), max(strength) FROM surreal.friend`},
		{name: "agg_in_subquery", sql: `SELECT c.id, x.n FROM customer c JOIN (SELECT customer_id, count(*) AS n FROM surreal.review GROUP BY customer_id) x ON x.customer_id = c.id`},
		// subqueries and CTEs
		{name: "scalar_subquery", sql: `SELECT c.id, c.name, (SELECT max(r.rating) FROM surreal.review r WHERE r.customer_id = c.id) AS best FROM customer c`},
		{name: "correlated_subquery", sql: `SELECT r.id, r.product, r.rating FROM surreal.review r WHERE r.rating > (SELECT avg(r2.rating) FROM surreal.review r2 WHERE r2.product = r.product)`},
		{name: "cte_twice", sql: `WITH top AS (SELECT customer_id, max(rating) AS m FROM surreal.review GROUP BY customer_id)
			SELECT t.customer_id, t.m, (SELECT count(*) FROM surreal.review r WHERE r.customer_id = t.customer_id AND r.rating = t.m) AS n FROM top t`},
		{name: "cte_recursive_friends", sql: `WITH RECURSIVE reach(id, depth) AS (
				SELECT 1::bigint, 0
				UNION
				SELECT f.out_id::bigint, reach.depth + 1 FROM reach JOIN surreal.friend f ON f.in_id = reach.id::text WHERE reach.depth < 3)
			SELECT id, min(depth) FROM reach GROUP BY id`},
		{name: "lateral_top2", sql: `SELECT c.id, x.id AS rid, x.rating FROM customer c CROSS JOIN LATERAL (SELECT r.id, r.rating FROM surreal.review r WHERE r.customer_id = c.id ORDER BY r.rating DESC, r.id LIMIT 2) x`},
		// set operations
		{name: "union", sql: `SELECT customer_id FROM surreal.review WHERE rating = 1 UNION SELECT customer_id FROM orders WHERE status = 'cancelled'`},
		{name: "union_all", sql: `SELECT customer_id, 'r' AS src FROM surreal.review WHERE rating = 0 UNION ALL SELECT customer_id, 'o' FROM orders WHERE total < 0`},
		{name: "intersect", sql: `SELECT customer_id FROM surreal.person INTERSECT SELECT customer_id FROM surreal.review`},
		{name: "except", sql: `SELECT id FROM customer EXCEPT SELECT customer_id FROM surreal.review WHERE rating >= 3`},
		{name: "except_all", sql: `SELECT product FROM surreal.review EXCEPT ALL SELECT product FROM surreal.review WHERE verified`},
		// window functions
		{name: "row_number", sql: `SELECT r.id, r.customer_id, row_number() OVER (PARTITION BY r.customer_id ORDER BY r.created_at, r.id) FROM surreal.review r`},
		{name: "rank", sql: `SELECT r.id, rank() OVER (ORDER BY r.rating DESC), dense_rank() OVER (PARTITION BY r.product ORDER BY r.helpful NULLS FIRST) FROM surreal.review r`},
		{name: "sum_over", sql: `SELECT r.id, sum(r.helpful) OVER (PARTITION BY r.product), sum(r.price) OVER (PARTITION BY r.customer_id ORDER BY r.created_at, r.id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM surreal.review r`},
		{name: "lag_lead", sql: `SELECT r.id, lag(r.rating) OVER w, lead(r.body, 2, 'none') OVER w FROM surreal.review r WINDOW w AS (PARTITION BY r.customer_id ORDER BY r.created_at, r.id)`},
		{name: "window_over_join", sql: `SELECT c.name, r.id, percent_rank() OVER (PARTITION BY c.country ORDER BY r.rating, r.id) FROM customer c JOIN surreal.review r ON r.customer_id = c.id`},
		// ordering, LIMIT and OFFSET
		{name: "order_nulls_first", sql: `SELECT r.id, r.helpful FROM surreal.review r ORDER BY r.helpful NULLS FIRST, r.id LIMIT 30`, ordered: true},
		{name: "order_desc_nulls_last_offset", sql: `SELECT r.id, r.score FROM surreal.review r ORDER BY r.score DESC NULLS LAST, r.id OFFSET 5 LIMIT 25`, ordered: true},
		{name: "order_text_collation", sql: `SELECT r.product, r.id FROM surreal.review r ORDER BY r.product, r.id`, ordered: true},
		{name: "order_limit_param", sql: `SELECT r.id, r.created_at FROM surreal.review r ORDER BY r.created_at DESC, r.id LIMIT $1`, args: []any{int64(17)}, ordered: true},
		{name: "order_where_limit", sql: `SELECT r.id, r.rating FROM surreal.review r WHERE r.rating >= 4 ORDER BY r.id LIMIT 10`, ordered: true},
		{name: "limit_plain", sql: `SELECT * FROM surreal.review LIMIT 7`, limited: true, full: `SELECT * FROM surreal.review`},
		{name: "limit_offset_where", sql: `SELECT id, rating FROM surreal.review WHERE rating >= 4 LIMIT 5 OFFSET 3`, limited: true, full: `SELECT id, rating FROM surreal.review WHERE rating >= 4`},
		{name: "limit_param", sql: `SELECT id, name FROM surreal.person LIMIT $1`, args: []any{int64(9)}, limited: true, full: `SELECT id, name FROM surreal.person WHERE $1::bigint IS NOT NULL`},
		{name: "limit_less_than_nullable", sql: `SELECT id, helpful FROM surreal.review WHERE helpful < 3 LIMIT 60`, limited: true, full: `SELECT id, helpful FROM surreal.review WHERE helpful < 3`},
		{name: "limit_not_equal_nullable", sql: `SELECT id, verified FROM surreal.review WHERE verified <> true LIMIT 100`, limited: true, full: `SELECT id, verified FROM surreal.review WHERE verified <> true`},
		{name: "limit_not_equal_string", sql: `SELECT id, body FROM surreal.review WHERE body <> 'great' LIMIT 400`, limited: true, full: `SELECT id, body FROM surreal.review WHERE body <> 'great'`},
		{name: "limit_join_values", sql: `SELECT r.id FROM surreal.review r JOIN (VALUES (5)) v(k) ON r.rating = v.k LIMIT 30`, limited: true, full: `SELECT r.id FROM surreal.review r JOIN (VALUES (5)) v(k) ON r.rating = v.k`},
		{name: "limit_join_function", sql: `SELECT r.id, g FROM surreal.review r JOIN generate_series(5, 5) g ON r.rating = g LIMIT 30`, limited: true, full: `SELECT r.id, g FROM surreal.review r JOIN generate_series(5, 5) g ON r.rating = g`},
		{name: "limit_in_subquery", sql: `SELECT s.id FROM (SELECT id, rating FROM surreal.review WHERE rating = 2 LIMIT 10) s`, limited: true, full: `SELECT id FROM surreal.review WHERE rating = 2`},
		// parameters of each type
		{name: "params_int_text", sql: `SELECT r.id FROM surreal.review r WHERE r.rating >= $1 AND r.product = $2`, args: []any{int64(3), "Apple"}},
		{name: "params_timestamptz", sql: `SELECT r.id, r.created_at FROM surreal.review r WHERE r.created_at >= $1 AND r.created_at < $2`, args: []any{t1, t2}},
		{name: "params_bool", sql: `SELECT r.id, c.id FROM surreal.review r JOIN customer c ON c.id = r.customer_id WHERE r.verified = $1 AND c.vip = $2`, args: []any{false, true}},
		{name: "params_text_unicode", sql: `SELECT r.id FROM surreal.review r WHERE r.product = $1 OR r.product = $2`, args: []any{"café", "cafe\u0301"}},
		{name: "params_int4", sql: `SELECT r.id FROM surreal.review r WHERE r.rating = $1::int`, args: []any{int32(2)}},
		{name: "timestamp_ge_sub_microsecond_param", sql: `SELECT r.id, r.created_at FROM surreal.review r WHERE r.created_at >= $1 AND r.created_at < $2`, args: []any{tsMicro.Add(500), tsMicro.Add(time.Hour)}},
		{name: "timestamp_eq_truncated", sql: `SELECT r.id FROM surreal.review r WHERE r.created_at = $1`, args: []any{tsNano.Truncate(time.Microsecond)}},
		{name: "timestamp_le_truncated", sql: `SELECT r.id FROM surreal.review r WHERE r.created_at <= $1 AND r.created_at > $2`, args: []any{tsNano.Truncate(time.Microsecond), tsNano.Add(-time.Hour)}},
		{name: "timestamp_gt_half", sql: `SELECT r.id FROM surreal.review r WHERE r.created_at > $1 AND r.created_at < $2`, args: []any{tsHalf.Truncate(time.Microsecond), tsHalf.Add(time.Hour)}},
		{name: "timestamp_ne", sql: `SELECT count(*) FROM surreal.review r WHERE r.created_at <> $1`, args: []any{tsNano.Truncate(time.Microsecond)}},
		{name: "timestamp_eq_nano_param", sql: `SELECT r.id FROM surreal.review r WHERE r.created_at = $1`, args: []any{tsNano}},
		{name: "timestamp_in_params", sql: `SELECT r.id FROM surreal.review r WHERE r.created_at IN ($1, $2, $3)`, args: []any{tsNano, tsMicro, tsHalf.Truncate(time.Microsecond)}},
		{name: "timestamp_lt_limit", sql: `SELECT id FROM surreal.review WHERE created_at < $1 LIMIT 25`, args: []any{tsHalf}, limited: true, full: `SELECT id FROM surreal.review WHERE created_at < $1`},
		// predicates
		{name: "is_distinct_from", sql: `SELECT r.id FROM surreal.review r WHERE r.helpful IS DISTINCT FROM 3 AND r.body IS NOT DISTINCT FROM NULL`},
		{name: "any_array_param", sql: `SELECT r.id FROM surreal.review r WHERE r.rating = ANY($1) AND r.product <> ALL($2)`, args: []any{[]int64{1, 4}, []string{"apple", ""}}},
		{name: "boolean_tests", sql: `SELECT r.id, r.verified FROM surreal.review r WHERE r.verified IS NOT TRUE OR NOT r.verified`},
		{name: "boolean_column_predicate", sql: `SELECT r.id FROM surreal.review r WHERE r.verified AND r.rating <> 0`},
		{name: "not_equal_negated", sql: `SELECT r.id FROM surreal.review r WHERE NOT (r.rating = 3) AND NOT (r.product = 'apple')`},
		{name: "upper_case_names", sql: `SELECT R.ID, R.RATING FROM SURREAL.REVIEW R WHERE R.RATING = 5`},
		{name: "three_part_column_names", sql: `SELECT surreal.review.id, surreal.review.rating FROM surreal.review WHERE surreal.review.rating = 5`},
		{name: "quoted_unknown_case_table", sql: `SELECT * FROM surreal."Review"`},
		{name: "collate_c", sql: `SELECT r.product, r.id FROM surreal.review r WHERE r.product < 'b' COLLATE "C" ORDER BY r.product COLLATE "C", r.id`, ordered: true},
		{name: "fetch_with_ties", sql: `SELECT id, rating FROM surreal.review ORDER BY rating FETCH FIRST 5 ROWS WITH TIES`},
		{name: "limit_zero", sql: `SELECT id FROM surreal.review LIMIT 0`},
		{name: "limit_null_param", sql: `SELECT id FROM surreal.review WHERE rating = 1 LIMIT $1`, args: []any{nil}},
		{name: "agg_aliases", sql: `SELECT product AS "Prod", count(*) AS "N", count(*), sum(rating) AS total FROM surreal.review GROUP BY product ORDER BY 1`, ordered: true},
		{name: "agg_all_null_group", sql: `SELECT product, count(*), count(helpful), sum(helpful), min(helpful), max(helpful) FROM surreal.review WHERE helpful IS NULL GROUP BY product`},
		{name: "agg_two_keys_positions", sql: `SELECT product, verified, count(*) FROM surreal.review GROUP BY product, verified ORDER BY 1, 2`},
		{name: "between", sql: `SELECT r.id FROM surreal.review r WHERE r.rating BETWEEN 2 AND 4 AND r.created_at BETWEEN $1 AND $2`, args: []any{t1, t2}},
		{name: "like_ilike", sql: `SELECT r.id, r.product, r.body FROM surreal.review r WHERE r.product LIKE 'a%' OR r.body ILIKE '%GREAT%' OR r.body LIKE '100\%%'`},
		{name: "ilike_exact", sql: `SELECT r.id FROM surreal.review r WHERE r.product ILIKE 'apple'`},
		{name: "string_range", sql: `SELECT r.id, r.product FROM surreal.review r WHERE r.product < 'm'`},
		{name: "string_range_between", sql: `SELECT r.id FROM surreal.review r WHERE r.product BETWEEN 'M' AND 'n' OR r.body >= 'tab'`},
		{name: "function_predicate", sql: `SELECT r.id FROM surreal.review r WHERE lower(r.product) = 'apple' OR length(r.body) > 20`},
		{name: "numeric_arithmetic", sql: `SELECT r.id, round(r.price * 1.19, 2), r.price / 3, r.score * 2, trunc(r.score::numeric, 3), r.helpful::numeric * 2, r.rating::float8 / 3, r.helpful % 7 FROM surreal.review r`},
		{name: "numeric_overflow_error", sql: `SELECT r.helpful + 1 FROM surreal.review r`},
		{name: "timestamp_arithmetic", sql: `SELECT r.id, date_trunc('month', r.created_at), r.created_at + interval '1 day 2 hours', extract(epoch FROM r.created_at),
			(r.created_at AT TIME ZONE 'Asia/Kolkata')::date, age(timestamptz '2026-01-01 00:00+00', r.created_at) FROM surreal.review r`},
		{name: "timestamp_join_pg", sql: `SELECT date_trunc('day', c.created_at) AS d, count(*) FROM customer c JOIN surreal.review r ON r.customer_id = c.id AND r.created_at > c.created_at GROUP BY 1`},
		{name: "jsonb_surreal", sql: `SELECT r.id, r.extra->>'color', (r.extra->>'n')::int, r.extra ? 'nested', r.extra @> '{"gift": true}', r.extra #>> '{nested,k}' FROM surreal.review r WHERE r.extra IS NOT NULL`},
		{name: "jsonb_pg_and_surreal", sql: `SELECT o.id, o.meta->>'channel', r.id AS rid FROM orders o JOIN surreal.review r ON r.customer_id = o.customer_id
			WHERE o.meta @> '{"gift": true}' AND r.extra->>'color' = o.meta->>'color'`},
		{name: "case_coalesce", sql: `SELECT r.id, CASE WHEN r.rating >= 4 THEN 'good' WHEN r.rating >= 2 THEN 'ok' ELSE 'bad' END, coalesce(r.body, '(none)'), coalesce(r.helpful, -1), nullif(r.product, '') FROM surreal.review r`},
		{name: "string_and_array_agg", sql: `SELECT r.customer_id, string_agg(r.product, ',' ORDER BY r.product, r.id), array_agg(r.rating ORDER BY r.created_at, r.id), array_agg(DISTINCT r.body) FROM surreal.review r GROUP BY r.customer_id`},
		{name: "array_column", sql: `SELECT r.id, r.tags, array_length(r.tags, 1), 'sale' = ANY(r.tags), r.tags @> ARRAY['NULL'] FROM surreal.review r WHERE cardinality(r.tags) > 0`},
		{name: "unnest_tags", sql: `SELECT t, count(*) FROM surreal.review r, unnest(r.tags) t GROUP BY t`},
		{name: "row_to_json", sql: `SELECT row_to_json(p) FROM surreal.person p`},
		// bind joins on other keys
		{name: "bind_join_string", sql: `SELECT p.name, p.category, r.id FROM product p JOIN surreal.review r ON r.product = p.name WHERE p.category = 'fruit'`},
		{name: "bind_join_char_key", sql: `SELECT p.sku, r.id FROM product p JOIN surreal.review r ON r.product = p.sku WHERE p.category = 'odd'`},
		{name: "bind_join_record_key_int", sql: `SELECT c.id, p.name FROM customer c JOIN surreal.person p ON p.id = c.id WHERE c.country = 'JP'`},
		{name: "bind_join_record_key_text", sql: `SELECT o.id, r.rating FROM orders o JOIN surreal.review r ON r.id = o.id::text WHERE o.status = 'new'`},
		{name: "bind_join_text_column", sql: `SELECT o.id, r.id AS rid FROM orders o JOIN surreal.review r ON r.id = o.status WHERE o.id < 50`},
		{name: "bind_join_direct_char_constant", sql: `SELECT p.name, r.id FROM product p JOIN surreal.review r ON r.product = p.sku WHERE p.sku = 'melon'`},
		{name: "bind_join_direct_char_padded_constant", sql: `SELECT p.name, r.id FROM product p JOIN surreal.review r ON r.product = p.sku WHERE p.sku = 'melon  '`},
		{name: "bind_join_direct_text_int", sql: `SELECT c.name, r.id FROM customer c JOIN surreal.review r ON r.customer_id = c.id WHERE c.id = '7'`},
		// bind joins chained from one SurrealDB scan to another
		{name: "chain_surreal_to_surreal", sql: `SELECT p.name, r.id FROM surreal.person p JOIN surreal.review r ON r.customer_id = p.customer_id WHERE p.city = 'Paris'`},
		{name: "chain_into_nullable_side", sql: `SELECT p.id, r.id AS rid FROM surreal.person p LEFT JOIN surreal.review r ON r.customer_id = p.customer_id WHERE p.age >= 80`},
		{name: "chain_onto_record_key", sql: `SELECT r.id, p.id AS pid, p.name FROM surreal.review r JOIN surreal.person p ON p.id = r.customer_id WHERE r.product = 'apple'`},
		{name: "chain_pg_surreal_surreal", sql: `SELECT c.name, p.name AS person, r.id FROM customer c JOIN surreal.person p ON p.customer_id = c.id JOIN surreal.review r ON r.customer_id = p.customer_id WHERE c.country = 'BR'`},
		{name: "chain_hostile_strings", sql: `SELECT p.id, r.id AS rid, r.body FROM surreal.person p JOIN surreal.review r ON r.body = p.name WHERE p.age > 30`},
		{name: "chain_preserved_side", sql: `SELECT r.id, p.id AS pid FROM surreal.review r LEFT JOIN surreal.person p ON p.customer_id = r.customer_id WHERE r.rating = 0`},
		{name: "chain_full_join", sql: `SELECT r.id, p.id AS pid FROM surreal.review r FULL JOIN surreal.person p ON p.customer_id = r.customer_id WHERE r.rating = 0 OR p.age = 3`},
		// the examples
		{name: "issue_friends_latest_reviews", sql: `WITH spend AS (
				SELECT customer_id, sum(total) AS lifetime FROM orders GROUP BY customer_id
			), latest AS (
				SELECT p.customer_id AS cid, q.name AS friend, r.product, r.rating, r.created_at,
					row_number() OVER (PARTITION BY p.customer_id, q.id ORDER BY r.created_at DESC, r.id) AS rn
				FROM surreal.person p
				JOIN surreal.friend f ON f.in_id = p.id::text
				JOIN surreal.person q ON q.id::text = f.out_id
				JOIN surreal.review r ON r.customer_id = q.customer_id
			)
			SELECT c.name, s.lifetime, l.friend, l.product, l.rating, l.created_at
			FROM customer c
			LEFT JOIN spend s ON s.customer_id = c.id
			LEFT JOIN latest l ON l.cid = c.id AND l.rn = 1`},
		{name: "issue_customer_report", sql: `SELECT c.id, c.name, o.n AS orders, o.spend, r.n AS reviews, r.avg_rating, r.last_review
			FROM customer c
			LEFT JOIN (SELECT customer_id, count(*) AS n, sum(total) AS spend FROM orders GROUP BY customer_id) o ON o.customer_id = c.id
			LEFT JOIN (SELECT customer_id, count(*) AS n, round(avg(rating), 2) AS avg_rating, max(created_at) AS last_review FROM surreal.review GROUP BY customer_id) r ON r.customer_id = c.id
			WHERE c.country = $1 OR c.country IS NULL
			ORDER BY c.id`, args: []any{"DE"}, ordered: true},
		{name: "issue_customer_report_joined", sql: `SELECT c.country, count(DISTINCT c.id), count(DISTINCT o.id), count(DISTINCT r.id), sum(o.total), avg(r.rating)
			FROM customer c JOIN orders o ON o.customer_id = c.id JOIN surreal.review r ON r.customer_id = c.id
			WHERE o.status IN ('paid', 'shipped') AND r.rating >= $1
			GROUP BY ROLLUP (c.country)`, args: []any{int64(3)}},
	}
}

// surrealReads are the SurrealQL statements an EXPLAIN FEDERATED ran for
// scans and aggregates (not surreal.query), and whether it asked
// PostgreSQL for bind-join keys.
func surrealReads(lines []string) (reads []string, joinKeys bool) {
	for i, l := range lines {
		l = strings.TrimSpace(l)
		switch {
		case strings.Contains(l, ". PostgreSQL (join keys)"):
			joinKeys = true
		case strings.Contains(l, ". SurrealDB") && !strings.Contains(l, "surreal.query") && i+1 < len(lines):
			reads = append(reads, strings.TrimSpace(lines[i+1]))
		}
	}
	return reads, joinKeys
}

// TestPushdownExplain checks what EXPLAIN FEDERATED shows is pushed to
// SurrealDB, and that each query still gives PostgreSQL's result.
func TestPushdownExplain(t *testing.T) {
	t.Parallel()
	env := newEqEnv(t)
	tests := []struct {
		name     string
		sql      string
		args     []any
		want     []string // in the SurrealQL that reads review
		not      []string // not in it
		joinKeys bool
		limited  string // the query without its LIMIT: compare counts only
	}{
		{name: "where_int", sql: `SELECT r.id FROM surreal.review r WHERE r.rating >= 4`, want: []string{" WHERE ", "`rating` >="}},
		{name: "where_string_eq", sql: `SELECT r.id FROM surreal.review r WHERE r.product = 'apple'`, want: []string{" WHERE ", "`product` ="}},
		{name: "where_in", sql: `SELECT r.id FROM surreal.review r WHERE r.rating IN (1, 2)`, want: []string{"`rating` IN"}},
		{name: "where_less_than_excludes_none", sql: `SELECT r.id FROM surreal.review r WHERE r.helpful < 3`, want: []string{"`helpful` <", "`helpful` != NONE"}},
		{name: "where_datetime_param_as_range", sql: `SELECT r.id FROM surreal.review r WHERE r.created_at = $1`, args: []any{tsNano.Truncate(time.Microsecond)},
			want: []string{"`created_at` >=", "`created_at` <"}},
		{name: "bind_join_keys", sql: `SELECT c.name, r.rating FROM customer c JOIN surreal.review r ON r.customer_id = c.id WHERE c.country = $1`, args: []any{"DE"},
			want: []string{"`customer_id` IN"}, joinKeys: true},
		{name: "bind_join_char_keys_as_text", sql: `SELECT p.sku, r.id FROM product p JOIN surreal.review r ON r.product = p.sku WHERE p.category = 'odd'`,
			want: []string{"`product` IN"}, joinKeys: true},
		{name: "bind_join_direct_value", sql: `SELECT c.name, r.rating FROM customer c JOIN surreal.review r ON r.customer_id = c.id WHERE c.id = $1`, args: []any{int64(7)},
			want: []string{"`customer_id` IN"}},
		{name: "left_join_strict_where", sql: `SELECT c.id, r.id FROM customer c LEFT JOIN surreal.review r ON r.customer_id = c.id WHERE r.rating >= 4`, want: []string{"`rating` >="}},
		{name: "left_join_on_into_nullable_side", sql: `SELECT c.id, r.id FROM customer c LEFT JOIN surreal.review r ON r.customer_id = c.id AND r.rating = 5`, want: []string{"`rating` ="}},
		{name: "limit_plain", sql: `SELECT * FROM surreal.review LIMIT 5`, want: []string{" LIMIT "}, limited: `SELECT * FROM surreal.review`},
		{name: "limit_with_where", sql: `SELECT id FROM surreal.review WHERE rating = 5 LIMIT 3`, want: []string{" WHERE ", " LIMIT "}, limited: `SELECT id FROM surreal.review WHERE rating = 5`},
		{name: "limit_offset", sql: `SELECT id FROM surreal.review WHERE helpful <> 0 LIMIT 4 OFFSET 6`, want: []string{" LIMIT "}, limited: `SELECT id FROM surreal.review WHERE helpful <> 0`},
		// must not be pushed
		{name: "string_range", sql: `SELECT r.id FROM surreal.review r WHERE r.product < 'm'`, not: []string{" WHERE "}},
		{name: "string_range_between", sql: `SELECT r.id FROM surreal.review r WHERE r.product BETWEEN 'a' AND 'n'`, not: []string{" WHERE "}},
		{name: "function_predicate", sql: `SELECT r.id FROM surreal.review r WHERE lower(r.product) = 'apple'`, not: []string{" WHERE "}},
		{name: "like", sql: `SELECT r.id FROM surreal.review r WHERE r.product LIKE 'a%'`, not: []string{" WHERE "}},
		{name: "is_null_on_nullable_side", sql: `SELECT c.id FROM customer c LEFT JOIN surreal.review r ON r.customer_id = c.id WHERE r.rating IS NULL`, not: []string{" WHERE "}},
		{name: "is_null_nullable_col_on_nullable_side", sql: `SELECT c.id, r.id FROM customer c LEFT JOIN surreal.review r ON r.customer_id = c.id WHERE r.helpful IS NULL`, not: []string{" WHERE "}},
		{name: "on_of_preserved_side", sql: `SELECT r.id, c.id FROM surreal.review r LEFT JOIN customer c ON c.id = r.customer_id AND r.rating = 5`, not: []string{" WHERE "}},
		{name: "not_in_list", sql: `SELECT r.id FROM surreal.review r WHERE r.rating NOT IN (1, 2)`, not: []string{" WHERE "}},
		{name: "param_of_another_type", sql: `SELECT r.id FROM surreal.review r WHERE r.rating = $1`, args: []any{"+5"}, not: []string{" WHERE "}},
		{name: "datetime_constant", sql: `SELECT r.id FROM surreal.review r WHERE r.created_at > '2024-01-01'`, not: []string{" WHERE "}},
		{name: "limit_with_order_by", sql: `SELECT id, rating FROM surreal.review ORDER BY rating, id LIMIT 5`, not: []string{" LIMIT "}},
		{name: "limit_with_aggregate", sql: `SELECT customer_id, avg(rating) FROM surreal.review GROUP BY customer_id LIMIT 5`, not: []string{" LIMIT "}, limited: `SELECT customer_id, avg(rating) FROM surreal.review GROUP BY customer_id`},
		{name: "limit_with_pushed_aggregate", sql: `SELECT count(*) FROM surreal.review LIMIT 5`, not: []string{" LIMIT "}},
		{name: "limit_with_distinct", sql: `SELECT DISTINCT product FROM surreal.review LIMIT 5`, not: []string{" LIMIT "}, limited: `SELECT DISTINCT product FROM surreal.review`},
		{name: "limit_with_unpushed_where", sql: `SELECT id FROM surreal.review WHERE lower(product) = 'apple' LIMIT 3`, not: []string{" LIMIT "}, limited: `SELECT id FROM surreal.review WHERE lower(product) = 'apple'`},
		{name: "limit_past_join", sql: `SELECT r.id FROM surreal.review r JOIN (VALUES (5)) v(k) ON r.rating = v.k LIMIT 30`, not: []string{" LIMIT "}, limited: `SELECT r.id FROM surreal.review r JOIN (VALUES (5)) v(k) ON r.rating = v.k`},
		{name: "limit_with_expression", sql: `SELECT id, rating + 1 FROM surreal.review LIMIT 3`, not: []string{" LIMIT "}, limited: `SELECT id, rating + 1 FROM surreal.review`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, err := env.f.engine.Query(context.Background(), nil, "EXPLAIN FEDERATED "+tc.sql, tc.args, QueryOptions{})
			if err != nil {
				t.Fatal(err)
			}
			plan := strings.Join(res.Explain, "\n")
			reads, joinKeys := surrealReads(res.Explain)
			var read string
			for _, r := range reads {
				if strings.Contains(r, "FROM `review`") || strings.Contains(r, "FROM (SELECT * FROM $") {
					read = r
				}
			}
			if read == "" {
				t.Fatalf("no SurrealDB read of review:\n%s", plan)
			}
			for _, w := range tc.want {
				if !strings.Contains(read, w) {
					t.Errorf("SurrealQL %s lacks %q\n%s", read, w, plan)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(read, w) {
					t.Errorf("SurrealQL %s has %q, which must not be pushed\n%s", read, w, plan)
				}
			}
			if joinKeys != tc.joinKeys {
				t.Errorf("join keys read: %v, want %v\n%s", joinKeys, tc.joinKeys, plan)
			}
			env.check(t, eqCase{sql: tc.sql, args: tc.args, limited: tc.limited != "", full: tc.limited})
		})
	}
}

// busiest are the persons with the most outgoing friend edges (ties by
// id), at least one of them with two edges to the same person.
func (env *eqEnv) busiest(n int) []int64 {
	count := map[int64]int{}
	multi := map[int64]bool{}
	pairs := map[[2]int64]bool{}
	for _, e := range env.data.friends {
		a, b := e["a"].(int64), e["b"].(int64)
		count[a]++
		if pairs[[2]int64{a, b}] {
			multi[a] = true
		}
		pairs[[2]int64{a, b}] = true
	}
	ids := make([]int64, 0, len(count))
	for id := range count {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(x, y int64) int {
		if count[x] != count[y] {
			return count[y] - count[x]
		}
		return int(min(max(x-y, -1), 1))
	})
	out := slices.Clone(ids[:n])
	for _, id := range ids {
		if multi[id] && !slices.Contains(out, id) {
			return append(out, id)
		}
	}
	return out
}

// TestPassthroughGraph runs SurrealQL graph queries through
// surreal.query() and checks them against the same facts computed by
// PostgreSQL from the copy's friend edges.
func TestPassthroughGraph(t *testing.T) {
	t.Parallel()
	env := newEqEnv(t)
	at := time.Date(2024, 5, 5, 10, 0, 0, 500_000_000, time.UTC) // the SDK used to drop the .5 s
	type tc struct {
		name      string
		fed, want string
		args      []any
	}
	var tests []tc
	for _, id := range env.busiest(3) {
		x := strconv.FormatInt(id, 10)
		tests = append(tests,
			tc{name: "friend_names_" + x,
				fed:  `SELECT array(SELECT unnest(t.friends) ORDER BY 1) FROM surreal.query('SELECT ->friend->person.name AS friends FROM type::record(''person'', $arg1)', ` + x + `) AS t(friends text[])`,
				want: `SELECT array(SELECT q.name FROM surreal.friend f JOIN surreal.person q ON q.id::text = f.out_id WHERE f.in_id = '` + x + `' ORDER BY 1)`},
			tc{name: "friend_customers_joined_" + x,
				fed: `SELECT c.id, c.name, c.country FROM surreal.query('SELECT VALUE ->friend->person.customer_id FROM ONLY type::record(''person'', $arg1)', ` + x + `) AS t(cid bigint)
					JOIN customer c ON c.id = t.cid`,
				want: `SELECT c.id, c.name, c.country FROM surreal.friend f JOIN surreal.person q ON q.id::text = f.out_id JOIN customer c ON c.id = q.customer_id WHERE f.in_id = '` + x + `'`},
			tc{name: "friends_spend_" + x,
				fed: `SELECT sum(o.total), count(o.id) FROM surreal.query('SELECT VALUE ->friend->person.customer_id FROM ONLY type::record(''person'', $arg1)', ` + x + `) AS t(cid bigint)
					JOIN orders o ON o.customer_id = t.cid`,
				want: `SELECT sum(o.total), count(o.id) FROM surreal.friend f JOIN surreal.person q ON q.id::text = f.out_id JOIN orders o ON o.customer_id = q.customer_id WHERE f.in_id = '` + x + `'`},
		)
	}
	tests = append(tests,
		tc{name: "friend_counts_joined",
			fed: `SELECT t.id, t.n, p.name, c.country FROM surreal.query('SELECT id, count(->friend) AS n FROM person') AS t(id bigint, n bigint)
				JOIN surreal.person p ON p.id = t.id LEFT JOIN customer c ON c.id = p.customer_id`,
			want: `SELECT p.id, (SELECT count(*) FROM surreal.friend f WHERE f.in_id = p.id::text), p.name, c.country FROM surreal.person p LEFT JOIN customer c ON c.id = p.customer_id`},
		tc{name: "edges_as_text",
			fed:  `SELECT * FROM surreal.query('SELECT id, in, out, strength, since FROM friend') AS t(id text, "in" text, "out" text, strength bigint, since timestamptz)`,
			want: `SELECT id, in_id, out_id, strength, since FROM surreal.friend`},
		tc{name: "named_args_hostile_string",
			fed:  `SELECT t.id FROM surreal.query('SELECT VALUE id FROM review WHERE rating >= $min AND product = $p', min => 2, p => '''; DROP TABLE review; --') AS t(id text)`,
			want: `SELECT id FROM surreal.review WHERE rating >= 2 AND product = '''; DROP TABLE review; --'`},
		tc{name: "timestamptz_param",
			fed:  `SELECT t.id FROM surreal.query('SELECT VALUE id FROM review WHERE created_at >= $arg1', $1) AS t(id text) WHERE $1::timestamptz IS NOT NULL`,
			want: `SELECT id FROM surreal.review WHERE created_at >= $1`, args: []any{at}},
		tc{name: "int_and_text_params",
			fed:  `SELECT t.id FROM surreal.query('SELECT VALUE id FROM review WHERE rating = $arg1 AND body = $arg2', $1, $2) AS t(id text) WHERE $1::bigint IS NOT NULL AND $2::text IS NOT NULL`,
			want: `SELECT id FROM surreal.review WHERE rating = $1 AND body = $2`, args: []any{int64(4), "`; REMOVE TABLE review; --"}},
	)
	ctx := context.Background()
	for _, c := range tests {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			fed, err := env.f.engine.Query(ctx, nil, c.fed, c.args, QueryOptions{})
			if err != nil {
				t.Fatalf("%s: %v", c.fed, err)
			}
			want, err := collect(ctx, env.copy, c.want, c.args)
			if err != nil {
				t.Fatalf("%s: %v", c.want, err)
			}
			if len(want.Rows) == 0 {
				t.Fatalf("%s: no rows to compare", c.want)
			}
			if d := diffRows(fed.Rows, want.Rows, false); d != "" {
				t.Fatalf("%s\nagainst %s\n%s", c.fed, c.want, d)
			}
		})
	}
}

// TestHostileInput: names and values that need escaping, SQL and
// SurrealQL injection attempts, and the errors a client must get.
func TestHostileInput(t *testing.T) {
	t.Parallel()
	env := newEqEnv(t)
	odd := "surreal." + postgres.Ident(oddTable)
	hostile := []string{"'; DROP TABLE review; --", "`; REMOVE TABLE review; --", "$v1", "$v2 OR true", `\`, "`", "'", `"`,
		"⟩; REMOVE TABLE review; ⟨", "review:1", "NONE", "", "cafe\u0301"}
	cases := []eqCase{
		{name: "odd_star", sql: `SELECT * FROM ` + odd},
		{name: "odd_columns_param", sql: `SELECT o."we` + "`" + `ird", o."a b", o."""dq""", o."Mixed Case" FROM ` + odd + ` o WHERE o."a b" >= $1`, args: []any{int64(20)}},
		{name: "odd_string_eq_backtick", sql: `SELECT id FROM ` + odd + ` WHERE "we` + "`" + `ird" = 'x` + "`" + `y'`},
		{name: "odd_is_null", sql: `SELECT id, "a b" FROM ` + odd + ` WHERE """dq""" IS NULL`},
		{name: "odd_order", sql: `SELECT id, "Mixed Case" FROM ` + odd + ` ORDER BY "Mixed Case" NULLS FIRST, id`, ordered: true},
		{name: "odd_aggregate", sql: `SELECT "Mixed Case", count(*), sum("a b"), max("a b") FROM ` + odd + ` GROUP BY "Mixed Case"`},
		{name: "odd_bind_join_on_escaped_ids", sql: `SELECT x.rid, o."we` + "`" + `ird" FROM odd_ref x JOIN ` + odd + ` o ON o.id = x.rid WHERE x.tag = 'sel'`},
		{name: "odd_bind_join_all_ids", sql: `SELECT x.rid, o.id FROM odd_ref x JOIN ` + odd + ` o ON o.id = x.rid WHERE x.tag IN ('sel', 'other')`},
		{name: "odd_direct_escaped_id", sql: `SELECT x.rid, o.id FROM odd_ref x JOIN ` + odd + ` o ON o.id = x.rid WHERE x.rid = '` + "`a b`" + `'`},
		{name: "constants_injection", sql: `SELECT r.id FROM surreal.review r WHERE r.product = '''; DROP TABLE review; --' OR r.body IN ('` + "`; REMOVE TABLE review; --" + `', '$v1')`},
		{name: "constant_dollar", sql: `SELECT r.id FROM surreal.review r WHERE r.product = '$v1'`},
		{name: "like_injection", sql: `SELECT r.id FROM surreal.review r WHERE r.body LIKE '%''%' OR r.body LIKE '%` + "`" + `%'`},
	}
	for i, h := range hostile {
		cases = append(cases, eqCase{name: "param_" + strconv.Itoa(i), sql: `SELECT r.id, r.product FROM surreal.review r WHERE r.product = $1 OR r.body = $1 OR $1 = ANY(r.tags)`, args: []any{h}})
		cases = append(cases, eqCase{name: "param_in_" + strconv.Itoa(i), sql: `SELECT r.id FROM surreal.review r WHERE r.product IN ($1, 'apple') AND r.product <> $1`, args: []any{h}})
	}
	t.Run("queries", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				env.check(t, c)
			})
		}
	})
	// SurrealDB was not changed by any of it.
	env.check(t, eqCase{sql: "SELECT * FROM surreal.review"})
	if got := env.fed(t, "SELECT count(*) FROM surreal.review").Rows[0][0]; got != int64(len(env.data.reviews)) {
		t.Fatalf("review has %v records, want %d", got, len(env.data.reviews))
	}

	errs := []struct {
		name, sql, code, mention string
		position                 bool
	}{
		{name: "unknown_table", sql: `SELECT * FROM surreal.no_such_table`, code: "42P01", mention: "no_such_table"},
		{name: "unknown_table_joined", sql: `SELECT c.id FROM customer c JOIN surreal."We ird" w ON w.id = c.id::text`, code: "42P01", mention: "We ird"},
		{name: "unknown_column", sql: `SELECT r.no_such_column FROM surreal.review r`, code: "42703", mention: "no_such_column"},
		{name: "unknown_column_where", sql: `SELECT r.id FROM surreal.review r WHERE r.ratng = 4`, code: "42703", mention: "ratng"},
		{name: "insert", sql: `INSERT INTO surreal.review (customer_id, product, rating) VALUES (1, 'x', 5)`, code: "0A000", mention: "not supported"},
		{name: "insert_select", sql: `INSERT INTO surreal.review SELECT * FROM surreal.review`, code: "0A000", mention: "not supported"},
		{name: "update", sql: `UPDATE surreal.review SET rating = 1 WHERE id = '1'`, code: "0A000", mention: "not supported"},
		{name: "delete", sql: `DELETE FROM surreal.review`, code: "0A000", mention: "not supported"},
		{name: "truncate", sql: `TRUNCATE surreal.review`, code: "0A000", mention: "not supported"},
		{name: "syntax", sql: `SELECT * FROM surreal.review WHERE`, code: "42601", position: true},
		{name: "syntax_typo", sql: `SELECT id FRM surreal.review`, code: "42601", position: true},
		{name: "syntax_explain", sql: `EXPLAIN FEDERATED SELECT id FRM surreal.review`, code: "42601", position: true},
	}
	ctx := context.Background()
	for _, e := range errs {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			_, err := env.f.engine.Query(ctx, nil, e.sql, nil, QueryOptions{})
			var pe *pgconn.PgError
			if !errors.As(err, &pe) {
				t.Fatalf("%s: got %v (%T), want a *pgconn.PgError", e.sql, err, err)
			}
			if pe.Code != e.code || !strings.Contains(pe.Message, e.mention) {
				t.Fatalf("%s: got %s %q, want %s mentioning %q", e.sql, pe.Code, pe.Message, e.code, e.mention)
			}
			if !e.position {
				return
			}
			// PostgreSQL's own position for the same text (after the
			// EXPLAIN FEDERATED prefix, which PostgreSQL does not know).
			plain, prefix := strings.CutPrefix(e.sql, "EXPLAIN FEDERATED ")
			_, perr := collect(ctx, env.copy, plain, nil)
			var want *pgconn.PgError
			if !errors.As(perr, &want) || want.Code != e.code {
				t.Fatalf("PostgreSQL gave %v for %s", perr, plain)
			}
			if prefix {
				want.Position += int32(len("EXPLAIN FEDERATED "))
			}
			if pe.Position <= 0 || pe.Position != want.Position {
				t.Fatalf("%s: position %d, PostgreSQL says %d", e.sql, pe.Position, want.Position)
			}
		})
	}
}

// TestEquivalenceParamSweep runs each statement with many parameter
// values in turn (the engine reuses its plan), every result checked.
func TestEquivalenceParamSweep(t *testing.T) {
	t.Parallel()
	env := newEqEnv(t)
	var custs, products, times, personIDs []any
	for _, c := range env.data.customers {
		custs = append(custs, c[0])
	}
	custs = append(custs, int64(424242), nil)
	for _, p := range eqProducts {
		products = append(products, p)
	}
	products = append(products, "'; DROP TABLE review; --", "`", nil)
	for _, r := range env.data.reviews[:40] {
		times = append(times, r["created_at"].(models.CustomDateTime).Time)
	}
	for _, p := range env.data.persons {
		personIDs = append(personIDs, p["id"])
	}
	sweeps := []struct {
		name string
		sql  string
		vals []any
	}{
		{"customer_bind", `SELECT c.name, r.id, r.rating FROM customer c JOIN surreal.review r ON r.customer_id = c.id WHERE c.id = $1`, custs},
		{"customer_left_anti", `SELECT c.id FROM customer c LEFT JOIN surreal.review r ON r.customer_id = c.id AND r.rating >= 4 WHERE c.id = $1 AND r.id IS NULL`, custs},
		{"product_eq", `SELECT r.id FROM surreal.review r WHERE r.product = $1`, products},
		{"product_bind", `SELECT p.name, r.id FROM product p JOIN surreal.review r ON r.product = p.name WHERE p.name = $1`, products},
		{"created_le", `SELECT r.id FROM surreal.review r WHERE r.created_at <= $1 AND r.rating = 3`, times},
		{"created_eq", `SELECT r.id FROM surreal.review r WHERE r.created_at = $1`, times},
		{"person_key", `SELECT p.name, f.id FROM surreal.person p JOIN surreal.friend f ON f.in_id = p.id::text WHERE p.id = $1`, personIDs},
		{"review_key", `SELECT r.id, r.rating FROM surreal.review r JOIN orders o ON o.id::text = r.id WHERE r.id = $1`, []any{"1", "17", "999", "1000", "1001", "0", "-1", "`1`", "abc", nil}},
	}
	for _, sw := range sweeps {
		t.Run(sw.name, func(t *testing.T) {
			t.Parallel()
			for _, v := range sw.vals {
				env.check(t, eqCase{sql: sw.sql, args: []any{v}})
			}
		})
	}
}

// TestEquivalenceBindJoinCap: with more keys than federation.bind_join_cap
// a scan reads without them, with the same results.
func TestEquivalenceBindJoinCap(t *testing.T) {
	t.Parallel()
	fc := config.Default().Federation
	fc.BindJoinCap = 2
	env := newEqEnvWith(t, fc)
	for _, c := range []eqCase{
		{sql: `SELECT c.name, r.id FROM customer c JOIN surreal.review r ON r.customer_id = c.id WHERE c.country = 'DE'`},
		{sql: `SELECT c.name, r.id FROM customer c JOIN surreal.review r ON r.customer_id = c.id WHERE c.id IN (1, 2)`},
		{sql: `SELECT p.name, r.id FROM product p JOIN surreal.review r ON r.product = p.sku WHERE p.category = 'odd'`},
		{sql: `SELECT p.name, r.id FROM surreal.person p JOIN surreal.review r ON r.customer_id = p.customer_id WHERE p.city = 'Paris'`},
		{sql: `SELECT x.rid, o.id FROM odd_ref x JOIN surreal.` + postgres.Ident(oddTable) + ` o ON o.id = x.rid WHERE x.tag = 'sel'`},
	} {
		env.check(t, c)
	}
}

// TestEquivalencePassthroughParams: a client parameter whose only use is
// as a surreal.query() argument vanishes with the call from the rewritten
// statement; PostgreSQL must still be able to run it (it failed with
// 42P18 "could not determine data type of parameter $1" before
// Statement.keepParams).
func TestEquivalencePassthroughParams(t *testing.T) {
	t.Parallel()
	env := newEqEnv(t)
	id := env.busiest(1)[0]
	ctx := context.Background()
	for _, c := range []struct {
		name, fed, want string
		args            []any
	}{
		{name: "passthrough_param_only_in_call",
			fed:  `SELECT array(SELECT unnest(t.friends) ORDER BY 1) FROM surreal.query('SELECT ->friend->person.name AS friends FROM type::record(''person'', $arg1)', $1) AS t(friends text[])`,
			want: `SELECT array(SELECT q.name FROM surreal.friend f JOIN surreal.person q ON q.id::text = f.out_id WHERE f.in_id = $1::bigint::text ORDER BY 1)`,
			args: []any{id}},
		{name: "passthrough_params_joined_with_pg",
			fed: `SELECT c.id, c.name FROM surreal.query('SELECT VALUE ->friend->person.customer_id FROM ONLY type::record(''person'', $arg1)', $1) AS t(cid bigint)
				JOIN customer c ON c.id = t.cid`,
			want: `SELECT c.id, c.name FROM surreal.friend f JOIN surreal.person q ON q.id::text = f.out_id JOIN customer c ON c.id = q.customer_id WHERE f.in_id = $1::bigint::text`,
			args: []any{id}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			fed, err := env.f.engine.Query(ctx, nil, c.fed, c.args, QueryOptions{})
			if err != nil {
				t.Fatalf("%s: %v", c.fed, err)
			}
			want, err := collect(ctx, env.copy, c.want, c.args)
			if err != nil {
				t.Fatalf("%s: %v", c.want, err)
			}
			if d := diffRows(fed.Rows, want.Rows, false); d != "" {
				t.Fatalf("%s\n%s", c.fed, d)
			}
		})
	}
}
