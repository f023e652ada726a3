package mapping

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/gofrs/uuid"
	"github.com/surrealdb/surrealdb.go/pkg/models"
)

func base(oid uint32, name string) *Type { return &Type{OID: oid, Name: name, Kind: Base} }

var (
	tNumeric     = base(1700, "numeric")
	tMoney       = base(790, "money")
	tDate        = base(1082, "date")
	tTimestamp   = base(1114, "timestamp")
	tTimestamptz = base(1184, "timestamptz")
	tInterval    = base(1186, "interval")
	tJSONB       = base(3802, "jsonb")
	tBytea       = base(17, "bytea")
)

func utc(y int, mo time.Month, d, h, mi, s, us int) models.CustomDateTime {
	return models.CustomDateTime{Time: time.Date(y, mo, d, h, mi, s, us*1000, time.UTC)}
}

func TestConvertScalars(t *testing.T) {
	t.Parallel()
	cases := []struct {
		typ  *Type
		in   string
		want any // a value, or an error (ErrMalformed / ErrUnrepresentable)
	}{
		{base(21, "int2"), "-32768", int64(-32768)},
		{base(26, "oid"), "4294967295", int64(4294967295)},
		{base(20, "int8"), "9223372036854775808", ErrMalformed},
		{base(701, "float8"), "-Infinity", math.Inf(-1)},
		{base(700, "float4"), "1.1", 1.1},
		{base(16, "bool"), "t", true},
		{base(16, "bool"), "yes", ErrMalformed},
		{base(2950, "uuid"), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", models.UUID{UUID: uuid.Must(uuid.FromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"))}},
		{base(600, "point"), "(1,-2.5)", models.GeometryPoint{Longitude: 1, Latitude: -2.5}},
		{base(600, "point"), "1,2", ErrMalformed},
		{base(1266, "timetz"), "12:00:00+02", "12:00:00+02"},
		{&Type{OID: 99999, Name: "mystery", Kind: Base}, "anything", "anything"},
		{&Type{Name: "mood", Kind: Enum}, "happy", "happy"},
		{&Type{Name: "price", Kind: Domain, Base: tNumeric}, "1.50", models.DecimalString("1.50")},
		{tNumeric, "12.50", models.DecimalString("12.50")},
		{tNumeric, "-0.5", models.DecimalString("-0.5")},
		{tNumeric, "1.000000000000000000000000000000", models.DecimalString("1")},
		{tNumeric, "1.0000000000000000000000000000001", ErrUnrepresentable},
		{tNumeric, "79228162514264337593543950336", ErrUnrepresentable},
		{tNumeric, "1e5", ErrMalformed},
		{tMoney, "$1,234.56", models.DecimalString("1234.56")},
		{tMoney, "-$0.01", models.DecimalString("-0.01")},
		{tMoney, "($5.00)", models.DecimalString("-5.00")},
		{tMoney, "1.234,56 €", ErrMalformed},
		{tMoney, "￥1,234", models.DecimalString("1234")},
		{tBytea, `\x00ff`, []byte{0, 255}},
		{tBytea, `a\\b\001`, []byte{'a', '\\', 'b', 1}},
		{tBytea, `\xzz`, ErrMalformed},
		{tDate, "2024-02-29", utc(2024, 2, 29, 0, 0, 0, 0)},
		{tDate, "2023-02-29", ErrMalformed},
		{tDate, "0001-01-01", ZeroDatetime{}},
		{tDate, "0001-12-31 BC", utc(0, 12, 31, 0, 0, 0, 0)},
		{tDate, "02/29/2024", ErrMalformed},
		{tDate, "infinity", models.CustomDateTime{Time: MaxDatetime}},
		{tTimestamp, "2024-01-02 03:04:05.5", utc(2024, 1, 2, 3, 4, 5, 500000)},
		{tTimestamp, "Tue Jan 02 03:04:05 2024", ErrMalformed},
		{tTimestamp, "294276-12-31 23:59:59", ErrUnrepresentable},
		{tTimestamptz, "2024-01-02 03:04:05+05:30", utc(2024, 1, 1, 21, 34, 5, 0)},
		{tTimestamptz, "1800-01-01 00:00:00-03:30:52", utc(1800, 1, 1, 3, 30, 52, 0)},
		{tTimestamptz, "2024-01-02 03:04:05", ErrMalformed},
		{tTimestamptz, "-infinity", models.CustomDateTime{Time: MinDatetime}},
		{tInterval, "1 day 02:00:00", models.CustomDuration{Duration: 26 * time.Hour}},
		{tInterval, "-1 days +25:00:00", models.CustomDuration{Duration: time.Hour}},
		{tInterval, "1 year", "P1Y"},
		{tInterval, "@ 1 year", ErrMalformed},
		{tInterval, "P1Y", ErrMalformed},
		{tJSONB, `{"a": [1, 1.5, null]}`, map[string]any{"a": []any{int64(1), 1.5, nil}}},
		{tJSONB, `1e2`, float64(100)},
		{tJSONB, `12345678901234567890`, models.DecimalString("12345678901234567890")},
		{tJSONB, `1.00000000000000000001`, models.DecimalString("1.00000000000000000001")},
		{tJSONB, `1.5E-30`, 1.5e-30},
		{tJSONB, `{"a": 1} x`, ErrMalformed},
	}
	for _, c := range cases {
		got, err := Convert(c.typ, c.in)
		if want, isErr := c.want.(error); isErr {
			var e *Error
			if !errors.Is(err, want) || !errors.As(err, &e) || e.Type != c.typ.String() {
				t.Errorf("Convert(%s, %q) = %#v, %v; want %v", c.typ, c.in, got, err, want)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("Convert(%s, %q) = %#v, %v; want %#v", c.typ, c.in, got, err, c.want)
		}
	}
}

func TestConvertNaN(t *testing.T) {
	t.Parallel()
	for _, typ := range []*Type{base(700, "float4"), base(701, "float8"), tNumeric} {
		v, err := Convert(typ, "NaN")
		if f, ok := v.(float64); err != nil || !ok || !math.IsNaN(f) {
			t.Errorf("%s NaN: got %#v, %v", typ, v, err)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	t.Parallel()
	long := "1" + strings.Repeat("0", 100)
	_, err := Convert(tNumeric, long)
	msg := err.Error()
	for _, want := range []string{"mapping numeric value", `"10000`, "... (101 bytes)", "significant digits"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	dom := &Type{Schema: "shop", Name: "price", Kind: Domain, Base: tNumeric}
	if _, err := Convert(dom, "x"); err == nil || !strings.HasPrefix(err.Error(), `mapping shop.price value "x"`) {
		t.Errorf("domain error: %v", err)
	}
}

// TestZeroDatetimeEncoding checks that ZeroDatetime encodes as the SDK
// encodes any other datetime, and not as NONE as CustomDateTime would.
func TestZeroDatetimeEncoding(t *testing.T) {
	t.Parallel()
	got, err := cbor.Marshal(ZeroDatetime{})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := cbor.Marshal(cbor.Tag{Number: models.TagCustomDatetime, Content: [2]int64{-62135596800, 0}})
	if !bytes.Equal(got, want) {
		t.Errorf("got % x, want % x", got, want)
	}
	none, _ := (&models.CustomDateTime{}).MarshalCBOR()
	if bytes.Equal(got, none) {
		t.Error("ZeroDatetime encodes as NONE")
	}
}

func TestIntervalISO8601(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"00:00:00":                             "PT0S",
		"1 year 2 mons 3 days 04:05:06.789":    "P1Y2M3DT4H5M6.789S",
		"-1 years -2 mons +3 days -04:05:06.5": "P-1Y-2M3DT-4H-5M-6.5S",
		"-00:00:00.000001":                     "PT-0.000001S",
		"14 mons":                              "P1Y2M",
		"-2562047788:00:54.775807":             "PT-2562047788H-54.775807S",
	}
	for in, want := range cases {
		iv, err := parseInterval(in)
		if err != nil || iv.iso8601() != want {
			t.Errorf("%q: got %q, %v; want %q", in, iv.iso8601(), err, want)
		}
	}
}

func TestRecordIDValue(t *testing.T) {
	t.Parallel()
	u := models.UUID{UUID: uuid.Must(uuid.FromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"))}
	cases := []struct {
		key  []any
		want any
	}{
		{[]any{int64(42)}, int64(42)},
		{[]any{"a"}, "a"},
		{[]any{u}, u},
		{[]any{models.DecimalString("12.50")}, "12.5"},
		{[]any{1.5}, "1.5"},
		{[]any{true}, "true"},
		{[]any{utc(2024, 1, 2, 3, 4, 5, 250000)}, "2024-01-02T03:04:05.25Z"},
		{[]any{ZeroDatetime{}}, "0001-01-01T00:00:00Z"},
		{[]any{int64(1), "a"}, []any{int64(1), "a"}},
		{[]any{models.DecimalString("-0.0"), []byte{1, 2}}, []any{"0", "0102"}},
		{[]any{[]any{int64(1), models.DecimalString("2.0")}}, []any{int64(1), "2"}},
	}
	for _, c := range cases {
		if got := RecordIDValue(c.key); !reflect.DeepEqual(got, c.want) {
			t.Errorf("RecordIDValue(%#v) = %#v, want %#v", c.key, got, c.want)
		}
	}
}
