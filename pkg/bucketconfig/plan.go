package bucketconfig

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
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

// Plan reads source and destination and decides, per kind, what to do. It
// writes nothing.
func (e *Engine) Plan(ctx context.Context, m Mirror) (*Plan, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var src, dst *Snapshot
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); src = e.Snapshot(ctx, m.Source) }()
	go func() { defer wg.Done(); dst = e.Snapshot(ctx, m.Dest) }()
	wg.Wait()
	return e.plan(ctx, m, src, dst), nil
}

// PlanKinds is Plan for the named kinds only (nil: every kind).
func (e *Engine) PlanKinds(ctx context.Context, m Mirror, names []string) (*Plan, error) {
	kinds, err := KindsNamed(names)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var src, dst *Snapshot
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); src = e.snapshotKinds(ctx, m.Source, kinds) }()
	go func() { defer wg.Done(); dst = e.snapshotKinds(ctx, m.Dest, kinds) }()
	wg.Wait()
	return e.planOf(ctx, m, src, dst, kinds), nil
}

// PlanNew plans a destination that does not exist yet, as if it were an
// empty bucket. (Real S3 gives a new bucket defaults, BPA on, ownership
// BucketOwnerEnforced and SSE-S3, that the real run will also diff against.)
func (e *Engine) PlanNew(ctx context.Context, m Mirror) *Plan {
	dst := &Snapshot{Bucket: m.Dest, Values: map[string]value{}, Errors: map[string]error{}}
	return e.plan(ctx, m, e.Snapshot(ctx, m.Source), dst)
}

func (e *Engine) plan(ctx context.Context, m Mirror, src, dst *Snapshot) *Plan {
	return e.planOf(ctx, m, src, dst, Kinds)
}

func (e *Engine) planOf(ctx context.Context, m Mirror, src, dst *Snapshot, kinds []Kind) *Plan {
	var wg sync.WaitGroup
	p := &Plan{Mirror: m, Source: src, Dest: dst}
	steps := make([]Step, len(kinds))
	for i, k := range kinds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			steps[i] = e.planKind(ctx, k, m, src, dst)
		}()
	}
	wg.Wait()
	p.Steps = steps
	return p
}

func (e *Engine) planKind(ctx context.Context, k Kind, m Mirror, src, dst *Snapshot) Step {
	name := k.Name()
	step := Step{Kind: name}
	if err := src.Errors[name]; err != nil {
		step.Action, step.Err = ActionError, err
		return step
	}
	if code, ok := src.Unavailable[name]; ok {
		// Nothing the source could have, nothing to copy: a note, not a failure.
		step.Action = ActionReport
		step.Notes = []Note{{Kind: name, Severity: SeverityInfo, Message: fmt.Sprintf(
			"%s is not available in %s (S3 answers %s for %s): nothing to copy", name, m.Source.Region, code, m.Source.Name)}}
		return step
	}
	desired, notes, err := k.transform(ctx, e, m, src.Values[name])
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
		if src.Values[name] != nil || len(notes) > 0 {
			step.Action = ActionReport
		}
		return step
	}
	if err := dst.Errors[name]; err != nil {
		step.Action, step.Err = ActionError, err
		return step
	}
	if code, ok := dst.Unavailable[name]; ok {
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
	return diff(step, desired, dst.Values[name])
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
