package mapping

import (
	"encoding/hex"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/surrealdb/surrealdb.go/pkg/models"
)

// Canon renders a value so that equal SurrealDB values render equally,
// whichever way they were made (mapped from a PostgreSQL row) or decoded
// (read from SurrealDB): numbers by value, decimals without
// trailing zeros, datetimes in UTC, maps with sorted keys.
func Canon(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = strconv.Quote(k) + ":" + Canon(x[k])
		}
		return "{" + strings.Join(parts, ",") + "}"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = Canon(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case models.RecordID:
		return x.Table + ":" + Canon(x.ID)
	case *models.RecordID:
		return x.Table + ":" + Canon(x.ID)
	case models.DecimalString:
		return "dec:" + normDecimal(string(x))
	case models.CustomDateTime:
		return "dt:" + x.UTC().Format(time.RFC3339Nano)
	case *models.CustomDateTime:
		return "dt:" + x.UTC().Format(time.RFC3339Nano)
	case models.CustomDuration:
		return "dur:" + x.Duration.String()
	case time.Time:
		return "dt:" + x.UTC().Format(time.RFC3339Nano)
	case []byte:
		return "bytes:" + hex.EncodeToString(x)
	case string:
		return strconv.Quote(x)
	case bool:
		return strconv.FormatBool(x)
	case float32:
		return "n:" + strconv.FormatFloat(float64(x), 'g', -1, 64)
	case float64:
		return "n:" + strconv.FormatFloat(x, 'g', -1, 64)
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return "n:" + fmt.Sprint(x)
	}
	return fmt.Sprintf("%T:%v", v, v)
}

func normDecimal(s string) string {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return s
	}
	return r.RatString()
}
