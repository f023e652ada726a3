package sync

import (
	"context"
	"fmt"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/mapping"
	"github.com/pgsurreal/pgsurreal/internal/postgres/logrepl"
)

// Rebase prepares replication to resume on a PostgreSQL database and a
// SurrealDB target that were restored from one coordinated backup, without
// a new copy: SurrealDB already holds the data, so it makes sure the
// publication publishes the selected tables, creates the configured slot
// and stores the slot's consistent point as the position, phase
// streaming, with this cluster's system identifier and the restored
// tables' column lists (a restore gives user-defined types new OIDs).
// `pgsurreal sync` then streams from the consistent point: every change
// made to the restored database after Rebase. The slot must not exist.
func Rebase(ctx context.Context, o Options) (cdc.LSN, error) {
	p, err := open(ctx, o)
	if err != nil {
		return 0, err
	}
	defer p.close()
	if err := p.identify(ctx); err != nil {
		return 0, err
	}
	slot, err := logrepl.Slot(ctx, p.pool, o.Sync.Slot)
	if err != nil {
		return 0, err
	}
	if slot.Exists {
		return 0, &PermanentError{fmt.Errorf("replication slot %q already exists: a rebase creates it; drop it or set sync.slot to another name", o.Sync.Slot)}
	}
	names := make([][2]string, len(p.tables))
	for i, t := range p.tables {
		names[i] = [2]string{t.Schema, t.Name}
	}
	admin, err := p.pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	err = logrepl.EnsurePublication(ctx, admin.Conn(), o.Sync.Publication, names)
	admin.Release()
	if err != nil {
		return 0, &PermanentError{err}
	}
	repl, err := logrepl.ReplicationConn(ctx, o.Postgres, mapping.SessionParams)
	if err != nil {
		return 0, err
	}
	_, lsn, err := logrepl.CreateSlot(ctx, repl, o.Sync.Slot)
	repl.Close(context.WithoutCancel(ctx))
	if err != nil {
		return 0, err
	}
	var rels []mapping.Write
	for _, t := range p.tables {
		rels = append(rels, p.relationWrite(t.QualifiedName(), catalogColumns(t)))
	}
	if err := p.sink.Apply(ctx, rels, p.position(PhaseStreaming, lsn, time.Time{})); err != nil {
		// Without a position the slot would only hold WAL back.
		if conn, aerr := p.pool.Acquire(context.WithoutCancel(ctx)); aerr == nil {
			_ = logrepl.DropSlot(context.WithoutCancel(ctx), conn.Conn(), o.Sync.Slot)
			conn.Release()
		}
		return 0, err
	}
	p.log.Info("replication rebased on the restored pair", "slot", o.Sync.Slot, "position", lsn.String(), "tables", len(p.tables))
	return lsn, nil
}
