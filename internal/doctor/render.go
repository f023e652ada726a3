package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteText prints the report as a table (status, check, detail), a
// "fix:" line under each check that has one, and a summary line.
func (r Report) WriteText(w io.Writer) error {
	width := len("CHECK")
	for _, c := range r.Checks {
		width = max(width, len(c.Name))
	}
	var b strings.Builder
	row := func(status, name, detail string) {
		fmt.Fprintf(&b, "%-6s  %-*s  %s\n", status, width, name, detail)
	}
	row("STATUS", "CHECK", "DETAIL")
	for _, c := range r.Checks {
		row(strings.ToUpper(c.Status), c.Name, c.Detail)
		if c.Fix != "" && (c.Status == StatusFail || c.Status == StatusWarn) {
			row("", "", "fix: "+c.Fix)
		}
	}
	b.WriteString(r.summary())
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

// summary is the last line of the text report.
func (r Report) summary() string {
	counts := map[string]int{}
	for _, c := range r.Checks {
		counts[c.Status]++
	}
	s := fmt.Sprintf("%d checks: %d ok, %d failed, %d skipped", len(r.Checks), counts[StatusOK], counts[StatusFail], counts[StatusSkip])
	if counts[StatusWarn] > 0 {
		s += fmt.Sprintf(", %d warnings", counts[StatusWarn])
	}
	return s
}

// WriteJSON prints the report as one indented JSON object:
// {"ok": bool, "checks": [{name, system, status, detail, fix}]}.
func (r Report) WriteJSON(w io.Writer) error {
	if r.Checks == nil {
		r.Checks = []Check{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
