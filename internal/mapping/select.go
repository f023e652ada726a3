package mapping

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
)

// ForwardShapes selects the tables the sync section replicates and shapes
// them as the sync does: what sync, verify and backup agree on.
func ForwardShapes(ctx context.Context, q postgres.Querier, sc config.Sync) ([]*cdc.Table, map[string]*Shape, error) {
	tables, err := SelectTables(ctx, q, sc)
	if err != nil {
		return nil, nil, err
	}
	opts, err := OptionsFor(ctx, q, tables, sc)
	if err != nil {
		return nil, nil, err
	}
	if err := CheckIdentity(tables, opts); err != nil {
		return nil, nil, err
	}
	shapes, err := BuildShapes(tables, opts, sc.Nulls == "omit")
	if err != nil {
		return nil, nil, err
	}
	return tables, shapes, nil
}

// SelectTables lists the tables sync.include/exclude choose.
func SelectTables(ctx context.Context, q postgres.Querier, sc config.Sync) ([]*cdc.Table, error) {
	all, err := postgres.ListTables(ctx, q, nil)
	if err != nil {
		return nil, err
	}
	var out []*cdc.Table
	for _, t := range all {
		if t.Schema == "pgsurreal" { // pgsurreal's own tables (dead letters, logs)
			continue
		}
		in := slices.ContainsFunc(sc.Include, func(p string) bool { return config.MatchPattern(p, t.Schema, t.Name) })
		ex := slices.ContainsFunc(sc.Exclude, func(p string) bool { return config.MatchPattern(p, t.Schema, t.Name) })
		if in && !ex {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no table matches sync.include %v (minus sync.exclude %v): check the patterns (schema.table, * wildcard)", sc.Include, sc.Exclude)
	}
	return out, nil
}

// OptionsFor returns the mapping options of tables: the per-table
// configuration, plus, for a table with REPLICA IDENTITY USING INDEX and
// no configured key, that index's columns as the key (its deletes carry
// only those columns). Sync, verify and the tests shape rows with it.
func OptionsFor(ctx context.Context, q postgres.Querier, tables []*cdc.Table, sc config.Sync) (map[string]*TableOptions, error) {
	out := ConfiguredOptions(sc)
	for _, t := range tables {
		if t.ReplicaIdentity != 'i' {
			continue
		}
		o := out[t.QualifiedName()]
		if o != nil && len(o.Key) > 0 {
			continue
		}
		cols, err := postgres.ReplicaIdentityColumns(ctx, q, t)
		if err != nil {
			return nil, err
		}
		if o == nil {
			o = &TableOptions{}
			out[t.QualifiedName()] = o
		}
		o.Key = cols
	}
	return out, nil
}

// ConfiguredOptions converts the per-table configuration for the mapping.
func ConfiguredOptions(sc config.Sync) map[string]*TableOptions {
	out := map[string]*TableOptions{}
	for _, t := range sc.Tables {
		o := &TableOptions{
			Target: t.Target, Namespace: t.Namespace, Database: t.Database,
			Key: t.Key, Columns: t.Columns, ExcludeColumns: t.ExcludeColumns, Transforms: t.Transforms,
		}
		for _, e := range t.Edges {
			o.Edges = append(o.Edges, EdgeOptions{Columns: e.Columns, Name: e.Name})
		}
		out[t.SchemaName()+"."+t.TableName()] = o
	}
	return out
}

// CheckIdentity refuses tables whose updates and deletes could not be
// applied: no primary key and no configured key, or a configured key
// without REPLICA IDENTITY FULL.
func CheckIdentity(tables []*cdc.Table, opts map[string]*TableOptions) error {
	var bad []string
	for _, t := range tables {
		o := opts[t.QualifiedName()]
		switch {
		case len(t.PrimaryKey) == 0 && (o == nil || len(o.Key) == 0):
			bad = append(bad, fmt.Sprintf("  %s: no primary key; add one, or set sync.tables[].key and run ALTER TABLE %s REPLICA IDENTITY FULL, or exclude it", t.QualifiedName(), postgres.QualifiedIdent(t.Schema, t.Name)))
		case len(t.PrimaryKey) == 0 && t.ReplicaIdentity != 'f':
			bad = append(bad, fmt.Sprintf("  %s: a configured key needs REPLICA IDENTITY FULL: ALTER TABLE %s REPLICA IDENTITY FULL", t.QualifiedName(), postgres.QualifiedIdent(t.Schema, t.Name)))
		case t.ReplicaIdentity == 'n':
			bad = append(bad, fmt.Sprintf("  %s: REPLICA IDENTITY NOTHING hides the keys of updates and deletes: ALTER TABLE %s REPLICA IDENTITY DEFAULT", t.QualifiedName(), postgres.QualifiedIdent(t.Schema, t.Name)))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("sync cannot replicate these tables:\n%s", strings.Join(bad, "\n"))
	}
	return nil
}
