package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/oauthkit/oauthkit/store/sqlstore"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// The load generator plays a DOT server beside a cleaner: on its own
// connections, at a fixed rate (open loop: an operation's latency counts
// from when it was due, so a stalled server is not hidden by fewer
// requests), it issues token pairs, rotates refresh tokens, looks tokens
// up by checksum and revokes them, each in a transaction as DOT does.
// Every token it makes is live (expiring in an hour), so no cleaner
// deletes one, and a rotation or revocation takes a pair it made itself.
type loadGen struct {
	db     *sqlx.DB
	kind   sqlstore.Dialect
	layout sqlstoretest.Layout
	bench  benchDialect
	seeded int64 // slots seeded: lookups also ask for these checksums

	mu    sync.Mutex
	pairs []pair // live pairs this generator issued
}

type pair struct {
	refresh, access int64
	checksum        string // the access token's
}

// op is one operation's outcome.
type op struct {
	due, done time.Time
	kind      string
	err       error
}

// openLoad connects the generator to a seeded copy with conns connections
// (named oauthkit-load where the server shows names).
func openLoad(u string, l sqlstoretest.Layout, seeded int64, conns int) (*loadGen, error) {
	ds, err := sqlstore.ParseURL(u)
	if err != nil {
		return nil, err
	}
	dsn := ds.DSN
	switch ds.Dialect {
	case sqlstore.DialectPostgres:
		pu, err := url.Parse(dsn)
		if err != nil {
			return nil, err
		}
		q := pu.Query()
		q.Set("application_name", "oauthkit-load")
		pu.RawQuery = q.Encode()
		dsn = pu.String()
	case sqlstore.DialectSQLite:
		// Django's SQLite: a busy writer makes others wait up to the timeout.
		dsn = "file:" + ds.Path + "?_pragma=busy_timeout(20000)&_pragma=foreign_keys(1)&_txlock=immediate"
	}
	db, err := sqlx.Open(string(ds.Dialect), dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	g := &loadGen{db: db, kind: ds.Dialect, layout: l, bench: dialectOf(ds.Dialect), seeded: seeded}
	if ds.Dialect == sqlstore.DialectPostgres {
		// The seed wrote explicit ids: move the sequences past them.
		for _, t := range []string{access, refresh} {
			if _, err := db.Exec(`SELECT setval(pg_get_serial_sequence('` + t + `', 'id'), (SELECT COALESCE(max(id), 0) + 1 FROM ` + t + `))`); err != nil {
				db.Close()
				return nil, fmt.Errorf("move %s's id sequence: %w", t, err)
			}
		}
	}
	return g, nil
}

// run plays the load at rate operations a second from now until stop is
// closed, then waits for what is due to finish, and returns every
// operation.
func (g *loadGen) run(rate float64, conns int, stop <-chan struct{}) []op {
	jobs := make(chan time.Time, 1<<20)
	results := make(chan op, 1<<20)
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for due := range jobs {
				results <- g.one(due)
			}
		}()
	}
	period := time.Duration(float64(time.Second) / rate)
	start := time.Now()
schedule:
	for k := 0; ; k++ {
		due := start.Add(time.Duration(k) * period)
		select {
		case <-stop:
			break schedule
		case <-time.After(time.Until(due)):
			jobs <- due
		}
	}
	close(jobs)
	wg.Wait()
	close(results)
	var out []op
	for r := range results {
		out = append(out, r)
	}
	return out
}

// one runs the operation due at due: a lookup four times in ten, a new
// pair three, a rotation two, a revocation one.
func (g *loadGen) one(due time.Time) op {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := mrand.IntN(10)
	var kind string
	var err error
	switch {
	case r < 4:
		kind, err = "lookup", g.lookup(ctx)
	case r < 7:
		kind, err = "issue", g.issue(ctx)
	case r < 9:
		kind, err = "rotate", g.rotate(ctx)
	default:
		kind, err = "revoke", g.revoke(ctx)
	}
	return op{due: due, done: time.Now(), kind: kind, err: err}
}

func (g *loadGen) lookup(ctx context.Context) error {
	// Half of them for a token of our own, half for a seeded one (which
	// the cleaner may have deleted: then nothing is found, as for a
	// client presenting an expired token).
	sum := seededChecksum(1 + mrand.Int64N(max(g.seeded, 1)))
	if mrand.IntN(2) == 0 {
		g.mu.Lock()
		if len(g.pairs) > 0 {
			sum = g.pairs[mrand.IntN(len(g.pairs))].checksum
		}
		g.mu.Unlock()
	}
	var id int64
	err := g.db.GetContext(ctx, &id, g.db.Rebind(`SELECT id FROM `+access+` WHERE token_checksum = ?`), sum)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	return err
}

// seededChecksum is the seed's token_checksum of slot i.
func seededChecksum(i int64) string {
	return fmt.Sprintf("%020d%044d", i*2654435761%1000000007, i)
}

// issue is DOT's token endpoint on a grant: an access token and its
// refresh token, in one transaction.
func (g *loadGen) issue(ctx context.Context) error {
	var p pair
	err := g.tx(ctx, func(tx *sqlx.Tx) (err error) {
		p, err = g.newPair(ctx, tx, nil)
		return err
	})
	if err == nil {
		g.add(p) // only once committed: another operation may take it at once
	}
	return err
}

// rotate is DOT's refresh grant with rotation: lock the old refresh token,
// revoke it (its access token deleted, the refresh token unlinked and
// marked revoked), then a new pair whose access token names the old
// refresh token as its source.
func (g *loadGen) rotate(ctx context.Context) error {
	old, ok := g.take()
	if !ok {
		return g.issue(ctx)
	}
	var p pair
	err := g.tx(ctx, func(tx *sqlx.Tx) (err error) {
		if err := g.revokeIn(ctx, tx, old); err != nil {
			return err
		}
		p, err = g.newPair(ctx, tx, &old.refresh)
		return err
	})
	if err == nil {
		g.add(p)
	}
	return err
}

// revoke is DOT's revocation endpoint on a refresh token.
func (g *loadGen) revoke(ctx context.Context) error {
	old, ok := g.take()
	if !ok {
		return g.issue(ctx)
	}
	return g.tx(ctx, func(tx *sqlx.Tx) error { return g.revokeIn(ctx, tx, old) })
}

func (g *loadGen) revokeIn(ctx context.Context, tx *sqlx.Tx, p pair) error {
	lock := ` FOR UPDATE`
	if g.kind == sqlstore.DialectSQLite {
		lock = `` // the transaction began IMMEDIATE: it holds the write lock
	}
	var id int64
	if err := tx.GetContext(ctx, &id, tx.Rebind(`SELECT id FROM `+refresh+` WHERE id = ? AND revoked IS NULL`+lock), p.refresh); err != nil {
		return fmt.Errorf("lock refresh token %d: %w", p.refresh, err)
	}
	now := g.bench.time(time.Now())
	for _, q := range []string{
		`UPDATE ` + refresh + ` SET access_token_id = NULL WHERE access_token_id = ?`,
		`DELETE FROM ` + access + ` WHERE id = ?`,
	} {
		if _, err := tx.ExecContext(ctx, tx.Rebind(q), p.access); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE `+refresh+` SET revoked = ?, updated = ? WHERE id = ?`), now, now, p.refresh)
	return err
}

func (g *loadGen) newPair(ctx context.Context, tx *sqlx.Tx, source *int64) (pair, error) {
	now := time.Now()
	v341 := g.layout != sqlstoretest.DOT301
	tok, sum := newToken()
	cols, vals := "", ""
	args := []any{tok, sum, g.bench.time(now.Add(time.Hour)), g.bench.time(now), g.bench.time(now), source}
	if v341 {
		cols, vals = ", resource", ", '[]'"
	}
	aid, err := g.insert(ctx, tx, `INSERT INTO `+access+` (token, token_checksum, expires, scope, application_id, user_id, created, updated, source_refresh_token_id`+cols+`)
VALUES (?, ?, ?, 'read write', 1, 1, ?, ?, ?`+vals+`)`, args...)
	if err != nil {
		return pair{}, fmt.Errorf("insert access token: %w", err)
	}
	rt, rsum := newToken()
	args = []any{rt, aid, g.bench.time(now), g.bench.time(now)}
	if v341 {
		cols, vals = ", token_checksum, resource", ", ?, '[]'"
		args = append(args, rsum)
	}
	rid, err := g.insert(ctx, tx, `INSERT INTO `+refresh+` (token, access_token_id, application_id, user_id, created, updated`+cols+`)
VALUES (?, ?, 1, 1, ?, ?`+vals+`)`, args...)
	if err != nil {
		return pair{}, fmt.Errorf("insert refresh token: %w", err)
	}
	return pair{refresh: rid, access: aid, checksum: sum}, nil
}

// insert runs an INSERT and returns the new row's id.
func (g *loadGen) insert(ctx context.Context, tx *sqlx.Tx, q string, args ...any) (int64, error) {
	q = tx.Rebind(q)
	if g.kind == sqlstore.DialectMySQL {
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return 0, err
		}
		return res.LastInsertId()
	}
	var id int64
	err := tx.GetContext(ctx, &id, q+` RETURNING id`, args...)
	return id, err
}

func (g *loadGen) tx(ctx context.Context, f func(*sqlx.Tx) error) error {
	tx, err := g.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback() //nolint:errcheck
		return err
	}
	return tx.Commit()
}

func (g *loadGen) add(p pair) {
	g.mu.Lock()
	g.pairs = append(g.pairs, p)
	g.mu.Unlock()
}

// take removes a random live pair, so no two operations revoke one.
func (g *loadGen) take() (pair, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.pairs) == 0 {
		return pair{}, false
	}
	i := mrand.IntN(len(g.pairs))
	p := g.pairs[i]
	g.pairs[i] = g.pairs[len(g.pairs)-1]
	g.pairs = g.pairs[:len(g.pairs)-1]
	return p, true
}

// newToken is a random token and its checksum, as DOT stores them.
func newToken() (string, string) {
	b := make([]byte, 24)
	rand.Read(b) //nolint:errcheck // never fails
	tok := hex.EncodeToString(b)
	sum := sha256.Sum256([]byte(tok))
	return tok, hex.EncodeToString(sum[:])
}

// latency sums up a set of operations.
type latency struct {
	ops, errs      int
	p50, p99, maxL time.Duration
	firstErr       string
}

// during is the operations due in [from, to).
func during(ops []op, from, to time.Time) []op {
	var out []op
	for _, o := range ops {
		if !o.due.Before(from) && o.due.Before(to) {
			out = append(out, o)
		}
	}
	return out
}

func summarize(ops []op) latency {
	var ds []time.Duration
	var l latency
	for _, o := range ops {
		l.ops++
		if o.err != nil {
			l.errs++
			if l.firstErr == "" {
				l.firstErr = o.kind + ": " + o.err.Error()
			}
		}
		ds = append(ds, o.done.Sub(o.due))
	}
	if len(ds) == 0 {
		return l
	}
	slices.Sort(ds)
	q := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
	l.p50, l.p99, l.maxL = q(0.50), q(0.99), ds[len(ds)-1]
	return l
}

// waitSampler counts, every 200 ms, what the server's sessions on the
// copy are doing (PostgreSQL: wait events; MySQL/MariaDB: thread states),
// by who they are: the load, or the cleaner.
type waitSampler struct {
	db   *sqlx.DB
	kind sqlstore.Dialect
	mu   sync.Mutex
	seen map[string]int
	n    int
}

func newWaitSampler(u string) *waitSampler {
	ds, err := sqlstore.ParseURL(u)
	if err != nil || ds.Dialect == sqlstore.DialectSQLite {
		return nil
	}
	db, err := sqlx.Open(string(ds.Dialect), ds.DSN)
	if err != nil {
		return nil
	}
	db.SetMaxOpenConns(1)
	return &waitSampler{db: db, kind: ds.Dialect, seen: map[string]int{}}
}

func (w *waitSampler) run(stop <-chan struct{}) {
	if w == nil {
		return
	}
	q := `SELECT CASE WHEN backend_type <> 'client backend' THEN backend_type WHEN application_name = 'oauthkit-load' THEN 'load' ELSE 'cleaner' END,
  COALESCE(state, 'running') || COALESCE(' ' || wait_event_type || ':' || wait_event, '') || CASE WHEN backend_xmin IS NOT NULL AND state LIKE 'idle%' THEN ' (holding xmin)' ELSE '' END
FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND (datname = current_database() AND backend_type IN ('client backend', 'autovacuum worker') AND state <> 'idle'
  OR backend_type IN ('checkpointer', 'walwriter') AND wait_event_type = 'IO')`
	if w.kind == sqlstore.DialectMySQL {
		q = `SELECT 'session', CONCAT(COMMAND, ' ', COALESCE(STATE, '')) FROM information_schema.PROCESSLIST
WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND COMMAND <> 'Sleep'`
	}
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		rows, err := w.db.Query(q)
		if err != nil {
			continue
		}
		w.mu.Lock()
		w.n++
		for rows.Next() {
			var who, what string
			if rows.Scan(&who, &what) == nil {
				w.seen[who+" "+what]++
			}
		}
		w.mu.Unlock()
		rows.Close()
	}
}

// topStates is the most seen states over samplers, as "state ×count".
func topStates(ws []*waitSampler, k int) string {
	type kv struct {
		k string
		v int
	}
	seen, n := map[string]int{}, 0
	for _, w := range ws {
		if w == nil {
			continue
		}
		w.mu.Lock()
		n += w.n
		for s, c := range w.seen {
			seen[s] += c
		}
		w.mu.Unlock()
	}
	if n == 0 {
		return ""
	}
	var all []kv
	for s, c := range seen {
		all = append(all, kv{s, c})
	}
	slices.SortFunc(all, func(a, b kv) int { return b.v - a.v })
	var parts []string
	for i, e := range all {
		if i == k {
			break
		}
		parts = append(parts, fmt.Sprintf("%s ×%d", e.k, e.v))
	}
	return fmt.Sprintf("%d samples: %s", n, strings.Join(parts, ", "))
}
