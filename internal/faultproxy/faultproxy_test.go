package faultproxy_test

import (
	"bufio"
	"context"
	"database/sql"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/lib/pq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/internal/faultproxy"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// echo is a server that answers each line with "ok: " and the line.
func echo(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					c.Write([]byte("ok: " + line)) //nolint:errcheck
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func start(t *testing.T, target string, proto faultproxy.Protocol) *faultproxy.Proxy {
	p, err := faultproxy.Start(target, proto)
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

type client struct {
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, p *faultproxy.Proxy) *client {
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return &client{c, bufio.NewReader(c)}
}

func (c *client) say(line string) (string, error) {
	c.c.SetDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck
	if _, err := c.c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	got, err := c.r.ReadString('\n')
	return strings.TrimSpace(got), err
}

func TestVerdicts(t *testing.T) {
	p := start(t, echo(t), 0)
	p.Watch("commit")
	var caught *faultproxy.Conn
	p.On("COMMIT", 2, func(c *faultproxy.Conn) faultproxy.Verdict { caught = c; return faultproxy.DropAnswer })
	c := dial(t, p)
	got, err := c.say("select")
	require.NoError(t, err)
	assert.Equal(t, "ok: select", got)
	got, err = c.say("commit")
	require.NoError(t, err, "the first COMMIT passes")
	assert.Equal(t, "ok: commit", got)
	_, err = c.say("COMMIT")
	assert.Error(t, err, "the second one's answer is dropped")
	require.NotNil(t, caught)
	assert.Equal(t, 1, caught.N)
	assert.Len(t, p.Seen("COMMIT"), 2)

	p.On("delete", 1, func(*faultproxy.Conn) faultproxy.Verdict { return faultproxy.Drop })
	c = dial(t, p)
	_, err = c.say("delete")
	assert.Error(t, err, "dropped before forwarding")
}

func TestPauseAndRefuse(t *testing.T) {
	p := start(t, echo(t), 0)
	c := dial(t, p)
	p.Pause()
	done := make(chan string, 1)
	go func() { got, _ := c.say("held"); done <- got }()
	select {
	case got := <-done:
		t.Fatalf("answered while paused: %q", got)
	case <-time.After(300 * time.Millisecond):
	}
	p.Resume()
	assert.Equal(t, "ok: held", <-done)

	p.Refuse(true)
	r := dial(t, p)
	_, err := r.say("x")
	assert.Error(t, err, "refused")
	p.Refuse(false)
	got, err := dial(t, p).say("y")
	require.NoError(t, err)
	assert.Equal(t, "ok: y", got)
}

// The server id read from the greeting is the server's own id for the
// connection.
func TestServerID(t *testing.T) {
	for _, tc := range []struct {
		name    string
		url     func(testing.TB) string
		driver  string
		idQuery string
		proto   faultproxy.Protocol
	}{
		{"postgres", sqlstoretest.PostgresURL, "postgres", "SELECT pg_backend_pid()", faultproxy.Postgres},
		{"mysql", sqlstoretest.MySQLURL, "mysql", "SELECT CONNECTION_ID()", faultproxy.MySQL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := tc.url(t)
			u, err := url.Parse(raw)
			require.NoError(t, err)
			p := start(t, u.Host, tc.proto)
			dsn := strings.Replace(raw, u.Host, p.Addr(), 1)
			if tc.driver == "mysql" {
				dsn = u.User.String() + "@tcp(" + p.Addr() + ")" + u.Path
			}
			db, err := sql.Open(tc.driver, dsn)
			require.NoError(t, err)
			defer db.Close()
			conn, err := db.Conn(context.Background())
			require.NoError(t, err)
			defer conn.Close()
			var id int64
			require.NoError(t, conn.QueryRowContext(context.Background(), tc.idQuery).Scan(&id))
			var ids []int64
			p.On(tc.idQuery, 2, func(c *faultproxy.Conn) faultproxy.Verdict {
				ids = append(ids, c.ServerID())
				return faultproxy.Forward
			})
			require.NoError(t, conn.QueryRowContext(context.Background(), tc.idQuery).Scan(&id))
			require.NoError(t, conn.QueryRowContext(context.Background(), tc.idQuery).Scan(&id))
			assert.Equal(t, []int64{id}, ids)
		})
	}
}
