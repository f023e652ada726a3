package verify

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/postgres/logrepl"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/surreal/sink"
	"github.com/pgsurreal/pgsurreal/internal/surreal/source"
)

// waitSync lets the sync apply everything PostgreSQL committed so far:
// it commits a heartbeat message (which the sync applies as a position
// move) and waits until the stored position passes it. When the sync
// does not get there within verify.wait_timeout, the run goes on without
// waiting again, and the report says so.
func (v *verifier) waitSync(ctx context.Context) error {
	if v.behind["sync"] {
		return nil
	}
	var text string
	if err := v.pool.QueryRow(ctx, "SELECT pg_logical_emit_message(true, $1, '')::text", logrepl.HeartbeatPrefix).Scan(&text); err != nil {
		return fmt.Errorf("taking PostgreSQL's WAL position: %w", err)
	}
	target, err := pglogrepl.ParseLSN(text)
	if err != nil {
		return err
	}
	var at uint64
	ok, err := v.poll(ctx, func(ctx context.Context) (bool, error) {
		at, err = v.syncPosition(ctx)
		return at >= uint64(target), err
	})
	if err != nil || ok {
		return err
	}
	v.behind["sync"] = true
	v.note("the sync did not reach PostgreSQL's WAL position %s within verify.wait_timeout (%s; it is at %s): is `pgsurreal serve` or `pgsurreal sync` running? Differences of PostgreSQL tables may include changes not replicated yet",
		target, v.cfg.Verify.WaitTimeout, pglogrepl.LSN(at))
	return nil
}

// syncPosition is the WAL position the sync has applied (0 without one).
func (v *verifier) syncPosition(ctx context.Context) (uint64, error) {
	var res *[]surrealdb.QueryResult[[]sink.Position]
	err := v.sur.Do(ctx, func(ctx context.Context, cl *surreal.Client) (err error) {
		res, err = surrealdb.Query[[]sink.Position](ctx, cl.DB, "SELECT lsn FROM type::record($t, $slot)",
			map[string]any{"t": sink.PositionTable, "slot": v.cfg.Sync.Slot})
		return err
	})
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return 0, nil
		}
		return 0, err
	}
	if len(*res) == 0 || len((*res)[0].Result) == 0 {
		return 0, nil
	}
	return uint64((*res)[0].Result[0].LSN), nil
}

// waitReverse lets the reverse direction apply everything SurrealDB
// committed so far: it takes the versionstamp of now (a marker write)
// and waits until the reverse position in PostgreSQL passes it.
func (v *verifier) waitReverse(ctx context.Context) error {
	if v.behind["reverse"] {
		return nil
	}
	var now uint64
	err := v.sur.Do(ctx, func(ctx context.Context, cl *surreal.Client) (err error) {
		now, err = source.Now(ctx, cl, v.cfg.Reverse.Retention.Duration)
		return err
	})
	if err != nil {
		return err
	}
	key := v.cfg.Surreal.Namespace + "/" + v.cfg.Surreal.Database
	sql := "SELECT versionstamp::text FROM " + postgres.QualifiedIdent(v.cfg.Reverse.Schema, "reverse_position") + " WHERE source = $1"
	var at uint64
	ok, err := v.poll(ctx, func(ctx context.Context) (bool, error) {
		var text string
		if err := v.pool.QueryRow(ctx, sql, key).Scan(&text); err != nil {
			if strings.Contains(err.Error(), "does not exist") || strings.Contains(err.Error(), "no rows") {
				return false, nil
			}
			return false, err
		}
		at, _ = strconv.ParseUint(text, 10, 64)
		return at >= now, nil
	})
	if err != nil || ok {
		return err
	}
	v.behind["reverse"] = true
	v.note("the reverse direction did not reach SurrealDB's versionstamp %d within verify.wait_timeout (%s; it is at %d): is `pgsurreal serve` or `pgsurreal reverse` running? Differences of reverse tables may include changes not replicated yet",
		now, v.cfg.Verify.WaitTimeout, at)
	return nil
}

// poll calls done until it reports true or verify.wait_timeout passes.
func (v *verifier) poll(ctx context.Context, done func(context.Context) (bool, error)) (bool, error) {
	deadline := time.Now().Add(v.cfg.Verify.WaitTimeout.Duration)
	pause := 2 * time.Millisecond
	for {
		ok, err := done(ctx)
		if err != nil || ok {
			return ok, err
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(pause):
		}
		pause = min(pause*2, 50*time.Millisecond)
	}
}

// surrealDo runs fn on a SurrealDB connection using namespace ns and
// database db (the configured ones when empty).
func (v *verifier) surrealDo(ctx context.Context, ns, db string, fn func(context.Context, *surrealdb.DB) error) error {
	if ns == "" && db == "" {
		return v.sur.Do(ctx, func(ctx context.Context, cl *surreal.Client) error { return fn(ctx, cl.DB) })
	}
	cl, err := surreal.Connect(ctx, v.cfg.Surreal, nil)
	if err != nil {
		return err
	}
	defer cl.Close(context.WithoutCancel(ctx))
	if err := cl.DB.Use(ctx, or(ns, v.cfg.Surreal.Namespace), or(db, v.cfg.Surreal.Database)); err != nil {
		return err
	}
	return fn(ctx, cl.DB)
}
