package federation

import (
	"encoding/json"
	"fmt"
	"strings"
)

// scanRows turns a scan's records into the jsonb text of its input.
func (sc *scan) rowsJSON(result any) (string, int, error) {
	recs, _ := result.([]any)
	tops := sc.tops()
	var w rowsWriter
	for _, r := range recs {
		rec, ok := r.(map[string]any)
		if arr, isArr := r.([]any); isArr && tops != nil && len(arr) == len(tops) {
			rec, ok = make(map[string]any, len(tops)), true
			for i, t := range tops {
				if arr[i] != nil {
					rec[t] = arr[i]
				}
			}
		}
		if !ok {
			return "", 0, pgError(codeSurreal, "SurrealDB table %s returned a %T where a record was expected", sc.table.name, r)
		}
		vals, err := sc.table.shape.Values(rec, sc.cols)
		if err != nil {
			return "", 0, pgError("22000", "%v", err)
		}
		for j, i := range sc.cols {
			c := sc.table.cols[i]
			w.field(c.Name, vals[j], c.JSON)
		}
		w.endRow()
	}
	return w.String(), len(recs), nil
}

// rowsWriter writes an input's rows: a jsonb array of one object per row.
type rowsWriter struct {
	b     strings.Builder
	rows  int
	inRow bool
	cols  int // of the row being written
}

// field adds a column to the current row (see writeJSONValue for raw).
func (w *rowsWriter) field(name string, v any, raw bool) {
	w.begin()
	if w.cols > 0 {
		w.b.WriteByte(',')
	}
	w.cols++
	writeJSONString(&w.b, name)
	w.b.WriteByte(':')
	writeJSONValue(&w.b, v, raw)
}

func (w *rowsWriter) begin() {
	if w.inRow {
		return
	}
	if w.rows == 0 {
		w.b.WriteByte('[')
	} else {
		w.b.WriteByte(',')
	}
	w.b.WriteByte('{')
	w.inRow, w.cols = true, 0
}

// endRow closes the current row.
func (w *rowsWriter) endRow() {
	w.begin()
	w.b.WriteByte('}')
	w.inRow = false
	w.rows++
}

// String is the array.
func (w *rowsWriter) String() string {
	if w.rows == 0 {
		return "[]"
	}
	return w.b.String() + "]"
}

// writeJSONValue writes a column value: NULL, JSON text as is (json
// columns), else a JSON string PostgreSQL parses with the column's type.
func writeJSONValue(b *strings.Builder, v any, raw bool) {
	if v == nil {
		b.WriteString("null")
		return
	}
	s, ok := v.(string)
	if !ok {
		s = fmt.Sprint(v)
	}
	if raw {
		b.WriteString(s)
		return
	}
	writeJSONString(b, s)
}

func writeJSONString(b *strings.Builder, s string) {
	out, _ := json.Marshal(s)
	b.Write(out)
}
