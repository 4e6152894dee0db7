// Package metrics gives oauthkit's runs to Prometheus: a Collector a
// service registers in its own registry (the runs it observes, as gauges
// of the last run and counters over all), and the textfile for
// node_exporter's textfile collector written from the same metrics. It is
// kept out of the core packages (cleanup, store), so that only a program
// that imports it links prometheus/client_golang.
package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
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

// Collector is a prometheus.Collector of the runs it observes. Metric
// names begin with its prefix, e.g. "oauthkit_cleartokens".
type Collector struct {
	prefix string

	mu          sync.Mutex
	last        *Run
	lastSuccess time.Time
	deleted     map[stepKey]float64 // rows deleted over all runs
	runs        map[string]float64

	descs map[string]*prometheus.Desc
}

// stepKey is a step's series of rows_deleted_total.
type stepKey struct {
	step string
	dry  bool
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector makes a collector with metric names under prefix.
func NewCollector(prefix string) *Collector {
	c := &Collector{prefix: prefix, deleted: map[stepKey]float64{}, runs: map[string]float64{}, descs: map[string]*prometheus.Desc{}}
	for _, d := range []struct {
		name, help string
		labels     []string
	}{
		{"rows_deleted", "Rows deleted by the last run, per step.", []string{"step", "dry_run"}},
		{"duration_seconds", "How long the last run took.", nil},
		{"last_run_success", "1 if the last run succeeded, else 0.", nil},
		{"stopped_early", "1 if the last run stopped at its time budget before the end.", nil},
		{"replica_pauses", "Batches the last run held back while a standby lagged.", nil},
		{"replica_wait_seconds", "How long the last run waited for lagging standbys.", nil},
		{"last_success_timestamp_seconds", "When a run last succeeded (Unix time); a dry run is no success of cleaning.", nil},
		{"rows_deleted_total", "Rows deleted by the runs this process observed, per step.", []string{"step", "dry_run"}},
		{"runs_total", "Runs this process observed, by result (success, failure).", []string{"result"}},
	} {
		c.descs[d.name] = prometheus.NewDesc(prefix+"_"+d.name, d.help, d.labels, nil)
	}
	return c
}

// SetLastSuccess carries the last success over from before this process
// (a textfile's, say).
func (c *Collector) SetLastSuccess(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.lastSuccess) {
		c.lastSuccess = t
	}
}

// Observe records a run.
func (c *Collector) Observe(r Run) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.Now.IsZero() {
		r.Now = time.Now()
	}
	c.last = &r
	result := "success"
	if r.Failed {
		result = "failure"
	} else if !r.DryRun {
		c.lastSuccess = r.Now
	}
	c.runs[result]++
	for _, st := range r.Steps {
		c.deleted[stepKey{st.Name, r.DryRun}] += float64(st.Deleted)
	}
}

// Describe sends the metrics' descriptions.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect sends the metrics: the last run's (none before the first), the
// last success, and the totals.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gauge := func(name string, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(c.descs[name], prometheus.GaugeValue, v, labels...)
	}
	if r := c.last; r != nil {
		for _, st := range r.Steps {
			gauge("rows_deleted", float64(st.Deleted), st.Name, boolLabel(r.DryRun))
		}
		gauge("duration_seconds", r.Duration.Seconds())
		gauge("last_run_success", boolValue(!r.Failed))
		gauge("stopped_early", boolValue(r.StoppedEarly))
		gauge("replica_pauses", float64(r.ReplicaPauses))
		gauge("replica_wait_seconds", r.ReplicaWait.Seconds())
	}
	if !c.lastSuccess.IsZero() {
		gauge("last_success_timestamp_seconds", float64(c.lastSuccess.UnixMilli())/1000)
	}
	for k, v := range c.deleted {
		ch <- prometheus.MustNewConstMetric(c.descs["rows_deleted_total"], prometheus.CounterValue, v, k.step, boolLabel(k.dry))
	}
	for result, v := range c.runs {
		ch <- prometheus.MustNewConstMetric(c.descs["runs_total"], prometheus.CounterValue, v, result)
	}
}

func boolLabel(v bool) string {
	if v {
		return "true"
	}
	return "false"
}

func boolValue(v bool) float64 {
	if v {
		return 1
	}
	return 0
}
