package mapping

import (
	"fmt"
	"maps"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
)

// Writes maps one change to the SurrealDB writes that apply it. Changes
// of tables without a shape (not replicated) map to nothing.
func (m *Mapper) Writes(ch cdc.Change) ([]Write, error) {
	if ch.Op == cdc.OpTruncate {
		return m.truncate(ch.Truncated), nil
	}
	s := m.Shapes[ch.Rel.QualifiedName()]
	if s == nil {
		return nil, nil
	}
	switch ch.Op {
	case cdc.OpInsert:
		ws, err := m.upsert(s, RowOf(ch.Rel, ch.New), nil)
		for i := range ws {
			ws[i].Insert = ws[i].Kind == Upsert
		}
		return ws, err
	case cdc.OpUpdate:
		var old *Row
		if ch.Old != nil {
			o := RowOf(ch.Rel, ch.Old)
			old = &o
		}
		return m.upsert(s, RowOf(ch.Rel, ch.New), old)
	case cdc.OpDelete:
		return m.remove(s, RowOf(ch.Rel, ch.Old))
	}
	return nil, fmt.Errorf("%s: unknown change %v", s.Source, ch.Op)
}

func (s *Shape) write(kind WriteKind, table string, id any, src string) Write {
	return Write{Kind: kind, Namespace: s.Namespace, Database: s.Database, Table: table, ID: id, Source: src}
}

// upsert writes the new row image; when the key changed (old is the old
// key image), the record under the old id is removed first.
func (m *Mapper) upsert(s *Shape, r Row, old *Row) ([]Write, error) {
	id, err := m.ID(s, r)
	if err != nil {
		return nil, err
	}
	if id == nil {
		return nil, rowError(s, keyText(s, r), "", fmt.Errorf("the key is NULL: set sync.tables[].key to columns that are never NULL"))
	}
	src := source(s, r)
	var out []Write
	if old != nil {
		oldID, err := m.ID(s, *old)
		if err != nil {
			return nil, err
		}
		if oldID != nil && !sameID(oldID, id) {
			moved, err := m.remove(s, *old)
			if err != nil {
				return nil, err
			}
			out = append(out, moved...)
		}
	}
	doc, partial, err := m.Doc(s, r)
	if err != nil {
		return nil, err
	}
	if s.Join != nil {
		return append(out, m.joinEdge(s, r, id, doc, src)...), nil
	}
	kind := Upsert
	if partial {
		kind = Merge
	}
	w := s.write(kind, s.Target, id, src)
	w.Doc = doc
	out = append(out, w)
	for _, e := range s.Edges {
		if unchangedAny(r, e.Link.Columns) {
			continue
		}
		to, err := m.endpoint(s, r, e.Link)
		if err != nil {
			return nil, err
		}
		if to == nil {
			out = append(out, s.write(Delete, e.Name, id, src))
			continue
		}
		ew := s.write(Relate, e.Name, id, src)
		ew.In, ew.Out, ew.Doc = recordOf(s.Target, id), to, map[string]any{}
		out = append(out, ew)
	}
	return out, nil
}

// joinEdge writes a join-table row as an edge with the other columns as
// its fields.
func (m *Mapper) joinEdge(s *Shape, r Row, id any, doc map[string]any, src string) []Write {
	in, errIn := m.endpoint(s, r, s.Join.In)
	out, errOut := m.endpoint(s, r, s.Join.Out)
	if errIn != nil || errOut != nil || in == nil || out == nil {
		return nil // key columns are NOT NULL in a primary key; errors surfaced by ID already
	}
	fields := maps.Clone(doc)
	for _, l := range []*Link{s.Join.In, s.Join.Out} {
		for _, c := range l.Columns {
			delete(fields, s.field(c).Name)
		}
		delete(fields, l.Field)
	}
	w := s.write(Relate, s.Target, id, src)
	w.In, w.Out, w.Doc = in, out, fields
	return []Write{w}
}

// remove deletes the row's record (or join edge) and its edges.
func (m *Mapper) remove(s *Shape, r Row) ([]Write, error) {
	id, err := m.ID(s, r)
	if err != nil {
		return nil, err
	}
	if id == nil {
		return nil, rowError(s, keyText(s, r), "", fmt.Errorf("the old key is missing: the table needs REPLICA IDENTITY DEFAULT with a primary key, or FULL"))
	}
	src := source(s, r)
	out := []Write{s.write(Delete, s.Target, id, src)}
	for _, e := range s.Edges {
		out = append(out, s.write(Delete, e.Name, id, src))
	}
	return out, nil
}

func (m *Mapper) truncate(rels []*cdc.Relation) []Write {
	var out []Write
	for _, rel := range rels {
		s := m.Shapes[rel.QualifiedName()]
		if s == nil {
			continue
		}
		src := s.Source + " (TRUNCATE)"
		out = append(out, s.write(DeleteTable, s.Target, nil, src))
		for _, e := range s.Edges {
			w := s.write(DeleteEdgesFrom, e.Name, nil, src)
			w.FromTable = s.Target
			out = append(out, w)
		}
	}
	return out
}

func sameID(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// Record is a row mapped for bulk loading (the snapshot): Doc includes
// the id; Relation says to load it with INSERT RELATION (join tables);
// Edges holds one edge record per configured edge table.
type Record struct {
	Doc      map[string]any
	Relation bool
	Edges    map[string]map[string]any
}

// Record maps one row for bulk loading.
func (m *Mapper) Record(s *Shape, r Row) (Record, error) {
	id, err := m.ID(s, r)
	if err != nil {
		return Record{}, err
	}
	if id == nil {
		return Record{}, rowError(s, keyText(s, r), "", fmt.Errorf("the key is NULL: set sync.tables[].key to columns that are never NULL"))
	}
	doc, _, err := m.Doc(s, r)
	if err != nil {
		return Record{}, err
	}
	if s.Join != nil {
		ws := m.joinEdge(s, r, id, doc, "")
		if len(ws) == 0 {
			return Record{}, rowError(s, keyText(s, r), "", fmt.Errorf("join row without both ends"))
		}
		rec := ws[0].Doc
		rec["id"], rec["in"], rec["out"] = id, ws[0].In, ws[0].Out
		return Record{Doc: rec, Relation: true}, nil
	}
	doc["id"] = id
	rec := Record{Doc: doc}
	for _, e := range s.Edges {
		to, err := m.endpoint(s, r, e.Link)
		if err != nil {
			return Record{}, err
		}
		if to == nil {
			continue
		}
		if rec.Edges == nil {
			rec.Edges = map[string]map[string]any{}
		}
		rec.Edges[e.Name] = map[string]any{"id": id, "in": recordOf(s.Target, id), "out": to}
	}
	return rec, nil
}
