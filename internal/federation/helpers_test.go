package federation

import (
	"context"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

// fixture is a private PostgreSQL database and SurrealDB namespace with an
// engine over them.
type fixture struct {
	pg      *pgxpool.Pool
	pgcfg   config.Postgres
	scfg    config.Surreal
	surreal *surreal.Client
	engine  *Engine
}

func newFixture(t *testing.T, fc config.Federation) *fixture {
	t.Helper()
	return newFixtureSlot(t, fc, "pgsurreal")
}

// newFixtureSlot builds a fixture whose engine waits on the sync of slot.
func newFixtureSlot(t *testing.T, fc config.Federation, slot string) *fixture {
	t.Helper()
	env := testenv.Get(t)
	pgcfg, pool := env.NewPostgresPool(t)
	scfg, cl := env.NewSurrealClient(t)
	ctx := context.Background()
	sp, err := surreal.NewPool(ctx, scfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sp.Close(context.Background()) })
	e, err := New(ctx, Options{PG: pool, Surreal: sp, Config: fc, Slot: slot, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return &fixture{pg: pool, pgcfg: pgcfg, scfg: scfg, surreal: cl, engine: e}
}

func (f *fixture) pgExec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := f.pg.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func (f *fixture) surrealExec(t *testing.T, sql string, vars map[string]any) {
	t.Helper()
	res, err := surrealdb.Query[any](context.Background(), f.surreal.DB, sql, vars)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	for i, r := range *res {
		if r.Status != "OK" {
			t.Fatalf("%s: statement %d: %v", sql, i, r.Result)
		}
	}
}
