package federation

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	surrealdb "github.com/surrealdb/surrealdb.go"

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
	var text string
	if err := e.o.PG.QueryRow(ctx, "SELECT pg_logical_emit_message(true, $1, '')::text", logrepl.HeartbeatPrefix).Scan(&text); err != nil {
		return waited{}, fmt.Errorf("read_your_writes: taking PostgreSQL's WAL position: %w", err)
	}
	target, err := pglogrepl.ParseLSN(text)
	if err != nil {
		return waited{}, err
	}
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
	var res *[]surrealdb.QueryResult[[]sink.Position]
	err := e.o.Surreal.Do(ctx, func(ctx context.Context, cl *surreal.Client) (err error) {
		res, err = surrealdb.Query[[]sink.Position](ctx, cl.DB,
			"SELECT lsn FROM type::record($t, $slot)", map[string]any{"t": sink.PositionTable, "slot": e.o.Slot})
		return err
	})
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return 0, nil // the sync has not stored a position yet
		}
		return 0, err
	}
	if len(*res) == 0 || len((*res)[0].Result) == 0 {
		return 0, nil
	}
	return uint64((*res)[0].Result[0].LSN), nil
}

func lsnText(l uint64) string { return pglogrepl.LSN(l).String() }
