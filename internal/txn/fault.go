package txn

import (
	"os"
	"syscall"
)

// Named fault-injection points, after each phase of the commit and in
// recovery. Setting PGSURREAL_TX_FAULT to one of them makes the process
// kill itself with SIGKILL when it gets there (the crash tests use it):
// nothing is flushed, no deferred function runs, as in a real crash.
const (
	FaultAfterPGPrepare       = "after_pg_prepare"
	FaultAfterSurrealCommit   = "after_surreal_commit"
	FaultBeforeCommitPrepared = "before_commit_prepared"
	FaultDuringRecovery       = "during_recovery"
)

// FaultEnv names the environment variable that arms a fault point.
const FaultEnv = "PGSURREAL_TX_FAULT"

var armed = os.Getenv(FaultEnv)

func fault(point string) {
	if armed == point {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}

// pointDecisionWritten is between the commit decision's CREATE and the
// SurrealDB commit (a test hook only).
const pointDecisionWritten = "decision_written"

// at passes a commit point: the armed fault fires, and a test's hook runs.
func (c *Coordinator) at(point string) {
	fault(point)
	if c.hook != nil {
		c.hook(point)
	}
}
