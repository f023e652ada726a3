package drill

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// Count counts a SurrealDB table's records.
func Count(ctx context.Context, cl *surreal.Client, table string) (int64, error) {
	res, err := surrealdb.Query[[]struct {
		N int64 `json:"n"`
	}](ctx, cl.DB, "SELECT count() AS n FROM type::table($t) GROUP ALL", map[string]any{"t": table})
	if err != nil {
		return 0, err
	}
	if len(*res) == 0 || len((*res)[0].Result) == 0 {
		return 0, nil
	}
	return (*res)[0].Result[0].N, nil
}

// Behind lists the drill's tables whose PostgreSQL rows and SurrealDB
// records differ in number (forward and reverse); none once replication
// has caught up.
func Behind(ctx context.Context, pool *pgxpool.Pool, cl *surreal.Client) []string {
	var out []string
	for _, table := range []string{"account", "entry", ReverseTable} {
		var rows int64
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&rows); err != nil {
			out = append(out, fmt.Sprintf("%s: %v", table, err))
			continue
		}
		records, err := Count(ctx, cl, table)
		if err != nil || records != rows {
			out = append(out, fmt.Sprintf("%s: %d rows, %d records (%v)", table, rows, records, err))
		}
	}
	return out
}
