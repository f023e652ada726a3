package mapping

import (
	"encoding/hex"
	"strconv"
	"time"

	"github.com/surrealdb/surrealdb.go/pkg/models"
)

// RecordIDValue builds the id part of a record id from the primary key's
// values (as Convert returned them, in key column order). One column gives
// the value itself, several give an array id (t:[1, 'a']).
//
// SurrealDB's scalar ids are integers, strings and UUIDs only, so an int
// key stays an integer id, a text key a string id and a uuid key a uuid
// id; any other kind becomes its canonical text (a numeric 12.50 ->
// '12.5', a timestamp -> '2024-01-02T03:04:05.000006Z', a bool -> 'true'),
// inside array ids too. That keeps the id the same however it is sent: the
// SDK's models.RecordID encodes its id with plain CBOR, which would turn a
// decimal into a string but a float into a number SurrealDB refuses. Key
// values are never NULL (PostgreSQL primary keys are NOT NULL); a nil part
// stays nil.
func RecordIDValue(key []any) any {
	if len(key) == 1 {
		return idPart(key[0])
	}
	out := make([]any, len(key))
	for i, k := range key {
		out[i] = idPart(k)
	}
	return out
}

func idPart(v any) any {
	switch x := v.(type) {
	case nil, int64, string, models.UUID:
		return x
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case models.DecimalString:
		return CanonicalDecimal(string(x))
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case []byte:
		return hex.EncodeToString(x)
	case models.CustomDateTime:
		return x.UTC().Format(time.RFC3339Nano)
	case ZeroDatetime:
		return x.Time().Format(time.RFC3339Nano)
	case models.CustomDuration:
		return x.String()
	case models.GeometryPoint:
		return "(" + strconv.FormatFloat(x.Longitude, 'g', -1, 64) + "," + strconv.FormatFloat(x.Latitude, 'g', -1, 64) + ")"
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = idPart(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = idPart(e)
		}
		return out
	}
	return v
}

// SessionParams are the settings whose text output Convert reads. The
// replication connection and the snapshot connections set them as
// run-time parameters, so that a server configured otherwise (DateStyle
// 'German', lc_monetary 'de_DE', bytea_output 'escape') still produces
// what Convert expects. TimeZone does not matter: offsets are read.
var SessionParams = map[string]string{
	"DateStyle":          "ISO, MDY",
	"IntervalStyle":      "postgres",
	"bytea_output":       "hex",
	"lc_monetary":        "C",
	"extra_float_digits": "1",
}
