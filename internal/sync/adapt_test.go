package sync

import (
	"testing"
	"time"
)

func TestGroupLimitFollowsApplyLatency(t *testing.T) {
	g := newGroupLimit(1000)
	if g.n != 200 {
		t.Fatalf("start = %d", g.n)
	}
	// Fast, full groups: the limit grows to the ceiling and stays there.
	for range 10 {
		g.observe(g.n, 10*time.Millisecond, true)
	}
	if g.n != 1000 {
		t.Fatalf("after fast full groups: %d, want 1000", g.n)
	}
	// Groups that are not full say nothing about a larger limit.
	g.n = 300
	g.observe(20, time.Millisecond, false)
	if g.n != 300 {
		t.Fatalf("after a small group: %d, want 300", g.n)
	}
	// Slow groups halve it down to the floor.
	for range 20 {
		g.observe(g.n, 400*time.Millisecond, true)
	}
	if g.n != 50 {
		t.Fatalf("after slow groups: %d, want 50", g.n)
	}
	// A slow group smaller than the limit halves from its own size.
	g.n = 800
	g.observe(120, 300*time.Millisecond, false)
	if g.n != 60 {
		t.Fatalf("after a slow small group: %d, want 60", g.n)
	}
	// A tiny ceiling is respected.
	small := newGroupLimit(10)
	small.observe(10, time.Millisecond, true)
	if small.n != 10 || small.floor != 10 {
		t.Fatalf("ceiling 10: n=%d floor=%d", small.n, small.floor)
	}
}
