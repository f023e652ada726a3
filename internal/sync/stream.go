package sync

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/mapping"
	"github.com/pgsurreal/pgsurreal/internal/postgres/logrepl"
)

// streamLoop streams from `from` until ctx ends, reconnecting after
// connection errors. After a reconnect it resumes from the position
// stored in SurrealDB, the only authority on what has been applied.
func (p *Pipeline) streamLoop(ctx context.Context, from cdc.LSN) error {
	hctx, stop := context.WithCancel(ctx)
	defer stop()
	go logrepl.Heartbeat(hctx, p.pool, p.o.Sync.Heartbeat.Duration, p.log)
	go p.watchSlot(hctx)
	go p.watchNewTables(hctx, max(p.o.Sync.Heartbeat.Duration, time.Second))
	backoff := 200 * time.Millisecond
	for {
		started := time.Now()
		err := p.streamOnce(ctx, from)
		if ctx.Err() != nil {
			return nil
		}
		if !isRetryable(err) {
			p.o.Metrics.Errors.WithLabelValues("fatal").Inc()
			return err
		}
		p.o.Metrics.Errors.WithLabelValues("retryable").Inc()
		p.o.Metrics.Running.Set(0) // until streamOnce has a replication connection again
		if time.Since(started) > time.Minute || isConflict(err) {
			// A write conflict with another SurrealDB client is over at
			// once: retry soon rather than fall behind.
			backoff = 100 * time.Millisecond
		}
		p.log.Warn("replication interrupted; reconnecting", "err", err, "in", backoff.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
		err = retry(ctx, p.log, "reconnecting to SurrealDB", func() error {
			if err := p.sink.Reconnect(ctx); err != nil {
				return err
			}
			pos, err := p.sink.ReadPosition(ctx)
			if err != nil {
				return err
			}
			if pos == nil || pos.Phase != PhaseStreaming {
				return &PermanentError{errors.New("the stored replication position disappeared from SurrealDB while streaming: run `pgsurreal sync --resync`")}
			}
			if slot, err := logrepl.Slot(ctx, p.pool, p.o.Sync.Slot); err == nil && slot.WALStatus == "lost" {
				return &PermanentError{lostWAL(p.o.Sync.Slot)}
			}
			from = cdc.LSN(pos.LSN)
			return nil
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// streamOnce runs one replication connection until it fails.
func (p *Pipeline) streamOnce(ctx context.Context, from cdc.LSN) error {
	known, err := p.loadRelations(ctx)
	if err != nil {
		return err
	}
	repl, err := logrepl.ReplicationConn(ctx, p.o.Postgres, mapping.SessionParams)
	if err != nil {
		return err
	}
	p.o.Metrics.Running.Set(1)
	st := logrepl.NewStream(repl, p.o.Sync.Slot, p.o.Sync.Publication, p.log)
	st.StatusInterval = p.o.Sync.StatusInterval.Duration
	st.MaxPart = max(p.o.Sync.BatchSize, 5000)
	sctx, cancel := context.WithCancel(ctx)
	txns := make(chan cdc.Txn, 256)
	// ended is closed when Run returns, with its error in runErr; the
	// connection is closed only after that.
	ended := make(chan struct{})
	var runErr error
	go func() {
		defer close(ended)
		runErr = st.Run(sctx, from, txns)
	}()
	// With publication on, the applier takes transactions from the
	// publishing stage, which passes on only what JetStream acknowledged.
	in, staged := p.stage(sctx, cancel, txns, st.Acked)
	a := &applier{p: p, st: st, in: in, mapper: mapping.NewMapper(p.shapes, p.loadTypes(ctx)),
		known: known, seen: map[*cdc.Relation]bool{}, counts: changeCounts{}}
	err = a.run(sctx, ended)
	cancel()
	<-ended
	_ = repl.Close(context.WithoutCancel(ctx))
	if serr := staged(); serr != nil && (err == nil || errors.Is(err, context.Canceled)) {
		err = serr
	}
	if err == nil || (errors.Is(err, context.Canceled) && runErr != nil && ctx.Err() == nil) {
		err = runErr
	}
	p.sink.Abort(context.WithoutCancel(ctx))
	return err
}

func (p *Pipeline) loadTypes(ctx context.Context) mapping.TypeLoader {
	return func(oids []uint32) (map[uint32]*mapping.Type, error) {
		return mapping.LoadTypes(ctx, p.pool, oids)
	}
}

// applier groups decoded transactions and applies them in order.
type applier struct {
	p       *Pipeline
	st      *logrepl.Stream
	in      <-chan cdc.Txn
	mapper  *mapping.Mapper
	pending *cdc.Txn
	known   map[string][]cdc.Column // stored column lists by table
	seen    map[*cdc.Relation]bool  // Relation messages already compared
	ctx     context.Context
	counts  changeCounts // changes mapped since the last commit
}

func (a *applier) next(ctx context.Context, ended <-chan struct{}) (cdc.Txn, error) {
	if a.pending != nil {
		t := *a.pending
		a.pending = nil
		return t, nil
	}
	select {
	case t := <-a.in:
		return t, nil
	case <-ended:
		// The reader stopped; its error is returned by streamOnce.
		return cdc.Txn{}, context.Canceled
	case <-ctx.Done():
		return cdc.Txn{}, ctx.Err()
	}
}

func (a *applier) run(ctx context.Context, ended <-chan struct{}) error {
	a.ctx = ctx
	limit := newGroupLimit(a.p.o.Sync.BatchSize)
	for {
		t, err := a.next(ctx, ended)
		if err != nil {
			return err
		}
		if !t.Final {
			if err := a.applyLarge(ctx, t, ended); err != nil {
				return err
			}
			continue
		}
		group := []cdc.Txn{t}
		changes := len(t.Changes)
	drain:
		for changes < limit.n {
			select {
			case u := <-a.in:
				if !u.Final {
					a.pending = &u
					break drain
				}
				group = append(group, u)
				changes += len(u.Changes)
			default:
				break drain
			}
		}
		start := time.Now()
		if err := a.apply(ctx, group); err != nil {
			return err
		}
		limit.observe(changes, time.Since(start), changes >= limit.n)
		a.p.o.Metrics.GroupLimit.Set(float64(limit.n))
	}
}

// apply writes a group of whole transactions in one SurrealDB transaction.
func (a *applier) apply(ctx context.Context, group []cdc.Txn) error {
	var writes []mapping.Write
	changes := 0
	for _, t := range group {
		ws, err := a.writes(t)
		if err != nil {
			return err
		}
		writes = append(writes, ws...)
		changes += len(t.Changes)
	}
	last := group[len(group)-1]
	start := time.Now()
	if err := a.p.sink.Apply(ctx, writes, a.p.position(PhaseStreaming, last.End, last.CommitTime)); err != nil {
		return a.deadLetterOr(ctx, group, err)
	}
	a.done(group, changes, start)
	return nil
}

// applyLarge applies a transaction that arrives in parts inside one
// interactive SurrealDB transaction, committed with the final part.
func (a *applier) applyLarge(ctx context.Context, t cdc.Txn, ended <-chan struct{}) error {
	start := time.Now()
	changes := 0
	for !t.Final {
		ws, err := a.writes(t)
		if err != nil {
			return err
		}
		applyStart := time.Now()
		if err := a.p.sink.ApplyPart(ctx, ws); err != nil {
			return err
		}
		changes += len(t.Changes)
		waitStart := time.Now()
		if t, err = a.next(ctx, ended); err != nil {
			return err
		}
		a.p.log.Debug("applied part of a large transaction", "xid", t.XID, "part", t.Part, "changes", changes,
			"apply", waitStart.Sub(applyStart).String(), "wait", time.Since(waitStart).String())
	}
	ws, err := a.writes(t)
	if err != nil {
		return err
	}
	if err := a.p.sink.Apply(ctx, ws, a.p.position(PhaseStreaming, t.End, t.CommitTime)); err != nil {
		return err
	}
	a.done([]cdc.Txn{t}, changes+len(t.Changes), start)
	return nil
}

func (a *applier) writes(t cdc.Txn) ([]mapping.Write, error) {
	var out []mapping.Write
	// A transaction pgsurreal's reverse direction wrote: its row changes
	// came from SurrealDB and are not sent back (loop prevention), but
	// its Relation messages still update the known table shapes.
	echo := t.Origin != "" && t.Origin == a.p.o.SkipOrigin
	for _, m := range t.Messages {
		if m.Prefix == AddTablePrefix {
			ws, err := a.joinTable(a.ctx, m.Content)
			if err != nil {
				return nil, err
			}
			out = append(out, ws...)
		}
	}
	for _, ch := range t.Changes {
		if ch.Rel != nil {
			sw, err := a.schemaWrites(a.ctx, ch.Rel)
			if err != nil {
				return nil, err
			}
			out = append(out, sw...)
		}
		if echo {
			a.p.o.Metrics.LoopsSuppressed.Inc()
			continue
		}
		ws, err := a.mapper.Writes(ch)
		if err != nil {
			if perr := a.parkUnmappable(t, ch, err); perr != nil {
				return nil, perr
			}
			continue
		}
		out = append(out, ws...)
		a.counts.add(ch)
	}
	return out, nil
}

// done confirms the group to PostgreSQL and records metrics.
func (a *applier) done(group []cdc.Txn, changes int, start time.Time) {
	last := group[len(group)-1]
	if a.p.o.Applied != nil {
		a.p.o.Applied(a.ctx, a.p.targetsOf(a.counts), uint64(last.End))
	}
	a.st.Ack(last.End)
	m := a.p.o.Metrics
	a.counts.flush(m)
	m.ApplySeconds.Observe(time.Since(start).Seconds())
	m.BatchChanges.Observe(float64(changes))
	m.Transactions.Add(float64(len(group)))
	m.Position.Set(float64(last.End))
	if !last.CommitTime.IsZero() {
		m.LagSeconds.Set(max(0, time.Since(last.CommitTime).Seconds()))
	}
	m.LagBytes.Set(float64(max(0, int64(a.st.Received())-int64(last.End))))
}

// isConnError recognises a lost or refused connection.
func isConnError(err error) bool {
	var ne net.Error
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &ne), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), pgconn.SafeToRetry(err):
		return true
	case errors.As(err, &pe):
		// admin_shutdown, crash_shutdown, cannot_connect_now
		return pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "connection reset") ||
		strings.Contains(msg, "broken pipe") || strings.Contains(msg, "unexpected EOF") ||
		strings.Contains(msg, "receiving from slot")
}
