package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgsurreal/pgsurreal/internal/cli"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Main(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		code, out, _ := run(t, args...)
		if code != cli.ExitOK || !strings.HasPrefix(out, "pgsurreal ") {
			t.Errorf("%v: code %d, out %q", args, code, out)
		}
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("postgres:\n  port: lots\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unknown := filepath.Join(dir, "unknown.yaml")
	if err := os.WriteFile(unknown, []byte("postgress:\n  port: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"no-such-command"}, `unknown command "no-such-command"`},
		{[]string{"version", "--no-such-flag"}, "unknown flag: --no-such-flag"},
		{[]string{"version", "extra"}, "takes 0 argument(s)"},
		{[]string{"config", "check", "--config", bad}, bad + `:2: postgres.port: "lots" is not an integer`},
		{[]string{"config", "check", "--config", unknown}, `unknown key "postgress"`},
		{[]string{"config", "check", "--config", filepath.Join(dir, "missing.yaml")}, "missing.yaml"},
		{[]string{"config", "check", "--set", "postgres.sslmode=sometimes"}, `postgres.sslmode: "sometimes" is not one of`},
		{[]string{"config", "check", "--log-level", "loud"}, "log.level"},
	}
	for _, c := range cases {
		code, _, errOut := run(t, c.args...)
		if code != cli.ExitUsage {
			t.Errorf("%v: exit code %d, want %d (stderr %q)", c.args, code, cli.ExitUsage, errOut)
		}
		if !strings.Contains(errOut, c.want) {
			t.Errorf("%v: stderr %q does not contain %q", c.args, errOut, c.want)
		}
	}
}

func TestConfigCheckRedactsSecrets(t *testing.T) {
	const secret = "hunter2-very-secret"
	code, out, errOut := run(t, "config", "check", "--set", "postgres.password="+secret, "--set", "surreal.password="+secret, "--set", "http.token="+secret)
	if code != cli.ExitOK {
		t.Fatalf("code %d: %s", code, errOut)
	}
	code2, outJSON, _ := run(t, "config", "check", "--json", "--set", "postgres.password="+secret,
		"--set", "publish.nats_url=nats://app:"+secret+"@127.0.0.1:4222", "--set", "federation.cache.redis=redis://:"+secret+"@127.0.0.1:6379/0")
	if code2 != cli.ExitOK {
		t.Fatalf("json: code %d", code2)
	}
	for _, s := range []string{out, errOut, outJSON} {
		if strings.Contains(s, secret) {
			t.Fatalf("secret printed: %s", s)
		}
	}
	if !strings.Contains(out, "[redacted]") {
		t.Fatalf("expected [redacted] in %q", out)
	}
	if !strings.Contains(outJSON, "nats://app:xxxxx@127.0.0.1:4222") {
		t.Errorf("the NATS URL is not shown redacted: %s", outJSON)
	}
}

func TestRuntimeFailureExit1(t *testing.T) {
	// A dev stack whose PostgreSQL programs do not exist is a runtime failure.
	dir := t.TempDir()
	code, _, errOut := run(t, "dev", "up", "--set", "dev.dir="+dir, "--set", "dev.pg_bin_dir="+dir)
	if code != cli.ExitFailure || !strings.Contains(errOut, "dev.pg_bin_dir") {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
}
