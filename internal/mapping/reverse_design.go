package mapping

import (
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
)

// fromSchemaless designs `id text PRIMARY KEY, doc jsonb NOT NULL` plus
// the configured extracted columns.
func (s *ReverseShape) fromSchemaless(st *SurrealTable, cfg config.ReverseTable) error {
	s.cols = []*revColumn{
		{name: "id", typ: typKey, notNull: true, from: fromKey, part: -1},
		{name: "doc", typ: typJSONB, notNull: true, from: fromDoc},
	}
	s.nkey = 1
	for i, c := range cfg.Columns {
		typ, ok := reverseColumnType(c.Type)
		if !ok {
			return fmt.Errorf("surreal table %s: reverse.tables[].columns[%d] (%s): type %q is not one of %s", st.Name, i, c.Name, c.Type, strings.Join(config.ReverseColumnTypes, ", "))
		}
		if c.Name == "id" || c.Name == "doc" {
			return fmt.Errorf("surreal table %s: extracted column %q clashes with the %s column: choose another name", st.Name, c.Name, c.Name)
		}
		field := c.Field
		if field == "" {
			field = c.Name
		}
		s.cols = append(s.cols, &revColumn{name: c.Name, typ: typ, from: fromField, paths: [][]string{strings.Split(field, ".")}})
	}
	return nil
}

// fromSchemafull designs a column per top-level field.
func (s *ReverseShape) fromSchemafull(st *SurrealTable) error {
	idType := ""
	for _, f := range st.Fields {
		if p := f.path(); len(p) == 1 && p[0] == "id" {
			idType = f.Type
		}
	}
	keys, err := idColumns(st.Name, idType)
	if err != nil {
		return err
	}
	s.cols, s.nkey = keys, len(keys)
	var selfKey *pgType
	if len(keys) == 1 {
		selfKey = keys[0].typ
	}

	tops, nested := map[string]*SurrealField{}, map[string]bool{}
	var order []string
	for i := range st.Fields {
		f := &st.Fields[i]
		p := f.path()
		if _, ok := tops[p[0]]; !ok && !nested[p[0]] {
			order = append(order, p[0])
		}
		switch {
		case len(p) == 1:
			tops[p[0]] = f
		case onlyStars(p[1:]):
			// an array's element type (ai.*, aa.*.*): the array's own type covers it
		default:
			nested[p[0]] = true
		}
	}
	slices.Sort(order)
	order = slices.Compact(order)
	if st.Relation {
		for _, end := range []string{"in", "out"} {
			c := surrealColumn{typ: typKey, link: true}
			if f := tops[end]; f != nil {
				if c, err = resolveType(f.Type, st.Name, selfKey); err != nil {
					return fieldTypeError(st.Name, f, err)
				}
			}
			s.cols = append(s.cols, &revColumn{name: end + "_id", typ: c.typ, notNull: true, from: fromField, paths: [][]string{{end}}})
		}
	}
	for _, top := range order {
		if top == "id" || (st.Relation && (top == "in" || top == "out")) {
			continue
		}
		f := tops[top]
		col := &revColumn{name: top, from: fromField, paths: [][]string{{top}}}
		switch {
		case f == nil && !nested[top]:
			col.typ = typJSONB // only its elements are defined (a.*)
		case nested[top]:
			col.typ = typJSONB // nested fields fold into the top-level object
			if f != nil {
				if c, err := resolveType(f.Type, st.Name, selfKey); err == nil {
					col.notNull = !c.nullable
				}
			}
		default:
			c, err := resolveType(f.Type, st.Name, selfKey)
			if err != nil {
				return fieldTypeError(st.Name, f, err)
			}
			col.typ, col.notNull, col.single = c.typ, !c.nullable, c.single && !c.link
			if c.link {
				if _, clash := tops[top+"_id"]; !clash {
					col.name = top + "_id"
				}
			}
		}
		s.cols = append(s.cols, col)
	}
	return nil
}

func onlyStars(parts []string) bool {
	for _, p := range parts {
		if p != "*" {
			return false
		}
	}
	return true
}

func fieldTypeError(table string, f *SurrealField, err error) error {
	return fmt.Errorf("surreal table %s field %s: type %s: %v: change the field's type (DEFINE FIELD OVERWRITE %s ON %s TYPE ...), or create the PostgreSQL table yourself with a column %s of the type you want",
		table, f.Name, f.Type, err, surrealPath(f.path()), escapeSurrealName(table), f.Name)
}

// surrealPath writes a field path as SurrealQL (a.`b c`.*).
func surrealPath(parts []string) string {
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = p
		if p != "*" {
			out[i] = escapeSurrealName(p)
		}
	}
	return strings.Join(out, ".")
}

// idColumns are the key columns for a table's id type: one `id` column
// (text holding the id as SurrealQL prints it when the type is not
// defined), or id_1, id_2, ... for a tuple or fixed-size array id.
func idColumns(table, typ string) ([]*revColumn, error) {
	one := func(t *pgType) []*revColumn {
		return []*revColumn{{name: "id", typ: t, notNull: true, from: fromKey, part: -1}}
	}
	if strings.TrimSpace(typ) == "" {
		return one(typKey), nil
	}
	u, err := parseSurrealType(typ)
	if err != nil {
		return nil, fmt.Errorf("surreal table %s field id: type %s: %v", table, typ, err)
	}
	var alts []stype
	for _, t := range u {
		if t.name != "none" && t.name != "null" {
			alts = append(alts, t)
		}
	}
	if len(alts) != 1 {
		return one(typKey), nil
	}
	partType := func(u sunion) *pgType {
		c, err := resolveUnion(u, table, nil)
		if err != nil || !c.typ.scalar() || c.link || c.nullable {
			return typKey
		}
		return c.typ
	}
	var parts []*pgType
	switch t := alts[0]; t.name {
	case "int", "string", "uuid":
		return one(partType(sunion{t})), nil
	case "tuple":
		for _, a := range t.args {
			parts = append(parts, partType(a))
		}
	case "array":
		if t.size == 0 || len(t.args) == 0 {
			return nil, fmt.Errorf("surreal table %s field id: type %s does not say how many parts an id has, so they cannot be key columns: define the id as a tuple ([int, string]) or with a size (array<int, 2>), or create the PostgreSQL table yourself", table, typ)
		}
		for range t.size {
			parts = append(parts, partType(t.args[0]))
		}
	default:
		return one(typKey), nil
	}
	cols := make([]*revColumn, len(parts))
	for i, p := range parts {
		cols[i] = &revColumn{name: fmt.Sprintf("id_%d", i+1), typ: p, notNull: true, from: fromKey, part: i}
	}
	return cols, nil
}

// fromExisting maps records onto an existing table's columns by name,
// inverting the forward mapping: column c <- field c; a single-column FK
// customer_id <- the link field customer (its key); a column id that is
// not the sole key <- field pg_id; the primary key <- the record id.
func (s *ReverseShape) fromExisting(st *SurrealTable, t *cdc.Table) error {
	if len(t.PrimaryKey) == 0 {
		return fmt.Errorf("surreal table %s: PostgreSQL table %s has no primary key, which the reverse direction upserts by: add one (ALTER TABLE %s ADD PRIMARY KEY (...))", st.Name, s.target(), postgres.QualifiedIdent(s.schema, s.name))
	}
	m := pgtype.NewMap()
	for _, c := range t.Columns {
		def := postgres.Ident(c.Name) + " " + c.TypeName
		if c.NotNull {
			def += " NOT NULL"
		}
		s.defs = append(s.defs, def)
	}
	defined := map[string]*SurrealField{} // top-level fields of a schemafull table
	if st.Schemafull {
		for i := range st.Fields {
			f := &st.Fields[i]
			if p := f.path(); p[0] != "id" && defined[p[0]] == nil {
				defined[p[0]] = f
			}
		}
	}
	claimed := map[string]bool{"id": true}
	if st.Relation {
		claimed["in"], claimed["out"] = true, true
	}
	for i, k := range t.PrimaryKey {
		c, ok := t.Column(k)
		if !ok {
			return fmt.Errorf("surreal table %s: primary key column %q of %s does not exist", st.Name, k, s.target())
		}
		part := i
		if len(t.PrimaryKey) == 1 {
			part = -1
		}
		s.cols = append(s.cols, &revColumn{name: k, typ: columnType(m, c.TypeOID, c.TypeName, c.TypeMod), notNull: true, from: fromKey, part: part})
		for _, f := range existingFields(k, t) {
			claimed[f] = true
		}
	}
	s.nkey = len(s.cols)
	for _, fk := range t.ForeignKeys {
		if len(fk.Columns) > 1 { // the forward mapping's composite link field: the columns carry the values
			claimed[fk.RefTable], claimed[fk.Name] = true, true
		}
	}
	for _, c := range t.Columns {
		if slices.Contains(t.PrimaryKey, c.Name) {
			continue
		}
		col := &revColumn{name: c.Name, typ: columnType(m, c.TypeOID, c.TypeName, c.TypeMod), notNull: c.NotNull, from: fromField}
		for _, f := range existingFields(c.Name, t) {
			if st.Schemafull && defined[f] == nil {
				continue
			}
			col.paths = append(col.paths, []string{f})
			claimed[f] = true
			if st.Schemafull {
				break
			}
		}
		if len(col.paths) == 0 {
			continue // no field defines it: PostgreSQL keeps the column's value (or default)
		}
		s.cols = append(s.cols, col)
	}
	var problems []string
	for _, f := range st.Fields {
		top := f.path()[0]
		if !st.Schemafull || claimed[top] {
			continue
		}
		claimed[top] = true // one message per top-level field
		first := defined[top]
		sql := "jsonb"
		if c, err := resolveType(first.Type, st.Name, nil); err == nil && len(first.path()) == 1 {
			sql = c.typ.sql
		}
		problems = append(problems, fmt.Sprintf("surreal table %s field %s (type %q) has no column in PostgreSQL table %s: add one (ALTER TABLE %s ADD COLUMN %s %s), or remove the field (REMOVE FIELD %s ON %s)",
			st.Name, top, first.Type, s.target(), s.qualified(), postgres.Ident(top), sql, escapeSurrealName(top), escapeSurrealName(st.Name)))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	return nil
}

// existingFields are the fields the forward mapping writes a column to,
// in the order the reverse mapping looks for them.
func existingFields(col string, t *cdc.Table) []string {
	for _, fk := range t.ForeignKeys {
		if len(fk.Columns) == 1 && fk.Columns[0] == col {
			if f := linkFieldName(col, t); f != col {
				return []string{f, col}
			}
		}
	}
	if col == "id" {
		return []string{IDColumnField}
	}
	return []string{col}
}
