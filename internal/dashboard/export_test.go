package dashboard

import "time"

// WithClock sets the handler's clock, for tests that move time.
func WithClock(o Options, now func() time.Time) Options {
	o.now = now
	return o
}
