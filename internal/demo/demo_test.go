package demo_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/demo"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

// options points the demo at the test stack under names unique to t, and
// removes what it creates when the test ends.
func options(t *testing.T, out *bytes.Buffer) demo.Options {
	t.Helper()
	env := testenv.Get(t)
	name := testenv.Name(t)
	o := demo.Options{
		Postgres:        env.PG,
		Surreal:         env.Surreal,
		Database:        name,
		Namespace:       name,
		SurrealDatabase: "shop",
		Slot:            name,
		Out:             out,
		Log:             slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	// One second SurrealDB server for every run of the test, stopped
	// when it ends.
	var second config.Surreal
	var once gosync.Once
	o.SecondServer = func(context.Context) (config.Surreal, func(), error) {
		once.Do(func() {
			second = testenv.PrivateSurreal(t)
			second.Namespace, second.Database = "", ""
		})
		return second, func() {}, nil
	}
	t.Cleanup(func() {
		if os.Getenv("PGSURREAL_TEST_KEEP") == "1" {
			t.Logf("kept database, namespace and slot %s", name)
			return
		}
		ctx := context.Background()
		if c, err := postgres.ConnectOne(ctx, env.PG, nil); err == nil {
			_, _ = c.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name IN ($1, $1 || '_events')", name)
			// The demo drops it itself, unless it failed halfway.
			_, _ = c.Exec(ctx, "SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname = $1", config.Default().Reverse.OriginFor(name))
			if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+postgres.Ident(name)+" WITH (FORCE)"); err != nil {
				t.Errorf("dropping database %s: %v", name, err)
			}
			_ = c.Close(ctx)
		}
		if c, err := surreal.Connect(ctx, env.Surreal, nil); err == nil {
			if _, err := surrealdb.Query[any](ctx, c.DB, "REMOVE NAMESPACE IF EXISTS "+surreal.Ident(name), nil); err != nil {
				t.Errorf("removing namespace %s: %v", name, err)
			}
			_ = c.Close(ctx)
		}
	})
	return o
}

func slotExists(t *testing.T, name string) bool {
	t.Helper()
	ctx := context.Background()
	c, err := postgres.ConnectOne(ctx, testenv.Get(t).PG, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// TestDemo runs the demo twice under the same names: once with --keep,
// then again over what the first run left (database, namespace and an
// idle slot), and checks the second run's report and measurements.
func TestDemo(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	o := options(t, &out)

	o.Keep = true
	if _, err := demo.Run(ctx, o); err != nil {
		t.Fatalf("first run: %v\n%s", err, out.String())
	}
	if !slotExists(t, o.Slot) {
		t.Fatalf("--keep: slot %s is gone", o.Slot)
	}

	out.Reset()
	o.Keep = false
	start := time.Now()
	res, err := demo.Run(ctx, o)
	report := out.String()
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, report)
	}
	t.Logf("demo took %s:\n%s", time.Since(start).Round(time.Millisecond), report)
	if time.Since(start) > time.Minute {
		t.Errorf("the demo took %s, want well under a minute", time.Since(start))
	}

	// Traversals: the friendship edges, two hops, the placed edge.
	for _, want := range []string{
		"> SELECT name, ->friendships->users.name AS friends FROM users:1\n" +
			"     {\n       friends: ['Grace Lovelace', 'Margaret Lovelace', 'Sophie Turing'],\n       name: 'Alan Lovelace'\n     }",
		"friends_of_friends: [",
		"'Dennis Allen'",
		"> SELECT name, <-placed<-orders AS orders FROM users:1\n     { name: 'Alan Lovelace', orders: [orders:400, orders:800, orders:1200] }",
		"user: users:42",
		"id: order_items:[293, 1]",
		"in: users:1,\n         out: users:2,",
		"{ name: 'Grace Lovelace', order_statuses: ['paid', 'shipped', 'paid'] }",
		// After the live changes: the new order's edge, the lost friend.
		"orders: [orders:400, orders:800, orders:1200, orders:1201]",
		"{ friends: ['Margaret Lovelace', 'Sophie Turing'], name: 'Alan Lovelace' }",
		"dropped replication slot " + o.Slot,
	} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if strings.Contains(report, "\x1b[") {
		t.Error("the report has terminal escapes although Color is false")
	}

	// Latency lines, one per live change, and the measurements behind them.
	for _, re := range []string{
		`ok orders:1201 \+ 2 order_items \+ payments:1034 visible in SurrealDB after \d+\.\d ms`,
		`ok products:7 price 110\.95dec visible in SurrealDB after \d+\.\d ms`,
		`ok edge friendships:\[1, 2\] gone from SurrealDB after \d+\.\d ms`,
	} {
		if !regexp.MustCompile(re).MatchString(report) {
			t.Errorf("no line matching %s", re)
		}
	}
	if len(res.Changes) != 3 {
		t.Fatalf("%d changes measured, want 3", len(res.Changes))
	}
	for _, c := range res.Changes {
		if c.Latency <= 0 || c.Latency > 15*time.Second {
			t.Errorf("%s: latency %s", c.What, c.Latency)
		}
	}

	// Counts: as loaded, and equal on both sides before and after.
	want := map[string]int64{"users": 400, "products": 120, "orders": 1200, "order_items": 3005,
		"payments": 1033, "friendships (edges)": 1400, "placed (edges)": 1200}
	if len(res.Counts) != len(want) || len(res.Final) != len(want) {
		t.Fatalf("counts: %v, final %v", res.Counts, res.Final)
	}
	for _, c := range res.Counts {
		if c.Postgres != want[c.Table] || c.Surreal != c.Postgres {
			t.Errorf("after the snapshot, %s: PostgreSQL %d, SurrealDB %d, want %d on both", c.Table, c.Postgres, c.Surreal, want[c.Table])
		}
		if !regexp.MustCompile(regexp.QuoteMeta(c.Table) + ` +[\d,]+ +[\d,]+  ok\n`).MatchString(report) {
			t.Errorf("no count line for %s", c.Table)
		}
	}
	for _, c := range res.Final {
		if c.Surreal != c.Postgres {
			t.Errorf("after the live changes, %s: PostgreSQL %d, SurrealDB %d", c.Table, c.Postgres, c.Surreal)
		}
	}
	if res.Loaded != 7158 || res.Copied != res.Loaded {
		t.Errorf("loaded %d rows, copied %d; want 7158 both", res.Loaded, res.Copied)
	}
	if !res.SlotDropped || slotExists(t, o.Slot) {
		t.Errorf("slot %s still exists after a run without --keep", o.Slot)
	}
	checkReverse(t, o, res, report)
	checkFederated(t, o, res, report)
	if !res.TxCommitted || !res.TxRolledBack || !strings.Contains(report, "7. One transaction over both databases") {
		t.Errorf("transactions step: committed %v, rolled back %v", res.TxCommitted, res.TxRolledBack)
	}
	if !res.VerifyClean || res.VerifyFound != 2 || !res.VerifyRepaired ||
		!strings.Contains(report, "different products:1  fields price") || !strings.Contains(report, "extra     products:999999") {
		t.Errorf("verify step: clean %v, found %d (want 2), repaired %v", res.VerifyClean, res.VerifyFound, res.VerifyRepaired)
	}
	// Scale-out: 2000 events over two servers by region, EU and UK on
	// eu, US and BR on default (one US event moved to EU live); verify
	// clean over both.
	if !strings.Contains(report, "9. Scale-out") || len(res.ScaleOut) != 2 || !res.ScaleOutClean {
		t.Fatalf("scale-out step: %+v, clean %v", res.ScaleOut, res.ScaleOutClean)
	}
	def, eu := res.ScaleOut[0], res.ScaleOut[1]
	if def.Server != "default" || eu.Server != "eu" || def.Records+eu.Records != 2000 || def.Records == 0 || eu.Records == 0 ||
		!slices.Equal(def.Regions, []string{"BR", "US"}) || !slices.Equal(eu.Regions, []string{"EU", "UK"}) {
		t.Errorf("scale-out placement: %+v", res.ScaleOut)
	}
	// The federated query over both servers, against PostgreSQL's answer.
	pgc := o.Postgres
	pgc.Database = o.Database
	pg, err := postgres.Connect(context.Background(), pgc)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	var pgRows [][]string
	rows, err := pg.Query(context.Background(), "SELECT region, count(*)::text, (count(*) FILTER (WHERE kind = 'buy'))::text FROM region_events GROUP BY region ORDER BY region")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var a, b, c string
		if err := rows.Scan(&a, &b, &c); err != nil {
			t.Fatal(err)
		}
		pgRows = append(pgRows, []string{a, b, c})
	}
	if !slices.EqualFunc(res.ScaleOutQuery, pgRows, slices.Equal) || !strings.Contains(report, "partitioned over default, eu") {
		t.Errorf("federated query over both servers:\n got %v\nwant %v (or no EXPLAIN line)", res.ScaleOutQuery, pgRows)
	}
}

// checkFederated compares the federated queries' rows with the same
// questions asked of PostgreSQL alone, through the reverse direction's
// copy of the reviews (surreal_review) and the replicated friendships.
func checkFederated(t *testing.T, o demo.Options, res *demo.Result, report string) {
	t.Helper()
	if !strings.Contains(report, "6. One SQL query over both databases") || !strings.Contains(report, "1. SurrealDB: ") {
		t.Errorf("the report lacks the federated step or its EXPLAIN")
	}
	if len(res.Federated) != 2 {
		t.Fatalf("%d federated results, want 2", len(res.Federated))
	}
	pg := o.Postgres
	pg.Database = o.Database
	conn, err := postgres.ConnectOne(context.Background(), pg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for i, q := range []string{
		`SELECT u.name, sum(oi.qty * oi.unit_price)::text, rv.reviews::text, rv.best::text
FROM users u JOIN orders o ON o.user_id = u.id JOIN order_items oi ON oi.order_id = o.id
JOIN (SELECT author::int AS author_id, count(*) AS reviews, max(rating) AS best FROM surreal_review GROUP BY 1) rv ON rv.author_id = u.id
GROUP BY u.name, rv.reviews, rv.best ORDER BY u.name`,
		`SELECT f.name, f.city, count(o.id)::text FROM friendships fs JOIN users f ON f.id = fs.friend_id
LEFT JOIN orders o ON o.user_id = f.id WHERE fs.user_id = 1 GROUP BY f.name, f.city ORDER BY f.name`,
	} {
		rows, err := conn.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		want, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]string, error) {
			vals, err := r.Values()
			out := make([]string, len(vals))
			for j, v := range vals {
				out[j] = fmt.Sprint(v)
			}
			return out, err
		})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(res.Federated[i]) != fmt.Sprint(want) || len(want) == 0 {
			t.Errorf("federated query %d:\n got %v\nwant %v", i+1, res.Federated[i], want)
		}
	}
}

// checkReverse checks the reverse step: the reviews written in SurrealDB
// are in PostgreSQL, the live ones measured, the deleted one gone, and
// nothing went back to SurrealDB.
func checkReverse(t *testing.T, o demo.Options, res *demo.Result, report string) {
	t.Helper()
	for _, want := range []string{
		"5. Reviews written in SurrealDB, replicated into PostgreSQL",
		"> CREATE review:1 SET author = users:42, product = products:7, rating = 4, text = 'Keeps water cold all day', created_at = time::now()",
		"> BEGIN;\n       CREATE review:3 SET author = users:1, product = products:7,",
		// The rows, and the join with PostgreSQL's products and users.
		"      1  |      4 | 42     | 7       | Keeps water cold all day\n",
		"      Classic Bottle | 110.95 |       2 |    4.5 | Grace Hopper, Alan Lovelace\n",
		"      Compact Lamp   | 159.05 |       2 |    2.5 | Edsger Lovelace, Alan Lovelace\n",
		"ok recounted: review has 4 records in SurrealDB, surreal_review 4 rows in PostgreSQL",
		"10. Done\n   ok both pipelines stopped cleanly",
		"pgsurreal reverse --set postgres.database=" + o.Database,
	} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	for _, re := range []string{
		`ok the 4 reviews in PostgreSQL after \d+ ms \(changefeed enabled, table created, records copied\)`,
		`ok review:5 visible in PostgreSQL after \d+\.\d ms`,
		`ok review:2 gone from PostgreSQL after \d+\.\d ms`,
	} {
		if !regexp.MustCompile(re).MatchString(report) {
			t.Errorf("no line matching %s", re)
		}
	}
	if res.ReverseCopyTime <= 0 || res.ReverseCopyTime > 15*time.Second {
		t.Errorf("reverse copy time %s", res.ReverseCopyTime)
	}
	if len(res.ReverseChanges) != 2 {
		t.Fatalf("%d reverse changes measured, want 2", len(res.ReverseChanges))
	}
	for _, c := range res.ReverseChanges {
		if c.Latency <= 0 || c.Latency > 15*time.Second {
			t.Errorf("%s: latency %s", c.What, c.Latency)
		}
	}
	// Review 2 was deleted, 5 written while streaming.
	want := []demo.Review{
		{ID: "1", Rating: 4, Author: "42", Product: "7", Text: "Keeps water cold all day"},
		{ID: "3", Rating: 5, Author: "1", Product: "7", Text: "Bought two, both perfect"},
		{ID: "4", Rating: 3, Author: "1", Product: "11", Text: "Fine, but the switch rattles"},
		{ID: "5", Rating: 4, Author: "2", Product: "11", Text: "Warm light, solid base"},
	}
	if !slices.Equal(res.Reviews, want) {
		t.Errorf("reviews in PostgreSQL:\n%+v\nwant\n%+v", res.Reviews, want)
	}
	if c := res.ReviewCount; c.Postgres != 4 || c.Surreal != 4 {
		t.Errorf("review count: PostgreSQL %d, SurrealDB %d, want 4 both", c.Postgres, c.Surreal)
	}

	// The forward pipeline left the reverse target alone, and the origin
	// is gone.
	ctx := context.Background()
	env := testenv.Get(t)
	pg := env.PG
	pg.Database = o.Database
	c, err := postgres.ConnectOne(ctx, pg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var published, origins int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM pg_publication_tables WHERE pubname = $1 AND tablename = 'surreal_review'", o.Slot).Scan(&published); err != nil {
		t.Fatal(err)
	}
	if err := c.QueryRow(ctx, "SELECT count(*) FROM pg_replication_origin WHERE roname = $1", config.Default().Reverse.OriginFor(o.Database)).Scan(&origins); err != nil {
		t.Fatal(err)
	}
	if published != 0 || origins != 0 {
		t.Errorf("surreal_review in publication %s: %d; replication origins left: %d; want 0 both", o.Slot, published, origins)
	}
	sur := env.Surreal
	sur.Namespace, sur.Database = o.Namespace, o.SurrealDatabase
	cl, err := surreal.Connect(ctx, sur, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close(ctx)
	info, err := surrealdb.Query[struct {
		Tables map[string]any `json:"tables"`
	}](ctx, cl.DB, "INFO FOR DB", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := (*info)[0].Result.Tables["surreal_review"]; ok {
		t.Error("surreal_review was replicated back into SurrealDB")
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestDemoStackDown checks that a stopped server is named with the fix.
func TestDemoStackDown(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	deadPG := config.Default().Postgres
	deadPG.Port = freePort(t)
	deadSurreal := config.Default().Surreal
	deadSurreal.URL = "ws://127.0.0.1:" + strconv.Itoa(freePort(t)) + "/rpc"
	for name, o := range map[string]demo.Options{
		"postgres": {Postgres: deadPG, Surreal: env.Surreal},
		"surreal":  {Postgres: env.PG, Surreal: deadSurreal},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o.Database, o.Namespace, o.Slot = "never_created", "never_created", "never_created"
			_, err := demo.Run(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), "pgsurreal dev up") {
				t.Fatalf("error %v, want one that says `pgsurreal dev up`", err)
			}
		})
	}
}
