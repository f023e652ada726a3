package mapping

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func textElem(s string) (any, error) { return s, nil }

func TestParseArray(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in    string
		delim byte
		want  any // []any, or an error substring
	}{
		{"{}", ',', []any{}},
		{" { } ", ',', []any{}},
		{"{a}", ',', []any{"a"}},
		{"{1,2,3}", ',', []any{"1", "2", "3"}},
		{"{NULL,null,\"NULL\"}", ',', []any{nil, nil, "NULL"}},
		{`{"a,b","c}d","e\"f","g\\h",""," sp "}`, ',', []any{"a,b", "c}d", `e"f`, `g\h`, "", " sp "}},
		{`{ a b , c }`, ',', []any{"a b", "c"}},
		{`{a\,b,c\ }`, ',', []any{"a,b", "c "}},
		{`{N\ULL}`, ',', []any{"NULL"}},
		{"{{1,2},{3,4}}", ',', []any{[]any{"1", "2"}, []any{"3", "4"}}},
		{"{{{1}},{{2}}}", ',', []any{[]any{[]any{"1"}}, []any{[]any{"2"}}}},
		{"[0:1]={1,2}", ',', []any{"1", "2"}},
		{"[-2:-1][5:6]={{1,2},{3,4}}", ',', []any{[]any{"1", "2"}, []any{"3", "4"}}},
		{"{(1,1),(0,0);(3,3),(2,2)}", ';', []any{"(1,1),(0,0)", "(3,3),(2,2)"}},
		{"{ü,\"😀\"}", ',', []any{"ü", "😀"}},
		{"", ',', "expected '{'"},
		{"{", ',', "empty unquoted"},
		{"{1,2", ',', "array ends"},
		{"{1,}", ',', "empty unquoted"},
		{"{,1}", ',', "empty unquoted"},
		{`{"a}`, ',', "unterminated"},
		{`{a\`, ',', "backslash"},
		{"{1}}", ',', "text after"},
		{"{{1},2}", ',', "mixes"},
		{"{1,{2}}", ',', "mixes"},
		{"[1:2={1,2}", ',', "bad array dimensions"},
		{"[1:2]{1,2}", ',', "without '='"},
		{strings.Repeat("{", 40) + strings.Repeat("}", 40), ',', "nested deeper"},
	}
	for _, c := range cases {
		got, err := parseArray(c.in, c.delim, textElem)
		if msg, isErr := c.want.(string); isErr {
			if err == nil || !strings.Contains(err.Error(), msg) || !errors.Is(err, ErrMalformed) {
				t.Errorf("parseArray(%q) = %v, %v; want error with %q", c.in, got, err, msg)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseArray(%q) = %#v, %v; want %#v", c.in, got, err, c.want)
		}
	}
}

func TestParseArrayElementError(t *testing.T) {
	t.Parallel()
	typ := &Type{OID: 1007, Name: "_int4", Kind: Array, Elem: &Type{OID: 23, Name: "int4", Kind: Base, Delim: ','}}
	_, err := Convert(typ, "{1,x}")
	if err == nil || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), `_int4 value "{1,x}"`) || !strings.Contains(err.Error(), `element "x"`) {
		t.Fatalf("got %v", err)
	}
}

// formatArray writes a parsed array back in PostgreSQL's text format,
// quoting every element, for the round-trip property of the fuzz test.
func formatArray(v []any) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		switch x := e.(type) {
		case nil:
			b.WriteString("NULL")
		case []any:
			b.WriteString(formatArray(x))
		case string:
			b.WriteByte('"')
			b.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(x))
			b.WriteByte('"')
		default:
			panic(fmt.Sprintf("unexpected %T", e))
		}
	}
	b.WriteByte('}')
	return b.String()
}

// FuzzParseArray checks that parseArray never panics and that whatever it
// accepts survives being written back and read again.
func FuzzParseArray(f *testing.F) {
	for _, s := range []string{
		"{}", "{1,2}", "{{1,2},{3,4}}", `{"a,b",NULL,"c\"d","e\\f"}`, "[0:1]={1,2}",
		"{ a , b }", `{a\,b}`, "{{{}}}", "{NULL}", `{"",""}`, "{ü,😀}", "{{1},{2}", "[1:1][2:2]={{x}}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseArray(s, ',', textElem)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("parseArray(%q): error %v is not ErrMalformed", s, err)
			}
			return
		}
		again, err := parseArray(formatArray(v), ',', textElem)
		if err != nil || !reflect.DeepEqual(again, v) {
			t.Fatalf("parseArray(%q) = %#v; written back as %q it reads %#v, %v", s, v, formatArray(v), again, err)
		}
	})
}
