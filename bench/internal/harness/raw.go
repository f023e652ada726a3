package harness

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	surrealdb "github.com/surrealdb/surrealdb.go"
	"golang.org/x/sync/errgroup"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// Source is a query whose rows become SurrealDB documents.
type Source struct {
	// Query selects the rows; Args are its parameters.
	Query string
	Args  []any
	// Doc maps the current row to a document holding its "id".
	Doc func(pgx.Rows) (map[string]any, error)
}

// Rate is a number of rows moved in a time.
type Rate struct {
	Rows    int64   `json:"rows"`
	Seconds float64 `json:"seconds"`
	PerS    float64 `json:"rows_per_s"`
	// CPUSeconds is this process's CPU time over the measurement.
	CPUSeconds float64 `json:"client_cpu_seconds"`
}

// NewRate is rows moved in d using cpu of this process's CPU time.
func NewRate(rows int64, d, cpu time.Duration) Rate {
	return Rate{Rows: rows, Seconds: Round(d.Seconds(), 2), PerS: Round(float64(rows)/d.Seconds(), 0), CPUSeconds: Round(cpu.Seconds(), 2)}
}

// Define creates table (schemaless) in cfg's database, first removing any
// table of that name. Concurrent first inserts into a table that does not
// exist yet conflict on its definition, so the writers need it defined.
func Define(ctx context.Context, cfg config.Surreal, table string) error {
	db, err := Connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close(context.WithoutCancel(ctx))
	q := fmt.Sprintf("REMOVE TABLE IF EXISTS %s; DEFINE TABLE %s;", surreal.Ident(table), surreal.Ident(table))
	_, err = surrealdb.Query[any](ctx, db, q, nil)
	return err
}

// RawIngest is the raw ingest limit: the rows of src read from PostgreSQL
// in binary and sent to table as `INSERT INTO table $rows RETURN NONE`
// statements of batch rows by writers concurrent connections, with no
// transactions, positions or retries. The table is defined before the
// clock starts; the connections are open too.
func RawIngest(ctx context.Context, pg config.Postgres, src Source, sur config.Surreal, table string, batch, writers int) (Rate, error) {
	if err := Define(ctx, sur, table); err != nil {
		return Rate{}, err
	}
	conn, err := postgres.ConnectOne(ctx, pg, nil)
	if err != nil {
		return Rate{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	dbs := make([]*surrealdb.DB, writers)
	for i := range dbs {
		if dbs[i], err = Connect(ctx, sur); err != nil {
			return Rate{}, err
		}
		defer dbs[i].Close(context.WithoutCancel(ctx))
	}
	stmt := fmt.Sprintf("INSERT INTO %s $rows RETURN NONE", surreal.Ident(table))

	start, cpu := time.Now(), CPUTime()
	batches := make(chan []any, 2*writers)
	g, gctx := errgroup.WithContext(ctx)
	var rows int64
	g.Go(func() error {
		defer close(batches)
		rs, err := conn.Query(gctx, src.Query, src.Args...)
		if err != nil {
			return fmt.Errorf("reading rows: %w", err)
		}
		defer rs.Close()
		cur := make([]any, 0, batch)
		for rs.Next() {
			doc, err := src.Doc(rs)
			if err != nil {
				return err
			}
			cur = append(cur, doc)
			rows++
			if len(cur) == batch {
				select {
				case batches <- cur:
				case <-gctx.Done():
					return gctx.Err()
				}
				cur = make([]any, 0, batch)
			}
		}
		if err := rs.Err(); err != nil {
			return fmt.Errorf("reading rows: %w", err)
		}
		if len(cur) > 0 {
			batches <- cur
		}
		return nil
	})
	for _, db := range dbs {
		g.Go(func() error {
			for b := range batches {
				if err := check(surrealdb.Query[any](gctx, db, stmt, map[string]any{"rows": b})); err != nil {
					return fmt.Errorf("raw INSERT: %w", err)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return Rate{}, err
	}
	return NewRate(rows, time.Since(start), CPUTime()-cpu), nil
}

// ReadDocs reads the documents of src into memory.
func ReadDocs(ctx context.Context, pg config.Postgres, src Source) ([]map[string]any, error) {
	conn, err := postgres.ConnectOne(ctx, pg, nil)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rs, err := conn.Query(ctx, src.Query, src.Args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []map[string]any
	for rs.Next() {
		doc, err := src.Doc(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, doc)
	}
	return out, rs.Err()
}

// PerRowUpsert is the naive baseline: one request
// `UPSERT type::record($t, $id) CONTENT $doc RETURN NONE` per row, one at
// a time on one connection. docs are split into rounds of equal size and
// the rate of each round is returned.
func PerRowUpsert(ctx context.Context, sur config.Surreal, table string, docs []map[string]any, rounds int) ([]Rate, error) {
	if err := Define(ctx, sur, table); err != nil {
		return nil, err
	}
	db, err := Connect(ctx, sur)
	if err != nil {
		return nil, err
	}
	defer db.Close(context.WithoutCancel(ctx))
	per := max(1, len(docs)/max(1, rounds))
	var out []Rate
	for from := 0; from+per <= len(docs); from += per {
		start, cpu := time.Now(), CPUTime()
		for _, d := range docs[from : from+per] {
			content := make(map[string]any, len(d))
			for k, v := range d {
				if k != "id" {
					content[k] = v
				}
			}
			vars := map[string]any{"t": table, "id": d["id"], "doc": content}
			if err := check(surrealdb.Query[any](ctx, db, "UPSERT type::record($t, $id) CONTENT $doc RETURN NONE", vars)); err != nil {
				return nil, fmt.Errorf("per-row UPSERT: %w", err)
			}
		}
		out = append(out, NewRate(int64(per), time.Since(start), CPUTime()-cpu))
	}
	return out, nil
}

// check turns a failed statement into an error.
func check(res *[]surrealdb.QueryResult[any], err error) error {
	if err != nil {
		return err
	}
	for _, r := range *res {
		if r.Error != nil {
			return r.Error
		}
	}
	return nil
}
