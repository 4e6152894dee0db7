package main_test

// SQLite's faults: the file locked by another writer for longer than the
// busy timeout, and the disk full.

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/internal/faulttest"
	"github.com/oauthkit/oauthkit/store/sqlstore"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// sqliteTwins seeds e (made by mk) and a reference copy, cleans the copy
// with an uninterrupted run, and returns what that run left.
func sqliteTwins(t *testing.T, e *sqlstoretest.Env, base time.Time) map[string][]int64 {
	ref := sqlstoretest.New(t, sqlstore.DialectSQLite, sqlstoretest.DOT341)
	e.SeedMix(t, 240, base)
	ref.SeedMix(t, 240, base)
	require.Equal(t, ref.Snapshot(t), e.Snapshot(t))
	r := sqliteRun(t, ref.URL, base)
	require.Equal(t, 0, r.code, r.stderr)
	return ref.Snapshot(t)
}

func sqliteRun(t *testing.T, url string, base time.Time, args ...string) result {
	return runCmd(t, t.TempDir(), append([]string{"DATABASE_URL=" + url}, settings34...),
		append([]string{"--batch-size", faultBatch, "--before", base.Format(time.RFC3339)}, args...)...)
}

// writer holds SQLite's write lock on the file until released.
func writer(t *testing.T, path string) (release func()) {
	db, err := sqlx.Open("sqlite", "file:"+path+"?_txlock=immediate")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	tx, err := db.Begin()
	require.NoError(t, err)
	return func() { tx.Rollback() } //nolint:errcheck
}

// The file locked by another writer for longer than the busy timeout
// (10 s): a batch that waited that long fails and is retried; once the
// writer lets go, the retry goes on and the run finishes. With no
// retries left the run exits 1 naming the lock, and a rerun finishes.
func TestSQLiteLockedByAnotherWriter(t *testing.T) {
	t.Parallel()
	base := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)

	t.Run("within the retry budget", func(t *testing.T) {
		t.Parallel()
		e := sqlstoretest.New(t, sqlstore.DialectSQLite, sqlstoretest.DOT341)
		want := sqliteTwins(t, e, base)
		release := writer(t, e.Path())
		cmd := exec.Command(binary, "--batch-size", faultBatch, "--before", base.Format(time.RFC3339))
		cmd.Env = append([]string{"DATABASE_URL=" + e.URL}, settings34...)
		stderr, err := cmd.StderrPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		sc := bufio.NewScanner(stderr)
		var lines []string
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if strings.Contains(sc.Text(), "batch failed, retrying") {
				release() // the writer lets go after the first wait ran out
				break
			}
		}
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		require.NoError(t, cmd.Wait(), strings.Join(lines, "\n"))
		require.NotEmpty(t, lines, "a batch waited out the busy timeout and was retried")
		assert.Contains(t, lines[0], "database is locked")
		assert.Equal(t, want, e.Snapshot(t))
		e.AssertNoDanglingKeys(t)
	})

	t.Run("beyond the retry budget", func(t *testing.T) {
		t.Parallel()
		e := sqlstoretest.New(t, sqlstore.DialectSQLite, sqlstoretest.DOT341)
		want := sqliteTwins(t, e, base)
		release := writer(t, e.Path())
		r := sqliteRun(t, e.URL, base, "--retries", "0")
		require.Equal(t, 1, r.code, r.stderr)
		assert.Contains(t, faulttest.LastLine(r.stderr), "database is locked")
		release()
		e.AssertNoDanglingKeys(t)
		r = sqliteRun(t, e.URL, base)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Equal(t, want, e.Snapshot(t))
	})
}

// The disk full, in a small tmpfs: the run exits 1 naming it, leaving
// whole batches; once there is room again a rerun finishes the work.
func TestSQLiteDiskFull(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs here (it takes root): %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() }) //nolint:errcheck
	base := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	e := sqlstoretest.NewSQLiteIn(t, dir, sqlstoretest.DOT341)
	want := sqliteTwins(t, e, base)
	require.NoError(t, e.DB.Close())

	// Fill the rest of the disk, leaving less than a batch's journal.
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	require.NoError(t, err)
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	require.NoError(t, f.Close())

	r := sqliteRun(t, e.URL, base)
	t.Logf("exit %d; stderr:\n%s", r.code, r.stderr)
	require.Equal(t, 1, r.code, r.stderr)
	assert.Contains(t, faulttest.LastLine(r.stderr), "full")
	require.NoError(t, os.Remove(filler))
	reopened := sqlstoretest.OpenSQLite(t, e.Path(), sqlstoretest.DOT341)
	reopened.AssertNoDanglingKeys(t)
	r = sqliteRun(t, e.URL, base)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, want, reopened.Snapshot(t))
}
