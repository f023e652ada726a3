package mapping

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/surrealdb/surrealdb.go/pkg/models"
)

// jsonText renders a SurrealDB value as JSON that keeps it faithfully:
// ints and floats as numbers, decimals as JSON numbers with every digit
// (jsonb stores numbers as numeric, so nothing is rounded), NaN and
// +-Infinity as the strings "NaN", "Infinity", "-Infinity" (JSON has no
// such numbers), datetimes as RFC 3339 strings in UTC with nanoseconds,
// durations as SurrealQL duration strings ("1d2h"), uuids as strings,
// bytes as base64, record links as "table:id" strings, geometries as
// GeoJSON, objects with their keys sorted. NONE fields are absent (the
// engine drops them); null stays null.
func jsonText(v any) (any, error) {
	var b strings.Builder
	if err := appendJSON(&b, v); err != nil {
		return nil, err
	}
	return b.String(), nil
}

// jsonNumberRE is JSON's number grammar; a decimal that does not match it
// (none does as SurrealDB prints decimals) is written as a string.
var jsonNumberRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)

func appendJSON(b *strings.Builder, v any) error {
	switch x := normalize(v).(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case uint64:
		b.WriteString(strconv.FormatUint(x, 10))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return appendJSONString(b, formatFloat(x))
		}
		b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
	case models.DecimalString:
		if !jsonNumberRE.MatchString(string(x)) {
			return appendJSONString(b, string(x))
		}
		b.WriteString(string(x))
	case string:
		return appendJSONString(b, x)
	case models.CustomDateTime:
		return appendJSONString(b, datetimeText(x.Time))
	case models.CustomDuration:
		if x.Duration < 0 {
			return fmt.Errorf("duration is longer than about 292 years, which the Go SDK cannot decode")
		}
		return appendJSONString(b, durationText(x.Duration))
	case models.UUID:
		return appendJSONString(b, x.String())
	case []byte:
		return appendJSONString(b, base64.StdEncoding.EncodeToString(x))
	case models.RecordID:
		s, err := recordText(x.Table, x.ID)
		if err != nil {
			return err
		}
		return appendJSONString(b, s)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := appendJSON(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k, e := range x {
			if _, none := e.(models.CustomNil); !none {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := appendJSONString(b, k); err != nil {
				return err
			}
			b.WriteByte(':')
			if err := appendJSON(b, x[k]); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		}
		b.WriteByte('}')
	default:
		g, ok := geoJSON(x)
		if !ok {
			return fmt.Errorf("%s has no JSON form", aValue(x))
		}
		return appendJSON(b, g)
	}
	return nil
}

// appendJSONString writes a JSON string. PostgreSQL's text and jsonb
// cannot hold U+0000, so a string with one is an error here rather than
// at the server.
func appendJSONString(b *strings.Builder, s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return errNUL
	}
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20:
			fmt.Fprintf(b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return nil
}

var errNUL = fmt.Errorf("the string holds a NUL character (U+0000), which PostgreSQL text cannot hold")

// geoJSON turns the SDK's geometries into GeoJSON objects.
func geoJSON(v any) (map[string]any, bool) {
	point := func(p models.GeometryPoint) []any { return []any{p.Longitude, p.Latitude} }
	line := func(l models.GeometryLine) []any {
		out := make([]any, len(l))
		for i, p := range l {
			out[i] = point(p)
		}
		return out
	}
	polygon := func(p models.GeometryPolygon) []any {
		out := make([]any, len(p))
		for i, l := range p {
			out[i] = line(l)
		}
		return out
	}
	var typ string
	var coords []any
	switch x := v.(type) {
	case models.GeometryPoint:
		typ, coords = "Point", point(x)
	case models.GeometryLine:
		typ, coords = "LineString", line(x)
	case models.GeometryPolygon:
		typ, coords = "Polygon", polygon(x)
	case models.GeometryMultiPoint:
		typ, coords = "MultiPoint", line(models.GeometryLine(x))
	case models.GeometryMultiLine:
		typ = "MultiLineString"
		for _, l := range x {
			coords = append(coords, line(l))
		}
	case models.GeometryMultiPolygon:
		typ = "MultiPolygon"
		for _, p := range x {
			coords = append(coords, polygon(p))
		}
	case models.GeometryCollection:
		return map[string]any{"type": "GeometryCollection", "geometries": []any(x)}, true
	default:
		return nil, false
	}
	if coords == nil {
		coords = []any{}
	}
	return map[string]any{"type": typ, "coordinates": coords}, true
}

// datetimeText writes a datetime as SurrealDB does: RFC 3339 in UTC with
// the nanoseconds it has, years outside 0000-9999 signed (-0043,
// +262142).
func datetimeText(t time.Time) string {
	t = t.UTC()
	var year string
	switch y := t.Year(); {
	case y < 0:
		year = fmt.Sprintf("-%04d", -y)
	case y > 9999:
		year = fmt.Sprintf("+%d", y)
	default:
		year = fmt.Sprintf("%04d", y)
	}
	s := fmt.Sprintf("%s-%02d-%02dT%02d:%02d:%02d", year, int(t.Month()), t.Day(), t.Hour(), t.Minute(), t.Second())
	if ns := t.Nanosecond(); ns != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%09d", ns), "0")
	}
	return s + "Z"
}

// durationText writes a duration in SurrealQL ("1y2w3d4h5m6s7ms8µs9ns").
func durationText(d time.Duration) string {
	if d == 0 {
		return "0ns"
	}
	return models.FormatDuration(int64(d))
}

// surrealID renders a record id part as SurrealQL prints it after the
// table and colon: abc, `with space`, `123` (a string of digits), 42,
// u'...', [1, 'a'], { a: 1 }. It is the text of a key column whose id
// type SurrealDB does not define, and it tells the string '42' from the
// integer 42.
func surrealID(v any) (any, error) { return idText(v) }

func idText(v any) (string, error) {
	switch x := normalize(v).(type) {
	case string:
		if strings.IndexByte(x, 0) >= 0 {
			return "", errNUL
		}
		return escapeSurrealName(x), nil
	case nil:
		return "", fmt.Errorf("the record id is missing")
	}
	return surrealValueText(v)
}

// recordText renders a record link as SurrealQL does: table:id.
func recordText(table string, id any) (string, error) {
	s, err := idText(id)
	if err != nil {
		return "", err
	}
	return escapeSurrealName(table) + ":" + s, nil
}

// escapeSurrealName escapes a table name or a string record id as
// SurrealDB prints them: bare when made of ASCII letters, digits and _
// and not only digits and _ (which would read as a number), else in
// backticks.
func escapeSurrealName(s string) string {
	if isBareSurrealName(s) {
		return s
	}
	return "`" + strings.NewReplacer(`\`, `\\`, "`", "\\`").Replace(s) + "`"
}

func isBareSurrealName(s string) bool {
	if s == "" || s == "NaN" || s == "Infinity" {
		return false
	}
	numeric := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && c != '_' && (c < '0' || c > '9') {
			return false
		}
		numeric = numeric && !letter
	}
	return !numeric
}

// surrealValueText renders a value as a SurrealQL literal.
func surrealValueText(v any) (string, error) {
	switch x := normalize(v).(type) {
	case nil:
		return "NULL", nil
	case bool:
		return strconv.FormatBool(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return formatFloat(x), nil
		}
		return strconv.FormatFloat(x, 'f', -1, 64) + "f", nil
	case models.DecimalString:
		return string(x) + "dec", nil
	case string:
		if strings.IndexByte(x, 0) >= 0 {
			return "", errNUL
		}
		if strings.Contains(x, "'") {
			return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(x) + `"`, nil
		}
		return "'" + strings.ReplaceAll(x, `\`, `\\`) + "'", nil
	case models.CustomDateTime:
		return "d'" + datetimeText(x.Time) + "'", nil
	case models.CustomDuration:
		return durationText(x.Duration), nil
	case models.UUID:
		return "u'" + x.String() + "'", nil
	case []byte:
		return `b"` + strings.ToUpper(hex.EncodeToString(x)) + `"`, nil
	case models.RecordID:
		return recordText(x.Table, x.ID)
	case models.GeometryPoint:
		return "(" + strconv.FormatFloat(x.Longitude, 'f', -1, 64) + ", " + strconv.FormatFloat(x.Latitude, 'f', -1, 64) + ")", nil
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			s, err := surrealValueText(e)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return "[" + strings.Join(parts, ", ") + "]", nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			s, err := surrealValueText(x[k])
			if err != nil {
				return "", err
			}
			key := k
			if !isBareSurrealName(k) {
				key = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(k) + `"`
			}
			parts[i] = key + ": " + s
		}
		if len(parts) == 0 {
			return "{}", nil
		}
		return "{ " + strings.Join(parts, ", ") + " }", nil
	default:
		return "", fmt.Errorf("%s has no SurrealQL form here", aValue(x))
	}
}
