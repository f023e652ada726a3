package mapping

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
)

// TableOptions are the per-table settings from the configuration.
type TableOptions struct {
	Target         string // SurrealDB table; "" = the PostgreSQL name
	Namespace      string
	Database       string
	Key            []string // key columns when the table has no primary key
	Columns        []string // only these columns, when set
	ExcludeColumns []string
	Transforms     map[string]string // column -> drop | mask | hash
	Edges          []EdgeOptions
}

// EdgeOptions turn a foreign key into a graph edge.
type EdgeOptions struct {
	Columns []string
	Name    string
}

// Shape is how one source table's rows become SurrealDB records: the
// record id, the fields, record links for foreign keys, graph edges for
// configured foreign keys, or a whole edge table for a pure join table.
type Shape struct {
	Source    string // schema.name
	Target    string
	Namespace string
	Database  string
	Key       []string
	// Fields maps a PostgreSQL column to its field; absent columns are
	// not replicated.
	Fields map[string]*ColumnField
	Links  []*Link
	Edges  []*Edge
	// Join is set when the table is a pure join table: its rows become
	// edges of the table Target from Join.In to Join.Out.
	Join *JoinEdge
	// OmitNulls leaves SQL NULLs out of documents instead of writing null.
	OmitNulls bool

	opts *TableOptions
}

// Included reports whether a column is replicated. Columns added after
// the shape was built are included unless the options exclude them.
func (s *Shape) Included(col string) bool {
	o := s.opts
	if o == nil {
		return true
	}
	if slices.Contains(o.ExcludeColumns, col) || o.Transforms[col] == "drop" {
		return false
	}
	return len(o.Columns) == 0 || slices.Contains(o.Columns, col) || slices.Contains(s.Key, col)
}

// IDColumnField is the field a column named "id" becomes when it is not
// the table's single-column key: SurrealDB reserves "id" for the record id.
const IDColumnField = "pg_id"

// fieldName is the document field of a plain column.
func (s *Shape) fieldName(col string) string {
	if col == "id" {
		return IDColumnField
	}
	return col
}

// idIsKey reports whether col is the single-column key "id", which the
// record id already carries, so the document leaves it out.
func (s *Shape) idIsKey(col string) bool {
	return col == "id" && len(s.Key) == 1 && s.Key[0] == "id"
}

// FieldOf is the document field of a column.
func (s *Shape) FieldOf(col string) string { return s.field(col).Name }

// field returns how a column appears in documents.
func (s *Shape) field(col string) *ColumnField {
	if f := s.Fields[col]; f != nil {
		return f
	}
	f := &ColumnField{Column: col, Name: s.fieldName(col)}
	if s.opts != nil {
		f.Transform = s.opts.Transforms[col]
	}
	return f
}

// ColumnField is one replicated column.
type ColumnField struct {
	Column    string
	Name      string // the SurrealDB field
	TypeOID   uint32
	Transform string // "", "mask", "hash"
	// Link is set when the column alone is a foreign key: the field holds
	// a record link instead of the raw value.
	Link *Link
}

// Link is a foreign key shown as a record link.
type Link struct {
	Field   string
	Columns []string // in the referenced table's key order
	Target  string   // the referenced SurrealDB table
}

// Edge is a foreign key replicated as a graph edge from the row's record
// to the referenced record; the edge's id is the row's id.
type Edge struct {
	Name   string
	Link   *Link
	Target string
}

// JoinEdge is a join table replicated as an edge table.
type JoinEdge struct {
	In, Out *Link
}

// BuildShapes derives the shape of every table in tables. targetOf gives
// each table's options (nil for defaults). Tables referenced by foreign
// keys but not replicated still give their links a target name: the
// table's name, or its configured target.
func BuildShapes(tables []*cdc.Table, opts map[string]*TableOptions, omitNulls bool) (map[string]*Shape, error) {
	byName := map[string]*cdc.Table{}
	for _, t := range tables {
		byName[t.QualifiedName()] = t
	}
	targetOf := func(schema, name string) string {
		if o := opts[schema+"."+name]; o != nil && o.Target != "" {
			return o.Target
		}
		return name
	}
	shapes := map[string]*Shape{}
	var problems []string
	for _, t := range tables {
		o := opts[t.QualifiedName()]
		if o == nil {
			o = &TableOptions{}
		}
		s, err := buildShape(t, o, byName, targetOf)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		s.OmitNulls = omitNulls
		shapes[t.QualifiedName()] = s
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	return shapes, nil
}

func buildShape(t *cdc.Table, o *TableOptions, byName map[string]*cdc.Table, targetOf func(string, string) string) (*Shape, error) {
	s := &Shape{
		Source: t.QualifiedName(), Target: targetOf(t.Schema, t.Name),
		Namespace: o.Namespace, Database: o.Database, Fields: map[string]*ColumnField{}, opts: o,
	}
	s.Key = t.PrimaryKey
	if len(o.Key) > 0 {
		s.Key = o.Key
	}
	if len(s.Key) == 0 {
		return nil, fmt.Errorf("%s has no primary key: add one, or set sync.tables[].key to columns that identify a row (with REPLICA IDENTITY FULL), or exclude the table", t.QualifiedName())
	}
	for _, k := range s.Key {
		if _, ok := t.Column(k); !ok {
			return nil, fmt.Errorf("%s: key column %q does not exist", t.QualifiedName(), k)
		}
	}
	for _, c := range t.Columns {
		if s.Included(c.Name) {
			s.Fields[c.Name] = &ColumnField{Column: c.Name, Name: s.fieldName(c.Name), TypeOID: c.TypeOID, Transform: o.Transforms[c.Name]}
		}
	}
	for col := range o.Transforms {
		if _, ok := t.Column(col); !ok {
			return nil, fmt.Errorf("%s: transform for column %q, which does not exist", t.QualifiedName(), col)
		}
	}

	// Foreign keys whose referenced columns are the referenced table's
	// key become links (the record id is derivable from them).
	links := map[string]*Link{} // by FK columns joined
	for _, fk := range t.ForeignKeys {
		ref := byName[fk.RefSchema+"."+fk.RefTable]
		order, ok := keyOrder(fk, ref)
		if !ok {
			continue // references a unique key that is not the record id: keep plain values
		}
		l := &Link{Columns: order, Target: targetOf(fk.RefSchema, fk.RefTable)}
		links[strings.Join(fk.Columns, ",")] = l
		if len(fk.Columns) == 1 {
			f := s.Fields[fk.Columns[0]]
			if f == nil {
				continue
			}
			f.Link = l
			f.Name = linkFieldName(f.Column, t)
			l.Field = f.Name
		} else {
			l.Field = compositeLinkField(l.Target, fk.Name, t)
		}
		s.Links = append(s.Links, l)
	}
	for _, e := range o.Edges {
		l := links[strings.Join(e.Columns, ",")]
		if l == nil {
			return nil, fmt.Errorf("%s: edge %q: columns %v are not a foreign key to another table's primary key", t.QualifiedName(), e.Name, e.Columns)
		}
		s.Edges = append(s.Edges, &Edge{Name: e.Name, Link: l, Target: l.Target})
	}
	s.Join = joinEdge(t, links)
	return s, nil
}

// keyOrder returns the FK's columns in the order of the referenced
// table's primary key, if the FK references exactly that key.
func keyOrder(fk cdc.ForeignKey, ref *cdc.Table) ([]string, bool) {
	if ref == nil || len(ref.PrimaryKey) != len(fk.RefColumns) {
		return nil, false
	}
	out := make([]string, len(ref.PrimaryKey))
	for i, pk := range ref.PrimaryKey {
		j := slices.Index(fk.RefColumns, pk)
		if j < 0 {
			return nil, false
		}
		out[i] = fk.Columns[j]
	}
	return out, true
}

// linkFieldName names a single-column link: customer_id -> customer,
// unless another column already has that name.
func linkFieldName(col string, t *cdc.Table) string {
	name, ok := strings.CutSuffix(col, "_id")
	if !ok || name == "" {
		if col == "id" {
			return IDColumnField
		}
		return col
	}
	if _, clash := t.Column(name); clash {
		return col
	}
	return name
}

func compositeLinkField(target, constraint string, t *cdc.Table) string {
	if _, clash := t.Column(target); !clash {
		return target
	}
	return constraint
}

// joinEdge recognises a pure join table: its primary key is exactly two
// single-purpose foreign keys' columns (one column each, or composite).
func joinEdge(t *cdc.Table, links map[string]*Link) *JoinEdge {
	if len(t.ForeignKeys) != 2 || len(t.PrimaryKey) < 2 {
		return nil
	}
	var ends []*Link
	covered := 0
	for _, fk := range t.ForeignKeys {
		l := links[strings.Join(fk.Columns, ",")]
		if l == nil {
			return nil
		}
		for _, c := range fk.Columns {
			if !slices.Contains(t.PrimaryKey, c) {
				return nil
			}
		}
		covered += len(fk.Columns)
		ends = append(ends, l)
	}
	if covered != len(t.PrimaryKey) {
		return nil
	}
	// The first foreign key in primary-key order is the edge's "in".
	first := func(l *Link) int { return slices.Index(t.PrimaryKey, l.Columns[0]) }
	if first(ends[1]) < first(ends[0]) {
		ends[0], ends[1] = ends[1], ends[0]
	}
	return &JoinEdge{In: ends[0], Out: ends[1]}
}
