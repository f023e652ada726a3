package mapping

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
)

// maxIdentBytes is PostgreSQL's identifier length: longer names are cut,
// silently, so two long field names could become one column.
const maxIdentBytes = 63

// ReverseShape maps one SurrealDB table's records to rows of one
// PostgreSQL table: which columns a record fills, how each SurrealDB value
// is written, and the statements that create, upsert and delete rows.
// Values always travel as query parameters, in the text format of the
// column's type (pgx sends a Go string as text for any parameter type, so
// PostgreSQL parses each value with the column's own input function).
type ReverseShape struct {
	table        string // the SurrealDB table
	schema, name string // the PostgreSQL table
	cols         []*revColumn
	nkey         int
	// defs are the column definitions of CreateSQL (for an existing
	// table, all of its columns).
	defs []string
}

type revSource uint8

const (
	fromKey   revSource = iota // the record id (or one part of an array id)
	fromField                  // a field of the record
	fromDoc                    // the whole record without id, as jsonb
)

// revColumn is one PostgreSQL column the shape writes.
type revColumn struct {
	name    string
	typ     *pgType
	notNull bool
	from    revSource
	// part is fromKey's index into an array id, -1 for the whole id.
	part int
	// paths are where fromField's value is, the first present wins (an FK
	// column customer_id reads field customer, else customer_id).
	paths [][]string
	// single: the field's SurrealDB type is of one kind (see ShapeColumn.Exact).
	single bool
}

// ChooseReverseShape decides how a SurrealDB table maps onto its
// PostgreSQL table as the reverse direction does: a table pgsurreal
// created (or one made just like it) keeps the derived shape; any other
// existing table is mapped onto by column name.
func ChooseReverseShape(st *SurrealTable, cfg config.ReverseTable, schema, name string, existing *cdc.Table) (*ReverseShape, error) {
	shape, err := NewReverseShape(st, cfg, schema, name, nil)
	if existing != nil && (err != nil || !sameColumns(shape.Columns(), existing)) {
		shape, err = NewReverseShape(st, cfg, schema, name, existing)
	}
	return shape, err
}

func sameColumns(cols []string, t *cdc.Table) bool {
	if len(cols) != len(t.Columns) {
		return false
	}
	for i, c := range t.Columns {
		if c.Name != cols[i] {
			return false
		}
	}
	return true
}

// NewReverseShape decides the PostgreSQL table for a SurrealDB table.
// schema and name are the PostgreSQL table. existing is that table as
// the catalog describes it (postgres.DescribeTable), or nil when it does
// not exist yet: then it is designed from the SurrealDB definition (a
// column per field of a schemafull table; id, doc and cfg.Columns for a
// schemaless one). An existing table is filled by column name, inverting
// the forward mapping (see docs/mapping.md).
func NewReverseShape(st *SurrealTable, cfg config.ReverseTable, schema, name string, existing *cdc.Table) (*ReverseShape, error) {
	if st == nil || st.Name == "" {
		return nil, fmt.Errorf("reverse mapping to %s.%s: no SurrealDB table", schema, name)
	}
	s := &ReverseShape{table: st.Name, schema: schema, name: name}
	var err error
	switch {
	case existing != nil:
		err = s.fromExisting(st, existing)
	case st.Schemafull:
		err = s.fromSchemafull(st)
	default:
		err = s.fromSchemaless(st, cfg)
	}
	if err != nil {
		return nil, err
	}
	if existing == nil {
		for _, c := range s.cols {
			def := postgres.Ident(c.name) + " " + c.typ.sql
			if c.notNull {
				def += " NOT NULL"
			}
			s.defs = append(s.defs, def)
		}
	}
	seen := map[string]bool{}
	for _, c := range s.cols {
		switch {
		case c.name == "":
			return nil, fmt.Errorf("surreal table %s: a field has an empty name, which PostgreSQL cannot use as a column", st.Name)
		case len(c.name) > maxIdentBytes:
			return nil, fmt.Errorf("surreal table %s: column %q is %d bytes long, PostgreSQL names are at most %d: rename the field in SurrealDB, or create %s yourself with shorter column names", st.Name, c.name, len(c.name), maxIdentBytes, s.target())
		case seen[c.name]:
			return nil, fmt.Errorf("surreal table %s: two fields map to column %q of %s: rename one of them", st.Name, c.name, s.target())
		}
		seen[c.name] = true
	}
	return s, nil
}

// target names the PostgreSQL table in messages.
func (s *ReverseShape) target() string { return s.schema + "." + s.name }

// WithoutColumns leaves columns out of the upsert, such as generated
// columns (pg_attribute.attgenerated), which PostgreSQL fills itself and
// which cdc.TableColumn does not describe. Key columns cannot be left out.
func (s *ReverseShape) WithoutColumns(names ...string) error {
	for _, n := range names {
		i := slices.IndexFunc(s.cols, func(c *revColumn) bool { return c.name == n })
		switch {
		case i < 0:
			continue
		case i < s.nkey:
			return fmt.Errorf("reverse mapping %s -> %s: column %q is part of the primary key and must be written", s.table, s.target(), n)
		}
		s.cols = slices.Delete(s.cols, i, i+1)
	}
	return nil
}

// Schema is the PostgreSQL schema of the target table.
func (s *ReverseShape) Schema() string { return s.schema }

// Name is the PostgreSQL target table.
func (s *ReverseShape) Name() string { return s.name }

// SurrealTableName is the SurrealDB table the shape reads.
func (s *ReverseShape) SurrealTableName() string { return s.table }

// Columns are the PostgreSQL columns Row fills, key columns first.
func (s *ReverseShape) Columns() []string {
	out := make([]string, len(s.cols))
	for i, c := range s.cols {
		out[i] = c.name
	}
	return out
}

// KeyColumns are the primary key columns, in key order (Key's order).
func (s *ReverseShape) KeyColumns() []string { return s.Columns()[:s.nkey] }

func (s *ReverseShape) qualified() string { return postgres.QualifiedIdent(s.schema, s.name) }

func idents(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = postgres.Ident(n)
	}
	return strings.Join(q, ", ")
}

// CreateSQL creates the table if it does not exist, with its primary key.
// For an existing table it repeats the catalog's columns, so running it
// changes nothing.
func (s *ReverseShape) CreateSQL() string {
	return "CREATE TABLE IF NOT EXISTS " + s.qualified() + " (\n  " + strings.Join(s.defs, ",\n  ") +
		",\n  PRIMARY KEY (" + idents(s.KeyColumns()) + ")\n)"
}

// UpsertSQL inserts a row or, when its key exists, overwrites every
// column Row fills. Its parameters are Row's values.
func (s *ReverseShape) UpsertSQL() string {
	cols := s.Columns()
	params := make([]string, len(cols))
	for i := range cols {
		params[i] = fmt.Sprintf("$%d", i+1)
	}
	sql := "INSERT INTO " + s.qualified() + " (" + idents(cols) + ") VALUES (" + strings.Join(params, ", ") +
		") ON CONFLICT (" + idents(s.KeyColumns()) + ") DO "
	if len(cols) == s.nkey {
		return sql + "NOTHING"
	}
	sets := make([]string, 0, len(cols)-s.nkey)
	for _, c := range cols[s.nkey:] {
		sets = append(sets, postgres.Ident(c)+" = EXCLUDED."+postgres.Ident(c))
	}
	return sql + "UPDATE SET " + strings.Join(sets, ", ")
}

// DeleteSQL deletes the row of a key; its parameters are Key's values.
func (s *ReverseShape) DeleteSQL() string {
	conds := make([]string, s.nkey)
	for i, c := range s.KeyColumns() {
		conds[i] = fmt.Sprintf("%s = $%d", postgres.Ident(c), i+1)
	}
	return "DELETE FROM " + s.qualified() + " WHERE " + strings.Join(conds, " AND ")
}

// Key returns the values of KeyColumns for a record id: a models.RecordID
// of the shape's table, or the id part alone. A one-column key takes the
// whole id; a key of several columns takes an array id's parts in order.
func (s *ReverseShape) Key(id any) ([]any, error) {
	id = normalize(id)
	if r, ok := id.(models.RecordID); ok {
		if r.Table != s.table {
			return nil, s.recordError(r.ID, "", fmt.Errorf("the record belongs to table %s, not %s", r.Table, s.table))
		}
		id = normalize(r.ID)
	}
	if id == nil {
		return nil, fmt.Errorf("surreal table %s: a record without an id", s.table)
	}
	out := make([]any, s.nkey)
	if s.nkey == 1 && s.cols[0].part < 0 {
		v, err := keyValue(s.cols[0], id)
		if err != nil {
			return nil, s.recordError(id, "", err)
		}
		out[0] = v
		return out, nil
	}
	parts, ok := id.([]any)
	if !ok || len(parts) != s.nkey {
		return nil, s.recordError(id, "", fmt.Errorf("the id is not an array of %d parts, one per key column (%s) of %s: ids of this table must be [%s]", s.nkey, strings.Join(s.KeyColumns(), ", "), s.target(), strings.Join(s.KeyColumns(), ", ")))
	}
	for i, c := range s.cols[:s.nkey] {
		v, err := keyValue(c, parts[i])
		if err != nil {
			return nil, s.recordError(id, "", fmt.Errorf("id part %d: %w", i+1, err))
		}
		out[i] = v
	}
	return out, nil
}

// keyValue converts one key part. Besides the values toPG takes, a key
// part may be the canonical text the forward mapping makes of a key of a
// kind SurrealDB ids cannot hold (a numeric '12.5', a timestamp, bytes in
// hex): PostgreSQL parses it.
func keyValue(c *revColumn, v any) (any, error) {
	if s, ok := normalize(v).(string); ok && c.typ.kind == pgBytea {
		v = `\x` + s
	}
	out, err := toPG(c.typ, v)
	if err != nil {
		return nil, fmt.Errorf("value %s does not fit key column %s %s: %w", shownSurreal(v), c.name, c.typ.sql, err)
	}
	if out == nil {
		return nil, fmt.Errorf("key column %s has no value", c.name)
	}
	return out, nil
}

// Row returns the values of Columns for a record (as the changefeed
// delivers it, id included), as pgx query arguments: strings in the text
// format of each column's type, or nil for NULL. A field the record does
// not have is NULL; for a NOT NULL column that is an error.
func (s *ReverseShape) Row(rec map[string]any) ([]any, error) {
	id, ok := rec["id"]
	if !ok {
		return nil, fmt.Errorf("surreal table %s: a record without an id", s.table)
	}
	out, err := s.Key(id)
	if err != nil {
		return nil, err
	}
	for _, c := range s.cols[s.nkey:] {
		v, err := s.value(c, id, rec)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// value is one non-key column's value for a record.
func (s *ReverseShape) value(c *revColumn, id any, rec map[string]any) (any, error) {
	var v any
	var err error
	switch c.from {
	case fromDoc:
		doc := make(map[string]any, len(rec))
		for k, e := range rec {
			if k != "id" {
				doc[k] = e
			}
		}
		if v, err = jsonText(doc); err != nil {
			return nil, s.recordError(id, "", fmt.Errorf("the record has no JSON form: %w", err))
		}
	case fromField:
		raw, path := lookupField(rec, c.paths)
		if normalize(raw) == nil {
			if c.notNull {
				return nil, s.recordError(id, strings.Join(path, "."), fmt.Errorf("no value, but column %s of %s is NOT NULL: give the record a value, or drop the constraint (ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL)",
					c.name, s.target(), s.qualified(), postgres.Ident(c.name)))
			}
			break
		}
		if v, err = toPG(c.typ, raw); err != nil {
			return nil, s.recordError(id, strings.Join(path, "."), fmt.Errorf("value %s does not fit column %s %s: %w; change the value in SurrealDB, or the column's type in PostgreSQL",
				shownSurreal(raw), c.name, c.typ.sql, err))
		}
	}
	return v, nil
}

// lookupField returns the first value found at one of paths (nil when
// none is present) and the path it was found at (the first path if none).
func lookupField(rec map[string]any, paths [][]string) (any, []string) {
	for _, p := range paths {
		var cur any = rec
		found := true
		for _, part := range p {
			m, ok := cur.(map[string]any)
			if !ok {
				found = false
				break
			}
			if cur, ok = m[part]; !ok {
				found = false
				break
			}
		}
		if found {
			return cur, p
		}
	}
	return nil, paths[0]
}

// ReverseError is a record the reverse mapping cannot write to
// PostgreSQL. The message names the SurrealDB table, the record, the
// field and what to do.
type ReverseError struct {
	Table  string // the SurrealDB table
	Record string // the record id as SurrealQL prints it (table:id)
	Field  string // the field, "" when the problem is the id or the whole record
	Err    error
}

func (e *ReverseError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("surreal table %s record %s: %v", e.Table, e.Record, e.Err)
	}
	return fmt.Sprintf("surreal table %s record %s field %s: %v", e.Table, e.Record, e.Field, e.Err)
}

func (e *ReverseError) Unwrap() error { return e.Err }

func (s *ReverseShape) recordError(id any, field string, err error) error {
	if r, ok := normalize(id).(models.RecordID); ok {
		id = r.ID
	}
	rec, rerr := recordText(s.table, id)
	if rerr != nil {
		rec = escapeSurrealName(s.table) + ":?"
	}
	return &ReverseError{Table: s.table, Record: rec, Field: field, Err: err}
}

// shownSurreal renders a value for a message as SurrealQL, cut to
// maxShown bytes.
func shownSurreal(v any) string {
	s, err := surrealValueText(v)
	if err != nil {
		s = surrealKind(normalize(v))
	}
	if len(s) <= maxShown {
		return s
	}
	cut := maxShown
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d bytes)", s[:cut], len(s))
}
