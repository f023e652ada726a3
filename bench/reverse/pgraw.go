package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgsurreal/pgsurreal/bench/internal/harness"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
)

// pgUpsert is the sink's ceiling: rows the pipeline wrote, upserted again
// into an empty copy of the target table by one connection, batch rows
// per transaction sent as one pgx batch, with no SurrealDB, positions or
// checks.
func pgUpsert(ctx context.Context, pg config.Postgres, table string, rows, batch int) (harness.Rate, error) {
	conn, err := postgres.ConnectOne(ctx, pg, nil)
	if err != nil {
		return harness.Rate{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	src := postgres.QualifiedIdent("public", table)
	dst := postgres.QualifiedIdent("public", table+"_pgraw")
	for _, s := range []string{
		"CREATE TABLE IF NOT EXISTS " + dst + " (LIKE " + src + " INCLUDING ALL)",
		"TRUNCATE " + dst,
	} {
		if _, err := conn.Exec(ctx, s); err != nil {
			return harness.Rate{}, fmt.Errorf("preparing the PostgreSQL baseline: %w", err)
		}
	}
	rs, err := conn.Query(ctx, "SELECT * FROM "+src+" ORDER BY seq DESC LIMIT $1", rows)
	if err != nil {
		return harness.Rate{}, err
	}
	var cols []string
	for _, f := range rs.FieldDescriptions() {
		cols = append(cols, f.Name)
	}
	var data [][]any
	for rs.Next() {
		v, err := rs.Values()
		if err != nil {
			rs.Close()
			return harness.Rate{}, err
		}
		data = append(data, v)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return harness.Rate{}, err
	}
	if len(data) == 0 {
		return harness.Rate{}, fmt.Errorf("no rows in %s for the PostgreSQL baseline", src)
	}
	stmt := upsertSQL(dst, cols)

	start, cpu := time.Now(), harness.CPUTime()
	for from := 0; from < len(data); from += batch {
		b := &pgx.Batch{}
		for _, v := range data[from:min(from+batch, len(data))] {
			b.Queue(stmt, v...)
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			return harness.Rate{}, err
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			_ = tx.Rollback(ctx)
			return harness.Rate{}, fmt.Errorf("PostgreSQL baseline upsert: %w", err)
		}
		if err := tx.Commit(ctx); err != nil {
			return harness.Rate{}, err
		}
	}
	return harness.NewRate(int64(len(data)), time.Since(start), harness.CPUTime()-cpu), nil
}

// upsertSQL is INSERT ... ON CONFLICT (id) DO UPDATE of every column.
func upsertSQL(table string, cols []string) string {
	var names, params, sets []string
	for i, c := range cols {
		names = append(names, postgres.Ident(c))
		params = append(params, fmt.Sprintf("$%d", i+1))
		if c != "id" {
			sets = append(sets, postgres.Ident(c)+" = EXCLUDED."+postgres.Ident(c))
		}
	}
	return fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (id) DO UPDATE SET %s",
		table, strings.Join(names, ", "), strings.Join(params, ", "), strings.Join(sets, ", "))
}
