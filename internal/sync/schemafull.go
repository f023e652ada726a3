package sync

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/mapping"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// defineSchema renders DEFINE statements for sync.schema: schemafull:
// each target table SCHEMAFULL with a typed field per replicated column,
// record-typed link fields, RELATION tables for edges, and an index per
// PostgreSQL unique constraint (UNIQUE only when its columns are NOT
// NULL: PostgreSQL lets several rows hold NULL in a unique column).
//
// withTable also (re)defines the table itself, which only the snapshot
// does: redefining a table drops its field definitions.
func (p *Pipeline) defineSchema(ctx context.Context, t *cdc.Table, withTable bool) (string, error) {
	s := p.shapes[t.QualifiedName()]
	oids := make([]uint32, 0, len(t.Columns))
	for _, c := range t.Columns {
		oids = append(oids, c.TypeOID)
	}
	types, err := mapping.LoadTypes(ctx, p.pool, oids)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	tb := surreal.Ident(s.Target)
	switch {
	case !withTable:
	case s.Join != nil:
		fmt.Fprintf(&b, "DEFINE TABLE OVERWRITE %s TYPE RELATION IN %s OUT %s SCHEMAFULL;\n", tb, surreal.Ident(s.Join.In.Target), surreal.Ident(s.Join.Out.Target))
	default:
		fmt.Fprintf(&b, "DEFINE TABLE OVERWRITE %s TYPE NORMAL SCHEMAFULL;\n", tb)
	}
	joinCols := map[string]bool{}
	if s.Join != nil {
		for _, l := range []*mapping.Link{s.Join.In, s.Join.Out} {
			for _, c := range l.Columns {
				joinCols[c] = true
			}
		}
	}
	for _, c := range t.Columns {
		if !s.Included(c.Name) || joinCols[c.Name] || (c.Name == "id" && len(s.Key) == 1 && s.Key[0] == "id") {
			continue
		}
		name, typ := fieldDefinition(s, c, types[c.TypeOID])
		if s.Join != nil && slices.Contains([]string{"in", "out"}, name) {
			continue
		}
		// Objects (jsonb, ranges, composites) keep fields not defined.
		flexible := ""
		if strings.Contains(typ, "object") {
			flexible = " FLEXIBLE"
		}
		fmt.Fprintf(&b, "DEFINE FIELD OVERWRITE %s ON %s TYPE %s%s;\n", surreal.Ident(name), tb, typ, flexible)
	}
	for _, l := range s.Links {
		if len(l.Columns) > 1 {
			fmt.Fprintf(&b, "DEFINE FIELD OVERWRITE %s ON %s TYPE null | record<%s>;\n", surreal.Ident(l.Field), tb, surreal.Ident(l.Target))
		}
	}
	for _, u := range t.Unique {
		fields := make([]string, 0, len(u))
		notNull := true
		for _, col := range u {
			c, _ := t.Column(col)
			notNull = notNull && c.NotNull
			name, _ := fieldDefinition(s, c, types[c.TypeOID])
			fields = append(fields, surreal.Ident(name))
		}
		unique := ""
		if notNull {
			unique = " UNIQUE"
		}
		fmt.Fprintf(&b, "DEFINE INDEX OVERWRITE %s ON %s FIELDS %s%s;\n", surreal.Ident(s.Target+"_"+strings.Join(u, "_")+"_idx"), tb, strings.Join(fields, ", "), unique)
	}
	for _, e := range s.Edges {
		if withTable {
			fmt.Fprintf(&b, "DEFINE TABLE OVERWRITE %s TYPE RELATION IN %s OUT %s SCHEMAFULL;\n", surreal.Ident(e.Name), tb, surreal.Ident(e.Target))
		}
	}
	return b.String(), nil
}

// fieldDefinition is a column's field name and SurrealDB type.
func fieldDefinition(s *mapping.Shape, c cdc.TableColumn, t *mapping.Type) (string, string) {
	f := s.Fields[c.Name]
	name := c.Name
	if f != nil {
		name = f.Name
	}
	nullable := !c.NotNull
	switch {
	case f != nil && f.Link != nil:
		typ := "record<" + surreal.Ident(f.Link.Target) + ">"
		if nullable {
			typ = "null | " + typ
		}
		return name, typ
	case f != nil && (f.Transform == "mask" || f.Transform == "hash"):
		if nullable {
			return name, "null | string"
		}
		return name, "string"
	case t == nil:
		return name, "any"
	}
	return name, t.SurrealType(nullable)
}
