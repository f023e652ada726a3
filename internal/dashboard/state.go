package dashboard

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// moved is when the handler saw a counter change.
type moved struct {
	// At is the poll that first showed the latest value. Zero: the
	// counter has been zero whenever it was seen.
	At time.Time
	// Earlier: the counter was already above zero when first seen, at
	// At, and has not moved since; when it got there is unknown.
	Earlier bool
}

// tracker remembers each counter's last value and when it changed, the
// handler's only memory. Its precision is the polling interval while a
// page is open; after nobody looked for a while, a change is dated at the
// first poll that shows it.
type tracker struct {
	mu   sync.Mutex
	last map[string]trackEntry
	// since is when each group of counters (a metric, the tables) was
	// first looked at: a series that appears later is a change.
	since map[string]time.Time
}

type trackEntry struct {
	v float64
	m moved
}

// maxTracked bounds the tracker's memory; counters of label values that
// come and go (tables dropped, renamed) are forgotten when it is full.
const maxTracked = 10000

func newTracker() *tracker {
	return &tracker{last: map[string]trackEntry{}, since: map[string]time.Time{}}
}

// look notes that the group was looked at now, whether or not it has any
// series yet.
func (t *tracker) look(group string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.since[group]; !ok {
		t.since[group] = now
	}
}

// observe records the value now of the counter key, of group, and returns
// when it last moved.
func (t *tracker) observe(group, key string, v float64, now time.Time) moved {
	t.mu.Lock()
	defer t.mu.Unlock()
	since, ok := t.since[group]
	if !ok {
		since = now
		t.since[group] = now
	}
	key = group + "\x00" + key
	e, ok := t.last[key]
	switch {
	case !ok:
		e = trackEntry{v: v}
		if v != 0 {
			// New in a group seen before: it appeared since then.
			e.m = moved{At: now, Earlier: !since.Before(now)}
		}
		if len(t.last) >= maxTracked {
			clear(t.last)
		}
	case v != e.v:
		e = trackEntry{v: v, m: moved{At: now}}
	}
	t.last[key] = e
	return e.m
}

// tableCache keeps the last table count: counting rows is too slow to do
// on every poll of every open page.
type tableCache struct {
	count func(ctx context.Context) ([]TableCount, error)
	every time.Duration
	limit time.Duration
	log   *slog.Logger
	now   func() time.Time

	mu   sync.Mutex
	rows []TableCount
	err  error
	// at is when the last count ended, okAt when the last good one did
	// (the time of rows).
	at, okAt time.Time
	// busy is closed when the count in progress ends; nil when none is.
	busy chan struct{}
}

// get returns the last good count, its time and the last count's error,
// counting again when the last count is older than every.
// While a count runs, other requests get the previous one; only the
// first ever waits for it.
func (c *tableCache) get(ctx context.Context) ([]TableCount, time.Time, error) {
	c.mu.Lock()
	if !c.at.IsZero() && (c.busy != nil || c.now().Sub(c.at) < c.every) {
		defer c.mu.Unlock()
		return c.rows, c.okAt, c.err
	}
	if c.busy != nil {
		busy := c.busy
		c.mu.Unlock()
		select {
		case <-busy:
		case <-ctx.Done():
			return nil, time.Time{}, ctx.Err()
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.rows, c.okAt, c.err
	}
	busy := make(chan struct{})
	c.busy = busy
	c.mu.Unlock()

	// The count outlives the request that started it: others wait for it.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.limit)
	rows, err := c.count(cctx)
	cancel()

	c.mu.Lock()
	defer c.mu.Unlock()
	c.at, c.err, c.busy = c.now(), err, nil
	close(busy)
	if err != nil {
		c.log.Warn("counting tables for the dashboard", "err", err)
		return c.rows, c.okAt, c.err
	}
	c.rows, c.okAt = rows, c.at
	return c.rows, c.okAt, nil
}
