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
			if wantName(sf.Type) == "" {
				panic(fmt.Sprintf("config: field %s has unsupported type %s", key, sf.Type))
			}
			out = append(out, field{key: key, env: envName(key), index: idx})
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
	}
	return ""
}

// setValue parses raw as the type of v and stores it, returning an error
// message or "". Strings are taken as they are; YAML's quoting has already
// been undone by the parser.
func setValue(v reflect.Value, raw string) string {
	t := v.Type()
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
