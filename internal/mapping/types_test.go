package mapping

import (
	"context"
	"strings"
	"testing"
)

// TestLoadTypes resolves user-defined types made of other types from the
// catalog of a real server.
func TestLoadTypes(t *testing.T) {
	t.Parallel()
	s := newSession(t)
	ctx := context.Background()
	for _, q := range setupSQL {
		s.exec(t, q)
	}
	oid := func(name string) uint32 {
		var o uint32
		if err := s.pg.QueryRow(ctx, "SELECT $1::regtype::oid", name).Scan(&o); err != nil {
			t.Fatal(err)
		}
		return o
	}
	want := map[string]uint32{}
	for _, n := range []string{"moods", "textrange", "address", "box[]", "int4multirange", "int4"} {
		want[n] = oid(n)
	}
	types, err := LoadTypes(ctx, s.pg, []uint32{want["moods"], want["textrange"], want["address"], want["box[]"], want["int4multirange"], want["int4"], want["int4"]})
	if err != nil {
		t.Fatal(err)
	}

	moods := types[want["moods"]]
	if moods.Kind != Domain || moods.Base.Kind != Array || moods.Base.Name != "_mood" ||
		moods.Base.Elem.Kind != Enum || moods.Base.Elem.String() != "public.mood" {
		t.Errorf("moods: %+v", moods)
	}
	if r := types[want["textrange"]]; r.Kind != Range || r.Sub.Name != "text" || r.Sub.Kind != Base {
		t.Errorf("textrange: %+v", r)
	}
	a := types[want["address"]]
	if a.Kind != Composite || len(a.Attrs) != 3 || a.Attrs[0].Name != "street" || a.Attrs[2].Type.Kind != Array || a.Attrs[2].Type.Elem.Name != "text" {
		t.Errorf("address: %+v", a)
	}
	if b := types[want["box[]"]]; b.Kind != Array || b.Elem.Name != "box" || b.Elem.Delim != ';' {
		t.Errorf("box[]: %+v", b)
	}
	if m := types[want["int4multirange"]]; m.Kind != Other {
		t.Errorf("int4multirange: %+v", m)
	}
	if i := types[want["int4"]]; i.Kind != Base || i.String() != "int4" || i.Category != 'N' {
		t.Errorf("int4: %+v", i)
	}

	if _, err := LoadTypes(ctx, s.pg, []uint32{4000000000}); err == nil || !strings.Contains(err.Error(), "4000000000 is not in pg_type") {
		t.Errorf("missing OID: %v", err)
	}
}
