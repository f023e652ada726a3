package pgwire

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestAuthentication(t *testing.T) {
	t.Parallel()
	for _, auth := range []string{AuthSCRAM, AuthCleartext} {
		t.Run(auth, func(t *testing.T) {
			t.Parallel()
			h := startServer(t, func(o *Options) { o.Auth = auth }, nil)
			ctx := context.Background()
			cases := []struct {
				name, user, password, code string
			}{
				{"right password", testUser, testPassword, ""},
				{"wrong password", testUser, "nope", "28P01"},
				{"empty password", testUser, "", "28P01"},
				{"password differing in case", testUser, strings.ToUpper(testPassword), "28P01"},
				{"wrong user", "mallory", testPassword, "28P01"},
			}
			for _, c := range cases {
				cfg, err := pgx.ParseConfig(h.dsn(""))
				if err != nil {
					t.Fatal(err)
				}
				cfg.User, cfg.Password = c.user, c.password
				conn, err := pgx.ConnectConfig(ctx, cfg)
				if c.code == "" {
					if err != nil {
						t.Fatalf("%s: %v", c.name, err)
					}
					var one int
					if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
						t.Fatalf("%s: %v", c.name, err)
					}
					conn.Close(ctx)
					continue
				}
				if err == nil {
					conn.Close(ctx)
					t.Fatalf("%s: connected", c.name)
				}
				var pe *pgconn.PgError
				if !errors.As(err, &pe) || pe.Code != c.code || pe.Severity != "FATAL" {
					t.Fatalf("%s: %v, want FATAL %s", c.name, err, c.code)
				}
				if want := `password authentication failed for user "` + c.user + `"`; pe.Message != want {
					t.Errorf("%s: message %q, want %q", c.name, pe.Message, want)
				}
				if strings.Contains(err.Error(), testPassword) {
					t.Errorf("%s: the error shows the password: %v", c.name, err)
				}
			}
		})
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key as PEM files.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "pgsurreal test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestTLS(t *testing.T) {
	t.Parallel()
	certFile, keyFile := selfSigned(t)
	for _, auth := range []string{AuthSCRAM, AuthCleartext} {
		t.Run(auth, func(t *testing.T) {
			t.Parallel()
			h := startServer(t, func(o *Options) { o.Auth, o.TLSCert, o.TLSKey = auth, certFile, keyFile }, nil)
			ctx := context.Background()
			dsn := strings.Replace(h.dsn(""), "sslmode=disable", "sslmode=require", 1)
			c, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Fatalf("sslmode=require: %v", err)
			}
			defer c.Close(ctx)
			if _, ok := c.PgConn().Conn().(*tls.Conn); !ok {
				t.Fatalf("connection is %T, not TLS", c.PgConn().Conn())
			}
			var got string
			if err := c.QueryRow(ctx, "SELECT $1::text || '!'", "tls").Scan(&got); err != nil || got != "tls!" {
				t.Fatalf("query over TLS: %q %v", got, err)
			}
			// TLS stays optional.
			plain := h.connect(t, "")
			if _, ok := plain.PgConn().Conn().(*tls.Conn); ok {
				t.Fatal("sslmode=disable got TLS")
			}
			// A wrong password over TLS is still refused.
			bad := strings.Replace(dsn, "password="+testPassword, "password=wrong", 1)
			if _, err := pgx.Connect(ctx, bad); err == nil || !strings.Contains(err.Error(), "28P01") {
				t.Fatalf("wrong password over TLS: %v", err)
			}
		})
	}
	t.Run("no certificate", func(t *testing.T) {
		t.Parallel()
		h := startServer(t, nil, nil)
		dsn := strings.Replace(h.dsn(""), "sslmode=disable", "sslmode=require", 1)
		if _, err := pgx.Connect(context.Background(), dsn); err == nil || !strings.Contains(err.Error(), "refused TLS") {
			t.Fatalf("sslmode=require without a certificate: %v", err)
		}
	})
}

func TestListenErrors(t *testing.T) {
	t.Parallel()
	base := Options{Listen: "127.0.0.1:0", User: testUser, Password: testPassword}
	s, err := Listen(base)
	if err != nil {
		t.Fatal(err)
	}
	defer s.ln.Close()
	cases := []struct {
		name   string
		tweak  func(*Options)
		substr string
	}{
		{"address in use", func(o *Options) { o.Listen = s.Addr().String() }, "cannot listen on " + s.Addr().String()},
		{"no password", func(o *Options) { o.Password = "" }, "federation.password"},
		{"unknown auth", func(o *Options) { o.Auth = "md5" }, "federation.auth"},
		{"half TLS", func(o *Options) { o.TLSCert = "x.pem" }, "tls_key"},
		{"missing TLS files", func(o *Options) { o.TLSCert, o.TLSKey = "/nonexistent/c.pem", "/nonexistent/k.pem" }, "/nonexistent/c.pem"},
	}
	for _, c := range cases {
		o := base
		c.tweak(&o)
		s2, err := Listen(o)
		if err == nil {
			s2.ln.Close()
			t.Fatalf("%s: no error", c.name)
		}
		if !strings.Contains(err.Error(), c.substr) || strings.Contains(err.Error(), testPassword) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func TestStartupDetails(t *testing.T) {
	t.Parallel()
	h := startServer(t, nil, nil)
	ctx := context.Background()
	// A client asking for protocol 3.2 is answered in 3.0.
	c := h.connect(t, "max_protocol_version=3.2 application_name=wire_test")
	var app, db string
	if err := c.QueryRow(ctx, "SELECT current_setting('application_name'), current_database()").Scan(&app, &db); err != nil {
		t.Fatal(err)
	}
	// The startup packet's application_name reaches PostgreSQL; its
	// database is ignored for the configured one.
	if app != "wire_test" || db != h.pgcfg.Database {
		t.Errorf("application_name %q, database %q", app, db)
	}
	for _, k := range []string{"server_version", "client_encoding", "DateStyle", "TimeZone", "integer_datetimes", "standard_conforming_strings"} {
		if c.PgConn().ParameterStatus(k) == "" {
			t.Errorf("no ParameterStatus %s", k)
		}
	}
	if c.PgConn().PID() == 0 || len(c.PgConn().SecretKey()) != 4 {
		t.Errorf("key data %d %x", c.PgConn().PID(), c.PgConn().SecretKey())
	}
	// A bad setting in the startup packet fails as in PostgreSQL.
	if _, err := pgx.Connect(ctx, h.dsn("DateStyle=nonsense")); err == nil {
		t.Error("connected with DateStyle=nonsense")
	}
	if got := metricValue(t, h.srv.m.conns); got < 1 {
		t.Errorf("connections gauge %v with a client connected", got)
	}
	c.Close(ctx)
	waitFor(t, "the connections gauge to drop to 0", func() bool { return metricValue(t, h.srv.m.conns) == 0 })
}
