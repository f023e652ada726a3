package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load builds the configuration: Default(), overlaid by the YAML file at
// path (skipped when path is ""), then by PGSURREAL_<SECTION>_<KEY>
// variables from env (in os.Environ form), then by sets ("key=value" from
// repeated --set flags), then normalised (a bare table name such as
// "orders" becomes "public.orders"), and finally checked with Validate.
// A list or mapping given by a layer replaces the one before; it is not
// merged. Every mistake in what the user gave is reported as an *Error,
// several joined with errors.Join; the returned Config is then the zero
// value.
func Load(path string, env []string, sets []string) (Config, error) {
	cfg := Default()
	cfg.sources = map[string]string{}
	vars := parseEnv(env)
	used := map[string]bool{}
	if path != "" {
		if err := cfg.loadFile(path, vars, used); err != nil {
			return Config{}, err
		}
	}
	if err := cfg.applyEnv(vars, used); err != nil {
		return Config{}, err
	}
	if err := cfg.applySets(sets); err != nil {
		return Config{}, err
	}
	cfg.normalise()
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// loadFile overlays the YAML file at path onto c.
func (c *Config) loadFile(path string, vars map[string]string, used map[string]bool) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Error{Source: path, Err: err,
			Msg: "config file does not exist, create it (pgsurreal.example.yaml is a template) or drop --config"}
	}
	if err != nil {
		var pe *fs.PathError
		msg := err.Error()
		if errors.As(err, &pe) {
			msg = pe.Err.Error()
		}
		return &Error{Source: path, Msg: "cannot read config file: " + msg, Err: err}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file changes nothing
		}
		return yamlError(path, data, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return yamlError(path, data, err)
		}
		return &Error{Source: fileSource(path, extra.Line),
			Msg: "a second YAML document starts here, keep the whole config in one"}
	}
	d := &decoder{path: path, vars: vars, used: used, cfg: c}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil
		}
		root = root.Content[0]
	}
	d.section(root, reflect.ValueOf(c).Elem(), "")
	return errors.Join(d.errs...)
}

var yamlLine = regexp.MustCompile(`^yaml: (?:line (\d+): )?(?s:(.*))$`)

// yamlError turns the YAML parser's "yaml: line N: msg" into "path:N: msg".
// The parser's N is often the line where the enclosing mapping starts, and
// sometimes missing, so the line is taken from locateYAMLError when it can
// find one.
func yamlError(path string, data []byte, err error) error {
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		return &Error{Source: path, Msg: err.Error(), Err: err}
	}
	n, _ := strconv.Atoi(m[1])
	if at := locateYAMLError(data, m[2]); at > 0 {
		n = at
	}
	src := path
	if n > 0 {
		src = fileSource(path, n)
	}
	return &Error{Source: src, Msg: m[2], Err: err}
}

// locateYAMLError finds the first line at which the file, cut off after
// that line, fails to parse with the same message: that is where the
// problem is. It returns 0 if no cut does, or the file is too big to try.
func locateYAMLError(data []byte, msg string) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) > 2000 {
		return 0
	}
	end := 0
	for i, l := range lines {
		end += len(l)
		var n yaml.Node
		err := yaml.Unmarshal(data[:end], &n)
		if err == nil {
			continue
		}
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil && m[2] == msg {
			return i + 1
		}
	}
	return 0
}

// decoder copies a yaml.Node tree into a Config strictly: unknown keys,
// duplicate keys and values of the wrong shape or type are all errors, and
// every one is collected rather than stopping at the first.
type decoder struct {
	path string
	vars map[string]string
	used map[string]bool
	cfg  *Config
	errs []error
}

func (d *decoder) fail(line int, key, format string, args ...any) {
	d.errs = append(d.errs, &Error{Key: key, Source: fileSource(d.path, line), Msg: fmt.Sprintf(format, args...)})
}

// section decodes the mapping n into the struct v, whose dotted key is
// prefix ("" for the top level).
func (d *decoder) section(n *yaml.Node, v reflect.Value, prefix string) {
	n = resolve(n)
	if isNull(n) {
		return // "postgres:" with nothing under it keeps the defaults
	}
	if n.Kind != yaml.MappingNode {
		if prefix == "" {
			d.fail(n.Line, "", "the top level must be a mapping of sections such as postgres:, got %s", describe(n))
			return
		}
		d.fail(n.Line, prefix, "%s is not a mapping, indent the section's keys under %s:", describe(n), lastPart(prefix))
		return
	}
	where := "the top level"
	if prefix != "" {
		where = prefix
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(k.Line, "", "a key in %s is %s, keys must be plain names", where, describe(k))
			continue
		}
		name := k.Value
		if first, dup := seen[name]; dup {
			d.fail(k.Line, "", "duplicate key %q in %s (first at line %d)", name, where, first)
			continue
		}
		seen[name] = k.Line
		idx, ok := sectionField(v.Type(), name)
		if !ok {
			d.fail(k.Line, "", "unknown key %q in %s %s", name, where, hint(name, sectionKeys(v.Type())))
			continue
		}
		d.value(k, val, v.Field(idx), joinKey(prefix, name))
	}
}

// value decodes val, the value of the key node k, into the field v whose
// dotted key is key, according to the field's type.
func (d *decoder) value(k, val *yaml.Node, v reflect.Value, key string) {
	switch t := v.Type(); {
	case isSection(t):
		d.section(val, v, key)
	case isItemList(t), isScalarList(t):
		d.list(k, val, v, key)
	case isScalarMap(t):
		d.mapping(k, val, v, key)
	default:
		d.leaf(k, val, v, key)
	}
}

// leaf decodes the scalar val, after ${VAR} expansion, into the field v.
func (d *decoder) leaf(k, val *yaml.Node, v reflect.Value, key string) {
	if d.scalar(val, v, key) {
		d.cfg.sources[key] = fileSource(d.path, k.Line)
	}
}

// scalar decodes the scalar val, after ${VAR} expansion, into v, reporting
// whether it could.
func (d *decoder) scalar(val *yaml.Node, v reflect.Value, key string) bool {
	val = resolve(val)
	if val.Kind != yaml.ScalarNode {
		d.fail(val.Line, key, "%s is not %s", describe(val), wantName(v.Type()))
		return false
	}
	raw := val.Value
	if isNull(val) {
		raw = ""
	}
	raw, msg := expand(raw, d.vars, d.used)
	if msg == "" {
		msg = setValue(v, raw)
	}
	if msg != "" {
		d.fail(val.Line, key, "%s", msg)
		return false
	}
	return true
}

// list decodes the sequence val into the slice v, replacing what v held.
// Items are scalars, or mappings decoded strictly like sections; item i
// has the dotted key key[i] and its line is recorded as that key's source,
// so that Validate can point at an item even when the field it misses is
// absent. A null value is the empty list.
func (d *decoder) list(k, val *yaml.Node, v reflect.Value, key string) {
	val = resolve(val)
	t := v.Type()
	if val.Kind != yaml.SequenceNode && !isNull(val) {
		d.fail(val.Line, key, "%s is not %s", describe(val), wantName(t))
		return
	}
	d.cfg.sources[key] = fileSource(d.path, k.Line)
	out := reflect.MakeSlice(t, len(val.Content), len(val.Content))
	for i, item := range val.Content {
		item = resolve(item)
		ikey := fmt.Sprintf("%s[%d]", key, i)
		d.cfg.sources[ikey] = fileSource(d.path, item.Line)
		if !isSection(t.Elem()) {
			d.scalar(item, out.Index(i), ikey)
			continue
		}
		if item.Kind != yaml.MappingNode && !isNull(item) {
			d.fail(item.Line, ikey, "%s is not a mapping, write each item as \"- %s: ...\"",
				describe(item), sectionKeys(t.Elem())[0])
			continue
		}
		d.section(item, out.Index(i), ikey)
	}
	v.Set(out)
}

// mapping decodes the mapping val of names to scalars into the map v,
// replacing what v held. Entry name has the dotted key key.name, and the
// line of its name is recorded as that key's source. A null value is the
// empty map.
func (d *decoder) mapping(k, val *yaml.Node, v reflect.Value, key string) {
	val = resolve(val)
	t := v.Type()
	if val.Kind != yaml.MappingNode && !isNull(val) {
		d.fail(val.Line, key, "%s is not %s", describe(val), wantName(t))
		return
	}
	d.cfg.sources[key] = fileSource(d.path, k.Line)
	out := reflect.MakeMapWithSize(t, len(val.Content)/2)
	seen := map[string]int{}
	for i := 0; i+1 < len(val.Content); i += 2 {
		mk, mv := resolve(val.Content[i]), val.Content[i+1]
		if mk.Kind != yaml.ScalarNode {
			d.fail(mk.Line, "", "a key in %s is %s, keys must be plain names", key, describe(mk))
			continue
		}
		name := mk.Value
		if isNull(mk) || name == "" {
			d.fail(mk.Line, "", "a key in %s is empty, keys must be names", key)
			continue
		}
		if first, dup := seen[name]; dup {
			d.fail(mk.Line, "", "duplicate key %q in %s (first at line %d)", name, key, first)
			continue
		}
		seen[name] = mk.Line
		ekey := joinKey(key, name)
		elem := reflect.New(t.Elem()).Elem()
		if !d.scalar(mv, elem, ekey) {
			continue
		}
		d.cfg.sources[ekey] = fileSource(d.path, mk.Line)
		out.SetMapIndex(reflect.ValueOf(name).Convert(t.Key()), elem)
	}
	v.Set(out)
}

// hint suggests the closest known name, or lists them all when none is
// close.
func hint(name string, known []string) string {
	if s := suggest(name, known); s != "" {
		return fmt.Sprintf("(did you mean %q?)", s)
	}
	return "(known keys: " + strings.Join(known, ", ") + ")"
}

// resolve follows an alias (*anchor) to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names a node's value for an error message.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "an unexpected YAML node"
}

func lastPart(key string) string {
	return key[strings.LastIndexByte(key, '.')+1:]
}
