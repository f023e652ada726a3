package mapping

import (
	"encoding/hex"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"fmt"

	"github.com/surrealdb/surrealdb.go/pkg/models"
)

// Canon renders a value so that equal SurrealDB values render equally,
// whichever way they were made (mapped from a PostgreSQL row) or decoded
// (read from SurrealDB): numbers by value, decimals without
// trailing zeros, datetimes in UTC, maps with sorted keys.
func Canon(v any) string { return string(AppendCanon(nil, v)) }

// AppendCanon appends Canon(v) to b: what verify hashes for every record,
// without building intermediate strings.
func AppendCanon(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case map[string]any:
		return appendMap(b, x, "", nil, false)
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendCanon(b, e)
		}
		return append(b, ']')
	case models.RecordID:
		return AppendCanon(append(append(b, x.Table...), ':'), x.ID)
	case *models.RecordID:
		return AppendCanon(append(append(b, x.Table...), ':'), x.ID)
	case models.DecimalString:
		return appendDecimal(append(b, "dec:"...), string(x))
	case models.CustomDateTime:
		return x.UTC().AppendFormat(append(b, "dt:"...), time.RFC3339Nano)
	case *models.CustomDateTime:
		return x.UTC().AppendFormat(append(b, "dt:"...), time.RFC3339Nano)
	case models.CustomDuration:
		return append(append(b, "dur:"...), x.Duration.String()...)
	case time.Time:
		return x.UTC().AppendFormat(append(b, "dt:"...), time.RFC3339Nano)
	case ZeroDatetime:
		return x.Time().AppendFormat(append(b, "dt:"...), time.RFC3339Nano)
	case []byte:
		return hex.AppendEncode(append(b, "bytes:"...), x)
	case string:
		return strconv.AppendQuote(b, x)
	case bool:
		return strconv.AppendBool(b, x)
	case float32:
		return strconv.AppendFloat(append(b, "n:"...), float64(x), 'g', -1, 64)
	case float64:
		return strconv.AppendFloat(append(b, "n:"...), x, 'g', -1, 64)
	case int:
		return strconv.AppendInt(append(b, "n:"...), int64(x), 10)
	case int8:
		return strconv.AppendInt(append(b, "n:"...), int64(x), 10)
	case int16:
		return strconv.AppendInt(append(b, "n:"...), int64(x), 10)
	case int32:
		return strconv.AppendInt(append(b, "n:"...), int64(x), 10)
	case int64:
		return strconv.AppendInt(append(b, "n:"...), x, 10)
	case uint:
		return strconv.AppendUint(append(b, "n:"...), uint64(x), 10)
	case uint8:
		return strconv.AppendUint(append(b, "n:"...), uint64(x), 10)
	case uint16:
		return strconv.AppendUint(append(b, "n:"...), uint64(x), 10)
	case uint32:
		return strconv.AppendUint(append(b, "n:"...), uint64(x), 10)
	case uint64:
		return strconv.AppendUint(append(b, "n:"...), x, 10)
	}
	return fmt.Appendf(b, "%T:%v", v, v)
}

// AppendCanonDoc appends the Canon of doc with the field key replaced by
// value (verify renders a record read from SurrealDB with its id part in
// place of the record id, without copying the map).
func AppendCanonDoc(b []byte, doc map[string]any, key string, value any) []byte {
	return appendMap(b, doc, key, value, true)
}

func appendMap(b []byte, m map[string]any, key string, value any, replace bool) []byte {
	var small [16]string
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	if replace {
		if _, ok := m[key]; !ok {
			keys = append(keys, key)
		}
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(strconv.AppendQuote(b, k), ':')
		if replace && k == key {
			b = AppendCanon(b, value)
		} else {
			b = AppendCanon(b, m[k])
		}
	}
	return append(b, '}')
}

// appendDecimal appends a decimal by value: a plain decimal without
// leading or trailing zeros ("012.50" -> "12.5", "-0.0" -> "0"); other
// forms (exponents) are converted exactly through big.Rat to the same
// plain form.
func appendDecimal(b []byte, s string) []byte {
	if plain, ok := plainDecimal(s); ok {
		return append(b, plain...)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return append(b, s...)
	}
	if r.IsInt() {
		return append(b, r.Num().String()...)
	}
	// An exact decimal has at most as many digits after the point as the
	// denominator's factors of 2 and 5 need; the input's length bounds it.
	out, _ := plainDecimal(r.FloatString(len(s) + 2))
	return append(b, out...)
}

// plainDecimal normalizes -?digits(.digits)? and reports whether s had
// that form.
func plainDecimal(s string) (string, bool) {
	neg := strings.HasPrefix(s, "-")
	body := strings.TrimPrefix(s, "-")
	intPart, frac, hasDot := strings.Cut(body, ".")
	if intPart == "" && !hasDot {
		return "", false
	}
	for _, part := range []string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return "", false
			}
		}
	}
	intPart = strings.TrimLeft(intPart, "0")
	frac = strings.TrimRight(frac, "0")
	if intPart == "" {
		intPart = "0"
	}
	out := intPart
	if frac != "" {
		out += "." + frac
	}
	if neg && out != "0" {
		out = "-" + out
	}
	return out, true
}
