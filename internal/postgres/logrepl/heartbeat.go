package logrepl

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
)

// Heartbeat writes a transactional logical decoding message every
// interval until ctx ends. Each one reaches the stream as an empty
// transaction whose End the pipeline stores and confirms, so a database
// whose published tables are quiet still lets the slot advance and
// release WAL. Failures are logged and retried at the next tick: a missed
// heartbeat only delays WAL release.
func Heartbeat(ctx context.Context, db postgres.Querier, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rows, err := db.Query(ctx, "SELECT pg_logical_emit_message(true, $1, '')", HeartbeatPrefix)
			if err == nil {
				rows.Close()
				err = rows.Err()
			}
			if err != nil && ctx.Err() == nil {
				log.Warn("heartbeat failed; the slot may retain WAL until it succeeds", "err", err)
			}
		}
	}
}

// EmitHeartbeat commits one heartbeat message now and returns its WAL
// position: once the sync's stored position reaches it, everything
// committed before the call is applied (read-your-writes, verify's
// re-checks, backups wait for that).
func EmitHeartbeat(ctx context.Context, db postgres.Querier) (cdc.LSN, error) {
	rows, err := db.Query(ctx, "SELECT pg_logical_emit_message(true, $1, '')::text", HeartbeatPrefix)
	if err != nil {
		return 0, fmt.Errorf("taking PostgreSQL's WAL position: %w", err)
	}
	var text string
	for rows.Next() {
		err = rows.Scan(&text)
	}
	rows.Close()
	if err == nil {
		err = rows.Err()
	}
	if err != nil {
		return 0, fmt.Errorf("taking PostgreSQL's WAL position: %w", err)
	}
	return cdc.ParseLSN(text)
}
