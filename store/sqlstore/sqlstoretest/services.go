package sqlstoretest

import (
	"fmt"
	mathrand "math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"
)

// requireTool finds a program the test needs, or skips the test; under
// OAUTHKIT_REQUIRE_POSTGRES=1 (as in CI, which installs it) it fails.
func requireTool(t testing.TB, name string, paths ...string) string {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv("OAUTHKIT_REQUIRE_POSTGRES") == "1" {
		t.Fatalf("%s is not installed (.ci/run installs it) and OAUTHKIT_REQUIRE_POSTGRES=1", name)
	}
	t.Skipf("%s is not installed: skipping (.ci/run installs it)", name)
	return ""
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on now,
// for a server a test starts. It is chosen below the kernel's ephemeral
// range (Linux: 32768 and up), from which a port the kernel hands out
// would be: between this check and the server's bind, any outgoing
// connection of the busy test run could take an ephemeral port (a
// private MariaDB once failed so: "Address already in use"), while a
// port below the range goes only to a listener that asks for it.
func FreePort(t testing.TB) int {
	t.Helper()
	for i := 0; i < 1000; i++ {
		port := 20000 + int(portSeq.Add(1)*7919%12000) // spread over 20000..31999
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // taken
		}
		l.Close()
		return port
	}
	t.Fatal("no free TCP port on 127.0.0.1 between 20000 and 31999")
	return 0
}

// portSeq walks FreePort's candidates from a random point, so that the
// test binaries of several packages, running at once, walk apart.
var portSeq = func() *atomic.Int64 {
	var n atomic.Int64
	n.Store(mathrand.Int64N(12000))
	return &n
}()

// serviceDir makes a folder a service's own user can use: under /tmp,
// owned by postgres when the tests run as root (PostgreSQL and PgBouncer
// refuse to run as root).
func serviceDir(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "oauthkit-"+name+"-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	chownToService(t, dir)
	return dir
}

// serviceUser is the account services run as when the tests run as root.
const serviceUser = "postgres"

func chownToService(t testing.TB, path string) {
	if os.Geteuid() != 0 {
		return
	}
	u, err := user.Lookup(serviceUser)
	require.NoError(t, err, "running as root, the tests start services as the %s user", serviceUser)
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	require.NoError(t, os.Chown(path, uid, gid))
}

// asService runs a program as the service user when the tests run as root.
func asService(name string, args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", serviceUser, "--", name}, args...)...)
	}
	return exec.Command(name, args...)
}

func waitForPort(t testing.TB, port int, what string, logFile string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	log, _ := os.ReadFile(logFile)
	t.Fatalf("%s did not start listening on port %d:\n%s", what, port, log)
}

// PgBouncer is a PgBouncer started for one test.
type PgBouncer struct {
	Port int
	// base is the test server's URL, for the user name.
	base *url.URL
	dir  string
}

// StartPgBouncer starts PgBouncer (Debian's pgbouncer; .ci/run installs
// it) on a free loopback port in transaction pooling mode with a pool of
// 2 server connections per database, in front of the test PostgreSQL
// server, and stops it when the test ends.
func StartPgBouncer(t testing.TB) *PgBouncer {
	t.Helper()
	base, err := url.Parse(PostgresURL(t))
	require.NoError(t, err)
	bin := requireTool(t, "pgbouncer", "/usr/sbin/pgbouncer")
	dir := serviceDir(t, "pgbouncer")
	port := FreePort(t)
	host, pgPort := base.Hostname(), base.Port()
	if pgPort == "" {
		pgPort = "5432"
	}
	userName := base.User.Username()
	conf := fmt.Sprintf(`[databases]
* = host=%s port=%s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir = %s
auth_type = trust
auth_file = %s/users.txt
pool_mode = transaction
default_pool_size = 2
max_client_conn = 200
ignore_startup_parameters = extra_float_digits,search_path
logfile = %s/pgbouncer.log
pidfile = %s/pgbouncer.pid
`, host, pgPort, port, dir, dir, dir, dir)
	for name, content := range map[string]string{"pgbouncer.ini": conf, "users.txt": fmt.Sprintf("%q \"\"\n", userName)} {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		chownToService(t, p)
	}
	cmd := asService(bin, filepath.Join(dir, "pgbouncer.ini"))
	out, err := os.Create(filepath.Join(dir, "stdout.log"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = out, out
	// A process group of its own: as root the command is runuser, which
	// does not pass signals on to PgBouncer; the group reaches both, so no
	// PgBouncer outlives its test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		pgid := cmd.Process.Pid
		syscall.Kill(-pgid, syscall.SIGINT) //nolint:errcheck
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }() //nolint:errcheck
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		syscall.Kill(-pgid, syscall.SIGKILL) //nolint:errcheck // whatever is left of the group
		out.Close()
	})
	waitForPort(t, port, "pgbouncer", filepath.Join(dir, "pgbouncer.log"))
	return &PgBouncer{Port: port, base: base, dir: dir}
}

// Pid is the PgBouncer process's id, from its pid file.
func (b *PgBouncer) Pid(t testing.TB) int {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(b.dir, "pgbouncer.pid"))
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	require.NoError(t, err)
	return pid
}

// URL is the URL of database db through this PgBouncer.
func (b *PgBouncer) URL(db string) string {
	u := *b.base
	u.Host = fmt.Sprintf("127.0.0.1:%d", b.Port)
	u.Path = "/" + db
	q := u.Query()
	q.Del("search_path")
	q.Set("sslmode", "disable")
	u.RawQuery = q.Encode()
	return u.String()
}

// NewPostgresDatabase creates a database of its own on the test server
// (for what a schema cannot do: a pooler that ignores search_path),
// dropped when the test ends.
func NewPostgresDatabase(t testing.TB) string {
	t.Helper()
	admin, err := sqlx.Open("postgres", PostgresURL(t))
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close() })
	name := "oauthkit_test_" + randomHex(6)
	_, err = admin.Exec(`CREATE DATABASE ` + name)
	require.NoError(t, err)
	t.Cleanup(func() { admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`) }) //nolint:errcheck
	return name
}

// NewBehindPgBouncer makes a fresh database with layout l's tables, whose
// URL and Store go through a PgBouncer in transaction mode; DB, for
// seeding and inspecting, goes to the server directly.
func NewBehindPgBouncer(t testing.TB, b *PgBouncer, l Layout) *Env {
	t.Helper()
	name := NewPostgresDatabase(t)
	direct, err := url.Parse(PostgresURL(t))
	require.NoError(t, err)
	direct.Path = "/" + name
	q := direct.Query()
	q.Del("search_path")
	direct.RawQuery = q.Encode()
	raw, err := sqlx.Open("postgres", direct.String())
	require.NoError(t, err)
	t.Cleanup(func() { raw.Close() })
	_, err = raw.Exec(readSchema(t, "postgres", l))
	require.NoError(t, err)
	e := &Env{Dialect: "postgres", Layout: l, URL: b.URL(name), DB: raw}
	return openStore(t, e)
}

// PostgresBin is the folder of the PostgreSQL server programs (initdb,
// pg_ctl, pg_basebackup) of the newest version installed.
func PostgresBin(t testing.TB) string {
	t.Helper()
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		requireTool(t, "initdb")
		p, _ := exec.LookPath("initdb")
		return filepath.Dir(p)
	}
	best := matches[0]
	for _, m := range matches {
		if versionOf(m) > versionOf(best) {
			best = m
		}
	}
	return filepath.Dir(best)
}

func versionOf(initdb string) int {
	parts := strings.Split(initdb, "/")
	for _, p := range parts {
		if n, err := strconv.Atoi(p); err == nil {
			return n
		}
	}
	return 0
}

// Cluster is a private PostgreSQL server started for one test.
type Cluster struct {
	Port int
	Dir  string
	bin  string
	// settings are -c name=value options the server starts with.
	settings   []string
	cleanupSet bool
}

// URL is the URL of database db on the cluster.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", serviceUser, c.Port, db)
}

// StreamingPair makes a private primary (initdb, on a free loopback port)
// and a streaming standby of it (pg_basebackup -R -X stream, on another),
// stopped and removed when the test ends.
func StreamingPair(t testing.TB) (primary, standby *Cluster) {
	t.Helper()
	PostgresURL(t) // the PostgreSQL tests are on
	bin := PostgresBin(t)
	primary = &Cluster{Port: FreePort(t), Dir: filepath.Join(serviceDir(t, "primary"), "data"), bin: bin}
	run := func(name string, args ...string) {
		t.Helper()
		out, err := asService(filepath.Join(bin, name), args...).CombinedOutput()
		require.NoError(t, err, "%s %v:\n%s", name, args, out)
	}
	run("initdb", "-D", primary.Dir, "-U", serviceUser, "--auth=trust", "--no-sync", "-E", "UTF8")
	primary.start(t)
	standby = &Cluster{Port: FreePort(t), Dir: filepath.Join(serviceDir(t, "standby"), "data"), bin: bin}
	run("pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(primary.Port), "-U", serviceUser, "-D", standby.Dir, "-R", "-X", "stream", "--no-sync")
	standby.start(t)
	return primary, standby
}

func (c *Cluster) start(t testing.TB) {
	t.Helper()
	log := filepath.Join(filepath.Dir(c.Dir), "server.log")
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c wal_receiver_status_interval=1s", c.Port, filepath.Dir(c.Dir))
	for _, s := range c.settings {
		opts += " -c " + s
	}
	out, err := asService(filepath.Join(c.bin, "pg_ctl"), "start", "-w", "-D", c.Dir, "-l", log, "-o", opts).CombinedOutput()
	if err != nil {
		b, _ := os.ReadFile(log)
		t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, b)
	}
	// Only the first start registers the stop, with the test that made
	// the server: a restart from a subtest must not stop it when that
	// subtest ends.
	if !c.cleanupSet {
		c.cleanupSet = true
		t.Cleanup(func() {
			asService(filepath.Join(c.bin, "pg_ctl"), "stop", "-m", "immediate", "-D", c.Dir).Run() //nolint:errcheck
		})
	}
}
