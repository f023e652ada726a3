package testenv

import (
	"context"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

func surrealQuery(ctx context.Context, c *surreal.Client, q string) (*[]surrealdb.QueryResult[any], error) {
	return surrealdb.Query[any](ctx, c.DB, q, nil)
}
