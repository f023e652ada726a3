package federation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/pgsurreal/pgsurreal/internal/postgres/logrepl"
	"github.com/pgsurreal/pgsurreal/internal/route"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/surreal/sink"
)

// waited is what read_your_writes waited for.
type waited struct {
	lsn  uint64
	took time.Duration
}

// waitForSync makes the sync's progress pass PostgreSQL's current WAL
// position: it commits a logical decoding message (the sync's heartbeat
// kind, on a pool connection so no client transaction holds it back) and
// waits until the sync has applied a transaction at or past it. With the
// cache on, it waits for the cache's applied mark, which the sync sets
// after invalidating, so no entry older than the position is served
// either. Without the cache it waits for each of servers (nil: every
// server a table lives on) to store a position at or past it: each
// stores the position with its share of the writes.
func (e *Engine) waitForSync(ctx context.Context, servers []string) (waited, error) {
	if servers == nil {
		servers = e.srv.inUse()
	}
	began := timeNow()
	lsn, err := logrepl.EmitHeartbeat(ctx, e.o.PG)
	if err != nil {
		return waited{}, fmt.Errorf("read_your_writes: %w", err)
	}
	target := pglogrepl.LSN(lsn)
	wctx, cancel := context.WithTimeout(ctx, e.o.Config.WaitTimeout.Duration)
	defer cancel()
	pause := time.Millisecond
	var at uint64
	var behind string // the server at at; at and behind are from the last read that worked
	for {
		low, server, err := e.appliedLSN(wctx, servers)
		if err == nil {
			at, behind = low, server
			if at >= uint64(target) {
				return waited{lsn: uint64(target), took: timeNow().Sub(began)}, nil
			}
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return waited{}, fmt.Errorf("read_your_writes: reading the sync's position: %w", err)
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return waited{}, ctx.Err()
			}
			where := ""
			if behind != "" && behind != route.Default {
				where = " on SurrealDB server " + behind
			}
			pe := pgError(codeTimeout, "read_your_writes: the sync has not applied PostgreSQL's WAL position %s within federation.wait_timeout (%s); it is at %s%s",
				target, e.o.Config.WaitTimeout, pglogrepl.LSN(at), where)
			pe.Hint = "is `pgsurreal serve` (or `pgsurreal sync`) running and keeping up? Its lag is pgsurreal_sync_lag_seconds; raise federation.wait_timeout, or read with consistency eventual"
			return waited{}, pe
		case <-time.After(pause):
		}
		pause = min(pause*2, 20*time.Millisecond)
	}
}

// appliedLSN is the sync's applied position: the cache's mark when the
// cache is on, else the lowest position stored on servers, with the
// server that has it.
func (e *Engine) appliedLSN(ctx context.Context, servers []string) (uint64, string, error) {
	if e.cache != nil {
		at, err := e.cache.applied(ctx)
		return at, "", err
	}
	var low uint64
	var behind string
	for i, name := range servers {
		pool, err := e.srv.pool(ctx, name)
		if err != nil {
			return 0, name, err
		}
		var pos *sink.Position
		err = pool.Do(ctx, func(ctx context.Context, cl *surreal.Client) (err error) {
			pos, err = sink.ReadPosition(ctx, cl.DB, e.o.Slot)
			return err
		})
		if err != nil {
			return 0, name, err
		}
		if pos == nil {
			return 0, name, nil // no position yet: the sync has not stored one there
		}
		if at := uint64(pos.LSN); i == 0 || at < low {
			low, behind = at, name
		}
	}
	return low, behind, nil
}

// servers lists the SurrealDB servers the statement reads: those of its
// tables, and the default one for surreal.query() calls.
func (s *Statement) servers() []string {
	var out []string
	add := func(names []string) {
		for _, n := range names {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	if len(s.funcs) > 0 {
		add([]string{route.Default})
	}
	for _, sc := range s.scans {
		add(s.e.srv.of(sc.table.name))
	}
	for _, a := range s.aggs {
		add(s.e.srv.of(a.table.name))
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func lsnText(l uint64) string { return pglogrepl.LSN(l).String() }
