package mapping

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
)

// MaskedValue replaces the value of a column with transform "mask".
const MaskedValue = "****"

// TypeLoader resolves type OIDs the Mapper has not seen yet (new columns,
// ALTER COLUMN TYPE). It is usually LoadTypes bound to a connection.
type TypeLoader func(oids []uint32) (map[uint32]*Type, error)

// Mapper turns row changes of the shaped tables into SurrealDB writes.
// It is not safe for concurrent use; give each worker its own (sharing
// the Shapes is fine).
type Mapper struct {
	Shapes map[string]*Shape
	types  map[uint32]*Type
	load   TypeLoader
}

// NewMapper returns a Mapper resolving types with load.
func NewMapper(shapes map[string]*Shape, load TypeLoader) *Mapper {
	return &Mapper{Shapes: shapes, types: map[uint32]*Type{}, load: load}
}

func (m *Mapper) typeOf(oid uint32) (*Type, error) {
	if t := m.types[oid]; t != nil {
		return t, nil
	}
	got, err := m.load([]uint32{oid})
	if err != nil {
		return nil, fmt.Errorf("resolving type %d: %w", oid, err)
	}
	for k, v := range got {
		m.types[k] = v
	}
	if t := m.types[oid]; t != nil {
		return t, nil
	}
	return nil, fmt.Errorf("type %d not found in pg_type", oid)
}

// Row is one row image with its column names and types.
type Row struct {
	Names []string
	OIDs  []uint32
	Vals  cdc.Tuple
}

func (r Row) index(col string) int {
	for i, n := range r.Names {
		if n == col {
			return i
		}
	}
	return -1
}

// RowOf pairs a relation with one of its tuples.
func RowOf(rel *cdc.Relation, t cdc.Tuple) Row {
	r := Row{Names: make([]string, len(rel.Columns)), OIDs: make([]uint32, len(rel.Columns)), Vals: t}
	for i, c := range rel.Columns {
		r.Names[i], r.OIDs[i] = c.Name, c.TypeOID
	}
	return r
}

// rowError names the table, key and column of a value that cannot be
// mapped.
func rowError(s *Shape, key []string, col string, err error) error {
	where := s.Source
	if len(key) > 0 {
		where += " key (" + strings.Join(key, ", ") + ")"
	}
	if col != "" {
		where += " column " + col
	}
	return fmt.Errorf("%s: %w", where, err)
}

// keyText returns the key columns' text values for messages.
func keyText(s *Shape, r Row) []string {
	out := make([]string, 0, len(s.Key))
	for _, k := range s.Key {
		if i := r.index(k); i >= 0 && i < len(r.Vals) {
			out = append(out, r.Vals[i].Text)
		}
	}
	return out
}

// convert maps one datum of column i.
func (m *Mapper) convert(s *Shape, r Row, i int) (any, error) {
	d := r.Vals[i]
	if d.Kind != cdc.Text {
		return nil, nil
	}
	t, err := m.typeOf(r.OIDs[i])
	if err != nil {
		return nil, rowError(s, keyText(s, r), r.Names[i], err)
	}
	v, err := Convert(t, d.Text)
	if err != nil {
		return nil, rowError(s, keyText(s, r), r.Names[i], err)
	}
	return v, nil
}

// ID returns the record id part of a row: its key values.
func (m *Mapper) ID(s *Shape, r Row) (any, error) {
	return m.linkID(s, r, s.Key)
}

// linkID returns the record id part made of cols, or nil when any is NULL.
func (m *Mapper) linkID(s *Shape, r Row, cols []string) (any, error) {
	parts := make([]any, len(cols))
	for j, c := range cols {
		i := r.index(c)
		if i < 0 || i >= len(r.Vals) {
			return nil, rowError(s, keyText(s, r), c, fmt.Errorf("key column missing from the change"))
		}
		if r.Vals[i].Kind == cdc.Null {
			return nil, nil
		}
		if r.Vals[i].Kind == cdc.Unchanged {
			return nil, rowError(s, keyText(s, r), c, fmt.Errorf("key value not sent (unchanged TOAST)"))
		}
		v, err := m.convert(s, r, i)
		if err != nil {
			return nil, err
		}
		parts[j] = v
	}
	return RecordIDValue(parts), nil
}

// Doc maps a row image to document fields (without id). partial reports
// that some values were not sent (unchanged TOAST), so the document must
// be merged into the existing record rather than replace it.
func (m *Mapper) Doc(s *Shape, r Row) (doc map[string]any, partial bool, err error) {
	doc = make(map[string]any, len(r.Names))
	for i, col := range r.Names {
		if i >= len(r.Vals) || !s.Included(col) || s.idIsKey(col) {
			continue
		}
		d := r.Vals[i]
		if d.Kind == cdc.Unchanged {
			partial = true
			continue
		}
		f := s.field(col)
		var v any
		switch {
		case d.Kind == cdc.Null:
			v = nil
		case f.Transform == "mask":
			v = MaskedValue
		case f.Transform == "hash":
			sum := sha256.Sum256([]byte(d.Text))
			v = hex.EncodeToString(sum[:])
		case f.Link != nil:
			id, err := m.linkID(s, r, f.Link.Columns)
			if err != nil {
				return nil, false, err
			}
			v = models.NewRecordID(f.Link.Target, id)
		default:
			if v, err = m.convert(s, r, i); err != nil {
				return nil, false, err
			}
		}
		if v == nil && s.OmitNulls {
			continue
		}
		doc[f.Name] = v
	}
	for _, l := range s.Links {
		if len(l.Columns) < 2 {
			continue
		}
		id, err := m.linkID(s, r, l.Columns)
		if err != nil {
			return nil, false, err
		}
		if id == nil {
			if !s.OmitNulls {
				doc[l.Field] = nil
			}
			continue
		}
		doc[l.Field] = models.NewRecordID(l.Target, id)
	}
	return doc, partial, nil
}

// endpoint returns the record a link points to from row r, or nil.
func (m *Mapper) endpoint(s *Shape, r Row, l *Link) (any, error) {
	id, err := m.linkID(s, r, l.Columns)
	if err != nil || id == nil {
		return nil, err
	}
	return models.NewRecordID(l.Target, id), nil
}

// unchangedAny reports whether any of cols was not sent.
func unchangedAny(r Row, cols []string) bool {
	for _, c := range cols {
		if i := r.index(c); i >= 0 && i < len(r.Vals) && r.Vals[i].Kind == cdc.Unchanged {
			return true
		}
	}
	return false
}

func source(s *Shape, r Row) string {
	return s.Source + " key (" + strings.Join(keyText(s, r), ", ") + ")"
}

func recordOf(table string, id any) models.RecordID { return models.NewRecordID(table, id) }
