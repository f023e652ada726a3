package publish

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// FaultEnv arms the publisher's fault-injection point for crash tests:
// "after_publish:N" makes the process kill itself with SIGKILL right
// after JetStream acknowledged its N-th batch of changes, that is after
// publishing a batch and before the sync commits it to SurrealDB: the
// window a replay must cover without publishing twice. Nothing is flushed
// and no deferred function runs, as in a real crash.
const FaultEnv = "PGSURREAL_TEST_PUBLISH_FAULT"

// FaultAfterPublish is the fault point's name.
const FaultAfterPublish = "after_publish"

// faultAt is the batch count at which the armed fault fires (0: off).
var faultAt = func() int64 {
	point, n, _ := strings.Cut(os.Getenv(FaultEnv), ":")
	if point != FaultAfterPublish {
		return 0
	}
	v, _ := strconv.ParseInt(n, 10, 64)
	return max(v, 1)
}()

var published atomic.Int64

// fault passes the point after a batch was acknowledged.
func fault() {
	if faultAt > 0 && published.Add(1) == faultAt {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
