package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsurreal/pgsurreal/internal/api"
	"github.com/pgsurreal/pgsurreal/internal/maintenance"
)

// call sends a request without a body and decodes the JSON answer.
func call(t *testing.T, method, url, auth string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: status %d, body %q: %v", method, url, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode, resp.Header, out
}

// maintenanceServer serves the API over a running scheduler with a verify
// job that runs until release is closed and a quick backup job.
func maintenanceServer(t *testing.T) (url string, started <-chan struct{}, release chan struct{}) {
	t.Helper()
	begun := make(chan struct{}, 1)
	release = make(chan struct{})
	verify := func(ctx context.Context) (maintenance.Outcome, error) {
		begun <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
			return maintenance.Outcome{}, ctx.Err()
		}
		return maintenance.Outcome{Summary: "1 table, 2 differences", Differences: map[string]int64{"public.orders": 2}}, nil
	}
	backup := func(context.Context) (maintenance.Outcome, error) {
		return maintenance.Outcome{Summary: "backed up", Backup: &maintenance.BackupResult{Dir: "/b/1", Bytes: 42}}, nil
	}
	reg := prometheus.NewRegistry()
	s, err := maintenance.New(maintenance.Options{Registerer: reg, Jobs: []maintenance.Job{
		{Name: maintenance.JobVerify, Schedule: "0 3 * * *", Run: verify},
		{Name: maintenance.JobBackup, Run: backup},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	srv := httptest.NewServer(api.New(api.Options{Token: token, Maintenance: s, Registry: reg}))
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
	})
	return srv.URL, begun, release
}

// jobOf finds a job in a decoded GET /v1/maintenance answer.
func jobOf(t *testing.T, status map[string]any, name string) map[string]any {
	t.Helper()
	jobs, _ := status["jobs"].([]any)
	for _, j := range jobs {
		if m := j.(map[string]any); m["name"] == name {
			return m
		}
	}
	t.Fatalf("no job %q in %v", name, status)
	return nil
}

// waitJob polls GET /v1/maintenance until cond holds for the job.
func waitJob(t *testing.T, url, name string, cond func(map[string]any) bool) map[string]any {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(10 * time.Second)
	for {
		code, _, out := call(t, http.MethodGet, url+"/v1/maintenance", token)
		if code != http.StatusOK {
			t.Fatalf("GET /v1/maintenance: %d %v", code, out)
		}
		if j := jobOf(t, out, name); cond(j) {
			return j
		}
		select {
		case <-tick.C:
		case <-timeout:
			t.Fatalf("job %s: condition not reached: %v", name, out)
		}
	}
}

func TestMaintenanceEndpoints(t *testing.T) {
	t.Parallel()
	url, started, release := maintenanceServer(t)

	code, _, out := call(t, http.MethodGet, url+"/v1/maintenance", token)
	if code != http.StatusOK {
		t.Fatalf("status: %d %v", code, out)
	}
	v := jobOf(t, out, "verify")
	if v["schedule"] != "0 3 * * *" || v["next"] == nil || v["running"] != false || len(v["runs"].([]any)) != 0 {
		t.Errorf("verify before any run: %v", v)
	}
	if b := jobOf(t, out, "backup"); b["schedule"] != "" || b["next"] != nil {
		t.Errorf("backup (manual only): %v", b)
	}

	code, hdr, out := call(t, http.MethodPost, url+"/v1/maintenance/verify/run", token)
	if code != http.StatusAccepted || out["job"] != "verify" || out["status"] != "/v1/maintenance" || hdr.Get("Location") != "/v1/maintenance" {
		t.Fatalf("run verify: %d %v %v", code, hdr, out)
	}
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the verify job did not start")
	}
	code, _, out = call(t, http.MethodPost, url+"/v1/maintenance/verify/run", token)
	if code != http.StatusConflict || errorOf(t, out)["code"] != "55006" || !strings.Contains(errorOf(t, out)["message"].(string), "already in progress") {
		t.Errorf("run verify while running: %d %v", code, out)
	}
	if j := waitJob(t, url, "verify", func(j map[string]any) bool { return j["running"] == true }); j["running_since"] == nil {
		t.Errorf("running verify: %v", j)
	}
	code, _, out = call(t, http.MethodPost, url+"/v1/maintenance/vacuum/run", token)
	if code != http.StatusNotFound || errorOf(t, out)["code"] != "42704" || !strings.Contains(errorOf(t, out)["message"].(string), "the jobs are verify, backup") {
		t.Errorf("unknown job: %d %v", code, out)
	}
	if code, _, _ := call(t, http.MethodGet, url+"/v1/maintenance/verify/run", token); code != http.StatusMethodNotAllowed {
		t.Errorf("GET on the run endpoint: %d", code)
	}

	close(release)
	j := waitJob(t, url, "verify", func(j map[string]any) bool { return j["running"] == false && len(j["runs"].([]any)) == 1 })
	r := j["runs"].([]any)[0].(map[string]any)
	o := r["outcome"].(map[string]any)
	if r["ok"] != true || r["trigger"] != "manual" || o["summary"] != "1 table, 2 differences" || o["differences"].(map[string]any)["public.orders"] != float64(2) {
		t.Errorf("finished verify: %v", r)
	}

	if code, _, out := call(t, http.MethodPost, url+"/v1/maintenance/backup/run", token); code != http.StatusAccepted {
		t.Fatalf("run backup: %d %v", code, out)
	}
	j = waitJob(t, url, "backup", func(j map[string]any) bool { return len(j["runs"].([]any)) == 1 })
	if b := j["runs"].([]any)[0].(map[string]any)["outcome"].(map[string]any)["backup"].(map[string]any); b["dir"] != "/b/1" || b["bytes"] != float64(42) {
		t.Errorf("finished backup: %v", j)
	}

	// The scheduler's metrics are on /metrics, and the run endpoint is
	// counted under its pattern, whatever the job.
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`pgsurreal_verify_differences{table="public.orders"} 2`,
		`pgsurreal_maintenance_runs_total{result="ok",task="verify"} 1`,
		`pgsurreal_backup_last_size_bytes 42`,
		`pgsurreal_api_requests_total{code="202",path="/v1/maintenance/{job}/run"} 2`,
		`pgsurreal_api_requests_total{code="404",path="/v1/maintenance/{job}/run"} 1`,
	} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestMaintenanceNeedsToken(t *testing.T) {
	t.Parallel()
	url, started, _ := maintenanceServer(t)
	for _, c := range []struct{ method, path, auth string }{
		{http.MethodGet, "/v1/maintenance", ""},
		{http.MethodGet, "/v1/maintenance", "wrong"},
		{http.MethodPost, "/v1/maintenance/verify/run", ""},
		{http.MethodPost, "/v1/maintenance/verify/run", "s3cret-tokeN"},
		{http.MethodPost, "/v1/maintenance/vacuum/run", ""},
	} {
		code, hdr, out := call(t, c.method, url+c.path, c.auth)
		if code != http.StatusUnauthorized || errorOf(t, out)["code"] != "28000" || hdr.Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s with %q: %d %v", c.method, c.path, c.auth, code, out)
		}
	}
	select {
	case <-started:
		t.Error("a refused request started the verify job")
	default:
	}
	// No token configured: refused too.
	srv := httptest.NewServer(api.New(api.Options{Maintenance: mustScheduler(t)}))
	t.Cleanup(srv.Close)
	if code, _, out := call(t, http.MethodGet, srv.URL+"/v1/maintenance", "anything"); code != http.StatusUnauthorized {
		t.Errorf("without a configured token: %d %v", code, out)
	}
}

func TestMaintenanceWithoutScheduler(t *testing.T) {
	t.Parallel()
	var none *maintenance.Scheduler // as serve may pass when nothing is scheduled
	for name, o := range map[string]api.Options{
		"no scheduler":   {Token: token},
		"nil *Scheduler": {Token: token, Maintenance: none},
	} {
		srv := httptest.NewServer(api.New(o))
		for _, c := range []struct{ method, path string }{
			{http.MethodGet, "/v1/maintenance"},
			{http.MethodPost, "/v1/maintenance/verify/run"},
		} {
			code, _, out := call(t, c.method, srv.URL+c.path, token)
			if code != http.StatusServiceUnavailable || errorOf(t, out)["code"] != "55000" ||
				!strings.Contains(errorOf(t, out)["message"].(string), "verify.schedule or backup.schedule") {
				t.Errorf("%s: %s %s: %d %v", name, c.method, c.path, code, out)
			}
		}
		srv.Close()
	}
}

func TestMaintenanceAfterShutdown(t *testing.T) {
	t.Parallel()
	s := mustScheduler(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Options{Token: token, Maintenance: s}))
	t.Cleanup(srv.Close)
	code, _, out := call(t, http.MethodPost, srv.URL+"/v1/maintenance/backup/run", token)
	if code != http.StatusServiceUnavailable || errorOf(t, out)["code"] != "57P01" {
		t.Errorf("after shutdown: %d %v", code, out)
	}
}

// mustScheduler is a scheduler with one quick manual job, not running.
func mustScheduler(t *testing.T) *maintenance.Scheduler {
	t.Helper()
	s, err := maintenance.New(maintenance.Options{Jobs: []maintenance.Job{{Name: "backup", Run: func(context.Context) (maintenance.Outcome, error) {
		return maintenance.Outcome{Summary: "ok"}, nil
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
