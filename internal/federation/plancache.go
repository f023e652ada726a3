package federation

import (
	"sync"
	"time"
)

// planCacheSize bounds the statements whose plans Query keeps.
const planCacheSize = 512

// planCache keeps the plans of recent federated statements by their
// text, for as long as the catalog keeps the definitions they were
// planned with.
type planCache struct {
	mu sync.Mutex
	m  map[string]planEntry
}

type planEntry struct {
	st *Statement
	at time.Time
}

// get returns the cached plan, nil when there is none.
func (c *planCache) get(sql string) (*Statement, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[sql]
	if !ok || time.Since(e.at) >= catalogTTL {
		return nil, nil
	}
	return e.st, nil
}

func (c *planCache) put(sql string, st *Statement) {
	if st == nil {
		return // pass-through statements are cheap to recognise
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= planCacheSize {
		c.m = map[string]planEntry{}
	}
	c.m[sql] = planEntry{st: st, at: time.Now()}
}
