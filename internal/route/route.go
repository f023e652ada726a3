// Package route places SurrealDB records on servers: a replicated table
// lives on the default server (the surreal section), on another server
// (sync.tables[].server), or is partitioned over several servers by the
// value or the hash of one of its key columns (sync.tables[].partition).
//
// Because a partition column is part of the key, a record's server
// follows from its record id alone: an update never moves a record, and a
// delete goes to exactly one server. The graph edges a table's rows start
// (sync.tables[].edges) share the row's id, and so its server. Tables not
// listed stay on the default server, as do pgsurreal's own records
// (position, relations); each server stores the sync position of the
// writes it holds.
package route

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/mapping"
)

// Default names the server of the surreal section.
const Default = config.DefaultServer

// Rule is where one table's records live.
type Rule struct {
	// Source is the PostgreSQL table, "schema.table".
	Source string
	// Servers hold the table: one for a routed table, two or more for a
	// partitioned one.
	Servers []string
	// Partition is set for a partitioned table.
	Partition *config.Partition
	// keyIndex is the partition column's place in the record id (an
	// array id when the key has several columns; keyLen > 1).
	keyIndex, keyLen int
}

// Partitioned reports whether the table spreads over several servers.
func (r *Rule) Partitioned() bool { return r.Partition != nil }

// ServerOf returns the server of the record with id.
func (r *Rule) ServerOf(id any) (string, error) {
	if r.Partition == nil {
		return r.Servers[0], nil
	}
	v := id
	if r.keyLen > 1 {
		parts, ok := id.([]any)
		if !ok || r.keyIndex >= len(parts) {
			return "", fmt.Errorf("%s: record id %v has no part %d for partition column %q", r.Source, id, r.keyIndex, r.Partition.Column)
		}
		v = parts[r.keyIndex]
	}
	return ServerForValue(*r.Partition, v)
}

// ServerForValue returns the server of a row whose partition column holds
// v: for by hash, the FNV-1a hash of v's text picks one of p.Servers; for
// by value, p.Values maps v's text (p.Other taking the rest).
func ServerForValue(p config.Partition, v any) (string, error) {
	text := valueText(v)
	if p.By == "hash" {
		h := fnv.New64a()
		_, _ = h.Write([]byte(text))
		return p.Servers[h.Sum64()%uint64(len(p.Servers))], nil
	}
	if s, ok := p.Values[text]; ok {
		return s, nil
	}
	if p.Other != "" {
		return p.Other, nil
	}
	return "", fmt.Errorf("partition column %q holds %q, which partition.values does not list: add it to values, or set partition.other", p.Column, text)
}

// valueText is the text a partition rule compares: integers in decimal,
// strings as they are, anything else as fmt prints it.
func valueText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int:
		return strconv.Itoa(x)
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

// Placement knows the rule of every placed SurrealDB table.
type Placement struct {
	cfg     config.Surreal
	servers []string         // in use, default first
	tables  map[string]*Rule // by tableKey of the SurrealDB table
}

// tableKey names a SurrealDB table as writes do: namespace and database
// overrides ("" = the server's own) and the table.
func tableKey(ns, db, table string) string { return ns + "/" + db + "/" + table }

// Rules returns the rule of each sync.tables entry that has a server or
// a partition, by PostgreSQL table ("schema.table"), checked against cfg.
// It needs no catalog: the key position of a partition column is bound
// by New.
func Rules(sync config.Sync) map[string]*Rule {
	out := map[string]*Rule{}
	for _, t := range sync.Tables {
		switch {
		case t.Partition.Set():
			p := t.Partition
			out[t.Name] = &Rule{Source: t.Name, Servers: p.PartitionServers(), Partition: &p}
		case t.Server != "" && t.Server != Default:
			out[t.Name] = &Rule{Source: t.Name, Servers: []string{t.Server}}
		}
	}
	return out
}

// Targets maps each SurrealDB table of a rule (the table and its edge
// tables, by name) to the servers holding it. Federation, verify and
// backup use it when they have no shapes.
func Targets(sync config.Sync) map[string][]string {
	out := map[string][]string{}
	rules := Rules(sync)
	for _, t := range sync.Tables {
		r := rules[t.Name]
		if r == nil {
			continue
		}
		out[cmp.Or(t.Target, t.TableName())] = r.Servers
		for _, e := range t.Edges {
			out[e.Name] = r.Servers
		}
	}
	return out
}

// New binds the rules of cfg to the shapes of the replicated tables: a
// partition column must be a key column of its table.
func New(surreal config.Surreal, sync config.Sync, shapes map[string]*mapping.Shape) (*Placement, error) {
	p := &Placement{cfg: surreal, servers: []string{Default}, tables: map[string]*Rule{}}
	for source, r := range Rules(sync) {
		s := shapes[source]
		if s == nil {
			continue // not replicated (excluded, or not there yet)
		}
		if r.Partition != nil {
			r.keyLen = len(s.Key)
			r.keyIndex = slices.Index(s.Key, r.Partition.Column)
			if r.keyIndex < 0 {
				return nil, fmt.Errorf("%s: partition column %q is not part of the key (%s): make it part of the primary key (as PostgreSQL's partitioned tables require), or list it in sync.tables[].key", source, r.Partition.Column, strings.Join(s.Key, ", "))
			}
		}
		p.tables[tableKey(s.Namespace, s.Database, s.Target)] = r
		for _, e := range s.Edges {
			p.tables[tableKey(s.Namespace, s.Database, e.Name)] = r
		}
		for _, name := range r.Servers {
			if !slices.Contains(p.servers, name) {
				p.servers = append(p.servers, name)
			}
		}
	}
	return p, nil
}

// Multi reports whether any table lives outside the default server.
func (p *Placement) Multi() bool { return p != nil && len(p.servers) > 1 }

// Servers lists the servers in use, the default first.
func (p *Placement) Servers() []string {
	if p == nil {
		return []string{Default}
	}
	return p.servers
}

// Config returns how to reach server name.
func (p *Placement) Config(name string) config.Surreal {
	c, _ := p.cfg.Server(name)
	return c
}

// Rule returns the rule of a SurrealDB table as writes name it, or nil
// for a table on the default server.
func (p *Placement) Rule(ns, db, table string) *Rule {
	if p == nil {
		return nil
	}
	return p.tables[tableKey(ns, db, table)]
}

// TableServers lists the servers holding a SurrealDB table.
func (p *Placement) TableServers(ns, db, table string) []string {
	if r := p.Rule(ns, db, table); r != nil {
		return r.Servers
	}
	return []string{Default}
}

// Write returns the servers w goes to: the record's server for a write
// with a record id, every server of the table otherwise (a definition,
// removing all records or edges of a table).
func (p *Placement) Write(w mapping.Write) ([]string, error) {
	r := p.Rule(w.Namespace, w.Database, w.Table)
	if r == nil {
		return []string{Default}, nil
	}
	if w.ID == nil || r.Partition == nil {
		return r.Servers, nil
	}
	s, err := r.ServerOf(w.ID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", w.Source, err)
	}
	return []string{s}, nil
}
