package cli_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"
)

// maintenanceStatus is the part of GET /v1/maintenance the test reads.
type maintenanceStatus struct {
	Jobs []struct {
		Name string `json:"name"`
		Runs []struct {
			OK      bool   `json:"ok"`
			Error   string `json:"error"`
			Outcome struct {
				Summary     string           `json:"summary"`
				Differences map[string]int64 `json:"differences"`
			} `json:"outcome"`
		} `json:"runs"`
	} `json:"jobs"`
}

func apiCall(t *testing.T, method, url string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	req.Header.Set("Authorization", "Bearer serve-test-token")
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// TestServeScheduledVerify runs serve with a verify every second: the
// runs find nothing while replication keeps up, then find the record
// changed behind its back, in the API, the metrics and the log.
func TestServeScheduledVerify(t *testing.T) {
	t.Parallel()
	f := newServeFixture(t)
	flags := append(f.flags, "--set", "federation.listen=127.0.0.1:0", "--set", "verify.schedule=@every 1s")
	p, logs := startServe(t, flags, "serving the query API", "scheduled maintenance")
	base := strings.TrimSuffix(logs["serving the query API"]["url"].(string), "/v1/query")

	// lastVerify waits for a verify run that satisfies ok.
	lastVerify := func(what string, ok func(diffs map[string]int64) bool) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for {
			code, raw := apiCall(t, http.MethodGet, base+"/v1/maintenance")
			if code != http.StatusOK {
				t.Fatalf("GET /v1/maintenance: %d %s", code, raw)
			}
			var st maintenanceStatus
			if err := json.Unmarshal(raw, &st); err != nil {
				t.Fatal(err)
			}
			for _, j := range st.Jobs {
				if j.Name == "verify" && len(j.Runs) > 0 && j.Runs[0].OK && ok(j.Runs[0].Outcome.Differences) {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no verify run %s within 90s; status %s\n%s", what, raw, p.logText())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	lastVerify("without differences", func(d map[string]int64) bool { _, ok := d["public.customer"]; return ok && d["public.customer"] == 0 })

	if _, err := surrealdb.Query[any](context.Background(), f.cl.DB, "UPDATE customer:1 SET name = 'drifted'", nil); err != nil {
		t.Fatal(err)
	}
	lastVerify("finding the changed record", func(d map[string]int64) bool { return d["public.customer"] == 1 })
	code, raw := apiCall(t, http.MethodGet, base+"/metrics")
	if code != http.StatusOK || !strings.Contains(string(raw), `pgsurreal_verify_differences{table="public.customer"} 1`) {
		t.Errorf("/metrics lacks the verify's difference:\n%s", raw)
	}
	if !strings.Contains(p.logText(), "maintenance found drift") {
		t.Errorf("no drift in the log:\n%s", p.logText())
	}
	if code, raw := apiCall(t, http.MethodPost, base+"/v1/maintenance/backup/run"); code != http.StatusNotFound {
		t.Errorf("POST run of an unscheduled job: %d %s, want 404", code, raw)
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("serve exited with %d after SIGTERM:\n%s", code, p.logText())
	}
}

// TestServeScheduledBackup runs serve with a backup every two seconds
// and keep 1: runs succeed in the API with their directory, and
// retention leaves one complete backup.
func TestServeScheduledBackup(t *testing.T) {
	t.Parallel()
	f := newServeFixture(t)
	dir := t.TempDir()
	flags := append(f.flags, "--set", "federation.listen=127.0.0.1:0", "--set", "backup.schedule=@every 2s",
		"--set", "backup.dir="+dir, "--set", "backup.keep=1")
	p, logs := startServe(t, flags, "serving the query API", "scheduled maintenance")
	base := strings.TrimSuffix(logs["serving the query API"]["url"].(string), "/v1/query")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		code, raw := apiCall(t, http.MethodGet, base+"/v1/maintenance")
		if code != http.StatusOK {
			t.Fatalf("GET /v1/maintenance: %d %s", code, raw)
		}
		var st maintenanceStatus
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatal(err)
		}
		ok := 0
		for _, j := range st.Jobs {
			for _, r := range j.Runs {
				if j.Name == "backup" && r.OK && strings.Contains(r.Outcome.Summary, "old ones removed") {
					ok++
				}
				if j.Name == "backup" && !r.OK {
					t.Fatalf("a scheduled backup failed: %s\n%s", r.Error, p.logText())
				}
			}
		}
		if ok >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than two scheduled backups within 2m: %s\n%s", raw, p.logText())
		}
		time.Sleep(300 * time.Millisecond)
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("serve exited with %d after SIGTERM:\n%s", code, p.logText())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	complete := 0
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "manifest.json")); err == nil {
			complete++
		}
	}
	if complete != 1 {
		t.Errorf("%d complete backups in %s after retention with backup.keep=1, want 1 (%d entries)", complete, dir, len(entries))
	}
}
