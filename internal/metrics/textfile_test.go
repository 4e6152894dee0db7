package metrics_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/internal/metrics"
)

func TestTextfile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.prom")
	m := metrics.NewTextfile(path, "oauthkit_x")
	at := time.Unix(1_700_000_000, 500_000_000)
	require.NoError(t, m.Write(metrics.Run{Steps: []metrics.Step{{Name: "a", Deleted: 3}}, Duration: 1500 * time.Millisecond, Now: at}))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	s := string(b)
	assert.Contains(t, s, "# TYPE oauthkit_x_rows_deleted gauge\n")
	assert.Contains(t, s, `oauthkit_x_rows_deleted{step="a",dry_run="false"} 3`+"\n")
	assert.Contains(t, s, "oauthkit_x_duration_seconds 1.5\n")
	assert.Contains(t, s, "oauthkit_x_last_run_success 1\n")
	assert.Contains(t, s, "oauthkit_x_stopped_early 0\n")
	assert.Contains(t, s, "oauthkit_x_last_success_timestamp_seconds 1700000000.500\n")

	// A new writer (a restarted process) keeps the last success through a
	// failed run and a dry run.
	m = metrics.NewTextfile(path, "oauthkit_x")
	require.NoError(t, m.Write(metrics.Run{Failed: true, Now: at.Add(time.Hour)}))
	require.NoError(t, m.Write(metrics.Run{DryRun: true, Now: at.Add(2 * time.Hour)}))
	b, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(b), "oauthkit_x_last_success_timestamp_seconds 1700000000.500\n")
	assert.Contains(t, string(b), "oauthkit_x_last_run_success 1\n", "the dry run succeeded")

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file is left")
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), info.Mode().Perm(), "readable by node_exporter")
}

func TestTextfileUnwritableFolder(t *testing.T) {
	m := metrics.NewTextfile(filepath.Join(t.TempDir(), "missing", "x.prom"), "oauthkit_x")
	err := m.Write(metrics.Run{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "metrics file")
}
