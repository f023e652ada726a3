package backup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// exportWriter passes a SurrealDB export through to w, counting the
// records of each table as it streams by, so the manifest's counts
// describe exactly the file, whatever was written to SurrealDB while it
// was exported. It also repairs the one value SurrealDB 3.0 exports in a
// form its own parser refuses: a geometry point with a NaN or infinite
// coordinate, written "(NaN, inf)", becomes "<geometry<point>> [NaN,
// Infinity]", which imports as the identical value.
//
// It relies on the shape of SurrealDB's export: a comment line
// "-- TABLE DATA: <table>" opens a table's data, which is INSERT (or
// INSERT RELATION) statements of an array of records, one statement per
// line; any other "-- " heading ends it. Inside a statement it skips
// strings ('...', "...", with backslash escapes, after any prefix such as
// d or u) and escaped identifiers (`...`, ⟨...⟩) and counts the objects
// that open at the array's top level.
type exportWriter struct {
	w      *bufio.Writer
	counts map[string]int64
	order  []string
	table  string // whose data this is; "" outside a data section
	kind   lineKind
	head   []byte // the line so far while undecided, or a comment line
	depth  int
	array  bool // the statement's records are in an array
	quote  byte // ', " or ` while inside one
	angle  bool // inside ⟨...⟩
	escape bool
	prev   [2]byte // the two bytes before, to find ⟨ and ⟩ (E2 9F A8/A9)
	last   byte    // the last byte of the statement that is not white space
	// point holds a parenthesis being read (a geometry point's literal),
	// not yet written.
	point []byte
	line  int
	err   error
}

type lineKind int

const (
	lineUndecided lineKind = iota
	lineComment
	lineInsert
	lineOther
)

// maxComment bounds how much of a comment line is kept; maxPoint how long
// a parenthesis may be to be taken for a point's literal.
const (
	maxComment = 64 << 10
	maxPoint   = 1024
)

func newExportWriter(w io.Writer) *exportWriter {
	return &exportWriter{w: bufio.NewWriterSize(w, 256<<10), counts: map[string]int64{}, line: 1}
}

func (c *exportWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	for _, b := range p {
		c.byte(b)
		if c.err != nil {
			return 0, c.err
		}
	}
	return len(p), nil
}

func (c *exportWriter) out(b ...byte) {
	if _, err := c.w.Write(b); err != nil && c.err == nil {
		c.err = err
	}
}

func (c *exportWriter) byte(b byte) {
	switch c.kind {
	case lineUndecided:
		c.out(b)
		if b == '\n' {
			c.endLine()
			return
		}
		c.head = append(c.head, b)
		switch {
		case bytes.HasPrefix(c.head, []byte("--")):
			c.kind = lineComment
		case bytes.HasPrefix(c.head, []byte("INSERT ")):
			if c.table == "" {
				c.kind = lineOther // data outside a table's section: not counted
				return
			}
			c.kind = lineInsert
			c.depth, c.array, c.quote, c.angle, c.escape, c.last = 0, false, 0, false, false, ' '
		case !bytes.HasPrefix([]byte("INSERT "), c.head) && !bytes.HasPrefix([]byte("--"), c.head):
			c.kind = lineOther
		}
	case lineComment:
		c.out(b)
		if b == '\n' {
			c.endLine()
			return
		}
		if len(c.head) < maxComment {
			c.head = append(c.head, b)
		}
	case lineInsert:
		if c.point != nil && c.pointByte(b) {
			return
		}
		if b == '\n' && c.quote == 0 && !c.angle && c.depth == 0 {
			c.out(b)
			c.endLine()
			return
		}
		if c.lex(b) {
			c.out(b)
		}
	case lineOther:
		c.out(b)
		if b == '\n' {
			c.endLine()
		}
	}
}

// lex follows one byte of an INSERT statement. It returns false when it
// kept the byte back (the start of a parenthesis).
func (c *exportWriter) lex(b byte) bool {
	prev := c.prev
	c.prev = [2]byte{prev[1], b}
	if b != ' ' && b != '\t' && b != '\r' && b != '\n' {
		c.last = b
	}
	switch {
	case c.escape:
		c.escape = false
		c.prev = [2]byte{}
	case c.quote != 0:
		if b == '\\' {
			c.escape = true
		} else if b == c.quote {
			c.quote = 0
		}
	case c.angle:
		if b == '\\' {
			c.escape = true
		} else if prev == [2]byte{0xE2, 0x9F} && b == 0xA9 {
			c.angle = false
		}
	default:
		switch b {
		case '\'', '"', '`':
			c.quote = b
		case '{':
			if c.depth == 0 || (c.depth == 1 && c.array) {
				c.counts[c.table]++
			}
			c.depth++
		case '[':
			if c.depth == 0 {
				c.array = true
			}
			c.depth++
		case '(':
			c.depth++
			c.point = append(c.point[:0], b)
			return false
		case ']', '}', ')':
			c.depth--
			if c.depth < 0 {
				c.err = fmt.Errorf("line %d of the export closes a bracket it never opened", c.line)
			}
		case 0xA8:
			if prev == [2]byte{0xE2, 0x9F} {
				c.angle = true
			}
		}
	}
	return true
}

// pointByte takes one byte inside a parenthesis. It returns false when
// the parenthesis turned out not to be a point's literal: what was kept
// back is written and b is to be handled as usual.
func (c *exportWriter) pointByte(b byte) bool {
	if b == ')' {
		c.point = append(c.point, b)
		c.out(rewritePoint(c.point)...)
		c.point = nil
		c.depth--
		c.last = b
		return true
	}
	if len(c.point) < maxPoint && (b == ',' || b == ' ' || b == '.' || b == '-' || b == '+' ||
		(b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z')) {
		c.point = append(c.point, b)
		return true
	}
	c.out(c.point...)
	c.point = nil
	return false
}

// rewritePoint turns "(x, y)" with a NaN or infinite coordinate into the
// cast SurrealDB parses; anything else is returned as it is.
func rewritePoint(p []byte) []byte {
	parts := strings.Split(string(p[1:len(p)-1]), ",")
	if len(parts) != 2 {
		return p
	}
	special := false
	for i, s := range parts {
		s = strings.TrimSpace(s)
		switch s {
		case "NaN":
			special = true
		case "inf":
			s, special = "Infinity", true
		case "-inf":
			s, special = "-Infinity", true
		}
		parts[i] = s
	}
	if !special {
		return p
	}
	return []byte("<geometry<point>> [" + parts[0] + ", " + parts[1] + "]")
}

func (c *exportWriter) endLine() {
	switch c.kind {
	case lineComment:
		text := string(c.head)
		switch {
		case strings.HasPrefix(text, "-- TABLE DATA: ") && len(text) > len("-- TABLE DATA: "):
			c.table = text[len("-- TABLE DATA: "):]
			if _, ok := c.counts[c.table]; !ok {
				c.counts[c.table] = 0
				c.order = append(c.order, c.table)
			}
		case strings.HasPrefix(text, "-- ---"):
			// a separator line
		default:
			c.table = ""
		}
	case lineInsert:
		if c.last != ';' {
			c.err = fmt.Errorf("line %d of the export, an INSERT into %s, does not end with ';'", c.line, c.table)
		}
	}
	c.kind = lineUndecided
	c.head = c.head[:0]
	c.line++
}

// finish flushes what is left and returns the records per table, in the
// order of the export.
func (c *exportWriter) finish() ([]TableCount, error) {
	if c.point != nil {
		c.out(c.point...)
		c.point = nil
	}
	if c.err == nil {
		if err := c.w.Flush(); err != nil {
			c.err = err
		}
	}
	if c.err != nil {
		return nil, c.err
	}
	if c.kind == lineInsert {
		if c.quote != 0 || c.angle || c.depth != 0 {
			return nil, errors.New("the export ends inside an INSERT statement: it is truncated")
		}
		c.endLine()
		if c.err != nil {
			return nil, c.err
		}
	}
	out := make([]TableCount, len(c.order))
	for i, t := range c.order {
		out[i] = TableCount{Name: t, Rows: c.counts[t]}
	}
	return out, nil
}
