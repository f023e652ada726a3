package backup

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
)

// pgSnapshot is an open REPEATABLE READ transaction whose snapshot pg_dump
// imports (--snapshot); it must stay open until pg_dump has finished.
type pgSnapshot struct {
	conn *pgx.Conn
	name string
	// lsn is PostgreSQL's WAL position read inside the snapshot: every
	// transaction the snapshot sees committed before it.
	lsn           cdc.LSN
	serverVersion string
	major         int
}

func openSnapshot(ctx context.Context, cfg config.Postgres) (*pgSnapshot, error) {
	conn, err := postgres.ConnectOne(ctx, cfg, nil)
	if err != nil {
		return nil, err
	}
	s := &pgSnapshot{conn: conn}
	if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		s.close(ctx)
		return nil, fmt.Errorf("starting the backup's snapshot transaction: %w", err)
	}
	var lsn string
	var num int
	err = conn.QueryRow(ctx, "SELECT pg_export_snapshot(), pg_current_wal_lsn()::text, current_setting('server_version'), current_setting('server_version_num')::int").
		Scan(&s.name, &lsn, &s.serverVersion, &num)
	if err != nil {
		s.close(ctx)
		return nil, fmt.Errorf("exporting a snapshot for pg_dump (the backup needs a primary server, not a standby): %w", err)
	}
	s.major = num / 10000
	if s.lsn, err = cdc.ParseLSN(lsn); err != nil {
		s.close(ctx)
		return nil, err
	}
	return s, nil
}

func (s *pgSnapshot) close(ctx context.Context) {
	_ = s.conn.Close(context.WithoutCancel(ctx))
}

// userRelations selects the relations that belong to the database's
// users: not the system catalogs, TOAST or temporary schemas, and not
// members of an extension (the extension's script creates those).
const userRelations = `
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')`

// countTables counts the rows of every ordinary table: what pg_dump copies
// (a partitioned table's rows are its partitions').
func countTables(ctx context.Context, q postgres.Querier) ([]TableCount, error) {
	rows, err := q.Query(ctx, "SELECT n.nspname, c.relname"+userRelations+" AND c.relkind = 'r' ORDER BY 1, 2")
	if err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (TableCount, error) {
		var t TableCount
		return t, r.Scan(&t.Schema, &t.Name)
	})
	if err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	for i := range tables {
		t := &tables[i]
		rows, err := q.Query(ctx, "SELECT count(*) FROM "+postgres.QualifiedIdent(t.Schema, t.Name))
		if err != nil {
			return nil, fmt.Errorf("counting the rows of %s.%s: %w", t.Schema, t.Name, err)
		}
		t.Rows, err = pgx.CollectExactlyOneRow(rows, pgx.RowTo[int64])
		if err != nil {
			return nil, fmt.Errorf("counting the rows of %s.%s: %w", t.Schema, t.Name, err)
		}
	}
	return tables, nil
}

// reversePositions reads the reverse direction's positions from
// <schema>.reverse_position, if that table exists.
func reversePositions(ctx context.Context, q postgres.Querier, schema string) ([]ReversePosition, error) {
	table := postgres.QualifiedIdent(schema, "reverse_position")
	rows, err := q.Query(ctx, "SELECT to_regclass($1) IS NOT NULL", table)
	if err != nil {
		return nil, err
	}
	exists, err := pgx.CollectExactlyOneRow(rows, pgx.RowTo[bool])
	if err != nil || !exists {
		return nil, err
	}
	rows, err = q.Query(ctx, "SELECT source, versionstamp::text, checked_at FROM "+table+" ORDER BY source")
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", table, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ReversePosition, error) {
		var p ReversePosition
		err := r.Scan(&p.Source, &p.Versionstamp, &p.CheckedAt)
		p.CheckedAt = p.CheckedAt.UTC()
		return p, err
	})
}

// checkEmptyPostgres refuses a target database that holds any relation of
// its own.
func checkEmptyPostgres(ctx context.Context, q postgres.Querier, cfg config.Postgres) error {
	rows, err := q.Query(ctx, "SELECT n.nspname, c.relname, count(*) OVER ()"+userRelations+" ORDER BY c.relkind <> 'r', 1, 2 LIMIT 1")
	if err != nil {
		return fmt.Errorf("checking that PostgreSQL database %q is empty: %w", cfg.Database, err)
	}
	type found struct {
		schema, name string
		total        int64
	}
	f, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (found, error) {
		var f found
		return f, r.Scan(&f.schema, &f.name, &f.total)
	})
	if err != nil {
		return fmt.Errorf("checking that PostgreSQL database %q is empty: %w", cfg.Database, err)
	}
	if len(f) == 0 {
		return nil
	}
	others := ""
	if f[0].total > 1 {
		others = fmt.Sprintf(" and %d other relations", f[0].total-1)
	}
	return fmt.Errorf("PostgreSQL database %q is not empty: it holds %s.%s%s; restore into a new, empty database (createdb NAME, then set postgres.database to NAME)", cfg.Database, f[0].schema, f[0].name, others)
}

// compareCounts reports the first table whose restored count differs
// from the manifest's.
func compareCounts(what string, want, got []TableCount) error {
	have := map[string]int64{}
	for _, t := range got {
		have[t.Schema+"."+t.Name] = t.Rows
	}
	var bad []string
	for _, t := range want {
		n, ok := have[t.Schema+"."+t.Name]
		name := strings.TrimPrefix(t.Schema+"."+t.Name, ".")
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("%s is missing (the backup has %d)", name, t.Rows))
		case n != t.Rows:
			bad = append(bad, fmt.Sprintf("%s has %d, the backup %d", name, n, t.Rows))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return errors.New(what + ": " + strings.Join(bad, "; "))
}
