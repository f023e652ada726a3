package txn

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgsurreal/pgsurreal/internal/postgres"
)

// ensureSchema creates the coordinator lease table. Every daemon does at
// start, several at once under the leader lease, and IF NOT EXISTS does
// not protect concurrent creators from each other (one fails on a unique
// index of the catalog): a transaction-level advisory lock orders them.
func ensureSchema(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("creating the transaction coordinator table in schema %s: %w", schema, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{"SELECT pg_advisory_xact_lock(hashtext($1))", []any{"pgsurreal schema " + schema}},
		{"CREATE SCHEMA IF NOT EXISTS " + postgres.Ident(schema), nil},
		{"CREATE TABLE IF NOT EXISTS " + postgres.QualifiedIdent(schema, "tx_coordinator") + ` (
    id         text PRIMARY KEY,
    expires_at timestamptz NOT NULL
)`, nil},
	} {
		if _, err := tx.Exec(ctx, q.sql, q.args...); err != nil {
			return fmt.Errorf("creating the transaction coordinator table in schema %s: %w", schema, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("creating the transaction coordinator table in schema %s: %w", schema, err)
	}
	return nil
}
