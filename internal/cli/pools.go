package cli

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// openPools connects to the configured PostgreSQL and SurrealDB; closeAll
// releases both.
func (a *app) openPools(ctx context.Context) (pg *pgxpool.Pool, sp *surreal.Pool, closeAll func(), err error) {
	pg, err = postgres.Connect(ctx, a.cfg.Postgres)
	if err != nil {
		return nil, nil, nil, err
	}
	sp, err = surreal.NewPool(ctx, a.cfg.Surreal, a.log)
	if err != nil {
		pg.Close()
		return nil, nil, nil, err
	}
	return pg, sp, func() {
		_ = sp.Close(context.WithoutCancel(ctx))
		pg.Close()
	}, nil
}
