// Package faulttest holds what the fault-injection tests of the commands
// share: private servers (a PostgreSQL cluster, a MariaDB) started for
// the test, and what a test does to them (kill a session, restart, fill
// every connection slot, time statements out).
package faulttest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/internal/faultproxy"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// Server is a private server and what a fault test does to it.
type Server struct {
	// Name is "postgres" or "mysql"; Proto, how the proxy reads it.
	Name  string
	Proto faultproxy.Protocol
	Port  int
	// NewDB makes a database with layout l's tables; Admin opens a handle
	// on the server's own database.
	NewDB func(t testing.TB, l sqlstoretest.Layout) *sqlstoretest.Env
	Admin func(t *testing.T) *sqlx.DB
	// Kill ends one connection's session on the server, and returns once
	// it is gone.
	Kill func(t *testing.T, id int64)
	// Restart restarts the server (mode: pg_ctl's for PostgreSQL; MariaDB
	// is killed with SIGKILL whatever the mode); Stop and Start do half.
	Restart     func(t *testing.T, mode string)
	Stop, Start func(t *testing.T)
	// TimeoutURL returns e's URL with a server-side statement timeout of
	// one second for the sessions it opens.
	TimeoutURL func(t *testing.T, e *sqlstoretest.Env) string
	// RowLock opens a transaction that holds a row lock on the access
	// token id, which batches then wait for.
	RowLock func(t *testing.T, e *sqlstoretest.Env, id int64) (release func())
	// The statements that take the single-runner lock, that follow only
	// once it is taken, and that fence a batch, as the driver sends them.
	LockStatement, LockedStatement, FenceStatement string
	// Words of the errors a full server and a server-side statement
	// timeout give.
	Full, TimedOut string
}

// Postgres is a private PostgreSQL cluster (max_connections=20).
func Postgres(t *testing.T) *Server {
	c := sqlstoretest.StartPostgres(t, "max_connections=20")
	admin := func(t *testing.T) *sqlx.DB {
		db, err := sqlx.Open("postgres", c.URL("postgres"))
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })
		return db
	}
	a := admin(t)
	return &Server{
		Name: "postgres", Proto: faultproxy.Postgres, Port: c.Port,
		NewDB: c.NewDatabase,
		Admin: admin,
		Kill: func(t *testing.T, pid int64) {
			_, err := a.Exec(`SELECT pg_terminate_backend($1)`, pid)
			require.NoError(t, err)
			waitGone(t, a, `SELECT count(*) FROM pg_stat_activity WHERE pid = $1`, pid)
		},
		Restart: func(t *testing.T, mode string) { c.Restart(t, mode) },
		Stop:    func(t *testing.T) { c.Stop(t, "fast") },
		Start:   func(t *testing.T) { c.Start(t) },
		TimeoutURL: func(t *testing.T, e *sqlstoretest.Env) string {
			return e.URL + "&options=-c%20statement_timeout%3D1000"
		},
		RowLock: func(t *testing.T, e *sqlstoretest.Env, id int64) func() {
			tx, err := e.DB.Beginx()
			require.NoError(t, err)
			_, err = tx.Exec(`SELECT id FROM oauth2_provider_accesstoken WHERE id = $1 FOR UPDATE`, id)
			require.NoError(t, err)
			return func() { tx.Rollback() } //nolint:errcheck
		},
		LockStatement:   "pg_try_advisory_xact_lock",
		LockedStatement: "SELECT pid, virtualtransaction FROM pg_locks",
		FenceStatement:  "AND granted AND pid",
		Full:            "too many clients",
		TimedOut:        "canceling statement due to statement timeout",
	}
}

// MySQL is a private MariaDB (max_connections=20).
func MySQL(t *testing.T) *Server {
	n := sqlstoretest.StartMariaDB(t, "max_connections=20")
	a := n.DB(t, "mysql")
	return &Server{
		Name: "mysql", Proto: faultproxy.MySQL, Port: n.Port,
		NewDB: n.NewDatabase,
		Admin: func(t *testing.T) *sqlx.DB { return n.DB(t, "mysql") },
		Kill: func(t *testing.T, id int64) {
			_, err := a.Exec(fmt.Sprintf(`KILL CONNECTION %d`, id))
			require.NoError(t, err)
			waitGone(t, a, `SELECT count(*) FROM information_schema.PROCESSLIST WHERE ID = ?`, id)
		},
		Restart: func(t *testing.T, _ string) { n.Kill(); n.Wait(); n.Start(t) },
		Stop:    func(t *testing.T) { n.Kill(); n.Wait() },
		Start:   func(t *testing.T) { n.Start(t) },
		TimeoutURL: func(t *testing.T, e *sqlstoretest.Env) string {
			return e.URL + "?max_statement_time=1"
		},
		RowLock: func(t *testing.T, e *sqlstoretest.Env, id int64) func() {
			tx, err := e.DB.Beginx()
			require.NoError(t, err)
			_, err = tx.Exec(`SELECT id FROM oauth2_provider_accesstoken WHERE id = ? FOR UPDATE`, id)
			require.NoError(t, err)
			return func() { tx.Rollback() } //nolint:errcheck
		},
		LockStatement:   "GET_LOCK",
		LockedStatement: "oauthkit:run:", // the run's own lock's name, bound
		FenceStatement:  "IS_USED_LOCK",
		Full:            "Too many connections",
		TimedOut:        "max_statement_time exceeded",
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

// Hog holds every connection the server still takes, until released.
type Hog struct{ Conns []*sqlx.DB }

// Fill opens connections until the server refuses one with an error
// holding want, and holds them.
func Fill(t *testing.T, s *Server, want string) *Hog {
	t.Helper()
	h := &Hog{}
	for i := 0; i < 200; i++ {
		db := s.Admin(t)
		db.SetMaxOpenConns(1)
		err := db.Ping()
		if err != nil {
			require.Contains(t, err.Error(), want, "the server refuses for being full")
			db.Close()
			return h
		}
		h.Conns = append(h.Conns, db)
	}
	t.Fatal("the server never refused a connection")
	return nil
}

// Release closes the connections held (nothing on a nil Hog: a case's
// undo may run after its fault failed to set in, and a cleanup that
// panics would skip the later ones, which stop the servers).
func (h *Hog) Release() {
	if h == nil {
		return
	}
	for _, db := range h.Conns {
		db.Close()
	}
}

// Kind is a kind of private server, by name.
type Kind struct {
	Name  string
	Start func(*testing.T) *Server
}

// Kinds are the private servers a fault test runs on.
var Kinds = []Kind{{"postgres", Postgres}, {"mysql", MySQL}}

// Through is URL u (of server s) with port's for the server's.
func (s *Server) Through(u string, port int) string {
	return strings.Replace(u, fmt.Sprintf(":%d/", s.Port), fmt.Sprintf(":%d/", port), 1)
}

// Proxy starts a fault proxy in front of the server, closed when the test
// ends.
func (s *Server) Proxy(t *testing.T) *faultproxy.Proxy {
	p, err := faultproxy.Start(fmt.Sprintf("127.0.0.1:%d", s.Port), s.Proto)
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

// WaitFor polls cond for up to a minute.
func WaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "waiting for %s", what)
		time.Sleep(20 * time.Millisecond)
	}
}

// LastLine is the last line of s.
func LastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// FillInstead ends c's session and fills the server, c's slot included,
// while the proxy is paused, so that the client learns of the loss only
// once the server is full (else it would reconnect into the freed slot).
func (s *Server) FillInstead(t *testing.T, p *faultproxy.Proxy, c *faultproxy.Conn) *Hog {
	p.Pause()
	defer p.Resume()
	s.Kill(t, c.ServerID())
	return Fill(t, s, s.Full)
}
