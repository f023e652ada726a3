package demo

import (
	"strings"
	"testing"
	"time"

	"github.com/surrealdb/surrealdb.go/pkg/models"
)

func TestRenderInline(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		v    any
		want string
	}{
		{nil, "NULL"},
		{"it's", `'it\'s'`},
		{int64(-3), "-3"},
		{uint64(42), "42"},
		{1.5, "1.5f"},
		{true, "true"},
		{models.DecimalString("12.5"), "12.5dec"},
		{models.CustomDateTime{Time: time.Date(2024, 2, 29, 1, 2, 3, 0, time.UTC)}, "d'2024-02-29T01:02:03Z'"},
		{models.RecordID{Table: "users", ID: uint64(42)}, "users:42"},
		{models.RecordID{Table: "order_items", ID: []any{uint64(7), uint64(1)}}, "order_items:[7, 1]"},
		{models.RecordID{Table: "tag", ID: "a b"}, "tag:⟨a b⟩"},
		{models.RecordID{Table: "odd table", ID: "x"}, "`odd table`:x"},
		{[]any{}, "[]"},
		{map[string]any{}, "{}"},
		{map[string]any{"b": 1, "id": "x", "a": []any{"p", nil}, "out": 2, "in": 3}, "{ id: 'x', in: 3, out: 2, a: ['p', NULL], b: 1 }"},
	} {
		if got := (renderer{}).inline(c.v); got != c.want {
			t.Errorf("%#v: got %s, want %s", c.v, got, c.want)
		}
	}
}

func TestRenderPrettyBreaksLongValues(t *testing.T) {
	t.Parallel()
	names := []any{}
	for _, n := range strings.Fields("Ada Alan Grace Edsger Barbara Donald Frances Ken Margaret Dennis Radia Linus") {
		names = append(names, n+" Lovelace")
	}
	var b strings.Builder
	renderer{}.pretty(&b, map[string]any{"id": models.RecordID{Table: "users", ID: uint64(1)}, "names": names}, "")
	want := `{
  id: users:1,
  names: [
    'Ada Lovelace', 'Alan Lovelace', 'Grace Lovelace', 'Edsger Lovelace',
    'Barbara Lovelace', 'Donald Lovelace', 'Frances Lovelace', 'Ken Lovelace',
    'Margaret Lovelace', 'Dennis Lovelace', 'Radia Lovelace', 'Linus Lovelace'
  ]
}`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	for _, line := range strings.Split(b.String(), "\n") {
		if len(line) > width {
			t.Errorf("line longer than %d: %q", width, line)
		}
	}
}

func TestColorOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	v := map[string]any{"id": models.RecordID{Table: "users", ID: uint64(1)}, "name": "x"}
	if got := (renderer{}).inline(v); strings.Contains(got, "\x1b") {
		t.Errorf("plain rendering has escapes: %q", got)
	}
	if got := (renderer{color: true}).inline(v); !strings.Contains(got, styleCyan+"users:1"+styleReset) {
		t.Errorf("colored rendering lacks the record id style: %q", got)
	}
}

func TestThousands(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 7158: "7,158", 1234567: "1,234,567", -1200: "-1,200"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestTableAsPsql(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	p := &printer{w: &b}
	p.table([]string{"product", "rating", "reviewers"}, []bool{false, true, false}, [][]string{
		{"Classic Bottle", "4.5", "Grace Hopper, Ada Lovelace"},
		{"Lamp", "", "Edsger Dijkstra"},
	})
	want := `         product     | rating |         reviewers
     ----------------+--------+----------------------------
      Classic Bottle |    4.5 | Grace Hopper, Ada Lovelace
      Lamp           |        | Edsger Dijkstra
     (2 rows)
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	p.table([]string{"n"}, []bool{true}, [][]string{{"1"}})
	if !strings.HasSuffix(b.String(), "(1 row)\n") {
		t.Errorf("one row: %q", b.String())
	}
}

func TestQueryIndentsFurtherLines(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	(&printer{w: &b}).query("BEGIN;\n  CREATE x;\nCOMMIT")
	if want := "   > BEGIN;\n       CREATE x;\n     COMMIT\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}
