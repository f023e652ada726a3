package mapping

import (
	"fmt"
	"slices"
	"strings"
)

// SurrealField is one DEFINE FIELD of a SurrealDB table.
type SurrealField struct {
	// Name is the dotted path as defined, each part unescaped:
	// "author.name", "ai.*", "we\"ird"; "id" when the id's type is defined.
	Name string
	// Type is the SurrealQL type as the definition writes it ("int",
	// "none | string", "record<customer>", "array<int>"), "" for a field
	// without TYPE. INFO FOR TABLE prints option<T> as "none | T".
	Type string
	// Path is Name split into its parts (a part may itself hold a dot when
	// it was escaped). ParseSurrealTable sets it; when nil, Name split at
	// dots is used.
	Path []string
}

// path returns the field's parts.
func (f SurrealField) path() []string {
	if len(f.Path) > 0 {
		return f.Path
	}
	return strings.Split(f.Name, ".")
}

// SurrealTable is what SurrealDB says about a table: INFO FOR DB's
// `tables` entry and INFO FOR TABLE's `fields`.
type SurrealTable struct {
	Name       string
	Schemafull bool
	// Relation is set for TYPE RELATION (edge tables): records have `in`
	// and `out`.
	Relation bool
	// In and Out are the relation's end tables when declared (TYPE
	// RELATION IN a OUT b), else "". Several tables (IN a | b) are joined
	// with " | ".
	In, Out string
	// Fields in the order of their names.
	Fields []SurrealField
}

// ParseSurrealTable builds a SurrealTable from the DEFINE TABLE statement
// (INFO FOR DB -> tables[name]) and the DEFINE FIELD statements (INFO FOR
// TABLE name -> fields). The map's keys are ignored: SurrealDB escapes
// some and not others, so names are read from the statements.
func ParseSurrealTable(name, defineTable string, defineFields map[string]string) (*SurrealTable, error) {
	st := &SurrealTable{Name: name}
	if err := parseDefineTable(st, defineTable); err != nil {
		return nil, fmt.Errorf("surreal table %s: reading %q: %w", name, defineTable, err)
	}
	for _, stmt := range defineFields {
		f, err := parseDefineField(stmt)
		if err != nil {
			return nil, fmt.Errorf("surreal table %s: reading %q: %w", name, stmt, err)
		}
		st.Fields = append(st.Fields, f)
	}
	slices.SortFunc(st.Fields, func(a, b SurrealField) int { return strings.Compare(a.Name, b.Name) })
	return st, nil
}

// parseDefineTable reads DEFINE TABLE [OVERWRITE | IF NOT EXISTS] name
// [TYPE NORMAL | ANY | RELATION [IN a [| b]] [OUT c [| d]] [ENFORCED]]
// [SCHEMAFULL | SCHEMALESS] ... (the other clauses are skipped).
func parseDefineTable(st *SurrealTable, stmt string) error {
	p, err := newDefParser(stmt)
	if err != nil {
		return err
	}
	if !p.keyword("DEFINE") || !p.keyword("TABLE") {
		return fmt.Errorf("not a DEFINE TABLE statement")
	}
	p.modifiers()
	if _, ok := p.name(); !ok {
		return fmt.Errorf("no table name")
	}
	for !p.done() {
		switch {
		case p.keyword("SCHEMAFULL"):
			st.Schemafull = true
		case p.keyword("SCHEMALESS"):
			st.Schemafull = false
		case p.keyword("RELATION"):
			st.Relation = true
		case st.Relation && (p.keyword("IN") || p.keyword("FROM")):
			st.In = p.tableList()
		case st.Relation && (p.keyword("OUT") || p.keyword("TO")):
			st.Out = p.tableList()
		case p.keyword("AS"):
			return nil // a view: the rest is its query
		default:
			p.pos++
		}
	}
	return nil
}

// parseDefineField reads DEFINE FIELD [OVERWRITE | IF NOT EXISTS] path ON
// [TABLE] table [TYPE type] ... (the other clauses are skipped).
func parseDefineField(stmt string) (SurrealField, error) {
	p, err := newDefParser(stmt)
	if err != nil {
		return SurrealField{}, err
	}
	if !p.keyword("DEFINE") || !p.keyword("FIELD") {
		return SurrealField{}, fmt.Errorf("not a DEFINE FIELD statement")
	}
	p.modifiers()
	var f SurrealField
	for {
		switch {
		case p.punct("["):
			if !p.punct("*") || !p.punct("]") {
				return f, fmt.Errorf("unexpected field path part")
			}
			f.Path = append(f.Path, "*")
		case p.punct("*"):
			f.Path = append(f.Path, "*")
		default:
			part, ok := p.name()
			if !ok {
				return f, fmt.Errorf("no field name")
			}
			f.Path = append(f.Path, part)
		}
		if t, ok := p.peek(); ok && t.kind == 'p' && t.text == "[" {
			continue // ao[*]
		}
		if !p.punct(".") {
			break
		}
	}
	f.Name = strings.Join(f.Path, ".")
	if !p.keyword("ON") {
		return f, fmt.Errorf("expected ON after the field name")
	}
	p.keyword("TABLE")
	if _, ok := p.name(); !ok {
		return f, fmt.Errorf("no table name")
	}
	if p.keyword("TYPE") {
		start := p.pos
		if _, err := p.union(); err != nil {
			return f, fmt.Errorf("field %s: type: %w", f.Name, err)
		}
		f.Type = p.text(start, p.pos)
	}
	return f, nil
}
