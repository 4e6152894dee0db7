package sqlstoretest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"
)

// Galera is a 3-node MariaDB Galera cluster started for one test: three
// mariadbd processes on free loopback ports, each with its own folder.
type Galera struct {
	Nodes []*MariaDBServer
}

// MariaDBServer is a mariadbd of a test's own: a node of a Galera test
// cluster, or a lone server (StartMariaDB).
type MariaDBServer struct {
	Name   string
	Port   int
	dir    string
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd has exited
	// cleanupSet: the first start registered the stop at the test's end.
	cleanupSet bool
}

// URL is the mysql:// URL of database db on the node.
func (n *MariaDBServer) URL(db string) string {
	return fmt.Sprintf("mysql://root@127.0.0.1:%d/%s", n.Port, db)
}

// DB opens a handle on database db of the node (closed when the test ends).
func (n *MariaDBServer) DB(t testing.TB, db string) *sqlx.DB {
	h, err := sqlx.Open("mysql", mysqlDriverDSN(t, n.URL(db)))
	require.NoError(t, err)
	t.Cleanup(func() { h.Close() })
	return h
}

// Kill ends the node's server at once (SIGKILL).
func (n *MariaDBServer) Kill() { n.cmd.Process.Kill() } //nolint:errcheck

// galeraUser is the account mariadbd runs as when the tests run as root.
const galeraUser = "mysql"

// StartGalera starts a 3-node Galera cluster (Debian's galera-4 with the
// machine's MariaDB, state transfer by rsync; .ci/run installs them) on
// free loopback ports under a temporary folder: node 1 initialised with
// mariadb-install-db and started with --wsrep-new-cluster, nodes 2 and 3
// joining with empty folders. It is stopped and removed when the test
// ends. Skipped without the programs, or failed under
// OAUTHKIT_REQUIRE_MYSQL=1.
func StartGalera(t testing.TB) *Galera {
	t.Helper()
	MySQLURL(t) // the MySQL tests are on
	provider := "/usr/lib/galera/libgalera_smm.so"
	for _, need := range []string{provider, "/usr/sbin/mariadbd", "/usr/bin/rsync"} {
		if _, err := os.Stat(need); err != nil {
			if os.Getenv("OAUTHKIT_REQUIRE_MYSQL") == "1" {
				t.Fatalf("%s is missing (.ci/run installs galera-4 and rsync) and OAUTHKIT_REQUIRE_MYSQL=1", need)
			}
			t.Skipf("%s is missing: skipping the Galera cluster (.ci/run installs galera-4 and rsync)", need)
		}
	}
	root, err := os.MkdirTemp("", "oauthkit-galera-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(root) })
	require.NoError(t, os.Chmod(root, 0o755))
	asRoot := os.Geteuid() == 0
	owner := func(path string) {
		if !asRoot {
			return
		}
		u, err := user.Lookup(galeraUser)
		require.NoError(t, err)
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		require.NoError(t, os.Chown(path, uid, gid))
	}

	g := &Galera{}
	var groupPorts []string
	type ports struct{ sql, group, ist, sst int }
	var ps []ports
	for i := 0; i < 3; i++ {
		p := ports{FreePort(t), FreePort(t), FreePort(t), FreePort(t)}
		ps = append(ps, p)
		groupPorts = append(groupPorts, fmt.Sprintf("127.0.0.1:%d", p.group))
	}
	for i, p := range ps {
		n := &MariaDBServer{Name: fmt.Sprintf("node%d", i+1), Port: p.sql, dir: filepath.Join(root, fmt.Sprintf("node%d", i+1))}
		require.NoError(t, os.MkdirAll(n.dir, 0o750))
		owner(n.dir)
		cnf := n.baseConf() + fmt.Sprintf(`innodb_buffer_pool_size=64M
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
wsrep_on=ON
wsrep_provider=%s
wsrep_cluster_name=oauthkit_test
wsrep_cluster_address=gcomm://%s
wsrep_node_name=%s
wsrep_node_address=127.0.0.1:%d
wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:%d;ist.recv_addr=127.0.0.1:%d"
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:%d
`, provider, strings.Join(groupPorts, ","), n.Name, p.group, p.group, p.ist, p.sst)
		require.NoError(t, os.WriteFile(filepath.Join(n.dir, "my.cnf"), []byte(cnf), 0o644))
		g.Nodes = append(g.Nodes, n)
	}

	// Node 1: a fresh data folder, then a new cluster.
	first := g.Nodes[0]
	first.installDB(t)
	first.start(t, "--wsrep-new-cluster")
	// mariadbd answers a ping before Galera lets it take statements
	// ("WSREP has not yet prepared node for application use").
	first.waitSynced(t, 1, time.Now().Add(60*time.Second))
	first.rootOverTCP(t)
	// Nodes 2 and 3 join by state transfer, one after the other.
	for _, n := range g.Nodes[1:] {
		require.NoError(t, os.MkdirAll(filepath.Join(n.dir, "data"), 0o750))
		owner(filepath.Join(n.dir, "data"))
		n.start(t)
	}
	g.WaitSynced(t, 3)
	return g
}

// baseConf is the start of the server's my.cnf: its folder's files, its
// port on loopback, and (as root) the account it runs as.
func (n *MariaDBServer) baseConf() string {
	user := ""
	if os.Geteuid() == 0 {
		user = "user=" + galeraUser + "\n"
	}
	return fmt.Sprintf(`[mysqld]
%sdatadir=%s/data
socket=%s/mysqld.sock
pid-file=%s/mysqld.pid
log-error=%s/error.log
port=%d
bind-address=127.0.0.1
`, user, n.dir, n.dir, n.dir, n.dir, n.Port)
}

// installDB makes the server's data folder (mariadb-install-db) from its
// my.cnf.
func (n *MariaDBServer) installDB(t testing.TB) {
	t.Helper()
	args := []string{"--defaults-file=" + filepath.Join(n.dir, "my.cnf"), "--auth-root-authentication-method=normal", "--skip-test-db"}
	if os.Geteuid() == 0 {
		args = append(args, "--user="+galeraUser)
	}
	out, err := exec.Command("mariadb-install-db", args...).CombinedOutput()
	require.NoError(t, err, "mariadb-install-db:\n%s", out)
}

// rootOverTCP lets root in over loopback TCP with no password, as on the
// project machines' own MariaDB.
func (n *MariaDBServer) rootOverTCP(t testing.TB) {
	t.Helper()
	db := n.DB(t, "mysql")
	for _, stmt := range []string{
		`CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY ''`,
		`GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION`,
	} {
		_, err := db.Exec(stmt)
		require.NoError(t, err, stmt)
	}
}

func (n *MariaDBServer) start(t testing.TB, extra ...string) {
	t.Helper()
	if err := n.startErr(t, extra...); err != nil {
		t.Fatal(err)
	}
}

// errPortTaken: the server could not bind its port (another listener took
// it between FreePort's check and the start).
var errPortTaken = errors.New("port already in use")

// startErr starts the server and waits until it answers, or says why not.
func (n *MariaDBServer) startErr(t testing.TB, extra ...string) error {
	t.Helper()
	args := append([]string{"--defaults-file=" + filepath.Join(n.dir, "my.cnf")}, extra...)
	cmd := exec.Command("/usr/sbin/mariadbd", args...)
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	n.cmd, n.exited = cmd, done
	go func() { cmd.Wait(); close(done) }() //nolint:errcheck
	// Only the first start registers the stop, with the test that made
	// the server: a restart from a subtest must not stop the server when
	// that subtest ends. The stop ends whatever process is current then.
	stop := func(cmd *exec.Cmd, done chan struct{}) {
		cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill() //nolint:errcheck
		}
	}
	if !n.cleanupSet {
		n.cleanupSet = true
		t.Cleanup(func() { stop(n.cmd, n.exited) })
	}
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(n.dir, "error.log"))
			if strings.Contains(string(log), "Address already in use") {
				return fmt.Errorf("%s on port %d: %w", n.Name, n.Port, errPortTaken)
			}
			return fmt.Errorf("%s exited while starting:\n%s", n.Name, log)
		default:
		}
		out, err := exec.Command("mariadb-admin", "-h", "127.0.0.1", "-P", strconv.Itoa(n.Port), "-u", "root", "ping").CombinedOutput()
		if err == nil && strings.Contains(string(out), "alive") {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(n.dir, "error.log"))
	return fmt.Errorf("%s did not start:\n%s", n.Name, log)
}

// WaitSynced waits until every running node reports a primary cluster of
// size nodes and itself synced.
func (g *Galera) WaitSynced(t testing.TB, size int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for _, n := range g.Nodes {
		if n.cmd.ProcessState != nil {
			continue
		}
		n.waitSynced(t, size, deadline)
	}
}

// waitSynced waits until the node is ready for statements, synced, in a
// primary cluster of size nodes.
func (n *MariaDBServer) waitSynced(t testing.TB, size int, deadline time.Time) {
	t.Helper()
	db := n.DB(t, "mysql")
	for {
		var vars []struct {
			Name  string `db:"Variable_name"`
			Value string `db:"Value"`
		}
		err := db.Select(&vars, `SHOW STATUS WHERE Variable_name IN ('wsrep_ready', 'wsrep_local_state_comment', 'wsrep_cluster_size')`)
		status := map[string]string{}
		for _, v := range vars {
			status[v.Name] = v.Value
		}
		ready, state, csize := status["wsrep_ready"], status["wsrep_local_state_comment"], status["wsrep_cluster_size"]
		if err == nil && ready == "ON" && state == "Synced" && csize == strconv.Itoa(size) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is not synced in a cluster of %d (ready %q, state %q, size %q, %v)", n.Name, size, ready, state, csize, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// NewGaleraDatabase creates a database with layout l's tables on the
// cluster (through node 1) and returns its name.
func (g *Galera) NewGaleraDatabase(t testing.TB, l Layout) string {
	t.Helper()
	name := "oauthkit_test_" + randomHex(6)
	db := g.Nodes[0].DB(t, "mysql")
	_, err := db.Exec("CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
	require.NoError(t, err)
	on := g.Nodes[0].DB(t, name)
	for _, stmt := range strings.Split(readSchema(t, "mysql", l), ";\n") {
		if strings.TrimSpace(stripComments(stmt)) == "" {
			continue
		}
		_, err := on.Exec(stmt)
		require.NoError(t, err, stmt)
	}
	return name
}

// SyncedEnvs opens an Env on every node for database db whose reads wait
// until the node has applied what the cluster committed
// (wsrep_sync_wait=1): written through one node, read through another,
// as a test expects. Without it a node may not yet have applied a table
// that another node just created.
func (g *Galera) SyncedEnvs(t testing.TB, db string, l Layout) []*Env {
	t.Helper()
	var envs []*Env
	for i := range g.Nodes {
		envs = append(envs, g.Env(t, i, db+"?wsrep_sync_wait=1", l))
	}
	return envs
}

// Env is an Env on database db through node i (0-based).
func (g *Galera) Env(t testing.TB, i int, db string, l Layout) *Env {
	t.Helper()
	raw := g.Nodes[i].DB(t, db)
	return openStore(t, &Env{Dialect: "mysql", Layout: l, URL: g.Nodes[i].URL(db), DB: raw})
}
