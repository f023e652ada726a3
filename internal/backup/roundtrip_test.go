package backup_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/backup"
	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	pgreverse "github.com/pgsurreal/pgsurreal/internal/reverse"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	pgsync "github.com/pgsurreal/pgsurreal/internal/sync"
	"github.com/pgsurreal/pgsurreal/internal/verify"
)

// typeValues are the PostgreSQL types the sync maps (the golden cases of
// internal/mapping), each with literals in its input format.
var typeValues = []struct {
	typ    string
	values []string
}{
	{"int2", []string{"0", "-32768", "32767"}},
	{"int4", []string{"42", "-2147483648", "2147483647"}},
	{"int8", []string{"-9223372036854775808", "9223372036854775807"}},
	{"oid", []string{"0", "4294967295"}},
	{"float4", []string{"1.1", "-0", "NaN", "Infinity", "-Infinity", "3.4028235e38", "1e-45"}},
	{"float8", []string{"3.141592653589793", "0.1", "-0", "1e308", "5e-324", "NaN", "Infinity", "-Infinity"}},
	{"numeric", []string{"12.50", "-0.001", "0", "1234567890123456789012345678.9", "79228162514264337593543950335", "0.0000000000000000000000000001", "NaN", "Infinity", "-Infinity"}},
	{"numeric(10,4)", []string{"3.14", "-99.0001"}},
	{"money", []string{"1234.56", "-1234.56", "92233720368547758.07"}},
	{"bool", []string{"true", "false"}},
	{"text", []string{"", "hello", "it's \"quoted\" \\back\\slash {braces} [x] (y), NULL\n\ttab ü 😀 ☃ \u2028 `tick` ⟨angle⟩ -- TABLE DATA: x", "NULL"}},
	{"varchar(10)", []string{"abc"}},
	{"char(5)", []string{"ab"}},
	{`"char"`, []string{"x"}},
	{"name", []string{"pg_class"}},
	{"citext", []string{"MiXeD Case"}},
	{"bytea", []string{`\x`, `\x00ff10`, `a\\b`}},
	{"date", []string{"2024-02-29", "0001-01-01", "0044-03-15 BC", "4713-01-01 BC", "infinity", "-infinity"}},
	{"timestamp", []string{"2024-01-02 03:04:05.123456", "0001-01-01 00:00:00", "0044-03-15 12:00:00 BC", "262142-12-31 23:59:59.999999", "infinity", "-infinity"}},
	{"timestamptz", []string{"2024-01-02 03:04:05.123456+00", "2024-07-01 12:00:00+05:30", "1800-01-01 00:00:00+00", "infinity", "-infinity"}},
	{"time", []string{"00:00:00", "23:59:59.999999", "24:00:00"}},
	{"timetz", []string{"12:34:56.789+05:30"}},
	{"interval", []string{"1 year 2 months 3 days 04:05:06.789", "0.000001 seconds", "1 day -00:00:01", "-1 day", "2562048 hours", "-178000000 years -1 day -00:00:00.5"}},
	{"uuid", []string{"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "00000000-0000-0000-0000-000000000000"}},
	{"json", []string{`{"a": 1, "a": 2}`, `[1, 2.5, "x", null, true]`, `"scalar"`, `12345678901234567890123`, `1.5e3`}},
	{"jsonb", []string{`{"nested": {"n": null, "arr": [1, {"b": [true]}]}, "huge": 12345678901234567890, "f": 1.5, "s": "é\n\"q\"", "k y": {}}`, `[]`, `{}`, `0.1`, `-0.0`, `3.14159265358979323846`}},
	{"int4[]", []string{"{}", "{1,2,3}", "{{1,2},{3,4}}", "{1,NULL,3}", "[0:1]={1,2}"}},
	{"text[]", []string{`{"a,b","c}d","e\"f","g\\h","NULL",NULL,""," sp ","ü"}`, `{{"x"},{"y"}}`}},
	{"numeric[]", []string{"{1.50,NaN,-0}"}},
	{"timestamptz[]", []string{`{"2024-01-02 03:04:05+00",infinity}`}},
	{"jsonb[]", []string{`{"{\"a\": [1, null]}","null"}`}},
	{"box[]", []string{"{(1,1),(0,0);(3,3),(2,2)}"}},
	{"int2vector", []string{"1 2 3"}},
	{"mood", []string{"happy ☺", "it's"}},
	{"mood[]", []string{`{sad,"happy ☺"}`}},
	{"price", []string{"19.90"}},
	{"posint", []string{"7"}},
	{"moods", []string{"{ok,sad}"}},
	{"inet", []string{"192.168.0.1/24", "::1"}},
	{"cidr", []string{"10.0.0.0/8"}},
	{"macaddr", []string{"08:00:2b:01:02:03"}},
	{"macaddr8", []string{"08:00:2b:01:02:03:04:05"}},
	{"point", []string{"(1.5,-2.25)", "(NaN,Infinity)"}},
	{"int4range", []string{"empty", "[1,10)", "(,5]", "(,)"}},
	{"int8range", []string{"[-9223372036854775808,9223372036854775807)"}},
	{"numrange", []string{"[1.50,2.5]"}},
	{"daterange", []string{"[2024-01-01,infinity)"}},
	{"tsrange", []string{`["2024-01-01 00:00:00","2024-12-31 23:59:59.5")`}},
	{"tstzrange", []string{"[2024-01-01 00:00:00+00,)"}},
	{"textrange", []string{`["a b","z\"q\\")`}},
	{"address", []string{`("1 Main St, Apt ""2""",12345,"{a,b}")`, `(,,)`}},
	{"int4multirange", []string{"{[1,3),[5,7)}"}},
	{"xml", []string{`<a x="1">t</a>`}},
	{"tsvector", []string{"a fat cat"}},
	{"bit(4)", []string{"1010"}},
	{"varbit", []string{"101"}},
	{"hstore", []string{`a=>1, "b c"=>NULL`}},
	{"jsonpath", []string{"$.a[*] ? (@ > 1)"}},
}

const shopSchema = `
CREATE EXTENSION IF NOT EXISTS citext;
CREATE EXTENSION IF NOT EXISTS hstore;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy ☺', 'it''s');
CREATE DOMAIN price AS numeric(12,2) CHECK (VALUE >= 0);
CREATE DOMAIN posint AS int4 CHECK (VALUE > 0);
CREATE DOMAIN moods AS mood[];
CREATE TYPE address AS (street text, zip int4, tags text[]);
CREATE TYPE textrange AS RANGE (subtype = text);
CREATE TABLE customer (id int PRIMARY KEY, name text NOT NULL, email citext);
CREATE TABLE product (id int PRIMARY KEY, sku text NOT NULL UNIQUE, price price);
CREATE TABLE "order" (id bigint PRIMARY KEY, customer_id int REFERENCES customer(id), placed timestamptz NOT NULL DEFAULT '2024-05-01 10:00:00+00');
CREATE TABLE order_item (order_id bigint REFERENCES "order"(id), product_id int REFERENCES product(id), qty int, PRIMARY KEY (order_id, product_id));
INSERT INTO customer SELECT g, 'customer ' || g, 'C' || g || '@Example.com' FROM generate_series(1, 120) g;
INSERT INTO product SELECT g, 'sku-' || g, g * 1.25 FROM generate_series(1, 40) g;
INSERT INTO "order" SELECT g, 1 + g % 120 FROM generate_series(1, 300) g;
INSERT INTO order_item SELECT 1 + g % 300, 1 + g % 40, g % 7 FROM generate_series(1, 600) g ON CONFLICT DO NOTHING;
`

var nonWord = regexp.MustCompile(`[^a-z0-9]+`)

// createEveryType creates table everytype, a column per mapped type and
// a row per literal (NULL where a type has fewer), plus a row of NULLs.
func createEveryType(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	cols := []string{"id int PRIMARY KEY"}
	names := []string{"id"}
	rows := 0
	for i, tv := range typeValues {
		name := fmt.Sprintf("c%02d_%s", i, strings.Trim(nonWord.ReplaceAllString(strings.ToLower(tv.typ), "_"), "_"))
		cols = append(cols, postgres.Ident(name)+" "+tv.typ)
		names = append(names, postgres.Ident(name))
		rows = max(rows, len(tv.values))
	}
	exec1(t, pool, "CREATE TABLE everytype ("+strings.Join(cols, ", ")+")")
	for r := 0; r <= rows; r++ {
		args := []any{r + 1}
		params := []string{"$1"}
		for i, tv := range typeValues {
			params = append(params, fmt.Sprintf("$%d::text::%s", i+2, tv.typ))
			if r < len(tv.values) {
				args = append(args, tv.values[r])
			} else {
				args = append(args, nil)
			}
		}
		exec1(t, pool, "INSERT INTO everytype ("+strings.Join(names, ", ")+") VALUES ("+strings.Join(params, ", ")+")", args...)
	}
}

// pair is one PostgreSQL database and one SurrealDB namespace/database
// with a configuration reaching both.
type pair struct {
	cfg  config.Config
	pool *pgxpool.Pool
	cl   *surreal.Client
}

func newPair(t *testing.T, slotSuffix string) *pair {
	t.Helper()
	e := env(t)
	pg, pool := e.NewPostgresPool(t)
	sur, cl := e.NewSurrealClient(t)
	p := &pair{cfg: baseConfig(pg, sur), pool: pool, cl: cl}
	// Replication origins are the cluster's and limited in number
	// (max_replication_slots): the reverse direction's goes with the test.
	t.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), "SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname = $1", p.cfg.Reverse.OriginFor(pg.Database))
	})
	p.cfg.Sync.Slot = slotName(t, pool, slotSuffix)
	p.cfg.Sync.Tables = []config.Table{{Name: "public.order", Edges: []config.Edge{{Columns: []string{"customer_id"}, Name: "placed_by"}}}}
	p.cfg.Reverse.Tables = []config.ReverseTable{{Name: "review"}}
	return p
}

// syncOptions are the sync's options as the CLI builds them: the reverse
// direction's target tables excluded, its origin skipped.
func (p *pair) syncOptions() pgsync.Options {
	sc := p.cfg.Sync
	sc.Exclude = append([]string{}, sc.Exclude...)
	for _, rt := range p.cfg.Reverse.Tables {
		sc.Exclude = append(sc.Exclude, rt.TargetName())
	}
	return pgsync.Options{Postgres: p.cfg.Postgres, Surreal: p.cfg.Surreal, Sync: sc, Log: logger(), SkipOrigin: p.cfg.Reverse.OriginFor(p.cfg.Postgres.Database)}
}

// run starts a pipeline in the background; the function returned stops
// it and fails the test if it ended with an error.
func run(t *testing.T, f func(context.Context) error) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("pipeline: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

func (p *pair) runSync(t *testing.T) func() {
	return run(t, func(ctx context.Context) error { return pgsync.Run(ctx, p.syncOptions()) })
}

func (p *pair) runReverse(t *testing.T) func() {
	return run(t, func(ctx context.Context) error {
		return pgreverse.Run(ctx, pgreverse.Options{Postgres: p.cfg.Postgres, Surreal: p.cfg.Surreal, Reverse: p.cfg.Reverse, Log: logger()})
	})
}

// caughtUp waits until the sync's stored position passes PostgreSQL's
// current WAL position.
func (p *pair) caughtUp(t *testing.T) {
	t.Helper()
	var s string
	if err := p.pool.QueryRow(context.Background(), "SELECT pg_current_wal_lsn()::text").Scan(&s); err != nil {
		t.Fatal(err)
	}
	target, _ := cdc.ParseLSN(s)
	waitFor(t, 60*time.Second, "the sync to reach "+s, func() bool {
		res, err := surrealdb.Query[any](context.Background(), p.cl.DB, "SELECT VALUE lsn FROM type::record('_pgsurreal_position', $s)", map[string]any{"s": p.cfg.Sync.Slot})
		if err != nil {
			return false // not created yet
		}
		rs, _ := (*res)[0].Result.([]any)
		if len(rs) == 0 {
			return false
		}
		var lsn int64
		_, _ = fmt.Sscan(fmt.Sprint(rs[0]), &lsn)
		return cdc.LSN(lsn) >= target
	})
}

func (p *pair) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := p.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// TestBackupRestoreRoundTrip replicates a dataset with every mapped type,
// a record link, an edge, a relation and a reverse-replicated SurrealDB
// table; backs it up while replication runs; restores it into a new
// database and namespace; checks both sides equal the originals row by
// row and record by record and the manifest's counts; then resumes both
// directions on the restored pair without a new copy.
func TestBackupRestoreRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := newPair(t, "_src")
	exec1(t, src.pool, shopSchema)
	createEveryType(t, src.pool)
	surql(t, src.cl, "DEFINE TABLE review SCHEMALESS; CREATE review:1 SET rating = 5, body = 'great ⟨x⟩', customer = customer:1, at = d'2024-05-01T10:00:00Z';", nil)
	stopSync := src.runSync(t)
	stopReverse := src.runReverse(t)
	src.caughtUp(t)
	waitFor(t, 60*time.Second, "the reverse direction to copy review", func() bool {
		var n int
		return src.pool.QueryRow(ctx, "SELECT count(*) FROM public.review").Scan(&n) == nil && n == 1
	})
	// Changes while streaming, then a backup while both directions run.
	exec1(t, src.pool, `UPDATE customer SET name = 'renamed' WHERE id = 7; DELETE FROM order_item WHERE order_id = 9; INSERT INTO product VALUES (99, 'late', 1.5)`)
	src.caughtUp(t)

	dir := t.TempDir()
	res, err := backup.Run(ctx, backup.Options{Config: src.cfg, Dir: dir, Log: logger()})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	stopReverse()
	stopSync()
	m := res.Manifest
	if m.Sync == nil || !m.Sync.CaughtUp || m.Sync.Phase != pgsync.PhaseStreaming || m.Sync.Slot != src.cfg.Sync.Slot {
		t.Fatalf("manifest sync = %+v, want a caught-up streaming position of slot %s", m.Sync, src.cfg.Sync.Slot)
	}
	if len(m.Reverse) != 1 || m.Reverse[0].Source != src.cfg.Surreal.Namespace+"/"+src.cfg.Surreal.Database {
		t.Fatalf("manifest reverse positions = %+v", m.Reverse)
	}
	checkManifestCounts(t, src, res.Dir, m)
	if filepath.Dir(res.Dir) != dir || res.Bytes <= 0 || res.Files != len(m.Files)+1 {
		t.Fatalf("result dir %s bytes %d files %d (manifest lists %d)", res.Dir, res.Bytes, res.Files, len(m.Files))
	}

	dst := newPair(t, "_dst")
	o := backup.Options{Config: dst.cfg, Dir: dir, Log: logger(),
		Rebase: func(ctx context.Context) (cdc.LSN, error) { return pgsync.Rebase(ctx, dst.syncOptions()) }}
	rres, err := backup.Restore(ctx, o)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if rres.Dir != res.Dir {
		t.Fatalf("restored %s, want the newest backup %s", rres.Dir, res.Dir)
	}
	if s := strings.Join(rres.Resume, "\n"); !strings.Contains(s, "created replication slot "+dst.cfg.Sync.Slot) || !strings.Contains(s, "reverse: source "+dst.cfg.Surreal.Namespace) {
		t.Fatalf("restore did not report resuming both directions:\n%s", s)
	}

	// PostgreSQL: every table equal, row by row (pgsurreal's own schema
	// apart: restore moves the reverse position).
	tables := pgTables(t, src.pool)
	if got := pgTables(t, dst.pool); strings.Join(got, ",") != strings.Join(tables, ",") {
		t.Fatalf("restored tables %v, want %v", got, tables)
	}
	for _, tb := range tables {
		if strings.HasPrefix(tb, "pgsurreal.") {
			continue
		}
		want, got := pgRows(t, src.pool, tb), pgRows(t, dst.pool, tb)
		if strings.Join(want, "\n") != strings.Join(got, "\n") {
			t.Fatalf("restored %s differs: %d rows, want %d\nfirst want %.300s\nfirst got  %.300s", tb, len(got), len(want), first(want), first(got))
		}
	}
	// SurrealDB: every table equal, record by record (pgsurreal's own
	// tables apart: restore stores a new position).
	stables := surrealTables(t, src.cl)
	if got := surrealTables(t, dst.cl); strings.Join(got, ",") != strings.Join(stables, ",") {
		t.Fatalf("restored SurrealDB tables %v, want %v", got, stables)
	}
	for _, tb := range stables {
		if strings.HasPrefix(tb, "_pgsurreal") {
			continue
		}
		want, got := records(t, src.cl, tb), records(t, dst.cl, tb)
		if len(want) == 0 && tb != "review" {
			t.Fatalf("SurrealDB table %s is empty in the source: the dataset did not replicate", tb)
		}
		for id, w := range want {
			if got[id] != w {
				t.Fatalf("restored %s record %s differs:\nwant %.500s\ngot  %.500s", tb, id, w, got[id])
			}
		}
		if len(got) != len(want) {
			t.Fatalf("restored %s has %d records, want %d", tb, len(got), len(want))
		}
	}
	for _, tb := range []string{"everytype", "placed_by", "order_item"} {
		if len(records(t, dst.cl, tb)) == 0 {
			t.Fatalf("restored SurrealDB has no %s records", tb)
		}
	}

	// The restored pair is one verify accepts: every replicated table,
	// both directions, through the mapping.
	vrep, err := verify.Run(ctx, verify.Options{Config: dst.cfg, Log: logger()})
	if err != nil {
		t.Fatalf("verify of the restored pair: %v", err)
	}
	if vrep.Differences() != 0 || len(vrep.Tables) == 0 {
		var b strings.Builder
		vrep.WriteText(&b)
		t.Fatalf("verify of the restored pair found differences:\n%s", b.String())
	}

	// Replication resumes on the restored pair without a new copy: a
	// record changed only in SurrealDB keeps its change (a snapshot would
	// replace it), and new rows arrive.
	surql(t, dst.cl, "UPDATE customer:1 SET canary = true", nil)
	dst.runSync(t)
	dst.runReverse(t)
	exec1(t, dst.pool, "INSERT INTO customer VALUES (9999, 'after restore', NULL)")
	waitFor(t, 60*time.Second, "customer 9999 in the restored SurrealDB", func() bool {
		return len(records(t, dst.cl, "customer")) == 121
	})
	if got := fmt.Sprint(surql(t, dst.cl, "SELECT VALUE canary FROM customer:1", nil)[0].Result); got != "[true]" {
		t.Fatalf("customer 1 lost its SurrealDB-only field (canary = %s): the sync copied everything again", got)
	}
	surql(t, dst.cl, "CREATE review:2 SET rating = 3, body = 'after restore', customer = customer:2", nil)
	waitFor(t, 60*time.Second, "review 2 in the restored PostgreSQL", func() bool {
		return dst.count(t, "SELECT count(*) FROM public.review") == 2
	})
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// checkManifestCounts compares the manifest's counts with the source.
func checkManifestCounts(t *testing.T, p *pair, dir string, m *backup.Manifest) {
	t.Helper()
	tables := pgTables(t, p.pool)
	if len(m.Postgres.Tables) != len(tables) {
		t.Fatalf("manifest counts %d PostgreSQL tables, the database has %d", len(m.Postgres.Tables), len(tables))
	}
	for _, tc := range m.Postgres.Tables {
		if n := p.count(t, "SELECT count(*) FROM "+postgres.QualifiedIdent(tc.Schema, tc.Name)); int64(n) != tc.Rows {
			t.Fatalf("manifest says %s.%s has %d rows, it has %d", tc.Schema, tc.Name, tc.Rows, n)
		}
	}
	if len(m.Surreal.Exports) != 1 || !m.Surreal.Exports[0].Default {
		t.Fatalf("manifest exports = %+v, want the configured namespace/database", m.Surreal.Exports)
	}
	for _, tc := range m.Surreal.Exports[0].Tables {
		if strings.HasPrefix(tc.Name, "_pgsurreal") {
			continue
		}
		if n := len(records(t, p.cl, tc.Name)); int64(n) != tc.Rows {
			t.Fatalf("manifest says SurrealDB table %s has %d records, it has %d", tc.Name, tc.Rows, n)
		}
	}
	// Every file is listed, with its size and checksum.
	listed := map[string]backup.File{}
	for _, f := range m.Files {
		listed[f.Path] = f
	}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if rel == backup.ManifestFile {
			return nil
		}
		st, _ := d.Info()
		if f, ok := listed[filepath.ToSlash(rel)]; !ok || f.Size != st.Size() || len(f.SHA256) != 64 {
			t.Errorf("file %s (%d bytes) is listed as %+v", rel, st.Size(), f)
		}
		delete(listed, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) > 0 {
		t.Fatalf("the manifest lists files the backup does not hold: %v", listed)
	}
}
