package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestMatchPattern(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, schema, table string
		want                   bool
	}{
		{"public.orders", "public", "orders", true},
		{"public.orders", "public", "order", false},
		{"public.orders", "public", "orders2", false},
		{"public.orders", "sales", "orders", false},
		{"orders", "public", "orders", true}, // bare means public
		{"orders", "sales", "orders", false},
		{"public.*", "public", "orders", true},
		{"public.*", "public", "", true},
		{"public.*", "sales", "orders", false},
		{"*.orders", "sales", "orders", true},
		{"*.orders", "sales", "orders_2024", false},
		{"*.*", "any", "thing", true},
		{"*", "public", "anything", true}, // bare * is public.*
		{"*", "sales", "anything", false},
		{"sales.order_*", "sales", "order_items", true},
		{"sales.order_*", "sales", "order_", true},
		{"sales.order_*", "sales", "orders", false},
		{"sales.*_log", "sales", "audit_log", true},
		{"sales.*_log", "sales", "audit_log_old", false},
		{"sales.a*b*c", "sales", "abc", true},
		{"sales.a*b*c", "sales", "aXbYbZc", true},
		{"sales.a*b*c", "sales", "aXbYcZ", false},
		{"sales.**", "sales", "x", true},
		{"s*s.t", "sales", "t", true},
		{"s*s.t", "sale", "t", false},
		{"Public.orders", "public", "orders", false}, // case-sensitive
		{"public.Orders", "public", "Orders", true},
		{"public.ördér*", "public", "ördérs", true},
		{"public.?rders", "public", "orders", false}, // only * is special
		{"public.[o]rders", "public", "orders", false},
		{"public.orders", "public.orders", "", false}, // no dot crossing
		{"public.*", "public", "a.b", true},           // * matches any character
		{"a.b.c", "a", "b.c", false},                  // malformed
		{".orders", "", "orders", false},
		{"public.", "public", "", false},
		{"", "public", "", false},
	}
	for _, tt := range tests {
		if got := MatchPattern(tt.pattern, tt.schema, tt.table); got != tt.want {
			t.Errorf("MatchPattern(%q, %q, %q) = %v, want %v", tt.pattern, tt.schema, tt.table, got, tt.want)
		}
	}
}

func TestTableNames(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, schema, table string }{
		{"sales.orders", "sales", "orders"},
		{"orders", "public", "orders"},
		{"public.orders", "public", "orders"},
		{"", "", ""},
	}
	for _, tt := range tests {
		tb := Table{Name: tt.name}
		if s, n := tb.SchemaName(), tb.TableName(); s != tt.schema || n != tt.table {
			t.Errorf("Table{Name: %q}: SchemaName, TableName = %q, %q; want %q, %q", tt.name, s, n, tt.schema, tt.table)
		}
	}
}

// TestExampleTables loads the commented-out tables: entry of
// pgsurreal.example.yaml, uncommented, so that it stays valid.
func TestExampleTables(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	// The tables refer to the example servers: both blocks, uncommented.
	block := commentedBlock(t, string(data), "# servers:", "surreal:\n")
	block = append(block, commentedBlock(t, string(data), "# tables:", "sync:\n")...)
	path := filepath.Join(t.TempDir(), "tables.yaml")
	if err := os.WriteFile(path, []byte(strings.Join(block, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, nil, nil)
	if err != nil {
		t.Fatalf("the example, uncommented:\n%s\ndoes not load: %v", strings.Join(block, ""), err)
	}
	if len(c.Sync.Tables) != 2 {
		t.Fatalf("tables = %+v, want two", c.Sync.Tables)
	}
	if got := c.Sync.Tables[1].Partition; got.By != "value" || got.Column != "region" || got.Values["UK"] != "eu" || got.Other != "default" {
		t.Errorf("partition = %+v", got)
	}
	tb := c.Sync.Tables[0]
	want := Table{
		Name: "sales.orders", Target: "order", Namespace: "shop", Database: "sales",
		Key:            []string{"order_no"},
		Columns:        []string{"id", "customer_id", "total", "email", "card_no"},
		ExcludeColumns: []string{"notes"},
		Transforms:     map[string]string{"email": "hash", "card_no": "mask"},
		Edges:          []Edge{{Columns: []string{"customer_id"}, Name: "billed_to"}},
		Server:         "eu",
	}
	if !reflect.DeepEqual(tb, want) {
		t.Errorf("table = %+v, want %+v", tb, want)
	}
}

// commentedBlock returns the commented-out block of the example that
// starts with the comment line start, uncommented and put under section:
// it runs to the first line that is not a comment or is an empty one.
func commentedBlock(t *testing.T, data, start, section string) []string {
	t.Helper()
	var block []string
	for line := range strings.Lines(data) {
		if strings.TrimSpace(line) == start {
			block = append(block, section)
		}
		if len(block) == 0 {
			continue
		}
		if !strings.HasPrefix(line, "  # ") {
			break
		}
		block = append(block, "  "+strings.TrimPrefix(line, "  # "))
	}
	if len(block) < 3 {
		t.Fatalf("no commented-out %s example in %s", start, examplePath)
	}
	return block
}
