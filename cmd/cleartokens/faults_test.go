package main_test

// The fault-injection suite: cleartokens on a server of the test's own
// (a private PostgreSQL cluster, a private MariaDB), reached through a
// fault proxy, with a fault injected at a chosen statement of the run.
// Every run either finishes with exactly the rows an uninterrupted run
// leaves on an identical copy, or exits 1 with a last line naming the
// fault, leaving whole batches only, after which a rerun finishes the
// work. No foreign key ever dangles.

import (
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/internal/faultproxy"
	"github.com/oauthkit/oauthkit/internal/faulttest"
	"github.com/oauthkit/oauthkit/internal/testcmd"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// faultBed is one fault test's database, its reference, and the proxy.
type faultBed struct {
	s      *faulttest.Server
	e      *sqlstoretest.Env
	want   map[string][]int64 // what an uninterrupted run leaves
	proxy  *faultproxy.Proxy
	base   time.Time
	lockTo int64 // the server id of the lock's connection, once taken
	lockMu sync.Mutex
	fired  atomic.Bool // the fault was injected
	// settings are the rules of the layout's DOT.
	settings []string
}

const faultBatch = "10"

func newFaultBed(t *testing.T, s *faulttest.Server, l sqlstoretest.Layout) *faultBed {
	b := &faultBed{s: s, base: time.Now().Add(-time.Minute).UTC().Truncate(time.Second)}
	b.settings = settings34
	if !l.AtLeast(sqlstoretest.DOT341) {
		b.settings = []string{"CLEARTOKENS_RULES=dot-3.3", "REFRESH_TOKEN_EXPIRE_SECONDS=86400"}
	}
	b.e = s.NewDB(t, l)
	ref := s.NewDB(t, l)
	b.e.SeedMix(t, 240, b.base)
	ref.SeedMix(t, 240, b.base)
	require.Equal(t, ref.Snapshot(t), b.e.Snapshot(t), "identical copies")
	r := b.run(t, ref.URL)
	require.Equal(t, 0, r.code, r.stderr)
	b.want = ref.Snapshot(t)
	require.NotEqual(t, b.want, b.e.Snapshot(t), "the run has work to do")
	p := s.Proxy(t)
	b.proxy = p
	p.Watch("COMMIT")
	p.On(s.LockStatement, 1, func(c *faultproxy.Conn) faultproxy.Verdict {
		b.lockMu.Lock()
		b.lockTo = c.ServerID()
		b.lockMu.Unlock()
		return faultproxy.Forward
	})
	return b
}

// through is u with the proxy's port for the server's.
func (b *faultBed) through(u string) string {
	return b.s.Through(u, b.proxy.Port())
}

// run runs cleartokens on url, at the bed's fixed now, in small batches.
func (b *faultBed) run(t *testing.T, url string, args ...string) result {
	t.Helper()
	args = append([]string{"--batch-size", faultBatch, "--before", b.base.Format(time.RFC3339)}, args...)
	return runCmd(t, t.TempDir(), append([]string{"DATABASE_URL=" + url}, b.settings...), args...)
}

func (b *faultBed) lockConn() int64 {
	b.lockMu.Lock()
	defer b.lockMu.Unlock()
	return b.lockTo
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

func faultCases(s *faulttest.Server) []faultCase {
	third := func(b *faultBed, pattern string, fn func(c *faultproxy.Conn) faultproxy.Verdict) {
		b.proxy.On(pattern, 3, func(c *faultproxy.Conn) faultproxy.Verdict { b.fired.Store(true); return fn(c) })
	}
	var hogged *faulttest.Hog
	var unlock func()
	return []faultCase{
		{name: "batch connection's session killed", inject: func(t *testing.T, b *faultBed) {
			third(b, "COMMIT", func(c *faultproxy.Conn) faultproxy.Verdict { s.Kill(t, c.ServerID()); return faultproxy.Forward })
		}},
		{name: "lock connection's session killed, lock taken again", inject: func(t *testing.T, b *faultBed) {
			third(b, s.FenceStatement, func(*faultproxy.Conn) faultproxy.Verdict { s.Kill(t, b.lockConn()); return faultproxy.Forward })
		}},
		{name: "server restarted (fast)", inject: func(t *testing.T, b *faultBed) {
			third(b, "COMMIT", func(*faultproxy.Conn) faultproxy.Verdict { s.Restart(t, "fast"); return faultproxy.Forward })
		}},
		{name: "server restarted (immediate, or SIGKILL)", inject: func(t *testing.T, b *faultBed) {
			third(b, "COMMIT", func(*faultproxy.Conn) faultproxy.Verdict { s.Restart(t, "immediate"); return faultproxy.Forward })
		}},
		{name: "server down beyond the retry budget", args: []string{"--retries", "1"}, inject: func(t *testing.T, b *faultBed) {
			third(b, "COMMIT", func(*faultproxy.Conn) faultproxy.Verdict { s.Stop(t); return faultproxy.Forward })
		}, fails: "batch failed after 1 retries", after: func(t *testing.T, _ *faultBed) { s.Start(t) }},
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
			url: func(t *testing.T, b *faultBed) string { return b.through(s.TimeoutURL(t, b.e)) },
			inject: func(t *testing.T, b *faultBed) {
				var id int64
				require.NoError(t, b.e.DB.Get(&id, b.e.DB.Rebind(`SELECT min(id) FROM oauth2_provider_accesstoken WHERE expires < ?`), b.e.Time(b.base)))
				unlock = s.RowLock(t, b.e, id)
			}, fails: s.TimedOut, after: func(*testing.T, *faultBed) {
				if unlock != nil {
					unlock()
				}
			}},
		{name: "server full for a while", inject: func(t *testing.T, b *faultBed) {
			third(b, "COMMIT", func(c *faultproxy.Conn) faultproxy.Verdict {
				h := s.FillInstead(t, b.proxy, c)
				time.AfterFunc(time.Second, h.Release)
				return faultproxy.Forward
			})
		}},
		{name: "server full beyond the retry budget", args: []string{"--retries", "1"}, inject: func(t *testing.T, b *faultBed) {
			third(b, "COMMIT", func(c *faultproxy.Conn) faultproxy.Verdict {
				hogged = s.FillInstead(t, b.proxy, c)
				return faultproxy.Forward
			})
		}, fails: s.Full, after: func(*testing.T, *faultBed) { hogged.Release() }},
	}
}

func TestFaults(t *testing.T) {
	for _, k := range faulttest.Kinds {
		t.Run(k.Name, func(t *testing.T) {
			t.Parallel()
			s := k.Start(t)
			for _, fc := range faultCases(s) {
				for _, l := range []sqlstoretest.Layout{sqlstoretest.DOT301, sqlstoretest.DOT341} {
					t.Run("dot-"+string(l)+"/"+fc.name, func(t *testing.T) {
						b := newFaultBed(t, s, l)
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
						if fc.url == nil {
							require.True(t, b.fired.Load(), "the fault was injected")
						}
						if fc.fails == "" {
							require.Equal(t, 0, r.code, "the run finishes despite the fault:\n%s", r.stderr)
							b.finish(t)
							return
						}
						require.Equal(t, 1, r.code, r.stderr)
						assert.Contains(t, strings.ToLower(faulttest.LastLine(r.stderr)), strings.ToLower(fc.fails), "the last line names the fault")
						undo()
						b.e.AssertNoDanglingKeys(t)
						r = b.run(t, b.through(b.e.URL))
						require.Equal(t, 0, r.code, "the rerun finishes the work:\n%s", r.stderr)
						b.finish(t)
					})
				}
			}
			t.Run("lock connection's session killed while another run waits", func(t *testing.T) { lostLockWithAWaiter(t, s) })
		})
	}
}

// The lock's session is killed while a second run waits with --wait: the
// waiter takes the lock and cleans; the first run, caught in a batch
// (its rows deleted, not yet committed), is fenced: that batch is rolled
// back, and the run stops (another run holds the lock now). The two runs
// never commit in the same interval.
func lostLockWithAWaiter(t *testing.T, s *faulttest.Server) {
	b := newFaultBed(t, s, sqlstoretest.DOT341)
	pb := s.Proxy(t)
	pb.Watch("COMMIT")
	pb.Watch(s.LockedStatement)
	pb.Watch(s.LockStatement)
	env := append([]string{"DATABASE_URL=" + s.Through(b.e.URL, pb.Port())}, b.settings...)
	waiter := exec.Command(binary, "--wait", "--batch-size", faultBatch, "--before", b.base.Format(time.RFC3339))
	waiter.Env = env
	var waiterOut, waiterErr strings.Builder
	waiter.Stdout, waiter.Stderr = &waiterOut, &waiterErr

	var caught, killed time.Time
	b.proxy.On(s.FenceStatement, 3, func(*faultproxy.Conn) faultproxy.Verdict {
		caught = time.Now()
		require.NoError(t, waiter.Start())
		faulttest.WaitFor(t, "the waiter to try the lock", func() bool { return len(pb.Seen(s.LockStatement)) > 0 })
		s.Kill(t, b.lockConn())
		killed = time.Now()
		// The waiter took the lock; its first batch then waits for this
		// run's batch, whose rows it locked.
		faulttest.WaitFor(t, "the waiter to take the lock", func() bool { return len(pb.Seen(s.LockedStatement)) > 0 })
		return faultproxy.Forward
	})
	r := b.run(t, b.through(b.e.URL))
	require.False(t, caught.IsZero(), "the third batch's fence ran")
	require.Equal(t, 1, r.code, r.stderr)
	last := faulttest.LastLine(r.stderr)
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

// On a stalled network lib/pq cancels a statement only when the network
// is back (it sends PostgreSQL's cancel request and waits for the
// answer), so the run waits out the stall in one attempt; pgx closes the
// connection at the deadline, so the run built on it gives up at every
// --statement-timeout and tries again until the network is back. Both
// finish with the rows of an uninterrupted run.
func TestStallOnPgx(t *testing.T) {
	t.Parallel()
	s := faulttest.Postgres(t)
	pgxBinary, cleanup := testcmd.BuildTags("cleartokens", ".", "oauthkit_pgx")
	t.Cleanup(cleanup)
	retries := map[string]int{}
	for name, bin := range map[string]string{"lib/pq": binary, "pgx": pgxBinary} {
		b := newFaultBed(t, s, sqlstoretest.DOT341)
		b.proxy.On("COMMIT", 3, func(*faultproxy.Conn) faultproxy.Verdict {
			b.proxy.Pause()
			time.Sleep(5 * time.Second)
			b.proxy.Resume()
			return faultproxy.Forward
		})
		args := []string{"--batch-size", faultBatch, "--before", b.base.Format(time.RFC3339), "--statement-timeout", "1s"}
		r := testcmd.Run(t, bin, t.TempDir(), append([]string{"DATABASE_URL=" + b.through(b.e.URL)}, b.settings...), "", args...)
		require.Equal(t, 0, r.Code, "%s: %s", name, r.Stderr)
		b.finish(t)
		retries[name] = strings.Count(r.Stderr, "batch failed, retrying")
		t.Logf("%s: %d retries:\n%s", name, retries[name], r.Stderr)
	}
	assert.LessOrEqual(t, retries["lib/pq"], 1, "lib/pq waits out the stall in one attempt")
	assert.GreaterOrEqual(t, retries["pgx"], 2, "pgx gives up at each deadline")
}
