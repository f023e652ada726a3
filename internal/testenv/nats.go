package testenv

import (
	"net"
	"net/url"
	"os"
	"testing"
	"time"
)

// NATSURL returns the NATS server with JetStream that tests publish to:
// PGSURREAL_TEST_NATS_URL, or nats://127.0.0.1:4222, where these machines
// run one (no auth). It fails the test, naming the variable, when nothing
// answers there. Each test makes streams of its own and deletes them.
func NATSURL(t testing.TB) string {
	t.Helper()
	raw := os.Getenv("PGSURREAL_TEST_NATS_URL")
	if raw == "" {
		raw = "nats://127.0.0.1:4222"
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		t.Fatalf("PGSURREAL_TEST_NATS_URL=%q is not a URL such as nats://127.0.0.1:4222", raw)
	}
	c, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		t.Fatalf("no NATS server at %s (%v): start nats-server -js there, or set PGSURREAL_TEST_NATS_URL", u.Host, err)
	}
	_ = c.Close()
	return raw
}
