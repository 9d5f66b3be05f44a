package bucketconfig

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
)

// Status is the outcome of one kind in a run.
type Status string

const (
	StatusUnchanged Status = "unchanged" // nothing to do
	StatusApplied   Status = "applied"   // created or updated
	StatusRemoved   Status = "removed"   // deleted from the destination
	StatusReported  Status = "reported"  // not copied by design; see notes
	StatusManual    Status = "manual"    // applied, with a step left for a human
	StatusFailed    Status = "failed"
	StatusSkipped   Status = "skipped" // a kind it depends on failed
)

// Result is what happened to one kind.
type Result struct {
	Kind   string `json:"kind"`
	Action Action `json:"action"`
	Status Status `json:"status"`
	Error  string `json:"error,omitempty"`
	Code   string `json:"code,omitempty"` // AWS error code of the failure
	Notes  []Note `json:"notes,omitempty"`
}

// Succeeded says whether the run is a success: every kind applied,
// unchanged, reported, or left with a manual step.
func Succeeded(results []Result) bool {
	return !slices.ContainsFunc(results, func(r Result) bool {
		return r.Status == StatusFailed || r.Status == StatusSkipped
	})
}

// FirstFailure returns the first failed result, if any.
func FirstFailure(results []Result) (Result, bool) {
	for _, r := range results {
		if r.Status == StatusFailed {
			return r, true
		}
	}
	return Result{}, false
}

// A Gate holds a run's writes until a check on the plan has passed: a
// caller's conditions for writing to the destination at all (it is ours,
// the mirror record points at it), which it checks from the plan's
// snapshots as soon as they hold what it needs, while the rest of the round
// is still being read. The check runs once per run, before the first write,
// or at the end when nothing is written.
type Gate struct {
	check func(ctx context.Context, p *Plan) error
}

// NewGate returns a gate that lets writes through once check returns nil.
// check may wait (a snapshot's value waits for its read) and may call AWS
// with ctx.
func NewGate(check func(ctx context.Context, p *Plan) error) *Gate {
	return &Gate{check: check}
}

// Apply carries out a plan on its destination: each kind as soon as the
// kinds it must follow in this plan (Plan.waitsFor) are done, at most
// Concurrency writes at a time. A kind whose predecessor failed is skipped,
// not attempted. Writes take the values they need from the plan's
// snapshots; none reads the destination again.
func (e *Engine) Apply(ctx context.Context, p *Plan) []Result {
	planned := make([]chan struct{}, len(p.Steps))
	stepCtx := make([]context.Context, len(p.Steps))
	for i := range p.Steps {
		planned[i] = make(chan struct{})
		close(planned[i])
		stepCtx[i] = awsclient.Fork(ctx)
	}
	results, _ := e.withPlan(p).applySteps(ctx, p, planned, stepCtx, nil)
	return results
}

// applySteps writes each step of p once it may: its step is planned
// (planned[i] closed; stepCtx[i] is then its context), the steps of every
// kind that can ever have to precede it are planned too (the ordering edges
// are decided on both ends' steps), the gate has passed, and the kinds it
// must follow in this plan are done. Steps that write nothing finish
// without waiting for the gate; the gate is passed at the end when nothing
// wrote. On a gate refusal nothing is written and its error returned.
func (e *Engine) applySteps(ctx context.Context, p *Plan, planned []chan struct{}, stepCtx []context.Context, gate *Gate) ([]Result, error) {
	results := make([]Result, len(p.Steps))
	index := make(map[string]int, len(p.Steps))
	done := make([]chan struct{}, len(p.Steps))
	failed := make([]atomic.Bool, len(p.Steps))
	for i, k := range p.stepKinds() {
		index[k] = i
		done[i] = make(chan struct{})
	}
	// The gate's check runs once, for whichever kind is first ready to
	// write. Without a gate nothing waits: not even for the destination's
	// tags, which only the gate's check needs.
	var gateCtx context.Context
	var gateErr error
	var gateOnce sync.Once
	passGate := func(after context.Context) error {
		if gate == nil {
			return nil
		}
		gateOnce.Do(func() {
			gateCtx = awsclient.ForkAfter(ctx, after, p.Dest.waitRead(tagsKind.name))
			gateErr = gate.check(gateCtx, p)
		})
		return gateErr
	}
	sem := make(chan struct{}, e.opts.Concurrency)
	var wg sync.WaitGroup
	for i, kind := range p.stepKinds() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[i])
			<-planned[i]
			for _, before := range everBefore(kind) {
				if j, ok := index[before]; ok {
					<-planned[j]
				}
			}
			step, sctx := p.Steps[i], stepCtx[i]
			if !writing(step.Action) {
				results[i] = e.applyStep(sctx, p.Mirror.Dest, step)
				failed[i].Store(results[i].Status == StatusFailed)
				return
			}
			if err := passGate(sctx); err != nil {
				results[i] = Result{Kind: kind, Action: step.Action, Status: StatusSkipped, Notes: step.Notes,
					Error: fmt.Sprintf("not applied: %v", err)}
				failed[i].Store(true)
				return
			}
			if gateCtx != nil {
				awsclient.After(sctx, gateCtx)
			}
			var blocked []string
			for _, dep := range p.waitsFor(kind) {
				if j, ok := index[dep]; ok {
					<-done[j]
					awsclient.After(sctx, stepCtx[j])
					if failed[j].Load() {
						blocked = append(blocked, dep)
					}
				}
			}
			var r Result
			if len(blocked) > 0 {
				r = Result{Kind: kind, Action: step.Action, Status: StatusSkipped, Notes: step.Notes,
					Error: fmt.Sprintf("not applied: it must follow %v, which failed", blocked)}
			} else {
				sem <- struct{}{}
				r = e.applyStep(sctx, p.Mirror.Dest, step)
				<-sem
			}
			failed[i].Store(r.Status == StatusFailed || r.Status == StatusSkipped)
			results[i] = r
		}()
	}
	wg.Wait()
	if err := passGate(ctx); err != nil {
		return results, err
	}
	return results, nil
}

// stepKinds returns the kinds of p's steps, in order, without reading the
// steps themselves (which may still be being planned).
func (p *Plan) stepKinds() []string {
	out := make([]string, len(p.Steps))
	if p.index != nil {
		for k, i := range p.index {
			out[i] = k
		}
		return out
	}
	for i := range p.Steps {
		out[i] = p.Steps[i].Kind
	}
	return out
}

func writing(a Action) bool {
	return a == ActionCreate || a == ActionUpdate || a == ActionDelete
}

// applyStep writes one kind's plan step to the destination.
func (e *Engine) applyStep(ctx context.Context, dest Bucket, step Step) Result {
	r := Result{Kind: step.Kind, Action: step.Action, Notes: step.Notes}
	k, ok := KindByName(step.Kind)
	if !ok {
		r.Status, r.Error = StatusFailed, fmt.Sprintf("unknown kind %q", step.Kind)
		return r
	}
	var err error
	switch step.Action {
	case ActionError:
		err = step.Err
	case ActionNone:
		r.Status = StatusUnchanged
	case ActionReport:
		r.Status = StatusReported
	case ActionCreate, ActionUpdate:
		r.Status = StatusApplied
		err = RetryWrite(ctx, e.opts.PropagationTimeout, func() error { return k.write(ctx, e, dest, step.desired) })
		if err != nil {
			err = &KindError{Op: "applying", Kind: step.Kind, Bucket: dest.Name, Region: dest.Region, Err: err}
		}
	case ActionDelete:
		r.Status = StatusRemoved
		err = RetryWrite(ctx, e.opts.PropagationTimeout, func() error { return k.remove(ctx, e, dest) })
		if err != nil {
			err = &KindError{Op: "deleting", Kind: step.Kind, Bucket: dest.Name, Region: dest.Region, Err: err}
		}
	}
	var manual *ManualStepError
	if errors.As(err, &manual) {
		manual.Note.Kind = step.Kind
		r.Status, r.Notes = StatusManual, append(slices.Clone(r.Notes), manual.Note)
		return r
	}
	if err != nil && step.Action != ActionError && isUnavailable(err) {
		// The destination Region refuses the write as a method or argument
		// it does not offer, though its read answered: the configuration
		// (which S3 accepted in the source Region) cannot exist there. A
		// note, so the run finishes and the sweep does not retry it.
		what := step.Kind
		if e.plan != nil {
			what = fmt.Sprintf("%s of %s", step.Kind, e.plan.Mirror.Source.Name)
		}
		r.Status, r.Notes = StatusReported, append(slices.Clone(r.Notes), Note{Kind: step.Kind, Severity: SeverityNotCopied,
			Message: fmt.Sprintf("%s is not copied: %s is not available in %s (S3 answers %s when writing it to %s), so this configuration cannot exist there",
				what, step.Kind, dest.Region, ErrorCode(err), dest.Name)})
		return r
	}
	if err != nil {
		r.Status, r.Error, r.Code = StatusFailed, err.Error(), ErrorCode(err)
		return r
	}
	if r.Status != StatusFailed && slices.ContainsFunc(step.Notes, func(n Note) bool { return n.Severity == SeverityManual }) {
		r.Status = StatusManual
	}
	return r
}

// Configure makes the destination's configuration equal transform(source):
// each kind planned as soon as its reads are in and written as soon as the
// kinds it must follow are done (see ConfigureGated). With
// Options.Sequential it goes one kind at a time in catalog order instead
// (read source kind, read destination kind, write).
func (e *Engine) Configure(ctx context.Context, m Mirror) (*Plan, []Result, error) {
	if e.opts.Sequential {
		return e.configureSequential(ctx, m)
	}
	return e.ConfigureGated(ctx, m, nil, nil)
}

// ConfigureKinds is Configure restricted to the named kinds (nil: every
// kind): only those are read on both buckets, compared and applied — what a
// change event that can have touched only them needs. The dependency order
// holds among the kinds named; the others are neither read nor written.
func (e *Engine) ConfigureKinds(ctx context.Context, m Mirror, names []string) (*Plan, []Result, error) {
	if names == nil {
		return e.Configure(ctx, m)
	}
	return e.ConfigureGated(ctx, m, names, nil)
}

// ConfigureGated reads, plans and applies the named kinds (nil: every kind)
// in one pass: a kind's write goes out once its own reads are in, the gate
// has passed, and the kinds it must follow (decided on their steps, so it
// also waits for those to be planned) are done — not after the slowest
// read of the round. It returns the gate's error, having written nothing,
// when the gate refuses.
func (e *Engine) ConfigureGated(ctx context.Context, m Mirror, names []string, gate *Gate) (*Plan, []Result, error) {
	kinds, err := KindsNamed(names)
	if err != nil {
		return nil, nil, err
	}
	return e.stream(ctx, m, kinds, true, gate)
}

func (e *Engine) configureSequential(ctx context.Context, m Mirror) (*Plan, []Result, error) {
	p := &Plan{Mirror: m, Source: newSnapshot(m.Source), Dest: newSnapshot(m.Dest)}
	pe := e.withPlan(p)
	var results []Result
	failed := map[string]bool{}
	for _, k := range Kinds {
		if err := ctx.Err(); err != nil {
			return p, results, err
		}
		name := k.Name()
		e.readInto(ctx, p.Source, []Kind{k}, false, nil)
		e.readInto(ctx, p.Dest, []Kind{k}, m.NewDest, nil)
		step := pe.planKind(ctx, k, m, p.Source, p.Dest)
		p.Steps = append(p.Steps, step)
		var r Result
		before := everBefore(name)
		if blocked := slices.ContainsFunc(before, func(d string) bool { return failed[d] }); blocked {
			r = Result{Kind: name, Action: step.Action, Status: StatusSkipped, Notes: step.Notes,
				Error: fmt.Sprintf("not applied: it must follow %v, one of which failed", before)}
		} else {
			r = pe.applyStep(ctx, m.Dest, step)
		}
		failed[name] = r.Status == StatusFailed || r.Status == StatusSkipped
		results = append(results, r)
	}
	return p, results, nil
}
