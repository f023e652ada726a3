package mapping

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/surrealdb/surrealdb.go/pkg/models"
)

func TestParseRange(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want rangeText
		err  string
	}{
		{in: "empty", want: rangeText{Empty: true}},
		{in: " EMPTY ", want: rangeText{Empty: true}},
		{in: "[1,10)", want: rangeText{Lower: "1", Upper: "10", LowerInc: true}},
		{in: "(1,10]", want: rangeText{Lower: "1", Upper: "10", UpperInc: true}},
		{in: "(,6)", want: rangeText{LowerInf: true, Upper: "6"}},
		{in: "[3,)", want: rangeText{Lower: "3", LowerInc: true, UpperInf: true}},
		{in: "(,)", want: rangeText{LowerInf: true, UpperInf: true}},
		{in: "[,]", want: rangeText{LowerInf: true, UpperInf: true}},
		{in: `["a b","z""q\\")`, want: rangeText{Lower: "a b", Upper: `z"q\`, LowerInc: true}},
		{in: `["",x]`, want: rangeText{Lower: "", Upper: "x", LowerInc: true, UpperInc: true}},
		{in: `["2024-01-01 00:00:00","2024-12-31 23:59:59.5")`, want: rangeText{Lower: "2024-01-01 00:00:00", Upper: "2024-12-31 23:59:59.5", LowerInc: true}},
		{in: `[a\,b,c]`, want: rangeText{Lower: "a,b", Upper: "c", LowerInc: true, UpperInc: true}},
		{in: "", err: "starts with"},
		{in: "1,2", err: "starts with"},
		{in: "[1,2", err: "ends inside"},
		{in: "[1,2,3]", err: "ends with"},
		{in: "[1]", err: "two bounds"},
		{in: "[1,2]x", err: "ends with"},
		{in: `["a,b]`, err: "ends inside"},
		{in: `[a\`, err: "backslash"},
	}
	for _, c := range cases {
		got, err := parseRange(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || !errors.Is(err, ErrMalformed) {
				t.Errorf("parseRange(%q) = %+v, %v; want error with %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("parseRange(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

func TestConvertRange(t *testing.T) {
	t.Parallel()
	num := &Type{OID: 3906, Name: "numrange", Kind: Range, Sub: &Type{OID: 1700, Name: "numeric", Kind: Base}}
	got, err := Convert(num, "[1.50,)")
	want := map[string]any{"begin": models.DecimalString("1.50"), "begin_inclusive": true, "end_inclusive": false}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, %v; want %#v", got, err, want)
	}
	got, err = Convert(num, "empty")
	if err != nil || !reflect.DeepEqual(got, map[string]any{"empty": true}) {
		t.Errorf("empty: got %#v, %v", got, err)
	}
	_, err = Convert(num, "[1,1e5)")
	if err == nil || !strings.Contains(err.Error(), `end bound "1e5"`) {
		t.Errorf("bad bound: got %v", err)
	}
}

func TestParseRecord(t *testing.T) {
	t.Parallel()
	s := func(v string) *string { return &v }
	cases := []struct {
		in   string
		want []*string
		err  string
	}{
		{in: "()", want: nil},
		{in: "(1)", want: []*string{s("1")}},
		{in: "(,)", want: []*string{nil, nil}},
		{in: `("",,x)`, want: []*string{s(""), nil, s("x")}},
		{in: `("1 Main St, Apt ""2""",12345,"{a,b}")`, want: []*string{s(`1 Main St, Apt "2"`), s("12345"), s("{a,b}")}},
		{in: `("a\\b\"c")`, want: []*string{s(`a\b"c`)}},
		{in: `("(1,2)",x)`, want: []*string{s("(1,2)"), s("x")}},
		{in: "", err: "parentheses"},
		{in: "(1,2", err: "parentheses"},
		{in: `("a)`, err: "ends inside"},
		{in: "(1)x)", err: "after the closing"},
	}
	for _, c := range cases {
		got, err := parseRecord(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("parseRecord(%q) = %v, %v; want error with %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseRecord(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

// FuzzParseRange checks that the range and row parsers never panic and
// fail only with ErrMalformed.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"empty", "[1,2)", "(,)", `["a b","c""d")`, `[a\,b,c]`, `("x",,1)`, "()"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := parseRange(s); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("parseRange(%q): %v", s, err)
		}
		if _, err := parseRecord(s); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("parseRecord(%q): %v", s, err)
		}
	})
}
