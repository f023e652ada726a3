package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net/http"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

func TestJSONValue(t *testing.T) {
	t.Parallel()
	ts := time.Date(2024, 3, 1, 10, 20, 30, 123456000, time.UTC)
	cases := []struct {
		typ  string
		in   any
		want string // the JSON encoding
	}{
		{"int4", nil, `null`},
		{"int8", int64(9007199254740993), `9007199254740993`},
		{"bool", true, `true`},
		{"text", "a\"b", `"a\"b"`},
		{"float8", 1.5, `1.5`},
		{"float8", math.NaN(), `"NaN"`},
		{"float4", float32(math.Inf(-1)), `"-Infinity"`},
		{"numeric", pgtype.Numeric{Int: big.NewInt(1250), Exp: -2, Valid: true}, `"12.50"`},
		{"numeric", pgtype.Numeric{NaN: true, Valid: true}, `"NaN"`},
		{"timestamptz", ts, `"2024-03-01T10:20:30.123456Z"`},
		{"timestamp", ts, `"2024-03-01T10:20:30.123456"`},
		{"date", ts, `"2024-03-01"`},
		{"timestamptz", pgtype.Infinity, `"infinity"`},
		{"bytea", []byte{1, 2}, `"AQI="`},
		{"uuid", [16]byte{0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11}, `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`},
		{"jsonb", map[string]any{"a": []any{1.0, "x", nil}}, `{"a":[1,"x",null]}`},
		{"_date", []any{ts, nil}, `["2024-03-01",null]`},
		{"interval", pgtype.Interval{Days: 1, Microseconds: 3600e6, Valid: true}, `"1 day 01:00:00"`},
		{"inet", netip.MustParsePrefix("10.0.0.1/32"), `"10.0.0.1/32"`},
	}
	for _, c := range cases {
		b, err := json.Marshal(JSONValue(c.typ, c.in))
		if err != nil {
			t.Errorf("%s %v: %v", c.typ, c.in, err)
			continue
		}
		if string(b) != c.want {
			t.Errorf("%s %#v: got %s, want %s", c.typ, c.in, b, c.want)
		}
	}
}

func TestParam(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   any
		want any
	}{
		{json.Number("42"), int64(42)},
		{json.Number("-9223372036854775808"), int64(math.MinInt64)},
		{json.Number("9223372036854775808"), "9223372036854775808"},
		{json.Number("12.50"), "12.50"},
		{json.Number("1e3"), "1e3"},
		{"x", "x"},
		{true, true},
		{nil, nil},
		{[]any{json.Number("1"), "a"}, `[1,"a"]`},
		{map[string]any{"k": json.Number("2.0")}, `{"k":2.0}`},
	}
	for _, c := range cases {
		if got := param(c.in); got != c.want {
			t.Errorf("param(%#v) = %#v, want %#v", c.in, got, c.want)
		}
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err    error
		status int
		code   string
	}{
		{&pgconn.PgError{Code: "42P01"}, http.StatusBadRequest, "42P01"},
		{fmt.Errorf("planning: %w", &pgconn.PgError{Code: "42601", Position: 3}), http.StatusBadRequest, "42601"},
		{&pgconn.PgError{Code: "0A000"}, http.StatusBadRequest, "0A000"},
		{&pgconn.PgError{Code: "22003"}, http.StatusBadRequest, "22003"},
		{&pgconn.PgError{Code: "23505"}, http.StatusConflict, "23505"},
		{&pgconn.PgError{Code: "40001"}, http.StatusConflict, "40001"},
		{&pgconn.PgError{Code: "57014"}, http.StatusGatewayTimeout, "57014"},
		{&pgconn.PgError{Code: "57P01"}, http.StatusBadGateway, "57P01"},
		{&pgconn.PgError{Code: "08006"}, http.StatusBadGateway, "08006"},
		{&pgconn.PgError{Code: "53300"}, http.StatusServiceUnavailable, "53300"},
		{&pgconn.PgError{Code: "XX000"}, http.StatusInternalServerError, "XX000"},
		{fmt.Errorf("reading: %w", context.DeadlineExceeded), http.StatusGatewayTimeout, "57014"},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), http.StatusBadGateway, "08006"},
		{errors.New("surreal: connection is closed"), http.StatusBadGateway, "08006"},
		{errors.New("something else"), http.StatusInternalServerError, "XX000"},
		{&pgconn.PgError{Code: "58000", Message: "SurrealDB refused SELECT 1: io: read/write on closed pipe"}, http.StatusBadGateway, "58000"},
		{&pgconn.PgError{Code: "58000", Message: "SurrealDB refused SELECT 1: Parse error"}, http.StatusInternalServerError, "58000"},
	}
	for _, c := range cases {
		status, e := classify(c.err)
		if status != c.status || e.Code != c.code {
			t.Errorf("%v: %d %s, want %d %s", c.err, status, e.Code, c.status, c.code)
		}
	}
	_, e := classify(fmt.Errorf("x: %w", &pgconn.PgError{Code: "42601", Message: "syntax error at or near \"x\"", Position: 7, Hint: "h"}))
	if e.Position != 7 || e.Hint != "h" || e.Message != `syntax error at or near "x"` {
		t.Errorf("PgError fields not kept: %+v", e)
	}
}

func TestBearer(t *testing.T) {
	t.Parallel()
	cases := map[string]string{"Bearer abc": "abc", "bearer  abc ": "abc", "Basic abc": "", "Bearer": "", "Bearer ": "", "": ""}
	for in, want := range cases {
		got, ok := bearer(in)
		if got != want || ok != (want != "") {
			t.Errorf("bearer(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
}
