package verify

import (
	"context"
	"fmt"
	"sync"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/route"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// Verify over several SurrealDB servers (route.Placement). A table on the
// default server is read as it always was, with one pager. A table routed
// whole to another server is read the same way from that server. A
// partitioned table is read from every server of its rule at once, one
// pager per server, and the record streams are merged in record id order
// (spread), so the chunks compare PostgreSQL with the union at the cost
// of one read of each side. A record read on a server other than the one
// its rule names is taken out of the union and becomes a candidate of its
// own: the re-check reads every server of the table by key, and reports
// it as extra on the server holding it.

// recordReader yields a SurrealDB table's records in record id order.
type recordReader interface {
	// peek returns the next record without taking it; nil at the end.
	peek() (map[string]any, error)
	pop()
	// count is the records read so far, on every server.
	count() int64
	// drain stops reading.
	drain()
}

var (
	_ recordReader = (*pager)(nil)
	_ recordReader = (*spread)(nil)
)

// spread merges the pagers of one table on several servers in record id
// order, setting aside the records found away from their server.
type spread struct {
	pagers []*pager
	names  []string // the server of each pager
	// home is the server a record id belongs on ("" when none).
	home func(id any) string
	at   int // the pager of the record peek returned
	// misplaced are the records read on a server their rule does not
	// name.
	misplaced []candidate
}

func (s *spread) peek() (map[string]any, error) {
	for {
		best := -1
		var bestID any
		var bestRec map[string]any
		for i, p := range s.pagers {
			rec, err := p.peek()
			if err != nil {
				return nil, err
			}
			if rec == nil {
				continue
			}
			id := recordKey(rec)
			if best < 0 || compareIDs(id, bestID) < 0 {
				best, bestID, bestRec = i, id, rec
			}
		}
		if best < 0 {
			return nil, nil
		}
		if s.home(bestID) != s.names[best] {
			s.misplaced = append(s.misplaced, candidate{id: bestID})
			s.pagers[best].pop()
			continue
		}
		s.at = best
		return bestRec, nil
	}
}

func (s *spread) pop() { s.pagers[s.at].pop() }

func (s *spread) count() int64 {
	var n int64
	for _, p := range s.pagers {
		n += p.records
	}
	return n
}

func (s *spread) drain() {
	for _, p := range s.pagers {
		p.drain()
	}
}

// servers lists the servers holding the table's records, the default
// alone for a table without a rule.
func (f *forward) servers() []string {
	if f.rule == nil {
		return []string{route.Default}
	}
	return f.rule.Servers
}

// home returns the server the record with id belongs on, or "" when the
// table's partition rule names none (a value partition.values does not
// list, with no partition.other).
func (f *forward) home(id any) string {
	if f.rule == nil {
		return route.Default
	}
	s, err := f.rule.ServerOf(id)
	if err != nil {
		return ""
	}
	return s
}

// reader starts reading replica table on every server of the table.
func (f *forward) reader(ctx context.Context, table string) (recordReader, error) {
	servers := f.servers()
	if len(servers) == 1 {
		cfg, err := f.v.serverConfig(servers[0])
		if err != nil {
			return nil, err
		}
		return newPager(ctx, cfg, f.shape.Namespace, f.shape.Database, table)
	}
	s := &spread{home: f.home}
	for _, name := range servers {
		cfg, err := f.v.serverConfig(name)
		if err == nil {
			var p *pager
			if p, err = newPager(ctx, cfg, f.shape.Namespace, f.shape.Database, table); err == nil {
				s.pagers, s.names = append(s.pagers, p), append(s.names, name)
				continue
			}
		}
		s.drain()
		return nil, fmt.Errorf("SurrealDB server %s: %w", name, err)
	}
	return s, nil
}

// serverConfig is how to reach server name.
func (v *verifier) serverConfig(name string) (config.Surreal, error) {
	cfg, ok := v.cfg.Surreal.Server(name)
	if !ok {
		return cfg, fmt.Errorf("sync.tables names SurrealDB server %q, which surreal.servers does not list", name)
	}
	return cfg, nil
}

// serverClients are the connections to the servers other than the
// default one, opened on first use and kept for the run.
type serverClients struct {
	mu      sync.Mutex
	clients map[string]*surreal.Client
}

func (sc *serverClients) get(ctx context.Context, v *verifier, name string) (*surreal.Client, error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if cl := sc.clients[name]; cl != nil && !cl.IsDead() {
		return cl, nil
	}
	cfg, err := v.serverConfig(name)
	if err != nil {
		return nil, err
	}
	cl, err := surreal.Connect(ctx, cfg, v.log)
	if err != nil {
		return nil, fmt.Errorf("SurrealDB server %s: %w", name, err)
	}
	if sc.clients == nil {
		sc.clients = map[string]*surreal.Client{}
	}
	if old := sc.clients[name]; old != nil {
		_ = old.Close(context.WithoutCancel(ctx))
	}
	sc.clients[name] = cl
	return cl, nil
}

func (sc *serverClients) close() {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for _, cl := range sc.clients {
		_ = cl.Close(context.Background())
	}
	sc.clients = nil
}

// surrealOn runs fn on a connection to SurrealDB server name using
// namespace ns and database db (the server's own when empty).
func (v *verifier) surrealOn(ctx context.Context, name, ns, db string, fn func(context.Context, *surrealdb.DB) error) error {
	if name == route.Default && ns == "" && db == "" {
		return v.sur.Do(ctx, func(ctx context.Context, cl *surreal.Client) error { return fn(ctx, cl.DB) })
	}
	if ns == "" && db == "" {
		cl, err := v.others.get(ctx, v, name)
		if err != nil {
			return err
		}
		return fn(ctx, cl.DB)
	}
	cfg, err := v.serverConfig(name)
	if err != nil {
		return err
	}
	cl, err := surreal.Connect(ctx, cfg, nil)
	if err != nil {
		return err
	}
	defer cl.Close(context.WithoutCancel(ctx))
	if err := cl.DB.Use(ctx, or(ns, cfg.Namespace), or(db, cfg.Database)); err != nil {
		return err
	}
	return fn(ctx, cl.DB)
}
