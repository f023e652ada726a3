package txn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// Decisions a global transaction can have.
const (
	decisionNone   = ""
	decisionCommit = "commit"
	decisionAbort  = "abort"
)

// DecisionRetention is how long decision records are kept: far longer
// than any transaction can stay in doubt, so an abort fence outlives every
// coordinator that could still try to commit.
const DecisionRetention = 7 * 24 * time.Hour

// Report says what a recovery pass did.
type Report struct {
	InDoubt    int           // pgsurreal's prepared transactions found
	Committed  int           // finished with COMMIT PREPARED
	RolledBack int           // finished with ROLLBACK PREPARED
	Waiting    int           // left alone: their coordinator still holds its lease
	Busy       int           // being finished by another session right now: next pass
	Oldest     time.Duration // age of the oldest one found
	Cleaned    int           // decision records removed
}

// Recover finishes every in-doubt transaction of pgsurreal's in this
// database: COMMIT PREPARED where SurrealDB holds a commit decision,
// ROLLBACK PREPARED where it holds an abort, and, where it holds none and
// the coordinator's lease has expired, fences the id with an abort record
// and rolls back. Prepared transactions that are not pgsurreal's (another
// prefix, another database) are never touched. It also removes old
// decision records.
func Recover(ctx context.Context, o Options) (Report, error) {
	if o.Schema == "" {
		o.Schema = "pgsurreal"
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	var r Report
	if err := ensureSchema(ctx, o.PG, o.Schema); err != nil {
		return r, err
	}
	rows, err := o.PG.Query(ctx, `SELECT gid, now() - prepared FROM pg_prepared_xacts
WHERE database = current_database() AND starts_with(gid, $1) ORDER BY prepared`, GIDPrefix)
	if err != nil {
		return r, fmt.Errorf("listing prepared transactions: %w", err)
	}
	type prepared struct {
		gid string
		age time.Duration
	}
	var list []prepared
	for rows.Next() {
		var p prepared
		if err := rows.Scan(&p.gid, &p.age); err != nil {
			rows.Close()
			return r, err
		}
		list = append(list, p)
	}
	if err := rows.Err(); err != nil {
		return r, err
	}
	r.InDoubt = len(list)
	if len(list) > 0 {
		r.Oldest = list[0].age
	}
	o.Metrics.InDoubt.Set(float64(len(list)))
	o.Metrics.OldestInDoubt.Set(r.Oldest.Seconds())
	var errs []error
	for _, p := range list {
		fault(FaultDuringRecovery)
		live, err := leaseHeld(ctx, o, coordinatorOf(p.gid))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		d, err := decisionOf(ctx, o, p.gid)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if d == decisionNone && live {
			r.Waiting++
			continue
		}
		outcome, err := settle(ctx, o, p.gid)
		switch {
		case errors.Is(err, errBusy):
			r.Busy++
		case err != nil:
			errs = append(errs, fmt.Errorf("transaction %s: %w", p.gid, err))
		case outcome == decisionCommit:
			r.Committed++
		default:
			r.RolledBack++
		}
	}
	n, err := cleanDecisions(ctx, o)
	r.Cleaned = n
	if err != nil {
		errs = append(errs, err)
	}
	o.Metrics.Recovered.WithLabelValues("commit").Add(float64(r.Committed))
	o.Metrics.Recovered.WithLabelValues("rollback").Add(float64(r.RolledBack))
	return r, errors.Join(errs...)
}

// errBusy is a prepared transaction another session is attached to.
var errBusy = errors.New("the prepared transaction is busy in another session")

// settle decides a prepared transaction by its decision record, writing
// the abort fence when there is none, and finishes it in PostgreSQL.
func settle(ctx context.Context, o Options, gid string) (string, error) {
	d, err := decisionOf(ctx, o, gid)
	if err != nil {
		return "", err
	}
	if d == decisionNone {
		d, err = fence(ctx, o, gid)
		if err != nil {
			return "", err
		}
	}
	sql := "ROLLBACK PREPARED "
	if d == decisionCommit {
		sql = "COMMIT PREPARED "
	}
	if _, err := o.PG.Exec(ctx, sql+quoteLiteral(gid)); err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return d, nil // finished meanwhile (by its coordinator or another resolver)
		}
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "55000" && strings.Contains(pe.Message, "busy") {
			// Another session holds it: its coordinator finishing it, or
			// the backend of a coordinator that just died, not yet gone.
			// The decision stands (the fence is written); a later pass
			// finishes it.
			return "", errBusy
		}
		return "", fmt.Errorf("%s%s: %w", sql, gid, err)
	}
	return d, nil
}

// fence records an abort for gid unless a decision exists, and returns
// the decision that stands. A coordinator that has not committed yet can
// then never commit: its own CREATE of the record fails, or its commit
// conflicts.
func fence(ctx context.Context, o Options, gid string) (string, error) {
	pause := 5 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := o.Surreal.Do(ctx, func(ctx context.Context, cl *surreal.Client) error {
			res, err := surrealdb.Query[any](ctx, cl.DB, "CREATE type::record($t, $gid) SET decision = 'abort', at = time::now() RETURN NONE",
				map[string]any{"t": DecisionTable, "gid": gid})
			if err == nil && len(*res) > 0 && (*res)[0].Status != "OK" {
				err = fmt.Errorf("%v", (*res)[0].Result)
			}
			return err
		})
		switch {
		case err == nil:
			return decisionAbort, nil
		case strings.Contains(err.Error(), "already exists"):
			return decisionOf(ctx, o, gid)
		case !isWriteConflict(err) || attempt == fenceAttempts:
			return "", fmt.Errorf("writing the abort decision of %s: %w", gid, err)
		}
		// A conflict with the coordinator's own commit of the decision,
		// still in flight (its process may have died after sending it):
		// once it has landed the decision exists, else the fence goes in.
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 200*time.Millisecond)
	}
}

// fenceAttempts bounds the retries of a fence that conflicts.
const fenceAttempts = 20

// isWriteConflict reports SurrealDB's retryable transaction conflict.
func isWriteConflict(err error) bool {
	m := strings.ToLower(err.Error())
	return strings.Contains(m, "conflict") || strings.Contains(m, "can be retried")
}

// decisionOf reads gid's decision record ("" when there is none).
func decisionOf(ctx context.Context, o Options, gid string) (string, error) {
	var d string
	err := o.Surreal.Do(ctx, func(ctx context.Context, cl *surreal.Client) error {
		res, err := surrealdb.Query[[]map[string]any](ctx, cl.DB, "SELECT decision FROM type::record($t, $gid)",
			map[string]any{"t": DecisionTable, "gid": gid})
		if err != nil {
			if strings.Contains(err.Error(), "does not exist") {
				return nil // no decision was ever written
			}
			return err
		}
		if len(*res) > 0 && len((*res)[0].Result) > 0 {
			d = fmt.Sprint((*res)[0].Result[0]["decision"])
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("reading the decision of %s: %w", gid, err)
	}
	return d, nil
}

// leaseHeld reports whether coordinator id still holds its lease.
func leaseHeld(ctx context.Context, o Options, id string) (bool, error) {
	var live bool
	err := o.PG.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+postgres.QualifiedIdent(o.Schema, "tx_coordinator")+
		" WHERE id = $1 AND expires_at > now())", id).Scan(&live)
	if err != nil {
		return false, fmt.Errorf("reading coordinator %s's lease: %w", id, err)
	}
	return live, nil
}

// cleanDecisions removes decision records older than DecisionRetention.
func cleanDecisions(ctx context.Context, o Options) (int, error) {
	var removed int
	err := o.Surreal.Do(ctx, func(ctx context.Context, cl *surreal.Client) error {
		res, err := surrealdb.Query[[]map[string]any](ctx, cl.DB, "DELETE "+surreal.Ident(DecisionTable)+" WHERE at < time::now() - <duration> $keep RETURN BEFORE",
			map[string]any{"keep": durationText(DecisionRetention)})
		if err != nil {
			if strings.Contains(err.Error(), "does not exist") {
				return nil
			}
			return err
		}
		if len(*res) > 0 {
			removed = len((*res)[0].Result)
		}
		return nil
	})
	return removed, err
}

func durationText(d time.Duration) string { return fmt.Sprintf("%ds", int64(d.Seconds())) }
