package backup

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/surreal/sink"
)

func TestPublicURLDropsCredentials(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"ws://127.0.0.1:8000/rpc":                      "ws://127.0.0.1:8000/rpc",
		"wss://root:s3cr3t@db.example:443/rpc?t=tok":   "wss://db.example:443/rpc",
		"http://user@host/rpc#frag":                    "http://host/rpc",
		"ws://%zz:secret@host/rpc":                     "(not a URL)",
		"wss://only-user:@eu.example/rpc?token=s3cr3t": "wss://eu.example/rpc",
	} {
		if got := publicURL(in); got != want {
			t.Errorf("publicURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOldestPosition(t *testing.T) {
	t.Parallel()
	at := func(phase string, lsn int64) *sink.Position {
		return &sink.Position{Phase: phase, LSN: lsn, System: "42"}
	}
	for _, c := range []struct {
		name string
		in   []*sink.Position
		want string // phase/lsn, or nil
	}{
		{"none anywhere", []*sink.Position{nil, nil}, "nil"},
		{"one server", []*sink.Position{at("streaming", 7)}, "streaming/7"},
		{"the oldest", []*sink.Position{at("streaming", 9), at("streaming", 7), at("streaming", 8)}, "streaming/7"},
		{"a server still copying", []*sink.Position{at("streaming", 5), at("snapshot", 9)}, "snapshot/5"},
		{"a server without one", []*sink.Position{at("streaming", 9), nil}, "/0"},
	} {
		got := "nil"
		if p := oldestPosition(c.in); p != nil {
			got = p.Phase + "/" + strconv.FormatInt(p.LSN, 10)
		}
		if got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// TestManifestFormats: a manifest of format version 1 (written before
// several servers, no server named) still reads, its exports on the
// default server; a backup of the default server alone is still written
// as version 1, one of several servers as version 2.
func TestManifestFormats(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const v1 = `{"format": "pgsurreal-backup", "format_version": 1, "pgsurreal_version": "old",
  "created_at": "2026-01-02T03:04:05Z",
  "postgres": {"database": "shop", "snapshot_lsn": "0/1", "dir": "postgres", "tables": []},
  "surreal": {"version": "3.0.2", "exports": [{"namespace": "shop", "database": "main", "default": true, "file": "surreal/shop/main.surql", "tables": []}]},
  "sync": {"slot": "pgsurreal", "phase": "streaming", "lsn": "0/2", "target_lsn": "0/2", "caught_up": true, "waited_ms": 1},
  "files": []}`
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), []byte(v1), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifest(dir)
	if err != nil {
		t.Fatalf("reading a version 1 manifest: %v", err)
	}
	e := m.Surreal.Exports[0]
	if e.ServerName() != "default" || !m.Sync.resumable() || len(m.Sync.missing()) != 0 {
		t.Fatalf("version 1 manifest: server %q, resumable %v", e.ServerName(), m.Sync.resumable())
	}
	sc := config.Default().Surreal
	sc.Namespace, sc.Database = "restored", "db"
	if ns, db, err := e.Target(sc, config.Default().Sync); err != nil || ns+"/"+db != "restored/db" {
		t.Fatalf("version 1 export restores into %s/%s (%v), want surreal's namespace/database", ns, db, err)
	}
	if err := checkServers(sc, m); err != nil {
		t.Fatalf("version 1 manifest: %v", err)
	}
	if v := formatVersion(m); v != 1 {
		t.Fatalf("a backup of the default server alone has format version %d, want 1", v)
	}

	m.Surreal.Exports = append(m.Surreal.Exports,
		Export{Server: "eu", URL: "ws://eu.example/rpc", Namespace: "shop", Database: "main", Default: true},
		Export{Server: "asia", URL: "ws://asia.example/rpc", Namespace: "shop", Database: "main", Default: true})
	m.Sync.Servers = []ServerPosition{{Server: "default", Phase: "streaming", LSN: "0/2"}, {Server: "eu"}}
	if v := formatVersion(m); v != 2 {
		t.Fatalf("a backup of several servers has format version %d, want 2", v)
	}
	if m.Sync.resumable() || strings.Join(m.Sync.missing(), ",") != `"eu"` {
		t.Fatalf("a backup whose server eu held no position: resumable %v, missing %v", m.Sync.resumable(), m.Sync.missing())
	}
	err = checkServers(sc, m)
	if err == nil || !strings.Contains(err.Error(), `server "eu" (backed up from ws://eu.example/rpc)`) || !strings.Contains(err.Error(), "surreal.servers") || !strings.Contains(err.Error(), `"asia"`) {
		t.Fatalf("restore config without servers eu and asia: err = %v", err)
	}
	sc.Servers = []config.SurrealServer{{Name: "eu", URL: "ws://eu2/rpc"}, {Name: "asia", URL: "ws://asia2/rpc"}}
	if err := checkServers(sc, m); err != nil {
		t.Fatalf("restore config with both servers: %v", err)
	}
}
