package verify

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/mapping"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
)

// sample compares a random share of the table's rows with their records
// by key (a scheduled, sampled verify), and the row count with the
// record count, which is what reveals extra records without reading them
// all.
func (f *forward) sample(ctx context.Context, rep TableReport) (TableReport, error) {
	pct := f.v.o.SamplePercent
	rep.SampledPercent = pct
	name := f.table.QualifiedName()
	conn, err := postgres.ConnectOne(ctx, f.v.cfg.Postgres, mapping.SessionParams)
	if err != nil {
		return rep, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// The percentage is an int from the configuration, not user text.
	sql := fmt.Sprintf("SELECT %s FROM %s TABLESAMPLE BERNOULLI (%d)", strings.Join(f.columns(), ", "), postgres.QualifiedIdent(f.table.Schema, f.table.Name), pct)
	rows, err := conn.Query(ctx, sql, pgx.QueryResultFormats{pgx.TextFormatCode})
	if err != nil {
		return rep, fmt.Errorf("sampling %s: %w", name, err)
	}
	m := f.mapper()
	keyAt := f.keyIndexes()
	var picked []candidate
	for rows.Next() {
		r := textRow(rows)
		rec, err := m.Record(f.shape, r)
		if err != nil {
			rows.Close()
			return rep, fmt.Errorf("mapping %w", err)
		}
		keys := make([]string, len(keyAt))
		for i, at := range keyAt {
			keys[i] = r.Vals[at].Text
		}
		picked = append(picked, candidate{id: rec.Doc["id"], keys: keys})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return rep, fmt.Errorf("sampling %s: %w", name, err)
	}
	rep.SourceRows = int64(len(picked))
	c := f.checker()
	cands := map[string]candidate{}
	for start := 0; start < len(picked); start += lookupBatch {
		part := picked[start:min(start+lookupBatch, len(picked))]
		src, err := c.rows(ctx, part)
		if err != nil {
			return rep, err
		}
		recs, err := c.records(ctx, part)
		if err != nil {
			return rep, err
		}
		rep.Chunks++
		differing := false
		for _, p := range part {
			for _, byServer := range recs {
				for _, r := range byServer {
					if r[mapping.Canon(p.id)] != nil {
						rep.ReplicaRows++
					}
				}
			}
			if len(c.differences(p, src[mapping.Canon(p.id)], recs)) > 0 {
				cands[mapping.Canon(p.id)] = p
				differing = true
			}
		}
		if differing {
			rep.ChunksDiffering++
		}
		f.v.prog.Add(name, int64(len(part)))
	}
	if err := f.counts(ctx, conn); err != nil {
		return rep, err
	}
	return f.settle(ctx, rep, cands)
}

// counts compares the table's row count with its main replica's record
// count (on every server of the table) and notes a difference a sample
// cannot locate.
func (f *forward) counts(ctx context.Context, conn *pgx.Conn) error {
	var rows int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+postgres.QualifiedIdent(f.table.Schema, f.table.Name)).Scan(&rows); err != nil {
		return err
	}
	var records int64
	for _, server := range f.servers() {
		n, err := f.countOn(ctx, server)
		if err != nil {
			if f.rule != nil {
				err = fmt.Errorf("on server %s: %w", server, err)
			}
			return fmt.Errorf("counting SurrealDB table %s: %w", f.shape.Target, err)
		}
		records += n
	}
	if rows != records {
		f.v.note("%s has %d rows and SurrealDB table %s %d records: a sample cannot say which differ; run `pgsurreal verify --table %s` for the keys",
			f.table.QualifiedName(), rows, f.shape.Target, records, f.table.QualifiedName())
	}
	return nil
}

// countOn counts the main replica's records on one server.
func (f *forward) countOn(ctx context.Context, server string) (int64, error) {
	var records int64
	err := f.v.surrealOn(ctx, server, f.shape.Namespace, f.shape.Database, func(ctx context.Context, db *surrealdb.DB) error {
		res, err := surrealdb.Query[[]map[string]any](ctx, db, "SELECT count() AS n FROM type::table($tb) GROUP ALL", map[string]any{"tb": f.shape.Target})
		if err != nil {
			if strings.Contains(err.Error(), "does not exist") {
				return nil
			}
			return err
		}
		if len((*res)[0].Result) > 0 {
			fmt.Sscan(fmt.Sprint((*res)[0].Result[0]["n"]), &records)
		}
		return nil
	})
	return records, err
}
