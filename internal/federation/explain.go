package federation

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// explainLines renders the steps.
func explainLines(steps []step, total time.Duration) []string {
	out := []string{"Federated query"}
	for i, s := range steps {
		head := fmt.Sprintf("%d. %s", i+1, s.kind)
		if s.kind != "read_your_writes" {
			head += fmt.Sprintf(": %d rows in %s", s.rows, ms(s.took))
		} else {
			head += fmt.Sprintf(" (%s)", ms(s.took))
		}
		out = append(out, head)
		if s.what != "" {
			for _, l := range strings.Split(s.what, "\n") {
				out = append(out, "     "+l)
			}
		}
		if len(s.params) > 0 {
			out = append(out, "     params: "+paramsText(s.params))
		}
		for _, n := range s.notes {
			out = append(out, "     "+n)
		}
	}
	out = append(out, "Total: "+ms(total))
	return out
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d.Microseconds())/1000) }

// paramsText prints parameters compactly, long lists cut.
func paramsText(p map[string]any) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		v := p[k]
		if l, ok := v.([]any); ok && len(l) > 10 {
			v = fmt.Sprintf("[%d values: %v ...]", len(l), l[:10])
		}
		b, err := json.Marshal(v)
		text := string(b)
		if err != nil {
			text = fmt.Sprint(v)
		}
		parts[i] = k + "=" + text
	}
	return strings.Join(parts, ", ")
}

func explainResult(lines []string) *Result {
	res := &Result{Columns: []Column{{Name: "QUERY PLAN", Type: "text", OID: pgtype.TextOID}}, Explain: lines, Tag: "EXPLAIN"}
	for _, l := range lines {
		res.Rows = append(res.Rows, []any{l})
	}
	return res
}

func positional(args []any) map[string]any {
	out := map[string]any{}
	for i, a := range args {
		out[fmt.Sprintf("$%d", i+1)] = a
	}
	return out
}

func cacheNote(on, hit bool) string {
	switch {
	case !on:
		return "cache: off"
	case hit:
		return "cache: hit"
	}
	return "cache: miss"
}
