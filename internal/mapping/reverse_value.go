package mapping

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofrs/uuid"
	"github.com/surrealdb/surrealdb.go/pkg/models"
)

// pgEarliest is PostgreSQL's earliest timestamp and date: 4714-11-24 BC
// (astronomical year -4713), Julian day 0.
var pgEarliest = time.Date(-4713, 11, 24, 0, 0, 0, 0, time.UTC)

// normalize turns the SDK's decoded forms into the few this file handles:
// float32 (the SDK decodes SurrealDB's compact floats as float32) becomes
// float64 exactly, pointers are dereferenced, time.Time becomes a
// CustomDateTime, and NONE becomes nil.
func normalize(v any) any {
	switch x := v.(type) {
	case float32:
		return float64(x)
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case uint32:
		return uint64(x)
	case *models.RecordID:
		if x == nil {
			return nil
		}
		return *x
	case time.Time:
		return models.CustomDateTime{Time: x}
	case *models.CustomDateTime:
		if x == nil {
			return nil
		}
		return *x
	case models.CustomNil, *models.CustomNil:
		return nil
	case models.UUIDString:
		return string(x)
	case models.CustomDurationString:
		return string(x)
	case models.Table:
		return string(x)
	}
	return v
}

// toPG converts one SurrealDB value to the text PostgreSQL's input
// function for the column type reads (nil for NULL). Values travel as
// query parameters in text format: pgx sends a Go string as text for any
// parameter type, and PostgreSQL parses it with the column's own input
// function (so varchar(n) still refuses a longer value instead of
// truncating it).
func toPG(t *pgType, v any) (any, error) {
	v = normalize(v)
	if v == nil {
		return nil, nil
	}
	switch t.kind {
	case pgJSON:
		return jsonText(v)
	case pgSurrealKey:
		if r, ok := v.(models.RecordID); ok {
			v = r.ID
		}
		return surrealID(v)
	}
	if r, ok := v.(models.RecordID); ok {
		// A record link in a scalar column is the referenced record's key,
		// which is what a foreign key column holds.
		v = normalize(r.ID)
		if t.kind == pgText || t.kind == pgGeneric {
			if _, plain := v.(string); !plain {
				return surrealID(v)
			}
		}
	}
	if s, ok := v.(string); ok {
		if strings.IndexByte(s, 0) >= 0 {
			return nil, errNUL
		}
		if t.maxLen > 0 && utf8.RuneCountInString(strings.TrimRight(s, " ")) > t.maxLen {
			return nil, fmt.Errorf("%d characters are more than the %d the column holds", utf8.RuneCountInString(s), t.maxLen)
		}
		return s, checkText(t.kind, s) // text passthrough, as the forward mapping writes time, inet, enums, ...
	}
	switch t.kind {
	case pgBool:
		if b, ok := v.(bool); ok {
			return strconv.FormatBool(b), nil
		}
	case pgInt2, pgInt4, pgInt8, pgOID:
		return intText(v, intRanges[t.kind][0], intRanges[t.kind][1])
	case pgFloat4, pgFloat8, pgNumeric, pgMoney:
		return numberText(t.kind, v)
	case pgBytea:
		if b, ok := v.([]byte); ok {
			return `\x` + hex.EncodeToString(b), nil
		}
	case pgDate, pgTimestamp, pgTimestamptz:
		if d, ok := v.(models.CustomDateTime); ok {
			return timestampText(t.kind, d.Time)
		}
	case pgInterval:
		if d, ok := v.(models.CustomDuration); ok {
			return intervalText(d.Duration)
		}
	case pgUUID:
		if u, ok := v.(models.UUID); ok {
			return u.String(), nil
		}
	case pgPoint:
		if p, ok := v.(models.GeometryPoint); ok {
			return "(" + formatFloat(p.Longitude) + "," + formatFloat(p.Latitude) + ")", nil
		}
	case pgArray:
		if a, ok := v.([]any); ok {
			return arrayText(t.elem, a)
		}
	case pgRange:
		if m, ok := v.(map[string]any); ok {
			return pgRangeText(t.elem, m)
		}
	case pgText, pgGeneric:
		return genericText(t.kind, v)
	}
	return nil, fmt.Errorf("%s does not fit this type", aValue(v))
}

// intRanges are the integer types' ranges.
var intRanges = map[pgKind][2]int64{
	pgInt2: {math.MinInt16, math.MaxInt16},
	pgInt4: {math.MinInt32, math.MaxInt32},
	pgInt8: {math.MinInt64, math.MaxInt64},
	pgOID:  {0, math.MaxUint32},
}

// checkText catches, for the types whose text form is simple, a string
// PostgreSQL would refuse, so the error names the record and field
// instead of failing the whole statement. Other strings are left for
// PostgreSQL to parse (times, inet, enums, intervals written as text by
// the forward mapping).
func checkText(k pgKind, s string) error {
	t := strings.TrimSpace(s)
	switch k {
	case pgInt2, pgInt4, pgInt8, pgOID:
		n, ok := new(big.Int).SetString(t, 10)
		if !ok {
			return fmt.Errorf("%s is not an integer", strconv.Quote(s))
		}
		lo, hi := intRanges[k][0], intRanges[k][1]
		if n.Cmp(big.NewInt(lo)) < 0 || n.Cmp(big.NewInt(hi)) > 0 {
			return fmt.Errorf("%s is out of range (%d to %d)", n.String(), lo, hi)
		}
	case pgFloat4, pgFloat8, pgNumeric:
		if _, err := strconv.ParseFloat(t, 64); err != nil && !errors.Is(err, strconv.ErrRange) {
			return fmt.Errorf("%s is not a number", strconv.Quote(s))
		}
	case pgBool:
		switch strings.ToLower(t) {
		case "t", "true", "f", "false", "y", "yes", "n", "no", "on", "off", "1", "0":
		default:
			return fmt.Errorf("%s is not a boolean", strconv.Quote(s))
		}
	case pgUUID:
		if _, err := uuid.FromString(t); err != nil {
			return fmt.Errorf("%s is not a uuid", strconv.Quote(s))
		}
	}
	return nil
}

// intText writes an integer, or an integral float or decimal, in range.
func intText(v any, lo, hi int64) (any, error) {
	var n big.Int
	switch x := v.(type) {
	case int64:
		n.SetInt64(x)
	case uint64:
		n.SetUint64(x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) || x != math.Trunc(x) {
			return nil, fmt.Errorf("%s is not an integer", formatFloat(x))
		}
		big.NewFloat(x).Int(&n)
	case models.DecimalString:
		r, ok := new(big.Rat).SetString(string(x))
		if !ok || !r.IsInt() {
			return nil, fmt.Errorf("%s is not an integer", string(x))
		}
		n.Set(r.Num())
	default:
		return nil, fmt.Errorf("%s is not an integer", aValue(v))
	}
	if n.Cmp(big.NewInt(lo)) < 0 || n.Cmp(big.NewInt(hi)) > 0 {
		return nil, fmt.Errorf("%s is out of range (%d to %d)", n.String(), lo, hi)
	}
	return n.String(), nil
}

// numberText writes a number for a float, numeric or money column.
// Decimals keep every digit (never through a float); NaN and
// +-Infinity are spelled as PostgreSQL reads them.
func numberText(k pgKind, v any) (any, error) {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case models.DecimalString:
		return string(x), nil
	case float64:
		if k == pgMoney && (math.IsNaN(x) || math.IsInf(x, 0)) {
			return nil, fmt.Errorf("%s is not a money amount", formatFloat(x))
		}
		return formatFloat(x), nil
	}
	return nil, fmt.Errorf("%s is not a number", aValue(v))
}

// formatFloat is the shortest text that reads back as x, in PostgreSQL's
// spelling of NaN and the infinities.
func formatFloat(x float64) string {
	switch {
	case math.IsNaN(x):
		return "NaN"
	case math.IsInf(x, 1):
		return "Infinity"
	case math.IsInf(x, -1):
		return "-Infinity"
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

// timestampText writes a datetime for a date, timestamp or timestamptz
// column, in UTC. Nanoseconds are truncated to PostgreSQL's microseconds;
// SurrealDB's ends of time (MaxDatetime, MinDatetime, what the forward
// mapping writes for infinity) become infinity and -infinity.
func timestampText(k pgKind, t time.Time) (any, error) {
	t = t.UTC()
	switch {
	case t.Equal(MaxDatetime):
		return "infinity", nil
	case t.Equal(MinDatetime):
		return "-infinity", nil
	case t.Before(pgEarliest):
		return nil, fmt.Errorf("%s is before 4714-11-24 BC, PostgreSQL's earliest time", datetimeText(t))
	}
	year, bc := t.Year(), ""
	if year <= 0 {
		year, bc = 1-year, " BC"
	}
	date := fmt.Sprintf("%04d-%02d-%02d", year, int(t.Month()), t.Day())
	if k == pgDate {
		if t.Hour() != 0 || t.Minute() != 0 || t.Second() != 0 || t.Nanosecond() != 0 {
			return nil, fmt.Errorf("%s has a time of day, which a date cannot hold", datetimeText(t))
		}
		return date + bc, nil
	}
	s := fmt.Sprintf("%s %02d:%02d:%02d", date, t.Hour(), t.Minute(), t.Second())
	if us := t.Nanosecond() / 1000; us != 0 {
		s += fmt.Sprintf(".%06d", us)
	}
	if k == pgTimestamptz {
		s += "+00"
	}
	return s + bc, nil
}

// intervalText writes a duration as an ISO 8601 interval with days (a
// SurrealDB day is 24 hours, and so is the forward mapping's).
// Nanoseconds are truncated to microseconds.
func intervalText(d time.Duration) (any, error) {
	if d < 0 {
		// SurrealDB durations are unsigned; the SDK decodes them into
		// nanoseconds of an int64, which wraps past about 292 years.
		return nil, fmt.Errorf("duration is longer than about 292 years, which the Go SDK cannot decode")
	}
	us := int64(d / time.Microsecond)
	const day = 24 * 3600 * 1_000_000
	days, us := us/day, us%day
	h, us := us/3_600_000_000, us%3_600_000_000
	m, us := us/60_000_000, us%60_000_000
	s, us := us/1_000_000, us%1_000_000
	return fmt.Sprintf("P%dDT%dH%dM%d.%06dS", days, h, m, s, us), nil
}

// arrayText writes a PostgreSQL array literal, every element quoted;
// nested arrays are further dimensions.
func arrayText(elem *pgType, a []any) (any, error) {
	var b strings.Builder
	if err := appendArray(&b, elem, a); err != nil {
		return nil, err
	}
	return b.String(), nil
}

func appendArray(b *strings.Builder, elem *pgType, a []any) error {
	b.WriteByte('{')
	for i, e := range a {
		if i > 0 {
			b.WriteByte(',')
		}
		if sub, ok := e.([]any); ok && elem.kind != pgJSON {
			if err := appendArray(b, elem, sub); err != nil {
				return err
			}
			continue
		}
		v, err := toPG(elem, e)
		if err != nil {
			return fmt.Errorf("element %d: %w", i, err)
		}
		if v == nil {
			b.WriteString("NULL")
			continue
		}
		b.WriteString(quoteArrayElement(v.(string)))
	}
	b.WriteByte('}')
	return nil
}

var arrayEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

func quoteArrayElement(s string) string { return `"` + arrayEscaper.Replace(s) + `"` }

// pgRangeText writes a range from the object the forward mapping makes of
// one: {begin, begin_inclusive, end, end_inclusive} or {empty: true}.
func pgRangeText(sub *pgType, m map[string]any) (any, error) {
	if e, _ := m["empty"].(bool); e {
		return "empty", nil
	}
	var b strings.Builder
	if inc, _ := m["begin_inclusive"].(bool); inc {
		b.WriteByte('[')
	} else {
		b.WriteByte('(')
	}
	for i, side := range []string{"begin", "end"} {
		if i > 0 {
			b.WriteByte(',')
		}
		v, err := toPG(sub, m[side])
		if err != nil {
			return nil, fmt.Errorf("range %s: %w", side, err)
		}
		if v != nil {
			b.WriteString(quoteArrayElement(v.(string)))
		}
	}
	if inc, _ := m["end_inclusive"].(bool); inc {
		b.WriteByte(']')
	} else {
		b.WriteByte(')')
	}
	return b.String(), nil
}

// genericText writes a value for a text column (as SurrealDB's <string>
// cast mostly does) or for a type the mapping does not know, such as an
// enum or a domain (as PostgreSQL's input functions read it).
func genericText(k pgKind, v any) (any, error) {
	switch x := v.(type) {
	case bool:
		return strconv.FormatBool(x), nil
	case int64, uint64, float64, models.DecimalString:
		return numberText(pgNumeric, x)
	case models.CustomDateTime:
		if k == pgText {
			return datetimeText(x.Time), nil
		}
		return timestampText(pgTimestamptz, x.Time)
	case models.CustomDuration:
		if k == pgText {
			return durationText(x.Duration), nil
		}
		return intervalText(x.Duration)
	case models.UUID:
		return x.String(), nil
	case []byte:
		return `\x` + hex.EncodeToString(x), nil
	case models.GeometryPoint:
		return "(" + formatFloat(x.Longitude) + "," + formatFloat(x.Latitude) + ")", nil
	case []any:
		if k == pgGeneric {
			return arrayText(&pgType{kind: pgGeneric}, x)
		}
	}
	return jsonText(v)
}

// aValue is "an int value", "a bool value", ... for messages.
func aValue(v any) string {
	k := surrealKind(v)
	if strings.ContainsRune("aeiou", rune(k[0])) {
		return "an " + k + " value"
	}
	return "a " + k + " value"
}

// surrealKind names a value's SurrealDB type for messages.
func surrealKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case int64, uint64:
		return "int"
	case float64, float32:
		return "float"
	case models.DecimalString:
		return "decimal"
	case string:
		return "string"
	case models.CustomDateTime, time.Time:
		return "datetime"
	case models.CustomDuration:
		return "duration"
	case models.UUID:
		return "uuid"
	case []byte:
		return "bytes"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case models.RecordID:
		return "record"
	case models.GeometryPoint, models.GeometryLine, models.GeometryPolygon, models.GeometryMultiPoint,
		models.GeometryMultiLine, models.GeometryMultiPolygon, models.GeometryCollection:
		return "geometry"
	}
	return fmt.Sprintf("%T", v)
}
