package doctor

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/config"
)

// Status values of a Check.
const (
	StatusOK   = "ok"
	StatusFail = "fail"
	StatusSkip = "skip"
	StatusWarn = "warn"
)

// System values of a Check.
const (
	SystemPostgres = "postgres"
	SystemSurreal  = "surreal"
)

// Names of the checks, in the order they are reported.
const (
	CheckPGConnection      = "postgres connection"
	CheckWALLevel          = "wal_level"
	CheckReplicationSlots  = "replication slots"
	CheckWALSenders        = "wal senders"
	CheckReplicationPriv   = "replication privilege"
	CheckReplicationConn   = "replication connection"
	CheckPreparedXacts     = "max_prepared_transactions"
	CheckCommitTimestamp   = "track_commit_timestamp"
	CheckSurrealConnection = "surreal connection"
	CheckSurrealVersion    = "surreal version"
	CheckSurrealSignin     = "surreal credentials"
	CheckSurrealNamespace  = "surreal namespace/database"
)

// maxCheckTimeout caps each network step, whatever the configured
// timeouts say, so doctor answers quickly even for a black-holed host.
const maxCheckTimeout = 10 * time.Second

// Check is the outcome of one readiness check. Fix is set for failures
// (and warnings when there is something to do) and is written so that it
// can be applied as is.
type Check struct {
	Name   string `json:"name"`
	System string `json:"system"`
	Status string `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix"`
}

// Report is the outcome of all checks. OK is true when none failed;
// warnings and skips caused by nothing failing do not make it false.
type Report struct {
	OK     bool    `json:"ok"`
	Checks []Check `json:"checks"`
}

// Failed counts the failed checks.
func (r Report) Failed() int {
	n := 0
	for _, c := range r.Checks {
		if c.Status == StatusFail {
			n++
		}
	}
	return n
}

// Find returns the check with the given name.
func (r Report) Find(name string) (Check, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

// Run checks PostgreSQL and SurrealDB concurrently and reports the
// PostgreSQL checks first.
func Run(ctx context.Context, cfg config.Config) Report {
	var pg, sur []Check
	others := make([][]Check, len(cfg.Surreal.Servers))
	var wg sync.WaitGroup
	wg.Go(func() { pg = Postgres(ctx, cfg.Postgres) })
	wg.Go(func() { sur = Surreal(ctx, cfg.Surreal) })
	for i, sv := range cfg.Surreal.Servers {
		wg.Go(func() {
			c, _ := cfg.Surreal.Server(sv.Name)
			others[i] = onServer(i, sv.Name, Surreal(ctx, c))
		})
	}
	wg.Wait()
	checks := append(pg, sur...)
	for _, o := range others {
		checks = append(checks, o...)
	}
	return newReport(checks)
}

// onServer renames the SurrealDB checks of surreal.servers[i] (called
// name) after it, and points their fixes at its keys.
func onServer(i int, name string, checks []Check) []Check {
	key := fmt.Sprintf("surreal.servers[%d].", i)
	fix := strings.NewReplacer("surreal.url", key+"url", "surreal.namespace", key+"namespace", "surreal.database", key+"database",
		"surreal.username", key+"username", "surreal.password", key+"password", "surreal.ca_file", key+"ca_file")
	for j := range checks {
		checks[j].Name += " (server " + name + ")"
		checks[j].Fix = fix.Replace(checks[j].Fix)
	}
	return checks
}

func newReport(checks []Check) Report {
	r := Report{Checks: checks}
	r.OK = r.Failed() == 0
	return r
}

// stepTimeout bounds one network step: the configured timeout, at most
// maxCheckTimeout.
func stepTimeout(configured time.Duration) time.Duration {
	if configured <= 0 || configured > maxCheckTimeout {
		return maxCheckTimeout
	}
	return configured
}

// skipped marks each named check as skipped because of the failed one.
func skipped(system, because string, names ...string) []Check {
	out := make([]Check, 0, len(names))
	for _, n := range names {
		out = append(out, Check{Name: n, System: system, Status: StatusSkip, Detail: "skipped: " + because})
	}
	return out
}

// scrub hides secret in a message that came from outside pgsurreal (a
// server or driver error), in case it ever echoes what it was sent.
func scrub(msg string, secret config.Secret) string {
	if s := secret.Reveal(); s != "" {
		msg = strings.ReplaceAll(msg, s, secret.String())
	}
	return msg
}
