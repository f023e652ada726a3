package verify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/route"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
	"github.com/pgsurreal/pgsurreal/internal/verify"
)

// partitioned is a fixture whose tables spread over the shared test
// SurrealDB server (default) and a private one (eu): shop.event by the
// value of its region key column (with its made_by edges), shop.click by
// the hash of its id, shop.audit routed whole to eu.
type partitioned struct {
	*fixture
	eu *surreal.Client
}

func newPartitioned(t *testing.T) *partitioned {
	t.Helper()
	f := newFixture(t)
	f.exec(`CREATE SCHEMA shop`)
	f.exec(`CREATE TABLE shop.customer (id int PRIMARY KEY, name text NOT NULL)`)
	f.exec(`CREATE TABLE shop.event (region text NOT NULL, id int NOT NULL, customer_id int REFERENCES shop.customer, note text,
		PRIMARY KEY (region, id))`)
	f.exec(`CREATE TABLE shop.click (id bigint PRIMARY KEY, page text)`)
	f.exec(`CREATE TABLE shop.audit (id int PRIMARY KEY, what text)`)
	f.exec(`INSERT INTO shop.customer SELECT g, 'c' || g FROM generate_series(1, 20) g`)
	// Regions by id % 4: 0 EU, 1 UK (both on eu), 2 US, 3 BR (default).
	f.exec(`INSERT INTO shop.event SELECT (ARRAY['EU','UK','US','BR'])[1 + g % 4], g, 1 + g % 20, 'n' || g FROM generate_series(1, 400) g`)
	f.exec(`INSERT INTO shop.click SELECT g, 'p' || g FROM generate_series(1, 500) g`)
	f.exec(`INSERT INTO shop.audit SELECT g, 'a' || g FROM generate_series(1, 50) g`)
	eu := testenv.PrivateSurreal(t)
	cl, err := surreal.Connect(context.Background(), eu, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close(context.Background()) })
	f.cfg.Surreal.Servers = []config.SurrealServer{{Name: "eu", URL: eu.URL, Namespace: eu.Namespace, Database: eu.Database,
		Username: eu.Username, Password: eu.Password}}
	f.cfg.Sync.Tables = []config.Table{
		{Name: "shop.event", Edges: []config.Edge{{Columns: []string{"customer_id"}, Name: "made_by"}},
			Partition: config.Partition{Column: "region", By: "value", Values: map[string]string{"EU": "eu", "UK": "eu"}, Other: "default"}},
		{Name: "shop.click", Partition: config.Partition{Column: "id", By: "hash", Servers: []string{"default", "eu"}}},
		{Name: "shop.audit", Server: "eu"},
	}
	return &partitioned{fixture: f, eu: cl}
}

// on runs SurrealQL on one server: "default" or "eu".
func (p *partitioned) on(server, q string, vars map[string]any) []map[string]any {
	p.t.Helper()
	cl := p.cl
	if server == "eu" {
		cl = p.eu
	}
	res, err := surrealdb.Query[[]map[string]any](context.Background(), cl.DB, q, vars)
	if err != nil {
		p.t.Fatalf("on %s: %s: %v", server, q, err)
	}
	return (*res)[len(*res)-1].Result
}

// count is the number of records of table on server (0 when the table
// is not there).
func (p *partitioned) count(server, table string) int {
	p.t.Helper()
	cl := p.cl
	if server == "eu" {
		cl = p.eu
	}
	q := "SELECT count() AS n FROM type::table($tb) GROUP ALL"
	got, err := surrealdb.Query[[]map[string]any](context.Background(), cl.DB, q, map[string]any{"tb": table})
	if err != nil && strings.Contains(err.Error(), "does not exist") {
		return 0
	}
	if err != nil {
		p.t.Fatalf("on %s: %s: %v", server, q, err)
	}
	res := (*got)[0].Result
	if len(res) == 0 {
		return 0
	}
	var n int
	fmt.Sscan(fmt.Sprint(res[0]["n"]), &n)
	return n
}

// clickServer is the server the hash rule puts click id on.
func (p *partitioned) clickServer(id int64) string {
	p.t.Helper()
	s, err := route.ServerForValue(p.cfg.Sync.Tables[1].Partition, id)
	if err != nil {
		p.t.Fatal(err)
	}
	return s
}

// foundOn lists a report's differences as "kind table key server
// [fields]".
func foundOn(rep *verify.Report) []string {
	var out []string
	for _, t := range rep.Tables {
		for _, d := range t.Differences {
			s := d.Kind + " " + d.Table + " " + d.Key + " " + d.Server
			if len(d.Fields) > 0 {
				s += " " + strings.Join(d.Fields, ",")
			}
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// TestVerifyPartitioned verifies tables spread over two SurrealDB servers
// by the real sync: clean after the copy; then drift injected on each
// server (a changed field on eu, a record deleted on default with its
// edge, an extra record, a record duplicated onto the wrong server, one
// moved onto the wrong server, a change of a table routed whole to eu) is
// reported with exactly those keys, fields and servers; repair puts every
// record back on its server; verify is clean again. Last, with the sync
// stopped, the wait for catch-up reads both servers' positions.
func TestVerifyPartitioned(t *testing.T) {
	p := newPartitioned(t)
	stop := p.startSync()
	p.settled(2 * time.Minute)

	rep := p.verify(false)
	if rep.Differences() != 0 {
		t.Fatalf("differences after the copy:\n%s", text(rep))
	}
	byTable := map[string]verify.TableReport{}
	for _, tr := range rep.Tables {
		byTable[tr.Table] = tr
	}
	for table, want := range map[string]struct {
		servers       []string
		rows, records int64
	}{
		"shop.event":    {[]string{"default", "eu"}, 400, 800}, // records and made_by edges
		"shop.click":    {[]string{"default", "eu"}, 500, 500},
		"shop.audit":    {[]string{"eu"}, 50, 50},
		"shop.customer": {nil, 20, 20},
	} {
		tr := byTable[table]
		if !slices.Equal(tr.Servers, want.servers) || tr.SourceRows != want.rows || tr.ReplicaRows != want.records {
			t.Errorf("%s: servers %v, %d rows, %d records; want %v, %d, %d", table, tr.Servers, tr.SourceRows, tr.ReplicaRows,
				want.servers, want.rows, want.records)
		}
	}
	// The partitioned tables are spread over both servers: verify read
	// the union, not one of them.
	for _, table := range []string{"event", "click"} {
		if p.count("default", table) == 0 || p.count("eu", table) == 0 {
			t.Fatalf("%s is not spread over both servers (%d on default, %d on eu)", table, p.count("default", table), p.count("eu", table))
		}
	}
	if p.count("default", "audit") != 0 || p.count("eu", "audit") != 50 {
		t.Fatalf("audit: %d records on default, %d on eu; want 0 and 50", p.count("default", "audit"), p.count("eu", "audit"))
	}

	// A click on eu to move to default, and an extra click on eu.
	var moved, ghost int64
	for id := int64(1); moved == 0; id++ {
		if p.clickServer(id) == "eu" {
			moved = id
		}
	}
	for id := int64(100000); ghost == 0; id++ {
		if p.clickServer(id) == "eu" {
			ghost = id
		}
	}

	p.on("eu", `UPDATE type::record('event', ['EU', 4]) SET note = 'drifted'`, nil)
	p.on("default", `DELETE type::record('event', ['US', 6])`, nil)
	p.on("eu", `CREATE type::record('click', $id) SET page = 'ghost'`, map[string]any{"id": ghost})
	p.on("default", `CREATE type::record('event', ['EU', 8]) SET note = 'on the wrong server'`, nil)
	p.on("eu", `DELETE type::record('click', $id)`, map[string]any{"id": moved})
	p.on("default", `CREATE type::record('click', $id) SET page = $page`, map[string]any{"id": moved, "page": fmt.Sprint("p", moved)})
	p.on("eu", `UPDATE type::record('audit', 3) SET what = 'changed'`, nil)

	want := []string{
		"different audit audit:3 eu what",
		"different event event:['EU', 4] eu note",
		fmt.Sprintf("extra click click:%d default", moved),
		fmt.Sprintf("extra click click:%d eu", ghost),
		"extra event event:['EU', 8] default",
		fmt.Sprintf("missing click click:%d eu", moved),
		"missing event event:['US', 6] default",
		// SurrealDB deletes a record's edges with it.
		"missing made_by made_by:['US', 6] default",
	}
	slices.Sort(want)
	rep = p.verify(false)
	if got := foundOn(rep); !slices.Equal(got, want) {
		t.Fatalf("verify found other differences\n%s\n%s", diffLines(got, want), text(rep))
	}
	t.Logf("the drift:\n%s", text(rep))
	if out := text(rep); !strings.Contains(out, "extra     event event:['EU', 8] on default") ||
		!strings.Contains(out, "shop.event -> event, made_by on default, eu:") {
		t.Errorf("the text report does not name the servers:\n%s", out)
	}
	js, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `"server":"eu"`) || !strings.Contains(string(js), `"servers":["default","eu"]`) {
		t.Errorf("the JSON report does not name the servers: %s", js)
	}

	rep = p.verify(true)
	if got := foundOn(rep); !slices.Equal(got, want) {
		t.Fatalf("verify --repair found other differences\n%s\n%s", diffLines(got, want), text(rep))
	}
	repaired := 0
	for _, tr := range rep.Tables {
		repaired += tr.Repaired
		if tr.StillDifferent != 0 {
			t.Errorf("%s: %d keys still different after the repair\n%s", tr.Table, tr.StillDifferent, text(rep))
		}
	}
	// Keys: audit 3; events EU 4, US 6, EU 8; clicks ghost and moved.
	if repaired != 6 {
		t.Errorf("repaired %d keys, want 6\n%s", repaired, text(rep))
	}
	if rep = p.verify(false); rep.Differences() != 0 {
		t.Fatalf("differences after the repair:\n%s", text(rep))
	}
	// Each record is back on its own server only.
	for _, c := range []struct {
		server, q string
		vars      map[string]any
		want      int
	}{
		{"default", `SELECT * FROM type::record('event', ['EU', 8])`, nil, 0},
		{"eu", `SELECT * FROM type::record('event', ['EU', 8])`, nil, 1},
		{"default", `SELECT * FROM type::record('click', $id)`, map[string]any{"id": moved}, 0},
		{"eu", `SELECT * FROM type::record('click', $id)`, map[string]any{"id": moved}, 1},
		{"eu", `SELECT * FROM type::record('click', $id)`, map[string]any{"id": ghost}, 0},
		{"default", `SELECT * FROM type::record('event', ['US', 6])`, nil, 1},
		{"default", `SELECT * FROM type::record('made_by', ['US', 6])`, nil, 1},
	} {
		if got := len(p.on(c.server, c.q, c.vars)); got != c.want {
			t.Errorf("on %s: %s %v: %d records, want %d", c.server, c.q, c.vars, got, c.want)
		}
	}

	// With the sync stopped, a change is not replicated: the wait for
	// catch-up reads the position on both servers and says where each is.
	stop()
	p.exec(`UPDATE shop.event SET note = 'late' WHERE region = 'EU' AND id = 12`)
	p.cfg.Verify.WaitTimeout.Duration = time.Second
	rep = p.verify(false, "shop.event")
	if got, want := foundOn(rep), []string{"different event event:['EU', 12] eu note"}; !slices.Equal(got, want) {
		t.Errorf("with the sync stopped\n%s\n%s", diffLines(got, want), text(rep))
	}
	if len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "on server default") || !strings.Contains(rep.Notes[0], "on server eu") {
		t.Errorf("the note does not name both servers' positions: %q", rep.Notes)
	}
	p.cfg.Verify.WaitTimeout.Duration = 20 * time.Second
	p.startSync()
	if rep = p.verify(false); rep.Differences() != 0 || len(rep.Notes) != 0 {
		t.Fatalf("after the sync resumed:\n%s", text(rep))
	}
}
