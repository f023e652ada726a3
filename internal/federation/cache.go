package federation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pgsurreal/pgsurreal/internal/config"
)

// The cache keeps SurrealDB sub-results in Redis under a key made of the
// SurrealQL, its parameters and the current version of every table it
// reads. The change streams bump a table's version after each applied
// change (Invalidator), so an entry is never found again once a table
// it read has changed; the TTL is a safety net. Only tables whose
// changes pgsurreal sees are cached: the sync and the reverse direction
// mark them "watched" when they apply a change to them.
//
// Keys (after federation.cache.prefix):
//
//	fed:epoch          bumped when an invalidation could not be written
//	fed:ver:<table>    the table's version
//	fed:watch:<table>  set once pgsurreal applies changes to the table
//	fed:applied        the sync's applied WAL position (read_your_writes)
//	fed:q:<sha256>     an entry: "<rows>\n<jsonb text>"; the hash covers
//	                   the server read too, for a table on several
type cache struct {
	rdb    *redis.Client
	ttl    time.Duration
	prefix string
	m      *metrics
}

func dialRedis(ctx context.Context, cfg config.Cache) (*redis.Client, error) {
	opt, err := redis.ParseURL(cfg.Redis)
	if err != nil {
		return nil, fmt.Errorf("federation.cache.redis %s: %w", config.RedactURL(cfg.Redis), err)
	}
	rdb := redis.NewClient(opt)
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("federation.cache.redis: cannot reach Redis at %s: %v; start Redis, fix the URL, or leave federation.cache.redis empty to run without the cache", opt.Addr, err)
	}
	return rdb, nil
}

func newCache(ctx context.Context, cfg config.Cache, m *metrics) (*cache, error) {
	rdb, err := dialRedis(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &cache{rdb: rdb, ttl: cfg.TTL.Duration, prefix: cfg.Prefix + "fed:", m: m}, nil
}

func (c *cache) close() error { return c.rdb.Close() }

// applied is the sync's applied WAL position as the Invalidator last set it.
func (c *cache) applied(ctx context.Context) (uint64, error) {
	v, err := c.rdb.Get(ctx, c.prefix+"applied").Uint64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return v, err
}

// cached returns a read's rows as jsonb text (and their count), from the
// cache when a valid entry exists, else from SurrealDB through convert.
func (e *Engine) cached(ctx context.Context, r surrealRead, o QueryOptions, minLSN uint64, convert func(any) (string, int, error)) (string, int, bool, error) {
	fetch := func() (string, int, error) {
		res, err := e.surrealQuery(ctx, r)
		if err != nil {
			return "", 0, err
		}
		return convert(res)
	}
	c := e.cache
	if c == nil || o.NoCache || len(r.tables) == 0 {
		text, n, err := fetch()
		return text, n, false, err
	}
	key, ok := c.key(ctx, r)
	if !ok {
		text, n, err := fetch()
		return text, n, false, err
	}
	if v, err := c.rdb.Get(ctx, key).Result(); err == nil {
		if count, text, found := strings.Cut(v, "\n"); found {
			n, _ := strconv.Atoi(count)
			c.m.cache.WithLabelValues("hit").Inc()
			return text, n, true, nil
		}
	} else if !errors.Is(err, redis.Nil) {
		c.m.cache.WithLabelValues("error").Inc()
		text, n, err := fetch()
		return text, n, false, err
	}
	c.m.cache.WithLabelValues("miss").Inc()
	text, n, err := fetch()
	if err != nil {
		return "", 0, false, err
	}
	_ = c.rdb.Set(ctx, key, strconv.Itoa(n)+"\n"+text, c.ttl).Err()
	return text, n, false, nil
}

// key is the entry key for a read at the tables' current versions; false
// when a table is not watched (its changes are not seen: not cached).
func (c *cache) key(ctx context.Context, r surrealRead) (string, bool) {
	keys := []string{c.prefix + "epoch"}
	for _, t := range r.tables {
		keys = append(keys, c.prefix+"ver:"+t, c.prefix+"watch:"+t)
	}
	vals, err := c.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		c.m.cache.WithLabelValues("error").Inc()
		return "", false
	}
	h := sha256.New()
	if r.server != "" && r.server != config.DefaultServer {
		// the same read on another server (a partitioned table) is
		// another entry
		fmt.Fprintf(h, "server=%s\x00", r.server)
	}
	fmt.Fprintf(h, "%s\x00", r.sql)
	names := make([]string, 0, len(r.vars))
	for k := range r.vars {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		fmt.Fprintf(h, "%s=%#v\x00", k, r.vars[k])
	}
	fmt.Fprintf(h, "epoch=%v\x00", vals[0])
	for i, t := range r.tables {
		if vals[2+2*i] == nil {
			return "", false
		}
		fmt.Fprintf(h, "%s=%v\x00", t, vals[1+2*i])
	}
	return c.prefix + "q:" + hex.EncodeToString(h.Sum(nil)), true
}

// Invalidator is the change streams' side of the cache: the sync calls
// Applied after each SurrealDB commit, the reverse direction Changed for
// the SurrealDB tables whose changes it read.
type Invalidator struct {
	rdb    *redis.Client
	prefix string
	log    *slog.Logger
	// dirty is set when an invalidation could not be written: the next
	// successful one bumps the epoch, dropping every entry.
	dirty atomic.Bool
}

// NewInvalidator connects to the cache's Redis.
func NewInvalidator(ctx context.Context, cfg config.Cache, log *slog.Logger) (*Invalidator, error) {
	rdb, err := dialRedis(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &Invalidator{rdb: rdb, prefix: cfg.Prefix + "fed:", log: log}, nil
}

// Close closes the connection.
func (iv *Invalidator) Close() error { return iv.rdb.Close() }

// raiseApplied sets fed:applied to ARGV[1] unless it is already higher.
const raiseApplied = (`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 0`)

// Applied invalidates the tables a committed SurrealDB transaction
// changed and records the WAL position it brings the target to.
func (iv *Invalidator) Applied(ctx context.Context, tables []string, lsn uint64) {
	iv.write(ctx, tables, func(p redis.Pipeliner) {
		p.Eval(ctx, raiseApplied, []string{iv.prefix + "applied"}, strconv.FormatUint(lsn, 10))
	})
}

// Changed invalidates tables changed in SurrealDB.
func (iv *Invalidator) Changed(ctx context.Context, tables []string) {
	if len(tables) > 0 {
		iv.write(ctx, tables, nil)
	}
}

func (iv *Invalidator) write(ctx context.Context, tables []string, extra func(redis.Pipeliner)) {
	wasDirty := iv.dirty.Load()
	_, err := iv.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		if wasDirty {
			p.Incr(ctx, iv.prefix+"epoch")
		}
		for _, t := range tables {
			p.Incr(ctx, iv.prefix+"ver:"+t)
			p.Set(ctx, iv.prefix+"watch:"+t, "1", 0)
		}
		if extra != nil {
			extra(p)
		}
		return nil
	})
	if err != nil {
		if !wasDirty {
			iv.log.Warn("cannot invalidate the query cache; every entry is dropped once Redis answers again", "err", err)
		}
		iv.dirty.Store(true)
		return
	}
	if wasDirty {
		iv.dirty.Store(false)
		iv.log.Info("query cache reachable again; all entries invalidated")
	}
}
