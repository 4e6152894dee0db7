package main_test

// createapplication under connection faults, on a private server behind
// a fault proxy (see package faulttest): the fault comes at the INSERT.
// Afterwards there is one application or none, a row the verifier reads
// with the printed secret, and an exit status that says which.

import (
	"regexp"
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

var printedSecret = regexp.MustCompile(`(?m)^client_secret: (\S+)$`)

func TestFaults(t *testing.T) {
	for _, k := range faulttest.Kinds {
		t.Run(k.Name, func(t *testing.T) {
			t.Parallel()
			s := k.Start(t)
			var hogged *faulttest.Hog
			for _, fc := range []struct {
				name   string
				inject func(t *testing.T, p *faultproxy.Proxy, c *faultproxy.Conn) faultproxy.Verdict
				fails  string // "": exit 0 with one row; else exit 1, no row, and the rerun creates it
				after  func(t *testing.T)
			}{
				{name: "session killed", inject: func(t *testing.T, _ *faultproxy.Proxy, c *faultproxy.Conn) faultproxy.Verdict {
					s.Kill(t, c.ServerID())
					return faultproxy.Forward
				}},
				{name: "server restarted", inject: func(t *testing.T, _ *faultproxy.Proxy, _ *faultproxy.Conn) faultproxy.Verdict {
					s.Restart(t, "fast")
					return faultproxy.Forward
				}},
				{name: "connection dropped mid-statement", inject: func(*testing.T, *faultproxy.Proxy, *faultproxy.Conn) faultproxy.Verdict {
					return faultproxy.ForwardThenDrop
				}},
				{name: "connection dropped before the answer", inject: func(*testing.T, *faultproxy.Proxy, *faultproxy.Conn) faultproxy.Verdict {
					return faultproxy.DropAnswer
				}},
				{name: "network stalls", inject: func(_ *testing.T, p *faultproxy.Proxy, _ *faultproxy.Conn) faultproxy.Verdict {
					p.Pause()
					time.AfterFunc(3*time.Second, p.Resume)
					return faultproxy.Forward
				}},
				{name: "server full for a while", inject: func(t *testing.T, p *faultproxy.Proxy, c *faultproxy.Conn) faultproxy.Verdict {
					h := s.FillInstead(t, p, c)
					time.AfterFunc(time.Second, h.Release)
					return faultproxy.Drop
				}},
				{name: "server down", inject: func(t *testing.T, _ *faultproxy.Proxy, _ *faultproxy.Conn) faultproxy.Verdict {
					s.Stop(t)
					return faultproxy.Forward
				}, fails: "whether the application was written is unknown", after: s.Start},
				{name: "server full throughout", inject: func(t *testing.T, p *faultproxy.Proxy, c *faultproxy.Conn) faultproxy.Verdict {
					hogged = s.FillInstead(t, p, c)
					return faultproxy.Drop
				}, fails: s.Full, after: func(*testing.T) { hogged.Release() }},
			} {
				t.Run(fc.name, func(t *testing.T) {
					e := s.NewDB(t, sqlstoretest.DOT341)
					p := s.Proxy(t)
					var once sync.Once
					undo := func() {
						if fc.after != nil {
							once.Do(func() { fc.after(t) })
						}
					}
					t.Cleanup(undo)
					var fired atomic.Bool
					p.On("INSERT INTO", 1, func(c *faultproxy.Conn) faultproxy.Verdict { fired.Store(true); return fc.inject(t, p, c) })
					env := []string{"DATABASE_URL=" + s.Through(e.URL, p.Port())}
					args := []string{"--hasher-iterations", "1000", "--client-id", "svc", "confidential", "client-credentials"}
					r := testcmd.Run(t, binary, t.TempDir(), env, "", args...)
					t.Logf("exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
					require.True(t, fired.Load(), "the fault was injected")
					count := func() int64 {
						return e.Int(t, e.DB.Rebind(`SELECT count(*) FROM oauth2_provider_application WHERE client_id = ?`), "svc")
					}
					if fc.fails != "" {
						require.Equal(t, 1, r.Code, r.Stderr)
						assert.Contains(t, strings.ToLower(faulttest.LastLine(r.Stderr)), strings.ToLower(fc.fails))
						assert.NotContains(t, r.Stdout, "client_secret", "no secret for an application that may not exist")
						undo()
						assert.EqualValues(t, 0, count(), "nothing was written")
						r = testcmd.Run(t, binary, t.TempDir(), env, "", append([]string{"--if-not-exists"}, args...)...)
					}
					require.Equal(t, 0, r.Code, r.Stderr)
					assert.EqualValues(t, 1, count(), "one application")
					m := printedSecret.FindStringSubmatch(r.Stdout)
					require.NotNil(t, m, r.Stdout)
					assert.True(t, verify(t, e, "svc", m[1]), "the printed secret verifies")
				})
			}
		})
	}
}
