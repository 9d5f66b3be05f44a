package bucketconfig

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

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

// Apply carries out a plan on its destination: each kind as soon as the
// kinds it must follow in this plan (Plan.waitsFor) are done, at most
// Concurrency writes at a time. A kind whose predecessor failed is skipped,
// not attempted. Writes take the values they need from the plan's
// snapshots; none reads the destination again.
func (e *Engine) Apply(ctx context.Context, p *Plan) []Result {
	pe := e.withPlan(p)
	results := make([]Result, len(p.Steps))
	done := make(map[string]chan struct{}, len(p.Steps))
	stepCtx := make(map[string]context.Context, len(p.Steps))
	deps := make(map[string][]string, len(p.Steps))
	failed := make(map[string]bool, len(p.Steps))
	var mu sync.Mutex
	for _, s := range p.Steps {
		done[s.Kind] = make(chan struct{})
		stepCtx[s.Kind] = awsclient.Fork(ctx)
		deps[s.Kind] = p.waitsFor(s.Kind)
	}
	sem := make(chan struct{}, e.opts.Concurrency)
	var wg sync.WaitGroup
	for i, step := range p.Steps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[step.Kind])
			sctx := stepCtx[step.Kind]
			var blocked []string
			for _, dep := range deps[step.Kind] {
				if ch, ok := done[dep]; ok {
					<-ch
					awsclient.After(sctx, stepCtx[dep])
				}
				mu.Lock()
				if failed[dep] {
					blocked = append(blocked, dep)
				}
				mu.Unlock()
			}
			var r Result
			if len(blocked) > 0 {
				r = Result{Kind: step.Kind, Action: step.Action, Status: StatusSkipped, Notes: step.Notes,
					Error: fmt.Sprintf("not applied: it must follow %v, which failed", blocked)}
			} else {
				sem <- struct{}{}
				r = pe.applyStep(sctx, p.Mirror.Dest, step)
				<-sem
			}
			if r.Status == StatusFailed || r.Status == StatusSkipped {
				mu.Lock()
				failed[step.Kind] = true
				mu.Unlock()
			}
			results[i] = r
		}()
	}
	wg.Wait()
	return results
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
// plan, then apply. With Options.Sequential it goes one kind at a time in
// catalog order instead (read source kind, read destination kind, write).
func (e *Engine) Configure(ctx context.Context, m Mirror) (*Plan, []Result, error) {
	if e.opts.Sequential {
		return e.configureSequential(ctx, m)
	}
	p, err := e.Plan(ctx, m)
	if err != nil {
		return nil, nil, err
	}
	return p, e.Apply(ctx, p), nil
}

// ConfigureKinds is Configure restricted to the named kinds (nil: every
// kind): only those are read on both buckets, compared and applied — what a
// change event that can have touched only them needs. The dependency order
// holds among the kinds named; the others are neither read nor written.
func (e *Engine) ConfigureKinds(ctx context.Context, m Mirror, names []string) (*Plan, []Result, error) {
	if names == nil {
		return e.Configure(ctx, m)
	}
	p, err := e.PlanKinds(ctx, m, names)
	if err != nil {
		return nil, nil, err
	}
	return p, e.Apply(ctx, p), nil
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
