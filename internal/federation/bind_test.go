package federation

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/pgsurreal/pgsurreal/internal/config"
)

// TestBindJoinChain: a selective PostgreSQL predicate bounds the first
// SurrealDB table read (friends of one user), whose rows bound the next
// (their reviews); the answer equals PostgreSQL's over the same data, and
// with the cap exceeded the scans fall back to whole reads, same answer.
func TestBindJoinChain(t *testing.T) {
	t.Parallel()
	for _, cap := range []int{10000, 2} {
		t.Run(fmt.Sprintf("cap=%d", cap), func(t *testing.T) {
			fc := config.Default().Federation
			fc.BindJoinCap = cap
			f := newFixture(t, fc)
			ref := newFixture(t, fc)
			users := "CREATE TABLE users (id bigint PRIMARY KEY, name text); INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, 50) g;"
			f.pgExec(t, users)
			ref.pgExec(t, users+`CREATE SCHEMA surreal;
CREATE TABLE surreal.friend (id text, a bigint, b bigint);
CREATE TABLE surreal.review (id text, customer_id bigint, rating bigint);
INSERT INTO surreal.friend SELECT g::text, g % 50 + 1, (g * 13) % 47 + 1 FROM generate_series(1, 200) g;
INSERT INTO surreal.review SELECT g::text, g % 50 + 1, g % 5 + 1 FROM generate_series(1, 300) g;`)
			f.surrealExec(t, `DEFINE TABLE friend SCHEMAFULL; DEFINE FIELD a ON friend TYPE int; DEFINE FIELD b ON friend TYPE int;
DEFINE TABLE review SCHEMAFULL; DEFINE FIELD customer_id ON review TYPE int; DEFINE FIELD rating ON review TYPE int;
FOR $g IN 1..=200 { CREATE type::record('friend', $g) SET a = $g % 50 + 1, b = ($g * 13) % 47 + 1; };
FOR $g IN 1..=300 { CREATE type::record('review', $g) SET customer_id = $g % 50 + 1, rating = $g % 5 + 1; };`, nil)
			q := `SELECT u.name, f.b AS friend, count(r.id) AS reviews, sum(r.rating) AS stars
FROM users u JOIN surreal.friend f ON f.a = u.id JOIN surreal.review r ON r.customer_id = f.b
WHERE u.id = $1 GROUP BY u.name, f.b ORDER BY f.b`
			ctx := context.Background()
			for _, id := range []int64{1, 17, 50, 99} {
				want, err := collect(ctx, ref.pg, q, []any{id})
				if err != nil {
					t.Fatal(err)
				}
				got, err := f.engine.Query(ctx, nil, q, []any{id}, QueryOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(got.Rows) != fmt.Sprint(want.Rows) {
					t.Fatalf("user %d:\n got %v\nwant %v", id, got.Rows, want.Rows)
				}
			}
			plan, err := f.engine.Query(ctx, nil, "EXPLAIN FEDERATED "+q, []any{int64(17)}, QueryOptions{})
			if err != nil {
				t.Fatal(err)
			}
			text := strings.Join(plan.Explain, "\n")
			bound := strings.Contains(text, "`a` IN $") && strings.Contains(text, "`customer_id` IN $")
			if cap > 100 && !bound {
				t.Fatalf("both SurrealDB reads should be bound by join keys:\n%s", text)
			}
			if cap == 2 && strings.Contains(text, "`customer_id` IN $") {
				t.Fatalf("over the cap the reviews must be read whole:\n%s", text)
			}
		})
	}
}

// TestBindJoinBatches: more join keys than one read takes are read in
// batches, and the rows put together are the whole answer.
func TestBindJoinBatches(t *testing.T) {
	t.Parallel()
	f := newFixture(t, config.Default().Federation)
	ref := newFixture(t, config.Default().Federation)
	acc := "CREATE TABLE acct (id bigint PRIMARY KEY, region text); INSERT INTO acct SELECT g, CASE WHEN g % 4 = 0 THEN 'eu' ELSE 'us' END FROM generate_series(1, 3000) g;"
	f.pgExec(t, acc)
	ref.pgExec(t, acc+`CREATE SCHEMA surreal; CREATE TABLE surreal.event (id text, acct bigint, n bigint);
INSERT INTO surreal.event SELECT g::text, (g * 7) % 3100 + 1, g FROM generate_series(1, 4000) g;`)
	f.surrealExec(t, `DEFINE TABLE event SCHEMAFULL; DEFINE FIELD acct ON event TYPE int; DEFINE FIELD n ON event TYPE int;
FOR $g IN 1..=4000 { CREATE type::record('event', $g) SET acct = ($g * 7) % 3100 + 1, n = $g; };`, nil)
	q := "SELECT a.region, count(*), sum(e.n) FROM acct a JOIN surreal.event e ON e.acct = a.id WHERE a.region = $1 GROUP BY a.region"
	ctx := context.Background()
	for _, region := range []string{"us", "eu"} {
		want, err := collect(ctx, ref.pg, q, []any{region})
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.engine.Query(ctx, nil, q, []any{region}, QueryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got.Rows) != fmt.Sprint(want.Rows) {
			t.Fatalf("region %s:\n got %v\nwant %v", region, got.Rows, want.Rows)
		}
	}
	plan, err := f.engine.Query(ctx, nil, "EXPLAIN FEDERATED "+q, []any{"us"}, QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if text := strings.Join(plan.Explain, "\n"); !strings.Contains(text, "2250 keys read in batches of 1000") {
		t.Fatalf("the 2,250 keys of region us were not read in batches:\n%s", text)
	}
}
