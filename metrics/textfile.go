package metrics

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/oauthkit/oauthkit/internal/atomicfile"
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

// ErrNotRegular: the metrics path names something other than a regular
// file (a device, a FIFO, a folder, a symbolic link), which Write would
// replace: it is refused instead.
var ErrNotRegular = atomicfile.ErrNotRegular

// CheckTextfilePath reports ErrNotRegular when path exists and is not a
// regular file; a path that does not exist yet is fine. It never opens
// the path, so a FIFO there cannot block it.
func CheckTextfilePath(path string) error {
	info, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("metrics file %s: %w", path, err)
	case !info.Mode().IsRegular():
		return fmt.Errorf("metrics file %s: %w (%s): it would be replaced", path, ErrNotRegular, info.Mode().Type())
	}
	return nil
}

// NewTextfile writes c's metrics to path, which must not be anything
// but a regular file (CheckTextfilePath). It reads the last success time
// back from the file, if there is one, so that it survives restarts and
// failed runs.
func NewTextfile(path string, c *Collector) (*Textfile, error) {
	if err := CheckTextfilePath(path); err != nil {
		return nil, err
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	t := &Textfile{path: path, collector: c, registry: reg}
	if at, ok := t.readLastSuccess(); ok {
		c.SetLastSuccess(at)
	}
	return t, nil
}

func (t *Textfile) readLastSuccess() (time.Time, bool) {
	f, err := openRegular(t.path)
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
	// 0644 for node_exporter when the file is new; an old file keeps its
	// permissions.
	if err := atomicfile.Write(t.path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("metrics file: %w", err)
	}
	return nil
}
