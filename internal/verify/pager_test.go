package verify

import (
	"testing"

	"github.com/surrealdb/surrealdb.go/pkg/models"
)

func TestCompareIDs(t *testing.T) {
	t.Parallel()
	u := func(s string) models.UUID {
		var m models.UUID
		copy(m.UUID[:], s)
		return m
	}
	cases := []struct {
		a, b any
		want int
	}{
		{int64(5), uint64(5), 0},
		{int64(-1), uint64(3), -1},
		{uint64(10), int64(9), 1},
		{float64(2.5), int64(2), 1},
		{int64(9), "10", -1}, // numbers before strings
		{"10", "9", -1},      // strings by bytes
		{"Zeta", "alpha", -1},
		{"z", u("0000000000000000"), -1}, // strings before UUIDs
		{[]any{int64(2), "a"}, []any{int64(2), "b"}, -1},
		{[]any{int64(2)}, []any{int64(2), "a"}, -1},
		{u("0000000000000000"), []any{int64(1)}, -1}, // UUIDs before arrays
	}
	for _, c := range cases {
		if got := compareIDs(c.a, c.b); got != c.want {
			t.Errorf("compareIDs(%v, %v) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := compareIDs(c.b, c.a); got != -c.want {
			t.Errorf("compareIDs(%v, %v) = %d, want %d", c.b, c.a, got, -c.want)
		}
	}
}
