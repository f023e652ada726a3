package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
)

// Querier is what catalog reads need: a *pgx.Conn, a pool or a pgx.Tx.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Table is a source table (see cdc.Table).
type Table = cdc.Table

// Column is a column of a Table.
type Column = cdc.TableColumn

// ForeignKey is a foreign key of a Table.
type ForeignKey = cdc.ForeignKey

// ListTables returns the ordinary and partitioned tables of the given
// schemas (every non-system schema when schemas is empty).
func ListTables(ctx context.Context, q Querier, schemas []string) ([]*Table, error) {
	if schemas == nil {
		schemas = []string{}
	}
	rows, err := q.Query(ctx, `
SELECT c.oid, n.nspname, c.relname, c.relreplident, GREATEST(c.reltuples, 0)::int8, c.relpages::int8
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname NOT LIKE 'pg_temp_%' AND n.nspname NOT LIKE 'pg_toast_temp_%'
  AND (cardinality($1::text[]) = 0 OR n.nspname = ANY($1))
ORDER BY n.nspname, c.relname`, schemas)
	if err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	var tables []*Table
	for rows.Next() {
		t := &Table{}
		var ident string
		if err := rows.Scan(&t.OID, &t.Schema, &t.Name, &ident, &t.EstimatedRows, &t.Pages); err != nil {
			return nil, err
		}
		if ident != "" {
			t.ReplicaIdentity = ident[0]
		}
		tables = append(tables, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	for _, t := range tables {
		if err := describe(ctx, q, t); err != nil {
			return nil, err
		}
	}
	return tables, nil
}

// DescribeTable loads one table by schema and name.
func DescribeTable(ctx context.Context, q Querier, schema, name string) (*Table, error) {
	all, err := ListTables(ctx, q, []string{schema})
	if err != nil {
		return nil, err
	}
	for _, t := range all {
		if t.Name == name {
			return t, nil
		}
	}
	return nil, fmt.Errorf("table %s.%s does not exist", schema, name)
}

func describe(ctx context.Context, q Querier, t *Table) error {
	rows, err := q.Query(ctx, `
SELECT a.attname, a.attnum, a.atttypid, a.atttypmod, format_type(a.atttypid, a.atttypmod), a.attnotnull
FROM pg_attribute a WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`, t.OID)
	if err != nil {
		return fmt.Errorf("reading columns of %s: %w", t.QualifiedName(), err)
	}
	t.Columns, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Column, error) {
		var c Column
		return c, r.Scan(&c.Name, &c.Num, &c.TypeOID, &c.TypeMod, &c.TypeName, &c.NotNull)
	})
	if err != nil {
		return fmt.Errorf("reading columns of %s: %w", t.QualifiedName(), err)
	}

	// Constraints: primary key, unique, foreign keys, with column names in
	// constraint order.
	rows, err = q.Query(ctx, `
SELECT con.conname, con.contype,
  ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
        JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i)::text[],
  COALESCE(fn.nspname, ''), COALESCE(fc.relname, ''),
  ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
        JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i)::text[]
FROM pg_constraint con
LEFT JOIN pg_class fc ON fc.oid = con.confrelid
LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
WHERE con.conrelid = $1 AND con.contype IN ('p', 'u', 'f')
ORDER BY con.conname`, t.OID)
	if err != nil {
		return fmt.Errorf("reading constraints of %s: %w", t.QualifiedName(), err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, typ, refSchema, refTable string
		var cols, refCols []string
		if err := rows.Scan(&name, &typ, &cols, &refSchema, &refTable, &refCols); err != nil {
			return err
		}
		switch typ {
		case "p":
			t.PrimaryKey = cols
		case "u":
			t.Unique = append(t.Unique, cols)
		case "f":
			t.ForeignKeys = append(t.ForeignKeys, ForeignKey{Name: name, Columns: cols, RefSchema: refSchema, RefTable: refTable, RefColumns: refCols})
		}
	}
	return rows.Err()
}

// ReplicaIdentityColumns returns the columns an UPDATE or DELETE carries
// old values for: the primary key, the replica identity index, or every
// column under REPLICA IDENTITY FULL.
func ReplicaIdentityColumns(ctx context.Context, q Querier, t *Table) ([]string, error) {
	switch t.ReplicaIdentity {
	case 'd':
		return t.PrimaryKey, nil
	case 'f':
		out := make([]string, len(t.Columns))
		for i, c := range t.Columns {
			out[i] = c.Name
		}
		return out, nil
	case 'i':
		rows, err := q.Query(ctx, `
SELECT ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o)::text[]
FROM pg_index i WHERE i.indrelid = $1 AND i.indisreplident`, t.OID)
		if err != nil {
			return nil, err
		}
		cols, err := pgx.CollectExactlyOneRow(rows, pgx.RowTo[[]string])
		if err != nil {
			return nil, fmt.Errorf("reading the replica identity index of %s: %w", t.QualifiedName(), err)
		}
		return cols, nil
	}
	return nil, nil
}
