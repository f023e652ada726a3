package route_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/mapping"
	"github.com/pgsurreal/pgsurreal/internal/route"
)

func testConfig() (config.Surreal, config.Sync) {
	c := config.Default()
	c.Surreal.Servers = []config.SurrealServer{
		{Name: "eu", URL: "ws://eu:8000/rpc", Namespace: "shop_eu"},
		{Name: "us", URL: "ws://us:8000/rpc"},
	}
	c.Sync.Tables = []config.Table{
		{Name: "public.event", Partition: config.Partition{Column: "region", By: "value", Values: map[string]string{"EU": "eu", "UK": "eu"}, Other: "us"}},
		{Name: "public.click", Target: "clicks", Partition: config.Partition{Column: "id", By: "hash", Servers: []string{"default", "eu", "us"}}},
		{Name: "public.audit", Server: "eu", Edges: []config.Edge{{Columns: []string{"user_id"}, Name: "by_user"}}},
		{Name: "public.plain"},
		{Name: "public.strict", Partition: config.Partition{Column: "region", By: "value", Values: map[string]string{"EU": "eu"}}},
	}
	return c.Surreal, c.Sync
}

func shapes() map[string]*mapping.Shape {
	return map[string]*mapping.Shape{
		"public.event":  {Source: "public.event", Target: "event", Key: []string{"id", "region"}, Edges: []*mapping.Edge{{Name: "made_by"}}},
		"public.click":  {Source: "public.click", Target: "clicks", Key: []string{"id"}},
		"public.audit":  {Source: "public.audit", Target: "audit", Key: []string{"id"}, Edges: []*mapping.Edge{{Name: "by_user"}}},
		"public.plain":  {Source: "public.plain", Target: "plain", Key: []string{"id"}},
		"public.strict": {Source: "public.strict", Target: "strict", Key: []string{"region"}},
	}
}

func TestPlacement(t *testing.T) {
	sur, sync := testConfig()
	p, err := route.New(sur, sync, shapes())
	if err != nil {
		t.Fatal(err)
	}
	if !p.Multi() || !slices.Equal(sortedTail(p.Servers()), []string{"default", "eu", "us"}) {
		t.Errorf("servers %v", p.Servers())
	}
	if c := p.Config("eu"); c.URL != "ws://eu:8000/rpc" || c.Namespace != "shop_eu" || c.Database != sur.Database || c.Password != sur.Password {
		t.Errorf("eu config %+v: the keys it leaves out must come from the surreal section", c)
	}
	tests := []struct {
		w    mapping.Write
		want []string
	}{
		// By value, the partition column second in a composite key; the
		// edges of a row go with it.
		{mapping.Write{Kind: mapping.Upsert, Table: "event", ID: []any{int64(7), "UK"}}, []string{"eu"}},
		{mapping.Write{Kind: mapping.Delete, Table: "event", ID: []any{int64(7), "BR"}}, []string{"us"}},
		{mapping.Write{Kind: mapping.Relate, Table: "made_by", ID: []any{int64(7), "EU"}}, []string{"eu"}},
		// Writes without a record id go to every server of the table.
		{mapping.Write{Kind: mapping.DeleteTable, Table: "event"}, []string{"eu", "us"}},
		{mapping.Write{Kind: mapping.DeleteEdgesFrom, Table: "made_by", FromTable: "event"}, []string{"eu", "us"}},
		{mapping.Write{Kind: mapping.Define, Table: "clicks"}, []string{"default", "eu", "us"}},
		// A routed table and its edges; tables not listed; own records.
		{mapping.Write{Kind: mapping.Upsert, Table: "audit", ID: int64(1)}, []string{"eu"}},
		{mapping.Write{Kind: mapping.Relate, Table: "by_user", ID: int64(1)}, []string{"eu"}},
		{mapping.Write{Kind: mapping.Upsert, Table: "plain", ID: int64(1)}, []string{"default"}},
		{mapping.Write{Kind: mapping.SetMeta, Table: "_pgsurreal_relation", ID: "public.event"}, []string{"default"}},
		// A namespace override names another table.
		{mapping.Write{Kind: mapping.Upsert, Namespace: "other", Table: "audit", ID: int64(1)}, []string{"default"}},
	}
	for _, tt := range tests {
		got, err := p.Write(tt.w)
		if err != nil {
			t.Errorf("%+v: %v", tt.w, err)
			continue
		}
		if !slices.Equal(sortedTail(got), tt.want) {
			t.Errorf("%v %s %v goes to %v, want %v", tt.w.Kind, tt.w.Table, tt.w.ID, got, tt.want)
		}
	}
	// A value no server takes is an error naming the value and the fix.
	_, err = p.Write(mapping.Write{Kind: mapping.Upsert, Table: "strict", ID: "JP", Source: "public.strict key (JP)"})
	if err == nil || !strings.Contains(err.Error(), `"JP"`) || !strings.Contains(err.Error(), "partition.other") || !strings.Contains(err.Error(), "public.strict key (JP)") {
		t.Errorf("unplaceable value: %v", err)
	}
}

// TestHashSpreads: a hash partition is deterministic and uses every
// server, roughly evenly.
func TestHashSpreads(t *testing.T) {
	part := config.Partition{Column: "id", By: "hash", Servers: []string{"default", "eu", "us"}}
	count := map[string]int{}
	for i := range int64(3000) {
		a, _ := route.ServerForValue(part, i)
		b, _ := route.ServerForValue(part, i)
		if a != b {
			t.Fatalf("%d placed on %s, then %s", i, a, b)
		}
		count[a]++
	}
	for _, s := range part.Servers {
		if count[s] < 800 || count[s] > 1200 {
			t.Errorf("hash placement %v is uneven", count)
		}
	}
	// Integers hash by their decimal text, whatever their Go type.
	x, _ := route.ServerForValue(part, int64(42))
	y, _ := route.ServerForValue(part, int32(42))
	z, _ := route.ServerForValue(part, "42")
	if x != y || x != z {
		t.Errorf("42 placed on %s, %s and %s", x, y, z)
	}
}

func TestPartitionColumnOutsideKey(t *testing.T) {
	sur, sync := testConfig()
	sh := shapes()
	sh["public.event"].Key = []string{"id"}
	_, err := route.New(sur, sync, sh)
	if err == nil || !strings.Contains(err.Error(), `public.event: partition column "region" is not part of the key (id)`) {
		t.Fatalf("got %v", err)
	}
}

func TestSingleServer(t *testing.T) {
	c := config.Default()
	p, err := route.New(c.Surreal, c.Sync, shapes())
	if err != nil {
		t.Fatal(err)
	}
	if p.Multi() {
		t.Error("no rule, yet several servers")
	}
	if got := route.Targets(c.Sync); len(got) != 0 {
		t.Errorf("targets %v", got)
	}
	_, sync := testConfig()
	targets := route.Targets(sync)
	if !slices.Equal(targets["by_user"], []string{"eu"}) || !slices.Equal(targets["clicks"], []string{"default", "eu", "us"}) || targets["plain"] != nil {
		t.Errorf("targets %v", targets)
	}
}

// sortedTail sorts a copy of names.
func sortedTail(names []string) []string {
	out := slices.Clone(names)
	slices.Sort(out)
	return out
}
