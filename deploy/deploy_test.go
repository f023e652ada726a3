// Package deploy_test checks the monitoring files under deploy/ against the
// code: the Grafana dashboard is well formed, and every metric the
// dashboard and the Prometheus rules name is one the code exports, so a
// renamed or removed metric fails here instead of leaving an empty panel
// or an alert that can never fire. promtool checks the rules themselves
// (make check-alerts).
package deploy_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/pgsurreal/pgsurreal/internal/alert"
)

const (
	dashboardFile = "grafana/pgsurreal.json"
	rulesFile     = "prometheus/alerts.yml"
	dsVariable    = "${DS_PROMETHEUS}"
)

// The alerts alerts.yml must define. All but PgsurrealDown (the daemon
// cannot see itself down) are also evaluated by internal/alert.
var wantAlerts = []string{
	"PgsurrealSyncStopped", "PgsurrealReplicationLagHigh", "PgsurrealSlotRetainedWALHigh",
	"PgsurrealDatabaseDown", "PgsurrealDiskUsageHigh", "PgsurrealSlowQueries",
	"PgsurrealErrorRateHigh", "PgsurrealTransactionInDoubt", "PgsurrealDriftFound",
	"PgsurrealMaintenanceFailed", "PgsurrealMaintenanceTooOld", "PgsurrealDown",
}

// The dashboard's rows, in order.
var wantRows = []string{
	"Replication PostgreSQL -> SurrealDB", "Replication SurrealDB -> PostgreSQL", "Federation",
	"Transactions", "Maintenance", "Database health",
}

// externalMetrics are metrics pgsurreal does not name itself, with what
// must be in the code for them to exist.
var externalMetrics = map[string]string{
	"up":                         "", // Prometheus sets it for every target.
	"process_start_time_seconds": "collectors.NewProcessCollector",
}

type panel struct {
	ID         int         `json:"id"`
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Datasource *datasource `json:"datasource"`
	GridPos    *gridPos    `json:"gridPos"`
	Targets    []target    `json:"targets"`
	Panels     []panel     `json:"panels"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type gridPos struct {
	H, W, X, Y int
}

type target struct {
	RefID      string      `json:"refId"`
	Expr       string      `json:"expr"`
	Datasource *datasource `json:"datasource"`
}

type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Definition string          `json:"definition"`
			Datasource *datasource     `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s is not valid JSON: %v", dashboardFile, err)
	}
	return d
}

func loadRules(t *testing.T) ruleFile {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var r ruleFile
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	return r
}

// queryPanels are the panels that show data: all but rows, flattened out
// of collapsed rows.
func queryPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		if p.Type == "row" {
			out = append(out, queryPanels(p.Panels)...)
			continue
		}
		out = append(out, p)
	}
	return out
}

func TestDashboardWellFormed(t *testing.T) {
	t.Parallel()
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard needs a uid and a title: uid %q title %q", d.UID, d.Title)
	}
	if d.SchemaVersion < 36 {
		t.Errorf("schemaVersion %d: want 36 or later (Grafana 9+)", d.SchemaVersion)
	}
	var hasDS bool
	for _, v := range d.Templating.List {
		if v.Name == "DS_PROMETHEUS" && v.Type == "datasource" && string(v.Query) == `"prometheus"` {
			hasDS = true
		}
		if v.Type == "query" && (v.Datasource == nil || v.Datasource.UID != dsVariable) {
			t.Errorf("variable %s: datasource %+v, want uid %s", v.Name, v.Datasource, dsVariable)
		}
	}
	if !hasDS {
		t.Errorf("templating needs a Prometheus datasource variable named DS_PROMETHEUS")
	}

	var rows []string
	for _, p := range d.Panels {
		if p.Type == "row" {
			rows = append(rows, p.Title)
		}
	}
	for _, r := range wantRows {
		if !slices.Contains(rows, r) {
			t.Errorf("no row %q (rows: %q)", r, rows)
		}
	}

	ids := map[int]string{}
	all := queryPanels(d.Panels)
	if len(all) < 30 {
		t.Errorf("%d panels; the dashboard lost some", len(all))
	}
	for _, p := range all {
		name := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if prev, dup := ids[p.ID]; dup || p.ID == 0 {
			t.Errorf("%s: id missing or used twice (also %s)", name, prev)
		}
		ids[p.ID] = p.Title
		if p.Title == "" {
			t.Errorf("%s: no title", name)
		}
		if p.GridPos == nil || p.GridPos.W == 0 || p.GridPos.H == 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("%s: gridPos %+v", name, p.GridPos)
		}
		if p.Datasource == nil || p.Datasource.UID != dsVariable || p.Datasource.Type != "prometheus" {
			t.Errorf("%s: datasource %+v, want {prometheus %s}", name, p.Datasource, dsVariable)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: no targets", name)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" || tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("%s: target %+v has no expression, or no or a repeated refId", name, tg)
			}
			refs[tg.RefID] = true
			if tg.Datasource != nil && tg.Datasource.UID != dsVariable {
				t.Errorf("%s: target %s datasource %+v", name, tg.RefID, tg.Datasource)
			}
			if !strings.Contains(tg.Expr, `job=~"$job"`) || !strings.Contains(tg.Expr, `instance=~"$instance"`) {
				t.Errorf("%s: target %s does not filter by $job and $instance: %s", name, tg.RefID, tg.Expr)
			}
		}
	}
}

func TestAlertRules(t *testing.T) {
	t.Parallel()
	r := loadRules(t)
	var got []string
	for _, g := range r.Groups {
		for _, rule := range g.Rules {
			if rule.Alert == "" {
				continue
			}
			got = append(got, rule.Alert)
			sev := rule.Labels["severity"]
			if sev != "critical" && sev != "warning" && sev != "info" && !strings.Contains(sev, "{{") {
				t.Errorf("%s: severity %q, want critical, warning or info", rule.Alert, sev)
			}
			if rule.Annotations["summary"] == "" || rule.Annotations["description"] == "" {
				t.Errorf("%s: needs summary and description annotations", rule.Alert)
			}
			// The description names the fix: a command and a doc.
			if d := rule.Annotations["description"]; !strings.Contains(d, "docs/") || !strings.Contains(d, "`") {
				t.Errorf("%s: description should name the command and the doc that fix it: %q", rule.Alert, d)
			}
		}
	}
	for _, name := range wantAlerts {
		if !slices.Contains(got, name) {
			t.Errorf("alert %s missing from %s", name, rulesFile)
		}
	}
	// The daemon's own evaluator must not know an alert Prometheus does
	// not: both are documented as one set.
	for _, name := range alert.Names() {
		if !slices.Contains(got, name) {
			t.Errorf("internal/alert evaluates %s, which %s does not define", name, rulesFile)
		}
	}
	if len(got) != len(wantAlerts) {
		t.Errorf("alerts %q, want %q", got, wantAlerts)
	}
}

// TestMetricsExist fails when the dashboard or the rules name a metric that
// no Go source under internal/ defines.
func TestMetricsExist(t *testing.T) {
	t.Parallel()
	defined, sources := definedMetrics(t, "../internal")
	recorded := map[string]bool{}
	used := map[string][]string{} // metric -> where
	r := loadRules(t)
	for _, g := range r.Groups {
		for _, rule := range g.Rules {
			if rule.Record != "" {
				recorded[rule.Record] = true
			}
			where := rulesFile + " " + rule.Alert + rule.Record
			for _, m := range metricNames(rule.Expr) {
				used[m] = append(used[m], where)
			}
		}
	}
	d := loadDashboard(t)
	for _, p := range queryPanels(d.Panels) {
		for _, tg := range p.Targets {
			for _, m := range metricNames(tg.Expr) {
				used[m] = append(used[m], fmt.Sprintf("%s panel %q", dashboardFile, p.Title))
			}
		}
	}
	for _, v := range d.Templating.List {
		for _, m := range metricNames(v.Definition) {
			used[m] = append(used[m], fmt.Sprintf("%s variable %s", dashboardFile, v.Name))
		}
	}
	if len(used) < 40 {
		t.Fatalf("found only %d metric names in the dashboard and rules; is the extraction broken?", len(used))
	}

	var missing []string
	for m, where := range used {
		if recorded[m] || exists(m, defined) {
			continue
		}
		if need, ok := externalMetrics[m]; ok {
			if need == "" || strings.Contains(sources, need) {
				continue
			}
		}
		slices.Sort(where)
		missing = append(missing, fmt.Sprintf("%s (used by %s)", m, strings.Join(slices.Compact(where), "; ")))
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%d metrics are used by the dashboard or the alert rules but defined nowhere in internal/ (renamed? not built yet?):\n  %s",
			len(missing), strings.Join(missing, "\n  "))
	}
}

// exists reports whether m is a defined metric, or a series of a defined
// histogram or summary.
func exists(m string, defined map[string]bool) bool {
	if defined[m] {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(m, suffix); ok && defined[base] {
			return true
		}
	}
	return false
}

var (
	promString = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	promRange  = regexp.MustCompile(`\[[^\]]*\]`)
	promIdent  = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\{)?`)
)

// metricNames returns the metric names a PromQL expression selects:
// pgsurreal_* names, any name followed by a selector, and the process and
// Go collectors' names. Label values, durations and label names are not
// metric names.
func metricNames(expr string) []string {
	expr = promString.ReplaceAllString(expr, `""`)
	expr = promRange.ReplaceAllString(expr, "")
	// Label matchers: drop what is inside braces (label names).
	var b strings.Builder
	depth := 0
	for _, c := range expr {
		switch {
		case c == '{':
			depth++
			b.WriteRune(c)
		case c == '}':
			depth--
			b.WriteRune(c)
		case depth == 0:
			b.WriteRune(c)
		}
	}
	var out []string
	for _, m := range promIdent.FindAllString(b.String(), -1) {
		name := strings.TrimRight(strings.TrimSuffix(strings.TrimSpace(m), "{"), " \t\n")
		selector := strings.HasSuffix(strings.TrimSpace(m), "{")
		if strings.HasPrefix(name, "pgsurreal_") || strings.HasPrefix(name, "process_") || strings.HasPrefix(name, "go_") ||
			(selector && !strings.Contains(name, ":")) || name == "up" {
			out = append(out, name)
		}
	}
	return out
}

// definedMetrics collects the names metrics can have from the Go sources
// (not tests) under dir: every string literal, "prefix_" + literal
// concatenations within a file, and Namespace/Subsystem/Name options and
// prometheus.BuildFQName calls with literal arguments. It also returns the
// sources' text, for the external metrics' checks.
func definedMetrics(t *testing.T, dir string) (map[string]bool, string) {
	t.Helper()
	names := map[string]bool{}
	var all strings.Builder
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		all.Write(src)
		f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
		if err != nil {
			return fmt.Errorf("parsing %s: %w", path, err)
		}
		var lits, prefixes []string
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.BasicLit:
				if s, ok := stringLit(x); ok {
					lits = append(lits, s)
				}
			case *ast.BinaryExpr:
				if s, ok := stringLit(x.X); ok && x.Op == token.ADD && strings.HasSuffix(s, "_") {
					prefixes = append(prefixes, s)
				}
			case *ast.CompositeLit:
				parts := map[string]string{}
				for _, e := range x.Elts {
					if kv, ok := e.(*ast.KeyValueExpr); ok {
						if k, ok := kv.Key.(*ast.Ident); ok {
							if s, ok := stringLit(kv.Value); ok {
								parts[k.Name] = s
							}
						}
					}
				}
				if parts["Name"] != "" && (parts["Namespace"] != "" || parts["Subsystem"] != "") {
					names[fqName(parts["Namespace"], parts["Subsystem"], parts["Name"])] = true
				}
			case *ast.CallExpr:
				if sel, ok := x.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "BuildFQName" && len(x.Args) == 3 {
					var args [3]string
					for i, a := range x.Args {
						args[i], _ = stringLit(a)
					}
					names[fqName(args[0], args[1], args[2])] = true
				}
			}
			return true
		})
		for _, l := range lits {
			names[l] = true
			for _, p := range prefixes {
				names[p+l] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names, all.String()
}

func stringLit(e ast.Expr) (string, bool) {
	l, ok := e.(*ast.BasicLit)
	if !ok || l.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(l.Value)
	return s, err == nil
}

func fqName(ns, sub, name string) string {
	var parts []string
	for _, p := range []string{ns, sub, name} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "_")
}

func TestMetricNamesExtraction(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`pgsurreal_sync_lag_seconds > 60`, []string{"pgsurreal_sync_lag_seconds"}},
		{`label_replace(pgsurreal_sync_running == 0, "direction", "forward", "", "")`, []string{"pgsurreal_sync_running"}},
		{`histogram_quantile(0.99, sum by (route, le) (rate(pgsurreal_federation_query_seconds_bucket{job=~"$job", route="x_y"}[$__rate_interval])))`,
			[]string{"pgsurreal_federation_query_seconds_bucket"}},
		{`up{job="pgsurreal"} == 0`, []string{"up"}},
		{`time() - process_start_time_seconds unless on (instance, job, task) pgsurreal:api_requests:rate5m`, []string{"process_start_time_seconds"}},
		{`sum without (status) (node_filesystem_avail_bytes {mountpoint="/"})`, []string{"node_filesystem_avail_bytes"}},
		{`label_values(pgsurreal_api_requests_total{job=~"$job"}, instance)`, []string{"pgsurreal_api_requests_total"}},
	} {
		if got := metricNames(tc.expr); !slices.Equal(got, tc.want) {
			t.Errorf("metricNames(%q) = %q, want %q", tc.expr, got, tc.want)
		}
	}
	defined := map[string]bool{"pgsurreal_x_seconds": true}
	if !exists("pgsurreal_x_seconds_bucket", defined) || exists("pgsurreal_y_bucket", defined) {
		t.Error("histogram series do not map to their base name")
	}
}

// TestDashboardQueriesParse runs every dashboard query, with Grafana's
// variables filled in, through promtool's PromQL parser. It needs the
// promtool make check-alerts installs in ~/.cache/pgsurreal/bin (make test builds it first);
// without it the test is skipped.
func TestDashboardQueriesParse(t *testing.T) {
	t.Parallel()
	promtool := findPromtool()
	if promtool == "" {
		t.Skip("no promtool in ~/.cache/pgsurreal/bin (make check-alerts installs it)")
	}
	d := loadDashboard(t)
	repl := strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h", "$job", "pgsurreal", "$instance", ".*")
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	for _, p := range queryPanels(d.Panels) {
		for _, tg := range p.Targets {
			n++
			q, _ := json.Marshal(repl.Replace(tg.Expr))
			fmt.Fprintf(&rules, "      - record: dashboard:panel_%d_%s:query%d\n        expr: %s\n", p.ID, tg.RefID, n, q)
		}
	}
	file := filepath.Join(t.TempDir(), "dashboard_rules.yml")
	if err := os.WriteFile(file, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules on the dashboard's %d queries: %v\n%s", n, err, out)
	}
}

func findPromtool() string {
	if p := os.Getenv("PROMTOOL"); p != "" {
		return p
	}
	home, _ := os.UserHomeDir()
	matches, _ := filepath.Glob(filepath.Join(home, ".cache", "pgsurreal", "bin", "promtool-*"))
	sort.Strings(matches)
	for i := len(matches) - 1; i >= 0; i-- {
		if st, err := os.Stat(matches[i]); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			abs, err := filepath.Abs(matches[i])
			if err == nil {
				return abs
			}
		}
	}
	return ""
}
