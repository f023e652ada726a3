package drill

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// Schema creates the drill's PostgreSQL tables and their seed rows:
// accounts and entries referring to them (a foreign key, replicated as a
// record link).
const Schema = `CREATE TABLE account (id bigint PRIMARY KEY, owner text NOT NULL, balance bigint NOT NULL);
CREATE TABLE entry (id bigint PRIMARY KEY, account_id bigint NOT NULL REFERENCES account (id) ON DELETE CASCADE, amount bigint NOT NULL, note text);
INSERT INTO account SELECT g, 'owner ' || g, 0 FROM generate_series(1, 500) g;
INSERT INTO entry SELECT g, 1 + g % 500, g, NULL FROM generate_series(1, 2000) g;`

// SeedAccounts is how many accounts Schema creates (never deleted by the
// load, so entries may always refer to them).
const SeedAccounts = 500

// SurrealSchema defines the SurrealDB table the reverse direction
// replicates into PostgreSQL (public.note).
const SurrealSchema = `DEFINE TABLE note SCHEMAFULL;
DEFINE FIELD n ON note TYPE int;
DEFINE FIELD body ON note TYPE string;`

// ForwardTables are the tables sync replicates; ReverseTable the one
// reverse does.
var ForwardTables = []string{"public.account", "public.entry"}

// ReverseTable is the SurrealDB table replicated into PostgreSQL.
const ReverseTable = "note"

// Setup describes the databases a drill's daemons share.
type Setup struct {
	Postgres config.Postgres
	Surreal  config.Surreal
	// Slot is the sync's slot, and so the lease's name.
	Slot string
	// Extra are more config keys, "key=value" as for --set.
	Extra []string
}

// Prepare writes the daemons' configuration file into dir and returns
// the arguments of `pgsurreal serve` (after "serve"), the environment
// (passwords in PGSURREAL_* variables, never on the command line) and the
// configuration as loaded from them, which verify can compare with.
func (s Setup) Prepare(dir string) (args, env []string, cfg config.Config, err error) {
	q := strconv.Quote
	y := fmt.Sprintf(`postgres:
  host: %s
  port: %d
  user: %s
  database: %s
  sslmode: %s
surreal:
  url: %s
  namespace: %s
  database: %s
  username: %s
http:
  listen: 127.0.0.1:0
  token: drill
federation:
  listen: "off"
sync:
  slot: %s
  include: [%s]
reverse:
  tables:
    - name: %s
`, q(s.Postgres.Host), s.Postgres.Port, q(s.Postgres.User), q(s.Postgres.Database), q(s.Postgres.SSLMode),
		q(s.Surreal.URL), q(s.Surreal.Namespace), q(s.Surreal.Database), q(s.Surreal.Username),
		q(s.Slot), strings.Join(ForwardTables, ", "), ReverseTable)
	file := filepath.Join(dir, "pgsurreal.yaml")
	if err := os.WriteFile(file, []byte(y), 0o600); err != nil {
		return nil, nil, config.Config{}, err
	}
	env = append(os.Environ(),
		"PGSURREAL_POSTGRES_PASSWORD="+s.Postgres.Password.Reveal(),
		"PGSURREAL_SURREAL_PASSWORD="+s.Surreal.Password.Reveal())
	args = []string{"--config", file, "--log-format", "json", "--log-level", "info"}
	for _, kv := range s.Extra {
		args = append(args, "--set", kv)
	}
	cfg, err = config.Load(file, env, s.Extra)
	return args, env, cfg, err
}

// PostgresLoad writes until ctx ends, pausing pause after each statement:
// inserts, updates and deletes of entries, balance updates, small
// transactions, accounts created with an entry and deleted again (the
// delete cascades). Writers with different ids write disjoint new rows.
// ops counts statements done.
func PostgresLoad(ctx context.Context, pool *pgxpool.Pool, id int, pause time.Duration, ops *atomic.Int64) error {
	r := rand.New(rand.NewPCG(uint64(id), 42))
	base := int64(id+1) * 10_000_000
	nextEntry, nextAccount := base, base
	var own []int64 // accounts this writer created and has not deleted
	seed := func() int64 { return 1 + r.Int64N(SeedAccounts) }
	for ctx.Err() == nil {
		var sql string
		var args []any
		switch r.IntN(10) {
		case 0, 1, 2:
			nextEntry++
			sql, args = "INSERT INTO entry VALUES ($1, $2, $3, NULL)", []any{nextEntry, seed(), r.Int64N(1000)}
		case 3, 4:
			sql, args = "UPDATE account SET balance = balance + $2 WHERE id = $1", []any{seed(), 1 + r.Int64N(100)}
		case 5:
			sql, args = "UPDATE entry SET amount = amount + 1, note = coalesce(note, '') || 'x' WHERE id = $1", []any{pick(r, nextEntry, base)}
		case 6:
			sql, args = "DELETE FROM entry WHERE id = $1", []any{pick(r, nextEntry, base)}
		case 7:
			nextEntry++
			a := seed()
			sql = fmt.Sprintf("BEGIN; INSERT INTO entry VALUES (%d, %d, 7, 'tx'); UPDATE account SET balance = balance - 7 WHERE id = %d; COMMIT", nextEntry, a, a)
		case 8:
			nextAccount++
			nextEntry++
			own = append(own, nextAccount)
			sql = fmt.Sprintf("BEGIN; INSERT INTO account VALUES (%d, 'new', 0); INSERT INTO entry VALUES (%d, %d, 1, 'own'); COMMIT", nextAccount, nextEntry, nextAccount)
		case 9:
			if len(own) == 0 {
				continue
			}
			i := r.IntN(len(own))
			sql, args = "DELETE FROM account WHERE id = $1", []any{own[i]}
			own = append(own[:i], own[i+1:]...)
		}
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%s: %w", sql, err)
		}
		ops.Add(1)
		if !sleep(ctx, pause) {
			return nil
		}
	}
	return nil
}

// pick is an entry id that may exist: a seed entry or one of this
// writer's.
func pick(r *rand.Rand, next, base int64) int64 {
	if r.IntN(2) == 0 || next == base {
		return 1 + r.Int64N(2000)
	}
	return base + 1 + r.Int64N(next-base)
}

// SurrealLoad writes note records until ctx ends, pausing pause after
// each statement: creates, updates and deletes, one transaction each.
func SurrealLoad(ctx context.Context, cl *surreal.Client, pause time.Duration, ops *atomic.Int64) error {
	r := rand.New(rand.NewPCG(7, 9))
	next := 0
	for ctx.Err() == nil {
		var q string
		vars := map[string]any{"b": fmt.Sprintf("body %d", r.IntN(1000))}
		switch r.IntN(5) {
		case 0, 1:
			next++
			q, vars["id"], vars["n"] = "CREATE type::record('note', $id) SET n = $n, body = $b RETURN NONE", next, r.IntN(1000)
		case 2, 3:
			q, vars["id"] = "UPDATE type::record('note', $id) SET n += 1, body = $b RETURN NONE", 1+r.IntN(max(next, 1))
		case 4:
			q, vars["id"] = "DELETE type::record('note', $id)", 1+r.IntN(max(next, 1))
		}
		res, err := surrealdb.Query[any](ctx, cl.DB, q, vars)
		if err == nil && len(*res) > 0 && (*res)[0].Error != nil {
			err = (*res)[0].Error
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%s: %w", q, err)
		}
		ops.Add(1)
		if !sleep(ctx, pause) {
			return nil
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
