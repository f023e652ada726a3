package federation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	gosync "sync"

	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/mapping"
	"github.com/pgsurreal/pgsurreal/internal/route"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// servers knows where SurrealDB tables live (route.Targets: a table
// routed whole to another server, or partitioned over several) and holds
// a connection pool per server: the caller's pool for the default
// server, one opened on first use for each other one, closed with the
// engine. A table sync.tables does not place lives on the default server.
type servers struct {
	cfg config.Surreal
	log *slog.Logger
	// targets maps a SurrealDB table (the table a sync.tables entry
	// writes, and its edge tables) to the servers holding it.
	targets map[string][]string
	// partitions are the partition rules, by the partitioned SurrealDB
	// table (not its edge tables, which do not have the column).
	partitions map[string]config.Partition
	def        *surreal.Pool

	mu    gosync.Mutex
	pools map[string]*lazyPool
}

// lazyPool is a pool opened on first use; a failed attempt is retried by
// the next query.
type lazyPool struct {
	mu   gosync.Mutex
	pool *surreal.Pool
}

func newServers(def *surreal.Pool, cfg config.Surreal, sync config.Sync, log *slog.Logger) *servers {
	s := &servers{cfg: cfg, log: log, def: def, targets: route.Targets(sync), partitions: map[string]config.Partition{}, pools: map[string]*lazyPool{}}
	for _, t := range sync.Tables {
		if t.Partition.Set() {
			s.partitions[or(t.Target, t.TableName())] = t.Partition
		}
	}
	return s
}

// of lists the servers holding table, in the order reads report them.
func (s *servers) of(table string) []string {
	if list, ok := s.targets[table]; ok && len(list) > 0 {
		return list
	}
	return []string{route.Default}
}

// partitioned reports whether table spreads over several servers: its
// rows are then the union of every server's.
func (s *servers) partitioned(table string) bool { return len(s.of(table)) > 1 }

// inUse lists every server some table lives on, the default first.
func (s *servers) inUse() []string {
	out := []string{route.Default}
	for _, list := range s.targets {
		for _, name := range list {
			if !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	slices.Sort(out[1:])
	return out
}

// pool returns the connection pool of server name, opening it on first
// use.
func (s *servers) pool(ctx context.Context, name string) (*surreal.Pool, error) {
	if name == "" || name == route.Default {
		return s.def, nil
	}
	s.mu.Lock()
	lp := s.pools[name]
	if lp == nil {
		lp = &lazyPool{}
		s.pools[name] = lp
	}
	s.mu.Unlock()
	lp.mu.Lock()
	defer lp.mu.Unlock()
	if lp.pool != nil {
		return lp.pool, nil
	}
	cfg, ok := s.cfg.Server(name)
	if !ok {
		pe := pgError(codeConnFailure, "SurrealDB server %q is not configured", name)
		pe.Hint = "sync.tables places a table on it: add it to surreal.servers"
		return nil, pe
	}
	p, err := surreal.NewPool(ctx, cfg, s.log.With("server", name))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		pe := pgError(codeConnFailure, "SurrealDB server %q is unreachable: %v", name, err)
		pe.Hint = "check that SurrealDB runs at the url of surreal.servers entry " + name + "; pgsurreal reconnects on the next query"
		return nil, pe
	}
	lp.pool = p
	return p, nil
}

// close closes the pools opened for other servers (the default one is
// the caller's).
func (s *servers) close(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for name, lp := range s.pools {
		lp.mu.Lock()
		if lp.pool != nil {
			if err := lp.pool.Close(ctx); err != nil {
				errs = append(errs, fmt.Errorf("closing SurrealDB server %q: %w", name, err))
			}
			lp.pool = nil
		}
		lp.mu.Unlock()
	}
	return errors.Join(errs...)
}

// narrow returns the servers a scan of a partitioned table needs: when
// a pushed predicate fixes the partition column (= or IN), only the
// servers of those values; else every server of the table. The sync
// places a row by its partition column's value (route.ServerForValue),
// so the rows of one value are on its server alone.
func (s *servers) narrow(sc *scan, params []any) []string {
	all := s.of(sc.table.name)
	p, ok := s.partitions[sc.table.name]
	if !ok || len(all) < 2 {
		return all
	}
	out := all
	for _, pr := range sc.preds {
		if (pr.op != "=" && pr.op != "IN") || !partitionColumn(pr.col, p) {
			continue
		}
		var these []string
		pushed := true
		for _, a := range pr.args {
			v, ok := kindValue(pr.col.Exact, a.resolve(params))
			if !ok {
				pushed = false // left to PostgreSQL: says nothing here
				break
			}
			if name, err := route.ServerForValue(p, v); err == nil && !slices.Contains(these, name) {
				these = append(these, name) // (an error: no server takes such a row)
			}
		}
		if pushed {
			out = slices.DeleteFunc(slices.Clone(out), func(name string) bool { return !slices.Contains(these, name) })
		}
	}
	if len(out) == 0 {
		return all[:1] // no server holds a match: one answers, with none
	}
	return out
}

// partitionColumn reports whether col holds the partition column's value
// as the record id does: the field of that name, of a kind whose text
// route.ServerForValue reads alike.
func partitionColumn(col mapping.ShapeColumn, p config.Partition) bool {
	return len(col.Path) == 1 && col.Path[0] == p.Column && (col.Exact == "int" || col.Exact == "string")
}

// keysByServer splits the join keys of a scan of a partitioned table by
// the server holding their rows, when the join column is the partition
// column (the field, or the record id of a table keyed by that column
// alone); nil when it is not (every server is then asked for all keys).
func (s *servers) keysByServer(sc *scan, keys []any) map[string][]any {
	p, ok := s.partitions[sc.table.name]
	if !ok || len(s.of(sc.table.name)) < 2 {
		return nil
	}
	col := sc.bind.col
	isID := col.Key && col.Path == nil && col.Name == p.Column && len(sc.table.shape.KeyColumns()) == 1
	if !isID && !partitionColumn(col, p) {
		return nil
	}
	out := map[string][]any{}
	for _, k := range keys {
		v := k
		if isID {
			id, ok := k.(models.RecordID)
			if !ok {
				return nil
			}
			v = id.ID
		}
		if name, err := route.ServerForValue(p, v); err == nil {
			out[name] = append(out[name], k) // (an error: no server takes it)
		}
	}
	return out
}

// serversText lists server names for EXPLAIN.
func serversText(names []string) string { return strings.Join(names, ", ") }
