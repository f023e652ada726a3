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
	sy := config.Default().Sync
	sy.Tables = []config.Table{
		{Name: "public.a"},
		{Name: "public.audit", Namespace: "audit"},
		{Name: "public.audit2", Namespace: "audit"},
		{Name: "public.same", Namespace: "prod"},
		{Name: "public.other", Database: "side"},
	}
	got := targets(sur, sy)
	var names []string
	for _, tg := range got {
		names = append(names, tg.ns+"/"+tg.db+strings.Join(tg.tables, "+"))
	}
	if s := strings.Join(names, " "); s != "prod/main audit/mainpublic.audit+public.audit2 prod/sidepublic.other" {
		t.Fatalf("targets = %s", s)
	}
	if f := exportFile("..", "a/ü d"); f != "surreal/%2E%2E/a%2F%C3%BC%20d.surql" {
		t.Fatalf("exportFile = %s", f)
	}

	// Restored into another pair: the default export follows
	// surreal.namespace/database, another the restore's own entries for
	// its tables, or the backup's namespace without one.
	rsur := sur
	rsur.Namespace, rsur.Database = "restored", "db"
	audit := Export{Namespace: "audit", Database: "main", SyncTables: []string{"public.audit", "public.audit2"}, OverrideNamespace: "audit"}
	for _, c := range []struct {
		name   string
		e      Export
		tables []config.Table
		want   string
	}{
		{"default", Export{Default: true}, nil, "restored/db"},
		{"no entry: the backup's namespace", audit, nil, "audit/db"},
		{"the restore's entry", audit, []config.Table{{Name: "public.audit", Namespace: "audit_r"}, {Name: "public.audit2", Namespace: "audit_r"}}, "audit_r/db"},
		{"entries disagree", audit, []config.Table{{Name: "public.audit", Namespace: "x"}, {Name: "public.audit2", Namespace: "y"}}, "error"},
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
