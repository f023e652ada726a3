package doctor

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
)

// Postgres checks the configured PostgreSQL: connection, the settings
// logical replication and two-phase commit need, the role's REPLICATION
// privilege and that pg_hba.conf accepts a replication connection.
func Postgres(ctx context.Context, cfg config.Postgres) []Check {
	timeout := stepTimeout(cfg.ConnectTimeout.Duration)
	cctx, cancel := context.WithTimeout(ctx, timeout)
	conn, err := postgres.ConnectOne(cctx, cfg, nil)
	cancel()
	if err != nil {
		return pgUnreachable(cfg, err)
	}
	qctx, cancel := context.WithTimeout(ctx, timeout)
	st, stateErr := readPGState(qctx, conn)
	cancel()
	_ = conn.Close(context.WithoutCancel(ctx)) // before the replication probe, which needs a connection slot too

	var replErr error
	if stateErr == nil && st.mayReplicate() {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		replErr = probeReplication(rctx, cfg)
		cancel()
	}
	return pgChecks(cfg, st, stateErr, replErr)
}

// readPGState reads everything the rules need in two queries.
func readPGState(ctx context.Context, conn *pgx.Conn) (pgState, error) {
	st := pgState{Settings: map[string]pgSetting{}}
	err := conn.QueryRow(ctx, `
SELECT current_setting('server_version'), current_user,
       coalesce(host(inet_client_addr()), ''),
       r.rolsuper, r.rolreplication,
       (SELECT count(*) FROM pg_replication_slots)::int,
       (SELECT count(*) FROM pg_stat_replication)::int
  FROM pg_roles r
 WHERE r.rolname = current_user`).Scan(&st.Version, &st.User, &st.ClientAddr,
		&st.Superuser, &st.Replication, &st.SlotsUsed, &st.SendersActive)
	if err != nil {
		return st, fmt.Errorf("reading the role and server state: %w", err)
	}
	rows, err := conn.Query(ctx, `SELECT name, setting, pending_restart FROM pg_settings WHERE name = ANY($1)`, pgSettingNames)
	if err != nil {
		return st, fmt.Errorf("reading pg_settings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var s pgSetting
		if err := rows.Scan(&name, &s.Value, &s.PendingRestart); err != nil {
			return st, fmt.Errorf("reading pg_settings: %w", err)
		}
		st.Settings[name] = s
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("reading pg_settings: %w", err)
	}
	return st, nil
}

// probeReplication opens a logical replication connection (what the
// daemon's slot reader opens) and runs IDENTIFY_SYSTEM on it, which proves
// that pg_hba.conf accepts it and a WAL sender is available.
func probeReplication(ctx context.Context, cfg config.Postgres) error {
	pc, err := pgconn.ParseConfig(cfg.ConnString())
	if err != nil {
		return err
	}
	pc.RuntimeParams["replication"] = "database"
	conn, err := pgconn.ConnectConfig(ctx, pc)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, "IDENTIFY_SYSTEM").ReadAll()
	return err
}
