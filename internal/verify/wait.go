package verify

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/postgres/logrepl"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/surreal/sink"
	"github.com/pgsurreal/pgsurreal/internal/surreal/source"
)

// waitSync lets the sync apply everything PostgreSQL committed so far:
// it commits a heartbeat message (which the sync applies as a position
// move) and waits until the position stored on every SurrealDB server in
// use passes it (each server stores the position with its share of the
// writes). When the sync does not get there within verify.wait_timeout,
// the run goes on without waiting again, and the report says so.
func (v *verifier) waitSync(ctx context.Context) error {
	if v.behind["sync"] {
		return nil
	}
	target, err := logrepl.EmitHeartbeat(ctx, v.pool)
	if err != nil {
		return err
	}
	servers := v.place.Servers()
	at := make(map[string]cdc.LSN, len(servers))
	read := func(ctx context.Context) (*sink.Position, error) {
		return v.oldestPosition(ctx, servers, at)
	}
	oldest, ok, err := sink.WaitApplied(ctx, read, target, v.cfg.Verify.WaitTimeout.Duration)
	if err != nil || ok {
		return err
	}
	v.behind["sync"] = true
	where := oldest.String()
	if len(servers) > 1 {
		each := make([]string, len(servers))
		for i, name := range servers {
			each[i] = fmt.Sprintf("%s on server %s", at[name], name)
		}
		where = strings.Join(each, ", ")
	}
	v.note("the sync did not reach PostgreSQL's WAL position %s within verify.wait_timeout (%s; it is at %s): is `pgsurreal serve` or `pgsurreal sync` running? Differences of PostgreSQL tables may include changes not replicated yet",
		target, v.cfg.Verify.WaitTimeout, where)
	return nil
}

// oldestPosition reads the sync's position on each server (into at) and
// returns the oldest; a server holding none counts as position 0.
func (v *verifier) oldestPosition(ctx context.Context, servers []string, at map[string]cdc.LSN) (*sink.Position, error) {
	var oldest *sink.Position
	for _, name := range servers {
		var pos *sink.Position
		err := v.surrealOn(ctx, name, "", "", func(ctx context.Context, db *surrealdb.DB) (err error) {
			pos, err = sink.ReadPosition(ctx, db, v.cfg.Sync.Slot)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("reading the sync position on SurrealDB server %s: %w", name, err)
		}
		if pos == nil {
			pos = &sink.Position{}
		}
		at[name] = cdc.LSN(pos.LSN)
		if oldest == nil || pos.LSN < oldest.LSN {
			oldest = pos
		}
	}
	return oldest, nil
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
