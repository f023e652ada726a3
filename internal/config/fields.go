package config

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// field is one settable leaf of Config, found by reflection over the yaml
// tags so the file, the environment and --set always agree on the names.
type field struct {
	key   string // dotted yaml path, e.g. "postgres.port"
	env   string // environment variable, e.g. "PGSURREAL_POSTGRES_PORT"
	index []int  // for reflect.Value.FieldByIndex
	// fileOnly marks a leaf that has no one-line text form (a mapping or
	// a list of mappings): only the config file can set it.
	fileOnly bool
}

var durationType = reflect.TypeFor[Duration]()

// fields lists every leaf of Config in declaration order.
var fields = sync.OnceValue(func() []field {
	var out []field
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := range t.NumField() {
			sf := t.Field(i)
			name := yamlName(sf)
			if name == "" {
				continue
			}
			key := joinKey(prefix, name)
			idx := append(slices.Clone(index), i)
			if isSection(sf.Type) {
				walk(sf.Type, key, idx)
				continue
			}
			if !supported(sf.Type) {
				panic(fmt.Sprintf("config: field %s has unsupported type %s", key, sf.Type))
			}
			out = append(out, field{key: key, env: envName(key), index: idx, fileOnly: !isText(sf.Type)})
		}
	}
	walk(reflect.TypeFor[Config](), "", nil)
	return out
})

// fieldByKey finds the leaf with the dotted key.
func fieldByKey(key string) (field, bool) {
	for _, f := range fields() {
		if f.key == key {
			return f, true
		}
	}
	return field{}, false
}

// set parses raw into the field of c, returning an error message or "".
func (f field) set(c *Config, raw string) string {
	return setValue(reflect.ValueOf(c).Elem().FieldByIndex(f.index), raw)
}

// yamlName is the key of a struct field in YAML, or "" if it has none.
func yamlName(sf reflect.StructField) string {
	if !sf.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// isSection reports whether values of t are mappings of further keys.
func isSection(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && t != durationType
}

// isScalar reports whether t is a single value: a string, integer, bool or
// duration.
func isScalar(t reflect.Type) bool {
	switch {
	case t == durationType:
		return true
	case t.Kind() == reflect.String, t.Kind() == reflect.Int, t.Kind() == reflect.Bool:
		return true
	}
	return false
}

// isScalarList reports whether t is a list of scalars, such as []string.
// Lists of booleans are left out: nobody needs one.
func isScalarList(t reflect.Type) bool {
	return t.Kind() == reflect.Slice && isScalar(t.Elem()) && t.Elem().Kind() != reflect.Bool
}

// isScalarMap reports whether t maps names to scalars, such as
// map[string]string.
func isScalarMap(t reflect.Type) bool {
	return t.Kind() == reflect.Map && t.Key().Kind() == reflect.String &&
		isScalar(t.Elem()) && t.Elem().Kind() != reflect.Bool
}

// isItemList reports whether t is a list of mappings, each decoded like a
// section, such as []Table.
func isItemList(t reflect.Type) bool {
	return t.Kind() == reflect.Slice && isSection(t.Elem())
}

// isText reports whether a value of t can be written on one line, as the
// environment and --set need: a scalar, or a list of scalars separated by
// commas.
func isText(t reflect.Type) bool {
	return isScalar(t) || isScalarList(t)
}

// supported reports whether the decoder handles values of t: scalars,
// lists of scalars, maps of names to scalars, and sections and lists of
// mappings whose own fields are all supported.
func supported(t reflect.Type) bool {
	switch {
	case isScalar(t), isScalarList(t), isScalarMap(t):
		return true
	case isItemList(t):
		return supported(t.Elem())
	case isSection(t):
		for i := range t.NumField() {
			if yamlName(t.Field(i)) != "" && !supported(t.Field(i).Type) {
				return false
			}
		}
		return true
	}
	return false
}

// sectionKeys lists the yaml keys of a section type, for suggestions.
func sectionKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		if name := yamlName(t.Field(i)); name != "" {
			keys = append(keys, name)
		}
	}
	return keys
}

// sectionField finds the index of the field of t whose yaml key is name.
func sectionField(t reflect.Type, name string) (int, bool) {
	for i := range t.NumField() {
		if yamlName(t.Field(i)) == name {
			return i, true
		}
	}
	return 0, false
}

func joinKey(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// envName is the variable that overrides key: postgres.port becomes
// PGSURREAL_POSTGRES_PORT.
func envName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// wantName says what a value of t must look like, for error messages;
// "" means the type is not supported.
func wantName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Int:
		return "an integer"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case isScalarList(t):
		return "a list of " + pluralName(t.Elem())
	case isScalarMap(t):
		return "a mapping of names to " + pluralName(t.Elem())
	case isItemList(t):
		return "a list of mappings"
	}
	return ""
}

// pluralName names several values of the scalar type t: "strings".
func pluralName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "durations"
	case t.Kind() == reflect.String:
		return "strings"
	case t.Kind() == reflect.Int:
		return "integers"
	}
	return ""
}

// setValue parses raw as the type of v and stores it, returning an error
// message or "". Strings are taken as they are; YAML's quoting has already
// been undone by the parser. A list is written as comma-separated items,
// each trimmed of spaces; the empty string is the empty list.
func setValue(v reflect.Value, raw string) string {
	t := v.Type()
	if isScalarList(t) {
		return setList(v, raw)
	}
	if raw == "" && t.Kind() != reflect.String {
		return "empty value, want " + wantName(t)
	}
	switch {
	case t == durationType:
		d, msg := parseDuration(raw)
		if msg != "" {
			return msg
		}
		v.Set(reflect.ValueOf(Duration{d}))
	case t.Kind() == reflect.String:
		v.SetString(raw)
	case t.Kind() == reflect.Int:
		n, err := strconv.ParseInt(raw, 10, strconv.IntSize)
		if err != nil {
			return fmt.Sprintf("%q is not an integer", raw)
		}
		v.SetInt(n)
	case t.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Sprintf("%q is not true or false", raw)
		}
		v.SetBool(b)
	default:
		return "unsupported type " + t.String()
	}
	return ""
}

// setList parses the comma-separated raw into the list v. An empty item
// (as in "a,,b" or "a,") is an error rather than silently dropped.
func setList(v reflect.Value, raw string) string {
	t := v.Type()
	if strings.TrimSpace(raw) == "" {
		v.Set(reflect.MakeSlice(t, 0, 0))
		return ""
	}
	items := strings.Split(raw, ",")
	out := reflect.MakeSlice(t, len(items), len(items))
	for i, item := range items {
		item = strings.TrimSpace(item)
		if item == "" {
			return fmt.Sprintf("%q has an empty item %d, separate the items with single commas", raw, i+1)
		}
		if msg := setValue(out.Index(i), item); msg != "" {
			return fmt.Sprintf("item %d: %s", i+1, msg)
		}
	}
	v.Set(out)
	return ""
}
