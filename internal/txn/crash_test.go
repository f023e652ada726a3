package txn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// crashChildEnv carries the child's servers (JSON of childConfig).
const crashChildEnv = "PGSURREAL_TEST_TX_CHILD"

type childConfig struct {
	PG      config.Postgres
	Surreal config.Surreal
	// The passwords travel apart: a config.Secret marshals as [redacted].
	PGPassword, SurrealPassword string
	Recover                     bool // run the resolver instead of transfers
	Seed                        uint64
	// Bank transfers both ways until the parent kills the process.
	Bank bool
}

// TestCrashChild is not a test: the crash tests run the test binary as a
// coordinator process (this function), armed to SIGKILL itself at a fault
// point. It returns at once in a normal run.
func TestCrashChild(t *testing.T) {
	raw := os.Getenv(crashChildEnv)
	if raw == "" {
		t.Skip("the crash tests' coordinator process; runs only under TestCrashAtFaultPoints")
	}
	var cc childConfig
	if err := json.Unmarshal([]byte(raw), &cc); err != nil {
		t.Fatal(err)
	}
	cc.PG.Password, cc.Surreal.Password = config.Secret(cc.PGPassword), config.Secret(cc.SurrealPassword)
	ctx := context.Background()
	pool, err := postgres.Connect(ctx, cc.PG)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := surreal.NewPool(ctx, cc.Surreal, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{PG: pool, Surreal: sp, Lease: time.Minute, Log: slog.New(slog.DiscardHandler)}
	if cc.Recover {
		_, err := Recover(ctx, o)
		t.Fatalf("the resolver returned (%v) instead of being killed at %s", err, armed)
	}
	c, err := Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	// Transfers until the armed fault point kills the process; several at
	// once, so the others die in whatever phase they are in.
	errs := make(chan error, 4)
	for w := range 4 {
		go func() {
			r := rand.New(rand.NewPCG(cc.Seed, uint64(w)))
			for i := 0; ; i++ {
				id := fmt.Sprintf("%d-%d-%d", cc.Seed, w, i)
				from, amount := 1+r.IntN(4), 1+r.IntN(20)
				fn := bankTransfer(id, from, amount, w%2 == 1)
				if cc.Bank && r.IntN(2) == 0 {
					fn = bankTransferBack(id, from, amount)
				}
				err := c.RunTx(ctx, TxOptions{Isolation: []string{"read committed", "repeatable read", "serializable"}[r.IntN(3)]}, fn)
				if err != nil && !retryable(err) {
					errs <- err
					return
				}
			}
		}()
	}
	t.Fatalf("a transfer failed before the fault point was reached: %v", <-errs)
}

// bankTransfer moves amount from PostgreSQL account from to the SurrealDB
// account of the same number, and logs the transfer on both sides; the
// SurrealDB part queued (one round trip at commit) or run at once.
func bankTransfer(id string, from, amount int, queue bool) func(context.Context, *Tx) error {
	return func(ctx context.Context, tx *Tx) error {
		if _, err := tx.PG().Exec(ctx, "UPDATE acct SET bal = bal - $1 WHERE id = $2", amount, from); err != nil {
			return err
		}
		if _, err := tx.PG().Exec(ctx, "INSERT INTO transfer_log (id, amount) VALUES ($1, $2)", id, amount); err != nil {
			return err
		}
		sql := "UPDATE type::record('acct', $from) SET bal += $amount; CREATE type::record('transfer', $id) SET amount = $amount"
		vars := map[string]any{"from": from, "amount": amount, "id": id}
		if queue {
			return tx.Surreal().Exec(sql, vars)
		}
		_, err := tx.Surreal().Query(ctx, sql, vars)
		return err
	}
}

// bankTransferBack moves amount from SurrealDB account from to the
// PostgreSQL account of the same number (reading the SurrealDB balance
// first, so the SurrealDB part is an interactive transaction).
func bankTransferBack(id string, from, amount int) func(context.Context, *Tx) error {
	return func(ctx context.Context, tx *Tx) error {
		if _, err := tx.Surreal().Query(ctx, "SELECT bal FROM type::record('acct', $from)", map[string]any{"from": from}); err != nil {
			return err
		}
		if err := tx.Surreal().Exec("UPDATE type::record('acct', $from) SET bal -= $amount; CREATE type::record('transfer', $id) SET amount = $amount",
			map[string]any{"from": from, "amount": amount, "id": id}); err != nil {
			return err
		}
		if _, err := tx.PG().Exec(ctx, "UPDATE acct SET bal = bal + $1 WHERE id = $2", amount, from); err != nil {
			return err
		}
		_, err := tx.PG().Exec(ctx, "INSERT INTO transfer_log (id, amount) VALUES ($1, $2)", id, amount)
		return err
	}
}

// TestBank: accounts on both sides, transfers both ways from several
// workers at every isolation level for PGSURREAL_TEST_BANK_SECONDS
// (default 60), the coordinator process killed with SIGKILL at random
// moments and restarted; after each recovery the total is unchanged and
// every transfer in the log is applied on both sides or on neither.
func TestBank(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		t.Skip("inside a child")
	}
	t.Parallel()
	seconds := 60
	if v, err := strconv.Atoi(os.Getenv("PGSURREAL_TEST_BANK_SECONDS")); err == nil && v > 0 {
		seconds = v
	}
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.pg.Exec(ctx, `CREATE TABLE transfer_log (id text PRIMARY KEY, amount int NOT NULL);
INSERT INTO acct VALUES (3, 100), (4, 100)`); err != nil {
		t.Fatal(err)
	}
	f.surrealExec(t, "CREATE acct:3 SET bal = 100; CREATE acct:4 SET bal = 100; DEFINE TABLE transfer SCHEMALESS;")
	r := rand.New(rand.NewPCG(7, 7))
	end := time.Now().Add(time.Duration(seconds) * time.Second)
	kills := 0
	for seed := uint64(1); time.Now().Before(end); seed++ {
		f.killAfter(t, seed, time.Duration(200+r.IntN(1300))*time.Millisecond)
		kills++
		f.expireLeases(t)
		f.recoverAll(t, kills)
		f.checkBank(t, kills)
	}
	var transfers int
	if err := f.pg.QueryRow(ctx, "SELECT count(*) FROM transfer_log").Scan(&transfers); err != nil {
		t.Fatal(err)
	}
	if transfers == 0 {
		t.Fatal("no transfer committed in the whole run")
	}
	t.Logf("%d kills, %d transfers committed, balances consistent after each", kills, transfers)
}

// killAfter runs a bank coordinator process and kills it with SIGKILL
// after d.
func (f *fixture) killAfter(t *testing.T, seed uint64, d time.Duration) {
	t.Helper()
	raw, _ := json.Marshal(childConfig{PG: f.pgcfg, Surreal: f.scfg, PGPassword: f.pgcfg.Password.Reveal(),
		SurrealPassword: f.scfg.Password.Reveal(), Seed: seed, Bank: true})
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+string(raw))
	out := &limitedBuffer{max: 4096}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		t.Fatalf("the coordinator process ended by itself: %v\n%s", err, out)
	case <-time.After(d):
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// TestCrashAtFaultPoints kills a real coordinator process with SIGKILL at
// each named fault point, again and again, recovers, and checks that
// every transfer is applied on both sides or on neither and that no money
// was made or lost. PGSURREAL_TEST_TX_KILLS sets the kills per point
// (default 200).
func TestCrashAtFaultPoints(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		t.Skip("inside a child")
	}
	kills := 200
	if v, err := strconv.Atoi(os.Getenv("PGSURREAL_TEST_TX_KILLS")); err == nil && v > 0 {
		kills = v
	}
	for _, point := range []string{FaultAfterPGPrepare, FaultAfterSurrealCommit, FaultBeforeCommitPrepared, FaultDuringRecovery} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			ctx := context.Background()
			if _, err := f.pg.Exec(ctx, `CREATE TABLE transfer_log (id text PRIMARY KEY, amount int NOT NULL);
INSERT INTO acct VALUES (3, 100), (4, 100)`); err != nil {
				t.Fatal(err)
			}
			f.surrealExec(t, "CREATE acct:3 SET bal = 100; CREATE acct:4 SET bal = 100; DEFINE TABLE transfer SCHEMALESS;")
			for k := range kills {
				if point == FaultDuringRecovery {
					// Leave in-doubt transactions, then kill a resolver
					// while it works on them.
					f.runChild(t, FaultAfterPGPrepare, false, uint64(k))
					f.expireLeases(t)
					f.runChild(t, FaultDuringRecovery, true, uint64(k))
				} else {
					f.runChild(t, point, false, uint64(k))
				}
				f.expireLeases(t)
				f.recoverAll(t, k+1)
				f.checkBank(t, k+1)
			}
		})
	}
}

// runChild runs a coordinator (or resolver) process armed at point and
// waits for the SIGKILL.
func (f *fixture) runChild(t *testing.T, point string, recover bool, seed uint64) {
	t.Helper()
	raw, _ := json.Marshal(childConfig{PG: f.pgcfg, Surreal: f.scfg, PGPassword: f.pgcfg.Password.Reveal(),
		SurrealPassword: f.scfg.Password.Reveal(), Recover: recover, Seed: seed})
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+string(raw), FaultEnv+"="+point)
	done := make(chan error, 1)
	out := &limitedBuffer{max: 4096}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("the coordinator process was not killed at %s: %v\n%s", point, err, out)
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("the coordinator process never reached %s\n%s", point, out)
	}
}

// recoverAll runs recovery until nothing is left prepared. One pass is
// not always enough: a PREPARE TRANSACTION the killed process had sent is
// still executed by its PostgreSQL backend, which has not yet noticed its
// client is gone, and can land after the pass listed the prepared
// transactions. The next pass finishes it like any other.
func (f *fixture) recoverAll(t *testing.T, kill int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rep, err := Recover(context.Background(), f.o)
		if err != nil {
			t.Fatalf("kill %d: recovery: %v", kill, err)
		}
		if rep.Waiting != 0 {
			t.Fatalf("kill %d: recovery left transactions to a coordinator whose lease expired: %+v", kill, rep)
		}
		if preparedCount(t, f) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("kill %d: transactions still prepared after 30 s of recovery passes", kill)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// expireLeases makes every coordinator of the fixture's database look
// dead, as its lease would after it expired.
func (f *fixture) expireLeases(t *testing.T) {
	t.Helper()
	if _, err := f.pg.Exec(context.Background(), "UPDATE pgsurreal.tx_coordinator SET expires_at = now() - interval '1 second'"); err != nil {
		t.Fatal(err)
	}
}

// checkBank: the same transfers on both sides, balances that add up.
func (f *fixture) checkBank(t *testing.T, kill int) {
	t.Helper()
	ctx := context.Background()
	rows, err := f.pg.Query(ctx, "SELECT id FROM transfer_log ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	var pgIDs []string
	for rows.Next() {
		var id string
		_ = rows.Scan(&id)
		pgIDs = append(pgIDs, id)
	}
	rows.Close()
	var sIDs []string
	var total int64
	err = f.sur.Do(ctx, func(ctx context.Context, cl *surreal.Client) error {
		res, err := surrealdb.Query[any](ctx, cl.DB, "SELECT VALUE record::id(id) FROM transfer; math::sum((SELECT VALUE bal FROM acct));", nil)
		if err != nil {
			return err
		}
		for _, v := range (*res)[0].Result.([]any) {
			sIDs = append(sIDs, fmt.Sprint(v))
		}
		total, _ = strconv.ParseInt(fmt.Sprint((*res)[1].Result), 10, 64)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(sIDs)
	if !slices.Equal(pgIDs, sIDs) {
		t.Fatalf("after kill %d the two sides hold different transfers:\nPostgreSQL %v\nSurrealDB  %v", kill, pgIDs, sIDs)
	}
	var pgTotal int64
	if err := f.pg.QueryRow(ctx, "SELECT sum(bal) FROM acct").Scan(&pgTotal); err != nil {
		t.Fatal(err)
	}
	if pgTotal+total != 800 {
		t.Fatalf("after kill %d money was made or lost: PostgreSQL %d + SurrealDB %d != 800", kill, pgTotal, total)
	}
}

// limitedBuffer keeps the first max bytes of a child's output.
type limitedBuffer struct {
	b   []byte
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return string(l.b) }
