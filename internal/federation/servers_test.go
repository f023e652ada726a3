package federation

import (
	"fmt"
	"log/slog"
	"slices"
	"testing"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/mapping"
	"github.com/pgsurreal/pgsurreal/internal/route"
)

func testServers() *servers {
	sync := config.Sync{Tables: []config.Table{
		{Name: "public.event", Edges: []config.Edge{{Columns: []string{"customer_id"}, Name: "made_by"}},
			Partition: config.Partition{Column: "region", By: "value", Values: map[string]string{"EU": "eu", "UK": "uk"}, Other: "default"}},
		{Name: "public.click", Target: "clicks", Partition: config.Partition{Column: "n", By: "hash", Servers: []string{"default", "eu"}}},
		{Name: "public.audit", Server: "eu"},
		{Name: "public.plain"},
	}}
	return newServers(nil, config.Surreal{}, sync, slog.New(slog.DiscardHandler))
}

// TestServersOf: tables sync.tables places live on their servers, edge
// tables with their table, the rest on the default server.
func TestServersOf(t *testing.T) {
	t.Parallel()
	s := testServers()
	for table, want := range map[string][]string{
		"event": {"default", "eu", "uk"}, "made_by": {"default", "eu", "uk"}, "clicks": {"default", "eu"},
		"audit": {"eu"}, "plain": {route.Default}, "click": {route.Default}, "other": {route.Default},
	} {
		if got := s.of(table); !slices.Equal(got, want) {
			t.Errorf("of(%s) = %v, want %v", table, got, want)
		}
		if got := s.partitioned(table); got != (len(want) > 1) {
			t.Errorf("partitioned(%s) = %v", table, got)
		}
	}
	if got := s.inUse(); !slices.Equal(got, []string{"default", "eu", "uk"}) {
		t.Errorf("inUse() = %v", got)
	}
}

// TestNarrow: a pushed = or IN on the partition column reads only the
// servers of its values; anything else reads every server.
func TestNarrow(t *testing.T) {
	t.Parallel()
	s := testServers()
	region := mapping.ShapeColumn{Name: "region", Type: "text", Path: []string{"region"}, Exact: "string"}
	note := mapping.ShapeColumn{Name: "note", Type: "text", Path: []string{"note"}, Exact: "string"}
	n := mapping.ShapeColumn{Name: "n", Type: "bigint", Path: []string{"n"}, Exact: "int"}
	c := func(v any) operand { return operand{value: v} }
	all := []string{"default", "eu", "uk"}
	cases := []struct {
		table  string
		preds  []*pred
		params []any
		want   []string
	}{
		{"event", nil, nil, all},
		{"event", []*pred{{col: region, op: "=", args: []operand{c("EU")}}}, nil, []string{"eu"}},
		{"event", []*pred{{col: region, op: "=", args: []operand{c("JP")}}}, nil, []string{"default"}},
		{"event", []*pred{{col: region, op: "IN", args: []operand{c("UK"), c("US"), c("EU")}}}, nil, all},
		{"event", []*pred{{col: region, op: "IN", args: []operand{c("UK"), c("EU")}}}, nil, []string{"eu", "uk"}},
		{"event", []*pred{{col: region, op: "!=", args: []operand{c("EU")}}}, nil, all},
		{"event", []*pred{{col: note, op: "=", args: []operand{c("EU")}}}, nil, all},
		{"event", []*pred{{col: region, op: "=", args: []operand{{param: 1}}}}, []any{"UK"}, []string{"uk"}},
		// a parameter of another type is not pushed: it says nothing
		{"event", []*pred{{col: region, op: "=", args: []operand{{param: 1}}}}, []any{int64(3)}, all},
		// two predicates: the servers both allow
		{"event", []*pred{{col: region, op: "IN", args: []operand{c("UK"), c("EU")}}, {col: region, op: "=", args: []operand{c("UK")}}}, nil, []string{"uk"}},
		// contradictory: no server holds a match, one answers
		{"event", []*pred{{col: region, op: "=", args: []operand{c("UK")}}, {col: region, op: "=", args: []operand{c("EU")}}}, nil, []string{"default"}},
		// edge tables do not have the column
		{"made_by", []*pred{{col: region, op: "=", args: []operand{c("EU")}}}, nil, all},
		{"audit", []*pred{{col: region, op: "=", args: []operand{c("EU")}}}, nil, []string{"eu"}},
	}
	for i, tc := range cases {
		sc := &scan{table: &tableDef{name: tc.table}, preds: tc.preds}
		if got := s.narrow(sc, tc.params); !slices.Equal(got, tc.want) {
			t.Errorf("case %d (%s): narrow = %v, want %v", i, tc.table, got, tc.want)
		}
	}
	// by hash: every value goes to the server route.ServerForValue names
	p := config.Partition{Column: "n", By: "hash", Servers: []string{"default", "eu"}}
	seen := map[string]bool{}
	for v := range int64(20) {
		want, _ := route.ServerForValue(p, v)
		sc := &scan{table: &tableDef{name: "clicks"}, preds: []*pred{{col: n, op: "=", args: []operand{c(v)}}}}
		if got := s.narrow(sc, nil); !slices.Equal(got, []string{want}) {
			t.Errorf("n = %d: narrow = %v, want [%s]", v, got, want)
		}
		seen[want] = true
	}
	if len(seen) != 2 {
		t.Errorf("20 hashed values all went to %v", seen)
	}
}

// TestKeysByServer: join keys on the partition column are looked up on
// their server only; keys on another column on every server.
func TestKeysByServer(t *testing.T) {
	t.Parallel()
	s := testServers()
	n := mapping.ShapeColumn{Name: "n", Type: "bigint", Path: []string{"n"}, Exact: "int"}
	other := mapping.ShapeColumn{Name: "m", Type: "bigint", Path: []string{"m"}, Exact: "int"}
	keys := []any{int64(1), int64(2), int64(3), int64(4), int64(5)}
	sc := &scan{table: &tableDef{name: "clicks"}, bind: &bindJoin{col: n}}
	split := s.keysByServer(sc, keys)
	total := 0
	p := config.Partition{Column: "n", By: "hash", Servers: []string{"default", "eu"}}
	for server, ks := range split {
		for _, k := range ks {
			if want, _ := route.ServerForValue(p, k); want != server {
				t.Errorf("key %v put on %s, its rows are on %s", k, server, want)
			}
		}
		total += len(ks)
	}
	if total != len(keys) {
		t.Errorf("split %v lost keys", split)
	}
	sc.bind.col = other
	if got := s.keysByServer(sc, keys); got != nil {
		t.Errorf("keys on a column other than the partition column split: %v", got)
	}
	sc = &scan{table: &tableDef{name: "audit"}, bind: &bindJoin{col: n}}
	if got := s.keysByServer(sc, keys); got != nil {
		t.Errorf("keys of a table on one server split: %v", fmt.Sprint(got))
	}
}
