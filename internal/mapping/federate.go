package mapping

import (
	"fmt"
	"slices"
	"strings"

	"github.com/surrealdb/surrealdb.go/pkg/models"
)

// ShapeColumn describes one column of a ReverseShape for a reader that
// selects and filters records itself (federated queries).
type ShapeColumn struct {
	Name string
	// Type is the PostgreSQL type, as written in CREATE TABLE.
	Type string
	// Key marks a column filled from the record id.
	Key bool
	// Doc marks the whole record as jsonb.
	Doc bool
	// Path is where a field column's value is in the record.
	Path []string
	// JSON marks a json/jsonb column: Values gives its value as JSON text.
	JSON bool
	// NotNull marks a column the SurrealDB definition never leaves empty.
	NotNull bool
	// Exact names the one kind of value the SurrealDB field may hold
	// (besides NONE and NULL) when its definition guarantees it: "int",
	// "bool", "string" or "datetime"; else "". Comparisons on such a
	// field mean the same in SurrealDB and PostgreSQL.
	Exact string
}

// ShapeColumns describes Columns, in order. When the record id is split
// into key columns (id_1, id_2, ... for a tuple id), a column "id" (text:
// the whole id as SurrealQL writes it) comes first, so that every table
// has an id column.
func (s *ReverseShape) ShapeColumns() []ShapeColumn {
	var out []ShapeColumn
	if s.splitID() {
		out = append(out, ShapeColumn{Name: "id", Type: "text", Key: true})
	}
	for _, c := range s.cols {
		sc := ShapeColumn{Name: c.name, Type: c.typ.sql, Key: c.from == fromKey, Doc: c.from == fromDoc, JSON: c.typ.kind == pgJSON, NotNull: c.notNull}
		if c.from == fromField && len(c.paths) == 1 {
			sc.Path = slices.Clone(c.paths[0])
			if c.single {
				sc.Exact = exactKind(c.typ.kind)
			}
		}
		out = append(out, sc)
	}
	return out
}

// splitID reports whether the key columns are parts of the record id.
func (s *ReverseShape) splitID() bool {
	return s.nkey > 1 || (s.nkey == 1 && s.cols[0].part >= 0)
}

func exactKind(k pgKind) string {
	switch k {
	case pgInt8:
		return "int"
	case pgBool:
		return "bool"
	case pgText:
		return "string"
	case pgTimestamptz:
		return "datetime"
	}
	return ""
}

// Values returns the values of the columns at idx (indexes into
// ShapeColumns) for a record, as Row does: text in each column's format,
// or nil for NULL.
func (s *ReverseShape) Values(rec map[string]any, idx []int) ([]any, error) {
	id, ok := rec["id"]
	if !ok {
		return nil, fmt.Errorf("surreal table %s: a record without an id", s.table)
	}
	off := 0
	if s.splitID() {
		off = 1
	}
	var key []any
	out := make([]any, len(idx))
	for j, i := range idx {
		if off == 1 && i == 0 {
			whole := normalize(id)
			if r, ok := whole.(models.RecordID); ok {
				whole = r.ID
			}
			text, err := idText(whole)
			if err != nil {
				return nil, s.recordError(id, "", err)
			}
			out[j] = text
			continue
		}
		c := s.cols[i-off]
		if c.from == fromKey {
			if key == nil {
				k, err := s.Key(id)
				if err != nil {
					return nil, err
				}
				key = k
			}
			out[j] = key[i-off]
			continue
		}
		v, err := s.value(c, id, rec)
		if err != nil {
			return nil, err
		}
		out[j] = v
	}
	return out, nil
}

// ConvertValue converts a SurrealDB value to the text of a PostgreSQL
// type: one of config.ReverseColumnTypes, or such a type followed by []
// for an array. nil is NULL.
func ConvertValue(typ string, v any) (any, error) {
	t, err := namedType(typ)
	if err != nil {
		return nil, err
	}
	return toPG(t, v)
}

// CheckType reports whether ConvertValue knows typ.
func CheckType(typ string) error {
	_, err := namedType(typ)
	return err
}

func namedType(typ string) (*pgType, error) {
	name := strings.ToLower(strings.TrimSpace(typ))
	if base, ok := strings.CutSuffix(name, "[]"); ok {
		elem, ok := reverseColumnType(base)
		if !ok || elem.kind == pgJSON {
			return nil, fmt.Errorf("type %s is not supported here: use text, bigint, integer, double precision, numeric, boolean, timestamptz, uuid, jsonb or an array of one of them but jsonb", typ)
		}
		return &pgType{kind: pgArray, sql: elem.sql + "[]", elem: elem}, nil
	}
	t, ok := reverseColumnType(name)
	if !ok {
		return nil, fmt.Errorf("type %s is not supported here: use text, bigint, integer, double precision, numeric, boolean, timestamptz, uuid, jsonb or an array of one of them", typ)
	}
	return t, nil
}
