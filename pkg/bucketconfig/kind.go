// Package bucketconfig is the catalog of S3 bucket configuration kinds: for
// each kind, how to read it into a canonical value, transform it for a
// destination bucket and Region, compare, apply and remove it. The engine
// reads both buckets, plans per kind, and applies the plan in dependency
// order, concurrently where the order allows.
package bucketconfig

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
)

// Bucket names a bucket, the Region it lives in and, when it is not the
// deployment's, the account owning it.
type Bucket struct {
	Name   string `json:"name"`
	Region string `json:"region"`
	// Account owns the bucket when it is not the engine's (Options.AccountID);
	// "" = the engine's account.
	Account string `json:"account,omitempty"`
	// clients act in Account (nil: the engine's own clients).
	clients *awsclient.Clients
}

// In returns b read and written with clients, which act in the account
// owning it (awsclient.Clients.ForAccount); Account is set from them when
// they act in another account than the deployment's.
func (b Bucket) In(clients *awsclient.Clients) Bucket {
	b.clients = clients
	if clients != nil && clients.RoleARN() != "" {
		b.Account = clients.Account()
	}
	return b
}

// Sibling is another bucket of b's account and Region, reached with b's
// clients (a log bucket beside a destination).
func (b Bucket) Sibling(name string) Bucket {
	b.Name = name
	return b
}

// clientsFor are the clients acting in b's account.
func (e *Engine) clientsFor(b Bucket) *awsclient.Clients {
	if b.clients != nil {
		return b.clients
	}
	return e.clients
}

// s3 is the S3 client for b: its account's, in its Region.
func (e *Engine) s3(b Bucket) *s3.Client { return e.clientsFor(b).S3(b.Region) }

// accountOf is the account owning b.
func (e *Engine) accountOf(b Bucket) string {
	if b.Account != "" {
		return b.Account
	}
	return e.opts.AccountID
}

// ARN is the bucket's ARN in the aws partition.
func (b Bucket) ARN() string { return "arn:aws:s3:::" + b.Name }

func (b Bucket) String() string { return fmt.Sprintf("%s (%s)", b.Name, b.Region) }

// Mirror is one source bucket and its destination.
type Mirror struct {
	Source Bucket `json:"source"`
	Dest   Bucket `json:"dest"`
	// NewDest says the destination was created just before (by the create
	// step): reading it retries NoSuchBucket while the new bucket
	// propagates, which folds the propagation check into the read round.
	NewDest bool `json:"-"`
}

// Severity of a Note.
type Severity string

const (
	// SeverityManual: a step only a human can do (MFA delete); the run still
	// finishes, the note carries the exact command.
	SeverityManual Severity = "manual"
	// SeverityNotCopied: part of the source configuration cannot be copied
	// (Region-bound targets, S3 Metadata tables, replication by default).
	SeverityNotCopied Severity = "not-copied"
	// SeverityInfo: a transformation worth knowing about.
	SeverityInfo Severity = "info"
)

// ManualStepError is a write S3 refuses to bucketmirror but a human can
// make (MFA delete): the kind ends as StatusManual with Note, not failed.
type ManualStepError struct{ Note Note }

func (e *ManualStepError) Error() string { return e.Note.Message }

// Note is something a kind reports besides its result.
type Note struct {
	Kind     string   `json:"kind"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	Command  string   `json:"command,omitempty"`
}

// Options tune the engine. The zero value copies every kind with defaults.
type Options struct {
	// TagPrefix marks control tags, never copied (default "bucketmirror:").
	TagPrefix string
	// KMSKeys maps a source KMS key (ARN, key id or alias name) to the key to
	// use in the destination, overriding the same-alias lookup.
	KMSKeys map[string]string
	// PolicyValues maps a Region-bound value in a bucket policy condition
	// (aws:SourceVpc / aws:SourceVpce ids, KMS/SNS/SQS ARNs) to the one to
	// use in the destination Region; unmapped ones keep the policy from
	// being copied (BUCKETMIRROR_POLICY_VALUE_MAP).
	PolicyValues map[string]string
	// NotificationTargets maps a source SNS/SQS/Lambda ARN to the one to use
	// in the destination Region; unmapped targets are reported, not copied.
	NotificationTargets map[string]string
	// Buckets maps a bucket in the source Region used as an export or log
	// target to its counterpart in the destination Region.
	Buckets map[string]string
	// CopyReplication copies replication rules instead of only reporting them.
	CopyReplication bool
	// Concurrency bounds the AWS calls in flight per bucket (default 24, one
	// round for the whole catalog).
	Concurrency int
	// Sequential reads one kind, writes one kind, in the fixed order of the
	// original blog; for comparison and for debugging.
	Sequential bool
	// PropagationTimeout bounds retries of NoSuchBucket on a new destination.
	PropagationTimeout time.Duration
	// AccountID is the deployment's account, owning every bucket whose
	// Bucket.Account is empty (needed for S3 Control and log-delivery
	// conditions).
	AccountID string
	// NamePrefix starts the name of every bucket bucketmirror creates
	// (destinations and log buckets; default DefaultNamePrefix): the
	// template grants S3 writes on "<prefix>*" only.
	NamePrefix string
}

// DefaultNamePrefix is Options.NamePrefix when none is set.
const DefaultNamePrefix = "dest-"

func (e *Engine) namePrefix() string {
	if e.opts.NamePrefix == "" {
		return DefaultNamePrefix
	}
	return e.opts.NamePrefix
}

// Engine reads, plans and applies bucket configurations.
type Engine struct {
	clients *awsclient.Clients
	opts    Options

	// A plan's reads and writes use copies of the engine that know the
	// snapshot being read (facts are recorded into it) and the plan being
	// made or applied (writes take what they need from its snapshots).
	reading *Snapshot
	plan    *Plan
}

// withPlan is a copy of e for work on p.
func (e *Engine) withPlan(p *Plan) *Engine {
	c := *e
	c.plan = p
	return &c
}

// New returns an engine using clients.
func New(clients *awsclient.Clients, opts Options) *Engine {
	if opts.TagPrefix == "" {
		opts.TagPrefix = "bucketmirror:"
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 24
	}
	if opts.PropagationTimeout == 0 {
		opts.PropagationTimeout = DefaultPropagationTimeout
	}
	return &Engine{clients: clients, opts: opts}
}

// Options returns the engine's effective options.
func (e *Engine) Options() Options { return e.opts }

// Kind is one configuration kind of the catalog.
type Kind interface {
	// Name is the kind's stable name in snapshots, plans and audit records.
	Name() string
	// ReadActions and WriteActions are the IAM actions the kind needs on the
	// source and on the destination.
	ReadActions() []string
	WriteActions() []string

	read(ctx context.Context, e *Engine, b Bucket) (value, error)
	transform(ctx context.Context, e *Engine, m Mirror, v value) (value, []Note, error)
	write(ctx context.Context, e *Engine, b Bucket, v value) error
	remove(ctx context.Context, e *Engine, b Bucket) error
	managed(e *Engine) bool
	// prepares says whether the kind reads more before a write (prepare).
	prepares() bool
	prepare(ctx context.Context, e *Engine, m Mirror, desired value)
}

// value is a kind's configuration: a typed Go value, absent when nil.
type value any

// spec is a kind described by its functions; every catalog entry is one.
type spec[T any] struct {
	name         string
	readActions  []string
	writeActions []string
	// get returns nil for "not configured"; it turns the kind's not-found
	// codes into nil itself.
	get func(ctx context.Context, e *Engine, b Bucket) (*T, error)
	put func(ctx context.Context, e *Engine, b Bucket, v *T) error
	// del restores "not configured" (for some kinds, by writing the
	// default: versioning Suspended, accelerate Suspended).
	del func(ctx context.Context, e *Engine, b Bucket) error
	// xform rewrites the source value for the destination; nil = identity.
	xform func(ctx context.Context, e *Engine, m Mirror, v *T) (*T, []Note, error)
	// reportOnly kinds are read and transformed (for notes) but never
	// written; isManaged may switch that per engine options.
	isManaged func(e *Engine) bool
	// prep starts reading, while the plan is made, what put will need beyond
	// the destination's snapshot, and keeps it in the desired value: logging
	// inspects its log bucket. Put waits for it; the plan does not. Its
	// failures are the write's, reported when put runs.
	prep func(ctx context.Context, e *Engine, m Mirror, v *T)
}

func (s *spec[T]) prepares() bool { return s.prep != nil }

func (s *spec[T]) prepare(ctx context.Context, e *Engine, m Mirror, v value) {
	if s.prep != nil && v != nil {
		s.prep(ctx, e, m, v.(*T))
	}
}

func (s *spec[T]) Name() string           { return s.name }
func (s *spec[T]) ReadActions() []string  { return s.readActions }
func (s *spec[T]) WriteActions() []string { return s.writeActions }

func (s *spec[T]) managed(e *Engine) bool {
	return s.isManaged == nil || s.isManaged(e)
}

func (s *spec[T]) read(ctx context.Context, e *Engine, b Bucket) (value, error) {
	v, err := s.get(ctx, e, b)
	if err != nil || v == nil {
		return nil, err
	}
	return v, nil
}

func (s *spec[T]) transform(ctx context.Context, e *Engine, m Mirror, v value) (value, []Note, error) {
	if s.xform == nil {
		return v, nil, nil
	}
	var typed *T
	if v != nil {
		typed = v.(*T)
	}
	out, notes, err := s.xform(ctx, e, m, typed)
	for i := range notes {
		notes[i].Kind = s.name
	}
	if err != nil || out == nil {
		return nil, notes, err
	}
	return out, notes, nil
}

func (s *spec[T]) write(ctx context.Context, e *Engine, b Bucket, v value) error {
	if s.put == nil {
		return fmt.Errorf("kind %s cannot be written", s.name)
	}
	return s.put(ctx, e, b, v.(*T))
}

func (s *spec[T]) remove(ctx context.Context, e *Engine, b Bucket) error {
	if s.del == nil {
		return fmt.Errorf("kind %s cannot be removed", s.name)
	}
	return s.del(ctx, e, b)
}

// canonical is the JSON form of a value used in snapshots, diffs and hashes.
// Kinds keep their values canonical (sorted lists, normalised documents) in
// get and xform, so equal configurations marshal to equal bytes.
func canonical(v value) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	return json.Marshal(v)
}
