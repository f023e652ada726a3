package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Validate checks c as a whole and reports every problem found, each an
// *Error naming the key, where its value came from (file:line, variable or
// --set) when Load recorded it, and how to fix it.
func (c Config) Validate() error {
	v := &validator{c: &c}

	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.oneOf("log.format", c.Log.Format, "text", "json")

	p := c.Postgres
	v.required("postgres.host", p.Host)
	v.intRange("postgres.port", p.Port, 1, 65535)
	v.required("postgres.user", p.User)
	v.required("postgres.database", p.Database)
	v.oneOf("postgres.sslmode", p.SSLMode, "disable", "allow", "prefer", "require", "verify-ca", "verify-full")
	v.fileExists("postgres.sslrootcert", p.SSLRootCert)
	v.intRange("postgres.max_conns", p.MaxConns, 1, 1000)
	v.positive("postgres.connect_timeout", p.ConnectTimeout)

	s := c.Surreal
	if v.required("surreal.url", s.URL) {
		v.surrealURL("surreal.url", s.URL)
	}
	v.required("surreal.namespace", s.Namespace)
	v.required("surreal.database", s.Database)
	v.required("surreal.username", s.Username)
	v.fileExists("surreal.ca_file", s.CAFile)
	v.intRange("surreal.pool_size", s.PoolSize, 1, 256)
	v.positive("surreal.timeout", s.Timeout)

	d := c.Dev
	v.required("dev.dir", d.Dir)
	v.intRange("dev.surreal_port", d.SurrealPort, 1, 65535)
	v.oneOf("dev.surreal_storage", d.SurrealStorage, "surrealkv", "mem")
	v.required("dev.node_bin", d.NodeBin)

	if v.required("http.listen", c.HTTP.Listen) {
		v.listenAddr("http.listen", c.HTTP.Listen)
	}
	return errors.Join(v.errs...)
}

// validator collects the problems Validate finds.
type validator struct {
	c    *Config
	errs []error
}

func (v *validator) fail(key, format string, args ...any) {
	v.errs = append(v.errs, &Error{Key: key, Source: v.c.sources[key], Msg: fmt.Sprintf(format, args...)})
}

// required reports whether val is set, failing if it is not.
func (v *validator) required(key, val string) bool {
	if strings.TrimSpace(val) != "" {
		return true
	}
	v.fail(key, "required, set it in the config file or %s", envName(key))
	return false
}

func (v *validator) oneOf(key, val string, allowed ...string) {
	if !slices.Contains(allowed, val) {
		v.fail(key, "%q is not one of %s", val, strings.Join(allowed, ", "))
	}
}

func (v *validator) intRange(key string, val, lo, hi int) {
	if val < lo || val > hi {
		v.fail(key, "%d is out of range, use %d..%d", val, lo, hi)
	}
}

func (v *validator) positive(key string, d Duration) {
	if d.Duration <= 0 {
		v.fail(key, "%q must be greater than zero, e.g. \"5s\"", d.String())
	}
}

// fileExists checks that path, when set, names a readable file. Relative
// paths are taken from the working directory, as the process will.
func (v *validator) fileExists(key, path string) {
	if path == "" {
		return
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		v.fail(key, "file %q does not exist, fix the path or remove the key", path)
	case err != nil:
		var pe *fs.PathError
		msg := err.Error()
		if errors.As(err, &pe) {
			msg = pe.Err.Error()
		}
		v.fail(key, "cannot use file %q: %s", path, msg)
	case fi.IsDir():
		v.fail(key, "%q is a directory, name the certificate file in it", path)
	}
}

// surrealURL checks that raw is a ws, wss, http or https URL with a host.
// Messages show the URL without any password it carries.
func (v *validator) surrealURL(key, raw string) {
	const example = "e.g. ws://127.0.0.1:8000/rpc"
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		msg := err.Error()
		if errors.As(err, &ue) {
			msg = ue.Err.Error()
		}
		v.fail(key, "not a URL (%s), %s", msg, example)
		return
	}
	switch u.Scheme {
	case "ws", "wss", "http", "https":
	case "":
		v.fail(key, "%q has no scheme, use ws:// or wss://, %s", u.Redacted(), example)
		return
	default:
		v.fail(key, "scheme %q is not one of ws, wss, http, https, %s", u.Scheme, example)
		return
	}
	if u.Hostname() == "" {
		v.fail(key, "%q has no host, %s", u.Redacted(), example)
	}
}

// listenAddr checks that addr is host:port with a port in 0..65535 (0 lets
// the kernel pick one, which tests use).
func (v *validator) listenAddr(key, addr string) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.fail(key, "%q is not host:port, e.g. 127.0.0.1:8080 or :8080", addr)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.fail(key, "port %q in %q is not a number in 0..65535", port, addr)
	}
}
