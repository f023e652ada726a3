package verify

import (
	"slices"
	"testing"

	"github.com/surrealdb/surrealdb.go/pkg/models"
)

// filledPager is a pager whose pages are already read: one page per
// list of id parts.
func filledPager(pages ...[]any) *pager {
	ch := make(chan page, len(pages))
	for _, ids := range pages {
		recs := make([]map[string]any, len(ids))
		for i, id := range ids {
			recs[i] = map[string]any{"id": models.NewRecordID("t", id)}
		}
		ch <- page{recs: recs}
	}
	close(ch)
	return &pager{pages: ch}
}

// TestSpreadMerges checks the merge of a table's records on several
// servers: one stream in record id order across pages and servers, with
// the records found away from their server set aside, and every record
// read counted.
func TestSpreadMerges(t *testing.T) {
	t.Parallel()
	// Even ids belong on server a, odd ids on b; 3 and 8 are misplaced,
	// 7 is on both servers (rightly on b).
	home := func(id any) string {
		if id.(int64)%2 == 0 {
			return "a"
		}
		return "b"
	}
	s := &spread{
		pagers: []*pager{
			filledPager([]any{int64(2), int64(3)}, []any{int64(4), int64(7), int64(10)}),
			filledPager([]any{int64(1), int64(5)}, []any{int64(7), int64(8), int64(9)}),
			filledPager(),
		},
		names: []string{"a", "b", "c"},
		home:  home,
	}
	var got []any
	for {
		rec, err := s.peek()
		if err != nil {
			t.Fatal(err)
		}
		if rec == nil {
			break
		}
		// peek without pop returns the same record.
		if again, _ := s.peek(); recordKey(again) != recordKey(rec) {
			t.Fatalf("peek moved on from %v to %v", recordKey(rec), recordKey(again))
		}
		got = append(got, recordKey(rec))
		s.pop()
	}
	want := []any{int64(1), int64(2), int64(4), int64(5), int64(7), int64(9), int64(10)}
	if !slices.Equal(got, want) {
		t.Errorf("merged %v, want %v", got, want)
	}
	var misplaced []any
	for _, c := range s.misplaced {
		misplaced = append(misplaced, c.id)
	}
	if want := []any{int64(3), int64(7), int64(8)}; !slices.Equal(misplaced, want) {
		t.Errorf("misplaced %v, want %v", misplaced, want)
	}
	if s.count() != 10 {
		t.Errorf("counted %d records, want 10", s.count())
	}
}
