package main_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A MySQL server that drops the connection: one line of ours on stderr,
// none of the driver's own ("[mysql] … packets.go: unexpected EOF").
func TestMySQLDriverLogsNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	r := runCmd(t, t.TempDir(), []string{"DATABASE_URL=mysql://root@" + ln.Addr().String() + "/x"})
	assert.Equal(t, 1, r.code)
	assert.NotContains(t, r.stderr, "[mysql]")
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)
}

// A missing socket, socket folder or certificate is no missing database
// file: said as itself, with no advice to create a database.
func TestMissingFilesThatAreNotTheDatabase(t *testing.T) {
	for _, u := range []string{
		"mysql://root@localhost/x?unix_socket=/nonexistent.sock",
		"postgres://u@localhost/db?host=/nonexistent",
		"postgres://u@127.0.0.1:5432/db?sslmode=verify-full&sslrootcert=/nonexistent",
	} {
		r := runCmd(t, t.TempDir(), []string{"DATABASE_URL=" + u})
		assert.Equal(t, 1, r.code, u)
		assert.NotContains(t, r.stderr, "database file", u)
		assert.NotContains(t, r.stderr, "--create-schema", u)
		assert.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)
	}
	r := runCmd(t, t.TempDir(), []string{"DATABASE_URL=sqlite:nope.db"})
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "the database file nope.db does not exist")
}

// --metrics-textfile writes only a regular file of its own: /dev/null, a
// FIFO or the database itself are refused at once (exit 2, nothing
// replaced, no hang), and a file that cannot be written fails the run.
func TestMetricsTextfileClobbersNothing(t *testing.T) {
	e := sqlstoretest.New(t, "sqlite", sqlstoretest.DOT341)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	env := []string{"DATABASE_URL=" + e.URL}
	for _, p := range []string{"/dev/null", fifo, e.Path()} {
		r := runCmd(t, dir, env, "--dry-run", "--metrics-textfile", p)
		assert.Equal(t, 2, r.code, "%s: %s", p, r.stderr)
		assert.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)
	}
	info, err := os.Stat("/dev/null")
	require.NoError(t, err)
	assert.NotZero(t, info.Mode()&os.ModeCharDevice, "/dev/null is still a device")
	require.NoError(t, e.Store.CheckSchema(context.Background()), "the database is intact")

	r := runCmd(t, dir, env, "--metrics-textfile", filepath.Join(dir, "missing", "x.prom"))
	assert.Equal(t, 1, r.code, r.stderr)
	assert.Contains(t, r.stderr, "--metrics-textfile")
}
