package sqlstoretest

// Servers of a test's own, which it may restart, kill or starve without
// disturbing the shared ones: the fault-injection tests.

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"
)

// StartPostgres starts a private PostgreSQL server (initdb, then pg_ctl)
// on a free loopback port, with settings as -c name=value options; it is
// stopped and removed when the test ends.
func StartPostgres(t testing.TB, settings ...string) *Cluster {
	t.Helper()
	PostgresURL(t) // the PostgreSQL tests are on
	bin := PostgresBin(t)
	c := &Cluster{Port: FreePort(t), Dir: filepath.Join(serviceDir(t, "pg"), "data"), bin: bin, settings: settings}
	out, err := asService(filepath.Join(bin, "initdb"), "-D", c.Dir, "-U", serviceUser, "--auth=trust", "--no-sync", "-E", "UTF8").CombinedOutput()
	require.NoError(t, err, "initdb:\n%s", out)
	c.start(t)
	return c
}

// Restart restarts the server with pg_ctl restart -m mode ("fast": the
// sessions are ended and the server shuts down cleanly; "immediate": it
// stops without a checkpoint and recovers from WAL at start).
func (c *Cluster) Restart(t testing.TB, mode string) {
	t.Helper()
	c.Stop(t, mode)
	c.start(t)
}

// Stop stops the server with pg_ctl stop -m mode. It waits up to five
// minutes, not pg_ctl's default of one: on a 2-core machine beside a CPU
// burner a fast shutdown once took longer than a minute.
func (c *Cluster) Stop(t testing.TB, mode string) {
	t.Helper()
	out, err := asService(filepath.Join(c.bin, "pg_ctl"), "stop", "-w", "-t", "300", "-m", mode, "-D", c.Dir).CombinedOutput()
	require.NoError(t, err, "pg_ctl stop -m %s:\n%s", mode, out)
}

// Start starts a stopped server again.
func (c *Cluster) Start(t testing.TB) {
	t.Helper()
	c.start(t)
}

// NewDatabase creates a database on the server with layout l's tables and
// returns an Env on it.
func (c *Cluster) NewDatabase(t testing.TB, l Layout) *Env {
	t.Helper()
	name := "oauthkit_" + randomHex(6)
	admin, err := sqlx.Open("postgres", c.URL("postgres"))
	require.NoError(t, err)
	defer admin.Close()
	_, err = admin.Exec(`CREATE DATABASE ` + name)
	require.NoError(t, err)
	return NewPostgresAt(t, c.URL(name), l)
}

// StartMariaDB starts a private MariaDB server (mariadb-install-db, then
// mariadbd) on a free loopback port, with settings as my.cnf lines; it is
// stopped and removed when the test ends.
func StartMariaDB(t testing.TB, settings ...string) *MariaDBServer {
	t.Helper()
	MySQLURL(t) // the MySQL tests are on
	if _, err := os.Stat("/usr/sbin/mariadbd"); err != nil {
		if os.Getenv("OAUTHKIT_REQUIRE_MYSQL") == "1" {
			t.Fatal("/usr/sbin/mariadbd is missing and OAUTHKIT_REQUIRE_MYSQL=1")
		}
		t.Skip("/usr/sbin/mariadbd is missing: skipping the private MariaDB")
	}
	root, err := os.MkdirTemp("", "oauthkit-mariadb-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(root) })
	require.NoError(t, os.Chmod(root, 0o755))
	n := &MariaDBServer{Name: "mariadb", Port: FreePort(t), dir: root}
	if os.Geteuid() == 0 {
		u, err := user.Lookup(galeraUser)
		require.NoError(t, err)
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		require.NoError(t, os.Chown(root, uid, gid))
	}
	// The port goes into my.cnf; should another listener take it before
	// the server binds it, the server starts again on another.
	writeConf := func() {
		cnf := n.baseConf() + "innodb_buffer_pool_size=32M\ninnodb_flush_log_at_trx_commit=2\nskip-log-bin\n"
		for _, s := range settings {
			cnf += s + "\n"
		}
		require.NoError(t, os.WriteFile(filepath.Join(root, "my.cnf"), []byte(cnf), 0o644))
	}
	writeConf()
	n.installDB(t)
	for attempt := 1; ; attempt++ {
		err := n.startErr(t)
		if err == nil {
			break
		}
		if !errors.Is(err, errPortTaken) || attempt == 5 {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(root, "error.log"))
		n.Port = FreePort(t)
		writeConf()
	}
	n.rootOverTCP(t)
	return n
}

// Start starts a server that was killed again, on the same folder.
func (n *MariaDBServer) Start(t testing.TB) {
	t.Helper()
	n.start(t)
}

// Wait waits until the killed server's process has exited.
func (n *MariaDBServer) Wait() { <-n.exited }

// NewDatabase creates a database on the server with layout l's tables and
// returns an Env on it.
func (n *MariaDBServer) NewDatabase(t testing.TB, l Layout) *Env {
	t.Helper()
	name := "oauthkit_" + randomHex(6)
	_, err := n.DB(t, "mysql").Exec("CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
	require.NoError(t, err)
	return openStore(t, loadMySQL(t, n.URL(name), l))
}
