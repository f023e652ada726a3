package mapping

import (
	"testing"
	"time"

	"github.com/surrealdb/surrealdb.go/pkg/models"
)

func TestCanon(t *testing.T) {
	t.Parallel()
	dt := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.FixedZone("x", 3600))
	cases := []struct {
		a, b any
		same bool
	}{
		{int64(7), uint64(7), true},
		{int64(7), float64(7), true},
		{models.DecimalString("12.50"), models.DecimalString("12.5"), true},
		{models.DecimalString("012.500"), models.DecimalString("1.25e1"), true},
		{models.DecimalString("-0.0"), models.DecimalString("0"), true},
		{models.DecimalString("12.5"), models.DecimalString("12.51"), false},
		{models.CustomDateTime{Time: dt}, dt.UTC(), true},
		{map[string]any{"b": 1, "a": "x"}, map[string]any{"a": "x", "b": int64(1)}, true},
		{map[string]any{"a": nil}, map[string]any{}, false},
		{[]any{int64(1), "a"}, []any{"a", int64(1)}, false},
		{models.NewRecordID("t", int64(1)), models.NewRecordID("t", uint64(1)), true},
		{"a\"b", "a\"b", true},
		{ZeroDatetime{}, models.CustomDateTime{Time: time.Time{}}, true},
	}
	for _, c := range cases {
		if got := Canon(c.a) == Canon(c.b); got != c.same {
			t.Errorf("Canon(%#v) = %s, Canon(%#v) = %s: same %v, want %v", c.a, Canon(c.a), c.b, Canon(c.b), got, c.same)
		}
	}
	doc := map[string]any{"id": models.NewRecordID("t", int64(3)), "name": "x"}
	if got, want := string(AppendCanonDoc(nil, doc, "id", int64(3))), Canon(map[string]any{"id": int64(3), "name": "x"}); got != want {
		t.Errorf("AppendCanonDoc = %s, want %s", got, want)
	}
}
