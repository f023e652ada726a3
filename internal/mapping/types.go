package mapping

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Kind says how a PostgreSQL type is built, which decides how its text is
// read: base types by their own rules, the others through the types they
// are made of.
type Kind uint8

const (
	// Base is a built-in or extension scalar type (int4, numeric, citext...).
	Base Kind = iota + 1
	// Enum is a CREATE TYPE ... AS ENUM type; its values map to strings.
	Enum
	// Domain is a CREATE DOMAIN type; its values map as its Base type.
	Domain
	// Array is an array type; Elem is the element type.
	Array
	// Range is a range type; Sub is the subtype of its bounds.
	Range
	// Composite is a row type (CREATE TYPE ... AS (...) or a table's row
	// type); Attrs lists its attributes.
	Composite
	// Other covers pseudo-types and multiranges: text passthrough.
	Other
)

func (k Kind) String() string {
	switch k {
	case Base:
		return "base"
	case Enum:
		return "enum"
	case Domain:
		return "domain"
	case Array:
		return "array"
	case Range:
		return "range"
	case Composite:
		return "composite"
	case Other:
		return "other"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Type is a resolved PostgreSQL type: everything Convert needs to read a
// value of it, with the types it is made of already linked.
type Type struct {
	OID    uint32
	Schema string // pg_catalog for built-in types
	Name   string // pg_type.typname: "int4", "_text", an enum's name
	Kind   Kind
	// Category is pg_type.typcategory ('N' numeric, 'A' array, ...).
	Category byte
	// Delim separates array elements of this type in array text (',' for
	// every type but box, which uses ';').
	Delim byte
	Elem  *Type  // Array: the element type
	Base  *Type  // Domain: the type the domain is over
	Sub   *Type  // Range: the subtype of the bounds
	Attrs []Attr // Composite: attributes in order
}

// Attr is one attribute of a composite type.
type Attr struct {
	Name string
	Type *Type
}

// String is the type's name as PostgreSQL would write it in messages.
func (t *Type) String() string {
	if t == nil {
		return "<nil type>"
	}
	if t.Schema != "" && t.Schema != "pg_catalog" {
		return t.Schema + "." + t.Name
	}
	return t.Name
}

// Querier is the one method LoadTypes needs; *pgx.Conn, *pgxpool.Pool and
// pgx.Tx all have it.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

const typeSQL = `SELECT t.oid, t.typname, n.nspname, t.typtype::text, t.typcategory::text,
       t.typdelim::text, t.typbasetype, t.typelem, t.typrelid, COALESCE(r.rngsubtype, 0)
  FROM pg_catalog.pg_type t
  JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
  LEFT JOIN pg_catalog.pg_range r ON r.rngtypid = t.oid
 WHERE t.oid = ANY($1::oid[])`

const attrSQL = `SELECT attrelid, attname, atttypid
  FROM pg_catalog.pg_attribute
 WHERE attrelid = ANY($1::oid[]) AND attnum > 0 AND NOT attisdropped
 ORDER BY attrelid, attnum`

// rawType is a pg_type row before the types it refers to are linked.
type rawType struct {
	t                    *Type
	base, elem, sub, rel uint32
	attrNames            []string
	attrOIDs             []uint32
}

// LoadTypes reads the given type OIDs, and every type they are made of
// (domain bases, array elements, range subtypes, composite attributes),
// from the catalog. The result maps each OID, the requested ones and the
// ones they refer to, to a linked *Type. An OID missing from pg_type is an
// error: the column's type was dropped or the OID is wrong.
func LoadTypes(ctx context.Context, q Querier, oids []uint32) (map[uint32]*Type, error) {
	raw := map[uint32]*rawType{}
	pending := newOIDs(oids, raw)
	for len(pending) > 0 {
		found, err := queryTypes(ctx, q, pending)
		if err != nil {
			return nil, err
		}
		for _, oid := range pending {
			if found[oid] == nil {
				return nil, fmt.Errorf("loading PostgreSQL types: type OID %d is not in pg_type (dropped while pgsurreal ran?)", oid)
			}
			raw[oid] = found[oid]
		}
		if err := queryAttrs(ctx, q, found); err != nil {
			return nil, err
		}
		var next []uint32
		for _, r := range found {
			next = append(next, r.base, r.elem, r.sub)
			next = append(next, r.attrOIDs...)
		}
		pending = newOIDs(next, raw)
	}
	out := make(map[uint32]*Type, len(raw))
	for oid, r := range raw {
		out[oid] = r.t
	}
	for _, r := range raw {
		r.t.Base, r.t.Sub = out[r.base], out[r.sub]
		if r.t.Kind == Array {
			r.t.Elem = out[r.elem]
		}
		for i, name := range r.attrNames {
			r.t.Attrs = append(r.t.Attrs, Attr{Name: name, Type: out[r.attrOIDs[i]]})
		}
	}
	return out, nil
}

// newOIDs returns the non-zero OIDs not yet in have, each once, sorted.
func newOIDs(oids []uint32, have map[uint32]*rawType) []uint32 {
	var out []uint32
	for _, o := range oids {
		if o != 0 && have[o] == nil && !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	slices.Sort(out)
	return out
}

func queryTypes(ctx context.Context, q Querier, oids []uint32) (map[uint32]*rawType, error) {
	rows, err := q.Query(ctx, typeSQL, oids)
	if err != nil {
		return nil, fmt.Errorf("loading PostgreSQL types %v: %w", oids, err)
	}
	found := map[uint32]*rawType{}
	for rows.Next() {
		var (
			r                        rawType
			t                        Type
			typtype, category, delim string
		)
		if err := rows.Scan(&t.OID, &t.Name, &t.Schema, &typtype, &category, &delim, &r.base, &r.elem, &r.rel, &r.sub); err != nil {
			rows.Close()
			return nil, fmt.Errorf("loading PostgreSQL types %v: %w", oids, err)
		}
		t.Category, t.Delim = firstByte(category), firstByte(delim)
		t.Kind = kindOf(typtype, t.Category, r.elem)
		if t.Kind != Composite {
			r.rel = 0
		}
		r.t = &t
		found[t.OID] = &r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("loading PostgreSQL types %v: %w", oids, err)
	}
	return found, nil
}

// queryAttrs fills in the attributes of the composite types in found.
func queryAttrs(ctx context.Context, q Querier, found map[uint32]*rawType) error {
	byRel := map[uint32]*rawType{}
	var rels []uint32
	for _, r := range found {
		if r.rel != 0 {
			byRel[r.rel] = r
			rels = append(rels, r.rel)
		}
	}
	if len(rels) == 0 {
		return nil
	}
	rows, err := q.Query(ctx, attrSQL, rels)
	if err != nil {
		return fmt.Errorf("loading attributes of composite types: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var rel, typ uint32
		var name string
		if err := rows.Scan(&rel, &name, &typ); err != nil {
			return fmt.Errorf("loading attributes of composite types: %w", err)
		}
		r := byRel[rel]
		r.attrNames = append(r.attrNames, name)
		r.attrOIDs = append(r.attrOIDs, typ)
	}
	return rows.Err()
}

// kindOf classifies a pg_type row. Arrays are told by category 'A' with an
// element type: name and point also have typelem but are not arrays.
func kindOf(typtype string, category byte, elem uint32) Kind {
	switch typtype {
	case "e":
		return Enum
	case "d":
		return Domain
	case "r":
		return Range
	case "c":
		return Composite
	case "b":
		if category == 'A' && elem != 0 {
			return Array
		}
		return Base
	}
	return Other
}

func firstByte(s string) byte {
	if s == "" {
		return 0
	}
	return s[0]
}

// SurrealType is the SurrealQL type of the values Convert returns for t,
// for DEFINE FIELD ... TYPE in schemafull mode; nullable adds null (SQL
// NULL written as null). A caller that omits NULL fields instead wraps the
// non-null type in option<...>. The golden test defines every field with
// it, so a value Convert returns outside its type fails there.
func (t *Type) SurrealType(nullable bool) string {
	k := t.surrealKind()
	if !nullable || k == "any" {
		return k
	}
	return "null | " + k
}

func (t *Type) surrealKind() string {
	switch t.Kind {
	case Domain:
		if t.Base != nil {
			return t.Base.surrealKind()
		}
		return "string"
	case Array:
		if t.Elem == nil {
			return "string"
		}
		// Elements may be NULL, and a PostgreSQL array column does not fix
		// its number of dimensions: nested arrays are allowed.
		if e := t.Elem.surrealKind(); e != "any" {
			return "array<null | " + e + " | array>"
		}
		return "array"
	case Range, Composite:
		return "object"
	case Enum, Other:
		return "string"
	}
	switch t.OID {
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID, pgtype.OIDOID:
		return "int"
	case pgtype.Float4OID, pgtype.Float8OID:
		return "float"
	case pgtype.NumericOID:
		return "decimal | float" // NaN and +-Infinity are floats
	case moneyOID:
		return "decimal"
	case pgtype.BoolOID:
		return "bool"
	case pgtype.ByteaOID:
		return "bytes"
	case pgtype.DateOID, pgtype.TimestampOID, pgtype.TimestamptzOID:
		return "datetime"
	case pgtype.IntervalOID:
		return "duration | string" // months or negative: ISO 8601 text
	case pgtype.UUIDOID:
		return "uuid"
	case pgtype.JSONOID, pgtype.JSONBOID:
		return "any"
	case pgtype.PointOID:
		return "geometry<point>"
	}
	return "string"
}
