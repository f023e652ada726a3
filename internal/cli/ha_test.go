package cli_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestServeStandby runs two serve daemons on one slot: one leads, the
// other stands by, and each says so in GET /v1/status, /readyz (the
// standby is ready: it serves queries) and its metrics; once the leader
// stops (SIGTERM releases the lease), the standby leads.
func TestServeStandby(t *testing.T) {
	t.Parallel()
	f := newServeFixture(t)
	flags := append(f.flags, "--set", "federation.listen=off")
	a, logsA := startServe(t, flags, "serving the query API", "became leader")
	b, logsB := startServe(t, flags, "serving the query API", "standing by: another process holds the leader lease")
	baseA := strings.TrimSuffix(logsA["serving the query API"]["url"].(string), "/v1/query")
	baseB := strings.TrimSuffix(logsB["serving the query API"]["url"].(string), "/v1/query")
	pidA := int(logsA["became leader"]["pid"].(float64))
	if holder := logsB["standing by: another process holds the leader lease"]["holder"].(string); !strings.HasSuffix(holder, ":"+strconv.Itoa(pidA)) {
		t.Errorf("the standby names the holder %q, want the leader's pid %d", holder, pidA)
	}

	status := func(base string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+"/v1/status", nil)
		req.Header.Set("Authorization", "Bearer serve-test-token")
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /v1/status: %d %v", resp.StatusCode, err)
		}
		return out
	}
	get := func(base, path string) (int, string) {
		t.Helper()
		resp, err := httpClient.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw)
	}
	if st := status(baseA); st["role"] != "leader" || st["ha"] != true || int(st["pid"].(float64)) != pidA {
		t.Errorf("leader's status %v", st)
	}
	if st := status(baseB); st["role"] != "standby" || !strings.HasSuffix(st["holder"].(string), ":"+strconv.Itoa(pidA)) {
		t.Errorf("standby's status %v", st)
	}
	if code, body := get(baseB, "/readyz"); code != http.StatusOK || !strings.Contains(body, `"role":{"ok":true,"detail":"standby`) || strings.Contains(body, `"sync"`) {
		t.Errorf("standby's /readyz: %d %s", code, body)
	}
	_, metricsA := get(baseA, "/metrics")
	_, metricsB := get(baseB, "/metrics")
	for _, m := range []string{"pgsurreal_leader 1", "pgsurreal_leader_standby 0", "pgsurreal_leader_transitions_total 1", "pgsurreal_sync_running 1"} {
		if !strings.Contains(metricsA, m+"\n") {
			t.Errorf("the leader's /metrics lacks %s", m)
		}
	}
	for _, m := range []string{"pgsurreal_leader 0", "pgsurreal_leader_standby 1", "pgsurreal_leader_transitions_total 0", "pgsurreal_sync_running 0"} {
		if !strings.Contains(metricsB, m+"\n") {
			t.Errorf("the standby's /metrics lacks %s", m)
		}
	}

	if code := a.stop(t); code != 0 {
		t.Errorf("the leader exited with %d after SIGTERM:\n%s", code, a.logText())
	}
	deadline := time.Now().Add(20 * time.Second)
	for status(baseB)["role"] != "leader" {
		if time.Now().After(deadline) {
			t.Fatalf("the standby did not lead within 20s of the leader's stop:\n%s", b.logText())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code := b.stop(t); code != 0 {
		t.Errorf("the second leader exited with %d after SIGTERM:\n%s", code, b.logText())
	}
}
