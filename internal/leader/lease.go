package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
)

// Defaults of Options.
const (
	DefaultCheckEvery = time.Second
	DefaultMargin     = 4 * time.Second
	// MinStopTimeout is the least time the work gets to stop: Margin
	// must be at least 2*CheckEvery + MinStopTimeout.
	MinStopTimeout = 500 * time.Millisecond
)

// ErrStopTimeout is returned by Run when the work did not return within
// the stop timeout of its context being canceled. The lease may already
// belong to another process, so the caller must end the process at
// once: its connections then close and nothing of it writes any more.
var ErrStopTimeout = errors.New("the work did not stop in time after the leader lease ended")

// Log messages of the lease, for tools that follow a daemon's log (the
// process id is in the "pid" attribute of each).
const (
	LogTookLease      = "took the leader lease; waiting the fencing margin before leading"
	LogBecameLeader   = "became leader"
	LogLostLeadership = "lost leadership"
	LogReleased       = "released the leader lease"
)

// Role is what a process does under the lease.
type Role string

// Roles.
const (
	// Standby serves queries and tries to take the lease.
	Standby Role = "standby"
	// Leader holds the lease and runs the work.
	Leader Role = "leader"
)

// Options configure a Lease.
type Options struct {
	// Postgres is the database whose advisory lock is the lease: every
	// candidate must use the same one.
	Postgres config.Postgres
	// Name is what is led (the sync's slot): the lock's key is
	// hashtext('pgsurreal leader ' || Name). Required.
	Name string
	// CheckEvery is how often a holder proves its session alive (a check
	// that takes longer fails) and how often a standby tries to take the
	// lease; 0 means DefaultCheckEvery (1s).
	CheckEvery time.Duration
	// Margin is how long a new holder waits after taking the lock before
	// it starts the work, at least 2*CheckEvery + MinStopTimeout; the
	// work gets Margin - 2*CheckEvery to stop once its context is
	// canceled (see the package doc). 0 means DefaultMargin (4s), or the
	// least allowed when CheckEvery is large.
	Margin time.Duration
	// Schema holds the epoch table (the fencing tokens): pgsurreal's own
	// schema, reverse.schema; default DefaultSchema.
	Schema string
	// ID names this process in logs, in the status and in
	// pg_stat_activity.application_name of its lock session; default
	// "<hostname>:<pid>".
	ID string
	// Log receives "became leader", "lost leadership" and the standby's
	// state changes; nil logs nothing.
	Log *slog.Logger
	// Registerer receives pgsurreal_leader,
	// pgsurreal_leader_transitions_total and
	// pgsurreal_leader_check_failures_total; nil registers none.
	Registerer prometheus.Registerer
}

// Status is a process's role as the API reports it.
type Status struct {
	Role Role `json:"role"`
	// ID names this process (host:pid unless configured).
	ID string `json:"id"`
	// PID is this process's id.
	PID int `json:"pid"`
	// Since is when the current role began.
	Since time.Time `json:"since"`
	// Transitions counts changes of role since the process started.
	Transitions int `json:"transitions"`
	// Holder is the ID of the process holding the lease, as its lock
	// session names itself, when known.
	Holder string `json:"holder,omitempty"`
	// Detail says what the role means now, or what keeps a standby from
	// reaching PostgreSQL.
	Detail string `json:"detail"`
	// Epoch is the fencing token of this process's latest term as
	// leader (0: it never led): every takeover raises it, and the
	// replication writes carry it, so SurrealDB refuses the writes of a
	// holder that was deposed while frozen.
	Epoch int64 `json:"epoch,omitempty"`
}

// Lease is one process's candidacy for leadership. Run it once; Status
// may be called from any goroutine.
type Lease struct {
	o    Options
	stop time.Duration // the work's time to stop: Margin - 2*CheckEvery
	log  *slog.Logger
	m    *metrics

	// Used by Run's goroutine only.
	conn *pgx.Conn
	key  int64 // hashtext(...) of the lock, known once connected

	mu     sync.Mutex
	status Status
}

// New checks o and returns a standby Lease.
func New(o Options) (*Lease, error) {
	if o.Name == "" {
		return nil, errors.New("leader lease: no name to lead (the sync slot)")
	}
	if o.CheckEvery <= 0 {
		o.CheckEvery = DefaultCheckEvery
	}
	least := 2*o.CheckEvery + MinStopTimeout
	if o.Margin <= 0 {
		o.Margin = max(DefaultMargin, least)
	}
	if o.Margin < least {
		return nil, fmt.Errorf("leader lease: the fencing margin %s is less than twice the check interval %s plus %s for the work to stop: raise ha.fencing_margin to at least %s", o.Margin, o.CheckEvery, MinStopTimeout, least)
	}
	if o.ID == "" {
		host, _ := os.Hostname()
		o.ID = host + ":" + strconv.Itoa(os.Getpid())
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Schema == "" {
		o.Schema = DefaultSchema
	}
	l := &Lease{o: o, stop: o.Margin - 2*o.CheckEvery, log: o.Log, m: newMetrics(o.Registerer)}
	l.status = Status{Role: Standby, ID: o.ID, PID: os.Getpid(), Since: time.Now(), Detail: "starting: not yet connected to PostgreSQL"}
	return l, nil
}

// Status returns the process's current role.
func (l *Lease) Status() Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.status
}

// IsLeader reports whether this process leads now.
func (l *Lease) IsLeader() bool { return l.Status().Role == Leader }

// Margin is the fencing margin in use.
func (l *Lease) Margin() time.Duration { return l.o.Margin }

// StopTimeout is how long the work gets to return once its context is
// canceled.
func (l *Lease) StopTimeout() time.Duration { return l.stop }

// setRole records a change of role.
func (l *Lease) setRole(r Role, detail string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.status.Role != r {
		l.status.Role, l.status.Since = r, time.Now()
		l.status.Transitions++
		l.m.transitions.Inc()
	}
	l.status.Detail = detail
	l.m.standby.Set(0)
	if r == Leader {
		l.status.Holder = l.o.ID
		l.m.leader.Set(1)
	} else {
		l.status.Holder = ""
		l.m.leader.Set(0)
	}
}

// setStandby updates a standby's detail and the holder it saw (empty:
// none seen; another process's ID: that one leads); it reports whether
// either changed (for logging changes only).
func (l *Lease) setStandby(holder, detail string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if holder != "" && holder != l.o.ID {
		l.m.standby.Set(1)
	} else {
		l.m.standby.Set(0)
	}
	changed := l.status.Holder != holder || l.status.Detail != detail
	l.status.Holder, l.status.Detail = holder, detail
	return changed
}

// Run campaigns for the lease until ctx ends. While this process holds
// it, lead runs with a context canceled when the lease is lost or ctx
// ends. After a loss lead must return within StopTimeout; after ctx ends
// it may take longer while the session still proves to hold the lock
// (which is released only once lead has returned). After losing, Run
// stands by again and may call lead again later.
//
// Run returns nil when ctx ends (after lead has returned and the lock
// has been released), lead's result, nil or not, when lead returns while
// still leading (the lock released first), or ErrStopTimeout, with the lock
// possibly still held, when lead did not return in time: the caller must
// then end the process at once.
func (l *Lease) Run(ctx context.Context, lead func(ctx context.Context) error) error {
	defer l.closeConn()
	for ctx.Err() == nil {
		if !l.acquire(ctx) {
			sleep(ctx, l.o.CheckEvery)
			continue
		}
		if !l.fence(ctx) {
			continue
		}
		if err := l.nextEpoch(ctx); err != nil {
			l.m.checkFailures.Inc()
			l.log.Warn("could not raise the leader epoch (fencing token); standing by", "err", err, "pid", os.Getpid())
			l.closeConn()
			continue
		}
		if ended, err := l.lead(ctx, lead); ended || err != nil {
			if errors.Is(err, ErrStopTimeout) {
				l.conn = nil // keep the session (and the lock) until the process ends
			}
			return err
		}
	}
	return nil
}

// acquire tries once to take the lock, connecting first if needed.
func (l *Lease) acquire(ctx context.Context) bool {
	if err := l.connect(ctx); err != nil {
		if ctx.Err() == nil && l.setStandby("", "cannot reach PostgreSQL to take the leader lease: "+err.Error()) {
			l.log.Warn("standby: cannot reach PostgreSQL for the leader lease; retrying", "err", err, "every", l.o.CheckEvery.String())
		}
		return false
	}
	qctx, cancel := context.WithTimeout(ctx, l.o.CheckEvery)
	defer cancel()
	var got bool
	var holder *string
	err := l.conn.QueryRow(qctx, tryLockSQL, l.key, classID(l.key), objID(l.key)).Scan(&got, &holder)
	if err != nil {
		l.m.checkFailures.Inc()
		l.closeConn()
		if ctx.Err() == nil && l.setStandby("", "the leader lease's PostgreSQL session failed: "+err.Error()) {
			l.log.Warn("standby: trying the leader lease failed; reconnecting", "err", err)
		}
		return false
	}
	if got {
		return true
	}
	h := "unknown"
	if holder != nil {
		h = holderID(*holder)
	}
	if l.setStandby(h, "serving queries; "+h+" holds the leader lease") {
		l.log.Info("standing by: another process holds the leader lease", "holder", h, "pid", os.Getpid())
	}
	return false
}

// nextEpoch raises the lease's epoch in PostgreSQL (table
// <Schema>.leader_epoch, created on first use) and records it: the
// fencing token of the term about to start.
func (l *Lease) nextEpoch(ctx context.Context) error {
	qctx, cancel := context.WithTimeout(ctx, 4*l.o.CheckEvery)
	defer cancel()
	if _, err := l.conn.Exec(qctx, createEpochSQL(l.o.Schema)); err != nil {
		return fmt.Errorf("creating %s: %w", epochTableIn(l.o.Schema), err)
	}
	var epoch int64
	if err := l.conn.QueryRow(qctx, nextEpochSQL(l.o.Schema), l.o.Name).Scan(&epoch); err != nil {
		return fmt.Errorf("raising the epoch in %s: %w", epochTableIn(l.o.Schema), err)
	}
	l.mu.Lock()
	l.status.Epoch = epoch
	l.mu.Unlock()
	return nil
}

// Epoch is the fencing token of the current (or last) term as leader.
func (l *Lease) Epoch() int64 { return l.Status().Epoch }

// fence waits Margin after the lock was taken, still checking the
// session, so that a holder that lost it has stopped before this one
// starts. It reports whether this process may lead.
func (l *Lease) fence(ctx context.Context) bool {
	l.log.Info(LogTookLease, "margin", l.o.Margin.String(), "pid", os.Getpid())
	l.setStandby(l.o.ID, "took the leader lease; waiting the fencing margin of "+l.o.Margin.String())
	deadline := time.Now().Add(l.o.Margin)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return true
		}
		if !sleep(ctx, min(left, l.o.CheckEvery)) {
			return false // Run's defer closes the connection, releasing the lock
		}
		if err := l.check(ctx); err != nil {
			l.log.Warn("lost the leader lease during the fencing margin; standing by", "err", err, "pid", os.Getpid())
			l.closeConn()
			return false
		}
	}
}

// lead runs the work while the session holds the lock. ended is true
// when Run must return: ctx ended, or the work returned on its own.
func (l *Lease) lead(ctx context.Context, lead func(ctx context.Context) error) (ended bool, err error) {
	start := time.Now()
	l.setRole(Leader, "holds the leader lease: runs replication and the transaction resolver")
	l.log.Info(LogBecameLeader, "id", l.o.ID, "pid", os.Getpid(), "epoch", l.Epoch())
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- lead(wctx) }()
	t := time.NewTicker(l.o.CheckEvery)
	defer t.Stop()
	for {
		select {
		case err := <-done:
			l.closeConn()
			l.setRole(Standby, "stopped leading: the work ended")
			if ctx.Err() != nil {
				l.log.Info(LogReleased, "reason", "stopping", "pid", os.Getpid(), "led", time.Since(start).Round(time.Millisecond).String())
				return true, nil
			}
			l.log.Info(LogReleased, "reason", "the work ended", "err", err, "pid", os.Getpid())
			return true, err
		case <-ctx.Done():
			cancel()
			if err := l.await(done, false); err != nil {
				return true, err
			}
			l.closeConn()
			l.setRole(Standby, "stopped")
			l.log.Info(LogReleased, "reason", "stopping", "pid", os.Getpid(), "led", time.Since(start).Round(time.Millisecond).String())
			return true, nil
		case <-t.C:
			err := l.check(ctx)
			if err == nil {
				continue
			}
			if ctx.Err() != nil {
				continue // shutting down: the next round sees ctx.Done
			}
			cancel()
			l.log.Error(LogLostLeadership, "why", "the leader lease's PostgreSQL session cannot be proven alive; stopping replication and the resolver", "err", err, "pid", os.Getpid())
			stopping := time.Now()
			if err := l.await(done, true); err != nil {
				return true, err
			}
			l.closeConn()
			l.setRole(Standby, "lost the leader lease: "+err.Error())
			l.log.Info("stopped leading", "pid", os.Getpid(), "took", time.Since(stopping).Round(time.Millisecond).String())
			return false, nil
		}
	}
}

// await waits for the work to return after its context was canceled.
// After a graceful stop (lost false) the session still holds the lock,
// so the work may take as long as it needs while checks keep proving
// that; from the first failed check, or at once when the lease was lost,
// it has StopTimeout.
func (l *Lease) await(done <-chan error, lost bool) error {
	var deadline <-chan time.Time
	if lost {
		deadline = time.After(l.stop)
	}
	t := time.NewTicker(l.o.CheckEvery)
	defer t.Stop()
	for {
		select {
		case <-done:
			return nil
		case <-deadline:
			l.log.Error("the work did not stop within the stop timeout after the lease ended: the process must exit", "timeout", l.stop.String(), "pid", os.Getpid())
			return fmt.Errorf("%w (%s)", ErrStopTimeout, l.stop)
		case <-t.C:
			if deadline == nil && l.check(context.Background()) != nil {
				deadline = time.After(l.stop)
			}
		}
	}
}

// check proves, within CheckEvery, that the session is alive and its
// backend holds the lock.
func (l *Lease) check(ctx context.Context) error {
	if l.conn == nil {
		return errors.New("no lease connection")
	}
	qctx, cancel := context.WithTimeout(ctx, l.o.CheckEvery)
	defer cancel()
	var held bool
	err := l.conn.QueryRow(qctx, holdsSQL, classID(l.key), objID(l.key)).Scan(&held)
	switch {
	case err != nil && qctx.Err() != nil && ctx.Err() == nil:
		err = fmt.Errorf("no answer within %s", l.o.CheckEvery)
	case err == nil && !held:
		err = errors.New("the session no longer holds the lock")
	}
	if err != nil {
		l.m.checkFailures.Inc()
	}
	return err
}

// connect opens the lock's session: TCP keepalives and tcp_user_timeout
// short enough that PostgreSQL ends the session of a holder it lost
// within about 6 s, and application_name naming this process.
func (l *Lease) connect(ctx context.Context) error {
	if l.conn != nil {
		return nil
	}
	conn, err := postgres.ConnectOne(ctx, l.o.Postgres, map[string]string{
		"application_name":        appName(l.o.ID),
		"tcp_keepalives_idle":     "3",
		"tcp_keepalives_interval": "1",
		"tcp_keepalives_count":    "3",
		"tcp_user_timeout":        "6000",
	})
	if err != nil {
		return err
	}
	qctx, cancel := context.WithTimeout(ctx, max(l.o.CheckEvery, 5*time.Second))
	defer cancel()
	if err := conn.QueryRow(qctx, "SELECT hashtext($1)::bigint", keyText(l.o.Name)).Scan(&l.key); err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return fmt.Errorf("computing the lease's key: %w", err)
	}
	l.conn = conn
	return nil
}

// closeConn ends the session, which releases the lock if it holds it.
func (l *Lease) closeConn() {
	if l.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = l.conn.Close(ctx)
	l.conn = nil
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
