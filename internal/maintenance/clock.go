package maintenance

import (
	"context"
	"time"
)

// clock is the scheduler's time source; tests use a fake one they move by
// hand.
type clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed, and a
	// function that stops it.
	After(d time.Duration) (<-chan time.Time, func() bool)
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) After(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}

// maxWait bounds one wait for a job's time. Timers measure elapsed time
// while schedules are in wall-clock time, so after the wall clock jumps
// (NTP, a resumed virtual machine) a run starts at most this late.
const maxWait = time.Minute

// sleepUntil waits until the clock reads t or later; false when ctx ended
// first.
func sleepUntil(ctx context.Context, c clock, t time.Time) bool {
	for {
		d := t.Sub(c.Now())
		if d <= 0 {
			return true
		}
		ch, stop := c.After(min(d, maxWait))
		select {
		case <-ctx.Done():
			stop()
			return false
		case <-ch:
		}
	}
}
