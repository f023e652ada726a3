// Package logrepl reads PostgreSQL's logical replication stream (pgoutput)
// with pglogrepl: it manages the publication and the slot, decodes the
// stream into cdc transactions, confirms positions only when told they are
// durable, and keeps the slot from retaining WAL on a quiet database with
// a heartbeat.
package logrepl

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
)

// SlotInfo is a replication slot as pg_replication_slots shows it.
type SlotInfo struct {
	Exists            bool
	Plugin            string
	Active            bool
	ConfirmedFlushLSN cdc.LSN
	RestartLSN        cdc.LSN
	WALStatus         string
}

// Slot reads the state of the named slot in the current database.
func Slot(ctx context.Context, q postgres.Querier, name string) (SlotInfo, error) {
	rows, err := q.Query(ctx, `
SELECT plugin, active, COALESCE(confirmed_flush_lsn::text, '0/0'), COALESCE(restart_lsn::text, '0/0'), COALESCE(wal_status, '')
FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()`, name)
	if err != nil {
		return SlotInfo{}, fmt.Errorf("reading slot %s: %w", name, err)
	}
	defer rows.Close()
	if !rows.Next() {
		return SlotInfo{}, rows.Err()
	}
	var s SlotInfo
	var confirmed, restart string
	if err := rows.Scan(&s.Plugin, &s.Active, &confirmed, &restart, &s.WALStatus); err != nil {
		return SlotInfo{}, err
	}
	s.Exists = true
	s.ConfirmedFlushLSN, _ = cdc.ParseLSN(confirmed)
	s.RestartLSN, _ = cdc.ParseLSN(restart)
	return s, nil
}

// EnsurePublication makes the publication publish exactly tables (each
// "schema"."name"), creating it if needed.
func EnsurePublication(ctx context.Context, conn *pgx.Conn, name string, tables [][2]string) error {
	if len(tables) == 0 {
		return errors.New("no tables to publish: check sync.include and sync.exclude")
	}
	list := make([]string, len(tables))
	for i, t := range tables {
		list[i] = postgres.QualifiedIdent(t[0], t[1])
	}
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("reading publication %s: %w", name, err)
	}
	var sql string
	if exists {
		sql = "ALTER PUBLICATION " + postgres.Ident(name) + " SET TABLE " + strings.Join(list, ", ")
	} else {
		sql = "CREATE PUBLICATION " + postgres.Ident(name) + " FOR TABLE " + strings.Join(list, ", ") +
			" WITH (publish = 'insert, update, delete, truncate', publish_via_partition_root = true)"
	}
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("publishing %d tables in publication %s: %w", len(tables), name, err)
	}
	return nil
}

// ReplicationConn opens a replication=database connection. params are
// session settings (the walsender formats values with them).
func ReplicationConn(ctx context.Context, cfg config.Postgres, params map[string]string) (*pgconn.PgConn, error) {
	pc, err := pgconn.ParseConfig(cfg.ConnString())
	if err != nil {
		return nil, fmt.Errorf("postgres: %s", postgres.Explain(cfg, err))
	}
	for k, v := range params {
		pc.RuntimeParams[k] = v
	}
	pc.RuntimeParams["replication"] = "database"
	pc.RuntimeParams["application_name"] = "pgsurreal"
	conn, err := pgconn.ConnectConfig(ctx, pc)
	if err != nil {
		return nil, &postgres.ConnectError{Cfg: cfg, Err: err}
	}
	return conn, nil
}

// CreateSlot creates a pgoutput slot and exports a snapshot that sees the
// database exactly as of the slot's consistent point. The snapshot stays
// valid until conn runs another command, so the caller copies the tables
// (importing the snapshot on other connections) before starting to stream
// on conn.
func CreateSlot(ctx context.Context, conn *pgconn.PgConn, name string) (snapshot string, consistent cdc.LSN, err error) {
	res, err := pglogrepl.CreateReplicationSlot(ctx, conn, name, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{SnapshotAction: "EXPORT_SNAPSHOT", Mode: pglogrepl.LogicalReplication})
	if err != nil {
		return "", 0, fmt.Errorf("creating replication slot %s: %w", name, err)
	}
	lsn, err := cdc.ParseLSN(res.ConsistentPoint)
	if err != nil {
		return "", 0, err
	}
	return res.SnapshotName, lsn, nil
}

// DropSlot drops the slot if it exists.
func DropSlot(ctx context.Context, conn *pgx.Conn, name string) error {
	_, err := conn.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()", name)
	if err != nil {
		return fmt.Errorf("dropping replication slot %s: %w", name, err)
	}
	return nil
}
