package backup

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// sampleExport is shaped as SurrealDB 3.0 exports: headings, definitions
// and one INSERT line per 1,000 records, with values that hold brackets,
// quotes, headings and escaped identifiers inside strings.
const sampleExport = `-- ------------------------------
-- OPTION
-- ------------------------------

OPTION IMPORT;

-- ------------------------------
-- FUNCTIONS
-- ------------------------------

DEFINE FUNCTION fn::f() {
INSERT [ { id: x:1 } ];
} PERMISSIONS FULL;

-- ------------------------------
-- TABLE: a
-- ------------------------------

DEFINE TABLE a TYPE ANY SCHEMALESS PERMISSIONS NONE;

-- ------------------------------
-- TABLE DATA: a
-- ------------------------------

INSERT [ { id: a:1, s: 'it\'s { [ ( "', t: "x \" } ]", n: { k: [1, { z: 2 }] } }, { id: a:⟨b{ \⟩ }⟩, p: (1.5, -2.25), q: (NaN, inf), r: [(0, -inf)] }, { id: a:[1, 'x'], u: u'0190e3e0-0000-7000-8000-000000000000', d: d'2024-01-01T00:00:00Z', b: b"68", s: "\n-- TABLE DATA: fake" } ];
INSERT [ { id: a:2, ` + "`weird { key`" + `: 1 } ];

-- ------------------------------
-- TABLE: e
-- ------------------------------

DEFINE TABLE e TYPE RELATION PERMISSIONS NONE;

-- ------------------------------
-- TABLE DATA: e
-- ------------------------------

INSERT RELATION [ { id: e:1, in: a:1, out: a:2 } ];

-- ------------------------------
-- TABLE: empty table
-- ------------------------------

DEFINE TABLE ` + "`empty table`" + ` TYPE ANY SCHEMALESS PERMISSIONS NONE;

-- ------------------------------
-- TABLE DATA: empty table
-- ------------------------------


`

func TestExportWriterCountsAndRepairs(t *testing.T) {
	t.Parallel()
	// Every split of the stream gives the same result.
	for _, chunk := range []int{1, 3, 7, 64, len(sampleExport)} {
		var out bytes.Buffer
		w := newExportWriter(&out)
		for i := 0; i < len(sampleExport); i += chunk {
			if _, err := w.Write([]byte(sampleExport[i:min(i+chunk, len(sampleExport))])); err != nil {
				t.Fatalf("chunk %d: %v", chunk, err)
			}
		}
		got, err := w.finish()
		if err != nil {
			t.Fatalf("chunk %d: %v", chunk, err)
		}
		if s := fmt.Sprint(got); s != "[{ a 4} { e 1} { empty table 0}]" {
			t.Fatalf("chunk %d: counts %s", chunk, s)
		}
		want := strings.NewReplacer("q: (NaN, inf)", "q: <geometry<point>> [NaN, Infinity]", "r: [(0, -inf)]", "r: [<geometry<point>> [0, -Infinity]]").Replace(sampleExport)
		if out.String() != want {
			t.Fatalf("chunk %d: output differs from the input but for the repaired points:\n%s", chunk, out.String())
		}
	}
}

func TestExportWriterRefusesBrokenExports(t *testing.T) {
	t.Parallel()
	head := "-- TABLE DATA: a\n"
	for _, c := range []struct{ name, text, want string }{
		{"truncated in a record", head + "INSERT [ { id: a:1, s: 'abc", "truncated"},
		{"truncated after a record", head + "INSERT [ { id: a:1 }, { id: a:2 }", "truncated"},
		{"no semicolon", head + "INSERT [ { id: a:1 } ]\n", "does not end with ';'"},
		{"stray bracket", head + "INSERT [ { id: a:1 } ] ];\n", "never opened"},
	} {
		w := newExportWriter(&bytes.Buffer{})
		_, err := w.Write([]byte(c.text))
		if err == nil {
			_, err = w.finish()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}
