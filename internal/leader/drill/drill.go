// Package drill runs failover drills for tests and benchmarks: several
// `pgsurreal serve` daemons as real processes against the same databases,
// the leader killed with SIGKILL, the time until another daemon logs
// "became leader" measured, and every daemon's log watched so that two
// live leaders at once are noticed. Workload and schema for the drills
// are in workload.go.
package drill

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/leader"
)

// Daemon is one `pgsurreal serve` process of a Cluster.
type Daemon struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited

	mu      sync.Mutex
	log     bytes.Buffer
	leading bool
	tookAt  time.Time // when it last logged taking the lease
	killed  bool      // by the drill, on purpose
}

// Log returns what the daemon has logged so far.
func (d *Daemon) Log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

// Alive reports whether the process still runs.
func (d *Daemon) Alive() bool {
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

// PID is the process id.
func (d *Daemon) PID() int { return d.cmd.Process.Pid }

// Takeover is one measured failover.
type Takeover struct {
	// From is the daemon killed, To the one that took over.
	From, To string
	// Took is from the SIGKILL to the new leader's "became leader" line
	// (read by this process as it was written).
	Took time.Duration
	// Acquired is from the SIGKILL to the new leader's taking the lock;
	// Took - Acquired is the fencing margin it then waited.
	Acquired time.Duration
}

// event is a leadership log line of a daemon.
type event struct {
	d   *Daemon
	msg string
	at  time.Time
}

// Cluster runs daemons that all take the same arguments.
type Cluster struct {
	bin  string
	args []string
	env  []string

	events chan event

	mu         sync.Mutex
	daemons    []*Daemon
	leader     *Daemon
	violations []string
}

// New returns a cluster of `bin serve args...` daemons run with env
// (nil: this process's environment). The daemons must log JSON at level
// info or below (--log-format json --log-level info).
func New(bin string, args, env []string) *Cluster {
	return &Cluster{bin: bin, args: args, env: env, events: make(chan event, 64)}
}

// Start starts a daemon.
func (c *Cluster) Start(name string) (*Daemon, error) {
	cmd := exec.Command(c.bin, append([]string{"serve"}, c.args...)...)
	cmd.Env = c.env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d := &Daemon{Name: name, cmd: cmd, done: make(chan struct{})}
	c.mu.Lock()
	c.daemons = append(c.daemons, d)
	c.mu.Unlock()
	go c.read(d, stderr)
	return d, nil
}

// read keeps the daemon's log and passes its leadership lines on. It
// never blocks on the caller, so the process can always be waited for.
func (c *Cluster) read(d *Daemon, r interface{ Read([]byte) (int, error) }) {
	defer close(d.done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		at := time.Now()
		d.mu.Lock()
		d.log.Write(sc.Bytes())
		d.log.WriteByte('\n')
		d.mu.Unlock()
		var rec struct {
			Msg string `json:"msg"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			continue
		}
		switch rec.Msg {
		case leader.LogTookLease:
			d.mu.Lock()
			d.tookAt = at
			d.mu.Unlock()
			continue
		case leader.LogBecameLeader:
			c.becameLeader(d)
		case leader.LogLostLeadership, leader.LogReleased:
			d.mu.Lock()
			d.leading = false
			d.mu.Unlock()
		default:
			continue
		}
		select {
		case c.events <- event{d: d, msg: rec.Msg, at: at}:
		default: // nobody waits: the state above is what counts
		}
	}
	_ = d.cmd.Wait()
}

// becameLeader records d leading and notes a violation if another live
// daemon still leads.
func (c *Cluster) becameLeader(d *Daemon) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range c.daemons {
		if o == d || !o.Alive() {
			continue
		}
		o.mu.Lock()
		leading := o.leading
		o.mu.Unlock()
		if leading {
			c.violations = append(c.violations, fmt.Sprintf("%s became leader at %s while %s (pid %d, alive) still led", d.Name, time.Now().Format(time.StampMilli), o.Name, o.PID()))
		}
	}
	d.mu.Lock()
	d.leading = true
	d.mu.Unlock()
	c.leader = d
}

// Violations lists the moments two live daemons led at once.
func (c *Cluster) Violations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.violations)
}

// Leader returns the daemon that last logged "became leader", if it is
// alive and still leads.
func (c *Cluster) Leader() *Daemon {
	c.mu.Lock()
	d := c.leader
	c.mu.Unlock()
	if d == nil || !d.Alive() {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.leading {
		return nil
	}
	return d
}

// WaitLeader waits until some live daemon leads.
func (c *Cluster) WaitLeader(timeout time.Duration) (*Daemon, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if d := c.Leader(); d != nil {
			return d, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, fmt.Errorf("no daemon became leader within %s", timeout)
}

// Failover kills the leader with SIGKILL, starts the daemon replacement
// so that as many run as before, and waits up to timeout for another
// daemon's "became leader".
func (c *Cluster) Failover(replacement string, timeout time.Duration) (Takeover, error) {
	old := c.Leader()
	if old == nil {
		return Takeover{}, errors.New("no daemon leads")
	}
	c.drain()
	old.mu.Lock()
	old.killed = true
	old.mu.Unlock()
	killed := time.Now()
	if err := old.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return Takeover{}, err
	}
	<-old.done
	if _, err := c.Start(replacement); err != nil {
		return Takeover{}, err
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case ev := <-c.events:
			if ev.msg != leader.LogBecameLeader || ev.d == old {
				continue
			}
			to := Takeover{From: old.Name, To: ev.d.Name, Took: ev.at.Sub(killed)}
			ev.d.mu.Lock()
			if ev.d.tookAt.After(killed) {
				to.Acquired = ev.d.tookAt.Sub(killed)
			}
			ev.d.mu.Unlock()
			return to, nil
		case <-deadline.C:
			return Takeover{From: old.Name}, fmt.Errorf("no daemon took over within %s of killing %s", timeout, old.Name)
		}
	}
}

// drain drops events already queued.
func (c *Cluster) drain() {
	for {
		select {
		case <-c.events:
		default:
			return
		}
	}
}

// Exited names the daemons that exited although the drill did not kill
// them (a daemon that fails at start, for instance).
func (c *Cluster) Exited() []string {
	var out []string
	for _, d := range c.Daemons() {
		d.mu.Lock()
		killed := d.killed
		d.mu.Unlock()
		if !killed && !d.Alive() {
			out = append(out, fmt.Sprintf("%s (%s)", d.Name, d.cmd.ProcessState))
		}
	}
	return out
}

// Stop sends SIGTERM to every live daemon and waits for them (SIGKILL
// after timeout).
func (c *Cluster) Stop(timeout time.Duration) {
	c.mu.Lock()
	ds := slices.Clone(c.daemons)
	c.mu.Unlock()
	for _, d := range ds {
		if d.Alive() {
			_ = d.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for _, d := range ds {
		select {
		case <-d.done:
		case <-timer.C:
			for _, e := range ds {
				if e.Alive() {
					_ = e.cmd.Process.Kill()
				}
			}
			<-d.done
		}
	}
}

// Daemons returns every daemon started, live or not.
func (c *Cluster) Daemons() []*Daemon {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.daemons)
}
