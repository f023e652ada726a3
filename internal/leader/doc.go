// Package leader elects one process among several `pgsurreal serve`
// daemons to run what must run once: the replication streams (forward
// sync and reverse) and the transaction resolver. The others serve
// queries and stand by.
//
// The lease is a PostgreSQL session-level advisory lock,
// pg_try_advisory_lock(hashtext('pgsurreal leader ' || name)) with name
// the sync's slot, held on a connection of its own. PostgreSQL releases
// such a lock only when the session that took it ends (or unlocks it):
// when the holder's process dies its socket closes (kill -9 included),
// the backend exits and the lock is free within moments. A standby tries
// to take it every CheckEvery (1 s by default), so it takes over within
// CheckEvery + Margin of the holder's death.
//
// Why two holders cannot write at once. The lock itself is exclusive, so
// the question is only about a holder whose session ended while the
// process lives on (the backend was terminated, PostgreSQL restarted, the
// network between them failed). Such a holder cannot know at once, so it
// proves its session alive every CheckEvery with a query that must answer
// within CheckEvery (it checks that its backend still holds the lock).
// The first check that fails cancels the work's context, and the work
// must return within StopTimeout or Run reports ErrStopTimeout, on which
// the caller ends the process at once. So a deposed holder has stopped
// at most 2*CheckEvery + StopTimeout after its session ended. A new
// holder, in turn, waits Margin after taking the lock before it starts
// the work, and Margin is 2*CheckEvery + StopTimeout (default 4 s =
// 2*1 s + 2 s): it cannot start before the old one has stopped. When the
// network fails between a holder and PostgreSQL, the server notices only
// after its TCP keepalives or tcp_user_timeout (set on the lock
// connection to about 6 s), by when the holder's own checks have long
// failed; the Margin then comes on top. Two assumptions remain, as for any
// lease: both processes measure time at the same rate (monotonic clocks,
// no wall-clock comparison), and a process is not frozen for longer than
// the margin between a check and its next write. A frozen holder whose
// session stays open keeps the lease (its kernel still answers
// PostgreSQL's keepalives): no one takes over, which costs availability,
// not correctness. Writes a holder had already sent when it stopped
// (a SurrealDB commit in flight) are not recalled; the margin gives them
// time to land before the next holder starts.
//
// Lifecycle: New builds a Lease (metrics on the given registerer); Run
// campaigns until its context ends, calling lead with a context that is
// canceled when the lease is lost or Run stops; lead may run again later
// when the lease is won again, so it must resume from stored state.
// Status reports the role for the API.
package leader
