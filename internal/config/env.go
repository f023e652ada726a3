package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// applyEnv overlays PGSURREAL_<SECTION>_<KEY> variables onto c. A variable
// set to the empty string counts as set. A list is written as
// comma-separated items; a key that only the file can set (a mapping, a
// list of mappings) is refused. Any other PGSURREAL_ variable is an error,
// most likely a typo, unless it is in IgnoredEnv or the config file reads
// it through ${VAR} (used).
func (c *Config) applyEnv(vars map[string]string, used map[string]bool) error {
	var errs []error
	known := map[string]bool{}
	for _, f := range fields() {
		known[f.env] = true
		raw, ok := vars[f.env]
		if !ok {
			continue
		}
		if f.fileOnly {
			errs = append(errs, &Error{Key: f.key, Source: envSource(f.env),
				Msg: f.key + " cannot be set from the environment; put it in the config file"})
			continue
		}
		if msg := f.set(c, raw); msg != "" {
			errs = append(errs, &Error{Key: f.key, Source: envSource(f.env), Msg: msg})
			continue
		}
		c.setSource(f.key, envSource(f.env))
	}
	var unknown []string
	for name := range vars {
		if strings.HasPrefix(name, EnvPrefix) && !known[name] && !IgnoredEnv[name] && !used[name] && !strings.HasPrefix(name, TestEnvPrefix) {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	for _, name := range unknown {
		errs = append(errs, &Error{Source: envSource(name), Msg: unknownEnvMsg(name)})
	}
	return errors.Join(errs...)
}

// setSource records src as where key was set, forgetting the sources of
// the items of any list the file gave for key (key[0], key[1].name, ...):
// a later layer replaces the whole list, and with it their lines.
func (c *Config) setSource(key, src string) {
	for k := range c.sources {
		if strings.HasPrefix(k, key+"[") || strings.HasPrefix(k, key+".") {
			delete(c.sources, k)
		}
	}
	c.sources[key] = src
}

// unknownEnvMsg explains an unknown PGSURREAL_ variable.
func unknownEnvMsg(name string) string {
	names := make([]string, 0, len(fields()))
	for _, f := range fields() {
		names = append(names, f.env)
	}
	if s := suggest(name, names); s != "" {
		return fmt.Sprintf("unknown variable, no config key reads it (did you mean %s?)", s)
	}
	return "unknown variable, no config key reads it; the names are PGSURREAL_<SECTION>_<KEY>, e.g. PGSURREAL_POSTGRES_HOST"
}

// applySets overlays "key=value" strings from --set flags onto c, in
// order, so a later --set of the same key wins. Values are written as in
// the environment: lists as comma-separated items.
func (c *Config) applySets(sets []string) error {
	var errs []error
	for _, s := range sets {
		key, raw, ok := strings.Cut(s, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			errs = append(errs, &Error{Source: setSource,
				Msg: fmt.Sprintf("%q is not key=value, e.g. postgres.port=5433", s)})
			continue
		}
		f, ok := fieldByKey(key)
		if !ok {
			errs = append(errs, &Error{Source: setSource, Msg: unknownSetMsg(key)})
			continue
		}
		if f.fileOnly {
			errs = append(errs, &Error{Key: key, Source: setSource,
				Msg: key + " cannot be set with --set; put it in the config file"})
			continue
		}
		if msg := f.set(c, raw); msg != "" {
			errs = append(errs, &Error{Key: key, Source: setSource, Msg: msg})
			continue
		}
		c.setSource(key, setSource)
	}
	return errors.Join(errs...)
}

// unknownSetMsg explains a --set of a key that does not exist.
func unknownSetMsg(key string) string {
	keys := make([]string, 0, len(fields()))
	for _, f := range fields() {
		keys = append(keys, f.key)
	}
	if s := suggest(key, keys); s != "" {
		return fmt.Sprintf("unknown key %q (did you mean %q?)", key, s)
	}
	return fmt.Sprintf("unknown key %q, keys are section.key such as postgres.port", key)
}

// expand replaces ${VAR} and ${VAR:-default} in s with values from env and
// turns $${ into a literal ${. Like the shell, ${VAR:-default} uses the
// default when VAR is unset or empty; ${VAR} of an unset VAR is an error,
// so a forgotten secret does not silently become an empty password. A $
// not followed by { is left alone. Every variable named is added to used.
// It returns the expanded string or an error message.
func expand(s string, env map[string]string, used map[string]bool) (string, string) {
	if !strings.Contains(s, "${") {
		return s, ""
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), ""
		}
		if i > 0 && s[i-1] == '$' {
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Sprintf("%q has a ${ with no closing }, write $${ for a literal ${", s[i:])
		}
		ref := s[i+2 : i+end]
		s = s[i+end+1:]
		name, def, hasDef := strings.Cut(ref, ":-")
		if !validVarName(name) {
			return "", fmt.Sprintf("%q is not a variable name in ${%s}, use letters, digits and _", name, ref)
		}
		used[name] = true
		v, ok := env[name]
		switch {
		case hasDef && v == "":
			v = def
		case !ok:
			return "", fmt.Sprintf("environment variable %s is not set, set it or write ${%s:-default}", name, name)
		}
		b.WriteString(v)
	}
}

// validVarName reports whether name is a shell-style variable name.
func validVarName(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// parseEnv turns "K=V" entries, as os.Environ returns them, into a map.
// A later entry for the same name wins; entries without = are skipped.
func parseEnv(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			m[k] = v
		}
	}
	return m
}
