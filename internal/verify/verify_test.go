package verify_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/verify"
)

// shop creates the forward tables: integer, text and composite keys, a
// foreign key mapped to a record link and one also mapped to an edge,
// and values of several types.
func (f *fixture) shop() {
	f.t.Helper()
	f.exec(`CREATE SCHEMA shop`)
	f.exec(`CREATE TABLE shop.customer (id int PRIMARY KEY, name text NOT NULL, email text, balance numeric(10,2),
		tags text[], born date, meta jsonb, seen timestamptz)`)
	f.exec(`CREATE TABLE shop.product (sku text PRIMARY KEY, title text, price numeric)`)
	f.exec(`CREATE TABLE shop.orders (id bigint PRIMARY KEY, customer_id int REFERENCES shop.customer, sku text REFERENCES shop.product,
		qty int, placed timestamptz)`)
	f.exec(`CREATE TABLE shop.line (order_id bigint, n int, note text, PRIMARY KEY (order_id, n))`)
	f.exec(`INSERT INTO shop.customer SELECT i, 'customer ' || i, 'c' || i || '@example.com', i * 1.25, ARRAY['a', 'b' || i],
		date '1980-01-01' + i, jsonb_build_object('n', i, 'vip', i % 7 = 0), timestamptz '2026-01-01 00:00:00+00' + i * interval '1 minute'
		FROM generate_series(1, 300) i`)
	f.exec(`INSERT INTO shop.product SELECT 'sku-' || i, 'product ' || i, i * 10.5 FROM generate_series(1, 50) i`)
	f.exec(`INSERT INTO shop.orders SELECT i, 1 + i % 300, 'sku-' || (1 + i % 50), 1 + i % 5, timestamptz '2026-02-01 00:00:00+00' + i * interval '1 hour'
		FROM generate_series(1, 500) i`)
	f.exec(`INSERT INTO shop.line SELECT 1 + i / 3, i % 3, 'line ' || i FROM generate_series(0, 299) i`)
	f.cfg.Sync.Tables = []config.Table{{Name: "shop.orders", Edges: []config.Edge{{Columns: []string{"customer_id"}, Name: "placed_by"}}}}
}

// TestDriftForward injects differences into SurrealDB directly, and into
// PostgreSQL under the origin the sync skips (changes it never sees):
// verify reports exactly those keys and fields, repair fixes them, and
// verify is clean again.
func TestDriftForward(t *testing.T) {
	f := newFixture(t)
	f.shop()
	stop := f.startSync()
	f.settled(2 * time.Minute)

	// Drift in SurrealDB.
	f.surql(`UPDATE customer:7 SET name = 'drifted'`, nil)
	f.surql(`DELETE customer:8`, nil)
	f.surql(`CREATE customer:100000 SET name = 'ghost'`, nil)
	f.surql(`DELETE placed_by:11`, nil)
	f.surql(`UPDATE type::record('product', 'sku-3') SET price = 1`, nil)
	f.surql(`UPDATE line:[5, 1] SET note = 'changed'`, nil)
	// Drift in PostgreSQL: written with the sync stopped, under the
	// replication origin the sync skips, so it never replicates them.
	stop()
	f.unseen(`UPDATE shop.customer SET email = 'pg-drift' WHERE id = 20`,
		`DELETE FROM shop.orders WHERE id = 30`,
		`INSERT INTO shop.customer (id, name) VALUES (5000, 'unseen')`)
	f.startSync()

	want := []string{
		"different customer customer:20 email",
		"different customer customer:7 name",
		"different line line:[5, 1] note",
		"different product product:'sku-3' price",
		"extra customer customer:100000",
		"extra orders orders:30",
		"extra placed_by placed_by:30",
		"missing customer customer:5000",
		"missing customer customer:8",
		"missing placed_by placed_by:11",
		// SurrealDB deletes a record's edges with it: orders 7 and 307
		// were placed by customer 8.
		"missing placed_by placed_by:307",
		"missing placed_by placed_by:7",
	}
	rep := f.verify(false)
	if got := found(rep); !slices.Equal(got, want) {
		t.Fatalf("verify found other differences\n%s\n%s", diffLines(got, want), text(rep))
	}
	for _, tr := range rep.Tables {
		if tr.SourceRows == 0 || tr.Chunks == 0 {
			t.Errorf("%s: %d source rows in %d chunks compared", tr.Table, tr.SourceRows, tr.Chunks)
		}
	}

	rep = f.verify(true)
	if got := found(rep); !slices.Equal(got, want) {
		t.Fatalf("verify --repair found other differences\n%s", diffLines(got, want))
	}
	repaired := 0
	for _, tr := range rep.Tables {
		repaired += tr.Repaired
		if tr.StillDifferent != 0 {
			t.Errorf("%s: %d keys still different after the repair", tr.Table, tr.StillDifferent)
		}
	}
	// 11 source keys: customers 7, 8, 20, 100000, 5000; orders 7, 11, 30
	// and 307; product sku-3; line [5, 1].
	if repaired != 11 {
		t.Errorf("repaired %d keys, want 11\n%s", repaired, text(rep))
	}
	if rep = f.verify(false); rep.Differences() != 0 {
		t.Fatalf("differences after the repair:\n%s", text(rep))
	}
}

// unseen runs statements in one transaction under the replication origin
// the sync does not replicate.
func (f *fixture) unseen(stmts ...string) {
	f.t.Helper()
	ctx := context.Background()
	conn, err := f.pool.Acquire(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	defer conn.Release()
	origin := f.cfg.Reverse.OriginFor(f.cfg.Postgres.Database)
	for _, s := range []string{
		`SELECT pg_replication_origin_create($1) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_origin WHERE roname = $1)`,
		`SELECT pg_replication_origin_session_setup($1)`,
	} {
		if _, err := conn.Exec(ctx, s, origin); err != nil {
			f.t.Fatalf("%s: %v", s, err)
		}
	}
	defer conn.Exec(ctx, `SELECT pg_replication_origin_session_reset()`)
	tx, err := conn.Begin(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			f.t.Fatalf("%s: %v", s, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		f.t.Fatal(err)
	}
}

// reviews defines a SurrealDB table the reverse direction copies into
// PostgreSQL table shop.review.
func (f *fixture) reviews() {
	f.t.Helper()
	f.exec(`CREATE SCHEMA IF NOT EXISTS shop`)
	f.surql(`DEFINE TABLE review SCHEMAFULL;
		DEFINE FIELD rating ON review TYPE int;
		DEFINE FIELD body ON review TYPE string;
		DEFINE FIELD at ON review TYPE datetime;
		DEFINE FIELD score ON review TYPE decimal;
		FOR $i IN 1..300 { CREATE type::record('review', $i) SET rating = $i % 5 + 1, body = 'review ' + <string> $i,
			at = d'2026-03-01T00:00:00Z' + <duration> (<string> $i + 'm'), score = <decimal> $i / 4dec };`, nil)
	f.cfg.Reverse.Tables = []config.ReverseTable{{Name: "review", Target: "shop.review"}}
}

// TestDriftReverse changes, deletes and adds rows of a reverse table
// directly in PostgreSQL: verify reports exactly those keys and columns,
// repair rewrites them from SurrealDB, and verify is clean again.
func TestDriftReverse(t *testing.T) {
	f := newFixture(t)
	f.reviews()
	f.cfg.Sync.Include = nil
	f.startReverse()
	f.settled(2 * time.Minute)

	f.exec(`UPDATE shop.review SET rating = 99 WHERE id = '5'`)
	f.exec(`UPDATE shop.review SET body = 'edited', score = 0 WHERE id = '6'`)
	f.exec(`DELETE FROM shop.review WHERE id = '7'`)
	f.exec(`INSERT INTO shop.review (id, rating, body, at, score) VALUES ('7777', 1, 'ghost', now(), 1)`)
	want := []string{
		"different shop.review (5) rating",
		"different shop.review (6) body,score",
		"extra shop.review (7777)",
		"missing shop.review (7)",
	}
	rep := f.verify(false)
	if got := found(rep); !slices.Equal(got, want) {
		t.Fatalf("verify found other differences\n%s\n%s", diffLines(got, want), text(rep))
	}
	rep = f.verify(true)
	if rep.Tables[0].Repaired != 4 || rep.Tables[0].StillDifferent != 0 {
		t.Fatalf("repair: %d repaired, %d still different\n%s", rep.Tables[0].Repaired, rep.Tables[0].StillDifferent, text(rep))
	}
	if rep = f.verify(false); rep.Differences() != 0 {
		t.Fatalf("differences after the repair:\n%s", text(rep))
	}
	var rating int
	if err := f.pool.QueryRow(context.Background(), `SELECT rating FROM shop.review WHERE id = '5'`).Scan(&rating); err != nil || rating != 5%5+1 {
		t.Fatalf("review 5 after the repair: rating %d (%v), want %d", rating, err, 5%5+1)
	}
}

// TestNoFalseDrift verifies while both directions replicate a sustained
// write load on both sides: changes in flight must not be reported.
func TestNoFalseDrift(t *testing.T) {
	f := newFixture(t)
	f.shop()
	f.reviews()
	f.startSync()
	f.startReverse()
	f.settled(2 * time.Minute)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	writes := 0
	count := func() {
		mu.Lock()
		writes++
		mu.Unlock()
	}
	wg.Add(2)
	go func() { // PostgreSQL writer
		defer wg.Done()
		next := 10000
		for ctx.Err() == nil {
			id := 1 + rand.IntN(300)
			var err error
			switch rand.IntN(4) {
			case 0:
				_, err = f.pool.Exec(ctx, `UPDATE shop.customer SET name = $2, balance = balance + 1 WHERE id = $1`, id, fmt.Sprint("name ", rand.Int()))
			case 1:
				next++
				_, err = f.pool.Exec(ctx, `INSERT INTO shop.orders VALUES ($1, $2, 'sku-1', 1, now())`, next, id)
			case 2:
				_, err = f.pool.Exec(ctx, `DELETE FROM shop.orders WHERE id = (SELECT max(id) FROM shop.orders WHERE id > 10000)`)
			case 3:
				_, err = f.pool.Exec(ctx, `UPDATE shop.orders SET customer_id = $1 WHERE id = $2`, id, 1+rand.IntN(500))
			}
			if err != nil && ctx.Err() == nil {
				t.Errorf("PostgreSQL write: %v", err)
				return
			}
			count()
		}
	}()
	go func() { // SurrealDB writer
		defer wg.Done()
		for ctx.Err() == nil {
			f.surql(`UPDATE type::record('review', $id) SET rating = $r, body = $b`, map[string]any{"id": 1 + rand.IntN(300), "r": 1 + rand.IntN(5), "b": fmt.Sprint("body ", rand.Int())})
			count()
		}
	}()
	for range 2 {
		rep := f.verify(false)
		if rep.Differences() != 0 {
			cancel()
			wg.Wait()
			t.Fatalf("differences reported under load:\n%s", text(rep))
		}
		t.Logf("under load: %s", text(rep))
	}
	cancel()
	wg.Wait()
	if writes < 100 {
		t.Fatalf("only %d writes happened during the verifies: not a load", writes)
	}
	f.settled(time.Minute)
}

// TestSampledVerify checks the scheduled, sampled mode: a sample of the
// rows is compared by key (every row of the table differs here, so any
// sample finds some) and the counts reveal the extra record a sample
// cannot name.
func TestSampledVerify(t *testing.T) {
	f := newFixture(t)
	f.shop()
	f.startSync()
	f.settled(2 * time.Minute)
	f.surql(`UPDATE customer SET name = 'drifted'`, nil)
	f.surql(`CREATE customer:100000 SET name = 'ghost'`, nil)
	rep, err := verify.Run(context.Background(), verify.Options{Config: f.cfg, Tables: []string{"shop.customer"}, SamplePercent: 20, Log: testLog()})
	if err != nil {
		t.Fatal(err)
	}
	tr := rep.Tables[0]
	if tr.SampledPercent != 20 || tr.SourceRows == 0 || tr.SourceRows >= 300 {
		t.Fatalf("sampled %d%%: %d rows compared of 300", tr.SampledPercent, tr.SourceRows)
	}
	if int64(len(tr.Differences)) != tr.SourceRows {
		t.Errorf("%d differences among %d sampled rows that all differ\n%s", len(tr.Differences), tr.SourceRows, text(rep))
	}
	for _, d := range tr.Differences {
		if d.Kind != verify.Different || !slices.Equal(d.Fields, []string{"name"}) {
			t.Errorf("unexpected difference %+v", d)
		}
	}
	if len(rep.Notes) == 0 || !strings.Contains(rep.Notes[0], "300 rows and SurrealDB table customer 301 records") {
		t.Errorf("no note of the count difference: %q", rep.Notes)
	}
}
