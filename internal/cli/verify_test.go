package cli_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/cli"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

// TestVerifyCommand runs `pgsurreal verify` on a table copied by
// `pgsurreal snapshot`: clean, then with a record changed behind
// replication's back (exit 3 and the difference listed, in text and
// JSON), repaired, and with the mistakes an operator makes.
func TestVerifyCommand(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	pg, pool := env.NewPostgresPool(t)
	su, cl := env.NewSurrealClient(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE item (id int PRIMARY KEY, name text, price numeric(8,2));
		INSERT INTO item SELECT i, 'item ' || i, i * 1.5 FROM generate_series(1, 40) i`); err != nil {
		t.Fatal(err)
	}
	flags := append(connFlags(pg, su), "--set", "sync.include=public.item", "--set", "verify.wait_timeout=1s")
	if code, _, errOut := run(t, append([]string{"snapshot"}, flags...)...); code != cli.ExitOK {
		t.Fatalf("snapshot: exit %d: %s", code, errOut)
	}
	if code, out, errOut := run(t, append([]string{"verify"}, flags...)...); code != cli.ExitOK || !strings.Contains(out, "1 tables, 0 differences") {
		t.Fatalf("verify of a fresh copy: exit %d\n%s%s", code, out, errOut)
	}

	if _, err := surrealdb.Query[any](ctx, cl.DB, "UPDATE item:3 SET price = 99; DELETE item:4", nil); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, append([]string{"verify"}, flags...)...)
	if code != cli.ExitDifferences || !strings.Contains(out, "different item item:3 fields price") || !strings.Contains(out, "missing   item item:4") ||
		!strings.Contains(errOut, "2 differences between PostgreSQL and SurrealDB") {
		t.Fatalf("verify after drift: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = run(t, append([]string{"verify", "--json"}, flags...)...)
	var rep struct {
		Tables []struct {
			Differences []struct{ Kind, Key string } `json:"differences"`
		} `json:"tables"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != cli.ExitDifferences || len(rep.Tables) != 1 || len(rep.Tables[0].Differences) != 2 {
		t.Fatalf("verify --json: exit %d, %v\n%s", code, err, out)
	}
	if code, out, errOut := run(t, append([]string{"verify", "--repair"}, flags...)...); code != cli.ExitOK || !strings.Contains(out, "2 differences, repaired") {
		t.Fatalf("verify --repair: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := run(t, append([]string{"verify"}, flags...)...); code != cli.ExitOK {
		t.Fatalf("verify after the repair: exit %d\n%s%s", code, out, errOut)
	}

	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--table", "public.nosuch"}, cli.ExitFailure, "verify --table public.nosuch: not a replicated table"},
		{[]string{"--set", "surreal.password=wrong-secret"}, cli.ExitFailure, "surreal"},
		{[]string{"extra"}, cli.ExitUsage, "takes 0 argument"},
	} {
		code, out, errOut := run(t, append(append([]string{"verify"}, flags...), c.args...)...)
		if code != c.code || !strings.Contains(strings.ToLower(errOut), strings.ToLower(c.want)) || strings.Contains(errOut, "wrong-secret") {
			t.Errorf("verify %v: exit %d (want %d)\nstderr %s\nstdout %s", c.args, code, c.code, errOut, out)
		}
	}
}
