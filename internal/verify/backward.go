package verify

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/gofrs/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/mapping"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/surreal/source"
)

// backward verifies a SurrealDB table replicated into PostgreSQL (a
// reverse table): each record, mapped to a row as the reverse direction
// maps it, against the PostgreSQL row. The comparison runs inside
// PostgreSQL: a chunk of mapped records is copied into a temporary table
// (as text, the form the reverse direction writes) and compared there
// with the rows of the same key range, each value cast to its column's
// type and back to text, so PostgreSQL's own input and output functions
// decide equality.
type backward struct {
	v      *verifier
	cfg    config.ReverseTable
	shape  *mapping.ReverseShape
	target string // the PostgreSQL table, quoted
	cols   []string
	types  []string // format_type of each column
	nkey   int
}

func (b *backward) load(ctx context.Context) error {
	var def source.Definition
	err := b.v.sur.Do(ctx, func(ctx context.Context, cl *surreal.Client) (err error) {
		def, err = source.Describe(ctx, cl, b.cfg.Name)
		return err
	})
	if err != nil {
		return err
	}
	if def.Table == "" {
		return fmt.Errorf("SurrealDB table %s (reverse.tables) does not exist in namespace %s database %s", b.cfg.Name, b.v.cfg.Surreal.Namespace, b.v.cfg.Surreal.Database)
	}
	st, err := mapping.ParseSurrealTable(b.cfg.Name, def.Table, def.Fields)
	if err != nil {
		return err
	}
	schema, name, _ := strings.Cut(b.cfg.TargetName(), ".")
	existing, err := postgres.DescribeTable(ctx, b.v.pool, schema, name)
	if err != nil {
		return fmt.Errorf("PostgreSQL table %s.%s, the replica of SurrealDB table %s: %w (has the reverse direction run yet?)", schema, name, b.cfg.Name, err)
	}
	if b.shape, err = mapping.ChooseReverseShape(st, b.cfg, schema, name, existing); err != nil {
		return err
	}
	b.target = postgres.QualifiedIdent(schema, name)
	b.cols = b.shape.Columns()
	b.nkey = len(b.shape.KeyColumns())
	b.types = make([]string, len(b.cols))
	for i, c := range b.cols {
		col, ok := existing.Column(c)
		if !ok {
			return fmt.Errorf("PostgreSQL table %s has no column %s for SurrealDB table %s", b.target, c, b.cfg.Name)
		}
		b.types[i] = col.TypeName
	}
	return nil
}

// verify compares the SurrealDB table with its PostgreSQL replica chunk
// by chunk, confirms what differs, and repairs it when asked.
func (b *backward) verify(ctx context.Context) (TableReport, error) {
	rep := TableReport{Table: b.cfg.Name, Direction: "surreal", Replica: b.cfg.TargetName()}
	if err := b.load(ctx); err != nil {
		return rep, err
	}
	conn, err := postgres.ConnectOne(ctx, b.v.cfg.Postgres, nil)
	if err != nil {
		return rep, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := b.tempTables(ctx, conn); err != nil {
		return rep, err
	}
	p, err := newPager(ctx, b.v.cfg.Surreal, "", "", b.cfg.Name)
	if err != nil {
		return rep, err
	}
	defer p.drain()
	cands := map[string]candidate{}
	size := b.v.cfg.Verify.ChunkRows
	for {
		var recs []map[string]any
		for len(recs) < size {
			rec, err := p.peek()
			if err != nil {
				return rep, err
			}
			if rec == nil {
				break
			}
			p.pop()
			recs = append(recs, rec)
		}
		if len(recs) == 0 {
			break
		}
		found, err := b.compareChunk(ctx, conn, recs)
		if err != nil {
			return rep, err
		}
		rep.Chunks++
		if len(found) > 0 {
			rep.ChunksDiffering++
		}
		for _, c := range found {
			cands[strings.Join(c.keys, "\x00")] = c
		}
		b.v.prog.Add(b.cfg.Name, int64(len(recs)))
	}
	extra, err := b.extras(ctx, conn)
	if err != nil {
		return rep, err
	}
	for _, c := range extra {
		cands[strings.Join(c.keys, "\x00")] = c
	}
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+b.target).Scan(&rep.ReplicaRows); err != nil {
		return rep, fmt.Errorf("counting %s: %w", b.target, err)
	}
	rep.SourceRows = p.records
	b.v.prog.Done(b.cfg.Name)
	if len(cands) == 0 {
		return rep, nil
	}
	list := make([]candidate, 0, len(cands))
	for _, c := range cands {
		list = append(list, c)
	}
	diffs, unsettled, err := b.confirm(ctx, conn, list)
	if err != nil {
		return rep, err
	}
	rep.Differences, rep.Unsettled = diffs, unsettled
	if !b.v.o.Repair || len(diffs) == 0 {
		return rep, nil
	}
	keys, err := b.repair(ctx, conn, diffs)
	if err != nil {
		return rep, err
	}
	rep.Repaired = len(keys)
	after, _, err := b.confirm(ctx, conn, keys)
	if err != nil {
		return rep, err
	}
	rep.StillDifferent = len(after)
	return rep, nil
}

// tempTables creates the session's tables of mapped records and of keys
// to re-check, all columns text.
func (b *backward) tempTables(ctx context.Context, conn *pgx.Conn) error {
	defs := make([]string, len(b.cols))
	for i, c := range b.cols {
		defs[i] = postgres.Ident(c) + " text"
	}
	keys := defs[:b.nkey]
	for _, sql := range []string{
		"CREATE TEMP TABLE verify_src (" + strings.Join(defs, ", ") + ")",
		"CREATE TEMP TABLE verify_keys (" + strings.Join(keys, ", ") + ")",
		"CREATE TEMP TABLE verify_seen (" + strings.Join(keys, ", ") + ")",
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("creating verify's temporary tables: %w", err)
		}
	}
	return nil
}

// cast is column i of alias as its column's type.
func (b *backward) cast(alias string, i int) string {
	return alias + "." + postgres.Ident(b.cols[i]) + "::" + b.types[i]
}

// keyTuple is the key columns of alias as a row.
func (b *backward) keyTuple(alias string) string {
	parts := make([]string, b.nkey)
	for i := range parts {
		parts[i] = alias + "." + postgres.Ident(b.cols[i])
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// compareSQL compares verify_src with the replica rows that where selects.
func (b *backward) compareSQL(where string) string {
	srcKey := make([]string, b.nkey)
	keyOut := make([]string, b.nkey)
	for i := range srcKey {
		srcKey[i] = b.cast("s", i)
		keyOut[i] = "coalesce(" + b.cast("s", i) + ", t." + postgres.Ident(b.cols[i]) + ")::text"
	}
	var diff, sv, tv []string
	for i, c := range b.cols {
		s, t := b.cast("s", i)+"::text", "t."+postgres.Ident(c)+"::text"
		sv, tv = append(sv, s), append(tv, t)
		diff = append(diff, fmt.Sprintf("CASE WHEN %s IS DISTINCT FROM %s THEN %s END", s, t, quoteLiteral(c)))
	}
	return fmt.Sprintf(`SELECT CASE WHEN t."pgsurreal verify" IS NULL THEN 'missing' WHEN s."pgsurreal verify" IS NULL THEN 'extra' ELSE 'different' END,
  ARRAY[%s], array_remove(ARRAY[%s], NULL)
FROM (SELECT true AS "pgsurreal verify", * FROM verify_src) s
FULL JOIN (SELECT true AS "pgsurreal verify", * FROM %s t WHERE %s) t ON (%s) = %s
WHERE s."pgsurreal verify" IS NULL OR t."pgsurreal verify" IS NULL OR (%s) IS DISTINCT FROM (%s)`,
		strings.Join(keyOut, ", "), strings.Join(diff, ", "), b.target, where,
		strings.Join(srcKey, ", "), b.keyTuple("t"), strings.Join(sv, ", "), strings.Join(tv, ", "))
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// load copies mapped records into verify_src, replacing what it held.
func (b *backward) fill(ctx context.Context, conn *pgx.Conn, recs []map[string]any) (map[string]any, error) {
	if _, err := conn.Exec(ctx, "TRUNCATE verify_src"); err != nil {
		return nil, err
	}
	ids := map[string]any{}
	rows := make([][]any, 0, len(recs))
	for _, rec := range recs {
		vals, err := b.shape.Row(rec)
		if err != nil {
			return nil, fmt.Errorf("mapping %w (the reverse direction cannot replicate this record either)", err)
		}
		keys := make([]string, b.nkey)
		for i := range keys {
			keys[i] = fmt.Sprint(vals[i])
		}
		ids[strings.Join(keys, "\x00")] = recordKey(rec)
		rows = append(rows, vals)
	}
	if len(rows) == 0 {
		return ids, nil
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"verify_src"}, b.cols, pgx.CopyFromRows(rows)); err != nil {
		return nil, fmt.Errorf("loading records of SurrealDB table %s for comparison: %w", b.cfg.Name, err)
	}
	return ids, nil
}

// compareChunk compares recs with the replica rows of the same keys and
// returns the keys that are missing or different; their keys are noted
// in verify_seen, for extras.
func (b *backward) compareChunk(ctx context.Context, conn *pgx.Conn, recs []map[string]any) ([]candidate, error) {
	ids, err := b.fill(ctx, conn, recs)
	if err != nil {
		return nil, err
	}
	keys := idents(b.cols[:b.nkey])
	if _, err := conn.Exec(ctx, "INSERT INTO verify_seen ("+keys+") SELECT "+keys+" FROM verify_src"); err != nil {
		return nil, err
	}
	found, err := b.differences(ctx, conn, b.compareSQL(b.keyTuple("t")+" IN (SELECT "+b.keyCasts("s")+" FROM verify_src s)"), nil, ids)
	if err != nil {
		return nil, fmt.Errorf("comparing SurrealDB table %s with %s: %w", b.cfg.Name, b.target, err)
	}
	out := make([]candidate, len(found))
	for i, d := range found {
		out[i] = d.cand
	}
	return out, nil
}

// extras are the replica rows whose keys no source record had: an
// anti-join with every key read, inside PostgreSQL, so it holds whatever
// order the two databases sort keys in.
func (b *backward) extras(ctx context.Context, conn *pgx.Conn) ([]candidate, error) {
	if _, err := conn.Exec(ctx, "TRUNCATE verify_src"); err != nil {
		return nil, err
	}
	where := "NOT EXISTS (SELECT 1 FROM verify_seen v WHERE (" + b.keyCasts("v") + ") = " + b.keyTuple("t") + ")"
	found, err := b.differences(ctx, conn, b.compareSQL(where), nil, nil)
	if err != nil {
		return nil, fmt.Errorf("looking for rows of %s that SurrealDB table %s does not have: %w", b.target, b.cfg.Name, err)
	}
	out := make([]candidate, len(found))
	for i, d := range found {
		out[i] = d.cand
	}
	return out, nil
}

// keyCasts are alias's key columns cast to the replica's key types.
func (b *backward) keyCasts(alias string) string {
	parts := make([]string, b.nkey)
	for i := range parts {
		parts[i] = b.cast(alias, i)
	}
	return strings.Join(parts, ", ")
}

func idents(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = postgres.Ident(n)
	}
	return strings.Join(out, ", ")
}

// differences runs a compare query; ids maps the key texts of the
// records loaded to their record id parts.
func (b *backward) differences(ctx context.Context, conn *pgx.Conn, sql string, args []any, ids map[string]any) ([]Difference, error) {
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Difference
	for rows.Next() {
		var kind string
		var keys, fields []string
		if err := rows.Scan(&kind, &keys, &fields); err != nil {
			return nil, err
		}
		if kind != Different {
			fields = nil
		}
		id, ok := ids[strings.Join(keys, "\x00")]
		if !ok {
			id = b.idOf(keys)
		}
		out = append(out, Difference{Table: b.cfg.TargetName(), Key: "(" + strings.Join(keys, ", ") + ")", Kind: kind, Fields: fields,
			cand: candidate{id: id, keys: keys}})
	}
	return out, rows.Err()
}

// idOf is the record id part of a replica row's key (an extra row): an
// integer or UUID column gives that kind of id, others a string; a key
// of several columns an array id.
func (b *backward) idOf(keys []string) any {
	parts := make([]any, len(keys))
	for i, k := range keys {
		parts[i] = k
		switch strings.ToLower(b.types[i]) {
		case "bigint", "integer", "smallint":
			if n, err := strconv.ParseInt(k, 10, 64); err == nil {
				parts[i] = n
			}
		case "uuid":
			if u, err := uuid.FromString(k); err == nil {
				parts[i] = models.UUID{UUID: u}
			}
		}
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return parts
}
