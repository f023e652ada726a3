// Package doctor checks that the configured PostgreSQL and SurrealDB are
// ready for pgsurreal, and says how to fix each thing that is not.
//
// The work is split in two halves so that the rules can be tested without
// a server. The probes (pgprobe.go, surrealprobe.go) only talk to the
// servers: they connect with the same adapters the daemon uses
// (internal/postgres, internal/surreal), read settings and privileges into
// a plain observation, and record the error of each step. The rules
// (pgrules.go, surrealrules.go) are pure functions from an observation to
// Checks: which checks pass, what exactly is wrong, and the fix to apply
// (the postgresql.conf or pg_hba.conf line, the ALTER SYSTEM or ALTER ROLE
// statement, and whether PostgreSQL needs a restart or a reload). A check
// that cannot be evaluated because an earlier one failed (no connection,
// rejected credentials) is reported as skipped, never as passing. Every
// network step runs under its own timeout, so an unreachable host costs at
// most a few seconds, and nothing a probe reports ever contains a
// password: errors are explained by postgres.Explain and surreal.Explain,
// and raw server messages are scrubbed of the configured secret.
package doctor
