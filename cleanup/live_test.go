package cleanup_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/cleanup"
	"github.com/oauthkit/oauthkit/store/sqlstore"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// server plays a live OAuth server beside the cleaner: it issues access
// tokens with refresh tokens (some with ID tokens), rotates refresh tokens
// as DOT does, and creates grants. It remembers every token it made live
// and every one it deleted itself.
type server struct {
	env  *sqlstoretest.Env
	mu   sync.Mutex
	live map[string]map[int64]bool // table → ids that must survive
	own  []pair                    // its live (access, refresh) pairs
	errs []error
	ops  int
}

type pair struct{ at, rt int64 }

func (s *server) add(table string, id int64) {
	if s.live[table] == nil {
		s.live[table] = map[int64]bool{}
	}
	s.live[table][id] = true
}

// tx runs one request of the server in its own transaction.
func (s *server) tx(t *testing.T, fn func(e *sqlstoretest.Env)) {
	tx, err := s.env.DB.Beginx()
	if err != nil {
		s.mu.Lock()
		s.errs = append(s.errs, err)
		s.mu.Unlock()
		return
	}
	fn(s.env.With(tx))
	if err := tx.Commit(); err != nil {
		s.mu.Lock()
		s.errs = append(s.errs, err)
		s.mu.Unlock()
	}
}

func (s *server) request(t *testing.T, rng *rand.Rand) {
	now := time.Now()
	s.mu.Lock()
	var p pair
	canRotate := len(s.own) > 0 && rng.IntN(3) == 0
	if canRotate {
		i := rng.IntN(len(s.own))
		p = s.own[i]
		s.own = append(s.own[:i], s.own[i+1:]...)
	}
	s.mu.Unlock()
	switch {
	case canRotate:
		// DOT's refresh: a new access token B from refresh token R1, a new
		// refresh token R2; R1 revoked and unlinked, its access token A deleted.
		var b, r2 int64
		s.tx(t, func(e *sqlstoretest.Env) {
			b = e.AccessToken(t, now.Add(time.Hour))
			e.Link(t, "accesstoken", b, "source_refresh_token_id", p.rt)
			r2 = e.RefreshToken(t, b, time.Time{})
			e.Exec(t, `UPDATE oauth2_provider_refreshtoken SET access_token_id = NULL, revoked = ? WHERE id = ?`, e.Time(now), p.rt)
			e.Exec(t, `DELETE FROM oauth2_provider_accesstoken WHERE id = ?`, p.at)
		})
		s.mu.Lock()
		delete(s.live["accesstoken"], p.at)  // the server deleted it itself
		delete(s.live["refreshtoken"], p.rt) // revoked: no longer live
		s.add("accesstoken", b)
		s.add("refreshtoken", r2)
		s.own = append(s.own, pair{b, r2})
	case rng.IntN(4) == 0:
		var g int64
		s.tx(t, func(e *sqlstoretest.Env) { g = e.Grant(t, now.Add(10*time.Minute)) })
		s.mu.Lock()
		s.add("grant", g)
	default:
		var at, rt, idt int64
		withID := rng.IntN(2) == 0
		s.tx(t, func(e *sqlstoretest.Env) {
			at = e.AccessToken(t, now.Add(time.Hour))
			if withID {
				idt = e.IDToken(t, now.Add(time.Hour))
				e.Link(t, "accesstoken", at, "id_token_id", idt)
			}
			rt = e.RefreshToken(t, at, time.Time{})
		})
		s.mu.Lock()
		s.add("accesstoken", at)
		s.add("refreshtoken", rt)
		if withID {
			s.add("idtoken", idt)
		}
		s.own = append(s.own, pair{at, rt})
	}
	s.ops++
	s.mu.Unlock()
}

// While the cleaner runs in small batches, a live server keeps working on
// the same tables. Afterwards no token that was live was deleted, every
// foreign key holds, neither side saw an error, and the cleaner finished.
func TestLiveTraffic(t *testing.T) {
	for _, workers := range []int{1, 3} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) { liveTraffic(t, workers) })
	}
}

func liveTraffic(t *testing.T, workers int) {
	// The heaviest test of the package: on the oldest and the newest layout.
	sqlstoretest.ForLayouts(t, []sqlstoretest.Layout{sqlstoretest.DOT301, sqlstoretest.DOTMain}, func(t *testing.T, e *sqlstoretest.Env) {
		base := time.Now()
		e.SeedMix(t, 1200, base)
		srv := &server{env: e, live: map[string]map[int64]bool{}}
		// Seeded tokens that are live now must survive too.
		for _, q := range []struct{ table, sql string }{
			{"accesstoken", `SELECT id FROM oauth2_provider_accesstoken WHERE expires > ?`},
			{"idtoken", `SELECT id FROM oauth2_provider_idtoken WHERE expires > ?`},
			{"grant", `SELECT id FROM oauth2_provider_grant WHERE expires > ?`},
			{"refreshtoken", `SELECT r.id FROM oauth2_provider_refreshtoken r JOIN oauth2_provider_accesstoken a ON a.id = r.access_token_id WHERE r.revoked IS NULL AND a.expires > ?`},
		} {
			var ids []int64
			require.NoError(t, e.DB.Select(&ids, e.DB.Rebind(q.sql), e.Time(base.Add(time.Minute))))
			for _, id := range ids {
				srv.add(q.table, id)
			}
		}

		ctx, stop := context.WithTimeout(context.Background(), 60*time.Second)
		defer stop()
		// A server's pace. SQLite takes one writer at a time and its busy
		// handler backs off, so a server that never pauses would starve the
		// cleaner there (it then finishes only when the traffic stops).
		pace := time.Millisecond
		if e.Dialect == "sqlite" {
			pace = 10 * time.Millisecond
		}
		var wg sync.WaitGroup
		for w := 0; w < 3; w++ {
			wg.Add(1)
			go func(seed uint64) {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(seed, 42))
				for i := 0; i < 5000 && ctx.Err() == nil; i++ {
					srv.request(t, rng)
					time.Sleep(pace)
				}
			}(uint64(w))
		}
		opsNow := func() int {
			srv.mu.Lock()
			defer srv.mu.Unlock()
			return srv.ops
		}
		// The first committed batch waits for a server request to finish, so
		// the two sides overlap however the machine schedules them (on a busy
		// machine SQLite's lock can otherwise keep the server out of a short
		// run altogether); later batches run freely.
		before, overlapped, during := opsNow(), false, 0
		rep, err := cleanup.Clear(context.Background(), cleanup.Options{
			Store: e.Store, Rules: cleanup.RulesDOT34, RefreshTokenExpire: 24 * time.Hour,
			BatchSize: 25, BatchInterval: 2 * time.Millisecond, Workers: workers,
			OnBatch: func(cleanup.BatchEvent) {
				for !overlapped && opsNow() == before && ctx.Err() == nil {
					time.Sleep(time.Millisecond)
				}
				overlapped = true
				during = opsNow() - before
			},
		})
		stop()
		wg.Wait()
		t.Logf("cleaner: %d rows in %s, %d server requests", rep.Deleted(), rep.Duration, srv.ops)
		require.NoError(t, err, "the cleaner finished")
		assert.Greater(t, rep.Deleted(), int64(500), "the cleaner did work")
		assert.Positive(t, during, "the server worked while the cleaner ran (requests between its start and its last batch)")
		assert.Empty(t, srv.errs, "the server saw no error (no FK violation, no deadlock)")

		left := e.Snapshot(t)
		for table, ids := range srv.live {
			present := map[int64]bool{}
			for _, id := range left[table] {
				present[id] = true
			}
			for id := range ids {
				assert.True(t, present[id], "live %s %d was deleted", table, id)
			}
		}
		e.AssertNoDanglingKeys(t)
	})
}

// Workers clean disjoint ranges at once: the rows left are exactly those a
// one-worker run leaves on an identical copy, and the counts agree.
func TestWorkersEqualOneWorker(t *testing.T) {
	for _, d := range sqlstoretest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			base := time.Now()
			// DOT main's layout: the token steps of 3.4.1, and the PAR step too.
			one, many := sqlstoretest.New(t, d, sqlstoretest.DOTMain), sqlstoretest.New(t, d, sqlstoretest.DOTMain)
			one.SeedMix(t, 1500, base)
			many.SeedMix(t, 1500, base)
			opts := func(e *sqlstoretest.Env, workers int) cleanup.Options {
				return cleanup.Options{Store: e.Store, Rules: cleanup.RulesDOT34, RefreshTokenExpire: 24 * time.Hour, BatchSize: 30,
					Now: base, Workers: workers}
			}
			var events int
			o := opts(many, 4)
			o.OnBatch = func(cleanup.BatchEvent) { events++ }
			repMany, err := cleanup.Clear(context.Background(), o)
			require.NoError(t, err)
			repOne, err := cleanup.Clear(context.Background(), opts(one, 1))
			require.NoError(t, err)
			assert.Equal(t, one.Snapshot(t), many.Snapshot(t))
			for i := range repOne.Steps {
				assert.Equal(t, repOne.Steps[i].Deleted, repMany.Steps[i].Deleted, repOne.Steps[i].Name)
				assert.True(t, repMany.Steps[i].Complete || repMany.Steps[i].Skipped, repOne.Steps[i].Name)
			}
			batches := 0
			for _, st := range repMany.Steps {
				batches += st.Batches
			}
			assert.Equal(t, batches, events, "one progress event per batch")
			many.AssertNoDanglingKeys(t)
		})
	}
}

// A store made with sqlstore.New over the caller's pool works on a pool of
// one connection: nothing a batch asks of the server outside its
// transaction waits for a second connection. It cleans what a store of
// its own does. (MySQL/MariaDB, whose batches ask the server what it is.)
func TestPoolOfOneConnection(t *testing.T) {
	sqlstoretest.MySQLURL(t)
	t.Parallel()
	base := time.Now()
	ref, one := sqlstoretest.New(t, sqlstore.DialectMySQL, sqlstoretest.DOT341), sqlstoretest.New(t, sqlstore.DialectMySQL, sqlstoretest.DOT341)
	ref.SeedMix(t, 600, base)
	one.SeedMix(t, 600, base)
	one.DB.SetMaxOpenConns(1)
	st, err := sqlstore.New(one.DB.DB, sqlstore.WithDialect(sqlstore.DialectMySQL))
	require.NoError(t, err)
	opts := func(s *sqlstore.Store) cleanup.Options {
		return cleanup.Options{Store: s, Rules: cleanup.RulesDOT34, RefreshTokenExpire: 24 * time.Hour, BatchSize: 50,
			Now: base, Lock: cleanup.LockNone}
	}
	// A batch that waited on itself would hang here (a batch's statements
	// are not cut short by cancellation), until go test's own -timeout.
	_, err = cleanup.Clear(context.Background(), opts(st))
	require.NoError(t, err)
	_, err = cleanup.Clear(context.Background(), opts(ref.Store))
	require.NoError(t, err)
	assert.Equal(t, ref.Snapshot(t), one.Snapshot(t))
	one.AssertNoDanglingKeys(t)
}
