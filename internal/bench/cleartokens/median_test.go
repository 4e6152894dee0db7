package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// The report's "median" is a median for any number of runs: with two
// runs (the default order a,c,c,a) it is their mean, not the faster one.
func TestMedianOfRuns(t *testing.T) {
	run := func(total time.Duration, step time.Duration) result {
		return result{Elapsed: total, Steps: []stepTime{{Name: "s", Elapsed: step}}}
	}
	for _, tc := range []struct {
		name       string
		runs       []result
		total, one time.Duration
	}{
		{"one run", []result{run(10*time.Second, time.Second)}, 10 * time.Second, time.Second},
		{"two runs", []result{run(12*time.Second, 3*time.Second), run(10*time.Second, time.Second)}, 11 * time.Second, 2 * time.Second},
		{"three runs", []result{run(30*time.Second, 9*time.Second), run(10*time.Second, time.Second), run(12*time.Second, 2*time.Second)}, 12 * time.Second, 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.total, median(tc.runs).Elapsed)
			assert.Equal(t, tc.one, stepMedian(tc.runs, 0))
		})
	}
	assert.Zero(t, stepMedian([]result{{Elapsed: time.Second}}, 0), "a step no run has")
}
