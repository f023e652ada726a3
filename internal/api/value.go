package api

import (
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"math"
	"net"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// JSONValue turns a value as pgx decodes it (rows.Values()) into one
// encoding/json writes without losing information, given the column's
// PostgreSQL type name:
//
//   - NULL is null; booleans and integers are JSON booleans and numbers;
//   - float4/float8 are numbers, except NaN and ±Infinity, which are the
//     strings "NaN", "Infinity" and "-Infinity";
//   - numeric is a string ("12.50"), so no digit or scale is lost;
//   - timestamptz is RFC 3339 with fraction and offset, timestamp the same
//     without offset, date "2006-01-02"; infinite ones "infinity" or
//     "-infinity";
//   - bytea is base64 (standard alphabet, padded), as encoding/json
//     writes []byte;
//   - uuid is its canonical text; json and jsonb are embedded as JSON;
//   - arrays are JSON arrays of their elements converted the same way;
//   - anything else (interval, time, inet, ranges, ...) is PostgreSQL's
//     text form as a string.
func JSONValue(typ string, v any) any {
	switch x := v.(type) {
	case nil, bool, string, int8, int16, int32, int64, int, uint8, uint16, uint32, uint64:
		return x
	case []byte:
		return x
	case float32:
		return jsonFloat(float64(x))
	case float64:
		return jsonFloat(x)
	case time.Time:
		return formatTime(typ, x)
	case pgtype.InfinityModifier:
		return x.String()
	case [16]byte:
		return formatUUID(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = JSONValue("", e)
		}
		return out
	case []any:
		elem := elemType(typ)
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = JSONValue(elem, e)
		}
		return out
	}
	return textValue(v)
}

// textValue is PostgreSQL's text form of the types pgx decodes into its
// own structs (numeric, interval, time, point, ...) or standard library
// types (inet, macaddr).
func textValue(v any) any {
	switch x := v.(type) {
	case driver.Valuer:
		dv, err := x.Value()
		if err != nil {
			return fmt.Sprint(v)
		}
		if dv == nil {
			return nil
		}
		if s, ok := dv.(string); ok {
			return s
		}
		return JSONValue("", dv)
	case netip.Prefix:
		return x.String()
	case netip.Addr:
		return x.String()
	case net.HardwareAddr:
		return x.String()
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

func jsonFloat(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return f
}

// Layouts of the time types without a zone.
const (
	dateLayout      = "2006-01-02"
	timestampLayout = "2006-01-02T15:04:05.999999999"
)

func formatTime(typ string, t time.Time) string {
	switch typ {
	case "date":
		return t.Format(dateLayout)
	case "timestamp":
		return t.Format(timestampLayout)
	}
	return t.Format(time.RFC3339Nano)
}

func formatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// elemType is the element type of an array type name: PostgreSQL names
// arrays "_int4" in pg_type and "int4[]" in format_type.
func elemType(typ string) string {
	switch {
	case len(typ) > 1 && typ[0] == '_':
		return typ[1:]
	case len(typ) > 2 && typ[len(typ)-2:] == "[]":
		return typ[:len(typ)-2]
	}
	return typ
}
