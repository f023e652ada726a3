package demo

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/surrealdb/surrealdb.go/pkg/models"
)

// ANSI styles, used only when the output is a terminal.
const (
	styleBold   = "\x1b[1m"
	styleDim    = "\x1b[2m"
	styleGreen  = "\x1b[32m"
	styleYellow = "\x1b[33m"
	styleCyan   = "\x1b[36m"
	styleRed    = "\x1b[31m"
	styleReset  = "\x1b[0m"
)

// printer writes the demo's report: numbered steps, queries, values and
// check marks, styled on a terminal and plain otherwise.
type printer struct {
	w     io.Writer
	color bool
}

func (p *printer) style(s, text string) string {
	if !p.color || text == "" {
		return text
	}
	return s + text + styleReset
}

func (p *printer) printf(format string, args ...any) {
	_, _ = fmt.Fprintf(p.w, format, args...)
}

// step starts a numbered section.
func (p *printer) step(n int, title string) {
	p.printf("\n%s\n", p.style(styleBold, fmt.Sprintf("%d. %s", n, title)))
}

// line prints an indented line of prose.
func (p *printer) line(format string, args ...any) {
	p.printf("   %s\n", fmt.Sprintf(format, args...))
}

// note prints an explanation ahead of a query.
func (p *printer) note(format string, args ...any) {
	p.printf("\n   %s\n", p.style(styleDim, "-- "+fmt.Sprintf(format, args...)))
}

// query prints a query as the user would type it; its further lines are
// indented under the first.
func (p *printer) query(q string) {
	prompt := p.style(styleDim, ">")
	for l := range strings.SplitSeq(q, "\n") {
		p.printf("   %s %s\n", prompt, p.style(styleBold, l))
		prompt = " "
	}
}

// table prints a PostgreSQL result as psql does: a header, a rule, the
// rows with the right columns right-aligned, and the row count.
func (p *printer) table(cols []string, right []bool, rows [][]string) {
	w := make([]int, len(cols))
	for i, c := range cols {
		w[i] = utf8.RuneCountInString(c)
	}
	for _, r := range rows {
		for i, v := range r {
			w[i] = max(w[i], utf8.RuneCountInString(v))
		}
	}
	line := func(cells []string, align func(i int) int) {
		parts := make([]string, len(cells))
		for i, c := range cells {
			pad := w[i] - utf8.RuneCountInString(c)
			left := pad * align(i) / 2 // 0 left, 1 centred, 2 right
			parts[i] = strings.Repeat(" ", left) + c + strings.Repeat(" ", pad-left)
		}
		p.printf("     %s\n", strings.TrimRight(" "+strings.Join(parts, " | "), " "))
	}
	line(cols, func(int) int { return 1 })
	rule := make([]string, len(cols))
	for i := range cols {
		rule[i] = strings.Repeat("-", w[i]+2)
	}
	p.printf("     %s\n", strings.Join(rule, "+"))
	for _, r := range rows {
		line(r, func(i int) int {
			if right[i] {
				return 2
			}
			return 0
		})
	}
	noun := "rows"
	if len(rows) == 1 {
		noun = "row"
	}
	p.printf("     %s\n", p.style(styleDim, fmt.Sprintf("(%d %s)", len(rows), noun)))
}

// ok prints a success line with a check mark (plain "ok" off a terminal).
func (p *printer) ok(format string, args ...any) {
	mark := "ok"
	if p.color {
		mark = p.style(styleGreen, "✓")
	}
	p.printf("   %s %s\n", mark, fmt.Sprintf(format, args...))
}

// bad prints a failed check.
func (p *printer) bad(format string, args ...any) {
	mark := "MISMATCH"
	if p.color {
		mark = p.style(styleRed, "✗")
	}
	p.printf("   %s %s\n", mark, fmt.Sprintf(format, args...))
}

// value prints a SurrealDB value as SurrealQL, indented under a query.
func (p *printer) value(v any) {
	var b strings.Builder
	r := renderer{color: p.color}
	r.pretty(&b, v, "     ")
	p.printf("     %s\n", b.String())
}

// renderer writes SurrealDB values the way SurrealQL prints them: record
// ids bare (users:42), strings quoted, decimals with "dec", datetimes as
// d'...'. Objects and arrays break over lines when they do not fit.
type renderer struct {
	color bool
}

// width is how wide a value may print on one line before it is broken.
const width = 80

func (r renderer) style(s, text string) string {
	if !r.color {
		return text
	}
	return s + text + styleReset
}

func (r renderer) pretty(b *strings.Builder, v any, indent string) {
	flat := renderer{}.inline(v)
	if len(indent)+len(flat) <= width || !compound(v) {
		b.WriteString(r.inline(v))
		return
	}
	inner := indent + "  "
	switch x := v.(type) {
	case map[string]any:
		b.WriteString("{\n")
		keys := orderedKeys(x)
		for i, k := range keys {
			b.WriteString(inner + fieldName(k) + ": ")
			r.pretty(b, x[k], inner)
			if i < len(keys)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "}")
	case []any:
		if scalars(x) {
			r.packed(b, x, indent)
			return
		}
		b.WriteString("[\n")
		for i, e := range x {
			b.WriteString(inner)
			r.pretty(b, e, inner)
			if i < len(x)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "]")
	}
}

// packed writes an array of scalars filled across lines, as prose is.
func (r renderer) packed(b *strings.Builder, x []any, indent string) {
	inner := indent + "  "
	b.WriteString("[\n" + inner)
	col := len(inner)
	for i, e := range x {
		text, n := r.inline(e), len(renderer{}.inline(e))
		if i < len(x)-1 {
			text, n = text+",", n+1
		}
		if col > len(inner) && col+1+n > width {
			b.WriteString("\n" + inner)
			col = len(inner)
		} else if col > len(inner) {
			b.WriteByte(' ')
			col++
		}
		b.WriteString(text)
		col += n
	}
	b.WriteString("\n" + indent + "]")
}

func scalars(x []any) bool {
	for _, e := range x {
		if compound(e) {
			return false
		}
	}
	return true
}

func compound(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

// inline renders v on one line.
func (r renderer) inline(v any) string {
	switch x := v.(type) {
	case nil:
		return r.style(styleDim, "NULL")
	case models.CustomNil, *models.CustomNil:
		return r.style(styleDim, "NONE")
	case map[string]any:
		if len(x) == 0 {
			return "{}"
		}
		parts := make([]string, 0, len(x))
		for _, k := range orderedKeys(x) {
			parts = append(parts, fieldName(k)+": "+r.inline(x[k]))
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = r.inline(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case models.RecordID:
		return r.style(styleCyan, recordString(x))
	case *models.RecordID:
		return r.style(styleCyan, recordString(*x))
	case string:
		return r.style(styleGreen, quote(x))
	case models.DecimalString:
		return r.style(styleYellow, string(x)+"dec")
	case models.CustomDateTime:
		return r.style(styleYellow, "d'"+x.UTC().Format(time.RFC3339Nano)+"'")
	case *models.CustomDateTime:
		return r.style(styleYellow, "d'"+x.UTC().Format(time.RFC3339Nano)+"'")
	case time.Time:
		return r.style(styleYellow, "d'"+x.UTC().Format(time.RFC3339Nano)+"'")
	case models.CustomDuration:
		return r.style(styleYellow, x.Duration.String())
	case models.UUID:
		return r.style(styleYellow, "u'"+x.String()+"'")
	case float64:
		return r.style(styleYellow, floatString(x))
	case float32:
		return r.style(styleYellow, floatString(float64(x)))
	case bool:
		return r.style(styleYellow, strconv.FormatBool(x))
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return r.style(styleYellow, fmt.Sprint(x))
	}
	return fmt.Sprint(v)
}

// recordString renders a record id: users:42, order_items:[7, 1].
func recordString(id models.RecordID) string {
	return fieldName(id.Table) + ":" + idString(id.ID)
}

func idString(id any) string {
	switch x := id.(type) {
	case string:
		if plainName(x) && !allDigits(x) {
			return x
		}
		return "⟨" + strings.NewReplacer(`\`, `\\`, "⟩", `\⟩`).Replace(x) + "⟩"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = renderer{}.inline(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return renderer{}.inline(id)
}

func floatString(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return strconv.FormatFloat(f, 'g', -1, 64) + "f"
}

// quote writes a SurrealQL string literal.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}

// fieldName shows a field or table name, backticked only when it must be.
func fieldName(name string) string {
	if plainName(name) && !allDigits(name) {
		return name
	}
	return "`" + strings.NewReplacer(`\`, `\\`, "`", "\\`").Replace(name) + "`"
}

func plainName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// orderedKeys puts id, in and out first (as SurrealDB does not, but a
// reader expects), then the other fields alphabetically.
func orderedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	rank := func(k string) int {
		switch k {
		case "id":
			return 0
		case "in":
			return 1
		case "out":
			return 2
		}
		return 3
	}
	slices.SortFunc(keys, func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	return keys
}
