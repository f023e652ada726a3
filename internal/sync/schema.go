package sync

import (
	"context"
	"fmt"
	"strings"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/mapping"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// RelationTable keeps, per slot and source table, the columns SurrealDB's
// records were last shaped by. A Relation message that differs from it is
// a schema change to carry over to existing records.
const RelationTable = "_pgsurreal_relation"

type storedColumn struct {
	Name    string `json:"name"`
	TypeOID int64  `json:"type"`
	TypeMod int64  `json:"typmod"`
}

type storedRelation struct {
	Table   string         `json:"table"`
	Columns []storedColumn `json:"columns"`
}

// relationWrite stores a table's columns (in the same SurrealDB
// transaction as the writes that reshape the records).
func (p *Pipeline) relationWrite(table string, cols []cdc.Column) mapping.Write {
	sc := make([]any, len(cols))
	for i, c := range cols {
		sc[i] = map[string]any{"name": c.Name, "type": int64(c.TypeOID), "typmod": int64(c.TypeMod)}
	}
	return mapping.Write{
		Kind: mapping.SetMeta, Table: RelationTable, ID: []any{p.o.Sync.Slot, table},
		Doc: map[string]any{"slot": p.o.Sync.Slot, "table": table, "columns": sc}, Source: table + " (schema)",
	}
}

// catalogColumns are a table's columns as the snapshot copied them.
func catalogColumns(t *cdc.Table) []cdc.Column {
	out := make([]cdc.Column, len(t.Columns))
	for i, c := range t.Columns {
		out[i] = cdc.Column{Name: c.Name, TypeOID: c.TypeOID, TypeMod: c.TypeMod}
	}
	return out
}

// loadRelations reads the stored column lists of this slot.
func (p *Pipeline) loadRelations(ctx context.Context) (map[string][]cdc.Column, error) {
	res, err := surrealdb.Query[[]storedRelation](ctx, p.sink.Client().DB,
		"SELECT table, columns FROM type::table($t) WHERE slot = $slot", map[string]any{"t": RelationTable, "slot": p.o.Sync.Slot})
	out := map[string][]cdc.Column{}
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return out, nil
		}
		return nil, fmt.Errorf("reading stored relations: %w", err)
	}
	for _, r := range (*res)[0].Result {
		cols := make([]cdc.Column, len(r.Columns))
		for i, c := range r.Columns {
			cols[i] = cdc.Column{Name: c.Name, TypeOID: uint32(c.TypeOID), TypeMod: int32(c.TypeMod)}
		}
		out[r.Table] = cols
	}
	return out, nil
}

// schemaWrites handles the first change seen under a new Relation message:
// when the columns differ from the stored ones, existing records are
// reshaped (dropped fields removed, renamed ones moved, added and retyped
// ones backfilled from PostgreSQL's current values) and the new column
// list is stored. Backfilled values may be newer than the stream position;
// every later change of those rows is still applied after them, so the
// records converge on PostgreSQL's state.
func (a *applier) schemaWrites(ctx context.Context, rel *cdc.Relation) ([]mapping.Write, error) {
	if a.seen[rel] {
		return nil, nil
	}
	a.seen[rel] = true
	name := rel.QualifiedName()
	s := a.p.shapes[name]
	if s == nil {
		return nil, nil
	}
	old, known := a.known[name]
	a.known[name] = rel.Columns
	if !known {
		return []mapping.Write{a.p.relationWrite(name, rel.Columns)}, nil
	}
	change := mapping.DiffColumns(old, rel.Columns)
	if change.Empty() {
		return nil, nil
	}
	a.p.log.Info("schema change", "table", name, "added", change.Added, "retyped", change.Retyped, "dropped", change.Dropped, "renamed", change.Renamed)
	var out []mapping.Write
	if a.p.o.Sync.Schema == "schemafull" {
		defs, err := a.redefine(ctx, rel, s, change)
		if err != nil {
			return nil, err
		}
		out = defs
	} else {
		out = a.mapper.SchemaWrites(s, change)
	}
	if cols := change.Backfill(); len(cols) > 0 {
		patches, err := a.backfill(ctx, rel, s, cols)
		if err != nil {
			return nil, err
		}
		out = append(out, patches...)
	}
	return append(out, a.p.relationWrite(name, rel.Columns)), nil
}

// backfill reads the key and cols of every row of the table.
func (a *applier) backfill(ctx context.Context, rel *cdc.Relation, s *mapping.Shape, cols []string) ([]mapping.Write, error) {
	cur, err := postgres.DescribeTable(ctx, a.p.pool, rel.Schema, rel.Name)
	if err != nil {
		return nil, err
	}
	// A column a later change dropped or renamed is not read here; that
	// change reshapes the records when the stream reaches it.
	var present []string
	for _, c := range cols {
		if _, ok := cur.Column(c); ok {
			present = append(present, c)
		}
	}
	if cols = present; len(cols) == 0 {
		return nil, nil
	}
	rows, err := a.readRows(ctx, rel.Schema, rel.Name, append(append([]string{}, s.Key...), cols...))
	if err != nil {
		return nil, fmt.Errorf("backfilling %s after a schema change: %w", rel.QualifiedName(), err)
	}
	var out []mapping.Write
	for _, r := range rows {
		w, err := a.mapper.PatchWrite(s, r)
		if err != nil {
			return nil, &PermanentError{err}
		}
		out = append(out, w)
	}
	return out, nil
}

// redefine brings a SCHEMAFULL table's definitions and records in line
// with a schema change, in the order SurrealDB requires: a field's
// definition must go before its values can be unset (a type without NONE
// refuses UNSET), and a new field must be defined before values move in.
func (a *applier) redefine(ctx context.Context, rel *cdc.Relation, s *mapping.Shape, change mapping.SchemaChange) ([]mapping.Write, error) {
	t, err := a.asOf(ctx, rel)
	if err != nil {
		return nil, err
	}
	def, err := a.p.defineSchema(ctx, t, false)
	if err != nil {
		return nil, err
	}
	tb := surreal.Ident(s.Target)
	var b strings.Builder
	for _, col := range append(append([]string{}, change.Dropped...), change.Retyped...) {
		f := surreal.Ident(s.FieldOf(col))
		fmt.Fprintf(&b, "REMOVE FIELD IF EXISTS %s ON %s;\nUPDATE %s UNSET %s RETURN NONE;\n", f, tb, tb, f)
	}
	b.WriteString(def)
	for from, to := range change.Renamed {
		f, t := surreal.Ident(s.FieldOf(from)), surreal.Ident(s.FieldOf(to))
		fmt.Fprintf(&b, "UPDATE %s SET %s = %s RETURN NONE;\nREMOVE FIELD IF EXISTS %s ON %s;\nUPDATE %s UNSET %s RETURN NONE;\n", tb, t, f, f, tb, tb, f)
	}
	return []mapping.Write{{Kind: mapping.Define, Statement: b.String(), Source: rel.QualifiedName() + " (schema change)", Namespace: s.Namespace, Database: s.Database, Table: s.Target}}, nil
}

// asOf describes the table with the columns the Relation message gives:
// the catalog may already reflect later schema changes the stream has not
// reached. NOT NULL and unique constraints come from the catalog for the
// columns that still exist.
func (a *applier) asOf(ctx context.Context, rel *cdc.Relation) (*cdc.Table, error) {
	cur, err := postgres.DescribeTable(ctx, a.p.pool, rel.Schema, rel.Name)
	if err != nil {
		return nil, err
	}
	t := *cur
	t.Columns = nil
	for _, c := range rel.Columns {
		tc := cdc.TableColumn{Name: c.Name, TypeOID: c.TypeOID, TypeMod: c.TypeMod}
		if now, ok := cur.Column(c.Name); ok && now.TypeOID == c.TypeOID {
			tc.NotNull = now.NotNull
		}
		t.Columns = append(t.Columns, tc)
	}
	t.Unique = nil
	for _, u := range cur.Unique {
		ok := true
		for _, col := range u {
			_, has := t.Column(col)
			ok = ok && has
		}
		if ok {
			t.Unique = append(t.Unique, u)
		}
	}
	return &t, nil
}
