package config

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ConnString returns p as a libpq keyword/value connection string, which
// pgx and psql both accept:
//
//	host='127.0.0.1' port=54329 user='pgsurreal' password='…' dbname='pgsurreal' sslmode='prefer' connect_timeout=5
//
// String values are single-quoted with ' and \ escaped, so any value
// survives. An empty password is left out, letting ~/.pgpass or
// PGPASSWORD supply one. It contains the password: never log it; log
// Redacted instead.
func (p Postgres) ConnString() string {
	return p.dsn(quoteDSN(p.Password.Reveal()))
}

// Redacted returns ConnString with password=[redacted], for logs and
// error messages.
func (p Postgres) Redacted() string {
	return p.dsn(redacted)
}

// dsn builds the connection string around an already rendered password.
func (p Postgres) dsn(password string) string {
	var b strings.Builder
	kv := func(k, v string) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
	}
	kv("host", quoteDSN(p.Host))
	kv("port", strconv.Itoa(p.Port))
	kv("user", quoteDSN(p.User))
	if p.Password != "" {
		kv("password", password)
	}
	kv("dbname", quoteDSN(p.Database))
	kv("sslmode", quoteDSN(p.SSLMode))
	if p.SSLRootCert != "" {
		kv("sslrootcert", quoteDSN(p.SSLRootCert))
	}
	kv("connect_timeout", strconv.Itoa(timeoutSeconds(p.ConnectTimeout.Duration)))
	return b.String()
}

// quoteDSN quotes a libpq keyword/value value: single quotes around it,
// backslash before every ' and \.
func quoteDSN(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for _, r := range s {
		if r == '\'' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
	return b.String()
}

// timeoutSeconds rounds d up to whole seconds, at least one, because libpq
// counts connect_timeout in seconds and reads 0 as "wait forever".
func timeoutSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// Redacted describes s for logs and error messages, without the password
// (in the password key or in the URL):
//
//	url=ws://127.0.0.1:8000/rpc namespace=pgsurreal database=pgsurreal username=root password=[redacted] pool_size=4 timeout=30s
func (s Surreal) Redacted() string {
	u := "[unparsable]"
	if parsed, err := url.Parse(s.URL); err == nil {
		u = parsed.Redacted()
	}
	parts := []string{
		"url=" + u,
		"namespace=" + s.Namespace,
		"database=" + s.Database,
		"username=" + s.Username,
		"password=" + s.Password.String(),
	}
	if s.CAFile != "" {
		parts = append(parts, "ca_file="+s.CAFile)
	}
	parts = append(parts,
		"pool_size="+strconv.Itoa(s.PoolSize),
		"timeout="+s.Timeout.String())
	return strings.Join(parts, " ")
}
