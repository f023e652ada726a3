package harness

import (
	"context"
	"fmt"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
)

// BenchColumns describe the table GenerateBench makes.
var BenchColumns = []string{"id int8 pk", "qty int4", "name text", "price numeric(12,2)", "score float8 (10% NULL)",
	"active bool", "created_at timestamptz", "ref uuid", "attrs jsonb", "day date"}

// GenerateBench creates and fills public.bench (rows rows of the 10
// mixed-type columns of BenchColumns, shared by the snapshot and verify
// benchmarks), then vacuums and checkpoints so that no reader pays for
// hint bits or a checkpoint.
func GenerateBench(ctx context.Context, pg config.Postgres, rows int) error {
	conn, err := postgres.ConnectOne(ctx, pg, nil)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	stmts := []string{
		`CREATE TABLE bench (
			id int8 PRIMARY KEY,
			qty int4 NOT NULL,
			name text NOT NULL,
			price numeric(12,2) NOT NULL,
			score float8,
			active bool NOT NULL,
			created_at timestamptz NOT NULL,
			ref uuid NOT NULL,
			attrs jsonb NOT NULL,
			day date NOT NULL)`,
		`INSERT INTO bench
		 SELECT g, (g % 1000)::int4, 'item ' || g || ' ' || left(md5(g::text), 12),
			round((g % 100000) / 7.0, 2), CASE WHEN g % 10 = 0 THEN NULL ELSE g * 0.001 + 0.5 END,
			g % 2 = 0, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second', md5(g::text)::uuid,
			jsonb_build_object('k', g % 10, 'tag', 't' || (g % 100), 'ok', g % 3 = 0),
			date '2020-01-01' + (g % 3650)::int
		 FROM generate_series(1, $1::int8) g`,
		`VACUUM (FREEZE, ANALYZE) bench`,
		`CHECKPOINT`,
	}
	for i, s := range stmts {
		var args []any
		if i == 1 {
			args = []any{rows}
		}
		if _, err := conn.Exec(ctx, s, args...); err != nil {
			return fmt.Errorf("generating the table: %w", err)
		}
	}
	return nil
}
