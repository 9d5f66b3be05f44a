package sweep

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
	"github.com/bucketmirror/bucketmirror/pkg/inventory"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
)

// reconcile handles one bucket: finds out what its tags ask for (INVALID
// for what cannot be done), decides and acts per destination Region, and
// detaches the mirrors it no longer asks for. Every outcome is a decision.
func (r *run) reconcile(ctx context.Context, src *source) {
	r.mu.Lock()
	r.scanned++
	r.mu.Unlock()
	if src.lookup {
		if err := mirror.ValidateBucketName(src.Name); err != nil {
			r.record(Decision{Source: src.Name, Action: ActionFailed, Reason: "invalid-name", Error: fmt.Sprintf("bucket name %q %s", src.Name, err)})
			return
		}
	}
	v, ok := r.sourceAccount(ctx, src)
	if !ok {
		return
	}
	if err := r.locate(ctx, v, src); err != nil {
		r.record(Decision{Source: src.Name, Action: ActionFailed, Reason: "lookup", Error: err.Error()})
		return
	}
	if src.change != nil && src.onlyRegion == "" && !src.gone && src.Tags[r.cfg.sourceTag()] != "" {
		r.reconcileDestination(ctx, src)
		return
	}
	targets, invalid := r.parse(src)
	if src.onlyRegion != "" {
		targets = slices.DeleteFunc(targets, func(t target) bool { return t.Region != src.onlyRegion })
		invalid = slices.DeleteFunc(invalid, func(t invalidTarget) bool { return t.Region != src.onlyRegion })
	}
	if src.Records == nil {
		if err := r.loadRecords(ctx, src); err != nil {
			r.record(Decision{Source: src.Name, SourceRegion: src.Region, Action: ActionFailed, Reason: "inventory", Error: err.Error()})
			return
		}
	}
	if !src.lookup && r.disagrees(src, targets, invalid) {
		// The Tagging API is eventually consistent: before writing INVALID
		// or DETACHED, or reviving such a record, read the tags from S3.
		src.lookup = true
		if err := r.locate(ctx, v, src); err != nil {
			r.record(Decision{Source: src.Name, SourceRegion: src.Region, Action: ActionFailed, Reason: "lookup", Error: err.Error()})
			return
		}
		targets, invalid = r.parse(src)
	}
	_, tagged := src.Tags[r.cfg.regionsTag()]
	switch {
	case src.gone:
		r.detachAll(ctx, src, "source-deleted", "not-found")
		return
	case src.Tags[r.cfg.sourceTag()] != "":
		// A destination (loop prevention), even if someone tagged it as a
		// source too.
		r.record(Decision{Source: src.Name, SourceRegion: src.Region, Action: ActionSkipped, Reason: "is-destination"})
		return
	case !tagged:
		r.detachAll(ctx, src, "tag-removed", "not-tagged")
		return
	}
	// A change event reads only the kinds it can have changed, for the
	// mirrors whose record holds per-kind hashes to compare them with;
	// the others need the whole source.
	var changed *bucketconfig.Snapshot
	if kinds := src.changedKinds(); kinds != nil && slices.ContainsFunc(targets, func(t target) bool { return targetable(src.Records[t.place(src)], t) }) {
		var err error
		if changed, err = v.engine.SnapshotKinds(ctx, bucketconfig.Bucket{Name: src.Name, Region: src.Region}, kinds); err != nil {
			r.record(Decision{Source: src.Name, SourceRegion: src.Region, Action: ActionFailed, Reason: "invalid-kinds", Error: err.Error()})
			return
		}
		if bucketGone(changed) {
			src.gone = true
			r.detachAll(ctx, src, "source-deleted", "not-found")
			return
		}
	}
	var srcHash string
	dests := map[string]*destRead{}
	if slices.ContainsFunc(targets, func(t target) bool { return changed == nil || !targetable(src.Records[t.place(src)], t) }) {
		// The destinations an unchanged source would be compared with are
		// read while the source is: one mirror's two snapshots take the time
		// of one. Wasted only when the source turns out changed or gone.
		for _, t := range targets {
			if rec := src.Records[t.place(src)]; (changed == nil || !targetable(rec, t)) && r.wouldReadDestination(rec, t) {
				dests[t.place(src)] = r.readDestination(ctx, src, t, rec)
			}
		}
		defer func() {
			for _, d := range dests {
				<-d.done
			}
		}()
		snap := v.engine.Snapshot(ctx, bucketconfig.Bucket{Name: src.Name, Region: src.Region})
		if bucketGone(snap) {
			src.gone = true
			r.detachAll(ctx, src, "source-deleted", "not-found")
			return
		}
		srcHash = snap.Hash()
	}
	listed := map[string]bool{}
	for _, inv := range invalid {
		listed[inv.Region] = true
		r.markInvalid(ctx, src, inv)
	}
	for _, t := range targets {
		listed[t.place(src)] = true
		if rec := src.Records[t.place(src)]; changed != nil && targetable(rec, t) {
			r.reconcileKinds(ctx, src, t, rec, changed)
			continue
		}
		r.reconcileTarget(ctx, src, t, srcHash, dests[t.place(src)])
	}
	for _, place := range slices.Sorted(maps.Keys(src.Records)) {
		rec := src.Records[place]
		if src.onlyRegion != "" && rec.Region != src.onlyRegion {
			continue
		}
		if !listed[place] && rec.Status != inventory.StatusDetached {
			r.detach(ctx, src, rec, "region-removed")
		}
	}
}

// sourceAccount finds the account src is in — listed with it, else named by
// its mirror records, else the deployment's own — and makes sure the sweep
// can act there. A source in an account it cannot reach is a skip decision
// (account-unreachable); the account itself is reported once (AccountError).
func (r *run) sourceAccount(ctx context.Context, src *source) (*accountView, bool) {
	if src.Account == "" && r.multiAccount() {
		if src.Records == nil {
			if err := r.loadRecords(ctx, src); err != nil {
				r.record(Decision{Source: src.Name, Action: ActionFailed, Reason: "inventory", Error: err.Error()})
				return nil, false
			}
		}
		for _, rec := range src.Records {
			src.Account = cmp.Or(src.Account, rec.SourceAccount)
		}
	}
	src.Account = cmp.Or(src.Account, r.cfg.AccountID)
	if r.multiAccount() || src.Account != r.cfg.AccountID {
		r.mu.Lock()
		if r.sourceAccounts == nil {
			r.sourceAccounts = map[string]string{}
		}
		r.sourceAccounts[src.Name] = src.Account
		r.mu.Unlock()
	}
	v, unreachable := r.reach(ctx, src.Account)
	if unreachable != nil {
		r.record(Decision{Source: src.Name, SourceRegion: src.Region, Action: ActionSkipped, Reason: ReasonAccountUnreachable, Error: unreachable.Error})
		return nil, false
	}
	return v, true
}

// ReasonAccountUnreachable marks a source in an account the sweep cannot
// act in (its member role missing or denying); the account is reported in
// the summary's AccountErrors.
const ReasonAccountUnreachable = "account-unreachable"

// multiAccount says the sweep looks in accounts by configuration
// (BUCKETMIRROR_ACCOUNTS), not only in the deployment's own.
func (r *run) multiAccount() bool { return r.cfg.Organization || len(r.cfg.Accounts) > 0 }

// changedKinds are the kinds a change event can have changed; nil for a
// sweep, or an event that can have changed anything.
func (src *source) changedKinds() []string {
	if src.change == nil {
		return nil
	}
	return src.change.Kinds
}

// targetable says a mirror can be reconciled kind by kind: it FINISHED,
// still has its destination, and its record holds the per-kind hashes its
// whole-bucket hashes combine. Anything else needs every kind.
func targetable(rec *inventory.Mirror, t target) bool {
	return rec != nil && rec.Status == inventory.StatusFinished && rec.Dest != "" && (t.Dest == "" || t.Dest == rec.Dest) &&
		rec.SourceKinds != nil && rec.DestKinds != nil
}

// reconcileDestination handles a change event about a destination: the
// mirror it belongs to (its source tag, and the inventory's record for
// that source in the destination's Region) is reconciled, only that one.
func (r *run) reconcileDestination(ctx context.Context, dst *source) {
	d := Decision{Source: dst.Name, SourceRegion: dst.Region, Action: ActionSkipped, Reason: "is-destination"}
	srcName, ok := bucketOfARN(dst.Tags[r.cfg.sourceTag()])
	if !ok {
		r.record(d)
		return
	}
	// The source's records, whatever their place: a destination in another
	// account than its source's is keyed by Region and account
	// (inventory.Place), which the destination's tags do not say.
	recs, err := r.store.MirrorsOf(ctx, srcName)
	if err != nil {
		d.Action, d.Reason, d.Error = ActionFailed, "inventory", err.Error()
		r.record(d)
		return
	}
	var rec *inventory.Mirror
	for i := range recs {
		if recs[i].Region == dst.Region && recs[i].Dest == dst.Name {
			rec = &recs[i]
		}
	}
	srcAccount := ""
	if rec != nil {
		srcAccount = cmp.Or(rec.SourceAccount, r.cfg.AccountID)
	}
	if rec == nil || cmp.Or(rec.DestAccount, srcAccount) != dst.Account {
		// Tagged like a destination, but not the one recorded for that
		// source and Region (or recorded in another account): nothing of
		// bucketmirror's to repair.
		d.Reason = "unknown-destination"
		r.record(d)
		return
	}
	// The record's Region is a hint (asked of S3 again on a redirect).
	r.reconcile(ctx, &source{Name: srcName, Account: srcAccount, Region: rec.SourceRegion, regionHinted: rec.SourceRegion != "", lookup: true, change: dst.change, onlyRegion: dst.Region})
}

// reconcileKinds decides about one FINISHED mirror from the kinds a change
// event can have touched: the source's are compared with the recorded
// per-kind hashes, and only when they are unchanged are the destination's
// read (damage by hand). A run it starts applies only those kinds.
func (r *run) reconcileKinds(ctx context.Context, src *source, t target, rec *inventory.Mirror, changed *bucketconfig.Snapshot) {
	kinds := changed.Read()
	srcHash := bucketconfig.CombineHashes(bucketconfig.MergeKindHashes(rec.SourceKinds, changed))
	d := Decision{Source: src.Name, SourceRegion: src.Region, Region: t.Region, Dest: rec.Dest, SourceHash: srcHash, Kinds: kinds}
	if srcHash != rec.AppliedHash {
		d.Reason = "source-changed"
		r.start(ctx, src, t, rec, d, "")
		return
	}
	dsnap, err := r.destEngine(ctx, src, t).SnapshotKinds(ctx, bucketconfig.Bucket{Name: rec.Dest, Region: t.Region}, kinds)
	if err != nil {
		d.Action, d.Reason, d.Error = ActionFailed, "invalid-kinds", err.Error()
		r.record(d)
		return
	}
	observed := bucketconfig.CombineHashes(bucketconfig.MergeKindHashes(rec.DestKinds, dsnap))
	switch {
	case bucketGone(dsnap):
		d.Reason, d.Kinds = "destination-missing", nil
	case observed != rec.DestHash:
		d.Reason = "destination-changed"
	default:
		d.Action, d.Reason = ActionSkipped, "unchanged"
		r.record(d)
		return
	}
	r.start(ctx, src, t, rec, d, observed)
}

// parse reads the tag contract off src's tags; a destination, an untagged
// or a deleted bucket has no targets.
func (r *run) parse(src *source) ([]target, []invalidTarget) {
	if _, tagged := src.Tags[r.cfg.regionsTag()]; !tagged || src.gone || src.Tags[r.cfg.sourceTag()] != "" {
		return nil, nil
	}
	return parseTargets(r.cfg, src.Name, src.Region, src.Tags)
}

// disagrees says the tags the Tagging API listed would change the inventory
// other than by starting runs: a record to detach, an INVALID to write, or
// a DETACHED or INVALID record to revive.
func (r *run) disagrees(src *source, targets []target, invalid []invalidTarget) bool {
	if len(invalid) > 0 || src.Tags[r.cfg.sourceTag()] != "" {
		return true
	}
	listed := map[string]bool{}
	for _, t := range targets {
		listed[t.place(src)] = true
		if rec := src.Records[t.place(src)]; rec != nil && (rec.Status == inventory.StatusDetached || rec.Status == inventory.StatusInvalid) {
			return true
		}
	}
	for place, rec := range src.Records {
		if !listed[place] && rec.Status != inventory.StatusDetached {
			return true
		}
	}
	return false
}

// bucketGone says a snapshot found no bucket at all.
func bucketGone(snap *bucketconfig.Snapshot) bool {
	for _, err := range snap.Errors {
		if bucketconfig.IsNoSuchBucket(err) {
			return true
		}
	}
	return false
}

// retryAt is when a FAILED mirror's backoff ends.
func retryAt(rec *inventory.Mirror) time.Time { return rec.UpdatedAt.Add(retryBackoff(rec.Attempts)) }

func inFlight(status string) bool {
	return status == inventory.StatusStarted || status == inventory.StatusCreated
}

// destRead is a destination snapshot being read; snap is set once done is
// closed.
type destRead struct {
	done chan struct{}
	snap *bucketconfig.Snapshot
}

// destEngine reads t's destination in its account: the one the
// destination-account tag names, else the source's. An account the sweep
// cannot act in leaves the deployment's engine, whose reads then fail and
// start a run that records the failure.
func (r *run) destEngine(ctx context.Context, src *source, t target) *bucketconfig.Engine {
	if v, unreachable := r.reach(ctx, cmp.Or(t.Account, src.Account)); unreachable == nil {
		return v.engine
	}
	return r.engine
}

// readDestination starts reading rec's destination (for src's target t).
func (r *run) readDestination(ctx context.Context, src *source, t target, rec *inventory.Mirror) *destRead {
	engine := r.destEngine(ctx, src, t)
	d := &destRead{done: make(chan struct{})}
	go func() {
		defer close(d.done)
		d.snap = engine.Snapshot(ctx, bucketconfig.Bucket{Name: rec.Dest, Region: rec.Region})
	}()
	return d
}

// wouldReadDestination says reconcileTarget compares the destination with
// its record when the source is unchanged: a FINISHED mirror whose
// destination is the one the tags ask for, in a round that reads
// destinations. Every other state starts (or skips) a run on the records
// alone.
func (r *run) wouldReadDestination(rec *inventory.Mirror, t target) bool {
	return rec != nil && !r.skipDestinations && rec.Status == inventory.StatusFinished && rec.Dest != "" &&
		(t.Dest == "" || t.Dest == rec.Dest)
}

// reconcileTarget decides about one source × Region and acts on it. The
// destination is compared only when the source is unchanged (pre-read, when
// the mirror looked unchanged, alongside the source: dest), and not at all
// in a round that skips destinations.
func (r *run) reconcileTarget(ctx context.Context, src *source, t target, srcHash string, dest *destRead) {
	rec := src.Records[t.place(src)]
	d := Decision{Source: src.Name, SourceRegion: src.Region, Region: t.Region, Dest: t.Dest, SourceHash: srcHash}
	if rec != nil && d.Dest == "" {
		d.Dest = rec.Dest
	}
	var reason, observed string
	switch {
	case rec == nil:
		reason = "new"
	case inFlight(rec.Status) && r.now().Sub(rec.UpdatedAt) < r.cfg.InFlightWindow:
		d.Action, d.Reason = ActionSkipped, "in-progress"
		r.record(d)
		return
	case inFlight(rec.Status):
		reason = "stalled"
	case !r.retryFailed && rec.Status == inventory.StatusFailed && rec.AttemptHash == srcHash && (t.Dest == "" || t.Dest == rec.Dest) &&
		r.now().Before(retryAt(rec)):
		d.Action, d.Reason = ActionSkipped, "failed-backoff"
		d.Error = fmt.Sprintf("%d attempts failed, the last with: %s; next retry after %s, or at once when the source changes",
			rec.Attempts, rec.LastError, retryAt(rec).Format(time.RFC3339))
		r.record(d)
		return
	case rec.Status == inventory.StatusDetached:
		reason = "reattached"
	case rec.Status == inventory.StatusInvalid:
		reason = "tag-fixed"
	case rec.Status != inventory.StatusFinished || rec.Dest == "":
		reason = "retry"
	case rec.AppliedHash != srcHash:
		reason = "source-changed"
	case t.Dest != "" && t.Dest != rec.Dest:
		reason = "destination-renamed"
	case r.skipDestinations:
		// This round reads sources only (Config.DestinationReadEvery):
		// destination events repair the destinations in between.
		d.Action, d.Reason = ActionSkipped, "unchanged"
		r.record(d)
		return
	default:
		if dest == nil {
			dest = r.readDestination(ctx, src, t, rec)
		}
		<-dest.done
		dsnap := dest.snap
		observed = dsnap.Hash()
		switch {
		case bucketGone(dsnap):
			reason = "destination-missing"
		case observed != rec.DestHash:
			reason = "destination-changed"
		default:
			d.Action, d.Reason = ActionSkipped, "unchanged"
			r.record(d)
			return
		}
	}
	d.Reason = reason
	r.start(ctx, src, t, rec, d, observed)
}

// lease takes the source×Region lease and checks that the mirror record is
// still the one the decision was made on. Without an error, either release
// is set (the caller holds the lease) or why says what got in the way:
// lease-held (another sweep is at it) or changed-concurrently (another
// sweep was, since this one read the inventory).
func (r *run) lease(ctx context.Context, source, region string, seen *inventory.Mirror) (release func(), why string, err error) {
	if err := r.store.AcquireLease(ctx, source, region, r.owner, r.cfg.LeaseTTL); errors.Is(err, inventory.ErrLeaseHeld) {
		return nil, "lease-held", nil
	} else if err != nil {
		return nil, "", err
	}
	release = func() {
		// A lease that cannot be released expires after LeaseTTL.
		if err := r.store.ReleaseLease(context.WithoutCancel(ctx), source, region, r.owner); err != nil {
			r.Log.Warn("releasing lease", "bucket", source, "region", region, "error", err)
		}
	}
	cur, err := r.store.GetMirror(ctx, source, region)
	if err != nil {
		release()
		return nil, "", err
	}
	if !sameRecord(cur, seen) {
		release()
		return nil, "changed-concurrently", nil
	}
	return release, "", nil
}

func sameRecord(a, b *inventory.Mirror) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Status == b.Status && a.LastRunID == b.LastRunID && a.UpdatedAt.Equal(b.UpdatedAt)
}

// start marks the mirror STARTED under the lease and starts its run.
func (r *run) start(ctx context.Context, src *source, t target, rec *inventory.Mirror, d Decision, observedDestHash string) {
	release, why, err := r.lease(ctx, src.Name, t.place(src), rec)
	if err != nil || why != "" {
		d.Action, d.Reason, d.Error = ActionSkipped, why, ""
		if err != nil {
			d.Action, d.Error = ActionFailed, err.Error()
		}
		r.record(d)
		return
	}
	defer release()
	lastRun := ""
	if rec != nil {
		lastRun = rec.LastRunID
	}
	d.Execution = ExecutionName(src.Name, t.place(src), d.SourceHash, observedDestHash, lastRun)
	in := mirror.Input{
		SourceBucketARN: "arn:aws:s3:::" + src.Name, SourceAccountNumber: src.Account, DestAccountNumber: cmp.Or(t.Account, src.Account),
		SourceRegion: src.Region, DestRegion: t.Region, RunID: d.Execution, DeterministicName: true,
	}
	if t.Dest != "" {
		in.DestBucketARN = "arn:aws:s3:::" + t.Dest
	}
	if d.Kinds != nil {
		// A targeted run: the destination exists and is the recorded one.
		in.Kinds, in.DestBucketARN = d.Kinds, "arn:aws:s3:::"+rec.Dest
	}
	// The source's destination-bucket tag names another bucket than the
	// record: the tag is the user's explicit wish, so the run may move the
	// mirror (create refuses an unasked repoint). The record itself moves
	// only when create has the new destination ready.
	markedDest := d.Dest
	if rec != nil && rec.Dest != "" {
		in.Repoint = t.Dest != "" && t.Dest != rec.Dest && d.Kinds == nil
		markedDest = rec.Dest
	}
	marked := inventory.Mirror{Source: src.Name, Region: t.Region, Dest: markedDest, Status: inventory.StatusStarted,
		LastRunID: d.Execution, LastRunAt: r.now().Format("2006-01-02T15:04:05.000Z"), SourceRegion: src.Region}
	if src.Account != r.cfg.AccountID {
		marked.SourceAccount = src.Account
	}
	if t.place(src) != t.Region {
		marked.DestAccount = t.Account
	}
	marked.Inherit(rec)
	marked.Attempts, marked.AttemptHash = 1, d.SourceHash
	// Failed and stalled runs count; a mirror coming back from DETACHED or
	// INVALID, or drifting after a success, starts again from one.
	if rec != nil && (rec.Status == inventory.StatusFailed || inFlight(rec.Status)) {
		marked.Attempts = rec.Attempts + 1
	}
	if err := r.store.PutMirror(ctx, marked); err != nil {
		d.Action, d.Error = ActionFailed, err.Error()
		r.record(d)
		return
	}
	detail := EventDetail{Source: src.Name, SourceRegion: src.Region, Region: t.Region, Dest: d.Dest, Reason: d.Reason,
		Execution: d.Execution, Mode: r.mode(), SourceHash: d.SourceHash}
	switch d.Reason {
	case "source-changed", "destination-changed", "destination-missing":
		drift := EventDetail{Source: src.Name, SourceRegion: src.Region, Region: t.Region, Dest: d.Dest, Reason: d.Reason,
			AppliedHash: rec.AppliedHash, SourceHash: d.SourceHash}
		if d.Reason != "source-changed" {
			drift.RecordedDestHash, drift.ObservedDestHash = rec.DestHash, observedDestHash
		}
		r.pub.add(ctx, DetailDriftDetected, drift)
	}
	r.pub.add(ctx, DetailRunStarted, detail)

	err = r.starter.Start(ctx, d.Execution, in)
	waited := isSynchronous(r.starter)
	if waited || err != nil {
		// The run (or the failed start) has written its outcome; the
		// record names the destination a new mirror got.
		if after, gerr := r.store.GetMirror(context.WithoutCancel(ctx), src.Name, t.place(src)); gerr == nil && after != nil {
			if after.Dest != "" {
				d.Dest = after.Dest
			}
			if err != nil && after.Status == inventory.StatusStarted && after.LastRunID == d.Execution {
				r.markFailed(ctx, after, err)
			}
		}
	}
	detail.Dest = d.Dest
	if err != nil {
		d.Action, d.Error = ActionFailed, err.Error()
		detail.Stage, detail.Error, detail.Reason = "start", err.Error(), ""
		if waited {
			detail.Stage = "run"
		}
		r.pub.add(ctx, DetailRunFailed, detail)
		r.record(d)
		return
	}
	d.Action = ActionStarted
	if named, ok := r.starter.(executionNamer); ok {
		d.ExecutionARN = named.ExecutionARN(d.Execution)
	}
	if waited {
		detail.Reason = ""
		r.pub.add(ctx, DetailRunFinished, detail)
	}
	r.record(d)
}

// markFailed records a run that failed before it wrote anything itself (the
// state machine never started, or the input was refused), so the mirror
// does not look in progress until the in-flight window passes.
func (r *run) markFailed(ctx context.Context, rec *inventory.Mirror, cause error) {
	m := *rec
	m.Status, m.LastError = inventory.StatusFailed, cause.Error()
	if err := r.store.PutMirror(context.WithoutCancel(ctx), m); err != nil {
		r.Log.Warn("recording a failed start", "bucket", m.Source, "region", m.Region, "run", m.LastRunID, "error", err)
	}
}

// markInvalid records an INVALID mirror; a record that already says so
// with the same message is left alone (a sweep of unchanged buckets writes
// nothing).
func (r *run) markInvalid(ctx context.Context, src *source, inv invalidTarget) {
	rec := src.Records[inv.Region]
	d := Decision{Source: src.Name, SourceRegion: src.Region, Region: inv.Region, Action: ActionInvalid, Reason: "invalid-tag", Error: inv.Message}
	if rec != nil {
		d.Dest = rec.Dest
		if rec.Status == inventory.StatusInvalid && rec.LastError == inv.Message {
			r.record(d)
			return
		}
	}
	release, why, err := r.lease(ctx, src.Name, inv.Region, rec)
	switch {
	case err != nil:
		d.Action, d.Error = ActionFailed, fmt.Sprintf("%s (recording it: %v)", inv.Message, err)
		r.record(d)
		return
	case why != "":
		r.record(d) // another sweep is recording it
		return
	}
	defer release()
	m := inventory.Mirror{Source: src.Name, Region: inv.Region}
	if rec != nil {
		m = *rec
	}
	m.Status, m.LastError = inventory.StatusInvalid, inv.Message
	if err := r.store.PutMirror(ctx, m); err != nil {
		d.Action, d.Error = ActionFailed, fmt.Sprintf("%s (recording it: %v)", inv.Message, err)
		r.record(d)
		return
	}
	r.pub.add(ctx, DetailInvalid, EventDetail{Source: src.Name, SourceRegion: src.Region, Region: inv.Region, Error: inv.Message})
	r.record(d)
}

// detachAll detaches every mirror of src; a named bucket without any gets
// one skip decision (why) so the caller sees it was looked at.
func (r *run) detachAll(ctx context.Context, src *source, reason, why string) {
	n := 0
	for _, region := range slices.Sorted(maps.Keys(src.Records)) {
		if rec := src.Records[region]; rec.Status != inventory.StatusDetached {
			r.detach(ctx, src, rec, reason)
			n++
		}
	}
	if n == 0 {
		r.record(Decision{Source: src.Name, SourceRegion: src.Region, Action: ActionSkipped, Reason: why})
	}
}

// detach marks a mirror DETACHED. The destination is never touched.
func (r *run) detach(ctx context.Context, src *source, rec *inventory.Mirror, reason string) {
	d := Decision{Source: src.Name, SourceRegion: src.Region, Region: rec.Region, Dest: rec.Dest, Action: ActionDetached, Reason: reason}
	release, why, err := r.lease(ctx, src.Name, rec.Region, rec)
	if err != nil || why != "" {
		d.Action, d.Reason = ActionSkipped, why
		if err != nil {
			d.Action, d.Reason, d.Error = ActionFailed, reason, err.Error()
		}
		r.record(d)
		return
	}
	defer release()
	m := *rec
	m.Status = inventory.StatusDetached
	switch reason {
	case "source-deleted":
		m.LastError = fmt.Sprintf("detached: source bucket %q no longer exists; destination %q kept", src.Name, rec.Dest)
	case "region-removed":
		m.LastError = fmt.Sprintf("detached: source bucket %q no longer lists %s in %s; destination %q kept", src.Name, rec.Region, r.cfg.regionsTag(), rec.Dest)
	default:
		m.LastError = fmt.Sprintf("detached: source bucket %q no longer carries %s; destination %q kept", src.Name, r.cfg.regionsTag(), rec.Dest)
	}
	if err := r.store.PutMirror(ctx, m); err != nil {
		d.Action, d.Error = ActionFailed, err.Error()
		r.record(d)
		return
	}
	r.pub.add(ctx, DetailDetached, EventDetail{Source: src.Name, SourceRegion: src.Region, Region: rec.Region, Dest: rec.Dest, Reason: reason, PreviousStatus: rec.Status})
	r.record(d)
}
