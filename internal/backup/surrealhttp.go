package backup

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// surrealHTTP calls SurrealDB's HTTP endpoints GET /export and POST
// /import on the server surreal.url names (ws -> http, wss -> https, the
// path's /rpc replaced), as the root user with HTTP Basic auth.
type surrealHTTP struct {
	cfg    config.Surreal
	base   url.URL
	client *http.Client
}

func newSurrealHTTP(cfg config.Surreal) (*surrealHTTP, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("surreal.url %q is not a URL such as ws://127.0.0.1:8000/rpc", surreal.Redact(cfg.URL))
	}
	switch u.Scheme {
	case "ws", "http":
		u.Scheme = "http"
	case "wss", "https":
		u.Scheme = "https"
	default:
		return nil, fmt.Errorf("surreal.url %q: backups need a ws://, wss://, http:// or https:// server (SurrealDB's HTTP /export and /import)", surreal.Redact(cfg.URL))
	}
	u.User = nil
	u.RawQuery, u.Fragment = "", ""
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/rpc")
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("surreal.ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("surreal.ca_file %s holds no PEM certificate", cfg.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &surrealHTTP{cfg: cfg, base: *u, client: &http.Client{Transport: tr}}, nil
}

func (s *surrealHTTP) endpoint(path string) string {
	u := s.base
	u.Path += path
	return u.String()
}

func (s *surrealHTTP) request(ctx context.Context, method, path, ns, db string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.endpoint(path), body)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(s.cfg.Username, s.cfg.Password.Reveal())
	req.Header.Set("Surreal-NS", ns)
	req.Header.Set("Surreal-DB", db)
	return req, nil
}

// export writes the SurrealQL export of namespace ns, database db to w
// and returns its size.
func (s *surrealHTTP) export(ctx context.Context, ns, db string, w io.Writer) (int64, error) {
	req, err := s.request(ctx, http.MethodGet, "/export", ns, db, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "text/plain")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("exporting SurrealDB namespace %q database %q: %s", ns, db, surreal.Explain(s.cfg, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, s.refused(resp, "export", ns, db)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("exporting SurrealDB namespace %q database %q: the export broke off after %d bytes: %w", ns, db, n, err)
	}
	return n, nil
}

// importFile runs the SurrealQL file path in namespace ns, database db.
// It fails if any statement failed, naming the first one.
func (s *surrealHTTP) importFile(ctx context.Context, ns, db, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	req, err := s.request(ctx, http.MethodPost, "/import", ns, db, f)
	if err != nil {
		return err
	}
	req.ContentLength = st.Size()
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("importing %s into SurrealDB namespace %q database %q: %s", path, ns, db, surreal.Explain(s.cfg, err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	var results []struct {
		Status string `json:"status"`
		Result any    `json:"result"`
	}
	_ = json.Unmarshal(body, &results)
	for i, r := range results {
		if r.Status != "" && r.Status != "OK" {
			return fmt.Errorf("importing %s into SurrealDB namespace %q database %q: statement %d of %d failed: %s", path, ns, db, i+1, len(results), oneLine(fmt.Sprint(r.Result)))
		}
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body = io.NopCloser(strings.NewReader(string(body)))
		return s.refused(resp, "import", ns, db)
	}
	return nil
}

// refused explains a response other than 200 OK.
func (s *surrealHTTP) refused(resp *http.Response, what, ns, db string) error {
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	detail := strings.TrimSpace(string(msg))
	var e struct {
		Details     string `json:"details"`
		Information string `json:"information"`
	}
	if json.Unmarshal(msg, &e) == nil && e.Details != "" {
		detail = e.Details
		if e.Information != "" {
			detail += ": " + e.Information
		}
	}
	where := fmt.Sprintf("SurrealDB at %s", s.endpoint("/"+what))
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("%s refused the credentials of user %q (HTTP %d): the %s needs a root user; set surreal.username and surreal.password", where, s.cfg.Username, resp.StatusCode, what)
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return fmt.Errorf("%s does not offer /%s (HTTP %d): backups need SurrealDB's HTTP export and import; for the dev server, restart it (`pgsurreal dev down`, `pgsurreal dev up`) to run the current one", where, what, resp.StatusCode)
	case http.StatusRequestEntityTooLarge:
		return fmt.Errorf("%s refused the %s of namespace %q database %q as too large (HTTP 413): raise the server's request size limit", where, what, ns, db)
	}
	return fmt.Errorf("%s failed for namespace %q database %q (HTTP %d): %s", where, ns, db, resp.StatusCode, oneLine(detail))
}

// oneLine folds a message SurrealDB spreads over lines (a parse error
// draws the statement with a caret) into one.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
