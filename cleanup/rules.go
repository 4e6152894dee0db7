package cleanup

// The rule sets of DOT's generations, and how auto picks one for a database.

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/oauthkit/oauthkit/store"
)

// Rules selects which DOT generation's cleanup rules run.
type Rules string

const (
	// RulesAuto picks the rules of the DOT that migrated the database.
	RulesAuto Rules = "auto"
	// RulesDOT33 are the rules of DOT 3.0 – 3.3 (and 1.x/2.x).
	RulesDOT33 Rules = "dot-3.3"
	// RulesDOT34 are DOT 3.4.1's: grace period, reuse protection, orphans.
	RulesDOT34 Rules = "dot-3.4"
)

// ParseRules reads a CLEARTOKENS_RULES value.
func ParseRules(s string) (Rules, error) {
	switch r := Rules(strings.ToLower(strings.TrimSpace(s))); r {
	case "", RulesAuto:
		return RulesAuto, nil
	case RulesDOT33, RulesDOT34:
		return r, nil
	}
	return "", &OptionError{Field: "Options.Rules", Value: strconvQuote(s), Problem: "want auto, dot-3.3 or dot-3.4"}
}

// resolveRules turns RulesAuto into a rule set by reading django_migrations.
func resolveRules(ctx context.Context, s store.Store, r Rules) (Rules, string, error) {
	if r != RulesAuto {
		return r, "chosen by setting", nil
	}
	m, err := s.AppliedMigrations(ctx, store.AppliedMigrationsParams{App: "oauth2_provider"})
	if err != nil {
		return "", "", fmt.Errorf("choose rules: %w", err)
	}
	if !m.LedgerExists {
		return RulesDOT34, "auto: no django_migrations table (not a database Django migrated)", nil
	}
	highest, name := -1, ""
	for _, n := range m.Names {
		num, _, _ := strings.Cut(n, "_")
		if v, err := strconv.Atoi(num); err == nil && v > highest {
			highest, name = v, n
		}
	}
	switch {
	case highest < 0:
		return RulesDOT34, "auto: no oauth2_provider migration recorded in django_migrations (tables made by oauthkit's Store.Migrate or by hand)", nil
	case highest <= 14:
		return RulesDOT33, fmt.Sprintf("auto: highest applied oauth2_provider migration is %s (DOT 3.3 or older)", name), nil
	default:
		return RulesDOT34, fmt.Sprintf("auto: highest applied oauth2_provider migration is %s (DOT 3.4 or newer)", name), nil
	}
}
