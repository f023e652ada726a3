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
// repeated --set flags), and finally checked with Validate. Every mistake
// in what the user gave is reported as an *Error, several joined with
// errors.Join; the returned Config is then the zero value.
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
		key := joinKey(prefix, name)
		if isSection(v.Type().Field(idx).Type) {
			d.section(val, v.Field(idx), key)
			continue
		}
		d.leaf(k, val, v.Field(idx), key)
	}
}

// leaf decodes the scalar val, after ${VAR} expansion, into the field v.
func (d *decoder) leaf(k, val *yaml.Node, v reflect.Value, key string) {
	val = resolve(val)
	if val.Kind != yaml.ScalarNode {
		d.fail(val.Line, key, "%s is not %s", describe(val), wantName(v.Type()))
		return
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
		return
	}
	d.cfg.sources[key] = fileSource(d.path, k.Line)
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
