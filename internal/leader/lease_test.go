package leader_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/leader"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

// Short intervals keep the tests quick: checks every 200ms, so the
// margin must be at least 2*200ms + 500ms.
const (
	checkEvery = 200 * time.Millisecond
	margin     = time.Second
)

// work records who leads and when, and fails the test if two ever lead
// at once.
type work struct {
	t      *testing.T
	active atomic.Int32
	mu     sync.Mutex
	events []string // "start A", "stop A", ...
}

// lead returns the lead function of candidate name: it runs until its
// context ends, then takes stopIn to return.
func (w *work) lead(name string, stopIn time.Duration) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		if n := w.active.Add(1); n > 1 {
			w.t.Errorf("%s started leading while %d others led", name, n-1)
		}
		w.note("start " + name)
		<-ctx.Done()
		time.Sleep(stopIn)
		w.note("stop " + name)
		w.active.Add(-1)
		return nil
	}
}

func (w *work) note(e string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.events = append(w.events, e)
}

func (w *work) last() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.events) == 0 {
		return ""
	}
	return w.events[len(w.events)-1]
}

// waitLast waits up to within for the last event to be want and returns
// the last event then.
func (w *work) waitLast(within time.Duration, want string) string {
	deadline := time.Now().Add(within)
	for {
		ev := w.last()
		if ev == want || time.Now().After(deadline) {
			return ev
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// candidate is a Lease running in a goroutine of the test.
type candidate struct {
	lease  *leader.Lease
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, pg config.Postgres, name, id string, lead func(ctx context.Context) error) *candidate {
	t.Helper()
	reg := prometheus.NewRegistry()
	l, err := leader.New(leader.Options{Postgres: pg, Name: name, CheckEvery: checkEvery, Margin: margin, ID: id, Registerer: reg, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &candidate{lease: l, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { c.done <- l.Run(ctx, lead) }()
	t.Cleanup(func() {
		cancel()
		<-c.done
	})
	return c
}

func (c *candidate) stop(t *testing.T) error {
	t.Helper()
	c.cancel()
	select {
	case err := <-c.done:
		c.done <- err // for the cleanup
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of its context ending")
		return nil
	}
}

func testLog(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.DiscardHandler)
}

// waitLeader waits until exactly one of cs leads and returns it.
func waitLeader(t *testing.T, within time.Duration, cs ...*candidate) *candidate {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		var leaders []*candidate
		for _, c := range cs {
			if c.lease.IsLeader() {
				leaders = append(leaders, c)
			}
		}
		if len(leaders) > 1 {
			t.Fatalf("%d leaders at once", len(leaders))
		}
		if len(leaders) == 1 {
			return leaders[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no leader within %s", within)
	return nil
}

func TestOneLeaderAndHandover(t *testing.T) {
	t.Parallel()
	pg := testenv.Get(t).NewPostgresDB(t)
	w := &work{t: t}
	a := start(t, pg, "slot_a", "A", w.lead("A", 0))
	b := start(t, pg, "slot_a", "B", w.lead("B", 0))
	first := waitLeader(t, 5*time.Second, a, b)
	other := b
	if first == b {
		other = a
	}
	// The standby names the holder and stays a standby.
	time.Sleep(3 * checkEvery)
	if st := other.lease.Status(); st.Role != leader.Standby || st.Holder != first.lease.Status().ID {
		t.Errorf("standby status %+v, want the holder %s", st, first.lease.Status().ID)
	}
	if got := metric(t, first.reg, "pgsurreal_leader"); got != 1 {
		t.Errorf("pgsurreal_leader of the leader = %v", got)
	}
	if got := metric(t, other.reg, "pgsurreal_leader"); got != 0 {
		t.Errorf("pgsurreal_leader of the standby = %v", got)
	}
	if got := metric(t, other.reg, "pgsurreal_leader_standby"); got != 1 {
		t.Errorf("pgsurreal_leader_standby of the standby = %v", got)
	}
	if got := metric(t, first.reg, "pgsurreal_leader_standby"); got != 0 {
		t.Errorf("pgsurreal_leader_standby of the leader = %v", got)
	}

	// A graceful stop releases the lock: the standby leads after at most
	// one try and the margin.
	stopped := time.Now()
	if err := first.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := waitLeader(t, checkEvery+margin+2*time.Second, other); got != other {
		t.Fatal("the standby did not take over")
	}
	took := time.Since(stopped)
	if took < margin {
		t.Errorf("took over %s after the stop, before the fencing margin of %s", took, margin)
	}
	t.Logf("handover took %s", took.Round(time.Millisecond))
	if st := other.lease.Status(); st.Transitions != 1 {
		t.Errorf("transitions %d, want 1", st.Transitions)
	}
}

// TestSessionEndStopsWorkFirst ends the holder's lock session from the
// server side while its process lives on: the holder must stop its work
// before the other candidate starts (the work counter fails the test
// otherwise), and then stand by again.
func TestSessionEndStopsWorkFirst(t *testing.T) {
	t.Parallel()
	pg, pool := testenv.Get(t).NewPostgresPool(t)
	w := &work{t: t}
	// The work takes a while to stop: still within the stop timeout
	// (margin - 2*checkEvery = 600ms).
	a := start(t, pg, "slot_b", "A", w.lead("A", 400*time.Millisecond))
	b := start(t, pg, "slot_b", "B", w.lead("B", 400*time.Millisecond))
	holder := waitLeader(t, 5*time.Second, a, b)
	standby := a
	if holder == a {
		standby = b
	}
	for round := range 3 {
		id := holder.lease.Status().ID
		epoch := holder.lease.Epoch()
		terminate(t, pool, id)
		killed := time.Now()
		next := waitLeader(t, 2*checkEvery+margin+3*time.Second, standby)
		t.Logf("round %d: %s took over from %s in %s", round, next.lease.Status().ID, id, time.Since(killed).Round(time.Millisecond))
		// Each term has a higher fencing token than the one before.
		if got := next.lease.Epoch(); got <= epoch {
			t.Errorf("the new holder's epoch %d is not above the deposed one's %d", got, epoch)
		}
		if st := holder.lease.Status(); st.Role != leader.Standby || st.Transitions%2 != 0 || st.Holder != next.lease.Status().ID {
			t.Errorf("the deposed holder's status %+v", st)
		}
		// The role turns to leader just before the work starts: wait
		// for the start, which must come after the deposed one's stop.
		if ev := w.waitLast(5*time.Second, "start "+next.lease.Status().ID); ev != "start "+next.lease.Status().ID {
			t.Errorf("last event %q, want %q", ev, "start "+next.lease.Status().ID)
		}
		holder, standby = next, holder
	}
	// A PostgreSQL write of the deposed holder is fenced; the holder's
	// passes.
	ctx := context.Background()
	for _, c := range []struct {
		epoch int64
		want  error
	}{{standby.lease.Epoch(), leader.ErrFenced}, {holder.lease.Epoch(), nil}} {
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := leader.CheckEpoch(ctx, tx, leader.DefaultSchema, "slot_b", c.epoch); !errors.Is(err, c.want) {
			t.Errorf("CheckEpoch(%d) = %v, want %v", c.epoch, err, c.want)
		}
		_ = tx.Rollback(ctx)
	}
	if got := metric(t, standby.reg, "pgsurreal_leader_check_failures_total"); got < 1 {
		t.Errorf("check failures of a deposed holder: %v", got)
	}
}

// TestStopTimeout: work that ignores its context past the stop timeout
// makes Run return ErrStopTimeout.
func TestStopTimeout(t *testing.T) {
	t.Parallel()
	pg, pool := testenv.Get(t).NewPostgresPool(t)
	release := make(chan struct{})
	defer close(release)
	a := start(t, pg, "slot_c", "A", func(ctx context.Context) error {
		<-release
		return nil
	})
	waitLeader(t, 5*time.Second, a)
	terminate(t, pool, "A")
	select {
	case err := <-a.done:
		a.done <- err
		if !errors.Is(err, leader.ErrStopTimeout) {
			t.Fatalf("Run returned %v, want ErrStopTimeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not give up on the work")
	}
}

// TestLeadError: an error of the work ends Run with it, and the lock is
// released for the other candidate.
func TestLeadError(t *testing.T) {
	t.Parallel()
	pg := testenv.Get(t).NewPostgresDB(t)
	boom := errors.New("boom")
	fail := make(chan struct{})
	a := start(t, pg, "slot_d", "A", func(ctx context.Context) error {
		select {
		case <-fail:
			return boom
		case <-ctx.Done():
			return nil
		}
	})
	waitLeader(t, 5*time.Second, a)
	w := &work{t: t}
	b := start(t, pg, "slot_d", "B", w.lead("B", 0))
	close(fail)
	if err := <-a.done; !errors.Is(err, boom) {
		t.Fatalf("Run returned %v, want boom", err)
	}
	a.done <- nil
	waitLeader(t, checkEvery+margin+2*time.Second, b)
}

// TestDifferentNamesDoNotCompete: two slots, two leaders.
func TestDifferentNamesDoNotCompete(t *testing.T) {
	t.Parallel()
	pg := testenv.Get(t).NewPostgresDB(t)
	w1, w2 := &work{t: t}, &work{t: t}
	a := start(t, pg, "one", "A", w1.lead("A", 0))
	b := start(t, pg, "two", "B", w2.lead("B", 0))
	waitLeader(t, 5*time.Second, a)
	waitLeader(t, 5*time.Second, b)
}

func TestNewChecksMargin(t *testing.T) {
	t.Parallel()
	_, err := leader.New(leader.Options{Name: "x", CheckEvery: time.Second, Margin: 2 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "raise ha.fencing_margin to at least 2.5s") {
		t.Errorf("err = %v", err)
	}
	l, err := leader.New(leader.Options{Name: "x", CheckEvery: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if l.Margin() != 6500*time.Millisecond || l.StopTimeout() != 500*time.Millisecond {
		t.Errorf("margin %s, stop timeout %s", l.Margin(), l.StopTimeout())
	}
	l, _ = leader.New(leader.Options{Name: "x"})
	if l.Margin() != leader.DefaultMargin || l.StopTimeout() != 2*time.Second {
		t.Errorf("default margin %s, stop timeout %s", l.Margin(), l.StopTimeout())
	}
	if st := l.Status(); st.Role != leader.Standby || st.PID != os.Getpid() || !strings.HasSuffix(st.ID, fmt.Sprintf(":%d", os.Getpid())) {
		t.Errorf("initial status %+v", st)
	}
	if _, err := leader.New(leader.Options{}); err == nil {
		t.Error("no error without a name")
	}
}

// terminate ends the lock session of candidate id from the server side.
func terminate(t *testing.T, pool *pgxpool.Pool, id string) {
	t.Helper()
	var n int
	err := pool.QueryRow(context.Background(),
		"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()",
		"pgsurreal-lease "+id).Scan(&n)
	if err != nil || n != 1 {
		t.Fatalf("terminating the session of %s: %d sessions, %v", id, n, err)
	}
}

// metric reads a gauge or counter of reg by name.
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			m := f.GetMetric()[0]
			if m.Counter != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestLeadEnds: work that returns nil on its own ends Run, which
// releases the lock.
func TestLeadEnds(t *testing.T) {
	t.Parallel()
	pg := testenv.Get(t).NewPostgresDB(t)
	var runs atomic.Int32
	a := start(t, pg, "slot_e", "A", func(ctx context.Context) error {
		runs.Add(1)
		return nil
	})
	select {
	case err := <-a.done:
		a.done <- err
		if err != nil || runs.Load() != 1 {
			t.Fatalf("Run returned %v after %d runs", err, runs.Load())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return when the work ended")
	}
	w := &work{t: t}
	b := start(t, pg, "slot_e", "B", w.lead("B", 0))
	waitLeader(t, checkEvery+margin+2*time.Second, b)
}
