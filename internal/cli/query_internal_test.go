package cli

import (
	"math/big"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// TestCellText checks values print as psql prints them.
func TestCellText(t *testing.T) {
	t.Parallel()
	ts := time.Date(2024, 3, 1, 10, 20, 30, 123456000, time.UTC)
	india := time.FixedZone("IST", 5*3600+1800)
	cases := []struct {
		typ  string
		in   any
		want string
	}{
		{"text", nil, ""},
		{"bool", true, "t"},
		{"bool", false, "f"},
		{"int8", int64(-7), "-7"},
		{"float8", 0.5, "0.5"},
		{"numeric", pgtype.Numeric{Int: big.NewInt(1250), Exp: -2, Valid: true}, "12.50"},
		{"bytea", []byte{1, 0xab}, `\x01ab`},
		{"timestamptz", ts, "2024-03-01 10:20:30.123456+00"},
		{"timestamptz", ts.In(india), "2024-03-01 15:50:30.123456+05:30"},
		{"timestamp", ts, "2024-03-01 10:20:30.123456"},
		{"date", ts, "2024-03-01"},
		{"_text", []any{"a", "b c", nil, "", "NULL", `q"`}, `{a,"b c",NULL,"","NULL","q\""}`},
		{"_int4", []any{int32(1), int32(2)}, "{1,2}"},
		{"jsonb", []any{1.0, "x<y"}, `[1,"x<y"]`},
		{"jsonb", map[string]any{"a": nil}, `{"a":null}`},
		{"uuid", [16]byte{15: 1}, "00000000-0000-0000-0000-000000000001"},
	}
	for _, c := range cases {
		if got := cellText(c.typ, c.in); got != c.want {
			t.Errorf("%s %#v: got %q, want %q", c.typ, c.in, got, c.want)
		}
	}
}
