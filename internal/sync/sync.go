// Package sync is the PostgreSQL -> SurrealDB pipeline: a consistent
// snapshot under a slot's exported snapshot, then the slot's change stream,
// mapped to SurrealDB writes and applied in commit order, each source
// transaction atomically, with the replication position stored in the
// same SurrealDB transaction as the data it covers. PostgreSQL is told a
// position only after SurrealDB has it, so a crash at any instant loses
// nothing and applies nothing twice.
package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	gosync "sync"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/mapping"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/postgres/logrepl"
	"github.com/pgsurreal/pgsurreal/internal/route"
	"github.com/pgsurreal/pgsurreal/internal/surreal/sink"
)

// Options configure a pipeline.
type Options struct {
	Postgres config.Postgres
	Surreal  config.Surreal
	Sync     config.Sync
	Log      *slog.Logger
	// Epoch is the leader epoch (fencing token) of this process's term
	// under the HA lease, 0 without HA: every SurrealDB transaction
	// carries it, and one from a deposed leader fails (sink.ErrFenced),
	// stopping the pipeline.
	Epoch int64
	// Resync drops the slot and the stored position and starts over with
	// a new snapshot (the explicit remedy for a lost slot or target).
	Resync bool
	// Progress, when set, receives snapshot progress (a terminal bar).
	Progress ProgressFunc
	// Metrics, when set, is updated as the pipeline runs.
	Metrics *Metrics
	// SkipOrigin names the PostgreSQL replication origin whose
	// transactions are not replicated: the reverse direction writes under
	// it (reverse.origin), so its changes do not loop back to SurrealDB.
	SkipOrigin string
	// Applied, when set, is called after each SurrealDB commit with the
	// SurrealDB tables it changed and the WAL position it brought the
	// target to (the federation cache invalidates with it). It runs on
	// the apply path: keep it short.
	Applied func(ctx context.Context, tables []string, lsn uint64)
	// Publisher, when set, receives every change before its SurrealDB
	// commit (publish.Publisher: the change stream on NATS JetStream).
	Publisher publisher
}

// Phases stored with the position.
const (
	PhaseSnapshot  = "snapshot"
	PhaseStreaming = "streaming"
)

// Pipeline is one running replication.
type Pipeline struct {
	o      Options
	log    *slog.Logger
	pool   *pgxpool.Pool
	mu     gosync.Mutex // guards shapes and tables, which new tables extend
	shapes map[string]*mapping.Shape
	tables []*cdc.Table
	sink   *sink.Sink
	// announced are new tables already added to the publication.
	announced map[string]bool
	// system is the source cluster's system identifier, stored with
	// every position so a replaced source is recognised.
	system string
}

// Run replicates until ctx ends. It snapshots first when there is no
// stored position, then streams, reconnecting to either database after
// connection errors. It returns nil when ctx ends, and an error for
// anything a retry cannot fix (a rejected value, a lost slot).
func Run(ctx context.Context, o Options) error {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	defer o.Metrics.Running.Set(0)
	backoff := 500 * time.Millisecond
	for {
		err := runOnce(ctx, o)
		o.Metrics.Running.Set(0)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil || !isRetryable(err) {
			return err
		}
		o.Log.Warn("replication interrupted before streaming; starting again", "err", err, "in", backoff.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "55006" {
			o.Resync = false // a requested resync has happened (or will restart as an unfinished snapshot)
		}
	}
}

func runOnce(ctx context.Context, o Options) error {
	p, err := open(ctx, o)
	if err != nil {
		return err
	}
	defer p.close()
	o.Metrics.Running.Set(1) // both databases reached: snapshotting or resuming
	lsn, err := p.prepare(ctx)
	if err != nil {
		return err
	}
	return p.streamLoop(ctx, lsn)
}

func open(ctx context.Context, o Options) (*Pipeline, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	pool, err := postgres.Connect(ctx, o.Postgres)
	if err != nil {
		return nil, err
	}
	p := &Pipeline{o: o, log: o.Log, pool: pool, announced: map[string]bool{}}
	if p.tables, err = mapping.SelectTables(ctx, pool, o.Sync); err != nil {
		pool.Close()
		return nil, err
	}
	opts, err := mapping.OptionsFor(ctx, pool, p.tables, o.Sync)
	if err != nil {
		pool.Close()
		return nil, err
	}
	if err := mapping.CheckIdentity(p.tables, opts); err != nil {
		pool.Close()
		return nil, &PermanentError{err}
	}
	if p.shapes, err = mapping.BuildShapes(p.tables, opts, o.Sync.Nulls == "omit"); err != nil {
		pool.Close()
		return nil, &PermanentError{err}
	}
	place, err := route.New(o.Surreal, o.Sync, p.shapes)
	if err != nil {
		pool.Close()
		return nil, &PermanentError{err}
	}
	if p.sink, err = p.openSink(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if err := retry(ctx, p.log, "connecting to the SurrealDB servers", func() error { return p.sink.Place(ctx, place) }); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// openSink connects the sink, waiting for SurrealDB to come up.
func (p *Pipeline) openSink(ctx context.Context) (*sink.Sink, error) {
	var s *sink.Sink
	err := retry(ctx, p.log, "connecting to SurrealDB", func() error {
		var err error
		s, err = sink.Open(ctx, p.o.Surreal, p.o.Sync.Slot, p.log)
		return err
	})
	return s, err
}

func (p *Pipeline) close() {
	if p.sink != nil {
		_ = p.sink.Close(context.Background())
	}
	p.pool.Close()
}

// PermanentError is a failure no retry can fix: the pipeline stops.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// prepare reconciles the stored position with the slot and snapshots when
// needed. It returns the position to stream from.
func (p *Pipeline) prepare(ctx context.Context) (cdc.LSN, error) {
	slotName := p.o.Sync.Slot
	if p.o.Resync {
		if err := p.dropSlot(ctx); err != nil {
			return 0, err
		}
		p.log.Warn("resync requested: dropped the slot; snapshotting again", "slot", slotName)
		return p.snapshot(ctx)
	}
	if err := p.identify(ctx); err != nil {
		return 0, err
	}
	pos, err := p.sink.ReadPosition(ctx)
	if err != nil {
		return 0, err
	}
	if pos != nil && pos.System != "" && pos.System != p.system {
		return 0, &PermanentError{fmt.Errorf("SurrealDB (namespace %q, database %q) was replicated from another PostgreSQL cluster (system identifier %s; this one is %s): the source was replaced or restored from a base backup, so the stored position means nothing here; run `pgsurreal sync --resync` to copy everything again, or point postgres.url at the original cluster", p.o.Surreal.Namespace, p.o.Surreal.Database, pos.System, p.system)}
	}
	slot, err := logrepl.Slot(ctx, p.pool, slotName)
	if err != nil {
		return 0, err
	}
	switch {
	case pos == nil && !slot.Exists:
		return p.snapshot(ctx)
	case pos == nil && slot.Exists:
		return 0, &PermanentError{fmt.Errorf("replication slot %q exists but SurrealDB (namespace %q, database %q) holds no position for it: the target was wiped or belongs to another pgsurreal; run `pgsurreal sync --resync` to drop the slot and copy everything again, or set sync.slot to another name", slotName, p.o.Surreal.Namespace, p.o.Surreal.Database)}
	case pos.Phase == PhaseSnapshot:
		p.log.Warn("the previous snapshot did not finish; starting it again from scratch", "slot", slotName)
		if err := p.dropSlot(ctx); err != nil {
			return 0, err
		}
		return p.snapshot(ctx)
	case slot.WALStatus == "lost":
		return 0, &PermanentError{lostWAL(slotName)}
	case !slot.Exists:
		return 0, &PermanentError{fmt.Errorf("replication slot %q is gone but SurrealDB was replicated up to %s: changes since then are lost to the stream; run `pgsurreal sync --resync` to copy everything again", slotName, cdc.LSN(pos.LSN))}
	case cdc.LSN(pos.LSN) < slot.ConfirmedFlushLSN:
		return 0, &PermanentError{fmt.Errorf("replication slot %q was confirmed up to %s but SurrealDB only has changes up to %s: another consumer advanced the slot or SurrealDB was restored from an older backup; run `pgsurreal sync --resync`", slotName, slot.ConfirmedFlushLSN, cdc.LSN(pos.LSN))}
	}
	if err := p.deferUnpublished(ctx); err != nil {
		return 0, err
	}
	p.log.Info("resuming replication", "slot", slotName, "position", cdc.LSN(pos.LSN).String(), "slot_confirmed", slot.ConfirmedFlushLSN.String())
	return cdc.LSN(pos.LSN), nil
}

// lostWAL is the error for a slot PostgreSQL invalidated.
func lostWAL(slot string) error {
	return fmt.Errorf("replication slot %q was invalidated: PostgreSQL removed WAL it still needed (wal_status = lost, see max_slot_wal_keep_size), so changes are lost to the stream; run `pgsurreal sync --resync` to copy everything again, and raise max_slot_wal_keep_size or keep sync running", slot)
}

// identify reads the source cluster's system identifier.
func (p *Pipeline) identify(ctx context.Context) error {
	if p.system != "" {
		return nil
	}
	conn, err := logrepl.ReplicationConn(ctx, p.o.Postgres, nil)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	id, err := pglogrepl.IdentifySystem(ctx, conn)
	if err != nil {
		return fmt.Errorf("IDENTIFY_SYSTEM: %w", err)
	}
	p.system = id.SystemID
	return nil
}

// position is the stored position at phase and lsn, after the source
// transaction committed at commit (zero when unknown).
func (p *Pipeline) position(phase string, lsn cdc.LSN, commit time.Time) sink.Position {
	pos := sink.Position{Phase: phase, LSN: int64(lsn), System: p.system, Epoch: p.o.Epoch}
	if !commit.IsZero() {
		pos.CommitTime = commit.UnixMicro()
	}
	return pos
}

func (p *Pipeline) dropSlot(ctx context.Context) error {
	conn, err := p.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	return logrepl.DropSlot(ctx, conn.Conn(), p.o.Sync.Slot)
}

// retry runs f until it succeeds, ctx ends, or it fails with an error
// that is not retryable, backing off from 200ms to 10s.
func retry(ctx context.Context, log *slog.Logger, what string, f func() error) error {
	backoff := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil {
			if attempt > 1 {
				log.Info("recovered", "what", what, "attempts", attempt)
			}
			return nil
		}
		if !isRetryable(err) {
			return err
		}
		log.Warn("retrying", "what", what, "attempt", attempt, "in", backoff.String(), "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

func isRetryable(err error) bool {
	var perm *PermanentError
	var apply *sink.ApplyError
	var cfgErr *postgres.ConnectError
	var pub *publishRetry
	switch {
	case errors.As(err, &perm), errors.As(err, &apply):
		return false
	case errors.As(err, &pub):
		return true
	case errors.As(err, &cfgErr):
		// A refused password, a pg_hba refusal or a missing database
		// will not fix itself; an unreachable server may.
		var pe *pgconn.PgError
		if errors.As(err, &pe) && (pe.Code == "28P01" || pe.Code == "28000" || pe.Code == "3D000") {
			return false
		}
		return true
	}
	// object_in_use: a slot still held by the walsender of a process that
	// just died (kill -9); PostgreSQL lets go of it within moments.
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "55006" {
		return true
	}
	return sink.IsRetryable(err) || isConnError(err)
}

// Snapshot makes a one-off consistent copy of the selected tables without
// a slot or a stored position: for seeding or refreshing a target that no
// running `sync` maintains.
func Snapshot(ctx context.Context, o Options) (int64, error) {
	p, err := open(ctx, o)
	if err != nil {
		return 0, err
	}
	defer p.close()
	conn, err := postgres.ConnectOne(ctx, o.Postgres, mapping.SessionParams)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var snap string
	if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		return 0, err
	}
	if err := conn.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&snap); err != nil {
		return 0, fmt.Errorf("exporting a snapshot: %w", err)
	}
	if err := p.clearTargets(ctx); err != nil {
		return 0, err
	}
	return p.copyTables(ctx, snap)
}

// deferUnpublished leaves out of the starting set the selected tables the
// publication does not have yet (created while sync was not running): the
// new-table watcher adds them to the publication and copies them, as it
// does for tables created while streaming.
func (p *Pipeline) deferUnpublished(ctx context.Context) error {
	rows, err := p.pool.Query(ctx, "SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = $1", p.o.Sync.Publication)
	if err != nil {
		return fmt.Errorf("reading publication %s: %w", p.o.Sync.Publication, err)
	}
	published := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		published[n] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	kept := p.tables[:0:0]
	for _, t := range p.tables {
		if published[t.QualifiedName()] {
			kept = append(kept, t)
			continue
		}
		delete(p.shapes, t.QualifiedName())
		p.log.Info("table not in the publication yet; it will be added and copied", "table", t.QualifiedName())
	}
	p.tables = kept
	return nil
}
