package mapping

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgtype"
)

// pgKind says how a SurrealDB value is written to a PostgreSQL column.
type pgKind uint8

const (
	pgGeneric     pgKind = iota // a type the mapping does not know: text PostgreSQL parses
	pgBool                      // boolean
	pgInt2                      // smallint
	pgInt4                      // integer
	pgInt8                      // bigint
	pgOID                       // oid
	pgFloat4                    // real
	pgFloat8                    // double precision
	pgNumeric                   // numeric
	pgMoney                     // money
	pgText                      // text, varchar, char(n), name, citext
	pgBytea                     // bytea
	pgDate                      // date
	pgTimestamp                 // timestamp without time zone
	pgTimestamptz               // timestamptz
	pgTime                      // time, timetz: only strings (as the forward mapping writes them)
	pgInterval                  // interval
	pgUUID                      // uuid
	pgJSON                      // json, jsonb
	pgPoint                     // point
	pgArray                     // an array of elem
	pgRange                     // a range of elem
	pgSurrealKey                // text holding a record id part rendered as SurrealQL
)

// pgType is a PostgreSQL column type as the reverse mapping sees it.
type pgType struct {
	kind pgKind
	sql  string  // the type in CREATE TABLE ("bigint", "text[]")
	elem *pgType // pgArray's element, pgRange's subtype
	// maxLen is varchar(n)'s and char(n)'s n, 0 for no limit.
	maxLen int
}

func (t *pgType) scalar() bool {
	return t.kind != pgJSON && t.kind != pgArray && t.kind != pgRange && t.kind != pgGeneric
}

// Column types of new tables.
var (
	typBool        = &pgType{kind: pgBool, sql: "boolean"}
	typInt         = &pgType{kind: pgInt8, sql: "bigint"}
	typFloat       = &pgType{kind: pgFloat8, sql: "double precision"}
	typNumeric     = &pgType{kind: pgNumeric, sql: "numeric"}
	typText        = &pgType{kind: pgText, sql: "text"}
	typTimestamptz = &pgType{kind: pgTimestamptz, sql: "timestamptz"}
	typInterval    = &pgType{kind: pgInterval, sql: "interval"}
	typUUID        = &pgType{kind: pgUUID, sql: "uuid"}
	typBytea       = &pgType{kind: pgBytea, sql: "bytea"}
	typJSONB       = &pgType{kind: pgJSON, sql: "jsonb"}
	typPoint       = &pgType{kind: pgPoint, sql: "point"}
	typKey         = &pgType{kind: pgSurrealKey, sql: "text"}
)

// reverseColumnType is the type of a configured extracted column
// (config.ReverseColumnTypes).
func reverseColumnType(name string) (*pgType, bool) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", "text":
		return typText, true
	case "bigint":
		return typInt, true
	case "integer":
		return &pgType{kind: pgInt4, sql: "integer"}, true
	case "double precision":
		return typFloat, true
	case "numeric":
		return typNumeric, true
	case "boolean":
		return typBool, true
	case "timestamptz":
		return typTimestamptz, true
	case "uuid":
		return typUUID, true
	case "jsonb":
		return typJSONB, true
	}
	return nil, false
}

// builtinKinds are the base types by OID.
var builtinKinds = map[uint32]pgKind{
	pgtype.BoolOID: pgBool, pgtype.Int2OID: pgInt2, pgtype.Int4OID: pgInt4, pgtype.Int8OID: pgInt8,
	pgtype.OIDOID: pgOID, pgtype.Float4OID: pgFloat4, pgtype.Float8OID: pgFloat8,
	pgtype.NumericOID: pgNumeric, moneyOID: pgMoney, pgtype.TextOID: pgText, pgtype.VarcharOID: pgText,
	pgtype.BPCharOID: pgText, pgtype.NameOID: pgText, pgtype.QCharOID: pgText, pgtype.ByteaOID: pgBytea,
	pgtype.DateOID: pgDate, pgtype.TimestampOID: pgTimestamp, pgtype.TimestamptzOID: pgTimestamptz,
	pgtype.TimeOID: pgTime, 1266 /* timetz */ : pgTime, pgtype.IntervalOID: pgInterval,
	pgtype.UUIDOID: pgUUID, pgtype.JSONOID: pgJSON, pgtype.JSONBOID: pgJSON, pgtype.PointOID: pgPoint,
	pgtype.Int4rangeOID: pgRange, pgtype.Int8rangeOID: pgRange, pgtype.NumrangeOID: pgRange,
	pgtype.TsrangeOID: pgRange, pgtype.TstzrangeOID: pgRange, pgtype.DaterangeOID: pgRange,
}

// rangeSubtypes are the built-in ranges' subtypes.
var rangeSubtypes = map[uint32]uint32{
	pgtype.Int4rangeOID: pgtype.Int4OID, pgtype.Int8rangeOID: pgtype.Int8OID,
	pgtype.NumrangeOID: pgtype.NumericOID, pgtype.TsrangeOID: pgtype.TimestampOID,
	pgtype.TstzrangeOID: pgtype.TimestamptzOID, pgtype.DaterangeOID: pgtype.DateOID,
}

// columnType classifies an existing column by its type OID; types that
// are not built in (enums, domains, composites, extension types) are
// pgGeneric, or arrays of pgGeneric when format_type ends in [].
func columnType(m *pgtype.Map, oid uint32, typeName string, typmod int32) *pgType {
	t := &pgType{sql: typeName}
	if k, ok := builtinKinds[oid]; ok {
		t.kind = k
		switch {
		case k == pgRange:
			t.elem = columnType(m, rangeSubtypes[oid], "", -1)
		case (oid == pgtype.VarcharOID || oid == pgtype.BPCharOID) && typmod >= 4:
			t.maxLen = int(typmod - 4)
		}
		return t
	}
	if typeName == "citext" || strings.HasSuffix(typeName, ".citext") {
		t.kind = pgText
		return t
	}
	if pt, ok := m.TypeForOID(oid); ok {
		if ac, ok := pt.Codec.(*pgtype.ArrayCodec); ok && ac.ElementType != nil {
			t.kind = pgArray
			t.elem = columnType(m, ac.ElementType.OID, ac.ElementType.Name, typmod)
			return t
		}
	}
	if base, ok := strings.CutSuffix(typeName, "[]"); ok {
		t.kind = pgArray
		t.elem = &pgType{kind: pgGeneric, sql: base}
	}
	return t
}

// surrealColumn is what a SurrealQL field type becomes in a new table.
type surrealColumn struct {
	typ      *pgType
	nullable bool
	link     bool // a record link: the column holds the referenced record's key
	// single marks a type of one kind (besides NONE and NULL), so the
	// field's values all compare alike in SurrealDB.
	single bool
}

// resolveType maps a SurrealQL type (SurrealField.Type) to a column type.
// selfKey is the type of the table's own id, used for links to the same
// table (other tables' id types are unknown: their links are text).
func resolveType(typ, table string, selfKey *pgType) (surrealColumn, error) {
	if strings.TrimSpace(typ) == "" {
		return surrealColumn{typ: typJSONB, nullable: true}, nil
	}
	u, err := parseSurrealType(typ)
	if err != nil {
		return surrealColumn{}, err
	}
	return resolveUnion(u, table, selfKey)
}

func resolveUnion(u sunion, table string, selfKey *pgType) (surrealColumn, error) {
	var out surrealColumn
	var alts []surrealColumn
	for _, t := range u {
		switch t.name {
		case "none", "null":
			out.nullable = true
			continue
		case "option":
			if len(t.args) != 1 {
				return out, fmt.Errorf("option needs one type")
			}
			c, err := resolveUnion(t.args[0], table, selfKey)
			if err != nil {
				return out, err
			}
			c.nullable = true
			alts = append(alts, c)
			continue
		}
		c, err := resolveSingle(t, table, selfKey)
		if err != nil {
			return out, err
		}
		alts = append(alts, c)
	}
	for _, a := range alts {
		out.nullable = out.nullable || a.nullable
	}
	switch {
	case len(alts) == 0:
		out.typ = typJSONB
	case len(alts) == 1 || allSame(alts):
		out.typ, out.link = alts[0].typ, alts[0].link
		out.single = len(alts) == 1
	case allKinds(alts, pgInt8, pgFloat8, pgNumeric):
		out.typ = typNumeric
	case allLinks(alts):
		out.typ, out.link = typKey, true
	default:
		out.typ = typJSONB // several kinds: kept as JSON
	}
	return out, nil
}

func allSame(alts []surrealColumn) bool {
	for _, a := range alts[1:] {
		if a.typ.sql != alts[0].typ.sql || a.link != alts[0].link {
			return false
		}
	}
	return true
}

func allKinds(alts []surrealColumn, kinds ...pgKind) bool {
	for _, a := range alts {
		ok := false
		for _, k := range kinds {
			ok = ok || (a.typ.kind == k && !a.link)
		}
		if !ok {
			return false
		}
	}
	return true
}

func allLinks(alts []surrealColumn) bool {
	for _, a := range alts {
		if !a.link {
			return false
		}
	}
	return true
}

func resolveSingle(t stype, table string, selfKey *pgType) (surrealColumn, error) {
	c := surrealColumn{}
	switch t.name {
	case "any":
		return surrealColumn{typ: typJSONB, nullable: true}, nil
	case "bool":
		c.typ = typBool
	case "int":
		c.typ = typInt
	case "float":
		c.typ = typFloat
	case "decimal", "number":
		c.typ = typNumeric
	case "string":
		c.typ = typText
	case "datetime":
		c.typ = typTimestamptz
	case "duration":
		c.typ = typInterval
	case "uuid":
		c.typ = typUUID
	case "bytes":
		c.typ = typBytea
	case "object", "tuple":
		c.typ = typJSONB
	case "literal":
		switch t.lit {
		case "string":
			c.typ = typText
		case "number":
			c.typ = typNumeric
		default:
			c.typ = typBool
		}
	case "geometry":
		c.typ = typJSONB
		if len(t.args) == 1 && len(t.args[0]) == 1 && strings.EqualFold(t.args[0][0].word, "point") {
			c.typ = typPoint
		}
	case "record":
		c.typ, c.link = typKey, true
		if len(t.args) == 1 && len(t.args[0]) == 1 && t.args[0][0].word == table && selfKey != nil {
			c.typ = selfKey
		}
	case "array", "set":
		c.typ = typJSONB
		if len(t.args) == 1 {
			e, err := resolveUnion(t.args[0], table, selfKey)
			if err != nil {
				return c, err
			}
			if e.typ.scalar() && !e.link {
				c.typ = &pgType{kind: pgArray, sql: e.typ.sql + "[]", elem: e.typ}
			}
		}
	default:
		return c, fmt.Errorf("type %s has no PostgreSQL mapping", t.word)
	}
	return c, nil
}
