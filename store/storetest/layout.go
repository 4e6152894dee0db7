package storetest

import "slices"

// Layout is the DOT version whose migrations made a database's tables.
type Layout string

const (
	// DOT301 is the layout of DOT 3.0 – 3.3 (migrations 0001–0012).
	DOT301 Layout = "3.0.1"
	// DOT341 is the layout of DOT 3.4.1 (migrations 0001–0022).
	DOT341 Layout = "3.4.1"
	// DOTMain is the layout of DOT's main branch after 3.4.1 (commit
	// 0f9d49f4, not released yet; migrations 0001–0025): three NOT NULL
	// client-assertion columns and a PAR flag on the application table,
	// and the pushed-authorization-request table.
	DOTMain Layout = "main"
)

// Layouts are the DOT generations served, oldest first.
var Layouts = []Layout{DOT301, DOT341, DOTMain}

// AtLeast reports whether layout l has everything layout o has (it is o
// or newer).
func (l Layout) AtLeast(o Layout) bool {
	return slices.Index(Layouts, l) >= slices.Index(Layouts, o)
}
