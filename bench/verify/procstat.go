package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/devstack"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

// serverPIDs are the main processes of the two servers, 0 where unknown
// (servers named by URL run elsewhere). The servers' CPU time over a
// measurement says where its wall time went on the machine's few cores.
type serverPIDs struct{ pg, surreal int }

// stackPIDs finds the servers of the stack harness.Start uses (the same
// choice: the URLs in the environment, the shared test stack, or the
// private benchmark stack next to it).
func stackPIDs(ctx context.Context, private bool) serverPIDs {
	if os.Getenv("PGSURREAL_TEST_PG_URL") != "" && os.Getenv("PGSURREAL_TEST_SURREAL_URL") != "" {
		return serverPIDs{}
	}
	o := testenv.StackOptions()
	if private {
		o.Dir = filepath.Join(filepath.Dir(o.Dir), "bench")
		o.PG.Port, o.SurrealPort = 54349, 18349
	}
	st, err := devstack.Stat(ctx, o)
	if err != nil {
		return serverPIDs{}
	}
	return serverPIDs{pg: st.Postgres.PID, surreal: st.Surreal.PID}
}

// cpu is the CPU time the two servers have used so far.
func (p serverPIDs) cpu() (pg, surreal time.Duration) {
	return treeCPU(p.pg), treeCPU(p.surreal)
}

// clockTick is USER_HZ, 100 on Linux.
const clockTick = 100

// treeCPU is the CPU time of pid, of its children that have ended
// (cutime, cstime) and of those still running: the postmaster with its
// backends, the dev server's supervisor with its engine process.
func treeCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	self, _, ok := procTicks(pid, true)
	if !ok {
		return 0
	}
	total := self
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid {
			continue
		}
		if ticks, ppid, ok := procTicks(child, false); ok && ppid == pid {
			total += ticks
		}
	}
	return time.Duration(total) * time.Second / clockTick
}

// procTicks reads utime + stime (and with waited, cutime + cstime) and
// the parent of a process from /proc/<pid>/stat.
func procTicks(pid int, waited bool) (ticks int64, ppid int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state): ppid is field 4, utime..cstime 14..17.
	if len(f) < 15 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	last := 12
	if waited {
		last = 14
	}
	for _, x := range f[11 : last+1] {
		n, _ := strconv.ParseInt(x, 10, 64)
		ticks += n
	}
	return ticks, ppid, true
}
