package main

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/oauthkit/oauthkit/cleanup"
)

// metrics writes Prometheus text-format metrics for node_exporter's
// textfile collector after each run.
type metrics struct {
	path        string
	lastSuccess float64 // unix seconds; carried over from the file's last write
}

func newMetrics(path string) *metrics {
	m := &metrics{path: path}
	if path != "" {
		m.lastSuccess = readLastSuccess(path)
	}
	return m
}

const lastSuccessName = "oauthkit_cleartokens_last_success_timestamp_seconds"

func readLastSuccess(path string) float64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), lastSuccessName+" "); ok {
			n, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return n
		}
	}
	return 0
}

// write replaces the file atomically: a temporary file in the same folder,
// then a rename, so the collector never reads half a file.
func (m *metrics) write(rep cleanup.Report, runErr error, logger *slog.Logger) {
	if m.path == "" || errors.Is(runErr, cleanup.ErrLocked) {
		return // a skipped run says nothing about the tables
	}
	success := 0
	if runErr == nil {
		success = 1
		if !rep.DryRun { // a dry run cleans nothing: it is no "last success" of cleaning
			m.lastSuccess = float64(time.Now().UnixMilli()) / 1000
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# HELP oauthkit_cleartokens_rows_deleted Rows deleted by the last cleartokens run, per step.\n")
	fmt.Fprintf(&b, "# TYPE oauthkit_cleartokens_rows_deleted gauge\n")
	for _, st := range rep.Steps {
		if !st.Skipped {
			fmt.Fprintf(&b, "oauthkit_cleartokens_rows_deleted{step=%q,dry_run=\"%t\"} %d\n", st.Name, rep.DryRun, st.Deleted)
		}
	}
	fmt.Fprintf(&b, "# HELP oauthkit_cleartokens_duration_seconds How long the last cleartokens run took.\n")
	fmt.Fprintf(&b, "# TYPE oauthkit_cleartokens_duration_seconds gauge\n")
	fmt.Fprintf(&b, "oauthkit_cleartokens_duration_seconds %g\n", rep.Duration.Seconds())
	fmt.Fprintf(&b, "# HELP oauthkit_cleartokens_last_run_success 1 if the last cleartokens run succeeded, else 0.\n")
	fmt.Fprintf(&b, "# TYPE oauthkit_cleartokens_last_run_success gauge\n")
	fmt.Fprintf(&b, "oauthkit_cleartokens_last_run_success %d\n", success)
	stopped := 0
	if rep.StoppedEarly {
		stopped = 1
	}
	fmt.Fprintf(&b, "# HELP oauthkit_cleartokens_stopped_early 1 if the last run stopped at --max-duration before the end.\n")
	fmt.Fprintf(&b, "# TYPE oauthkit_cleartokens_stopped_early gauge\n")
	fmt.Fprintf(&b, "oauthkit_cleartokens_stopped_early %d\n", stopped)
	if m.lastSuccess > 0 {
		fmt.Fprintf(&b, "# HELP %s When a cleartokens run last succeeded (Unix time).\n", lastSuccessName)
		fmt.Fprintf(&b, "# TYPE %s gauge\n", lastSuccessName)
		fmt.Fprintf(&b, "%s %.3f\n", lastSuccessName, m.lastSuccess)
	}
	if err := writeAtomically(m.path, b.String()); err != nil {
		logger.Error("cannot write the metrics file", "path", m.path, "error", err.Error())
	}
}

func writeAtomically(path, content string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
