package cleanup

import (
	"context"
	"fmt"
	"time"

	"github.com/oauthkit/oauthkit/store"
)

// replicaThrottle holds batches back while a standby lags (MaxReplicaLag),
// as pt-archiver's --max-lag and gh-ost's --max-lag-millis do.
type replicaThrottle struct {
	o *Options
	// seen remembers, per standby, the replay position last seen while it
	// had WAL left to replay, and since when it has stood there.
	seen   map[string]position
	pauses int
	waited time.Duration
}

type position struct {
	at    string
	since time.Time // our clock
	reply time.Time // the standby's last report then (its clock)
}

// wait returns once every standby is within the bound; spent is true when
// the time budget ran out while waiting.
func (r *replicaThrottle) wait(ctx context.Context, step string, runStart time.Time) (spent bool, err error) {
	if r.o.MaxReplicaLag <= 0 {
		return false, nil
	}
	var start time.Time
	poll := min(max(r.o.MaxReplicaLag/4, 100*time.Millisecond), time.Second)
	for {
		name, lag, behind, err := r.worst(ctx)
		if err != nil {
			return false, fmt.Errorf("step %s: %w", step, err)
		}
		if lag <= r.o.MaxReplicaLag {
			if !start.IsZero() {
				r.waited += time.Since(start)
			}
			return false, nil
		}
		if start.IsZero() {
			start = time.Now()
			r.pauses++
		}
		if r.o.OnReplicaWait != nil {
			r.o.OnReplicaWait(ReplicaWaitEvent{Step: step, Replica: name, Lag: lag, BytesBehind: behind, Waited: time.Since(start)})
		}
		if r.o.MaxDuration > 0 && time.Since(runStart) >= r.o.MaxDuration {
			r.waited += time.Since(start)
			return true, nil
		}
		if err := sleep(ctx, poll); err != nil {
			r.waited += time.Since(start)
			return false, err
		}
	}
}

// worst is the standby furthest behind, by the run's reckoning.
func (r *replicaThrottle) worst(ctx context.Context) (name string, lag time.Duration, behind int64, err error) {
	reps, err := r.o.Store.Replicas(ctx)
	if err != nil {
		return "", 0, 0, err
	}
	if r.seen == nil {
		r.seen = map[string]position{}
	}
	now := time.Now()
	for _, rep := range reps {
		l := r.lagOf(rep, now)
		if name == "" || l > lag {
			name, lag, behind = rep.Name, l, rep.BytesBehind
		}
	}
	return name, lag, behind, nil
}

// lagOf is the server's replay lag, or, while the standby has WAL left to
// replay and keeps reporting the same replay position, how long it has
// stood still: the server shows no lag for a standby whose replay is
// paused, or on a link that has gone idle.
func (r *replicaThrottle) lagOf(rep store.Replica, now time.Time) time.Duration {
	lag := rep.ReplayLag
	if rep.BytesBehind <= 0 {
		delete(r.seen, rep.Name)
		return lag
	}
	p, ok := r.seen[rep.Name]
	if !ok || p.at != rep.ReplayPosition {
		r.seen[rep.Name] = position{at: rep.ReplayPosition, since: now, reply: rep.LastReply}
		return lag
	}
	// Standing still only counts once the standby has reported again at
	// the same position: one that has not spoken since has not said it is
	// stuck. (Reports are compared with reports, not with our clock.)
	if rep.LastReply.After(p.reply) {
		lag = max(lag, now.Sub(p.since))
	}
	return lag
}
