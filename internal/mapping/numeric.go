package mapping

import (
	"math"
	"strings"

	"github.com/surrealdb/surrealdb.go/pkg/models"
)

// SurrealDB's decimal is a 96-bit integer mantissa with a scale of 0 to 28
// (rust_decimal). Text outside that is rounded by SurrealDB without an
// error (1.00000000000000000000000000001 is stored as 1), so Convert checks
// first and refuses what would change.
const (
	maxDecimalScale    = 28
	maxDecimalMantissa = "79228162514264337593543950335" // 2^96 - 1
)

// convertNumeric maps numeric text to a decimal, sent as a string (CBOR
// tag 10) so it never passes through a float. NaN and +-Infinity, which a
// SurrealDB decimal cannot hold, become the float of the same value.
func convertNumeric(text string) (any, error) {
	switch text {
	case "NaN":
		return math.NaN(), nil
	case "Infinity":
		return math.Inf(1), nil
	case "-Infinity":
		return math.Inf(-1), nil
	}
	if !isPlainDecimal(text) {
		return nil, malformed("not a plain decimal number")
	}
	if err := checkDecimal(text); err != nil {
		return nil, err
	}
	if _, frac, _ := strings.Cut(text, "."); len(frac) > maxDecimalScale {
		// Trailing zeros past the 28th digit: send the same value in fewer
		// digits rather than rely on SurrealDB's rounding.
		return models.DecimalString(CanonicalDecimal(text)), nil
	}
	return models.DecimalString(text), nil
}

// isPlainDecimal accepts -?digits(.digits)? (numeric's output format).
func isPlainDecimal(s string) bool {
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasDot := strings.Cut(s, ".")
	return allDigits(intPart) && intPart != "" && (!hasDot || (frac != "" && allDigits(frac)))
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// checkDecimal reports whether a plain decimal fits SurrealDB's decimal
// exactly.
func checkDecimal(s string) error {
	c := strings.TrimPrefix(CanonicalDecimal(s), "-")
	intPart, frac, _ := strings.Cut(c, ".")
	if len(frac) > maxDecimalScale {
		return unrepresentable("%d digits after the decimal point, SurrealDB's decimal keeps at most %d", len(frac), maxDecimalScale)
	}
	mant := strings.TrimLeft(intPart+frac, "0")
	if len(mant) > len(maxDecimalMantissa) || (len(mant) == len(maxDecimalMantissa) && mant > maxDecimalMantissa) {
		return unrepresentable("%d significant digits exceed SurrealDB's decimal (at most %s, scaled by up to %d decimal places)", len(mant), maxDecimalMantissa, maxDecimalScale)
	}
	return nil
}

// CanonicalDecimal writes a plain decimal without trailing fractional
// zeros and without a negative zero: "12.50" -> "12.5", "-0.0" -> "0". It
// is how SurrealDB prints the decimal, and the form used in record ids.
func CanonicalDecimal(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	if strings.TrimLeft(s, "-0") == "" {
		return "0"
	}
	return s
}

// convertMoney reads money under lc_monetary = C ("$1,234.56",
// "-$1,234.56") or a locale of the same shape: currency symbols, spaces
// and group separators are dropped and the rest must be a plain decimal.
// A locale that writes the decimal point as a comma is refused rather than
// guessed at.
func convertMoney(text string) (any, error) {
	s := strings.TrimSpace(text)
	neg := false
	if inner, ok := strings.CutPrefix(s, "("); ok {
		s, neg = strings.TrimSuffix(inner, ")"), true
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '-':
			neg = true
		case r >= '0' && r <= '9', r == '.', r == ',':
			b.WriteRune(r)
		}
	}
	num := b.String()
	if i := strings.LastIndexByte(num, ','); i >= 0 && i > strings.LastIndexByte(num, '.') && len(num)-i-1 != 3 {
		return nil, malformed("money with a decimal comma: set lc_monetary to C for the replication and snapshot sessions")
	}
	num = strings.ReplaceAll(num, ",", "")
	if neg {
		num = "-" + num
	}
	if !isPlainDecimal(num) {
		return nil, malformed("cannot read money; set lc_monetary to C")
	}
	if err := checkDecimal(num); err != nil {
		return nil, err
	}
	return models.DecimalString(num), nil
}
