package metrics_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/metrics"
)

func TestTextfile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.prom")
	c := metrics.NewCollector("oauthkit_x")
	m, err := metrics.NewTextfile(path, c)
	require.NoError(t, err)
	at := time.Unix(1_700_000_000, 500_000_000)
	c.Observe(metrics.Run{Steps: []metrics.Step{{Name: "a", Deleted: 3}}, Duration: 1500 * time.Millisecond, Now: at})
	require.NoError(t, m.Write())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	s := string(b)
	assert.Contains(t, s, "# TYPE oauthkit_x_rows_deleted gauge\n")
	assert.Contains(t, s, `oauthkit_x_rows_deleted{dry_run="false",step="a"} 3`+"\n")
	assert.Contains(t, s, "oauthkit_x_duration_seconds 1.5\n")
	assert.Contains(t, s, "oauthkit_x_last_run_success 1\n")
	assert.Contains(t, s, "oauthkit_x_stopped_early 0\n")
	assert.Contains(t, s, "oauthkit_x_last_success_timestamp_seconds 1.7000000005e+09\n")
	assert.NotContains(t, s, "_total", "no counters in a file one run after another writes")

	// A new writer (a restarted process) keeps the last success through a
	// failed run and a dry run.
	c = metrics.NewCollector("oauthkit_x")
	m, err = metrics.NewTextfile(path, c)
	require.NoError(t, err)
	c.Observe(metrics.Run{Failed: true, Now: at.Add(time.Hour)})
	require.NoError(t, m.Write())
	c.Observe(metrics.Run{DryRun: true, Now: at.Add(2 * time.Hour)})
	require.NoError(t, m.Write())
	b, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(b), "oauthkit_x_last_success_timestamp_seconds 1.7000000005e+09\n")
	assert.Contains(t, string(b), "oauthkit_x_last_run_success 1\n", "the dry run succeeded")

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file is left")
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), info.Mode().Perm(), "readable by node_exporter")
}

func TestTextfileUnwritableFolder(t *testing.T) {
	m, err := metrics.NewTextfile(filepath.Join(t.TempDir(), "missing", "x.prom"), metrics.NewCollector("oauthkit_x"))
	require.NoError(t, err)
	err = m.Write()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "metrics file")
}

// A service registers the collector in its own registry; the counters
// add up over the runs it observes.
func TestCollectorInAServiceRegistry(t *testing.T) {
	c := metrics.NewCollector("svc_cleartokens")
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	assert.Zero(t, testutil.CollectAndCount(c, "svc_cleartokens_last_run_success"), "no run yet")
	c.Observe(metrics.Run{Steps: []metrics.Step{{Name: "expired_grants", Deleted: 4}}})
	c.Observe(metrics.Run{Steps: []metrics.Step{{Name: "expired_grants", Deleted: 6}}})
	c.Observe(metrics.Run{Failed: true})
	n, err := testutil.GatherAndCount(reg)
	require.NoError(t, err)
	assert.Positive(t, n)
	assert.Equal(t, 10.0, value(t, reg, "svc_cleartokens_rows_deleted_total"))
	assert.Equal(t, 0.0, value(t, reg, "svc_cleartokens_last_run_success"))
}

// value is the first sample of a gauge or counter family.
func value(t *testing.T, reg *prometheus.Registry, name string) float64 {
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range families {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s", name)
	return 0
}

// Serve answers /metrics with the collector's metrics.
func TestServe(t *testing.T) {
	c := metrics.NewCollector("oauthkit_x")
	c.Observe(metrics.Run{Steps: []metrics.Step{{Name: "a", Deleted: 2}}})
	srv, err := metrics.Serve("127.0.0.1:0", c)
	require.NoError(t, err)
	defer srv.Close()
	resp, err := http.Get("http://" + srv.Addr() + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), `oauthkit_x_rows_deleted_total{dry_run="false",step="a"} 2`)
	assert.Contains(t, string(body), "go_goroutines")
	_, err = metrics.Serve(srv.Addr(), c)
	assert.Error(t, err, "the address is taken")
}

// Only a regular file is written: a device, a FIFO, a folder or a link at
// the path is refused (never opened, so a FIFO cannot block), and a file
// that was there keeps its permissions.
func TestTextfileOnlyReplacesRegularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	target := filepath.Join(dir, "target")
	require.NoError(t, os.WriteFile(target, []byte("keep"), 0o600))
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(target, link))
	for _, p := range []string{"/dev/null", fifo, dir, link} {
		_, err := metrics.NewTextfile(p, metrics.NewCollector("oauthkit_x"))
		assert.ErrorIs(t, err, metrics.ErrNotRegular, p)
	}
	b, err := os.ReadFile(target)
	require.NoError(t, err)
	assert.Equal(t, "keep", string(b))

	private := filepath.Join(dir, "private.prom")
	require.NoError(t, os.WriteFile(private, nil, 0o600))
	m, err := metrics.NewTextfile(private, metrics.NewCollector("oauthkit_x"))
	require.NoError(t, err)
	require.NoError(t, m.Write())
	info, err := os.Stat(private)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "not widened")
}
