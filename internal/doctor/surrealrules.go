package doctor

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// MinSurrealMajor is the oldest SurrealDB major version pgsurreal speaks to.
const MinSurrealMajor = 3

// surrealAfterConnection are the checks that need a connection.
var surrealAfterConnection = []string{CheckSurrealVersion, CheckSurrealSignin, CheckSurrealNamespace}

func surrealCheck(name string) Check {
	return Check{Name: name, System: SystemSurreal, Status: StatusOK}
}

// surrealUnreachable reports a failed connection and skips everything
// else. err comes from surreal.Dial, which has already explained it;
// timedOut is the step's timeout when the attempt ran out of time, else 0.
func surrealUnreachable(cfg config.Surreal, err error, timedOut time.Duration) []Check {
	c := surrealCheck(CheckSurrealConnection)
	c.Status = StatusFail
	c.Detail = scrub(err.Error(), cfg.Password)
	c.Fix = "start SurrealDB (`pgsurreal dev up` for the dev server) or fix surreal.url; it must be the RPC endpoint such as ws://127.0.0.1:8000/rpc"
	if timedOut > 0 {
		c.Detail = fmt.Sprintf("cannot reach SurrealDB at %s: timed out after %s (%s)", surreal.Redact(cfg.URL), timedOut, c.Detail)
		c.Fix = "check surreal.url, that the server is up and that no firewall drops the connection, or raise surreal.timeout"
	}
	return append([]Check{c}, skipped(SystemSurreal, "no connection to SurrealDB", surrealAfterConnection...)...)
}

func surrealConnected(cfg config.Surreal) Check {
	c := surrealCheck(CheckSurrealConnection)
	c.Detail = "connected to SurrealDB at " + surreal.Redact(cfg.URL)
	return c
}

// versionCheck judges the version the server reported ("3.0.2" or
// "surrealdb-3.0.2"). A version that cannot be read is a warning, not a
// failure: the server answered, and later checks will show more.
func versionCheck(cfg config.Surreal, version string, err error) Check {
	c := surrealCheck(CheckSurrealVersion)
	if err != nil {
		c.Status = StatusWarn
		c.Detail = "the server did not report its version: " + scrub(err.Error(), cfg.Password)
		c.Fix = fmt.Sprintf("make sure surreal.url points at a SurrealDB %d server", MinSurrealMajor)
		return c
	}
	major, ok := parseMajor(version)
	switch {
	case !ok:
		c.Status = StatusWarn
		c.Detail = fmt.Sprintf("cannot read the version %q", version)
		c.Fix = fmt.Sprintf("make sure surreal.url points at a SurrealDB %d server", MinSurrealMajor)
	case major < MinSurrealMajor:
		c.Status = StatusFail
		c.Detail = fmt.Sprintf("SurrealDB %s is too old: pgsurreal needs %d or newer", version, MinSurrealMajor)
		c.Fix = fmt.Sprintf("upgrade the server to SurrealDB %d (the dev server of `pgsurreal dev up` runs it)", MinSurrealMajor)
	default:
		c.Detail = "SurrealDB " + strings.TrimPrefix(version, "surrealdb-")
	}
	return c
}

// parseMajor reads the major version from "3.0.2", "v3.0.2" or
// "surrealdb-3.0.2".
func parseMajor(v string) (int, bool) {
	v = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(v), "surrealdb-"), "v")
	end := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(v)
	}
	n, err := strconv.Atoi(v[:end])
	return n, err == nil
}

// signinCheck judges the sign-in; surrealChecks skips the namespace check
// when it failed.
func signinCheck(cfg config.Surreal, err error) Check {
	c := surrealCheck(CheckSurrealSignin)
	if err == nil {
		c.Detail = fmt.Sprintf("signed in as %q", cfg.Username)
		return c
	}
	c.Status = StatusFail
	c.Detail = fmt.Sprintf("SurrealDB rejected the credentials of user %q: %s", cfg.Username, scrub(err.Error(), cfg.Password))
	c.Fix = "set surreal.username and surreal.password (or PGSURREAL_SURREAL_USERNAME and PGSURREAL_SURREAL_PASSWORD) to a root user of the server"
	return c
}

func namespaceCheck(cfg config.Surreal, err error) Check {
	c := surrealCheck(CheckSurrealNamespace)
	if err == nil {
		c.Detail = fmt.Sprintf("namespace %q, database %q are usable", cfg.Namespace, cfg.Database)
		return c
	}
	c.Status = StatusFail
	c.Detail = fmt.Sprintf("cannot use namespace %q, database %q: %s", cfg.Namespace, cfg.Database, scrub(err.Error(), cfg.Password))
	c.Fix = fmt.Sprintf("check surreal.namespace and surreal.database, and give user %q access to them (a root user has it; otherwise `DEFINE USER ... ON NAMESPACE` or `ON DATABASE` with the editor role)", cfg.Username)
	return c
}

// surrealChecks assembles the checks after a successful connection.
func surrealChecks(cfg config.Surreal, version string, versionErr, signinErr, nsErr error) []Check {
	out := []Check{surrealConnected(cfg), versionCheck(cfg, version, versionErr), signinCheck(cfg, signinErr)}
	if signinErr != nil {
		return append(out, skipped(SystemSurreal, "the credentials were rejected", CheckSurrealNamespace)...)
	}
	return append(out, namespaceCheck(cfg, nsErr))
}
