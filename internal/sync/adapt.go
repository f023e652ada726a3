package sync

import "time"

// groupLimit decides how many row changes the applier groups into one
// SurrealDB transaction. Larger groups spread the cost of a commit over
// more changes; smaller ones keep each apply, and so the replication lag,
// short. It follows the observed apply latency (additive increase,
// multiplicative decrease): while groups fill up and apply faster than
// target, the limit doubles; when a group takes longer than target, it
// halves. It stays within [floor, ceiling], the ceiling being
// sync.batch_size.
type groupLimit struct {
	n, floor, ceiling int
	target            time.Duration
}

// applyTarget is the apply latency groups aim for: well under the
// pipeline's lag goal (p99 under 250 ms), long enough to amortise commits.
const applyTarget = 100 * time.Millisecond

func newGroupLimit(ceiling int) *groupLimit {
	floor := min(ceiling, 50)
	return &groupLimit{n: min(ceiling, 200), floor: floor, ceiling: ceiling, target: applyTarget}
}

// observe adjusts the limit after a group of changes took took to apply;
// full says the group was cut at the limit (more was waiting).
func (g *groupLimit) observe(changes int, took time.Duration, full bool) {
	switch {
	case took > g.target && changes > g.floor:
		g.n = max(g.floor, min(g.n, changes)/2)
	case full && took < g.target/2:
		g.n = min(g.ceiling, g.n*2)
	}
}
