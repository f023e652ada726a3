package logrepl

import (
	"context"
	"log/slog"
	"time"

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
