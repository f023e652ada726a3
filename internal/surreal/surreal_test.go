package surreal_test

import (
	"context"
	"strings"
	"testing"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

// hostile are identifiers that break naive SurrealQL building.
var hostile = []string{
	"plain", "select", "123", "with space", "dash-ed", "quote'single", `quote"double`,
	"back`tick", `back\slash`, "angle⟩close", "ünïcødé", "emoji🙂", "semi;colon DROP",
}

func TestIdentRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, c := testenv.Get(t).NewSurrealClient(t)
	for _, name := range hostile {
		q := "CREATE " + surreal.Ident(name) + ":1 SET " + surreal.Ident(name+"_f") + " = $v; SELECT * FROM " + surreal.Ident(name)
		res, err := surrealdb.Query[[]map[string]any](ctx, c.DB, q, map[string]any{"v": name})
		if err != nil {
			t.Errorf("%q: %v", name, err)
			continue
		}
		rows := (*res)[1].Result
		if len(rows) != 1 || rows[0][name+"_f"] != name {
			t.Errorf("%q: rows %v", name, rows)
		}
	}
	res, err := surrealdb.Query[[]string](ctx, c.DB, "RETURN object::keys((INFO FOR DB).tables)", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join((*res)[0].Result, "|")
	for _, name := range hostile {
		if !strings.Contains(got, name) {
			t.Errorf("table %q missing from INFO FOR DB: %s", name, got)
		}
	}
}

func TestConnectErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := testenv.Get(t)
	bad := env.Surreal
	bad.Password = "definitely-wrong-password"
	_, err := surreal.Connect(ctx, bad, nil)
	if err == nil || !strings.Contains(err.Error(), "rejected the credentials") || strings.Contains(err.Error(), "definitely-wrong-password") {
		t.Fatalf("wrong password: %v", err)
	}
	down := config.Default().Surreal
	down.URL = "ws://127.0.0.1:1/rpc"
	_, err = surreal.Connect(ctx, down, nil)
	if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "surreal.url") {
		t.Fatalf("unreachable: %v", err)
	}
}

func TestPool(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testenv.Get(t).NewSurreal(t)
	cfg.PoolSize = 3
	p, err := surreal.NewPool(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	seen := map[*surreal.Client]bool{}
	for range 6 {
		c := p.Get()
		seen[c] = true
		if _, err := surrealdb.Query[any](ctx, c.DB, "RETURN 1", nil); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != 3 || p.Size() != 3 {
		t.Fatalf("pool handed out %d distinct clients, want 3", len(seen))
	}
}

// TestPoolReconnects: a connection that broke (closed here, as a server
// restart leaves it) is replaced by Do, which then succeeds.
func TestPoolReconnects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testenv.Get(t).NewSurreal(t)
	cfg.PoolSize = 1
	p, err := surreal.NewPool(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	broken := p.Get()
	if err := broken.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if !broken.IsDead() {
		t.Fatal("a closed client does not count as dead")
	}
	var got any
	err = p.Do(ctx, func(ctx context.Context, c *surreal.Client) error {
		res, err := surrealdb.Query[int](ctx, c.DB, "RETURN 41 + 1", nil)
		if err == nil {
			got = (*res)[0].Result
		}
		return err
	})
	if err != nil || got != 42 {
		t.Fatalf("Do after the break: %v, %v", got, err)
	}
	if p.Get() == broken {
		t.Fatal("the broken client is still in the pool")
	}
	// A refused statement is not a connection error: no reconnect.
	before := p.Get()
	err = p.Do(ctx, func(ctx context.Context, c *surreal.Client) error {
		_, err := surrealdb.Query[any](ctx, c.DB, "SELECT * FROM", nil)
		return err
	})
	if err == nil || surreal.IsConnError(err) || p.Get() != before {
		t.Fatalf("a syntax error: %v (reconnected: %v)", err, p.Get() != before)
	}
}

// TestPoolClosed: a closed pool answers with an error, not a panic (a
// background refresh can outlive the pool at shutdown).
func TestPoolClosed(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	cfg := env.NewSurreal(t)
	p, err := surreal.NewPool(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	err = p.Do(context.Background(), func(context.Context, *surreal.Client) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "pool is closed") {
		t.Fatalf("Do on a closed pool: %v", err)
	}
}
