package mapping

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gofrs/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/surrealdb/surrealdb.go/pkg/models"
)

// OIDs of built-in types that pgtype has no constant for.
const (
	int2vectorOID = 22
	oidvectorOID  = 30
	moneyOID      = 790
)

var (
	// ErrUnrepresentable marks a valid PostgreSQL value that SurrealDB
	// cannot hold without changing it (a numeric with more than 28
	// fractional digits, a timestamp past SurrealDB's datetime range). The
	// pipeline stops on it, or parks the change in a dead-letter table;
	// it never stores an altered value.
	ErrUnrepresentable = errors.New("SurrealDB cannot hold this value exactly")
	// ErrMalformed marks text that is not in the output format Convert
	// reads. It usually means a session setting differs from SessionParams
	// (DateStyle, IntervalStyle, lc_monetary, bytea_output).
	ErrMalformed = errors.New("unexpected PostgreSQL text format")
)

// Error is a value Convert could not map. It names the PostgreSQL type and
// the value (truncated), and wraps ErrUnrepresentable or ErrMalformed with
// the reason.
type Error struct {
	Type  string
	Value string
	Err   error
}

func (e *Error) Error() string {
	return fmt.Sprintf("mapping %s value %s to SurrealDB: %v", e.Type, e.Value, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// maxShown is how much of a value an error message quotes.
const maxShown = 64

func newError(t *Type, text string, err error) *Error {
	return &Error{Type: t.String(), Value: shownValue(text), Err: err}
}

// shownValue quotes a value for a message, cut to maxShown bytes.
func shownValue(text string) string {
	if len(text) <= maxShown {
		return strconv.Quote(text)
	}
	cut := maxShown
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	return fmt.Sprintf("%q... (%d bytes)", text[:cut], len(text))
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

func unrepresentable(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUnrepresentable}, args...)...)
}

// Convert reads one non-NULL value in PostgreSQL's text output format (as
// pgoutput and a text-format COPY or SELECT deliver it) and returns the Go
// value to send to SurrealDB through the SDK. SQL NULL never reaches
// Convert: it is nil, and whether a nil field is written or omitted is the
// caller's choice. Errors are *Error. Convert is safe for concurrent use.
func Convert(t *Type, text string) (any, error) {
	v, err := convert(t, text)
	if err != nil {
		return nil, newError(t, text, err)
	}
	return v, nil
}

func convert(t *Type, text string) (any, error) {
	if t == nil {
		return text, nil // no type information: text passthrough
	}
	switch t.Kind {
	case Enum, Other:
		return text, nil
	case Domain:
		if t.Base == nil {
			return text, nil
		}
		return convert(t.Base, text)
	case Array:
		return convertArray(t, text)
	case Range:
		return convertRange(t, text)
	case Composite:
		return convertComposite(t, text)
	}
	return convertBase(t, text)
}

func convertBase(t *Type, text string) (any, error) {
	switch t.OID {
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID, pgtype.OIDOID:
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return nil, malformed("not an integer")
		}
		return n, nil
	case pgtype.Float4OID, pgtype.Float8OID:
		return parseFloat(text)
	case pgtype.NumericOID:
		return convertNumeric(text)
	case moneyOID:
		return convertMoney(text)
	case pgtype.BoolOID:
		return parseBool(text)
	case pgtype.ByteaOID:
		return parseBytea(text)
	case pgtype.UUIDOID:
		u, err := uuid.FromString(text)
		if err != nil {
			return nil, malformed("not a UUID")
		}
		return models.UUID{UUID: u}, nil
	case pgtype.DateOID:
		return convertDate(text)
	case pgtype.TimestampOID:
		return convertTimestamp(text, false)
	case pgtype.TimestamptzOID:
		return convertTimestamp(text, true)
	case pgtype.IntervalOID:
		return convertInterval(text)
	case pgtype.JSONOID, pgtype.JSONBOID:
		return convertJSON(text)
	case pgtype.PointOID:
		return parsePoint(text)
	}
	// text, varchar, bpchar, "char", name, citext, time, timetz, inet, cidr,
	// macaddr(8), xml, tsvector, bit, varbit and every type pgsurreal does
	// not know: the text as PostgreSQL printed it.
	return text, nil
}

func parseFloat(text string) (float64, error) {
	// PostgreSQL prints NaN, Infinity and -Infinity, all of which
	// ParseFloat reads; SurrealDB stores them as floats.
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return 0, malformed("not a floating-point number")
	}
	return f, nil
}

func parseBool(text string) (bool, error) {
	switch text {
	case "t", "true":
		return true, nil
	case "f", "false":
		return false, nil
	}
	return false, malformed("not t or f")
}

// parseBytea reads bytea_output = hex ("\x0aff") and, for servers set to
// escape, the escape format ("a\\b\000").
func parseBytea(text string) ([]byte, error) {
	if hexPart, ok := strings.CutPrefix(text, `\x`); ok {
		b, err := hex.DecodeString(hexPart)
		if err != nil {
			return nil, malformed("bad hex digits in bytea")
		}
		return b, nil
	}
	out := make([]byte, 0, len(text))
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		switch {
		case i+1 < len(text) && text[i+1] == '\\':
			out = append(out, '\\')
			i++
		case i+3 < len(text):
			n, err := strconv.ParseUint(text[i+1:i+4], 8, 8)
			if err != nil {
				return nil, malformed("bad escape in bytea (escape format)")
			}
			out = append(out, byte(n))
			i += 3
		default:
			return nil, malformed("bad escape in bytea (escape format)")
		}
	}
	return out, nil
}

// parsePoint reads "(x,y)" into a GeoJSON-style point: x is the longitude,
// y the latitude.
func parsePoint(text string) (models.GeometryPoint, error) {
	inner, ok := strings.CutPrefix(text, "(")
	inner, ok2 := strings.CutSuffix(inner, ")")
	x, y, ok3 := strings.Cut(inner, ",")
	if !ok || !ok2 || !ok3 {
		return models.GeometryPoint{}, malformed("a point is (x,y)")
	}
	fx, err1 := strconv.ParseFloat(x, 64)
	fy, err2 := strconv.ParseFloat(y, 64)
	if err1 != nil || err2 != nil {
		return models.GeometryPoint{}, malformed("a point is (x,y)")
	}
	return models.GeometryPoint{Longitude: fx, Latitude: fy}, nil
}
