package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/cli"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

// stackFlags points the command line at a fresh PostgreSQL database and
// SurrealDB namespace of the test stack, with a table item(id, name,
// price, note) of three rows.
func stackFlags(t *testing.T) []string {
	t.Helper()
	env := testenv.Get(t)
	pg, pool := env.NewPostgresPool(t)
	su := env.NewSurreal(t)
	if _, err := pool.Exec(context.Background(), `
		CREATE TABLE item (id int PRIMARY KEY, name text, price numeric(8,2), note text);
		INSERT INTO item VALUES (1, 'apple', 1.50, NULL), (2, 'pear, green', 12.00, 'two
lines'), (3, 'plum', 0.25, 'ok')`); err != nil {
		t.Fatal(err)
	}
	return connFlags(pg, su)
}

func connFlags(pg config.Postgres, su config.Surreal) []string {
	return []string{
		"--set", "postgres.host=" + pg.Host,
		"--set", "postgres.port=" + strconv.Itoa(pg.Port),
		"--set", "postgres.user=" + pg.User,
		"--set", "postgres.password=" + pg.Password.Reveal(),
		"--set", "postgres.database=" + pg.Database,
		"--set", "postgres.sslmode=" + pg.SSLMode,
		"--set", "surreal.url=" + su.URL,
		"--set", "surreal.username=" + su.Username,
		"--set", "surreal.password=" + su.Password.Reveal(),
		"--set", "surreal.namespace=" + su.Namespace,
		"--set", "surreal.database=" + su.Database,
		"--log-level", "warn",
	}
}

func TestQueryFormats(t *testing.T) {
	t.Parallel()
	flags := stackFlags(t)
	const sql = "SELECT id, name, price, note FROM item WHERE id <= $1 ORDER BY id"
	cases := []struct {
		format string
		want   string
	}{
		{"table", ` id |    name     | price | note
----+-------------+-------+-------
  1 | apple       |  1.50 |
  2 | pear, green | 12.00 | two  +
    |             |       | lines
(2 rows)
`},
		{"json", `[
  {"id": 1, "name": "apple", "price": "1.50", "note": null},
  {"id": 2, "name": "pear, green", "price": "12.00", "note": "two\nlines"}
]
`},
		{"csv", `id,name,price,note
1,apple,1.50,
2,"pear, green",12.00,"two
lines"
`},
	}
	for _, c := range cases {
		args := append([]string{"query", "--format", c.format, sql, "2"}, flags...)
		code, out, errOut := run(t, args...)
		if code != cli.ExitOK {
			t.Errorf("%s: exit %d: %s", c.format, code, errOut)
			continue
		}
		if out != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.format, out, c.want)
		}
	}
}

func TestQueryParamsFromFileAndTags(t *testing.T) {
	t.Parallel()
	flags := stackFlags(t)
	file := filepath.Join(t.TempDir(), "q.sql")
	if err := os.WriteFile(file, []byte("SELECT count(*) AS n FROM item\nWHERE name LIKE $1 OR price > $2;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, append([]string{"query", "-f", file, "p%", "10"}, flags...)...)
	if code != cli.ExitOK || out != " n\n---\n 2\n(1 row)\n" {
		t.Errorf("exit %d, out %q, stderr %q", code, out, errOut)
	}
	// A statement without rows prints its command tag; with no rows, an
	// empty JSON array.
	code, out, errOut = run(t, append([]string{"query", "UPDATE item SET note = $1 WHERE id = $2", "x", "3"}, flags...)...)
	if code != cli.ExitOK || out != "UPDATE 1\n" {
		t.Errorf("update: exit %d, out %q, stderr %q", code, out, errOut)
	}
	code, out, _ = run(t, append([]string{"query", "--format", "json", "SELECT * FROM item WHERE id < 0"}, flags...)...)
	if code != cli.ExitOK || out != "[]\n" {
		t.Errorf("no rows as json: exit %d, out %q", code, out)
	}
}

func TestQueryErrors(t *testing.T) {
	t.Parallel()
	flags := stackFlags(t)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"SELECT * FROM no_such_table"}, cli.ExitFailure, `pgsurreal: ERROR 42P01: relation "no_such_table" does not exist (position 15)`},
		{[]string{"SELEC 1"}, cli.ExitFailure, `pgsurreal: ERROR 42601: syntax error at or near "SELEC" (position 1)`},
		{[]string{"SELECT $1::int", "many"}, cli.ExitFailure, `pgsurreal: ERROR 22P02: invalid input syntax for type integer: "many"`},
		{[]string{"--format", "xml", "SELECT 1"}, cli.ExitUsage, `--format "xml"`},
		{[]string{"--consistency", "strong", "SELECT 1"}, cli.ExitUsage, `--consistency "strong"`},
		{nil, cli.ExitUsage, "query needs a statement"},
		{[]string{"-f", filepath.Join(t.TempDir(), "missing.sql")}, cli.ExitUsage, "missing.sql"},
	}
	for _, c := range cases {
		code, out, errOut := run(t, append(append([]string{"query"}, c.args...), flags...)...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d (want %d), stderr %q (want %q), stdout %q", c.args, code, c.code, errOut, c.want, out)
		}
	}
}

func TestQueryFederated(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	pg, pool := env.NewPostgresPool(t)
	su, cl := env.NewSurrealClient(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, "CREATE TABLE customer (id bigint PRIMARY KEY, name text); INSERT INTO customer VALUES (1, 'Ann'), (2, 'Bob')"); err != nil {
		t.Fatal(err)
	}
	if _, err := surrealdb.Query[any](ctx, cl.DB, `DEFINE TABLE review SCHEMAFULL;
DEFINE FIELD customer_id ON review TYPE int;
DEFINE FIELD rating ON review TYPE int;
CREATE review:1 SET customer_id = 1, rating = 5;
CREATE review:2 SET customer_id = 2, rating = 3;`, nil); err != nil {
		t.Fatal(err)
	}
	flags := connFlags(pg, su)
	const sql = "SELECT c.name, r.rating FROM customer c JOIN surreal.review r ON r.customer_id = c.id WHERE r.rating > $1 ORDER BY c.id"
	code, out, errOut := run(t, append([]string{"query", "--format", "json", "--no-cache", "--consistency", "eventual", sql, "2"}, flags...)...)
	want := `[
  {"name": "Ann", "rating": 5},
  {"name": "Bob", "rating": 3}
]
`
	if code != cli.ExitOK || out != want {
		t.Errorf("exit %d, out %q, want %q, stderr %q", code, out, want, errOut)
	}
	code, out, errOut = run(t, append([]string{"query", "--explain", sql, "2"}, flags...)...)
	if code != cli.ExitOK || !strings.Contains(out, "QUERY PLAN\n----") || !strings.Contains(out, "FROM `review`") {
		t.Errorf("explain: exit %d, out %q, stderr %q", code, out, errOut)
	}
}
