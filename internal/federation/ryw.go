package federation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/pgsurreal/pgsurreal/internal/postgres/logrepl"
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
// either.
func (e *Engine) waitForSync(ctx context.Context) (waited, error) {
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
	for {
		at, err = e.appliedLSN(wctx)
		if err == nil && at >= uint64(target) {
			return waited{lsn: uint64(target), took: timeNow().Sub(began)}, nil
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return waited{}, fmt.Errorf("read_your_writes: reading the sync's position: %w", err)
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return waited{}, ctx.Err()
			}
			pe := pgError(codeTimeout, "read_your_writes: the sync has not applied PostgreSQL's WAL position %s within federation.wait_timeout (%s); it is at %s",
				target, e.o.Config.WaitTimeout, pglogrepl.LSN(at))
			pe.Hint = "is `pgsurreal serve` (or `pgsurreal sync`) running and keeping up? Its lag is pgsurreal_sync_lag_seconds; raise federation.wait_timeout, or read with consistency eventual"
			return waited{}, pe
		case <-time.After(pause):
		}
		pause = min(pause*2, 20*time.Millisecond)
	}
}

// appliedLSN is the sync's applied position: the cache's mark when the
// cache is on, else the position stored in SurrealDB.
func (e *Engine) appliedLSN(ctx context.Context) (uint64, error) {
	if e.cache != nil {
		return e.cache.applied(ctx)
	}
	var pos *sink.Position
	err := e.o.Surreal.Do(ctx, func(ctx context.Context, cl *surreal.Client) (err error) {
		pos, err = sink.ReadPosition(ctx, cl.DB, e.o.Slot)
		return err
	})
	if err != nil || pos == nil {
		return 0, err // no position yet: the sync has not stored one
	}
	return uint64(pos.LSN), nil
}

func lsnText(l uint64) string { return pglogrepl.LSN(l).String() }
