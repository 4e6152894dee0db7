package metrics

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// Textfile is the metrics file of one command, for node_exporter's
// textfile collector: what its Collector gathers, but for the _total
// counters (a file written by one run after another would make them
// restart at every run).
type Textfile struct {
	path      string
	collector *Collector
	registry  *prometheus.Registry
}

// NewTextfile writes c's metrics to path. It reads the last success time
// back from the file, if there is one, so that it survives restarts and
// failed runs.
func NewTextfile(path string, c *Collector) *Textfile {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	t := &Textfile{path: path, collector: c, registry: reg}
	if at, ok := t.readLastSuccess(); ok {
		c.SetLastSuccess(at)
	}
	return t
}

func (t *Textfile) readLastSuccess() (time.Time, bool) {
	f, err := os.Open(t.path)
	if err != nil {
		return time.Time{}, false
	}
	defer f.Close()
	name := t.collector.prefix + "_last_success_timestamp_seconds "
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name); ok {
			secs, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || secs <= 0 {
				return time.Time{}, false
			}
			return time.UnixMilli(int64(secs * 1000)), true
		}
	}
	return time.Time{}, false
}

// Write replaces the file with the collector's metrics, atomically: a
// temporary file in the same folder, then a rename, so the collector
// never reads half a file.
func (t *Textfile) Write() error {
	families, err := t.registry.Gather()
	if err != nil {
		return fmt.Errorf("metrics file %s: %w", t.path, err)
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range families {
		if strings.HasSuffix(mf.GetName(), "_total") {
			continue
		}
		if err := enc.Encode(mf); err != nil {
			return fmt.Errorf("metrics file %s: %w", t.path, err)
		}
	}
	return writeAtomically(t.path, b.Bytes())
}

func writeAtomically(path string, content []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("metrics file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(content); err != nil {
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
