package doctor

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/config"
)

func TestParseMajor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in    string
		major int
		ok    bool
	}{
		{"3.0.2", 3, true},
		{"surrealdb-3.0.2", 3, true},
		{"v2.3.7", 2, true},
		{"10.1", 10, true},
		{"", 0, false},
		{"nightly", 0, false},
	}
	for _, tt := range tests {
		major, ok := parseMajor(tt.in)
		if major != tt.major || ok != tt.ok {
			t.Errorf("parseMajor(%q) = %d, %v; want %d, %v", tt.in, major, ok, tt.major, tt.ok)
		}
	}
}

func TestSurrealRules(t *testing.T) {
	t.Parallel()
	cfg := config.Default().Surreal
	cfg.Password = "hunter2-secret"
	authErr := errors.New("There was a problem with authentication")
	tests := []struct {
		name                         string
		version                      string
		versionErr, signinErr, nsErr error
		want                         map[string]string
	}{
		{name: "all good", version: "3.0.2",
			want: map[string]string{CheckSurrealVersion: StatusOK, CheckSurrealSignin: StatusOK, CheckSurrealNamespace: StatusOK}},
		{name: "too old", version: "2.3.7",
			want: map[string]string{CheckSurrealVersion: StatusFail, CheckSurrealSignin: StatusOK, CheckSurrealNamespace: StatusOK}},
		{name: "unknown version", version: "nightly",
			want: map[string]string{CheckSurrealVersion: StatusWarn, CheckSurrealSignin: StatusOK, CheckSurrealNamespace: StatusOK}},
		{name: "version error", versionErr: errors.New("method not found"),
			want: map[string]string{CheckSurrealVersion: StatusWarn, CheckSurrealSignin: StatusOK, CheckSurrealNamespace: StatusOK}},
		{name: "bad credentials", version: "3.0.2", signinErr: authErr,
			want: map[string]string{CheckSurrealVersion: StatusOK, CheckSurrealSignin: StatusFail, CheckSurrealNamespace: StatusSkip}},
		{name: "error echoing the password", version: "3.0.2", signinErr: errors.New("bad password hunter2-secret"),
			want: map[string]string{CheckSurrealVersion: StatusOK, CheckSurrealSignin: StatusFail, CheckSurrealNamespace: StatusSkip}},
		{name: "namespace unusable", version: "3.0.2", nsErr: errors.New("IAM error: Not enough permissions"),
			want: map[string]string{CheckSurrealVersion: StatusOK, CheckSurrealSignin: StatusOK, CheckSurrealNamespace: StatusFail}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checks := surrealChecks(cfg, tt.version, tt.versionErr, tt.signinErr, tt.nsErr)
			got := statuses(checks)
			if got[CheckSurrealConnection] != StatusOK {
				t.Errorf("connection: %s", got[CheckSurrealConnection])
			}
			for name, want := range tt.want {
				if got[name] != want {
					t.Errorf("%s: %s, want %s", name, got[name], want)
				}
			}
			for _, c := range checks {
				if c.System != SystemSurreal {
					t.Errorf("%s: system %q", c.Name, c.System)
				}
				if c.Status == StatusFail && c.Fix == "" {
					t.Errorf("%s fails without a fix", c.Name)
				}
				if strings.Contains(c.Detail+c.Fix, "hunter2-secret") {
					t.Errorf("%s leaks the password: %q", c.Name, c.Detail)
				}
			}
		})
	}
}

func TestSurrealUnreachable(t *testing.T) {
	t.Parallel()
	cfg := config.Default().Surreal
	checks := surrealUnreachable(cfg, errors.New("cannot reach SurrealDB at ws://127.0.0.1:1/rpc: connection refused"), 0)
	got := statuses(checks)
	want := map[string]string{CheckSurrealConnection: StatusFail, CheckSurrealVersion: StatusSkip, CheckSurrealSignin: StatusSkip, CheckSurrealNamespace: StatusSkip}
	if len(checks) != len(want) {
		t.Fatalf("got %d checks", len(checks))
	}
	for name, st := range want {
		if got[name] != st {
			t.Errorf("%s: %s, want %s", name, got[name], st)
		}
	}
	timeout := surrealUnreachable(cfg, errors.New("SurrealDB at ws://h/rpc: read tcp: i/o timeout"), 2*time.Second)[0]
	if !strings.Contains(timeout.Detail, "timed out after 2s") || !strings.Contains(timeout.Fix, "surreal.timeout") {
		t.Errorf("timeout: detail %q fix %q", timeout.Detail, timeout.Fix)
	}
}

func TestReport(t *testing.T) {
	t.Parallel()
	r := newReport([]Check{
		{Name: CheckPGConnection, System: SystemPostgres, Status: StatusOK, Detail: "connected"},
		{Name: CheckWALLevel, System: SystemPostgres, Status: StatusFail, Detail: "wal_level is replica", Fix: "set `wal_level = logical`"},
		{Name: CheckSurrealVersion, System: SystemSurreal, Status: StatusWarn, Detail: "unknown", Fix: "check surreal.url"},
		{Name: CheckSurrealSignin, System: SystemSurreal, Status: StatusSkip, Detail: "skipped"},
	})
	if r.OK || r.Failed() != 1 {
		t.Fatalf("OK=%v Failed=%d", r.OK, r.Failed())
	}
	if !newReport([]Check{{Status: StatusOK}, {Status: StatusWarn}, {Status: StatusSkip}}).OK {
		t.Error("a report without failures is not OK")
	}

	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(text.String(), "\n"), "\n")
	wantPrefixes := []string{"STATUS  CHECK", "OK      postgres connection", "FAIL    wal_level", "                             fix: set `wal_level = logical`", "WARN    surreal version", "                             fix: check surreal.url", "SKIP    surreal credentials", "4 checks: 1 ok, 1 failed, 1 skipped, 1 warnings"}
	if len(lines) != len(wantPrefixes) {
		t.Fatalf("got %d lines:\n%s", len(lines), text.String())
	}
	for i, p := range wantPrefixes {
		if !strings.HasPrefix(lines[i], p) {
			t.Errorf("line %d = %q, want prefix %q", i, lines[i], p)
		}
	}
	// Every detail starts in the same column.
	col := strings.Index(lines[0], "DETAIL")
	for _, l := range lines[1 : len(lines)-1] {
		if len(l) <= col || l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("detail not in column %d: %q", col, l)
		}
	}

	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var decoded struct {
		OK     bool             `json:"ok"`
		Checks []map[string]any `json:"checks"`
	}
	if err := json.Unmarshal(js.Bytes(), &decoded); err != nil {
		t.Fatal(err)
	}
	if decoded.OK || len(decoded.Checks) != 4 {
		t.Fatalf("decoded %+v", decoded)
	}
	for _, c := range decoded.Checks {
		for _, k := range []string{"name", "system", "status", "detail", "fix"} {
			if _, ok := c[k]; !ok {
				t.Errorf("check %v lacks %q", c["name"], k)
			}
		}
	}
}
