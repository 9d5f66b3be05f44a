package bucketconfig

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
)

// Action is what a plan step does to the destination.
type Action string

const (
	ActionNone   Action = "none"   // already equal
	ActionCreate Action = "create" // configured on the source, absent on the destination
	ActionUpdate Action = "update" // configured on both, different
	ActionDelete Action = "delete" // absent on the source, configured on the destination
	ActionReport Action = "report" // not copied (report-only kind); see Notes
	ActionError  Action = "error"  // the kind could not be read or transformed
)

// Step is the plan for one kind.
type Step struct {
	Kind    string          `json:"kind"`
	Action  Action          `json:"action"`
	Current json.RawMessage `json:"current,omitempty"` // destination as read
	Desired json.RawMessage `json:"desired,omitempty"` // transform(source)
	Notes   []Note          `json:"notes,omitempty"`
	Err     error           `json:"-"`

	desired value
}

// Plan is what configuring a destination from its source would do.
type Plan struct {
	Mirror Mirror
	Steps  []Step // catalog order
	Source *Snapshot
	Dest   *Snapshot

	// index is each kind's position in Steps, for a plan whose steps are
	// filled in while it is applied: a kind looks up only the steps it has
	// waited for.
	index map[string]int
}

// Changes counts the steps that write to the destination.
func (p *Plan) Changes() int {
	n := 0
	for _, s := range p.Steps {
		switch s.Action {
		case ActionCreate, ActionUpdate, ActionDelete:
			n++
		}
	}
	return n
}

// Plan reads source and destination, all kinds of both at once, and decides
// per kind what to do. It writes nothing. Each kind is planned as soon as
// its own two reads are in; a kind that must read more before it can be
// written (logging: its log bucket) starts those reads then, so that they
// overlap the rest of the round.
func (e *Engine) Plan(ctx context.Context, m Mirror) (*Plan, error) {
	return e.planKinds(ctx, m, Kinds)
}

func (e *Engine) planKinds(ctx context.Context, m Mirror, kinds []Kind) (*Plan, error) {
	p, _, err := e.stream(ctx, m, kinds, false, nil)
	return p, err
}

// stream reads both buckets' kinds and plans each kind once its two reads
// are in. With apply, each kind is also written as soon as it may (see
// applySteps) instead of after the whole plan: a write that waits for
// nothing but its own reads and the gate goes out while the round's last
// reads are still being answered. The error is the gate's, when it refused
// (then nothing was written), or ctx's at the start.
func (e *Engine) stream(ctx context.Context, m Mirror, kinds []Kind, apply bool, gate *Gate) (*Plan, []Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	p := &Plan{Mirror: m, Source: newSnapshot(m.Source), Dest: newSnapshot(m.Dest), Steps: make([]Step, len(kinds)),
		index: make(map[string]int, len(kinds))}
	for i, k := range kinds {
		p.index[k.Name()] = i
	}
	pe := e.withPlan(p)
	planned := make([]chan struct{}, len(kinds))
	stepCtx := make([]context.Context, len(kinds))
	readsOut := make([]atomic.Int32, len(kinds))
	for i := range kinds {
		planned[i] = make(chan struct{})
		readsOut[i].Store(2)
	}
	var plans sync.WaitGroup
	plans.Add(len(kinds))
	done := func(kind string) {
		i := p.index[kind]
		if readsOut[i].Add(-1) != 0 {
			return
		}
		go func() {
			defer plans.Done()
			k := kinds[i]
			kctx := awsclient.ForkAfter(ctx, p.Source.waitRead(k.Name()), p.Dest.waitRead(k.Name()))
			p.Steps[i] = pe.planKind(kctx, k, m, p.Source, p.Dest)
			stepCtx[i] = kctx
			close(planned[i])
		}()
	}
	var reads sync.WaitGroup
	reads.Add(2)
	go func() { defer reads.Done(); e.readInto(ctx, p.Source, kinds, false, done) }()
	go func() { defer reads.Done(); e.readInto(ctx, p.Dest, kinds, m.NewDest, done) }()
	var results []Result
	var err error
	if apply {
		results, err = pe.applySteps(ctx, p, planned, stepCtx, gate)
	}
	reads.Wait()
	plans.Wait()
	return p, results, err
}

// PlanKinds is Plan for the named kinds only (nil: every kind).
func (e *Engine) PlanKinds(ctx context.Context, m Mirror, names []string) (*Plan, error) {
	kinds, err := KindsNamed(names)
	if err != nil {
		return nil, err
	}
	return e.planKinds(ctx, m, kinds)
}

// PlanNew plans a destination that does not exist yet, as if it were an
// empty bucket. (Real S3 gives a new bucket defaults, BPA on, ownership
// BucketOwnerEnforced and SSE-S3, that the real run will also diff against.)
func (e *Engine) PlanNew(ctx context.Context, m Mirror) *Plan {
	p := &Plan{Mirror: m, Source: e.Snapshot(ctx, m.Source), Dest: newSnapshot(m.Dest)}
	pe := e.withPlan(p)
	p.Steps = make([]Step, len(Kinds))
	var wg sync.WaitGroup
	for i, k := range Kinds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Steps[i] = pe.planKindOnly(ctx, k, m, p.Source, p.Dest)
		}()
	}
	wg.Wait()
	return p
}

// planKind plans one kind and, when the step writes, lets the kind read
// what its write will need.
func (e *Engine) planKind(ctx context.Context, k Kind, m Mirror, src, dst *Snapshot) Step {
	step := e.planKindOnly(ctx, k, m, src, dst)
	if step.Action == ActionCreate || step.Action == ActionUpdate {
		k.prepare(ctx, e, m, step.desired)
	}
	return step
}

func (e *Engine) planKindOnly(ctx context.Context, k Kind, m Mirror, src, dst *Snapshot) Step {
	name := k.Name()
	step := Step{Kind: name}
	srcValue, srcErr := src.value(name)
	if srcErr != nil {
		step.Action, step.Err = ActionError, srcErr
		return step
	}
	if code, ok := src.unavailable(name); ok {
		// Nothing the source could have, nothing to copy: a note, not a failure.
		step.Action = ActionReport
		step.Notes = []Note{{Kind: name, Severity: SeverityInfo, Message: fmt.Sprintf(
			"%s is not available in %s (S3 answers %s for %s): nothing to copy", name, m.Source.Region, code, m.Source.Name)}}
		return step
	}
	desired, notes, err := k.transform(ctx, e, m, srcValue)
	step.Notes = notes
	if err != nil {
		step.Action = ActionError
		step.Err = &KindError{Op: "transforming", Kind: name, Bucket: m.Source.Name, Region: m.Source.Region, Err: err}
		return step
	}
	if !k.managed(e) {
		// Report-only kinds have something to report only when the source
		// has them.
		step.Action = ActionNone
		if srcValue != nil || len(notes) > 0 {
			step.Action = ActionReport
		}
		return step
	}
	current, dstErr := dst.value(name)
	if dstErr != nil {
		step.Action, step.Err = ActionError, dstErr
		return step
	}
	if code, ok := dst.unavailable(name); ok {
		// The destination Region does not offer the kind. A source
		// configuration of it cannot exist there: report it once per run
		// (the run finishes, so the sweep does not retry it forever).
		step.Action = ActionNone
		note := Note{Kind: name, Severity: SeverityInfo, Message: fmt.Sprintf(
			"%s is not available in %s (S3 answers %s for %s)", name, m.Dest.Region, code, m.Dest.Name)}
		if desired != nil {
			step.Action = ActionReport
			note.Severity = SeverityNotCopied
			note.Message = fmt.Sprintf("%s of %s is not copied: %s is not available in %s (S3 answers %s for %s), so this configuration cannot exist there",
				name, m.Source.Name, name, m.Dest.Region, code, m.Dest.Name)
		}
		step.Notes = append(step.Notes, note)
		return step
	}
	return diff(step, desired, current)
}

// step returns p's step for kind, or nil.
func (p *Plan) step(kind string) *Step {
	if p.index != nil {
		i, ok := p.index[kind]
		if !ok {
			return nil
		}
		return &p.Steps[i]
	}
	for i := range p.Steps {
		if p.Steps[i].Kind == kind {
			return &p.Steps[i]
		}
	}
	return nil
}

func (p *Plan) action(kind string) Action {
	if s := p.step(kind); s != nil {
		return s.Action
	}
	return ActionNone
}

// writes says whether kind's step writes to the destination.
func (p *Plan) writes(kind string) bool {
	switch p.action(kind) {
	case ActionCreate, ActionUpdate, ActionDelete:
		return true
	}
	return false
}

// puts says whether kind's step writes a configuration (not a deletion).
func (p *Plan) puts(kind string) bool {
	a := p.action(kind)
	return a == ActionCreate || a == ActionUpdate
}

// desired is what kind's step writes; nil when it writes nothing.
func (p *Plan) desired(kind string) value {
	if s := p.step(kind); s != nil {
		return s.desired
	}
	return nil
}

// current is kind's value on the destination as read.
func (p *Plan) current(kind string) value {
	v, _ := p.Dest.value(kind)
	return v
}

func currentOwnership(p *Plan) types.ObjectOwnership {
	if v, ok := p.current("ownership").(*types.ObjectOwnership); ok && v != nil {
		return *v
	}
	return ""
}

func desiredOwnership(p *Plan) types.ObjectOwnership {
	if v, ok := p.desired("ownership").(*types.ObjectOwnership); ok && v != nil && p.puts("ownership") {
		return *v
	}
	return ""
}

func diff(step Step, desired, current value) Step {
	step.desired = desired
	var err error
	if step.Desired, err = canonical(desired); err == nil {
		step.Current, err = canonical(current)
	}
	switch {
	case err != nil:
		step.Action, step.Err = ActionError, fmt.Errorf("encoding %s: %w", step.Kind, err)
	case desired == nil && current == nil, bytes.Equal(step.Desired, step.Current):
		step.Action = ActionNone
	case desired == nil:
		step.Action = ActionDelete
	case current == nil:
		step.Action = ActionCreate
	default:
		step.Action = ActionUpdate
	}
	return step
}

// Render writes the plan like a Terraform plan: + create, ~ update,
// - delete, ! not copied or failed, with the values.
func (p *Plan) Render(w io.Writer) {
	fmt.Fprintf(w, "plan for %s -> %s\n", p.Mirror.Source, p.Mirror.Dest)
	for _, s := range p.Steps {
		switch s.Action {
		case ActionNone:
		case ActionReport:
			fmt.Fprintf(w, "  ! %s: not copied\n", s.Kind)
		case ActionCreate:
			fmt.Fprintf(w, "  + %s\n%s", s.Kind, indent(s.Desired, "      "))
		case ActionUpdate:
			fmt.Fprintf(w, "  ~ %s\n      from: %s\n      to:   %s\n", s.Kind, s.Current, s.Desired)
		case ActionDelete:
			fmt.Fprintf(w, "  - %s\n%s", s.Kind, indent(s.Current, "      "))
		case ActionError:
			fmt.Fprintf(w, "  ! %s: %v\n", s.Kind, s.Err)
		}
		for _, n := range s.Notes {
			fmt.Fprintf(w, "    note (%s) %s: %s\n", n.Severity, s.Kind, n.Message)
			if n.Command != "" {
				fmt.Fprintf(w, "      run: %s\n", n.Command)
			}
		}
	}
	fmt.Fprintf(w, "%d to change\n", p.Changes())
}

func indent(raw json.RawMessage, prefix string) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, prefix, "  "); err != nil {
		return prefix + string(raw) + "\n"
	}
	return prefix + strings.TrimRight(buf.String(), "\n") + "\n"
}

// After is the destination as applying p left it, given the results:
// a kind applied holds what was written, a kind removed nothing, every
// other kind (unchanged, reported, failed or skipped) what was read. A
// kind is in line exactly when a read returns its desired value (that is
// the diff), so for a run that succeeded this is what a second read of
// every kind would return, without making one.
func (p *Plan) After(results []Result) *Snapshot {
	s := newSnapshot(p.Mirror.Dest)
	p.Dest.mu.Lock()
	for k, v := range p.Dest.Values {
		s.Values[k] = v
	}
	for k, err := range p.Dest.Errors {
		s.Errors[k] = err
	}
	s.facts = p.Dest.facts
	s.kinds = slices.Clone(p.Dest.kinds)
	for k, code := range p.Dest.Unavailable {
		s.Unavailable[k] = code
	}
	p.Dest.mu.Unlock()
	for _, r := range results {
		step := p.step(r.Kind)
		if step == nil {
			continue
		}
		switch r.Status {
		case StatusApplied, StatusManual:
			if step.desired != nil {
				s.Values[r.Kind] = step.desired
				delete(s.Errors, r.Kind)
			}
		case StatusRemoved:
			delete(s.Values, r.Kind)
			delete(s.Errors, r.Kind)
		}
	}
	return s
}
