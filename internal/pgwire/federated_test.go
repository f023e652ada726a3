package pgwire

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
)

// The federated path with fakePlanner: PostgreSQL runs the rewritten
// statements for real; only the planner is a stand-in.

// startFake starts a server with fakePlanner and a PostgreSQL table
// person holding what the fake's surreal.person holds, as the reference.
func startFake(t *testing.T) (*harness, *fakePlanner) {
	f := &fakePlanner{}
	h := startServer(t, nil, f)
	h.exec(t, "CREATE TABLE person (name text, age int)", "INSERT INTO person VALUES ('ada', 36), ('bob', 20), ('cy', 50)")
	return h, f
}

func TestFederatedQueries(t *testing.T) {
	t.Parallel()
	h, f := startFake(t)
	via, direct := h.connect(t, ""), h.direct(t, "")
	ctx := context.Background()
	queries := []struct {
		name string
		sql  string
		args []any
	}{
		{"filter", "SELECT name, age FROM surreal.person WHERE age > $1 ORDER BY name", []any{30}},
		{"no parameters", "SELECT count(*), sum(age) FROM surreal.person", nil},
		{"join", "SELECT p.name, q.age FROM surreal.person AS p JOIN person q USING (name) WHERE q.age < $1 ORDER BY 1", []any{40}},
		{"text parameter", "SELECT age FROM surreal.person WHERE name = $1", []any{"cy"}},
	}
	for _, m := range execModes {
		for _, q := range queries {
			want := ask(ctx, direct, m.mode, strings.ReplaceAll(q.sql, "surreal.person", "person"), q.args...)
			got := ask(ctx, via, m.mode, q.sql, q.args...)
			if want.Err != nil || want.Other != "" {
				t.Fatalf("%s/%s: PostgreSQL itself failed: %v %s", m.name, q.name, want.Err, want.Other)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s/%s:\n got %+v %v\nwant %+v", m.name, q.name, got, got.Err, want)
			}
		}
	}
	// The engine got the client's parameters decoded, whatever the format.
	for _, p := range f.seen() {
		if len(p) == 1 && fmt.Sprint(p[0]) != "30" && fmt.Sprint(p[0]) != "40" && p[0] != "cy" {
			t.Errorf("Inputs got %#v", p)
		}
	}
	if v := metricValue(t, h.srv.m.queries.WithLabelValues(routeFed, "ok")); v < float64(len(execModes)*len(queries)) {
		t.Errorf("pgsurreal_pgwire_queries_total{federated,ok} = %v", v)
	}
}

func TestFederatedPreparedStatement(t *testing.T) {
	t.Parallel()
	h, _ := startFake(t)
	ctx := context.Background()
	c := h.connect(t, "")
	sd, err := c.Prepare(ctx, "older", "SELECT name FROM surreal.person WHERE age > $1 ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	// The client sees its own parameter only, not the rewritten
	// statement's jsonb one.
	if !reflect.DeepEqual(sd.ParamOIDs, []uint32{23}) || len(sd.Fields) != 1 || sd.Fields[0].Name != "name" || sd.Fields[0].DataTypeOID != 25 {
		t.Fatalf("description: params %v fields %+v", sd.ParamOIDs, sd.Fields)
	}
	for age, want := range map[int][]string{30: {"ada", "cy"}, 40: {"cy"}, 99: nil} {
		rows, _ := c.Query(ctx, "older", age)
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || fmt.Sprint(names) != fmt.Sprint(want) {
			t.Fatalf("older(%d): %v %v", age, names, err)
		}
	}
	if _, err := c.Prepare(ctx, "older", "SELECT 1 FROM surreal.person"); errCode(err) != "42P05" {
		t.Fatalf("preparing the name again: %v", err)
	}
	if _, err := c.Prepare(ctx, "plain", "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Prepare(ctx, "plain", "SELECT 1 FROM surreal.person"); errCode(err) != "42P05" {
		t.Fatalf("a federated statement named like a PostgreSQL one: %v", err)
	}
	if err := c.Deallocate(ctx, "older"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Prepare(ctx, "older", "SELECT count(*) FROM surreal.person"); err != nil {
		t.Fatalf("after deallocating: %v", err)
	}
	var n int64
	if err := c.QueryRow(ctx, "older").Scan(&n); err != nil || n != 3 {
		t.Fatalf("count: %d %v", n, err)
	}
	// DEALLOCATE ALL removes the backend statements behind federated ones
	// too; they keep working.
	if _, err := c.Exec(ctx, "DEALLOCATE ALL", pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := c.QueryRow(ctx, "older").Scan(&n); err != nil || n != 3 {
			t.Fatalf("count after DEALLOCATE ALL: %d %v", n, err)
		}
	}
}

// transcript runs Parse/Bind/Describe and Executes of at most limit rows
// until the portal is done, then Sync, and lists what came back.
func transcript(t *testing.T, c *pgx.Conn, sql string, limit uint32) []string {
	t.Helper()
	msgs := []pgproto3.FrontendMessage{&pgproto3.Parse{Query: sql}, &pgproto3.Bind{}, &pgproto3.Describe{ObjectType: 'P'}}
	for range 3 {
		msgs = append(msgs, &pgproto3.Execute{MaxRows: limit})
	}
	return exchange(t, c, append(msgs, &pgproto3.Sync{})...)
}

// exchange sends raw messages (the last a Sync) and lists the answers up
// to ReadyForQuery.
func exchange(t *testing.T, c *pgx.Conn, msgs ...pgproto3.FrontendMessage) []string {
	t.Helper()
	pc := c.PgConn()
	fe := pc.Frontend()
	for _, m := range msgs {
		fe.Send(m)
	}
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	var out []string
	for {
		msg, err := pc.ReceiveMessage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		switch m := msg.(type) {
		case *pgproto3.RowDescription:
			var cols []string
			for _, f := range m.Fields {
				cols = append(cols, fmt.Sprintf("%s:%d:%d", f.Name, f.DataTypeOID, f.Format))
			}
			out = append(out, "RowDescription "+strings.Join(cols, ","))
		case *pgproto3.DataRow:
			var vals []string
			for _, v := range m.Values {
				vals = append(vals, string(v))
			}
			out = append(out, "DataRow "+strings.Join(vals, ","))
		case *pgproto3.CommandComplete:
			out = append(out, "CommandComplete "+string(m.CommandTag))
		case *pgproto3.ErrorResponse:
			out = append(out, "Error "+m.Code+" "+m.Message)
		case *pgproto3.ParameterDescription:
			out = append(out, fmt.Sprintf("ParameterDescription %v", m.ParameterOIDs))
		case *pgproto3.ReadyForQuery:
			return append(out, fmt.Sprintf("ReadyForQuery %c", m.TxStatus))
		default:
			out = append(out, fmt.Sprintf("%T", msg)[len("*pgproto3."):])
		}
	}
}

func TestStatementAndPortalNames(t *testing.T) {
	t.Parallel()
	h, _ := startFake(t)
	ctx := context.Background()
	run := func(c *pgx.Conn, table string) []string {
		if _, err := c.Exec(ctx, "BEGIN"); err != nil {
			t.Fatal(err)
		}
		defer c.Exec(ctx, "ROLLBACK")
		q := "SELECT name FROM " + table + " WHERE age > $1 ORDER BY name"
		bind := &pgproto3.Bind{DestinationPortal: "p1", PreparedStatement: "s1", Parameters: [][]byte{[]byte("30")}}
		out := exchange(t, c, &pgproto3.Parse{Name: "s1", Query: q}, &pgproto3.Describe{ObjectType: 'S', Name: "s1"},
			bind, &pgproto3.Execute{Portal: "p1", MaxRows: 1}, &pgproto3.Sync{})
		// The portal outlives the Sync inside a transaction block.
		out = append(out, exchange(t, c, &pgproto3.Execute{Portal: "p1"}, &pgproto3.Sync{})...)
		out = append(out, exchange(t, c, bind, &pgproto3.Sync{})...)
		out = append(out, exchange(t, c, &pgproto3.Parse{Name: "s1", Query: q}, &pgproto3.Sync{})...)
		out = append(out, exchange(t, c, &pgproto3.Close{ObjectType: 'P', Name: "p1"}, &pgproto3.Close{ObjectType: 'S', Name: "s1"},
			&pgproto3.Execute{Portal: "p1"}, &pgproto3.Sync{})...)
		return out
	}
	want := run(h.direct(t, ""), "person")
	if got := run(h.connect(t, ""), "surreal.person"); !reflect.DeepEqual(got, want) {
		t.Errorf("federated:\n got %q\nwant %q", got, want)
	}
}

func TestExecuteRowLimit(t *testing.T) {
	t.Parallel()
	h, _ := startFake(t)
	direct := h.direct(t, "")
	want := transcript(t, direct, "SELECT name, age FROM person ORDER BY name", 2)
	via := h.connect(t, "")
	if got := transcript(t, via, "SELECT name, age FROM person ORDER BY name", 2); !reflect.DeepEqual(got, want) {
		t.Errorf("passthrough:\n got %q\nwant %q", got, want)
	}
	if got := transcript(t, via, "SELECT name, age FROM surreal.person ORDER BY name", 2); !reflect.DeepEqual(got, want) {
		t.Errorf("federated:\n got %q\nwant %q", got, want)
	}
	// Still in step afterwards.
	var n int
	if err := via.QueryRow(context.Background(), "SELECT 5").Scan(&n); err != nil || n != 5 {
		t.Fatalf("after raw messages: %d %v", n, err)
	}
}

func TestExplainFederated(t *testing.T) {
	t.Parallel()
	h, _ := startFake(t)
	c := h.connect(t, "")
	ctx := context.Background()
	for _, m := range execModes {
		a := ask(ctx, c, m.mode, "EXPLAIN FEDERATED SELECT name FROM surreal.person WHERE age > $1", 1)
		if a.Err != nil || a.Other != "" || len(a.Fields) != 1 || a.Fields[0].Name != "QUERY PLAN" || a.Fields[0].OID != 25 || a.Tag != "EXPLAIN" {
			t.Fatalf("%s: %+v %v", m.name, a, a.Err)
		}
		if len(a.Rows) != 2 || !strings.Contains(a.Rows[0][0], "SurrealDB") {
			t.Errorf("%s: rows %q", m.name, a.Rows)
		}
	}
}
