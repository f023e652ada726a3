package mapping

// The golden cases: each PostgreSQL type with literals in its input
// format. The golden test creates one table per type, inserts every
// literal and then a NULL row, reads col::text as pgoutput would send it,
// converts it, writes it to SurrealDB and reads back its type and
// rendering.

// setupSQL creates the user-defined types the cases use.
var setupSQL = []string{
	`CREATE EXTENSION IF NOT EXISTS citext`,
	`CREATE EXTENSION IF NOT EXISTS hstore`,
	`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy ☺', 'it''s')`,
	`CREATE DOMAIN price AS numeric(12,2) CHECK (VALUE >= 0)`,
	`CREATE DOMAIN posint AS int4 CHECK (VALUE > 0)`,
	`CREATE DOMAIN moods AS mood[]`,
	`CREATE TYPE address AS (street text, zip int4, tags text[])`,
	`CREATE TYPE textrange AS RANGE (subtype = text)`,
}

type typeCase struct {
	Type   string   // as written in CREATE TABLE
	Values []string // input literals; a NULL row is always added
}

const hostile = "it's \"quoted\" \\back\\slash {braces} [x] (y), NULL\n\ttab ü 😀 ☃ \u2028 `tick`"

var typeCases = []typeCase{
	{"int2", []string{"0", "-32768", "32767"}},
	{"int4", []string{"42", "-2147483648", "2147483647"}},
	{"int8", []string{"-9223372036854775808", "9223372036854775807"}},
	{"oid", []string{"0", "4294967295"}},
	{"float4", []string{"1.1", "-0", "NaN", "Infinity", "-Infinity", "3.4028235e38", "1e-45"}},
	{"float8", []string{"3.141592653589793", "0.1", "-0", "1e308", "5e-324", "NaN", "Infinity", "-Infinity"}},
	{"numeric", []string{
		"12.50", "-0.001", "0", "1234567890123456789012345678.9",
		"79228162514264337593543950335", "79228162514264337593543950336",
		"1234567890123456789012345678901234567890",
		"0.0000000000000000000000000001", "0.00000000000000000000000000001",
		"1.5000000000000000000000000000000000000", "NaN", "Infinity", "-Infinity",
	}},
	{"numeric(10,4)", []string{"3.14", "-99.0001"}},
	{"money", []string{"1234.56", "-1234.56", "0", "92233720368547758.07", "-92233720368547758.08"}},
	{"bool", []string{"true", "false"}},
	{"text", []string{"", "hello", hostile, "NULL"}},
	{"varchar(10)", []string{"abc"}},
	{"char(5)", []string{"ab"}},
	{`"char"`, []string{"x"}},
	{"name", []string{"pg_class"}},
	{"citext", []string{"MiXeD Case"}},
	{"bytea", []string{`\x`, `\x00ff10`, `a\\b`}},
	{"date", []string{"2024-02-29", "0001-01-01", "0044-03-15 BC", "4713-01-01 BC", "5874897-12-31", "infinity", "-infinity"}},
	{"timestamp", []string{
		"2024-01-02 03:04:05.123456", "0001-01-01 00:00:00", "1999-12-31 23:59:59.999999",
		"0044-03-15 12:00:00 BC", "262142-12-31 23:59:59.999999", "294276-12-31 23:59:59.999999",
		"infinity", "-infinity",
	}},
	{"timestamptz", []string{
		"2024-01-02 03:04:05.123456+00", "2024-07-01 12:00:00+05:30", "1800-01-01 00:00:00+00",
		"0044-03-15 12:00:00+00 BC", "infinity", "-infinity",
	}},
	{"time", []string{"00:00:00", "23:59:59.999999", "24:00:00"}},
	{"timetz", []string{"12:34:56.789+05:30"}},
	{"interval", []string{
		"1 year 2 months 3 days 04:05:06.789", "3 days 04:05:06", "00:00:00", "0.000001 seconds",
		"1 day -00:00:01", "-1 day", "-00:00:01", "1 mon", "2562047 hours", "2562048 hours",
		"178000000 years", "-178000000 years -1 day -00:00:00.5",
	}},
	{"uuid", []string{"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "00000000-0000-0000-0000-000000000000"}},
	{"json", []string{
		`{"a": 1, "a": 2}`, `[1, 2.5, "x", null, true]`, `"scalar"`, `null`, `true`,
		`12345678901234567890123`, `1.5e3`, `-2E-7`, `1e400`,
	}},
	{"jsonb", []string{
		`{"nested": {"n": null, "arr": [1, {"b": [true]}]}, "huge": 12345678901234567890, "f": 1.5, "min": -9223372036854775808, "s": "é\n\"q\"", "k y": {}}`,
		`[]`, `{}`, `0.1`, `3.14159265358979323846`, `1.5e3`, `-0.0`,
		`123456789012345678901234567890123`, `1e400`,
	}},
	{"int4[]", []string{"{}", "{1,2,3}", "{{1,2},{3,4}}", "{1,NULL,3}", "[0:1]={1,2}", "[0:1][5:6]={{1,2},{3,4}}", "{{{1}},{{2}}}"}},
	{"text[]", []string{`{"a,b","c}d","e\"f","g\\h","NULL",NULL,""," sp ","ü"}`, `{{"x"},{"y"}}`}},
	{"numeric[]", []string{"{1.50,NaN,-0}"}},
	{"timestamptz[]", []string{`{"2024-01-02 03:04:05+00",infinity}`}},
	{"jsonb[]", []string{`{"{\"a\": [1, null]}","null"}`}},
	{"box[]", []string{"{(1,1),(0,0);(3,3),(2,2)}"}},
	{"int2vector", []string{"1 2 3"}},
	{"mood", []string{"happy ☺", "it's"}},
	{"mood[]", []string{`{sad,"happy ☺"}`}},
	{"price", []string{"19.90"}},
	{"posint", []string{"7"}},
	{"moods", []string{"{ok,sad}"}},
	{"inet", []string{"192.168.0.1/24", "::1"}},
	{"cidr", []string{"10.0.0.0/8"}},
	{"macaddr", []string{"08:00:2b:01:02:03"}},
	{"macaddr8", []string{"08:00:2b:01:02:03:04:05"}},
	{"point", []string{"(1.5,-2.25)", "(0,0)", "(NaN,Infinity)"}},
	{"int4range", []string{"empty", "[1,10)", "(,5]", "[3,)", "(,)"}},
	{"int8range", []string{"[-9223372036854775808,9223372036854775807)"}},
	{"numrange", []string{"[1.50,2.5]", "(,)"}},
	{"daterange", []string{"[2024-01-01,infinity)"}},
	{"tsrange", []string{`["2024-01-01 00:00:00","2024-12-31 23:59:59.5")`}},
	{"tstzrange", []string{"[2024-01-01 00:00:00+00,)"}},
	{"textrange", []string{`["a b","z\"q\\")`, `["",x]`}},
	{"address", []string{`("1 Main St, Apt ""2""",12345,"{a,b}")`, `(,,)`, `("",,{})`}},
	{"int4multirange", []string{"{[1,3),[5,7)}"}},
	{"xml", []string{`<a x="1">t</a>`}},
	{"tsvector", []string{"a fat cat"}},
	{"bit(4)", []string{"1010"}},
	{"varbit", []string{"101"}},
	{"hstore", []string{`a=>1, "b c"=>NULL`}},
	{"jsonpath", []string{"$.a[*] ? (@ > 1)"}},
}
