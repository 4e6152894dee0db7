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
