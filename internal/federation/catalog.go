package federation

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/mapping"
	"github.com/pgsurreal/pgsurreal/internal/route"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/surreal/source"
)

// catalogTTL is how long a table's definition is reused before it is read
// from SurrealDB again.
const catalogTTL = 2 * time.Second

// tableDef is a SurrealDB table as federated SQL sees it.
type tableDef struct {
	name  string
	shape *mapping.ReverseShape
	cols  []mapping.ShapeColumn
	index map[string]int
}

func (t *tableDef) col(name string) (mapping.ShapeColumn, int, bool) {
	i, ok := t.index[name]
	if !ok {
		return mapping.ShapeColumn{}, -1, false
	}
	return t.cols[i], i, true
}

// catalog reads and caches table definitions, from the first server
// holding a table that defines it (the sync defines a partitioned table
// on each of its servers).
type catalog struct {
	srv    *servers
	tables map[string]config.FederatedTable
	mu     sync.Mutex
	cache  map[string]catalogEntry
}

type catalogEntry struct {
	def *tableDef
	at  time.Time
}

func newCatalog(srv *servers, cfg config.Federation) *catalog {
	c := &catalog{srv: srv, tables: map[string]config.FederatedTable{}, cache: map[string]catalogEntry{}}
	for _, t := range cfg.Tables {
		c.tables[t.Name] = t
	}
	return c
}

// table returns the definition of SurrealDB table name: a column per
// defined field for a schemafull table; id, doc and the configured
// columns (federation.tables) for a schemaless one.
func (c *catalog) table(ctx context.Context, name string) (*tableDef, error) {
	c.mu.Lock()
	e, ok := c.cache[name]
	c.mu.Unlock()
	if ok && time.Since(e.at) < catalogTTL {
		return e.def, nil
	}
	var def source.Definition
	on := c.srv.of(name)
	for _, server := range on {
		pool, err := c.srv.pool(ctx, server)
		if err != nil {
			return nil, err
		}
		err = pool.Do(ctx, func(ctx context.Context, cl *surreal.Client) (err error) {
			def, err = source.Describe(ctx, cl, name)
			return err
		})
		if err != nil {
			return nil, pgError(codeSurreal, "reading the definition of SurrealDB table %s on server %s: %v", name, server, err)
		}
		if def.Table != "" {
			break
		}
	}
	if def.Table == "" {
		pe := pgError(codeUndefinedTab, "relation \"%s.%s\" does not exist", SurrealSchema, name)
		pe.Hint = "SurrealDB has no table " + name + " in the configured namespace and database (surreal.namespace, surreal.database)"
		if len(on) > 1 || on[0] != route.Default {
			pe.Hint = "SurrealDB has no table " + name + " on the servers sync.tables places it on (" + serversText(on) + "), in their namespace and database"
		}
		return nil, pe
	}
	st, err := mapping.ParseSurrealTable(name, def.Table, def.Fields)
	if err != nil {
		return nil, pgError(codeNotSupported, "not supported: SurrealDB table %s: %v", name, err)
	}
	cfg := c.tables[name]
	shape, err := mapping.NewReverseShape(st, config.ReverseTable{Name: name, Columns: cfg.Columns}, SurrealSchema, name, nil)
	if err != nil {
		return nil, pgError(codeNotSupported, "not supported: SurrealDB table %s: %v", name, err)
	}
	t := &tableDef{name: name, shape: shape, cols: shape.ShapeColumns(), index: map[string]int{}}
	for i, col := range t.cols {
		t.index[col.Name] = i
	}
	c.mu.Lock()
	c.cache[name] = catalogEntry{def: t, at: time.Now()}
	c.mu.Unlock()
	return t, nil
}

// forget drops cached definitions (after SurrealDB refused a query
// built from one, say).
func (c *catalog) forget(name string) {
	c.mu.Lock()
	delete(c.cache, name)
	c.mu.Unlock()
}

func (t *tableDef) String() string { return fmt.Sprintf("%s.%s", SurrealSchema, t.name) }
