package mapping

import (
	"fmt"
	"strings"
)

// maxArrayDepth bounds nesting; PostgreSQL allows 6 dimensions.
const maxArrayDepth = 32

// convertArray maps an array of any element type and any number of
// dimensions to nested []any. Lower bounds ("[0:1]={1,2}") are dropped:
// SurrealDB arrays start at 0.
func convertArray(t *Type, text string) (any, error) {
	if t.Elem == nil {
		return text, nil
	}
	elem := func(s string) (any, error) {
		v, err := convert(t.Elem, s)
		if err != nil {
			return nil, fmt.Errorf("element %s: %w", shownValue(s), err)
		}
		return v, nil
	}
	if t.OID == int2vectorOID || t.OID == oidvectorOID {
		// These print as space-separated lists, without braces.
		out := []any{}
		for _, f := range strings.Fields(text) {
			v, err := elem(f)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	delim := t.Elem.Delim
	if delim == 0 {
		delim = ','
	}
	return parseArray(text, delim, elem)
}

// parseArray reads PostgreSQL's array text format: optional dimension
// decoration ("[1:2][0:0]="), braces nested per dimension, elements
// separated by delim, double-quoted elements with backslash escapes, and
// unquoted NULL for SQL NULL. elem converts each non-NULL element.
func parseArray(text string, delim byte, elem func(string) (any, error)) ([]any, error) {
	p := &arrayParser{s: text, delim: delim, elem: elem}
	if err := p.skipDims(); err != nil {
		return nil, err
	}
	p.skipSpace()
	v, err := p.array(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.i != len(p.s) {
		return nil, malformed("text after the closing brace at byte %d", p.i)
	}
	return v, nil
}

type arrayParser struct {
	s     string
	i     int
	delim byte
	elem  func(string) (any, error)
}

func (p *arrayParser) skipSpace() {
	for p.i < len(p.s) && isSpace(p.s[p.i]) {
		p.i++
	}
}

// isSpace matches scanner_isspace in PostgreSQL.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// skipDims skips "[lo:hi]...=" after checking its shape.
func (p *arrayParser) skipDims() error {
	if !strings.HasPrefix(p.s, "[") {
		return nil
	}
	eq := strings.IndexByte(p.s, '=')
	if eq < 0 {
		return malformed("array dimensions without '='")
	}
	dims := p.s[:eq]
	if !strings.HasSuffix(dims, "]") {
		return malformed("bad array dimensions %q", dims)
	}
	for _, d := range strings.Split(dims[1:len(dims)-1], "][") {
		lo, hi, ok := strings.Cut(d, ":")
		if !ok || !isInt(lo) || !isInt(hi) {
			return malformed("bad array dimensions %q", p.s[:eq])
		}
	}
	p.i = eq + 1
	return nil
}

func isInt(s string) bool {
	s = strings.TrimPrefix(s, "-")
	return s != "" && allDigits(s)
}

// array reads one brace level starting at '{'.
func (p *arrayParser) array(depth int) ([]any, error) {
	if depth >= maxArrayDepth {
		return nil, malformed("arrays nested deeper than %d", maxArrayDepth)
	}
	if p.i >= len(p.s) || p.s[p.i] != '{' {
		return nil, malformed("expected '{' at byte %d", p.i)
	}
	p.i++
	out := []any{}
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return out, nil
	}
	nested, scalars := false, false
	for {
		p.skipSpace()
		if p.i < len(p.s) && p.s[p.i] == '{' {
			sub, err := p.array(depth + 1)
			if err != nil {
				return nil, err
			}
			out, nested = append(out, sub), true
		} else {
			v, err := p.element()
			if err != nil {
				return nil, err
			}
			out, scalars = append(out, v), true
		}
		if nested && scalars {
			return nil, malformed("array mixes elements and sub-arrays at byte %d", p.i)
		}
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, malformed("array ends without '}'")
		}
		switch p.s[p.i] {
		case p.delim:
			p.i++
		case '}':
			p.i++
			return out, nil
		default:
			return nil, malformed("unexpected %q at byte %d", p.s[p.i], p.i)
		}
	}
}

// element reads one element, quoted or not, and converts it.
func (p *arrayParser) element() (any, error) {
	var b strings.Builder
	if p.i < len(p.s) && p.s[p.i] == '"' {
		p.i++
		for {
			if p.i >= len(p.s) {
				return nil, malformed("unterminated quoted array element")
			}
			c := p.s[p.i]
			p.i++
			if c == '"' {
				return p.elem(b.String())
			}
			if c == '\\' {
				if p.i >= len(p.s) {
					return nil, malformed("array ends after a backslash")
				}
				c = p.s[p.i]
				p.i++
			}
			b.WriteByte(c)
		}
	}
	escaped, keep := false, 0 // keep: length without trailing unescaped spaces
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == p.delim || c == '}' || c == '{' || c == '"' {
			break
		}
		p.i++
		if c == '\\' {
			if p.i >= len(p.s) {
				return nil, malformed("array ends after a backslash")
			}
			c, escaped = p.s[p.i], true
			p.i++
			b.WriteByte(c)
			keep = b.Len()
			continue
		}
		b.WriteByte(c)
		if !isSpace(c) {
			keep = b.Len()
		}
	}
	s := b.String()[:keep]
	if s == "" {
		return nil, malformed("empty unquoted array element at byte %d", p.i)
	}
	if !escaped && strings.EqualFold(s, "NULL") {
		return nil, nil
	}
	return p.elem(s)
}
