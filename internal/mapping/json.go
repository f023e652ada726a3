package mapping

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/surrealdb/surrealdb.go/pkg/models"
)

// convertJSON decodes json and jsonb into SurrealDB values: objects to
// objects, arrays to arrays, strings, booleans, and JSON null to null. A
// top-level scalar stays a scalar. Numbers follow jsonNumber.
func convertJSON(text string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, malformed("invalid JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, malformed("text after the JSON value")
	}
	return jsonValue(v)
}

func jsonValue(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		return jsonNumber(string(x))
	case map[string]any:
		for k, e := range x {
			c, err := jsonValue(e)
			if err != nil {
				return nil, err
			}
			x[k] = c
		}
		return x, nil
	case []any:
		for i, e := range x {
			c, err := jsonValue(e)
			if err != nil {
				return nil, err
			}
			x[i] = c
		}
		return x, nil
	}
	return v, nil
}

// jsonNumber maps a JSON number without losing it: an integer that fits
// 64 bits is an int; any other number is a float when the float reads back
// as the number written (0.1, 1.5e3: what JSON readers expect), else a
// decimal when SurrealDB's decimal holds it exactly (huge integers, long
// fractions), else an ErrUnrepresentable error (1e400, a 33-digit integer).
func jsonNumber(s string) (any, error) {
	if !strings.ContainsAny(s, ".eE") {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
	}
	n, ok := parseNumber(s)
	if !ok { // the decoder checked the syntax: the exponent is out of range
		return nil, unrepresentable("JSON number %s is out of any number range", shownValue(s))
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) {
		if back, _ := parseNumber(strconv.FormatFloat(f, 'g', -1, 64)); back == n {
			return f, nil
		}
	}
	if d, ok := n.plain(); ok && checkDecimal(d) == nil {
		return models.DecimalString(d), nil
	}
	return nil, unrepresentable("JSON number %s is neither a float that reads back the same nor a decimal SurrealDB can hold", shownValue(s))
}

// number is a decimal number as sign, significant digits and a power of
// ten: 12.50 is {false, "125", -1}. Zero is {false, "", 0}.
type number struct {
	neg    bool
	digits string
	exp    int
}

// parseNumber reads a JSON number literal into its normal form.
func parseNumber(s string) (number, bool) {
	var n number
	s, n.neg = strings.CutPrefix(s, "-")
	mant, expText, hasExp := strings.Cut(strings.ToLower(s), "e")
	if hasExp {
		e, err := strconv.Atoi(strings.TrimPrefix(expText, "+"))
		if err != nil || e > 1<<20 || e < -(1<<20) {
			return n, false
		}
		n.exp = e
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	if !allDigits(intPart) || !allDigits(frac) || intPart+frac == "" {
		return n, false
	}
	n.exp -= len(frac)
	d := strings.TrimLeft(intPart+frac, "0")
	trimmed := strings.TrimRight(d, "0")
	n.exp += len(d) - len(trimmed)
	n.digits = trimmed
	if n.digits == "" {
		return number{}, true
	}
	return n, true
}

// plain writes the number without an exponent, if that takes no more
// digits than a SurrealDB decimal can have.
func (n number) plain() (string, bool) {
	if n.digits == "" {
		return "0", true
	}
	if n.exp > len(maxDecimalMantissa) || -n.exp > maxDecimalScale {
		return "", false
	}
	var s string
	switch {
	case n.exp >= 0:
		s = n.digits + strings.Repeat("0", n.exp)
	case -n.exp >= len(n.digits):
		s = "0." + strings.Repeat("0", -n.exp-len(n.digits)) + n.digits
	default:
		cut := len(n.digits) + n.exp
		s = n.digits[:cut] + "." + n.digits[cut:]
	}
	if n.neg {
		s = "-" + s
	}
	return s, true
}
