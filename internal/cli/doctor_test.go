package cli_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/pgsurreal/pgsurreal/internal/cli"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

type doctorJSON struct {
	OK     *bool            `json:"ok"`
	Checks []map[string]any `json:"checks"`
}

func runDoctor(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = cli.Main(append([]string{"doctor"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

func decodeDoctor(t *testing.T, stdout string) doctorJSON {
	t.Helper()
	var d doctorJSON
	if err := json.Unmarshal([]byte(stdout), &d); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
	}
	if d.OK == nil {
		t.Fatalf("no ok field:\n%s", stdout)
	}
	if len(d.Checks) != 12 {
		t.Fatalf("got %d checks, want 12:\n%s", len(d.Checks), stdout)
	}
	for _, c := range d.Checks {
		for _, k := range []string{"name", "system", "status", "detail", "fix"} {
			if _, ok := c[k].(string); !ok {
				t.Errorf("check %v: %q missing or not a string", c["name"], k)
			}
		}
		switch c["system"] {
		case "postgres", "surreal":
		default:
			t.Errorf("check %v: system %v", c["name"], c["system"])
		}
		switch c["status"] {
		case "ok", "fail", "skip", "warn":
		default:
			t.Errorf("check %v: status %v", c["name"], c["status"])
		}
	}
	return d
}

func TestDoctorFailingJSON(t *testing.T) {
	t.Parallel()
	pgPass, surPass := randomHex(t), randomHex(t)
	code, stdout, stderr := runDoctor(t, "--json",
		"--set", "postgres.port="+strconv.Itoa(freePort(t)),
		"--set", "postgres.password="+pgPass,
		"--set", "surreal.url=ws://127.0.0.1:"+strconv.Itoa(freePort(t))+"/rpc",
		"--set", "surreal.password="+surPass)
	if code != cli.ExitFailure {
		t.Errorf("exit code %d, want %d; stderr: %s", code, cli.ExitFailure, stderr)
	}
	d := decodeDoctor(t, stdout)
	if *d.OK {
		t.Error("ok is true")
	}
	for _, c := range d.Checks {
		want := "skip"
		if c["name"] == "postgres connection" || c["name"] == "surreal connection" {
			want = "fail"
			if c["fix"] == "" {
				t.Errorf("%v fails without a fix", c["name"])
			}
		}
		if c["status"] != want {
			t.Errorf("%v: %v, want %s", c["name"], c["status"], want)
		}
	}
	if !strings.Contains(stderr, "2 of 12 checks failed") {
		t.Errorf("stderr %q does not count the failures", stderr)
	}
	for _, secret := range []string{pgPass, surPass} {
		if strings.Contains(stdout+stderr, secret) {
			t.Errorf("the output contains a password:\n%s\n%s", stdout, stderr)
		}
	}
}

func TestDoctorTestStack(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	pg, sur := env.NewPostgresDB(t), env.NewSurreal(t)
	args := []string{
		"--set", "postgres.host=" + pg.Host,
		"--set", "postgres.port=" + strconv.Itoa(pg.Port),
		"--set", "postgres.database=" + pg.Database,
		"--set", "postgres.user=" + pg.User,
		"--set", "postgres.password=" + pg.Password.Reveal(),
		"--set", "postgres.sslmode=" + pg.SSLMode,
		"--set", "surreal.url=" + sur.URL,
		"--set", "surreal.namespace=" + sur.Namespace,
		"--set", "surreal.database=" + sur.Database,
		"--set", "surreal.username=" + sur.Username,
		"--set", "surreal.password=" + sur.Password.Reveal(),
	}
	code, stdout, stderr := runDoctor(t, append([]string{"--json"}, args...)...)
	if code != cli.ExitOK {
		t.Fatalf("exit code %d; stderr: %s\nstdout: %s", code, stderr, stdout)
	}
	d := decodeDoctor(t, stdout)
	if !*d.OK {
		t.Error("ok is false")
	}
	for _, c := range d.Checks {
		if c["status"] != "ok" {
			t.Errorf("%v: %v: %v", c["name"], c["status"], c["detail"])
		}
	}

	code, stdout, stderr = runDoctor(t, args...)
	if code != cli.ExitOK {
		t.Fatalf("text: exit code %d; stderr: %s", code, stderr)
	}
	if !strings.HasPrefix(stdout, "STATUS") || !strings.Contains(stdout, "12 checks: 12 ok, 0 failed, 0 skipped") {
		t.Errorf("text output:\n%s", stdout)
	}
}

func TestDoctorUsage(t *testing.T) {
	t.Parallel()
	if code, _, stderr := runDoctor(t, "extra"); code != cli.ExitUsage {
		t.Errorf("exit code %d, want %d; stderr: %s", code, cli.ExitUsage, stderr)
	}
	if code, _, stderr := runDoctor(t, "--set", "postgres.port=notanumber"); code != cli.ExitUsage {
		t.Errorf("exit code %d, want %d; stderr: %s", code, cli.ExitUsage, stderr)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
