package mapping

import (
	"fmt"
	"slices"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
)

// SchemaChange is what changed in a table between two Relation messages.
type SchemaChange struct {
	Added   []string          // new columns
	Retyped []string          // columns whose type changed
	Dropped []string          // columns gone
	Renamed map[string]string // old name -> new name
}

// Empty reports whether nothing changed.
func (c SchemaChange) Empty() bool {
	return len(c.Added)+len(c.Retyped)+len(c.Dropped)+len(c.Renamed) == 0
}

// Backfill lists the columns whose values existing records lack or hold
// in an old form, and must be read again from PostgreSQL. Renamed columns
// are included: their values are moved, but a column that a later change
// renamed again may not have been filled under its old name.
func (c SchemaChange) Backfill() []string {
	out := append(slices.Clone(c.Added), c.Retyped...)
	for _, to := range c.Renamed {
		out = append(out, to)
	}
	return out
}

// DiffColumns compares the column lists of two versions of a relation. A
// column is taken as renamed when it sits where a column of the same type
// was and that old name is gone (PostgreSQL keeps attribute order).
func DiffColumns(old, cur []cdc.Column) SchemaChange {
	var ch SchemaChange
	oldByName := map[string]cdc.Column{}
	for _, c := range old {
		oldByName[c.Name] = c
	}
	curNames := map[string]bool{}
	for _, c := range cur {
		curNames[c.Name] = true
	}
	if len(old) == len(cur) {
		for i := range cur {
			o, n := old[i], cur[i]
			if o.Name != n.Name && !curNames[o.Name] && oldByName[n.Name].Name == "" && o.TypeOID == n.TypeOID {
				if ch.Renamed == nil {
					ch.Renamed = map[string]string{}
				}
				ch.Renamed[o.Name] = n.Name
			}
		}
	}
	renamedTo := map[string]bool{}
	for _, to := range ch.Renamed {
		renamedTo[to] = true
	}
	for _, c := range cur {
		o, ok := oldByName[c.Name]
		switch {
		case renamedTo[c.Name]:
		case !ok:
			ch.Added = append(ch.Added, c.Name)
		case o.TypeOID != c.TypeOID || o.TypeMod != c.TypeMod:
			ch.Retyped = append(ch.Retyped, c.Name)
		}
	}
	for _, c := range old {
		if !curNames[c.Name] && ch.Renamed[c.Name] == "" {
			ch.Dropped = append(ch.Dropped, c.Name)
		}
	}
	return ch
}

// SchemaWrites returns the writes that bring existing records in line with
// a schema change, except the backfill of values (see PatchWrite): fields
// of dropped and retyped columns removed, renamed columns' fields moved.
func (m *Mapper) SchemaWrites(s *Shape, ch SchemaChange) []Write {
	src := s.Source + " (schema change)"
	var out []Write
	// Retyped fields are removed before the backfill writes them again:
	// SurrealDB keeps a field's old type when assigned an equal value of
	// another type (130dec stays a decimal when set to 130f).
	for _, col := range append(slices.Clone(ch.Dropped), ch.Retyped...) {
		if !s.Included(col) || s.idIsKey(col) {
			continue
		}
		w := s.write(UnsetField, s.Target, nil, src)
		w.Field = s.field(col).Name
		out = append(out, w)
	}
	for from, to := range ch.Renamed {
		if !s.Included(to) {
			continue
		}
		w := s.write(RenameField, s.Target, nil, src)
		w.FromField, w.Field = s.field(from).Name, s.field(to).Name
		if w.FromField != w.Field {
			out = append(out, w)
		}
	}
	return out
}

// PatchWrite maps a row read for a backfill (key columns plus the columns
// being backfilled) to a Patch of the existing record.
func (m *Mapper) PatchWrite(s *Shape, r Row) (Write, error) {
	id, err := m.ID(s, r)
	if err != nil {
		return Write{}, err
	}
	if id == nil {
		return Write{}, rowError(s, keyText(s, r), "", fmt.Errorf("the key is NULL"))
	}
	doc, _, err := m.Doc(s, r)
	if err != nil {
		return Write{}, err
	}
	for _, k := range s.Key {
		if !slices.Contains(r.Names[len(s.Key):], k) {
			delete(doc, s.field(k).Name)
		}
	}
	w := s.write(Patch, s.Target, id, source(s, r))
	w.Doc = doc
	return w, nil
}
