package config

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
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
	v.servers(s.Servers)

	d := c.Dev
	v.required("dev.dir", d.Dir)
	v.intRange("dev.surreal_port", d.SurrealPort, 1, 65535)
	v.oneOf("dev.surreal_storage", d.SurrealStorage, "surrealkv", "rocksdb", "mem")
	v.required("dev.node_bin", d.NodeBin)

	if v.required("http.listen", c.HTTP.Listen) {
		v.listenAddr("http.listen", c.HTTP.Listen)
	}
	v.ha(c.HA)

	v.sync(c.Sync)
	v.reverse(c.Reverse)
	v.federation(c.Federation)
	v.maintenance(c.Verify, c.Backup)
	v.alerts(c.Alerts)
	v.publish(c.Publish)
	return errors.Join(v.errs...)
}

// ha checks the ha section: the margin must cover a deposed leader's
// detection (two check intervals) and the stop of its engines.
func (v *validator) ha(h HA) {
	v.positive("ha.check_interval", h.CheckInterval)
	if h.CheckInterval.Duration <= 0 {
		return
	}
	if least := 2*h.CheckInterval.Duration + 500*time.Millisecond; h.FencingMargin.Duration < least {
		v.fail("ha.fencing_margin", "%s is less than twice ha.check_interval (%s) plus 500ms for the engines to stop: set it to at least %s", h.FencingMargin, h.CheckInterval, least)
	}
}

// maintenance checks the verify and backup sections.
func (v *validator) maintenance(vf Verify, b Backup) {
	v.schedule("verify.schedule", vf.Schedule)
	v.intRange("verify.sample_percent", vf.SamplePercent, 1, 100)
	v.intRange("verify.chunk_rows", vf.ChunkRows, 10, 1000000)
	v.positive("verify.wait_timeout", vf.WaitTimeout)
	if v.schedule("backup.schedule", b.Schedule) && b.Schedule != "" && b.Dir == "" {
		v.fail("backup.schedule", "backup.schedule is set but backup.dir is empty: name the directory scheduled backups go to")
	}
	v.intRange("backup.keep", b.Keep, 0, 100000)
	if b.MaxAge.Duration < 0 {
		v.fail("backup.max_age", "must not be negative (0 means no age limit)")
	}
	v.intRange("backup.jobs", b.Jobs, 1, 64)
}

// alerts checks the alerts section.
func (v *validator) alerts(a Alerts) {
	for i, hook := range a.Webhooks {
		key := fmt.Sprintf("alerts.webhooks[%d]", i)
		if u, err := url.Parse(hook); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.fail(key, "%q is not an http(s) URL such as https://hooks.example.com/pgsurreal", RedactURL(hook))
		}
	}
	v.positive("alerts.evaluate_every", a.EvaluateEvery)
	if a.For.Duration < 0 {
		v.fail("alerts.for", "must not be negative (0 fires at the first evaluation)")
	}
	v.intRange("alerts.disk_usage_percent", a.DiskUsagePercent, 1, 100)
	v.positive("alerts.lag_threshold", a.LagThreshold)
	v.intRange("alerts.slot_retained_bytes", a.SlotRetainedBytes, 1, 1<<50)
	v.positive("alerts.in_doubt_age", a.InDoubtAge)
	v.intRange("alerts.error_rate_percent", a.ErrorRatePercent, 1, 100)
	v.positive("alerts.maintenance_max_age", a.MaintenanceMaxAge)
}

// publish checks the publish section; nats_url empty means off, but the
// other keys are still checked so a mistake shows before it is turned on.
func (v *validator) publish(p Publish) {
	for i, raw := range strings.Split(p.NATSURL, ",") {
		if p.NATSURL == "" {
			break
		}
		raw = strings.TrimSpace(raw)
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || !slices.Contains([]string{"nats", "tls", "ws", "wss"}, u.Scheme) {
			what := "publish.nats_url"
			if strings.Contains(p.NATSURL, ",") {
				what = fmt.Sprintf("server %d of publish.nats_url", i+1)
			}
			v.fail("publish.nats_url", "%s: %q is not a NATS URL such as nats://127.0.0.1:4222 (schemes nats, tls, ws, wss; several separated by commas)", what, RedactURL(raw))
		}
	}
	if v.required("publish.stream", p.Stream) && strings.ContainsAny(p.Stream, ".*> \t\n/\\") {
		v.fail("publish.stream", "%q is not a JetStream stream name: leave out '.', '*', '>', '/', '\\' and whitespace, e.g. PGSURREAL", p.Stream)
	}
	if v.required("publish.subject_prefix", p.SubjectPrefix) {
		for _, tok := range strings.Split(p.SubjectPrefix, ".") {
			if tok == "" || strings.ContainsAny(tok, "*> \t\n") {
				v.fail("publish.subject_prefix", "%q is not a subject prefix: dot-separated tokens without '*', '>' or whitespace, e.g. pgsurreal.changes", p.SubjectPrefix)
				break
			}
		}
	}
	v.positive("publish.duplicate_window", p.DuplicateWindow)
	v.positive("publish.timeout", p.Timeout)
	v.intRange("publish.replicas", p.Replicas, 1, 5)
	switch {
	case p.MaxAge.Duration < 0:
		v.fail("publish.max_age", "must not be negative (0 keeps every message)")
	case p.MaxAge.Duration > 0 && p.MaxAge.Duration < p.DuplicateWindow.Duration:
		v.fail("publish.max_age", "%s is shorter than publish.duplicate_window (%s): JetStream refuses such a stream; raise max_age or lower duplicate_window", p.MaxAge, p.DuplicateWindow)
	}
}

// schedule checks a cron expression; empty is valid (off).
func (v *validator) schedule(key, spec string) bool {
	if spec == "" {
		return true
	}
	if _, err := ParseSchedule(spec); err != nil {
		v.fail(key, "%q is not a schedule: %v (use five cron fields such as \"0 3 * * *\", or @daily, @hourly, \"@every 6h\")", spec, err)
		return false
	}
	return true
}

// federation checks the federation section.
func (v *validator) federation(f Federation) {
	if v.required("federation.listen", f.Listen) && f.Listen != "off" {
		v.listenAddr("federation.listen", f.Listen)
	}
	v.required("federation.user", f.User)
	v.oneOf("federation.auth", f.Auth, "scram-sha-256", "password")
	if (f.TLSCert == "") != (f.TLSKey == "") {
		v.fail("federation.tls_cert", "tls_cert and tls_key go together: set both (PEM files) or neither")
	}
	v.fileExists("federation.tls_cert", f.TLSCert)
	v.fileExists("federation.tls_key", f.TLSKey)
	v.oneOf("federation.consistency", f.Consistency, "eventual", "read_your_writes")
	v.positive("federation.wait_timeout", f.WaitTimeout)
	v.intRange("federation.bind_join_cap", f.BindJoinCap, 1, 1000000)
	v.positive("federation.slow_query", f.SlowQuery)
	v.positive("federation.cache.ttl", f.Cache.TTL)
	if f.Cache.Redis != "" {
		if u, err := url.Parse(f.Cache.Redis); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
			v.fail("federation.cache.redis", "%q is not a Redis URL such as redis://127.0.0.1:6379/0", RedactURL(f.Cache.Redis))
		}
	}
	seen := map[string]bool{}
	for i, t := range f.Tables {
		key := fmt.Sprintf("federation.tables[%d]", i)
		if !v.required(key+".name", t.Name) {
			continue
		}
		if seen[t.Name] {
			v.fail(key+".name", "table %q is listed twice; merge the entries", t.Name)
		}
		seen[t.Name] = true
		v.extractedColumns(key, t.Columns)
	}
}

// extractedColumns checks the columns extracted from a schemaless table
// (reverse.tables[].columns, federation.tables[].columns).
func (v *validator) extractedColumns(key string, columns []ReverseColumn) {
	cols := map[string]bool{"id": true, "doc": true}
	for j, c := range columns {
		ck := fmt.Sprintf("%s.columns[%d]", key, j)
		if !v.required(ck+".name", c.Name) {
			continue
		}
		if cols[c.Name] {
			v.fail(ck+".name", "column %q is taken (id and doc are the record id and the document; names must be unique)", c.Name)
		}
		cols[c.Name] = true
		if c.Type != "" {
			v.oneOf(ck+".type", c.Type, ReverseColumnTypes...)
		}
	}
}

// RedactURL hides a URL's password for messages.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// ReverseColumnTypes are the PostgreSQL types an extracted column may have.
var ReverseColumnTypes = []string{"text", "bigint", "integer", "double precision", "numeric", "boolean", "timestamptz", "uuid", "jsonb"}

// reverse checks the reverse section.
func (v *validator) reverse(r Reverse) {
	v.positive("reverse.retention", r.Retention)
	v.positive("reverse.poll_interval", r.PollInterval)
	v.intRange("reverse.batch_size", r.BatchSize, 1, 100000)
	v.positive("reverse.settle", r.Settle)
	if v.required("reverse.origin", r.Origin) && len(r.Origin) > maxIdentBytes {
		v.fail("reverse.origin", "%q is %d bytes long, PostgreSQL names are at most %d", r.Origin, len(r.Origin), maxIdentBytes)
	}
	v.required("reverse.schema", r.Schema)
	seen := map[string]bool{}
	targets := map[string]bool{}
	for i, t := range r.Tables {
		key := fmt.Sprintf("reverse.tables[%d]", i)
		if !v.required(key+".name", t.Name) {
			continue
		}
		if seen[t.Name] {
			v.fail(key+".name", "table %q is listed twice; merge the entries", t.Name)
		}
		seen[t.Name] = true
		target := or(t.Target, t.Name)
		if _, _, ok := splitName(target); !ok {
			v.fail(key+".target", "%q is not a table name: write schema.table or table", target)
		} else if targets[qualify(target)] {
			v.fail(key+".target", "%q is the target of two SurrealDB tables; give each its own", qualify(target))
		}
		targets[qualify(target)] = true
		if t.Conflict != "" {
			v.oneOf(key+".conflict", t.Conflict, "postgres", "surreal", "last_writer_wins")
		}
		v.extractedColumns(key, t.Columns)
	}
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// slotName is PostgreSQL's rule for replication slot names.
var slotName = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)

// maxIdentBytes is PostgreSQL's limit on a name (NAMEDATALEN - 1).
const maxIdentBytes = 63

// sync checks the sync section.
func (v *validator) sync(s Sync) {
	if !slotName.MatchString(s.Slot) {
		v.fail("sync.slot", "%q is not a replication slot name: PostgreSQL allows only lower-case letters, digits and _, 1 to 63 of them", s.Slot)
	}
	if v.required("sync.publication", s.Publication) && len(s.Publication) > maxIdentBytes {
		v.fail("sync.publication", "%q is %d bytes long, PostgreSQL names are at most %d", s.Publication, len(s.Publication), maxIdentBytes)
	}
	if len(s.Include) == 0 {
		v.fail("sync.include", "empty, so nothing would be replicated; list patterns such as public.*")
	}
	v.patterns("sync.include", s.Include)
	v.patterns("sync.exclude", s.Exclude)
	v.oneOf("sync.schema", s.Schema, "schemaless", "schemafull")
	if s.Nulls == "" {
		v.fail("sync.nulls", `"" is not one of null, omit (write "null" in quotes: bare, YAML reads it as no value)`)
	} else {
		v.oneOf("sync.nulls", s.Nulls, "null", "omit")
	}
	v.intRange("sync.batch_size", s.BatchSize, 1, 100000)
	v.intRange("sync.snapshot_workers", s.SnapshotWorkers, 1, 64)
	v.intMin("sync.snapshot_chunk_rows", s.SnapshotChunkRows, 100)
	v.positive("sync.heartbeat", s.Heartbeat)
	v.positive("sync.status_interval", s.StatusInterval)
	if s.DeadLetter != "" {
		v.tableName("sync.dead_letter", s.DeadLetter)
	}

	first := map[string]string{} // normalised name -> key of its first entry
	for i, t := range s.Tables {
		key := fmt.Sprintf("sync.tables[%d]", i)
		v.placement(key, t)
		if v.table(key, t) {
			name := qualify(t.Name)
			if prev, dup := first[name]; dup {
				v.fail(key+".name", "table %q is listed twice (first %s)", name, v.where(prev+".name", key+".name"))
				continue
			}
			first[name] = key
		}
	}
}

// patterns checks table patterns such as public.* (see MatchPattern).
func (v *validator) patterns(key string, patterns []string) {
	for i, p := range patterns {
		if _, _, ok := splitName(p); !ok {
			v.fail(fmt.Sprintf("%s[%d]", key, i),
				"%q is not a table pattern, write schema.table or table (for public.table), where * matches any characters, e.g. public.* or sales.orders", p)
		}
	}
}

// tableName checks a "schema.table" or "table" name, reporting whether it
// is good.
func (v *validator) tableName(key, name string) bool {
	if _, _, ok := splitName(name); !ok {
		v.fail(key, "%q is not a table name, write schema.table or table (for public.table)", name)
		return false
	}
	if strings.Contains(name, "*") {
		v.fail(key, "%q is a pattern, name one table (sync.include and sync.exclude take patterns)", name)
		return false
	}
	return true
}

// table checks the entry of sync.tables at key, reporting whether its
// name is good.
func (v *validator) table(key string, t Table) bool {
	ok := false
	if t.Name == "" {
		v.fail(key+".name", "required, name the PostgreSQL table as schema.table or table")
	} else {
		ok = v.tableName(key+".name", t.Name)
	}
	v.optionalName(key+".target", t.Target, "to use the PostgreSQL table's name")
	v.optionalName(key+".namespace", t.Namespace, "to use surreal.namespace")
	v.optionalName(key+".database", t.Database, "to use surreal.database")
	v.columns(key+".key", t.Key)
	v.columns(key+".columns", t.Columns)
	v.columns(key+".exclude_columns", t.ExcludeColumns)
	for i, col := range t.ExcludeColumns {
		if slices.Contains(t.Columns, col) {
			v.fail(fmt.Sprintf("%s.exclude_columns[%d]", key, i),
				"%q is also in columns, list it in only one of them", col)
		}
	}
	for _, col := range slices.Sorted(maps.Keys(t.Transforms)) {
		v.oneOf(key+".transforms."+col, t.Transforms[col], "drop", "mask", "hash")
	}
	for i, e := range t.Edges {
		ekey := fmt.Sprintf("%s.edges[%d]", key, i)
		if len(e.Columns) == 0 {
			v.fail(ekey+".columns", "required, list the foreign-key columns of %s", cmp.Or(t.Name, "the table"))
		}
		v.columns(ekey+".columns", e.Columns)
		if strings.TrimSpace(e.Name) == "" {
			v.fail(ekey+".name", "required, name the edge table, e.g. billed_to")
		}
	}
	return ok
}

// optionalName checks a name that may be left out but, when given, must
// not be empty or blank. A file that writes it as "" gave it.
func (v *validator) optionalName(key, val, leftOut string) {
	_, given := v.c.sources[key]
	if (val == "" && given) || (val != "" && strings.TrimSpace(val) == "") {
		v.fail(key, "%q is empty, leave the key out %s", val, leftOut)
	}
}

// columns checks a list of column names: none empty, none twice.
func (v *validator) columns(key string, cols []string) {
	for i, col := range cols {
		ikey := fmt.Sprintf("%s[%d]", key, i)
		switch {
		case strings.TrimSpace(col) == "":
			v.fail(ikey, "%q is not a column name", col)
		case slices.Index(cols, col) < i:
			v.fail(ikey, "column %q is listed twice", col)
		}
	}
}

// validator collects the problems Validate finds.
type validator struct {
	c    *Config
	errs []error
}

func (v *validator) fail(key, format string, args ...any) {
	v.errs = append(v.errs, &Error{Key: key, Source: v.source(key), Msg: fmt.Sprintf(format, args...)})
}

// source is where the value of key came from. A key the layers did not
// set, such as a field left out of an item of a list, borrows the source
// of what holds it: sync.tables[2].name falls back to sync.tables[2], the
// line of the item.
func (v *validator) source(key string) string {
	for key != "" {
		if src, ok := v.c.sources[key]; ok {
			return src
		}
		key = key[:max(strings.LastIndexAny(key, ".["), 0)]
	}
	return ""
}

// where says where key's value was set, for a message about another key
// (at other) that clashes with it: "at line 5" when both come from the
// same file, else the source or, failing that, the key.
func (v *validator) where(key, other string) string {
	src, otherSrc := v.source(key), v.source(other)
	file, line, ok := cutLine(src)
	if otherFile, _, otherOK := cutLine(otherSrc); ok && otherOK && file == otherFile {
		return "at line " + line
	}
	if src != "" {
		return "at " + src
	}
	return "as " + key
}

// cutLine splits a "file:line" source.
func cutLine(src string) (file, line string, ok bool) {
	i := strings.LastIndexByte(src, ':')
	if i < 0 {
		return "", "", false
	}
	if _, err := strconv.Atoi(src[i+1:]); err != nil {
		return "", "", false
	}
	return src[:i], src[i+1:], true
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

func (v *validator) intMin(key string, val, lo int) {
	if val < lo {
		v.fail(key, "%d is too small, use at least %d", val, lo)
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

var serverName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// servers checks surreal.servers.
func (v *validator) servers(ss []SurrealServer) {
	seen := map[string]int{}
	for i, sv := range ss {
		key := fmt.Sprintf("surreal.servers[%d]", i)
		switch {
		case sv.Name == "":
			v.fail(key+".name", "required, name the server (e.g. eu) so tables can refer to it")
		case sv.Name == DefaultServer:
			v.fail(key+".name", "%q is the surreal section's own server, choose another name", sv.Name)
		case !serverName.MatchString(sv.Name):
			v.fail(key+".name", "%q is not a server name, use lower-case letters, digits and _, starting with a letter", sv.Name)
		default:
			if j, dup := seen[sv.Name]; dup {
				v.fail(key+".name", "server %q is listed twice (first surreal.servers[%d])", sv.Name, j)
			}
			seen[sv.Name] = i
		}
		if sv.URL == "" {
			v.fail(key+".url", "required, give the server's RPC endpoint (e.g. ws://10.0.0.2:8000/rpc)")
		} else {
			v.surrealURL(key+".url", sv.URL)
		}
		v.fileExists(key+".ca_file", sv.CAFile)
	}
}

// knownServer checks that name is "default" or one of surreal.servers.
func (v *validator) knownServer(key, name string) bool {
	if _, ok := v.c.Surreal.Server(name); !ok || name == "" {
		v.fail(key, "no SurrealDB server is called %q, name one of %s or add it to surreal.servers", name, strings.Join(v.c.Surreal.ServerNames(), ", "))
		return false
	}
	return true
}

// placement checks where the sync.tables entry at key puts its records:
// server, or partition.
func (v *validator) placement(key string, t Table) {
	if t.Server != "" {
		v.knownServer(key+".server", t.Server)
		if t.Partition.Set() {
			v.fail(key+".partition", "a table has either server or partition, not both: remove one")
		}
	}
	p := t.Partition
	if !p.Set() {
		return
	}
	pkey := key + ".partition"
	if strings.TrimSpace(p.Column) == "" {
		v.fail(pkey+".column", "required, name a key column of %s (e.g. region)", cmp.Or(t.Name, "the table"))
	} else if len(t.Key) > 0 && !slices.Contains(t.Key, p.Column) {
		v.fail(pkey+".column", "%q is not in %s.key: a partition column must be part of the key, add it to key", p.Column, key)
	}
	switch p.By {
	case "hash":
		if len(p.Servers) < 2 {
			v.fail(pkey+".servers", "a hash partition needs at least two servers, list them (e.g. [default, eu])")
		}
		for i, name := range p.Servers {
			skey := fmt.Sprintf("%s.servers[%d]", pkey, i)
			if v.knownServer(skey, name) && slices.Index(p.Servers, name) < i {
				v.fail(skey, "server %q is listed twice", name)
			}
		}
		if len(p.Values) > 0 || p.Other != "" {
			v.fail(pkey+".by", "values and other belong to by: value; a hash partition takes servers only")
		}
	case "value":
		if len(p.Values) == 0 {
			v.fail(pkey+".values", "required for by: value, map each column value to its server (e.g. EU: eu, US: default)")
		}
		for _, val := range slices.Sorted(maps.Keys(p.Values)) {
			v.knownServer(pkey+".values."+val, p.Values[val])
		}
		if p.Other != "" {
			v.knownServer(pkey+".other", p.Other)
		}
		if len(p.Servers) > 0 {
			v.fail(pkey+".servers", "servers belongs to by: hash; a value partition lists values per server")
		}
	case "":
		v.fail(pkey+".by", "required, hash or value")
	default:
		v.fail(pkey+".by", "%q is not a partition method, use hash or value", p.By)
	}
}
