package main_test

// The fault-injection suite: cleartokens on a server of the test's own
// (a private PostgreSQL cluster, a private MariaDB), reached through a
// fault proxy, with a fault injected at a chosen statement of the run.
// Every run either finishes with exactly the rows an uninterrupted run
// leaves on an identical copy, or exits 1 with a last line naming the
// fault, leaving whole batches only, after which a rerun finishes the
// work. No foreign key ever dangles.

import (
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/internal/faultproxy"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// faultServer is a private server and what a fault test does to it.
type faultServer struct {
	name  string
	proto faultproxy.Protocol
	port  int
	newDB func(t *testing.T) *sqlstoretest.Env
	admin func(t *testing.T) *sqlx.DB
	// kill ends one connection's session on the server, and returns once
	// it is gone.
	kill func(t *testing.T, id int64)
	// restart restarts the server (mode: pg_ctl's for PostgreSQL; MariaDB
	// is killed with SIGKILL whatever the mode); stop and start do half.
	restart     func(t *testing.T, mode string)
	stop, start func(t *testing.T)
	// timeoutURL returns e's URL with a server-side statement timeout of
	// one second for the sessions it opens.
	timeoutURL func(t *testing.T, e *sqlstoretest.Env) string
	// rowLock opens a transaction that holds a row lock on the access
	// token id, which batches then wait for.
	rowLock func(t *testing.T, e *sqlstoretest.Env, id int64) (release func())
	// The statements that take the single-runner lock, that follow only
	// once it is taken, and that fence a batch, as the driver sends them.
	lockStatement, lockedStatement, fenceStatement string
	// Words of the errors a full server and a server-side statement
	// timeout give.
	full, timedOut string
}

func postgresFaultServer(t *testing.T) *faultServer {
	c := sqlstoretest.StartPostgres(t, "max_connections=20")
	admin := func(t *testing.T) *sqlx.DB {
		db, err := sqlx.Open("postgres", c.URL("postgres"))
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })
		return db
	}
	a := admin(t)
	return &faultServer{
		name: "postgres", proto: faultproxy.Postgres, port: c.Port,
		newDB: func(t *testing.T) *sqlstoretest.Env { return c.NewDatabase(t, sqlstoretest.DOT341) },
		admin: admin,
		kill: func(t *testing.T, pid int64) {
			_, err := a.Exec(`SELECT pg_terminate_backend($1)`, pid)
			require.NoError(t, err)
			waitGone(t, a, `SELECT count(*) FROM pg_stat_activity WHERE pid = $1`, pid)
		},
		restart: func(t *testing.T, mode string) { c.Restart(t, mode) },
		stop:    func(t *testing.T) { c.Stop(t, "fast") },
		start:   func(t *testing.T) { c.Start(t) },
		timeoutURL: func(t *testing.T, e *sqlstoretest.Env) string {
			return e.URL + "&options=-c%20statement_timeout%3D1000"
		},
		rowLock: func(t *testing.T, e *sqlstoretest.Env, id int64) func() {
			tx, err := e.DB.Beginx()
			require.NoError(t, err)
			_, err = tx.Exec(`SELECT id FROM oauth2_provider_accesstoken WHERE id = $1 FOR UPDATE`, id)
			require.NoError(t, err)
			return func() { tx.Rollback() } //nolint:errcheck
		},
		lockStatement:   "pg_try_advisory_xact_lock",
		lockedStatement: "SELECT pid, virtualtransaction FROM pg_locks",
		fenceStatement:  "AND granted AND pid",
		full:            "too many clients",
		timedOut:        "canceling statement due to statement timeout",
	}
}

func mysqlFaultServer(t *testing.T) *faultServer {
	n := sqlstoretest.StartMariaDB(t, "max_connections=20")
	a := n.DB(t, "mysql")
	return &faultServer{
		name: "mysql", proto: faultproxy.MySQL, port: n.Port,
		newDB: func(t *testing.T) *sqlstoretest.Env { return n.NewDatabase(t, sqlstoretest.DOT341) },
		admin: func(t *testing.T) *sqlx.DB { return n.DB(t, "mysql") },
		kill: func(t *testing.T, id int64) {
			_, err := a.Exec(fmt.Sprintf(`KILL CONNECTION %d`, id))
			require.NoError(t, err)
			waitGone(t, a, `SELECT count(*) FROM information_schema.PROCESSLIST WHERE ID = ?`, id)
		},
		restart: func(t *testing.T, _ string) { n.Kill(); n.Wait(); n.Start(t) },
		stop:    func(t *testing.T) { n.Kill(); n.Wait() },
		start:   func(t *testing.T) { n.Start(t) },
		timeoutURL: func(t *testing.T, e *sqlstoretest.Env) string {
			return e.URL + "?max_statement_time=1"
		},
		rowLock: func(t *testing.T, e *sqlstoretest.Env, id int64) func() {
			tx, err := e.DB.Beginx()
			require.NoError(t, err)
			_, err = tx.Exec(`SELECT id FROM oauth2_provider_accesstoken WHERE id = ? FOR UPDATE`, id)
			require.NoError(t, err)
			return func() { tx.Rollback() } //nolint:errcheck
		},
		lockStatement:   "GET_LOCK",
		lockedStatement: "oauthkit:run:", // the run's own lock's name, bound
		fenceStatement:  "IS_USED_LOCK",
		full:            "Too many connections",
		timedOut:        "max_statement_time exceeded",
	}
}

// waitGone polls q (a count of the session id) until it is 0.
func waitGone(t *testing.T, db *sqlx.DB, q string, id int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := db.Get(&n, db.Rebind(q), id); err == nil && n == 0 {
			return
		}
		require.True(t, time.Now().Before(deadline), "session %d is still there", id)
		time.Sleep(50 * time.Millisecond)
	}
}

// hog holds every connection the server still takes, until released.
type hog struct{ conns []*sqlx.DB }

func fill(t *testing.T, s *faultServer, want string) *hog {
	t.Helper()
	h := &hog{}
	for i := 0; i < 200; i++ {
		db := s.admin(t)
		db.SetMaxOpenConns(1)
		err := db.Ping()
		if err != nil {
			require.Contains(t, err.Error(), want, "the server refuses for being full")
			db.Close()
			return h
		}
		h.conns = append(h.conns, db)
	}
	t.Fatal("the server never refused a connection")
	return nil
}

func (h *hog) release() {
	for _, db := range h.conns {
		db.Close()
	}
}

// faultBed is one fault test's database, its reference, and the proxy.
type faultBed struct {
	s       *faultServer
	e       *sqlstoretest.Env
	want    map[string][]int64 // what an uninterrupted run leaves
	proxy   *faultproxy.Proxy
	base    time.Time
	lockTo  int64 // the server id of the lock's connection, once taken
	lockMu  sync.Mutex
	baseURL string // e's URL as the run is given it, before the proxy
}

const faultBatch = "10"

func newFaultBed(t *testing.T, s *faultServer) *faultBed {
	b := &faultBed{s: s, base: time.Now().Add(-time.Minute).UTC().Truncate(time.Second)}
	b.e, b.baseURL = s.newDB(t), ""
	ref := s.newDB(t)
	b.e.SeedMix(t, 240, b.base)
	ref.SeedMix(t, 240, b.base)
	require.Equal(t, ref.Snapshot(t), b.e.Snapshot(t), "identical copies")
	r := b.run(t, ref.URL)
	require.Equal(t, 0, r.code, r.stderr)
	b.want = ref.Snapshot(t)
	require.NotEqual(t, b.want, b.e.Snapshot(t), "the run has work to do")
	p, err := faultproxy.Start(fmt.Sprintf("127.0.0.1:%d", s.port), s.proto)
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	b.proxy = p
	p.Watch("COMMIT")
	p.On(s.lockStatement, 1, func(c *faultproxy.Conn) faultproxy.Verdict {
		b.lockMu.Lock()
		b.lockTo = c.ServerID()
		b.lockMu.Unlock()
		return faultproxy.Forward
	})
	return b
}

// through is u with the proxy's port for the server's.
func (b *faultBed) through(u string) string {
	return strings.Replace(u, fmt.Sprintf(":%d/", b.s.port), fmt.Sprintf(":%d/", b.proxy.Port()), 1)
}

// run runs cleartokens on url, at the bed's fixed now, in small batches.
func (b *faultBed) run(t *testing.T, url string, args ...string) result {
	t.Helper()
	args = append([]string{"--batch-size", faultBatch, "--before", b.base.Format(time.RFC3339)}, args...)
	return runCmd(t, t.TempDir(), append([]string{"DATABASE_URL=" + url}, settings34...), args...)
}

func (b *faultBed) lockConn() int64 {
	b.lockMu.Lock()
	defer b.lockMu.Unlock()
	return b.lockTo
}

// lastLine is the last line of stderr.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// finish asserts the rows an uninterrupted run leaves, and no dangling key.
func (b *faultBed) finish(t *testing.T) {
	t.Helper()
	assert.Equal(t, b.want, b.e.Snapshot(t), "the rows an uninterrupted run leaves")
	b.e.AssertNoDanglingKeys(t)
}

// A fault case: inject arms the proxy (or the server) before the run;
// fails is "" when the run must finish anyway, or what the last line of
// a run that exits 1 names; after undoes the fault before the rerun.
type faultCase struct {
	name   string
	args   []string
	url    func(t *testing.T, b *faultBed) string
	inject func(t *testing.T, b *faultBed)
	fails  string
	after  func(t *testing.T, b *faultBed)
}

func faultCases(s *faultServer) []faultCase {
	third := func(b *faultBed, pattern string, fn func(c *faultproxy.Conn) faultproxy.Verdict) {
		b.proxy.On(pattern, 3, fn)
	}
	var hogged *hog
	var unlock func()
	return []faultCase{
		{name: "batch connection's session killed", inject: func(t *testing.T, b *faultBed) {
			third(b, "COMMIT", func(c *faultproxy.Conn) faultproxy.Verdict { s.kill(t, c.ServerID()); return faultproxy.Forward })
		}},
		{name: "lock connection's session killed, lock taken again", inject: func(t *testing.T, b *faultBed) {
			third(b, s.fenceStatement, func(*faultproxy.Conn) faultproxy.Verdict { s.kill(t, b.lockConn()); return faultproxy.Forward })
		}},
		{name: "server restarted (fast)", inject: func(t *testing.T, b *faultBed) {
			third(b, "COMMIT", func(*faultproxy.Conn) faultproxy.Verdict { s.restart(t, "fast"); return faultproxy.Forward })
		}},
		{name: "server restarted (immediate, or SIGKILL)", inject: func(t *testing.T, b *faultBed) {
			third(b, "COMMIT", func(*faultproxy.Conn) faultproxy.Verdict { s.restart(t, "immediate"); return faultproxy.Forward })
		}},
		{name: "server down beyond the retry budget", args: []string{"--retries", "1"}, inject: func(t *testing.T, b *faultBed) {
			third(b, "COMMIT", func(*faultproxy.Conn) faultproxy.Verdict { s.stop(t); return faultproxy.Forward })
		}, fails: "batch failed after 1 retries", after: func(t *testing.T, _ *faultBed) { s.start(t) }},
		{name: "network stalls for longer than the statement timeout", args: []string{"--statement-timeout", "1s"}, inject: func(t *testing.T, b *faultBed) {
			third(b, "COMMIT", func(*faultproxy.Conn) faultproxy.Verdict {
				b.proxy.Pause()
				time.Sleep(4 * time.Second)
				b.proxy.Resume()
				return faultproxy.Forward
			})
		}},
		{name: "connection dropped mid-statement", inject: func(t *testing.T, b *faultBed) {
			third(b, "DELETE", func(*faultproxy.Conn) faultproxy.Verdict { return faultproxy.ForwardThenDrop })
		}},
		{name: "connection dropped between COMMIT and its answer", inject: func(t *testing.T, b *faultBed) {
			third(b, "COMMIT", func(*faultproxy.Conn) faultproxy.Verdict { return faultproxy.DropAnswer })
		}},
		{name: "statement timed out by the server", args: []string{"--retries", "1"},
			url: func(t *testing.T, b *faultBed) string { return b.through(s.timeoutURL(t, b.e)) },
			inject: func(t *testing.T, b *faultBed) {
				var id int64
				require.NoError(t, b.e.DB.Get(&id, b.e.DB.Rebind(`SELECT min(id) FROM oauth2_provider_accesstoken WHERE expires < ?`), b.e.Time(b.base)))
				unlock = s.rowLock(t, b.e, id)
			}, fails: s.timedOut, after: func(*testing.T, *faultBed) { unlock() }},
		{name: "server full for a while", inject: func(t *testing.T, b *faultBed) {
			third(b, "COMMIT", func(c *faultproxy.Conn) faultproxy.Verdict {
				s.kill(t, c.ServerID())
				h := fill(t, s, s.full)
				time.AfterFunc(time.Second, h.release)
				return faultproxy.Forward
			})
		}},
		{name: "server full beyond the retry budget", args: []string{"--retries", "1"}, inject: func(t *testing.T, b *faultBed) {
			third(b, "COMMIT", func(c *faultproxy.Conn) faultproxy.Verdict {
				s.kill(t, c.ServerID())
				hogged = fill(t, s, s.full)
				return faultproxy.Forward
			})
		}, fails: s.full, after: func(*testing.T, *faultBed) { hogged.release() }},
	}
}

func TestFaults(t *testing.T) {
	for _, mk := range []func(*testing.T) *faultServer{postgresFaultServer, mysqlFaultServer} {
		t.Run("", func(t *testing.T) {
			t.Parallel()
			s := mk(t)
			for _, fc := range faultCases(s) {
				t.Run(s.name+"/"+fc.name, func(t *testing.T) {
					b := newFaultBed(t, s)
					url := b.through(b.e.URL)
					if fc.url != nil {
						url = fc.url(t, b)
					}
					// The fault is undone before the rerun, or when the case
					// ends early, so that the next case has a server.
					var once sync.Once
					undo := func() {
						if fc.after != nil {
							once.Do(func() { fc.after(t, b) })
						}
					}
					t.Cleanup(undo)
					fc.inject(t, b)
					r := b.run(t, url, fc.args...)
					t.Logf("exit %d, %d commits; stderr:\n%s", r.code, len(b.proxy.Seen("COMMIT")), r.stderr)
					if fc.fails == "" {
						require.Equal(t, 0, r.code, "the run finishes despite the fault:\n%s", r.stderr)
						b.finish(t)
						return
					}
					require.Equal(t, 1, r.code, r.stderr)
					assert.Contains(t, strings.ToLower(lastLine(r.stderr)), strings.ToLower(fc.fails), "the last line names the fault")
					undo()
					b.e.AssertNoDanglingKeys(t)
					r = b.run(t, b.through(b.e.URL))
					require.Equal(t, 0, r.code, "the rerun finishes the work:\n%s", r.stderr)
					b.finish(t)
				})
			}
			t.Run(s.name+"/lock connection's session killed while another run waits", func(t *testing.T) { lostLockWithAWaiter(t, s) })
		})
	}
}

// The lock's session is killed while a second run waits with --wait: the
// waiter takes the lock and cleans; the first run, caught in a batch
// (its rows deleted, not yet committed), is fenced: that batch is rolled
// back, and the run stops (another run holds the lock now). The two runs
// never commit in the same interval.
func lostLockWithAWaiter(t *testing.T, s *faultServer) {
	b := newFaultBed(t, s)
	pb, err := faultproxy.Start(fmt.Sprintf("127.0.0.1:%d", s.port), s.proto)
	require.NoError(t, err)
	t.Cleanup(func() { pb.Close() })
	pb.Watch("COMMIT")
	pb.Watch(s.lockedStatement)
	pb.Watch(s.lockStatement)
	env := append([]string{"DATABASE_URL=" + strings.Replace(b.e.URL, fmt.Sprintf(":%d/", s.port), fmt.Sprintf(":%d/", pb.Port()), 1)}, settings34...)
	waiter := exec.Command(binary, "--wait", "--batch-size", faultBatch, "--before", b.base.Format(time.RFC3339))
	waiter.Env = env
	var waiterOut, waiterErr strings.Builder
	waiter.Stdout, waiter.Stderr = &waiterOut, &waiterErr

	var caught, killed time.Time
	b.proxy.On(s.fenceStatement, 3, func(*faultproxy.Conn) faultproxy.Verdict {
		caught = time.Now()
		require.NoError(t, waiter.Start())
		waitFor(t, "the waiter to try the lock", func() bool { return len(pb.Seen(s.lockStatement)) > 0 })
		s.kill(t, b.lockConn())
		killed = time.Now()
		// The waiter took the lock; its first batch then waits for this
		// run's batch, whose rows it locked.
		waitFor(t, "the waiter to take the lock", func() bool { return len(pb.Seen(s.lockedStatement)) > 0 })
		return faultproxy.Forward
	})
	r := b.run(t, b.through(b.e.URL))
	require.False(t, caught.IsZero(), "the third batch's fence ran")
	require.Equal(t, 1, r.code, r.stderr)
	last := lastLine(r.stderr)
	assert.Contains(t, last, "lock was lost")
	assert.Contains(t, last, "another run holds it now")
	require.NoError(t, waiter.Wait(), "the waiter finishes: %s", waiterErr.String())
	for _, c := range b.proxy.Seen("COMMIT") {
		assert.True(t, c.Before(caught), "the first run committed nothing once its lock was gone")
	}
	for _, c := range pb.Seen("COMMIT") {
		assert.True(t, c.After(killed), "the waiter committed only once it held the lock")
	}
	t.Logf("first run: %d commits; waiter: %d commits", len(b.proxy.Seen("COMMIT")), len(pb.Seen("COMMIT")))
	b.finish(t)
}

// waitFor polls cond for up to a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "waiting for %s", what)
		time.Sleep(20 * time.Millisecond)
	}
}
