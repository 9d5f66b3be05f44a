package awsclient

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/smithy-go/middleware"
)

// Causes: which AWS call each AWS call waited for.
//
// The engine starts a call as soon as what it depends on is done (the reads
// of a plan, the writes of the kinds a kind must follow), so start and end
// times alone cannot say why a call started when it did: a call that starts
// right after another ended may have waited for something else entirely.
// Code that waits passes that knowledge on in the context: Fork gives a
// piece of concurrent work its own chain, After makes a chain continue from
// the chains it waited for. A Recorder (the benchmark's, the ordering
// tests') then names, for every call, the call that finished last on its
// chain before it started: its cause.
//
// Without WithCauses nothing is recorded and every function here returns
// its context unchanged, so production code pays nothing.

type chainKey struct{}

// chain is one path of work: the last call that finished on it (or on any
// chain forked from it) and when.
type chain struct {
	mu      sync.Mutex
	last    int64
	lastEnd time.Time
	parent  *chain
}

func (c *chain) finished(id int64, end time.Time) {
	for ; c != nil; c = c.parent {
		c.mu.Lock()
		if !end.Before(c.lastEnd) {
			c.last, c.lastEnd = id, end
		}
		c.mu.Unlock()
	}
}

func (c *chain) state() (int64, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last, c.lastEnd
}

func chainOf(ctx context.Context) *chain {
	c, _ := ctx.Value(chainKey{}).(*chain)
	return c
}

// WithCauses starts recording causes under ctx.
func WithCauses(ctx context.Context) context.Context {
	return context.WithValue(ctx, chainKey{}, &chain{})
}

// Fork returns a context for one piece of concurrent work: its calls are
// caused by what ctx's chain had finished when it forked, and what it
// finishes also counts as finished on ctx's chain.
func Fork(ctx context.Context) context.Context {
	p := chainOf(ctx)
	if p == nil {
		return ctx
	}
	last, end := p.state()
	return context.WithValue(ctx, chainKey{}, &chain{parent: p, last: last, lastEnd: end})
}

// ForkAfter is Fork for work that starts once waited are done rather than
// when ctx's chain forks: its calls are caused by the latest call finished
// on waited (nil entries are ignored), and what it finishes counts on ctx's
// chain.
func ForkAfter(ctx context.Context, waited ...context.Context) context.Context {
	p := chainOf(ctx)
	if p == nil {
		return ctx
	}
	f := context.WithValue(ctx, chainKey{}, &chain{parent: p})
	for _, w := range waited {
		if w != nil {
			After(f, w)
		}
	}
	return f
}

// Aside returns a context for work that runs beside ctx's and that ctx's
// later calls do not wait for: its calls are caused like a fork's, but what
// it finishes does not count on ctx's chain (After brings it in where
// something does wait for it).
func Aside(ctx context.Context) context.Context {
	p := chainOf(ctx)
	if p == nil {
		return ctx
	}
	last, end := p.state()
	return context.WithValue(ctx, chainKey{}, &chain{last: last, lastEnd: end})
}

// After records that the work of ctx waited for the work of waited: its
// next call is caused by the latest call finished on any of them.
func After(ctx context.Context, waited ...context.Context) {
	c := chainOf(ctx)
	if c == nil {
		return
	}
	for _, w := range waited {
		if wc := chainOf(w); wc != nil {
			last, end := wc.state()
			c.mu.Lock()
			if last != 0 && !end.Before(c.lastEnd) {
				c.last, c.lastEnd = last, end
			}
			c.mu.Unlock()
		}
	}
}

// Call is one AWS operation as a Recorder saw it.
type Call struct {
	ID    int64  // unique in the process
	Op    string // Service.Operation
	Cause int64  // the call it waited for; 0 when none
	Start time.Time
	End   time.Time
}

var callIDs atomic.Int64

// Recorder records every call of the clients it is installed on, with its
// cause. Install it with aws.Config.APIOptions = append(..., r.APIOption).
type Recorder struct {
	mu    sync.Mutex
	calls []Call
}

// APIOption adds the recording middleware to a client's stack, outermost,
// so a call's time includes its retries.
func (r *Recorder) APIOption(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("bucketmirrorCauses",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			c := chainOf(ctx)
			if c == nil {
				return next.HandleInitialize(ctx, in)
			}
			call := Call{ID: callIDs.Add(1), Op: Operation(ctx)}
			call.Cause, _ = c.state()
			call.Start = time.Now()
			out, md, err := next.HandleInitialize(ctx, in)
			call.End = time.Now()
			c.finished(call.ID, call.End)
			r.mu.Lock()
			r.calls = append(r.calls, call)
			r.mu.Unlock()
			return out, md, err
		}), middleware.Before)
}

// Take returns the calls recorded so far and forgets them.
func (r *Recorder) Take() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	calls := r.calls
	r.calls = nil
	return calls
}

// Operation names an SDK call as "Service.Operation" (S3.GetBucketCors,
// SFN.StartExecution) from inside a middleware of any step. It reads the
// smithy keys every client's invokeOperation sets before the stack runs:
// the aws/middleware keys are set only by RegisterServiceMetadata, which
// older-generated clients (sfn, s3control in go.mod) add to the Initialize
// step themselves, after a middleware inserted at middleware.Before — so a
// counter at the front of the stack saw "." for their calls.
func Operation(ctx context.Context) string {
	return middleware.GetServiceID(ctx) + "." + middleware.GetOperationName(ctx)
}
