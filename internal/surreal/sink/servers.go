package sink

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/pgsurreal/pgsurreal/internal/mapping"
	"github.com/pgsurreal/pgsurreal/internal/route"
)

// servers spreads a sink's writes over several SurrealDB servers
// (route.Placement): the Sink itself writes to the default server, a peer
// Sink to each other one.
//
// Each server stores the position in the transaction of its share of
// the writes, and every Apply stores it on every server, so a server's
// position says which source transactions it holds. After a crash the
// sync resumes from the oldest of them; a server whose position is ahead
// skips the transactions it already holds, so none is applied twice.
type servers struct {
	place *route.Placement
	peers map[string]*Sink // by server name, not the default
	// stored is each server's position as last read or written;
	// known says ReadPosition has filled it.
	mu     sync.Mutex
	stored map[string]int64
	known  bool
}

// Place spreads the writes of s over the servers of p, connecting to
// those it has no connection to yet. A placement with the default server
// alone writes everything through s, as without one.
func (s *Sink) Place(ctx context.Context, p *route.Placement) error {
	if !p.Multi() {
		if s.servers != nil {
			for _, peer := range s.servers.peers {
				_ = peer.Close(ctx)
			}
		}
		s.servers = nil
		return nil
	}
	old := s.servers
	sv := &servers{place: p, peers: map[string]*Sink{}, stored: map[string]int64{}}
	if old != nil {
		sv.stored, sv.known = old.stored, old.known
	}
	for _, name := range p.Servers() {
		if name == route.Default {
			continue
		}
		if old != nil && old.peers[name] != nil {
			sv.peers[name] = old.peers[name]
			continue
		}
		peer, err := Open(ctx, p.Config(name), s.slot, s.log.With("server", name))
		if err != nil {
			for _, opened := range sv.peers {
				_ = opened.Close(ctx)
			}
			return fmt.Errorf("SurrealDB server %q: %w", name, err)
		}
		sv.peers[name] = peer
	}
	s.servers = sv
	return nil
}

// On returns the sink writing to server name (the default server is s).
func (s *Sink) On(name string) *Sink {
	if s.servers == nil || name == route.Default {
		return s
	}
	if peer := s.servers.peers[name]; peer != nil {
		return peer
	}
	return s
}

// Placement is the placement of Place, or nil.
func (s *Sink) Placement() *route.Placement {
	if s.servers == nil {
		return nil
	}
	return s.servers.place
}

func (s *Sink) peers() map[string]*Sink {
	if s.servers == nil {
		return nil
	}
	return s.servers.peers
}

// each runs f on every server's sink at once, the default first in the
// error order, and returns the errors joined (a retryable one first, so
// the caller retries).
func (sv *servers) each(def *Sink, f func(name string, s *Sink) error) error {
	names := sv.place.Servers()
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		target := def
		if name != route.Default {
			target = sv.peers[name]
		}
		wg.Go(func() {
			if err := f(name, target); err != nil {
				errs[i] = err
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && IsRetryable(err) {
			return err
		}
	}
	return errors.Join(errs...)
}

// split sorts ws by server, keeping their order within each.
func (sv *servers) split(ws []mapping.Write) (map[string][]mapping.Write, error) {
	out := map[string][]mapping.Write{}
	for i := range ws {
		names, err := sv.place.Write(ws[i])
		if err != nil {
			return nil, &ApplyError{Source: ws[i].Source, Msg: strings.TrimPrefix(err.Error(), ws[i].Source+": "), unplaced: true}
		}
		for _, name := range names {
			out[name] = append(out[name], ws[i])
		}
	}
	return out, nil
}

// readPosition reads every server's position and returns the oldest.
// Servers that hold none while others do were added or wiped since.
func (sv *servers) readPosition(ctx context.Context, def *Sink) (*Position, error) {
	var mu sync.Mutex
	got := map[string]*Position{}
	err := sv.each(def, func(name string, s *Sink) error {
		p, err := s.readPosition(ctx)
		mu.Lock()
		got[name] = p
		mu.Unlock()
		return err
	})
	if err != nil {
		return nil, err
	}
	var oldest *Position
	var missing, holding []string
	snapshot := false
	for _, name := range sv.place.Servers() {
		p := got[name]
		if p == nil {
			missing = append(missing, name)
			continue
		}
		holding = append(holding, name)
		if oldest == nil || p.LSN < oldest.LSN {
			oldest = p
		}
		if p.Phase == "snapshot" {
			snapshot = true
		}
	}
	// One server still in the snapshot makes the whole an unfinished one.
	if oldest != nil && snapshot {
		q := *oldest
		q.Phase = "snapshot"
		oldest = &q
	}
	if len(missing) > 0 && len(holding) > 0 {
		return nil, &ApplyError{Msg: fmt.Sprintf("SurrealDB servers %q hold no replication position for slot %q while %q do: a server was added to the placement or wiped; run `pgsurreal sync --resync` to copy everything again onto the servers", missing, def.slot, holding)}
	}
	sv.mu.Lock()
	for name, p := range got {
		if p != nil {
			sv.stored[name] = p.LSN
		}
	}
	sv.known = true
	sv.mu.Unlock()
	return oldest, nil
}

// holds reports whether server name already holds the transaction ending
// at pos (a replay after a crash).
func (sv *servers) holds(name string, pos Position) bool {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	lsn, ok := sv.stored[name]
	return sv.known && ok && pos.Phase == "streaming" && pos.LSN <= lsn
}

func (sv *servers) store(name string, pos Position) {
	sv.mu.Lock()
	sv.stored[name] = pos.LSN
	sv.mu.Unlock()
}

// apply writes each server's share of ws with pos, skipping the servers
// that already hold it. Every server stores pos, with writes or without.
func (sv *servers) apply(ctx context.Context, def *Sink, ws []mapping.Write, pos Position) error {
	parts, err := sv.split(ws)
	if err != nil {
		return err
	}
	return sv.each(def, func(name string, s *Sink) error {
		if sv.holds(name, pos) {
			s.cancel(ctx) // parts of a large transaction it already holds
			return nil
		}
		if err := s.apply(ctx, parts[name], pos); err != nil {
			return err
		}
		sv.store(name, pos)
		return nil
	})
}

// applyPart writes each server's share of one part of a large source
// transaction into its open interactive transaction.
func (sv *servers) applyPart(ctx context.Context, def *Sink, ws []mapping.Write) error {
	parts, err := sv.split(ws)
	if err != nil {
		return err
	}
	return sv.each(def, func(name string, s *Sink) error {
		if len(parts[name]) == 0 {
			return nil
		}
		return s.applyPart(ctx, parts[name])
	})
}

// repair writes each server's share of ws (verify's repairs).
func (sv *servers) repair(ctx context.Context, def *Sink, ws []mapping.Write, name string) error {
	parts, err := sv.split(ws)
	if err != nil {
		return err
	}
	return sv.each(def, func(server string, s *Sink) error {
		if len(parts[server]) == 0 {
			return nil
		}
		return s.repair(ctx, parts[server], name)
	})
}
