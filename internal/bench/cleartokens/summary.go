package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// summaryRow is one shape and layout's medians, for the closing table.
type summaryRow struct {
	shape    string
	layout   sqlstoretest.Layout
	n        int
	med      map[string]result
	hasFloor bool
	sameRows bool
}

// printSummary prints one Markdown table over every shape and layout run:
// per variant its median wall time, µs per deleted row and, where the
// floor ran, its ratio to the floor's median.
func printSummary(rows []summaryRow, order []string) {
	var names []string
	for _, v := range order {
		if !slices.Contains(names, v) {
			names = append(names, v)
		}
	}
	fmt.Printf("\n## Summary (medians; ratio = wall time / the floor's)\n\n| shape | N | layout | rows deleted |")
	for _, v := range names {
		fmt.Printf(" %s |", variantTitle(v))
	}
	fmt.Printf(" oauthkit's peak RSS |\n|---|---|---|---|%s---|\n", strings.Repeat("---|", len(names)))
	for _, r := range rows {
		deleted := r.med[names[0]].Deleted
		fmt.Printf("| %s | %d | %s | %d |", r.shape, r.n, r.layout, deleted)
		var peak int64
		for _, v := range names {
			m, ok := r.med[v]
			if !ok {
				fmt.Print(" - |")
				continue
			}
			if v == "a" || v == "a2" {
				peak = max(peak, m.MaxRSS)
			}
			cell := fmt.Sprintf("%s, %.2f µs/row", m.Elapsed.Round(10*time.Millisecond), float64(m.Elapsed.Microseconds())/float64(max(m.Deleted, 1)))
			if r.hasFloor && v != "c" {
				cell += fmt.Sprintf(", **%.2f×**", float64(m.Elapsed)/float64(r.med["c"].Elapsed))
			}
			fmt.Printf(" %s |", cell)
		}
		fmt.Printf(" %.1f MB |", float64(peak)/1024)
		if !r.sameRows {
			fmt.Print(" RUNS LEFT DIFFERENT ROWS")
		}
		fmt.Println()
	}
}

func variantTitle(v string) string {
	switch v {
	case "a":
		return "oauthkit (a)"
	case "a2":
		return "oauthkit --workers 2 (a2)"
	case "b":
		return "DOT's pattern (b)"
	case "c":
		return "floor (c)"
	case "cli":
		return "floor, sqlite3 CLI (cli)"
	case "idle":
		return "idle (no cleaner)"
	}
	if base, ok := strings.CutSuffix(v, "-r"); ok {
		return strings.TrimSuffix(variantTitle(base), " ("+base+")") + " --max-rows-per-second " + strconv.Itoa(rowRate) + " (" + v + ")"
	}
	if base, ok := strings.CutSuffix(v, "-i"); ok {
		return strings.TrimSuffix(variantTitle(base), " ("+base+")") + " --batch-interval " + batchInterval.String() + " (" + v + ")"
	}
	return v
}

func shapeNames() string {
	var out []string
	for _, s := range shapes {
		out = append(out, s.name)
	}
	return strings.Join(out, ", ")
}
