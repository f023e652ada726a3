package federation

import (
	"context"
	"fmt"
	"testing"

	"github.com/pgsurreal/pgsurreal/internal/config"
)

func TestSmoke(t *testing.T) {
	f := newFixture(t, config.Default().Federation)
	f.pgExec(t, "CREATE TABLE customer (id bigint PRIMARY KEY, name text)")
	f.pgExec(t, "INSERT INTO customer VALUES (1, 'Ann'), (2, 'Bob'), (3, 'Cy')")
	f.surrealExec(t, `DEFINE TABLE review SCHEMAFULL;
DEFINE FIELD customer_id ON review TYPE int;
DEFINE FIELD rating ON review TYPE int;
DEFINE FIELD body ON review TYPE option<string>;
CREATE review:1 SET customer_id = 1, rating = 5, body = 'great';
CREATE review:2 SET customer_id = 1, rating = 3;
CREATE review:3 SET customer_id = 2, rating = 4, body = 'ok';`, nil)
	ctx := context.Background()
	for _, q := range []string{
		"SELECT c.name, r.rating, r.body FROM customer c JOIN surreal.review r ON r.customer_id = c.id WHERE c.id = $1 ORDER BY r.rating",
		"EXPLAIN FEDERATED SELECT c.name, r.rating, r.body FROM customer c JOIN surreal.review r ON r.customer_id = c.id WHERE c.id = $1 ORDER BY r.rating",
		"SELECT * FROM surreal.review WHERE rating >= $1 LIMIT 5",
		"EXPLAIN FEDERATED SELECT * FROM surreal.review WHERE rating >= 4 LIMIT 5",
	} {
		res, err := f.engine.Query(ctx, nil, q, []any{int64(1)}, QueryOptions{})
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		fmt.Println(q)
		for _, r := range res.Rows {
			fmt.Println(r...)
		}
	}
}
