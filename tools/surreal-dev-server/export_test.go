package devserver_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	surrealdb "github.com/surrealdb/surrealdb.go"
	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/pgsurreal/pgsurreal/internal/backup/backuptest"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	backuptest.Stop()
	os.Exit(code)
}

// exportEnv is the test environment with a dev server that serves
// /export and /import (see backuptest), and that server's HTTP base URL.
func exportEnv(t *testing.T) (*testenv.Env, string) {
	t.Helper()
	e := backuptest.Env(t)
	u, err := url.Parse(e.Surreal.URL)
	if err != nil {
		t.Fatal(err)
	}
	return e, "http://" + u.Host
}

// call makes an HTTP request; headers are name, value pairs.
func call(t *testing.T, method, rawURL, user, pass, body string, headers ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func TestExportImportAuthentication(t *testing.T) {
	t.Parallel()
	e, base := exportEnv(t)
	cfg := e.NewSurreal(t)
	pass := cfg.Password.Reveal()
	scope := []string{"Surreal-NS", cfg.Namespace, "Surreal-DB", cfg.Database}
	for _, c := range []struct {
		name, method, path, user, pass string
		want                           int
	}{
		{"export without credentials", http.MethodGet, "/export", "", "", http.StatusUnauthorized},
		{"export with a wrong password", http.MethodGet, "/export", cfg.Username, "wrong", http.StatusUnauthorized},
		{"export as an unknown user", http.MethodGet, "/export", "nobody", pass, http.StatusUnauthorized},
		{"import without credentials", http.MethodPost, "/import", "", "", http.StatusUnauthorized},
		{"import with a wrong password", http.MethodPost, "/import", cfg.Username, "wrong", http.StatusUnauthorized},
		{"export", http.MethodGet, "/export", cfg.Username, pass, http.StatusOK},
	} {
		code, hdr, body := call(t, c.method, base+c.path, c.user, c.pass, "CREATE intruder:1", scope...)
		if code != c.want {
			t.Errorf("%s: HTTP %d (%s), want %d", c.name, code, body, c.want)
		}
		if code == http.StatusUnauthorized && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("%s: 401 without a WWW-Authenticate: Basic header", c.name)
		}
	}
	// Nothing was imported by the refused requests.
	_, _, out := call(t, http.MethodGet, base+"/export", cfg.Username, pass, "", scope...)
	if strings.Contains(out, "intruder") {
		t.Fatalf("a refused import wrote: %s", out)
	}
	// The namespace and database are required.
	if code, _, body := call(t, http.MethodGet, base+"/export", cfg.Username, pass, "", "Surreal-NS", cfg.Namespace); code != http.StatusBadRequest || !strings.Contains(body, "Surreal-DB") {
		t.Fatalf("export without a database: HTTP %d %s, want 400 naming Surreal-DB", code, body)
	}
}

// richData writes values of every kind an export must carry exactly.
const richData = `
DEFINE TABLE item SCHEMAFULL;
DEFINE FIELD price ON item TYPE decimal;
DEFINE FIELD at ON item TYPE option<datetime>;
DEFINE INDEX item_price ON item FIELDS price;
DEFINE TABLE knows TYPE RELATION IN person OUT person;
DEFINE TABLE person SCHEMALESS CHANGEFEED 1h;
CREATE item:1 SET price = <decimal> '12.50', at = d'2024-01-02T03:04:05.123456789Z';
CREATE item:2 SET price = 79228162514264337593543950335dec;
CREATE person:1 SET name = "it's \"quoted\" ⟨x⟩ ` + "`y`" + ` \n ü 😀 -- TABLE DATA: x", dur = 1h30m5s7ns,
  link = item:1, links = [item:1, person:2], arr = [1, 'x', { a: 1 }, [], {}], obj = { x: { y: [1, 2] }, "a b": 1 },
  b = <bytes> 'hello', u = u'0190e3e0-0000-7000-8000-000000000000', nothing = NULL, gone = NONE, f = 1.0,
  nan = <float> 'NaN', inf = <float> 'Infinity', big = 9223372036854775807, g = (1.5, -2.25), rng = 1..5;
CREATE person:2 SET name = 'b';
CREATE person:['a', 2] SET name = 'array id';
CREATE person:{ k: 1 } SET name = 'object id';
CREATE person:⟨with space⟩ SET name = 'spaced id';
RELATE person:1->likes->item:1 SET since = 2020;
RELATE person:1->knows->person:2 SET id = knows:k1, w = 0.5;
`

func TestExportImportRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, base := exportEnv(t)
	src, cl := e.NewSurrealClient(t)
	if _, err := surrealdb.Query[any](ctx, cl.DB, richData, nil); err != nil {
		t.Fatal(err)
	}
	pass := src.Password.Reveal()
	code, hdr, exported := call(t, http.MethodGet, base+"/export", src.Username, pass, "", "Surreal-NS", src.Namespace, "Surreal-DB", src.Database)
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /export: HTTP %d %s %.300s", code, hdr.Get("Content-Type"), exported)
	}
	for _, want := range []string{"DEFINE TABLE item", "DEFINE INDEX item_price", "INSERT RELATION", "12.5dec", "CHANGEFEED 1h"} {
		if !strings.Contains(exported, want) {
			t.Fatalf("the export lacks %q:\n%s", want, exported)
		}
	}
	// Import into another namespace, with the lowercase header names.
	dst := e.NewSurreal(t)
	code, _, body := call(t, http.MethodPost, base+"/import", src.Username, pass, exported, "surreal-ns", dst.Namespace, "surreal-db", dst.Database)
	if code != http.StatusOK {
		t.Fatalf("POST /import: HTTP %d %s", code, body)
	}
	var statuses []struct{ Status string }
	if err := json.Unmarshal([]byte(body), &statuses); err != nil || len(statuses) < 10 {
		t.Fatalf("POST /import answered %s (%v), want the status of each statement", body, err)
	}
	// The copy exports exactly as the original: definitions, every
	// record, every value and type, edges with their ids.
	_, _, again := call(t, http.MethodGet, base+"/export", src.Username, pass, "", "Surreal-NS", dst.Namespace, "Surreal-DB", dst.Database)
	if again != exported {
		t.Fatalf("the imported copy exports differently:\n--- original\n%s\n--- copy\n%s", exported, again)
	}
	// And reads back with its types through the SDK.
	dcl, err := surreal.Connect(ctx, dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dcl.Close(ctx)
	res, err := surrealdb.Query[[]map[string]any](ctx, dcl.DB, "SELECT price, at FROM item:1; SELECT *, ->likes->item AS liked, ->knows->person AS knows FROM person:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	item := (*res)[0].Result[0]
	if p, ok := item["price"].(models.DecimalString); !ok || p != "12.5" {
		t.Fatalf("item:1 price = %#v, want the decimal 12.5", item["price"])
	}
	if at, ok := item["at"].(models.CustomDateTime); !ok || at.Nanosecond() != 123456789 {
		t.Fatalf("item:1 at = %#v, want a datetime with nanoseconds", item["at"])
	}
	p := (*res)[1].Result[0]
	for field, table := range map[string]string{"liked": "item", "knows": "person"} {
		ids, _ := p[field].([]any)
		if id, ok := first(ids).(models.RecordID); len(ids) != 1 || !ok || id.Table != table {
			t.Fatalf("person:1's %s = %#v, want one %s record through the edge", field, p[field], table)
		}
	}
	if _, ok := p["gone"]; ok {
		t.Fatalf("a NONE field came back as %#v", p["gone"])
	}
	if v, ok := p["nothing"]; !ok || v != nil {
		t.Fatalf("a NULL field came back as %#v (present %v)", v, ok)
	}
}

func first(s []any) any {
	if len(s) == 0 {
		return nil
	}
	return s[0]
}

func TestImportReportsFailedStatements(t *testing.T) {
	t.Parallel()
	e, base := exportEnv(t)
	cfg := e.NewSurreal(t)
	code, _, body := call(t, http.MethodPost, base+"/import", cfg.Username, cfg.Password.Reveal(), "CREATE x:1; CREATE x:1; CREATE x:2;",
		"Surreal-NS", cfg.Namespace, "Surreal-DB", cfg.Database)
	var statuses []struct {
		Status string
		Result string
	}
	if err := json.Unmarshal([]byte(body), &statuses); err != nil {
		t.Fatalf("POST /import answered %s: %v", body, err)
	}
	if code != http.StatusBadRequest || len(statuses) != 3 || statuses[0].Status != "OK" || statuses[1].Status != "ERR" ||
		!strings.Contains(statuses[1].Result, "already exists") || statuses[2].Status != "OK" {
		t.Fatalf("an import with a failing statement: HTTP %d %s; want 400 naming the second statement", code, body)
	}
	// A statement that does not parse fails the whole import.
	code, _, body = call(t, http.MethodPost, base+"/import", cfg.Username, cfg.Password.Reveal(), "CREATE y:1; SELEC FROM;",
		"Surreal-NS", cfg.Namespace, "Surreal-DB", cfg.Database)
	if code != http.StatusBadRequest || !strings.Contains(body, "Parse error") {
		t.Fatalf("an import that does not parse: HTTP %d %s", code, body)
	}
	_, _, out := call(t, http.MethodGet, base+"/export", cfg.Username, cfg.Password.Reveal(), "", "Surreal-NS", cfg.Namespace, "Surreal-DB", cfg.Database)
	if strings.Contains(out, "y:1") || !strings.Contains(out, "x:2") {
		t.Fatalf("after the imports the database exports:\n%s", out)
	}
}

func TestExportOptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, base := exportEnv(t)
	cfg, cl := e.NewSurrealClient(t)
	if _, err := surrealdb.Query[any](ctx, cl.DB, "CREATE a:1 SET v = 1", nil); err != nil {
		t.Fatal(err)
	}
	scope := []string{"Surreal-NS", cfg.Namespace, "Surreal-DB", cfg.Database, "Content-Type", "application/json"}
	code, _, body := call(t, http.MethodPost, base+"/export", cfg.Username, cfg.Password.Reveal(), `{"records": false}`, scope...)
	if code != http.StatusOK || !strings.Contains(body, "DEFINE TABLE a") || strings.Contains(body, "INSERT") {
		t.Fatalf("POST /export {records: false}: HTTP %d\n%s", code, body)
	}
	if code, _, body := call(t, http.MethodPost, base+"/export", cfg.Username, cfg.Password.Reveal(), `{records`, scope...); code != http.StatusBadRequest {
		t.Fatalf("POST /export with broken JSON: HTTP %d %s, want 400", code, body)
	}
}
