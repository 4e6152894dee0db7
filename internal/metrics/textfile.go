// Package metrics writes Prometheus text-format metrics for node_exporter's
// textfile collector: what the last run of a command did, written
// atomically after each run.
package metrics

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Step is one step of a run: its name and the rows it deleted.
type Step struct {
	Name    string
	Deleted int64
}

// Run is what one run did.
type Run struct {
	Steps        []Step
	DryRun       bool
	StoppedEarly bool
	Duration     time.Duration
	// Failed is true when the run ended in an error.
	Failed bool
	// Now is when the run ended (zero: time.Now()).
	Now time.Time
	// ReplicaPauses and ReplicaWait: batches held back for lagging
	// standbys, and how long in all.
	ReplicaPauses int
	ReplicaWait   time.Duration
}

// Textfile is the metrics file of one command. Metric names begin with
// its prefix, e.g. "oauthkit_cleartokens".
type Textfile struct {
	path, prefix string
	lastSuccess  float64 // unix seconds; carried over from the file's last write
}

// NewTextfile reads the last success time back from path, if the file
// exists, so that it survives restarts and failed runs.
func NewTextfile(path, prefix string) *Textfile {
	m := &Textfile{path: path, prefix: prefix}
	m.lastSuccess = m.readLastSuccess()
	return m
}

func (m *Textfile) lastSuccessName() string { return m.prefix + "_last_success_timestamp_seconds" }

func (m *Textfile) readLastSuccess() float64 {
	f, err := os.Open(m.path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), m.lastSuccessName()+" "); ok {
			n, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return n
		}
	}
	return 0
}

// Write replaces the file with the metrics of r, atomically: a temporary
// file in the same folder, then a rename, so the collector never reads
// half a file. A dry run that succeeds is no "last success" of cleaning.
func (m *Textfile) Write(r Run) error {
	if !r.Failed && !r.DryRun {
		now := r.Now
		if now.IsZero() {
			now = time.Now()
		}
		m.lastSuccess = float64(now.UnixMilli()) / 1000
	}
	p := m.prefix
	var b strings.Builder
	gauge := func(name, help string) {
		fmt.Fprintf(&b, "# HELP %s_%s %s\n# TYPE %s_%s gauge\n", p, name, help, p, name)
	}
	gauge("rows_deleted", "Rows deleted by the last run, per step.")
	for _, st := range r.Steps {
		fmt.Fprintf(&b, "%s_rows_deleted{step=%q,dry_run=\"%t\"} %d\n", p, st.Name, r.DryRun, st.Deleted)
	}
	gauge("duration_seconds", "How long the last run took.")
	fmt.Fprintf(&b, "%s_duration_seconds %g\n", p, r.Duration.Seconds())
	gauge("last_run_success", "1 if the last run succeeded, else 0.")
	fmt.Fprintf(&b, "%s_last_run_success %d\n", p, boolInt(!r.Failed))
	gauge("stopped_early", "1 if the last run stopped at its time budget before the end.")
	fmt.Fprintf(&b, "%s_stopped_early %d\n", p, boolInt(r.StoppedEarly))
	gauge("replica_pauses", "Batches the last run held back while a standby lagged.")
	fmt.Fprintf(&b, "%s_replica_pauses %d\n", p, r.ReplicaPauses)
	gauge("replica_wait_seconds", "How long the last run waited for lagging standbys.")
	fmt.Fprintf(&b, "%s_replica_wait_seconds %g\n", p, r.ReplicaWait.Seconds())
	if m.lastSuccess > 0 {
		gauge("last_success_timestamp_seconds", "When a run last succeeded (Unix time).")
		fmt.Fprintf(&b, "%s %.3f\n", m.lastSuccessName(), m.lastSuccess)
	}
	return writeAtomically(m.path, b.String())
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}

func writeAtomically(path, content string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("metrics file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		return fmt.Errorf("metrics file: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("metrics file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("metrics file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("metrics file: %w", err)
	}
	return nil
}
