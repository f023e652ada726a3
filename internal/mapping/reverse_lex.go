package mapping

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// token is one lexical token of a DEFINE statement.
type token struct {
	kind       byte   // 'w' word, 'q' quoted identifier, 's' string, 'p' punctuation
	text       string // the word, the unescaped identifier or string, the punctuation
	start, end int    // byte offsets in the statement
}

// defParser walks the tokens of one statement.
type defParser struct {
	src  string
	toks []token
	pos  int
}

func newDefParser(src string) (*defParser, error) {
	toks, err := lexSurrealQL(src)
	if err != nil {
		return nil, err
	}
	return &defParser{src: src, toks: toks}, nil
}

func (p *defParser) done() bool { return p.pos >= len(p.toks) }

func (p *defParser) peek() (token, bool) {
	if p.done() {
		return token{}, false
	}
	return p.toks[p.pos], true
}

// keyword consumes a bare word equal to kw, ignoring case.
func (p *defParser) keyword(kw string) bool {
	t, ok := p.peek()
	if ok && t.kind == 'w' && strings.EqualFold(t.text, kw) {
		p.pos++
		return true
	}
	return false
}

// punct consumes the punctuation s.
func (p *defParser) punct(s string) bool {
	t, ok := p.peek()
	if ok && t.kind == 'p' && t.text == s {
		p.pos++
		return true
	}
	return false
}

// name consumes an identifier, bare or escaped.
func (p *defParser) name() (string, bool) {
	t, ok := p.peek()
	if !ok || (t.kind != 'w' && t.kind != 'q') {
		return "", false
	}
	p.pos++
	return t.text, true
}

// modifiers skips OVERWRITE and IF NOT EXISTS.
func (p *defParser) modifiers() {
	if p.keyword("OVERWRITE") {
		return
	}
	save := p.pos
	if p.keyword("IF") && p.keyword("NOT") && p.keyword("EXISTS") {
		return
	}
	p.pos = save
}

// tableList reads a | b | c.
func (p *defParser) tableList() string {
	var names []string
	for {
		n, ok := p.name()
		if !ok {
			break
		}
		names = append(names, n)
		if !p.punct("|") {
			break
		}
	}
	return strings.Join(names, " | ")
}

// text is the statement's source from token i to token j (exclusive).
func (p *defParser) text(i, j int) string {
	if i >= j {
		return ""
	}
	return p.src[p.toks[i].start:p.toks[j-1].end]
}

// lexSurrealQL splits a statement into words, escaped identifiers
// (`...`, ⟨...⟩), strings ('...', "...") and single punctuation marks.
func lexSurrealQL(src string) ([]token, error) {
	var toks []token
	for i := 0; i < len(src); {
		r, size := utf8.DecodeRuneInString(src[i:])
		switch {
		case unicode.IsSpace(r):
			i += size
		case r == '`' || r == '⟨' || r == '\'' || r == '"':
			closer, kind := r, byte('s')
			switch r {
			case '`':
				kind = 'q'
			case '⟨':
				closer, kind = '⟩', 'q'
			}
			text, end, err := readEscaped(src, i+size, closer)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: kind, text: text, start: i, end: end})
			i = end
		case isWordRune(r):
			j := i
			for j < len(src) {
				r2, s2 := utf8.DecodeRuneInString(src[j:])
				if !isWordRune(r2) {
					break
				}
				j += s2
			}
			toks = append(toks, token{kind: 'w', text: src[i:j], start: i, end: j})
			i = j
		default:
			toks = append(toks, token{kind: 'p', text: src[i : i+size], start: i, end: i + size})
			i += size
		}
	}
	return toks, nil
}

func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// readEscaped reads up to closer, undoing backslash escapes, and returns
// the text and the offset after the closer.
func readEscaped(src string, i int, closer rune) (string, int, error) {
	var b strings.Builder
	for i < len(src) {
		r, size := utf8.DecodeRuneInString(src[i:])
		switch {
		case r == closer:
			return b.String(), i + size, nil
		case r == '\\' && i+size < len(src):
			e, esize := utf8.DecodeRuneInString(src[i+size:])
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '0':
				b.WriteByte(0)
			default:
				b.WriteRune(e)
			}
			i += size + esize
		default:
			b.WriteRune(r)
			i += size
		}
	}
	return "", 0, fmt.Errorf("unterminated %c", closer)
}

// stype is one alternative of a SurrealQL type.
type stype struct {
	// name is the lower-cased type name ("int", "array", "record"),
	// "tuple" for [a, b], "object" for an object literal type, "literal"
	// for a literal value type ('a', 1, true).
	name string
	// word is the name as written (a table name of record<t> keeps case).
	word string
	// args: array<T>, set<T>, option<T>: [T]; tuple: its parts;
	// record<a | b> and geometry<point | line>: one union of names.
	args []sunion
	// size is array<T, N>'s and set<T, N>'s N, 0 if none.
	size int
	// lit is a literal's kind: "string", "number" or "bool".
	lit string
}

// sunion is a type: its alternatives (a | b).
type sunion []stype

// union parses type ('|' type)*.
func (p *defParser) union() (sunion, error) {
	var u sunion
	for {
		t, err := p.single()
		if err != nil {
			return nil, err
		}
		u = append(u, t)
		if !p.punct("|") {
			return u, nil
		}
	}
}

func (p *defParser) single() (stype, error) {
	t, ok := p.peek()
	if !ok {
		return stype{}, fmt.Errorf("missing type")
	}
	switch {
	case t.kind == 's':
		p.pos++
		return stype{name: "literal", lit: "string", word: t.text}, nil
	case t.kind == 'p' && t.text == "-":
		p.pos++
		n, ok := p.peek()
		if !ok || n.kind != 'w' {
			return stype{}, fmt.Errorf("bad literal type")
		}
		p.pos++
		return stype{name: "literal", lit: "number", word: "-" + n.text}, nil
	case t.kind == 'p' && t.text == "[":
		p.pos++
		st := stype{name: "tuple"}
		if p.punct("]") {
			return st, nil
		}
		for {
			u, err := p.union()
			if err != nil {
				return stype{}, err
			}
			st.args = append(st.args, u)
			if p.punct("]") {
				return st, nil
			}
			if !p.punct(",") {
				return stype{}, fmt.Errorf("expected , or ] in a tuple type")
			}
		}
	case t.kind == 'p' && t.text == "{":
		if err := p.skipBalanced("{", "}"); err != nil {
			return stype{}, err
		}
		return stype{name: "object"}, nil
	case t.kind == 'w' || t.kind == 'q':
		p.pos++
		if t.kind == 'w' && (t.text[0] >= '0' && t.text[0] <= '9') {
			return stype{name: "literal", lit: "number", word: t.text}, nil
		}
		st := stype{name: strings.ToLower(t.text), word: t.text}
		if t.kind == 'w' && (st.name == "true" || st.name == "false") {
			return stype{name: "literal", lit: "bool", word: st.name}, nil
		}
		if !p.punct("<") {
			return st, nil
		}
		for {
			if n, ok := p.peek(); ok && n.kind == 'w' && n.text[0] >= '0' && n.text[0] <= '9' && len(st.args) > 0 {
				p.pos++
				size, err := strconv.Atoi(n.text)
				if err != nil {
					return stype{}, fmt.Errorf("bad size %q", n.text)
				}
				st.size = size
			} else {
				u, err := p.union()
				if err != nil {
					return stype{}, err
				}
				st.args = append(st.args, u)
			}
			if p.punct(">") {
				return st, nil
			}
			if !p.punct(",") {
				return stype{}, fmt.Errorf("expected , or > in %s<...>", st.name)
			}
		}
	}
	return stype{}, fmt.Errorf("unexpected %q in a type", t.text)
}

// skipBalanced skips from an opening mark to its matching close.
func (p *defParser) skipBalanced(open, close string) error {
	depth := 0
	for !p.done() {
		t := p.toks[p.pos]
		p.pos++
		if t.kind != 'p' {
			continue
		}
		switch t.text {
		case open:
			depth++
		case close:
			depth--
			if depth == 0 {
				return nil
			}
		}
	}
	return fmt.Errorf("unbalanced %s", open)
}

// parseSurrealType parses a type as SurrealField.Type holds it.
func parseSurrealType(s string) (sunion, error) {
	p, err := newDefParser(s)
	if err != nil {
		return nil, err
	}
	u, err := p.union()
	if err != nil {
		return nil, err
	}
	if !p.done() {
		return nil, fmt.Errorf("unexpected %q after the type", p.toks[p.pos].text)
	}
	return u, nil
}
