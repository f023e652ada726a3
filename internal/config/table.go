package config

import "strings"

// defaultSchema is the schema of a table or pattern written without one.
const defaultSchema = "public"

// qualify returns name with the default schema added when it has none:
// "orders" becomes "public.orders". Anything with a dot, and the empty
// string, is returned as it is (Validate judges it).
func qualify(name string) string {
	if name == "" || strings.Contains(name, ".") {
		return name
	}
	return defaultSchema + "." + name
}

// splitName splits a "schema.table" name or pattern at its dot, adding the
// default schema to a bare name. ok is false unless there is exactly one
// dot with something on either side.
func splitName(name string) (schema, table string, ok bool) {
	schema, table, _ = strings.Cut(qualify(name), ".")
	if schema == "" || table == "" || strings.Contains(table, ".") {
		return "", "", false
	}
	return schema, table, true
}

// SchemaName is the PostgreSQL schema of the table: the part of Name
// before the dot, or public when Name has none.
func (t Table) SchemaName() string {
	schema, _, _ := strings.Cut(qualify(t.Name), ".")
	return schema
}

// TableName is the PostgreSQL table's name without its schema: the part of
// Name after the dot, or all of Name when it has none.
func (t Table) TableName() string {
	_, table, _ := strings.Cut(qualify(t.Name), ".")
	return table
}

// MatchPattern reports whether the table schema.table matches pattern, an
// entry of Sync.Include or Sync.Exclude: "schema.table" (a bare "table"
// meaning "public.table") in which '*' matches any run of characters,
// none included, within its part. Everything else matches exactly,
// case-sensitively, as PostgreSQL names do once quoted. A malformed
// pattern (no table part, more than one dot) matches nothing.
func MatchPattern(pattern, schema, table string) bool {
	ps, pt, ok := splitName(pattern)
	return ok && matchPart(ps, schema) && matchPart(pt, table)
}

// matchPart reports whether s matches the pattern p, where '*' matches
// any run of bytes. Bytes are enough: '*' is ASCII, so a literal run of
// the pattern only matches whole UTF-8 characters.
func matchPart(p, s string) bool {
	// Greedy with backtracking to the last star: linear for one star,
	// never exponential.
	star, resume := -1, 0
	i, j := 0, 0
	for j < len(s) {
		switch {
		case i < len(p) && p[i] == '*':
			star, resume = i, j
			i++
		case i < len(p) && p[i] == s[j]:
			i++
			j++
		case star >= 0:
			resume++
			i, j = star+1, resume
		default:
			return false
		}
	}
	for i < len(p) && p[i] == '*' {
		i++
	}
	return i == len(p)
}

// normalise rewrites bare table names and patterns in c.Sync as
// "public.name", so that code using c sees one spelling.
func (c *Config) normalise() {
	s := &c.Sync
	for i, p := range s.Include {
		s.Include[i] = qualify(p)
	}
	for i, p := range s.Exclude {
		s.Exclude[i] = qualify(p)
	}
	s.DeadLetter = qualify(s.DeadLetter)
	for i := range s.Tables {
		s.Tables[i].Name = qualify(s.Tables[i].Name)
	}
}

// TargetName is the PostgreSQL table of a reverse table as
// "schema.table": Target, or the SurrealDB table's name, with schema
// public when none is given.
func (t ReverseTable) TargetName() string {
	if t.Target != "" {
		return qualify(t.Target)
	}
	return qualify(t.Name)
}

// OriginFor is the PostgreSQL replication origin the reverse direction
// writes under in database: Origin and the database's name. Origins are
// cluster-wide and, before PostgreSQL 16, usable by one session at a
// time, so each database gets its own.
func (r Reverse) OriginFor(database string) string {
	return r.Origin + "_" + database
}
