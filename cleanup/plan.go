package cleanup

// The plan of a run: the steps of a rule set with their cutoffs, in DOT's order.

import (
	"time"

	"github.com/oauthkit/oauthkit/store"
)

func (s StepReport) kind() Kind {
	switch s.Name {
	case StepExpiredAccess:
		return KindAccess
	case StepExpiredIDToken:
		return KindIDToken
	case StepExpiredGrant:
		return KindGrant
	case StepExpiredPAR:
		return KindPAR
	}
	return KindRefresh
}

// plan lays out the steps of a rule set, in DOT's order. DOT main adds
// a last step whatever the rules of the token steps: pushed authorization
// requests, where the database has their table (hasPAR).
func plan(rules Rules, o Options, now time.Time, hasPAR bool) []StepReport {
	var expireCutoff time.Time
	hasExpire := o.RefreshTokenExpire > 0
	if hasExpire {
		expireCutoff = now.Add(-o.RefreshTokenExpire)
	}
	skipped := func(s StepReport, why string) StepReport { s.Skipped, s.SkipReason = true, why; return s }
	revoked := StepReport{Name: StepRevokedRefresh, Message: "Revoked refresh tokens deleted"}
	expired := StepReport{Name: StepExpiredRefresh, Message: "Expired refresh tokens deleted"}
	var steps []StepReport
	if rules == RulesDOT33 {
		revoked.Target, revoked.Cutoff = store.RefreshRevokedBefore, expireCutoff
		expired.Target, expired.Cutoff = store.RefreshAccessExpiredBefore, expireCutoff
		if !hasExpire {
			revoked = skipped(revoked, "REFRESH_TOKEN_EXPIRE_SECONDS is not set")
			expired = skipped(expired, "REFRESH_TOKEN_EXPIRE_SECONDS is not set")
		}
		steps = append(steps, revoked, expired)
	} else {
		revoked.Target, revoked.Cutoff = store.RefreshRevokedAtOrBefore, now.Add(-o.RefreshTokenGracePeriod)
		if o.RefreshTokenReuseProtection {
			// Revoked tokens are what reuse detection looks for: keep them
			// until they expire.
			revoked.Cutoff = expireCutoff
			if !hasExpire {
				revoked = skipped(revoked, "REFRESH_TOKEN_REUSE_PROTECTION keeps revoked refresh tokens and REFRESH_TOKEN_EXPIRE_SECONDS is not set")
			}
		}
		orphaned := StepReport{Name: StepOrphanedRefresh, Message: "Orphaned refresh tokens deleted", Target: store.RefreshOrphaned}
		expired.Target, expired.Cutoff = store.RefreshLiveAccessExpiredAtOrBefore, expireCutoff
		if !hasExpire {
			expired = skipped(expired, "REFRESH_TOKEN_EXPIRE_SECONDS is not set")
		}
		steps = append(steps, revoked, orphaned, expired)
	}
	par := StepReport{Name: StepExpiredPAR, Message: "Expired pushed authorization requests deleted", Target: store.PARExpiredBefore, Cutoff: now}
	if !hasPAR {
		par = skipped(par, "the database has no pushed authorization request table (DOT releases up to 3.4.1 have none; DOT main adds it)")
	}
	return append(steps,
		StepReport{Name: StepExpiredAccess, Message: "Expired access tokens deleted", Target: store.AccessExpiredBefore, Cutoff: now},
		StepReport{Name: StepExpiredIDToken, Message: "Expired ID tokens deleted", Target: store.IDTokenExpiredBefore, Cutoff: now},
		StepReport{Name: StepExpiredGrant, Message: "Expired grant tokens deleted", Target: store.GrantExpiredBefore, Cutoff: now},
		par,
	)
}
