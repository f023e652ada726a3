package backup

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/route"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/surreal/sink"
)

// surrealServer is one SurrealDB server a backup exports.
type surrealServer struct {
	name string
	// cfg reaches it, with its own namespace/database (where it stores
	// the sync's position).
	cfg config.Surreal
	url string // without credentials
	cl  *surreal.Client
}

// surrealServers lists the SurrealDB servers that hold data: the default
// (the surreal section), then, in the order of surreal.servers, each one
// a sync.tables entry routes or partitions a table to (route.Targets).
// Servers no table uses hold nothing of pgsurreal's and are left out.
func surrealServers(sc config.Surreal, sy config.Sync) ([]*surrealServer, error) {
	used := map[string]bool{}
	for _, names := range route.Targets(sy) {
		for _, n := range names {
			used[n] = true
		}
	}
	var out []*surrealServer
	for _, name := range sc.ServerNames() {
		if name != route.Default && !used[name] {
			continue
		}
		delete(used, name)
		cfg, _ := sc.Server(name)
		out = append(out, &surrealServer{name: name, cfg: cfg, url: publicURL(cfg.URL)})
	}
	if len(used) > 0 {
		name := slices.Sorted(maps.Keys(used))[0]
		return nil, fmt.Errorf("sync.tables places tables on SurrealDB server %q, which surreal.servers does not define: add it there, or place the tables on one of %v", name, sc.ServerNames())
	}
	return out, nil
}

// publicURL is a server's URL as a manifest, a log or an error may show
// it: no user, password, query or fragment.
func publicURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(not a URL)"
	}
	u.User = nil
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
	return u.String()
}

// connect signs in to every server, using its own namespace/database.
func connect(ctx context.Context, servers []*surrealServer) error {
	for _, s := range servers {
		cl, err := surreal.Connect(ctx, s.cfg, nil)
		if err != nil {
			return fmt.Errorf("SurrealDB server %q (%s): %w", s.name, s.url, err)
		}
		s.cl = cl
	}
	return nil
}

func disconnect(ctx context.Context, servers []*surrealServer) {
	for _, s := range servers {
		if s.cl != nil {
			_ = s.cl.Close(context.WithoutCancel(ctx))
			s.cl = nil
		}
	}
}

// serverPositions reads the sync's position for slot on every server
// (nil where a server holds none).
func serverPositions(ctx context.Context, servers []*surrealServer, slot string) ([]*sink.Position, error) {
	out := make([]*sink.Position, len(servers))
	for i, s := range servers {
		p, err := readPosition(ctx, s.cl, slot)
		if err != nil {
			return nil, fmt.Errorf("SurrealDB server %q: %w", s.name, err)
		}
		out[i] = p
	}
	return out, nil
}

// oldestPosition is where the sync as a whole is, as the sync itself
// resumes: the oldest of the servers' positions, in phase snapshot if any
// server is. A server holding none while others do puts it at zero (the
// sync cannot resume from such servers); nil when no server holds one.
func oldestPosition(ps []*sink.Position) *sink.Position {
	if !slices.ContainsFunc(ps, func(p *sink.Position) bool { return p != nil }) {
		return nil
	}
	var oldest *sink.Position
	snapshot := false
	for _, p := range ps {
		if p == nil {
			return &sink.Position{}
		}
		snapshot = snapshot || p.Phase == phaseSnapshot
		if oldest == nil || p.LSN < oldest.LSN {
			q := *p
			oldest = &q
		}
	}
	if snapshot {
		oldest.Phase = phaseSnapshot
	}
	return oldest
}

// The sync's phases, as it stores them with its position.
const (
	phaseSnapshot  = "snapshot"
	phaseStreaming = "streaming"
)
