package main_test

import (
	"net"
	"strings"
	"testing"

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
