package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/jackc/pgx/v5"
	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/bench/internal/harness"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
)

var countries = []string{"AR", "AU", "BR", "CA", "DE", "ES", "FR", "IN", "IT", "JP", "MX", "US"}

var products = []string{"lamp", "desk", "chair", "sofa", "rug", "mirror", "shelf", "bed", "table", "stool", "vase", "clock"}

// dataset is generated from a fixed seed, the same on every run.
type dataset struct {
	customers [][]any // id, name, country
	orders    [][]any // id, customer_id, total (text), placed_at
	friends   [][2]int64
	reviews   []review
}

type review struct {
	customer int64
	product  string
	rating   int64
}

func newDataset(f flags) *dataset {
	r := rand.New(rand.NewPCG(42, 7))
	d := &dataset{}
	for i := 1; i <= f.customers; i++ {
		d.customers = append(d.customers, []any{int64(i), "customer " + strconv.Itoa(i), countries[r.IntN(len(countries))]})
	}
	for i := 1; i <= f.orders; i++ {
		cents := 100 + r.IntN(99900)
		d.orders = append(d.orders, []any{int64(i), int64(1 + r.IntN(f.customers)), fmt.Sprintf("%d.%02d", cents/100, cents%100), "2026-01-01 00:00:00+00"})
	}
	for c := 1; c <= f.customers; c++ {
		for range f.friends {
			d.friends = append(d.friends, [2]int64{int64(c), int64(1 + r.IntN(f.customers))})
		}
	}
	for range f.reviews {
		d.reviews = append(d.reviews, review{customer: int64(1 + r.IntN(f.customers)), product: products[r.IntN(len(products))], rating: int64(1 + r.IntN(5))})
	}
	return d
}

const pgSchema = `CREATE TABLE customer (id bigint PRIMARY KEY, name text NOT NULL, country text NOT NULL);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, total numeric(10,2) NOT NULL, placed_at timestamptz NOT NULL);`

// copySchema holds the SurrealDB tables in PostgreSQL, with the columns
// the federation exposes (id, then the fields in name order) and the
// indexes SurrealDB has.
const copySchema = `CREATE SCHEMA surreal;
CREATE TABLE surreal.friend (id text PRIMARY KEY, a bigint NOT NULL, b bigint NOT NULL);
CREATE TABLE surreal.review (id text PRIMARY KEY, customer_id bigint NOT NULL, product text NOT NULL, rating bigint NOT NULL);`

const pgIndexes = `CREATE INDEX ON orders (customer_id); ANALYZE;`

const copyIndexes = `CREATE INDEX ON surreal.friend (a); CREATE INDEX ON surreal.review (customer_id); ANALYZE;`

const surrealSchema = `DEFINE TABLE friend SCHEMAFULL; DEFINE FIELD a ON friend TYPE int; DEFINE FIELD b ON friend TYPE int;
DEFINE INDEX friend_a ON friend FIELDS a;
DEFINE TABLE review SCHEMAFULL; DEFINE FIELD customer_id ON review TYPE int; DEFINE FIELD product ON review TYPE string; DEFINE FIELD rating ON review TYPE int;
DEFINE INDEX review_customer ON review FIELDS customer_id;`

// load writes the dataset: PostgreSQL tables in both databases, the
// SurrealDB tables in SurrealDB and (as tables of schema surreal) in the
// all-PostgreSQL copy.
func (d *dataset) load(ctx context.Context, fed, cp config.Postgres, sur config.Surreal) error {
	for _, target := range []config.Postgres{fed, cp} {
		conn, err := postgres.ConnectOne(ctx, target, nil)
		if err != nil {
			return err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		if _, err := conn.Exec(ctx, pgSchema); err != nil {
			return err
		}
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{"customer"}, []string{"id", "name", "country"}, pgx.CopyFromRows(d.customers)); err != nil {
			return err
		}
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{"orders"}, []string{"id", "customer_id", "total", "placed_at"}, pgx.CopyFromRows(d.orders)); err != nil {
			return fmt.Errorf("copying orders: %w", err)
		}
		if _, err := conn.Exec(ctx, pgIndexes); err != nil {
			return err
		}
		if target != cp {
			continue
		}
		if _, err := conn.Exec(ctx, copySchema); err != nil {
			return err
		}
		friends := make([][]any, len(d.friends))
		for i, fr := range d.friends {
			friends[i] = []any{strconv.Itoa(i + 1), fr[0], fr[1]}
		}
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{"surreal", "friend"}, []string{"id", "a", "b"}, pgx.CopyFromRows(friends)); err != nil {
			return err
		}
		reviews := make([][]any, len(d.reviews))
		for i, rv := range d.reviews {
			reviews[i] = []any{strconv.Itoa(i + 1), rv.customer, rv.product, rv.rating}
		}
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{"surreal", "review"}, []string{"id", "customer_id", "product", "rating"}, pgx.CopyFromRows(reviews)); err != nil {
			return err
		}
		if _, err := conn.Exec(ctx, copyIndexes); err != nil {
			return err
		}
	}
	db, err := harness.Connect(ctx, sur)
	if err != nil {
		return err
	}
	defer db.Close(context.WithoutCancel(ctx))
	if err := surrealExec(ctx, db, surrealSchema, nil); err != nil {
		return err
	}
	var batch []map[string]any
	flush := func(table string) error {
		if len(batch) == 0 {
			return nil
		}
		err := surrealExec(ctx, db, "INSERT INTO "+table+" $rows RETURN NONE", map[string]any{"rows": batch})
		batch = batch[:0]
		return err
	}
	for i, fr := range d.friends {
		batch = append(batch, map[string]any{"id": int64(i + 1), "a": fr[0], "b": fr[1]})
		if len(batch) == 500 {
			if err := flush("friend"); err != nil {
				return err
			}
		}
	}
	if err := flush("friend"); err != nil {
		return err
	}
	for i, rv := range d.reviews {
		batch = append(batch, map[string]any{"id": int64(i + 1), "customer_id": rv.customer, "product": rv.product, "rating": rv.rating})
		if len(batch) == 500 {
			if err := flush("review"); err != nil {
				return err
			}
		}
	}
	return flush("review")
}

func surrealExec(ctx context.Context, db *surrealdb.DB, sql string, vars map[string]any) error {
	res, err := surrealdb.Query[any](ctx, db, sql, vars)
	if err != nil {
		return err
	}
	for _, r := range *res {
		if r.Status != "OK" {
			return fmt.Errorf("%.80s: %v", sql, r.Result)
		}
	}
	return nil
}
