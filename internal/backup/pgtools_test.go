package backup

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/pgsurreal/pgsurreal/internal/config"
)

// TestToolCommandKeepsThePasswordOutOfArguments: the password reaches
// pg_dump and pg_restore only through their environment.
func TestToolCommandKeepsThePasswordOutOfArguments(t *testing.T) {
	t.Parallel()
	const secret = "hunter2-very-secret"
	cfg := config.Default().Postgres
	cfg.Password = secret
	cfg.Database = "shop db"
	cmd, _ := toolCommand(context.Background(), "/bin/true", cfg, "--format=directory")
	for _, a := range cmd.Args {
		if strings.Contains(a, secret) {
			t.Fatalf("argument %q holds the password", a)
		}
	}
	if !slices.Contains(cmd.Args, "--dbname="+func() string { c := cfg; c.Password = ""; return c.ConnString() }()) {
		t.Fatalf("arguments %q do not name the database by a connection string", cmd.Args)
	}
	if !slices.Contains(cmd.Env, "PGPASSWORD="+secret) {
		t.Fatal("the child's environment lacks PGPASSWORD")
	}
}

func TestExportTargets(t *testing.T) {
	t.Parallel()
	sur := config.Default().Surreal
	sur.Namespace, sur.Database = "prod", "main"
	sur.Servers = []config.SurrealServer{{Name: "eu", URL: "ws://eu:8000/rpc", Namespace: "prod_eu"}, {Name: "unused", URL: "ws://x/rpc"}}
	sy := config.Default().Sync
	sy.Tables = []config.Table{
		{Name: "public.a"},
		{Name: "public.audit", Namespace: "audit"},
		{Name: "public.audit2", Namespace: "audit"},
		{Name: "public.same", Namespace: "prod"},
		{Name: "public.other", Database: "side"},
		{Name: "public.moved", Namespace: "archive", Server: "eu"},
		{Name: "public.spread", Database: "spread", Partition: config.Partition{Column: "id", By: "hash", Servers: []string{"default", "eu"}}},
	}
	servers, err := surrealServers(sur, sy)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range servers {
		for _, tg := range targets(s.name, s.cfg, sy) {
			got = append(got, s.name+":"+tg.ns+"/"+tg.db+strings.Join(tg.tables, "+"))
		}
	}
	if s := strings.Join(got, " "); s != "default:prod/main default:audit/mainpublic.audit+public.audit2 default:prod/sidepublic.other default:prod/spreadpublic.spread "+
		"eu:prod_eu/main eu:archive/mainpublic.moved eu:prod_eu/spreadpublic.spread" {
		t.Fatalf("targets = %s", s)
	}
	if f := exportFile("default", "..", "a/ü d"); f != "surreal/%2E%2E/a%2F%C3%BC%20d.surql" {
		t.Fatalf("exportFile = %s", f)
	}
	if f := exportFile("eu", "@eu", "x"); f != "surreal/@eu/%40eu/x.surql" {
		t.Fatalf("exportFile of server eu = %s", f)
	}
	sy.Tables = append(sy.Tables, config.Table{Name: "public.lost", Server: "gone"})
	if _, err := surrealServers(sur, sy); err == nil || !strings.Contains(err.Error(), `"gone"`) {
		t.Fatalf("a table on a server surreal.servers lacks: err = %v", err)
	}

	// Restored into another pair: the default export follows
	// surreal.namespace/database, another the restore's own entries for
	// its tables, or the backup's namespace without one; the export of
	// another server that server's, and needs the server.
	rsur := sur
	rsur.Namespace, rsur.Database = "restored", "db"
	rsur.Servers = []config.SurrealServer{{Name: "eu", URL: "ws://eu2:8000/rpc", Namespace: "eu_r"}}
	audit := Export{Namespace: "audit", Database: "main", SyncTables: []string{"public.audit", "public.audit2"}, OverrideNamespace: "audit"}
	euOwn := Export{Server: "eu", Namespace: "prod_eu", Database: "main", Default: true}
	euSpread := Export{Server: "eu", Namespace: "prod_eu", Database: "spread", SyncTables: []string{"public.spread"}, OverrideDatabase: "spread"}
	for _, c := range []struct {
		name   string
		e      Export
		tables []config.Table
		want   string
	}{
		{"default", Export{Default: true}, nil, "restored/db"},
		{"default by name", Export{Server: "default", Default: true}, nil, "restored/db"},
		{"no entry: the backup's namespace", audit, nil, "audit/db"},
		{"the restore's entry", audit, []config.Table{{Name: "public.audit", Namespace: "audit_r"}, {Name: "public.audit2", Namespace: "audit_r"}}, "audit_r/db"},
		{"entries disagree", audit, []config.Table{{Name: "public.audit", Namespace: "x"}, {Name: "public.audit2", Namespace: "y"}}, "error"},
		{"another server's own", euOwn, nil, "eu_r/db"},
		{"another server's entry", euSpread, []config.Table{{Name: "public.spread", Database: "spread"}}, "eu_r/spread"},
		{"a server the restore lacks", Export{Server: "asia", URL: "ws://asia/rpc", Default: true}, nil, "error"},
	} {
		rsy := sy
		rsy.Tables = c.tables
		ns, db, err := c.e.Target(rsur, rsy)
		got := ns + "/" + db
		if err != nil {
			got = "error"
		}
		if got != c.want {
			t.Errorf("%s: target %s (%v), want %s", c.name, got, err, c.want)
		}
	}
}
