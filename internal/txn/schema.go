package txn

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgsurreal/pgsurreal/internal/postgres"
)

// ensureSchema creates the coordinator lease table.
func ensureSchema(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	sql := "CREATE SCHEMA IF NOT EXISTS " + postgres.Ident(schema) + ";\n" +
		"CREATE TABLE IF NOT EXISTS " + postgres.QualifiedIdent(schema, "tx_coordinator") + ` (
    id         text PRIMARY KEY,
    expires_at timestamptz NOT NULL
)`
	if _, err := pool.Exec(ctx, sql); err != nil {
		return fmt.Errorf("creating the transaction coordinator table in schema %s: %w", schema, err)
	}
	return nil
}
