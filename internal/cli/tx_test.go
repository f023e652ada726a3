package cli_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/cli"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

// TestTxRecover: `pgsurreal tx recover` commits a prepared pgsurreal
// transaction whose commit decision SurrealDB holds, rolls back an
// undecided one of a coordinator without a lease (fencing it), and leaves
// other prepared transactions alone.
func TestTxRecover(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	pg, pool := env.NewPostgresPool(t)
	su, cl := env.NewSurrealClient(t)
	ctx := context.Background()
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), "ROLLBACK PREPARED 'other:1'") })
	for _, sql := range []string{
		"CREATE TABLE t (id int PRIMARY KEY)",
		"BEGIN; INSERT INTO t VALUES (1); PREPARE TRANSACTION 'pgsurreal:gone-1:aa'",
		"BEGIN; INSERT INTO t VALUES (2); PREPARE TRANSACTION 'pgsurreal:gone-1:bb'",
		"BEGIN; INSERT INTO t VALUES (3); PREPARE TRANSACTION 'other:1'",
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	if _, err := surrealdb.Query[any](ctx, cl.DB, "CREATE type::record('_pgsurreal_tx', 'pgsurreal:gone-1:aa') SET decision = 'commit', at = time::now()", nil); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := cli.Main(append([]string{"tx", "recover"}, connFlags(pg, su)...), &out, &errb)
	if code != 0 || !strings.Contains(out.String(), "in doubt: 2; committed: 1; rolled back: 1") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
	}
	var ids []int
	rows, _ := pool.Query(ctx, "SELECT id FROM t ORDER BY id")
	for rows.Next() {
		var id int
		_ = rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	if len(ids) != 1 || ids[0] != 1 {
		t.Fatalf("rows %v, want only the committed transaction's 1", ids)
	}
	res, err := surrealdb.Query[[]map[string]any](ctx, cl.DB, "SELECT decision FROM type::record('_pgsurreal_tx', 'pgsurreal:gone-1:bb')", nil)
	if err != nil || len((*res)[0].Result) != 1 || (*res)[0].Result[0]["decision"] != "abort" {
		t.Fatalf("the rolled-back transaction has no abort fence: %v %v", res, err)
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_prepared_xacts WHERE gid = 'other:1'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("another application's prepared transaction was touched: %d, %v", n, err)
	}
}

// TestTxFile: `pgsurreal tx -f` runs a steps file as one transaction and
// prints every step's result; a failing step exits 1 naming the step.
func TestTxFile(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	pg, pool := env.NewPostgresPool(t)
	su, cl := env.NewSurrealClient(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, "CREATE TABLE orders (id serial PRIMARY KEY, customer int NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, surql string) string {
		path := dir + "/" + name
		body := "isolation: repeatable read\nsteps:\n" +
			"  - db: postgres\n    statement: INSERT INTO orders (customer) VALUES ($1) RETURNING id\n    params: [7]\n" +
			"  - db: surreal\n    statement: \"" + surql + "\"\n    params: {order: {$ref: 0.0.id}}\n"
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	var out, errb bytes.Buffer
	code := cli.Main(append([]string{"tx", "-f", write("good.yaml", "CREATE type::record('interaction', $order) SET kind = 'order'")}, connFlags(pg, su)...), &out, &errb)
	if code != 0 || !strings.Contains(out.String(), `"id": "interaction:1"`) {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
	}
	out.Reset()
	errb.Reset()
	code = cli.Main(append([]string{"tx", "-f", write("bad.yaml", "CREATE type::record('interaction', $order) SET kind = nope::nope()")}, connFlags(pg, su)...), &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "step 1") {
		t.Fatalf("a failing step: exit %d, stderr %s", code, errb.String())
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM orders").Scan(&n); err != nil || n != 1 {
		t.Fatalf("orders %d (%v), want 1: the failed transaction's insert must not stay", n, err)
	}
	res, err := surrealdb.Query[[]map[string]any](ctx, cl.DB, "SELECT * FROM interaction", nil)
	if err != nil || len((*res)[0].Result) != 1 {
		t.Fatalf("interactions %v (%v), want 1", res, err)
	}
}
