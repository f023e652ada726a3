package pgwire

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// psqlBinary finds psql on PATH or in the PostgreSQL 15 install.
func psqlBinary(t *testing.T) string {
	if p, err := exec.LookPath("psql"); err == nil {
		return p
	}
	const p = "/usr/lib/postgresql/15/bin/psql"
	if _, err := os.Stat(p); err == nil {
		return p
	}
	t.Skip("psql is not installed")
	return ""
}

// psql runs psql -X with dsn and the password in PGPASSWORD.
func psql(t *testing.T, bin, dsn, password string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-X", "-d", dsn}, args...)...)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+password, "PGCONNECT_TIMEOUT=10", "LC_ALL=C.UTF-8", "PAGER=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			t.Fatalf("running psql: %v", err)
		}
	}
	return out.String(), errb.String(), code
}

func TestPsql(t *testing.T) {
	t.Parallel()
	bin := psqlBinary(t)
	certFile, keyFile := selfSigned(t)
	h := startServer(t, func(o *Options) { o.TLSCert, o.TLSKey = certFile, keyFile }, nil)
	h.exec(t, "CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(8,2))",
		"INSERT INTO items VALUES (1, 'apple', 0.5), (2, 'pear ünïcode', 12), (3, NULL, NULL)")
	host, port, _ := strings.Cut(h.srv.Addr().String(), ":")
	via := "host=" + host + " port=" + port + " user=" + testUser + " dbname=anything sslmode=disable"
	direct := h.pgcfg.ConnString()
	queries := [][]string{
		{"-c", "select 1"},
		{"-c", "select id, name, price, price * 2 as double from items order by id"},
		{"-c", "select 1 as a; select 'x' as b"},
		{"-A", "-t", "-c", "select string_agg(name, '|' order by id) from items"},
		{"-c", "select 1/0"},
		{"-c", "select * from items wher id = 1"},
		{"-c", "select * from missing_table"},
		{"-v", "ON_ERROR_STOP=1", "-c", "begin", "-c", "insert into items values (4, 'kiwi', 1)", "-c", "select count(*) from items", "-c", "rollback"},
	}
	for _, q := range queries {
		wantOut, wantErr, wantCode := psql(t, bin, direct, h.pgcfg.Password.Reveal(), q...)
		for _, mode := range []string{"sslmode=disable", "sslmode=require"} {
			dsn := strings.Replace(via, "sslmode=disable", mode, 1)
			out, errOut, code := psql(t, bin, dsn, testPassword, q...)
			if out != wantOut || errOut != wantErr || code != wantCode {
				t.Errorf("psql %s %q:\n got %d %q %q\nwant %d %q %q", mode, q, code, out, errOut, wantCode, wantOut, wantErr)
			}
		}
	}
	_, errOut, code := psql(t, bin, via, "wrong", "-c", "select 1")
	if code == 0 || !strings.Contains(errOut, `password authentication failed for user "tester"`) {
		t.Errorf("psql with a wrong password: %d %q", code, errOut)
	}
}
