package mapping

import (
	"fmt"
	"strings"
)

// rangeText is a range value as text, before its bounds are converted.
type rangeText struct {
	Empty              bool
	Lower, Upper       string
	LowerInf, UpperInf bool // unbounded
	LowerInc, UpperInc bool // '[' and ']'
}

// convertRange maps a range to an object. Empty ranges are {empty: true};
// others are {begin, end, begin_inclusive, end_inclusive} with the bounds
// converted by the subtype and an unbounded side's bound left out (so it
// reads as NONE) and its *_inclusive false.
func convertRange(t *Type, text string) (any, error) {
	r, err := parseRange(text)
	if err != nil {
		return nil, err
	}
	if r.Empty {
		return map[string]any{"empty": true}, nil
	}
	out := map[string]any{"begin_inclusive": r.LowerInc, "end_inclusive": r.UpperInc}
	sub := t.Sub
	for _, b := range []struct {
		key, text string
		inf       bool
	}{{"begin", r.Lower, r.LowerInf}, {"end", r.Upper, r.UpperInf}} {
		if b.inf {
			continue
		}
		if sub == nil {
			out[b.key] = b.text
			continue
		}
		v, err := convert(sub, b.text)
		if err != nil {
			return nil, fmt.Errorf("%s bound %s: %w", b.key, shownValue(b.text), err)
		}
		out[b.key] = v
	}
	return out, nil
}

// parseRange reads range_out's format: "empty", or a bracket, the lower
// bound, a comma, the upper bound and a bracket, where a bound is empty
// when unbounded and otherwise quoted as range_in reads it.
func parseRange(text string) (rangeText, error) {
	var r rangeText
	s := strings.TrimFunc(text, func(c rune) bool { return c < 0x80 && isSpace(byte(c)) })
	if strings.EqualFold(s, "empty") {
		return rangeText{Empty: true}, nil
	}
	if s == "" || (s[0] != '[' && s[0] != '(') {
		return r, malformed("a range starts with '[', '(' or is empty")
	}
	r.LowerInc = s[0] == '['
	i := 1
	var err error
	if r.Lower, r.LowerInf, i, err = readQuoted(s, i, ",)]"); err != nil {
		return r, err
	}
	if i >= len(s) || s[i] != ',' {
		return r, malformed("a range has two bounds separated by ','")
	}
	if r.Upper, r.UpperInf, i, err = readQuoted(s, i+1, ",)]"); err != nil {
		return r, err
	}
	if i != len(s)-1 || (s[i] != ']' && s[i] != ')') {
		return r, malformed("a range ends with ']' or ')' after its upper bound")
	}
	r.UpperInc = s[i] == ']'
	if r.LowerInf {
		r.LowerInc = false
	}
	if r.UpperInf {
		r.UpperInc = false
	}
	return r, nil
}

// readQuoted reads a range bound or a composite field from s[i:] up to an
// unquoted byte in stops, as range_parse_bound and record_in do: a
// backslash takes the next byte literally, double quotes group, and a
// doubled quote inside quotes is a quote. Nothing at all before the stop
// means no value (unbounded or NULL); "" is the empty string.
func readQuoted(s string, i int, stops string) (val string, none bool, next int, err error) {
	if i < len(s) && strings.IndexByte(stops, s[i]) >= 0 {
		return "", true, i, nil
	}
	var b strings.Builder
	inQuote := false
	for {
		if i >= len(s) {
			return "", false, i, malformed("value ends inside a bound or field")
		}
		c := s[i]
		if !inQuote && strings.IndexByte(stops, c) >= 0 {
			return b.String(), false, i, nil
		}
		i++
		switch {
		case c == '\\':
			if i >= len(s) {
				return "", false, i, malformed("value ends after a backslash")
			}
			b.WriteByte(s[i])
			i++
		case c == '"' && !inQuote:
			inQuote = true
		case c == '"' && i < len(s) && s[i] == '"':
			b.WriteByte('"')
			i++
		case c == '"':
			inQuote = false
		default:
			b.WriteByte(c)
		}
	}
}

// convertComposite maps a row value "(1,"a b",)" to an object keyed by
// attribute name; an empty field is NULL.
func convertComposite(t *Type, text string) (any, error) {
	fields, err := parseRecord(text)
	if err != nil {
		return nil, err
	}
	if len(fields) != len(t.Attrs) {
		return nil, malformed("%d fields for a type with %d attributes", len(fields), len(t.Attrs))
	}
	out := make(map[string]any, len(fields))
	for i, f := range fields {
		a := t.Attrs[i]
		if f == nil {
			out[a.Name] = nil
			continue
		}
		if a.Type == nil {
			out[a.Name] = *f
			continue
		}
		v, err := convert(a.Type, *f)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", a.Name, err)
		}
		out[a.Name] = v
	}
	return out, nil
}

// parseRecord reads record_out's format; nil fields are NULL.
func parseRecord(text string) ([]*string, error) {
	s := strings.TrimFunc(text, func(c rune) bool { return c < 0x80 && isSpace(byte(c)) })
	if len(s) < 2 || s[0] != '(' || s[len(s)-1] != ')' {
		return nil, malformed("a row value is enclosed in parentheses")
	}
	if s == "()" {
		return nil, nil
	}
	var out []*string
	i := 1
	for {
		v, none, next, err := readQuoted(s, i, ",)")
		if err != nil {
			return nil, err
		}
		if none {
			out = append(out, nil)
		} else {
			out = append(out, &v)
		}
		if s[next] == ')' {
			if next != len(s)-1 {
				return nil, malformed("text after the closing parenthesis")
			}
			return out, nil
		}
		i = next + 1
	}
}
