package leader

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ErrFenced is the refusal of a write from a deposed leader: a later term
// of the lease has a higher epoch.
var ErrFenced = errors.New("fenced")

// CheckEpoch is the fencing check of a PostgreSQL write under the lease
// name: inside the writing transaction tx, it fails with ErrFenced when
// the lease's epoch is above epoch (another process took over). The
// epoch's row stays locked FOR SHARE until tx ends, so a takeover cannot
// raise it while the write is in flight. An epoch of 0 (no HA) is not
// checked.
func CheckEpoch(ctx context.Context, tx pgx.Tx, schema, name string, epoch int64) error {
	if epoch == 0 {
		return nil
	}
	var current int64
	err := tx.QueryRow(ctx, checkEpochSQL(schema), name).Scan(&current)
	if err != nil {
		return fmt.Errorf("reading the leader epoch of %s: %w", name, err)
	}
	if current > epoch {
		return fmt.Errorf("%w: another pgsurreal process took over the leader lease of %s (epoch %d, this process's is %d): this process stops writing", ErrFenced, name, current, epoch)
	}
	return nil
}
