package config

import (
	"reflect"
	"testing"
)

// TestSupported: the decoder's types, and what fields() refuses at start-up.
func TestSupported(t *testing.T) {
	t.Parallel()
	tests := []struct {
		t    reflect.Type
		want bool
		name string
	}{
		{reflect.TypeFor[string](), true, "a string"},
		{reflect.TypeFor[Secret](), true, "a string"},
		{reflect.TypeFor[Duration](), true, "a duration"},
		{reflect.TypeFor[[]string](), true, "a list of strings"},
		{reflect.TypeFor[[]int](), true, "a list of integers"},
		{reflect.TypeFor[[]Duration](), true, "a list of durations"},
		{reflect.TypeFor[map[string]string](), true, "a mapping of names to strings"},
		{reflect.TypeFor[[]Table](), true, "a list of mappings"},
		{reflect.TypeFor[Sync](), true, ""},
		{reflect.TypeFor[[]bool](), false, ""},
		{reflect.TypeFor[[][]string](), false, ""},
		{reflect.TypeFor[map[string][]string](), false, ""},
		{reflect.TypeFor[map[int]string](), false, ""},
		{reflect.TypeFor[[]*Table](), false, ""},
		{reflect.TypeFor[float64](), false, ""},
		{reflect.TypeFor[[]struct {
			M map[string]float64 `yaml:"m"`
		}](), false, "a list of mappings"},
	}
	for _, tt := range tests {
		if got := supported(tt.t); got != tt.want {
			t.Errorf("supported(%s) = %v, want %v", tt.t, got, tt.want)
		}
		if got := wantName(tt.t); got != tt.name {
			t.Errorf("wantName(%s) = %q, want %q", tt.t, got, tt.name)
		}
	}
	fileOnly := map[string]bool{}
	for _, f := range fields() {
		if f.fileOnly {
			fileOnly[f.key] = true
		}
	}
	if !reflect.DeepEqual(fileOnly, map[string]bool{"surreal.servers": true, "sync.tables": true, "reverse.tables": true, "federation.tables": true}) {
		t.Errorf("file-only keys = %v, want surreal.servers, sync.tables, reverse.tables and federation.tables", fileOnly)
	}
}
