package publish

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
)

var orders = &cdc.Relation{ID: 1, Schema: "public", Name: "order", Columns: []cdc.Column{
	{Name: "id", TypeOID: oidInt8, Key: true},
	{Name: "paid", TypeOID: oidBool},
	{Name: "total", TypeOID: 1700},
	{Name: "ratio", TypeOID: oidFloat8},
	{Name: "attrs", TypeOID: oidJSONB},
	{Name: "placed", TypeOID: 1184},
	{Name: "notes", TypeOID: 25},
}}

func text(s string) cdc.Datum { return cdc.Datum{Kind: cdc.Text, Text: s} }

var nullDatum = cdc.Datum{Kind: cdc.Null}

func TestBuild(t *testing.T) {
	t.Parallel()
	commit := time.Date(2026, 12, 3, 9, 1, 15, 531849000, time.FixedZone("CET", 3600))
	full := cdc.Tuple{text("7"), text("t"), text("12.50"), text("0.25"), text(`{"a": [1, 2]}`), text("2026-12-03 08:01:15.531849+00"), text("it's \"quoted\"")}
	keyOnly := cdc.Tuple{text("6"), nullDatum, nullDatum, nullDatum, nullDatum, nullDatum, nullDatum}
	toasted := cdc.Tuple{text("7"), text("f"), text("1"), text("NaN"), nullDatum, text("2026-12-03 08:01:15+00"), {Kind: cdc.Unchanged}}
	other := &cdc.Relation{ID: 2, Schema: "sales", Name: "Odd Name.x", Columns: []cdc.Column{{Name: "k", TypeOID: 25, Key: true}}}
	txn := cdc.Txn{XID: 901, CommitLSN: 0x1_006B3748, End: 0x1_006B3790, CommitTime: commit, Final: true, Changes: []cdc.Change{
		{Op: cdc.OpInsert, Rel: orders, New: full},
		{Op: cdc.OpUpdate, Rel: orders, Old: keyOnly, New: full}, // the key moved from 6 to 7
		{Op: cdc.OpUpdate, Rel: orders, New: toasted},
		{Op: cdc.OpDelete, Rel: orders, Old: keyOnly},
		{Op: cdc.OpTruncate, Truncated: []*cdc.Relation{orders, other}, Cascade: true},
		{Op: cdc.OpInsert, Rel: other, New: cdc.Tuple{text("a b")}},
	}}
	msgs, err := Build("main_slot", "pgsurreal.changes", txn, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		subject, id, body string
	}{
		{"pgsurreal.changes.public.order", "main_slot:1/6B3748:0",
			`{"format":1,"op":"insert","schema":"public","table":"order","key":{"id":7},"new":{"id":7,"paid":true,"total":"12.50","ratio":0.25,"attrs":{"a":[1,2]},"placed":"2026-12-03 08:01:15.531849+00","notes":"it's \"quoted\""},"lsn":"1/6B3748","index":0,"commit_time":"2026-12-03T08:01:15.531849Z","xid":901,"slot":"main_slot"}`},
		{"pgsurreal.changes.public.order", "main_slot:1/6B3748:1",
			`{"format":1,"op":"update","schema":"public","table":"order","key":{"id":7},"old_key":{"id":6},"new":{"id":7,"paid":true,"total":"12.50","ratio":0.25,"attrs":{"a":[1,2]},"placed":"2026-12-03 08:01:15.531849+00","notes":"it's \"quoted\""},"lsn":"1/6B3748","index":1,"commit_time":"2026-12-03T08:01:15.531849Z","xid":901,"slot":"main_slot"}`},
		{"pgsurreal.changes.public.order", "main_slot:1/6B3748:2",
			`{"format":1,"op":"update","schema":"public","table":"order","key":{"id":7},"new":{"id":7,"paid":false,"total":"1","ratio":"NaN","attrs":null,"placed":"2026-12-03 08:01:15+00"},"unchanged":["notes"],"lsn":"1/6B3748","index":2,"commit_time":"2026-12-03T08:01:15.531849Z","xid":901,"slot":"main_slot"}`},
		{"pgsurreal.changes.public.order", "main_slot:1/6B3748:3",
			`{"format":1,"op":"delete","schema":"public","table":"order","key":{"id":6},"lsn":"1/6B3748","index":3,"commit_time":"2026-12-03T08:01:15.531849Z","xid":901,"slot":"main_slot"}`},
		{"pgsurreal.changes.public.order", "main_slot:1/6B3748:4",
			`{"format":1,"op":"truncate","schema":"public","table":"order","key":null,"cascade":true,"lsn":"1/6B3748","index":4,"commit_time":"2026-12-03T08:01:15.531849Z","xid":901,"slot":"main_slot"}`},
		{"pgsurreal.changes.sales.Odd%20Name%2Ex", "main_slot:1/6B3748:5",
			`{"format":1,"op":"truncate","schema":"sales","table":"Odd Name.x","key":null,"cascade":true,"lsn":"1/6B3748","index":5,"commit_time":"2026-12-03T08:01:15.531849Z","xid":901,"slot":"main_slot"}`},
		{"pgsurreal.changes.sales.Odd%20Name%2Ex", "main_slot:1/6B3748:6",
			`{"format":1,"op":"insert","schema":"sales","table":"Odd Name.x","key":{"k":"a b"},"new":{"k":"a b"},"lsn":"1/6B3748","index":6,"commit_time":"2026-12-03T08:01:15.531849Z","xid":901,"slot":"main_slot"}`},
	}
	if len(msgs) != len(want) {
		t.Fatalf("%d messages, want %d", len(msgs), len(want))
	}
	for i, w := range want {
		m := msgs[i]
		if m.Subject != w.subject || m.ID != w.id || string(m.Data) != w.body {
			t.Errorf("message %d:\n got %s %s %s\nwant %s %s %s", i, m.Subject, m.ID, m.Data, w.subject, w.id, w.body)
		}
		if m.Pos != (Position{LSN: txn.CommitLSN, Index: i}) {
			t.Errorf("message %d: position %v", i, m.Pos)
		}
		var b Body
		if err := json.Unmarshal(m.Data, &b); err != nil || b.Index != i || b.Format != FormatVersion {
			t.Errorf("message %d does not decode into Body: %v %+v", i, err, b)
		}
		// The hand-written encoding is encoding/json's, byte for byte.
		if re, err := json.Marshal(b); err != nil || string(re) != string(m.Data) {
			t.Errorf("message %d: encoding/json writes\n%s\nBuild wrote\n%s", i, re, m.Data)
		}
	}
	// A later part of the same transaction numbers on, and the same input
	// always gives the same bytes (a replay sends what was sent).
	again, _ := Build("main_slot", "pgsurreal.changes", txn, 7, nil)
	if again[0].ID != "main_slot:1/6B3748:7" || strings.Replace(string(again[0].Data), `"index":7`, `"index":0`, 1) != string(msgs[0].Data) {
		t.Errorf("part numbering: %s %s", again[0].ID, again[0].Data)
	}
}

// TestBuildKeys uses the configured key (the record id's columns) rather
// than the replica identity, which is every column under FULL.
func TestBuildKeys(t *testing.T) {
	t.Parallel()
	rel := &cdc.Relation{Schema: "public", Name: "ev", ReplicaIdentity: 'f', Columns: []cdc.Column{
		{Name: "a", TypeOID: oidInt4, Key: true}, {Name: "b", TypeOID: 25, Key: true}, {Name: "c", TypeOID: oidInt4, Key: true}}}
	keys := func(r *cdc.Relation) []string {
		if r.QualifiedName() == "public.ev" {
			return []string{"c", "a"}
		}
		return nil
	}
	old := cdc.Tuple{text("1"), text("x"), text("3")}
	txn := cdc.Txn{CommitLSN: 10, Final: true, Changes: []cdc.Change{
		{Op: cdc.OpUpdate, Rel: rel, Old: old, New: cdc.Tuple{text("1"), text("y"), text("3")}}, // key kept
		{Op: cdc.OpUpdate, Rel: rel, Old: old, New: cdc.Tuple{text("2"), text("x"), text("3")}}, // key moved
		{Op: cdc.OpDelete, Rel: rel, Old: old},
	}}
	msgs, err := Build("s", "p", txn, 0, keys)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{
		`"key":{"c":3,"a":1},"new"`,
		`"key":{"c":3,"a":2},"old_key":{"c":3,"a":1},"new"`,
		`"key":{"c":3,"a":1},"lsn"`,
	} {
		if !strings.Contains(string(msgs[i].Data), want) {
			t.Errorf("message %d: %s\nwant it to contain %s", i, msgs[i].Data, want)
		}
	}
}

func TestValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		oid  uint32
		in   string
		want string
	}{
		{oidInt4, "-42", "-42"},
		{oidInt8, "9223372036854775807", "9223372036854775807"},
		{oidFloat4, "1e+30", "1e+30"},
		{oidFloat8, "-Infinity", `"-Infinity"`},
		{oidFloat8, "Infinity", `"Infinity"`},
		{oidBool, "f", "false"},
		{oidJSON, `{ "b" : 1 , "a":[ ] }`, `{"b":1,"a":[]}`},
		{oidJSONB, `"text"`, `"text"`},
		{1700, "123456789012345678901234567890.000001", `"123456789012345678901234567890.000001"`},
		{2950, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`},
		{1007, "{1,2,NULL}", `"{1,2,NULL}"`},
		{25, "line\nbreak \u2028 <&>", `"line\nbreak \u2028 \u003c\u0026\u003e"`},
	} {
		if got := string(appendValue(nil, tc.oid, text(tc.in))); got != tc.want {
			t.Errorf("type %d %q: got %s, want %s", tc.oid, tc.in, got, tc.want)
		}
	}
}

func TestMsgID(t *testing.T) {
	t.Parallel()
	pos := Position{LSN: 0x16_B374D848, Index: 12}
	id := MsgID("pgsurreal", pos)
	if id != "pgsurreal:16/B374D848:12" {
		t.Fatalf("id %s", id)
	}
	slot, got, err := ParseMsgID(id)
	if err != nil || slot != "pgsurreal" || got != pos {
		t.Fatalf("parsed %q %v %v", slot, got, err)
	}
	for _, bad := range []string{"", "a:b", "s:0/1:x", "s:zz:1", "s:0/1:-1", "s:0/1:2:3"} {
		if _, _, err := ParseMsgID(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if !(Position{1, 5}).Less(Position{2, 0}) || !(Position{2, 0}).Less(Position{2, 1}) || (Position{2, 1}).Less(Position{2, 1}) {
		t.Error("Position.Less")
	}
}

func TestSubject(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"order":       "order",
		"Order_2-x":   "Order_2-x",
		"a.b":         "a%2Eb",
		"*":           "%2A",
		">":           "%3E",
		"50%":         "50%25",
		"tab\tspace ": "tab%09space%20",
		"café":        "caf%C3%A9",
	} {
		if got := SubjectToken(in); got != want {
			t.Errorf("SubjectToken(%q) = %q, want %q", in, got, want)
		}
	}
	for _, tc := range []struct {
		filter, subject string
		want            bool
	}{
		{"p.>", "p.a.b", true},
		{"p.*.*", "p.a.b", true},
		{"p.*", "p.a.b", false},
		{"q.>", "p.a.b", false},
		{"p.a.b", "p.a.b", true},
		{"p.a.b.>", "p.a.b", false},
		{">", "p.a.b", true},
	} {
		if got := subjectCovers(tc.filter, tc.subject); got != tc.want {
			t.Errorf("subjectCovers(%q, %q) = %v", tc.filter, tc.subject, got)
		}
	}
}

func TestAppendString(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", `q"uote`, `back\slash`, "tab\t", "nl\n", "<a&b>", "\u2028\u2029", "café", "\x00\x1f\x7f", "bad \xff utf8", "emoji 😀"} {
		want, _ := json.Marshal(s)
		if got := appendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("%q: got %s, want %s", s, got[1:], want)
		}
	}
}
