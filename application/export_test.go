package application

import "time"

// DecoyCost is the time every verification is padded to (for tests).
func DecoyCost() time.Duration { _, c := decoy(); return c }
