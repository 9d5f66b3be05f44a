// Package mirror holds the two steps of the mirror workflow as plain Go
// functions: Create makes (or finds) the destination bucket, Configure
// copies every configuration kind into it. The Lambdas and the CLI call
// them; each step records what it did in the inventory.
package mirror

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
	"github.com/bucketmirror/bucketmirror/pkg/emf"
	"github.com/bucketmirror/bucketmirror/pkg/inventory"
)

// SourceNotFoundError: the source bucket does not exist (or is not visible).
type SourceNotFoundError struct{ Bucket, Region string }

func (e *SourceNotFoundError) Error() string {
	return fmt.Sprintf("source bucket %q not found in %s", e.Bucket, e.Region)
}

// ForeignBucketError: the destination exists and is not bucketmirror's.
type ForeignBucketError struct{ Bucket, Reason string }

func (e *ForeignBucketError) Error() string {
	return fmt.Sprintf("destination bucket %q is not bucketmirror's (%s): refusing to touch it; pass adopt to take it over", e.Bucket, e.Reason)
}

// DestinationConflictError: the request names a destination other than the
// one recorded for the source and Region. It is refused before any AWS call
// and changes no record: repointing a mirror is only done on purpose
// (Adopt, or the sweep after the source's destination-bucket tag changed).
type DestinationConflictError struct{ Source, Region, Recorded, Requested string }

func (e *DestinationConflictError) Error() string {
	return fmt.Sprintf("source bucket %q is mirrored to %q in %s, not to %q: refusing to repoint the mirror; "+
		"pass adopt to move it to %q, or omit the destination", e.Source, e.Recorded, e.Region, e.Requested, e.Requested)
}

// ConfigureError: one or more kinds failed; the run is recorded FAILED.
type ConfigureError struct {
	Kind, Code, Message string
}

func (e *ConfigureError) Error() string { return e.Message }

// Mirrorer runs the workflow steps.
type Mirrorer struct {
	Clients   *awsclient.Clients
	Engine    *bucketconfig.Engine
	Store     *inventory.Store
	TagPrefix string // default "bucketmirror:"
	// DestPrefix starts generated destination names (default "dest-").
	DestPrefix string
	// DestRegions are the Regions destinations may be in (empty = any
	// known Region).
	DestRegions []string
	Log         *slog.Logger
	Now         func() time.Time
	// Metrics receives one Embedded Metric Format line per finished run
	// (the Lambdas set it to stdout; nil writes none, as the CLI wants).
	Metrics io.Writer
}

func (m *Mirrorer) prefix() string {
	if m.TagPrefix == "" {
		return "bucketmirror:"
	}
	return m.TagPrefix
}

func (m *Mirrorer) now() time.Time {
	if m.Now != nil {
		return m.Now().UTC()
	}
	return time.Now().UTC()
}

func (m *Mirrorer) log() *slog.Logger {
	if m.Log != nil {
		return m.Log
	}
	return slog.Default()
}

// SourceTag is the tag key marking a destination with its source's ARN.
func (m *Mirrorer) SourceTag() string { return m.prefix() + "source" }

// DefaultDestPrefix starts generated destination names, as in the blog; the
// template scopes the functions' write permissions to it.
const DefaultDestPrefix = bucketconfig.DefaultNamePrefix

func (m *Mirrorer) destPrefix() string {
	if m.DestPrefix == "" {
		return DefaultDestPrefix
	}
	return m.DestPrefix
}

// DerivedName is the deterministic destination name for source in region:
// re-runs and sweeps find the same bucket.
func (m *Mirrorer) DerivedName(source, region string) string {
	return m.DerivedNameIn(source, region, "")
}

// DerivedNameIn is DerivedName for a destination in account, when that is
// not the source's ("" = the source's): bucket names are global, so the
// account goes into the hash and a copy in another account never claims
// the name of the copy in the source's.
func (m *Mirrorer) DerivedNameIn(source, region, account string) string {
	key := source + "\x00" + region
	if account != "" {
		key += "\x00" + account
	}
	sum := sha256.Sum256([]byte(key))
	suffix := "-" + region + "-" + hex.EncodeToString(sum[:3])
	return m.destPrefix() + trimName(source, 63-len(m.destPrefix())-len(suffix)) + suffix
}

// randomName is the blog's unique destination name: dest-SOURCE-RANDOM.
func (m *Mirrorer) randomName(source string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	suffix := "-" + hex.EncodeToString(b)
	return m.destPrefix() + trimName(source, 63-len(m.destPrefix())-len(suffix)) + suffix
}

func trimName(name string, n int) string {
	if len(name) > n {
		name = name[:n]
	}
	return strings.TrimRight(name, ".-")
}

func parseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }

// runKey fills in the run id and start time (the state machine passes its
// execution's; the CLI makes its own) that address the run record.
func (m *Mirrorer) runKey(in *Input) (string, error) {
	if in.RunID == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		in.RunID = "run-" + hex.EncodeToString(b)
	}
	if in.StartedAt == "" {
		in.StartedAt = m.now().Format("2006-01-02T15:04:05.000Z")
	}
	_, err := parseTime(in.StartedAt)
	return in.StartedAt, err
}

// Create validates the input, makes the destination bucket (or finds the one
// a previous run made), and records the run as CREATED.
func (m *Mirrorer) Create(ctx context.Context, in Input) (State, error) {
	source, dest, err := in.Validate()
	if err != nil {
		return State{Input: in, Status: StatusFailed, Error: err.Error()}, err
	}
	if err := m.checkDeployment(in); err != nil {
		return State{Input: in, Status: StatusFailed, Error: err.Error()}, err
	}
	startedAt, err := m.runKey(&in)
	if err != nil {
		return State{Input: in, Status: StatusFailed, Error: err.Error()}, err
	}
	st := State{Input: in, SourceBucket: source}
	acct := accountsOf(in)
	fail := func(err error) (State, error) {
		st.Status, st.Error = StatusFailed, err.Error()
		m.recordFailure(ctx, acct, source, in.DestRegion, st.DestBucket, in.RunID, startedAt, err)
		return st, err
	}
	if err := m.actIn(ctx, &acct); err != nil {
		return fail(err)
	}
	// One round: the mirror record and, unless this is a targeted run of an
	// existing destination, everything CreateBucket needs from the source
	// (that it exists, and its Object Lock, ownership and tags).
	targetedRun := in.Kinds != nil && dest != ""
	var (
		src             *sourceBucket
		prev            *inventory.Mirror
		srcErr, prevErr error
		wg              sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		prev, prevErr = m.Store.GetMirror(awsclient.Fork(ctx), source, acct.place(in.DestRegion))
	}()
	if !targetedRun {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src, srcErr = m.readSource(awsclient.Fork(ctx), acct, source, in.SourceRegion)
		}()
	}
	wg.Wait()
	if prevErr != nil {
		return fail(fmt.Errorf("reading the mirror record: %w", prevErr))
	}
	if err := m.checkRepoint(source, dest, in, prev); err != nil {
		return State{Input: in, Status: StatusFailed, Error: err.Error()}, err
	}
	if targeted, err := m.targetedCreate(ctx, acct, source, dest, in); err != nil {
		return fail(err)
	} else if targeted {
		return m.created(ctx, acct, st, source, dest, startedAt, prev)
	}
	st.Kinds = nil
	in.Kinds = nil
	if src == nil && srcErr == nil {
		// A targeted run whose destination is gone: a run of every kind.
		src, srcErr = m.readSource(ctx, acct, source, in.SourceRegion)
	}
	if srcErr != nil {
		return fail(srcErr)
	}
	if dest == "" {
		dest = m.chooseName(source, acct, in, prev)
	}
	st.DestBucket = dest
	st.DestBucketARN = "arn:aws:s3:::" + dest
	created, err := m.ensureBucket(ctx, acct, source, dest, in.DestRegion, src, in.Adopt)
	if err != nil {
		var refused *InvalidInputError
		if errors.As(err, &refused) {
			return State{Input: in, Status: StatusFailed, Error: err.Error()}, err
		}
		return fail(err)
	}
	st.Created = created
	return m.created(ctx, acct, st, source, dest, startedAt, prev)
}

// created records the run as CREATED; prev is the mirror record it replaces.
func (m *Mirrorer) created(ctx context.Context, acct runAccounts, st State, source, dest, startedAt string, prev *inventory.Mirror) (State, error) {
	in := st.Input
	st.DestBucket = dest
	st.DestBucketARN = "arn:aws:s3:::" + dest
	st.Status = StatusCreated
	run := acct.run(inventory.Run{Source: source, Region: in.DestRegion, RunID: in.RunID, StartedAt: startedAt, Dest: dest, Status: StatusCreated, Kinds: in.Kinds})
	rec := inventory.Mirror{Source: source, Region: in.DestRegion, DestAccount: acct.destAccount, SourceAccount: acct.foreignSource(), Dest: dest, Status: StatusCreated, LastRunID: in.RunID, LastRunAt: startedAt, SourceRegion: in.SourceRegion}
	rec.Inherit(prev)
	if err := m.putRun(ctx, run, rec); err != nil {
		return st, err
	}
	m.log().InfoContext(ctx, "destination ready", "bucket", source, "region", in.DestRegion, "dest", dest, "run", in.RunID, "kinds", in.Kinds)
	return st, nil
}

// targetedCreate is the create step of a targeted run (Input.Kinds): the
// destination exists, so the only check left is that it is still ours —
// one read instead of four. It reports false (a run of every kind follows)
// when the destination is gone.
func (m *Mirrorer) targetedCreate(ctx context.Context, acct runAccounts, source, dest string, in Input) (bool, error) {
	if in.Kinds == nil || dest == "" {
		return false, nil
	}
	err := m.checkOwned(ctx, acct.dest(dest, in.DestRegion), source, in.Adopt)
	if bucketconfig.IsNoSuchBucket(err) || bucketconfig.IsNoSuchBucket(errors.Unwrap(err)) {
		return false, nil
	}
	return err == nil, err
}

// sourceBucket is what creating a destination takes from its source.
type sourceBucket struct {
	objectLock bool
	ownership  types.ObjectOwnership
	tags       []types.Tag // the destination's: transformed, with the source tag
}

// readSource reads, at once, what CreateBucket takes from the source:
// whether it has Object Lock (which can only be enabled on the destination
// at creation), its ownership and its tags. Its Object Lock read also
// answers whether the source exists (NoSuchBucket): HeadBucket would need
// s3:ListBucket on every bucket, which also lists every bucket's object keys.
func (m *Mirrorer) readSource(ctx context.Context, acct runAccounts, source, region string) (*sourceBucket, error) {
	b := acct.source(source, region)
	src := &sourceBucket{}
	var ownErr, tagsErr error
	var tags []types.Tag
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		var own *types.ObjectOwnership
		if own, ownErr = m.Engine.Ownership(awsclient.Fork(ctx), b); own != nil {
			src.ownership = *own
		}
	}()
	go func() { defer wg.Done(); tags, tagsErr = m.Engine.Tags(awsclient.Fork(ctx), b) }()
	lock, lockErr := m.Engine.ObjectLockEnabled(awsclient.Fork(ctx), b)
	wg.Wait()
	for _, err := range []error{lockErr, ownErr, tagsErr} {
		var nf *types.NotFound
		if errors.As(err, &nf) || bucketconfig.IsNoSuchBucket(err) {
			return nil, &SourceNotFoundError{Bucket: source, Region: region}
		}
	}
	switch {
	case lockErr != nil:
		return nil, lockErr
	case ownErr != nil:
		return nil, fmt.Errorf("reading ownership of source bucket %q in %s: %w", source, region, ownErr)
	case tagsErr != nil:
		return nil, fmt.Errorf("reading tags of source bucket %q in %s: %w", source, region, tagsErr)
	}
	src.objectLock = lock
	// A source without ownership controls has ACLs enabled with objects
	// owned by their writer: ObjectWriter, the closest CreateBucket can
	// state (configure then deletes the controls to match).
	if src.ownership == "" {
		src.ownership = types.ObjectOwnershipObjectWriter
	}
	src.tags = m.Engine.DestinationTags(b, tags)
	return src, nil
}

// chooseName reuses the destination a previous run recorded (prev), so
// re-running the blog payload (no destBucketARN) never makes a second bucket.
func (m *Mirrorer) chooseName(source string, acct runAccounts, in Input, prev *inventory.Mirror) string {
	if prev != nil && prev.Dest != "" {
		return prev.Dest
	}
	if in.DeterministicName {
		return m.DerivedNameIn(source, in.DestRegion, acct.destAccount)
	}
	return m.randomName(source)
}

// checkDeployment refuses what this deployment may not do: a destination
// Region outside DestRegions. Other accounts than the deployment's are
// reached through their member role (actIn), which refuses what it must.
func (m *Mirrorer) checkDeployment(in Input) error {
	if len(m.DestRegions) > 0 && !slices.Contains(m.DestRegions, in.DestRegion) {
		return invalid("destRegion", in.DestRegion, "is not an allowed destination Region of this deployment (%s: BUCKETMIRROR_DESTINATION_REGIONS, template DestinationRegions)",
			strings.Join(m.DestRegions, " "))
	}
	return nil
}

// checkRepoint refuses a request naming a destination (dest) other than the
// one recorded (prev) unless it says it means to move the mirror (Adopt,
// Repoint): a mistyped or foreign destBucketARN must not orphan a healthy
// destination.
func (m *Mirrorer) checkRepoint(source, dest string, in Input, prev *inventory.Mirror) error {
	if dest == "" || prev == nil || prev.Dest == "" || prev.Dest == dest || in.Adopt || in.Repoint {
		return nil
	}
	return &DestinationConflictError{Source: source, Region: in.DestRegion, Recorded: prev.Dest, Requested: dest}
}

// ensureBucket creates dest in region with the source's Object Lock,
// ownership and tags (the source tag among them) in the CreateBucket call
// itself, or accepts it if it already exists carrying the source tag.
// created says it made the bucket.
func (m *Mirrorer) ensureBucket(ctx context.Context, acct runAccounts, source, dest, region string, src *sourceBucket, adopt bool) (created bool, err error) {
	s3c := acct.dst.S3(region)
	destBucket := acct.dest(dest, region)
	// us-east-1 answers CreateBucket of a bucket this account already owns
	// with 200 (its legacy behaviour), so there existence is checked first;
	// elsewhere CreateBucket's BucketAlreadyOwnedByYou says it, a round
	// less.
	if region == "us-east-1" {
		head, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(dest)})
		switch {
		case err == nil || bucketRegion(head, err) != "":
			return false, m.existing(ctx, destBucket, source, adopt, head, err)
		case bucketconfig.Classify(err) == bucketconfig.ClassDenied:
			return false, &ForeignBucketError{Bucket: dest, Reason: "it exists and belongs to someone else" + acct.inDest()}
		}
	}
	in := &s3.CreateBucketInput{Bucket: aws.String(dest), ObjectLockEnabledForBucket: aws.Bool(src.objectLock),
		ObjectOwnership: src.ownership, CreateBucketConfiguration: &types.CreateBucketConfiguration{Tags: src.tags}}
	if region != "us-east-1" { // us-east-1 rejects its own name as LocationConstraint
		in.CreateBucketConfiguration.LocationConstraint = types.BucketLocationConstraint(region)
	}
	_, err = s3c.CreateBucket(ctx, in)
	if bucketconfig.ErrorCode(err) == "UnsupportedArgument" && len(in.CreateBucketConfiguration.Tags) > 0 {
		// Regions without tag-on-create refuse CreateBucketConfiguration
		// Tags (docs/s3-conformance.md create-bucket-tags-not-in-region):
		// create without them; the configure step tags the new bucket,
		// the source tag first (checkOwned of a created bucket).
		tags := in.CreateBucketConfiguration.Tags
		in.CreateBucketConfiguration.Tags = nil
		if _, err = s3c.CreateBucket(ctx, in); err == nil {
			// The source tag at once, so that a run stopped here leaves a
			// bucket the next run recognises as its own.
			for _, t := range tags {
				if aws.ToString(t.Key) == m.SourceTag() {
					return true, m.tagOwned(ctx, destBucket, t)
				}
			}
			return true, nil
		}
	}
	if err != nil {
		var owned *types.BucketAlreadyOwnedByYou
		var exists *types.BucketAlreadyExists
		switch {
		case errors.As(err, &owned):
			head, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(dest)})
			return false, m.existing(ctx, destBucket, source, adopt, head, err)
		case errors.As(err, &exists):
			return false, &ForeignBucketError{Bucket: dest, Reason: "the name is taken by another account" + acct.inDest()}
		}
		return false, fmt.Errorf("creating bucket %q in %s: %w", dest, region, err)
	}
	// No check that the new bucket is visible yet: the configure step's
	// reads wait out its propagation (State.Created), in the round they
	// make anyway.
	return true, nil
}

// existing accepts a destination that exists already: in region (S3
// answers HeadBucket for a bucket in another Region with 301 and the
// x-amz-bucket-region header, API_HeadBucket; an emulator may answer 200
// with the header) and carrying the source tag (or adopted).
func (m *Mirrorer) existing(ctx context.Context, dest bucketconfig.Bucket, source string, adopt bool, head *s3.HeadBucketOutput, headErr error) error {
	if actual := bucketRegion(head, headErr); actual != "" && actual != dest.Region {
		return invalid("destRegion", dest.Region, "destination bucket %q exists in %s, not in %s", dest.Name, actual, dest.Region)
	}
	return m.checkOwned(ctx, dest, source, adopt)
}

// bucketRegion is the Region HeadBucket reported for a bucket, from its
// answer or from the redirect S3 sends for a bucket in another Region.
func bucketRegion(out *s3.HeadBucketOutput, err error) string {
	if err == nil && out != nil {
		return aws.ToString(out.BucketRegion)
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.Header.Get("x-amz-bucket-region")
	}
	return ""
}

func (m *Mirrorer) checkOwned(ctx context.Context, dest bucketconfig.Bucket, source string, adopt bool) error {
	tags, err := m.Engine.Tags(ctx, dest)
	if err != nil {
		return fmt.Errorf("reading tags of bucket %q: %w", dest.Name, err)
	}
	return m.checkOwnedTags(ctx, dest, source, adopt, tags)
}

// checkOwnedTags decides from dest's tags as read whether it is the
// destination of source; with adopt it makes it so.
func (m *Mirrorer) checkOwnedTags(ctx context.Context, destBucket bucketconfig.Bucket, source string, adopt bool, tags []types.Tag) error {
	dest := destBucket.Name
	want := "arn:aws:s3:::" + source
	var got string
	for _, t := range tags {
		if aws.ToString(t.Key) == m.SourceTag() {
			got = aws.ToString(t.Value)
		}
	}
	switch {
	case got == want:
		return nil
	case adopt:
		return m.tagOwned(ctx, destBucket, types.Tag{Key: aws.String(m.SourceTag()), Value: aws.String(want)})
	case got == "":
		return &ForeignBucketError{Bucket: dest, Reason: "it exists without a " + m.SourceTag() + " tag"}
	default:
		return &ForeignBucketError{Bucket: dest, Reason: fmt.Sprintf("it mirrors %s, not %s", got, want)}
	}
}

// tagOwned makes sure the source tag is on dest, retrying NoSuchBucket while
// a new bucket propagates (bucketconfig.DefaultPropagationTimeout). It goes
// through the engine's tag path, which honours ABAC.
func (m *Mirrorer) tagOwned(ctx context.Context, dest bucketconfig.Bucket, tag types.Tag) error {
	err := bucketconfig.RetryWrite(ctx, bucketconfig.DefaultPropagationTimeout, func() error {
		return m.Engine.SetTag(ctx, dest, tag)
	})
	if err != nil {
		return fmt.Errorf("tagging bucket %q with its source: %w", dest.Name, err)
	}
	return nil
}

// Configure copies every kind from source to destination and records the
// run FINISHED (every kind succeeded or is a reported/manual step) or
// FAILED with the first failing kind and its AWS error code.
func (m *Mirrorer) Configure(ctx context.Context, st State) (State, error) {
	source, dest, err := st.Validate()
	if err != nil {
		return State{Input: st.Input, Status: StatusFailed, Error: err.Error()}, err
	}
	if dest == "" {
		err := invalid("destBucketARN", "", "configure needs the destination the create step made")
		return State{Input: st.Input, Status: StatusFailed, Error: err.Error()}, err
	}
	if err := m.checkDeployment(st.Input); err != nil {
		return State{Input: st.Input, Status: StatusFailed, Error: err.Error()}, err
	}
	startedAt, err := m.runKey(&st.Input)
	if err != nil {
		return st, err
	}
	st.SourceBucket, st.DestBucket = source, dest
	acct := accountsOf(st.Input)
	failed := func(err error) (State, error) {
		st.Status, st.Error = StatusFailed, err.Error()
		m.recordFailure(ctx, acct, source, st.DestRegion, dest, st.RunID, startedAt, err)
		return st, err
	}
	if err := m.actIn(ctx, &acct); err != nil {
		return failed(err)
	}
	mir := bucketconfig.Mirror{Source: acct.source(source, st.SourceRegion), Dest: acct.dest(dest, st.DestRegion), NewDest: st.Created}
	// One read round: both snapshots (of the targeted kinds, or all) and the
	// mirror record. Each kind is written as soon as its own reads are in
	// and the gate below has passed, not after the round's slowest read.
	var (
		prev    *inventory.Mirror
		prevErr error
	)
	prevCtx := awsclient.Fork(ctx)
	prevIn := make(chan struct{})
	go func() {
		defer close(prevIn)
		prev, prevErr = m.Store.GetMirror(prevCtx, source, acct.place(st.DestRegion))
	}()
	// Configure can be invoked on its own (a direct invoke, a hand-written
	// state machine input): it must refuse a bucket that is not ours as
	// create does, before writing anything; the destination's tags are in
	// its snapshot. A bucket the create step just made carries the source
	// tag from CreateBucket, or gets it now where the tags were ignored.
	checkOwned := func(ctx context.Context, plan *bucketconfig.Plan) error {
		if tags, ok := plan.Dest.Tags(); ok {
			return m.checkOwnedTags(ctx, mir.Dest, source, st.Adopt || st.Created, tags)
		}
		return m.checkOwned(ctx, mir.Dest, source, st.Adopt || st.Created)
	}
	// Which check refused, set by the gate before it returns (the engine
	// returns after the gate has run).
	var refusal string
	errWholeBucket := errors.New("a targeted run with no per-kind hashes recorded reads every kind")
	gate := bucketconfig.NewGate(func(gctx context.Context, plan *bucketconfig.Plan) error {
		<-prevIn
		awsclient.After(gctx, prevCtx)
		if prevErr != nil {
			refusal = "record"
			return prevErr
		}
		if err := m.checkRepoint(source, dest, st.Input, prev); err != nil {
			refusal = "repoint"
			return err
		}
		if st.Kinds != nil && (prev == nil || prev.SourceKinds == nil || prev.DestKinds == nil) {
			// Nothing to merge the kinds into: the hashes of a targeted run
			// would not describe the whole bucket. Every kind, then (a second
			// read round, for this rare case only).
			refusal = "whole"
			return errWholeBucket
		}
		refusal = "owned"
		return checkOwned(gctx, plan)
	})
	plan, results, err := m.Engine.ConfigureGated(ctx, mir, st.Kinds, gate)
	switch {
	case err == nil:
	case refusal == "record" || refusal == "repoint":
		st.Status, st.Error = StatusFailed, err.Error()
		return st, err
	case refusal == "whole":
		st.Kinds = nil
		if plan, err = m.Engine.Plan(ctx, mir); err != nil {
			return failed(err)
		}
		if err := checkOwned(ctx, plan); err != nil {
			return failed(err)
		}
		results = m.Engine.Apply(ctx, plan)
	default: // the destination is not ours, or the plan could not start
		<-prevIn
		return failed(err)
	}
	// The destination as the apply left it, from the plan: no second read
	// of every kind (see Plan.After).
	after := plan.After(results)
	srcJSON, _ := json.Marshal(plan.Source.JSON())
	dstJSON, _ := json.Marshal(after.JSON())
	resJSON, _ := json.Marshal(results)
	// A targeted run merges what it read into the recorded per-kind hashes;
	// a full run replaces them.
	var srcKinds, dstKinds map[string]string
	if st.Kinds != nil {
		srcKinds, dstKinds = bucketconfig.MergeKindHashes(prev.SourceKinds, plan.Source), bucketconfig.MergeKindHashes(prev.DestKinds, after)
	} else {
		srcKinds, dstKinds = plan.Source.KindHashes(), after.KindHashes()
	}
	run := acct.run(inventory.Run{Source: source, Region: st.DestRegion, RunID: st.RunID, StartedAt: startedAt, Dest: dest, Kinds: st.Kinds,
		Results: string(resJSON), SourceHash: bucketconfig.CombineHashes(srcKinds), SourceSnapshot: srcJSON, DestSnapshot: dstJSON, FinishedAt: m.now().Format(time.RFC3339Nano)})
	rec := inventory.Mirror{Source: source, Region: st.DestRegion, DestAccount: acct.destAccount, SourceAccount: acct.foreignSource(), Dest: dest, LastRunID: st.RunID, LastRunAt: startedAt, SourceRegion: st.SourceRegion}
	var runErr error
	if bucketconfig.Succeeded(results) && plan.Source.Err() == nil {
		st.Status, run.Status, rec.Status = StatusFinished, StatusFinished, StatusFinished
		rec.SourceKinds, rec.DestKinds = srcKinds, dstKinds
		rec.AppliedHash, rec.DestHash = bucketconfig.CombineHashes(srcKinds), bucketconfig.CombineHashes(dstKinds)
	} else {
		f, _ := bucketconfig.FirstFailure(results)
		if f.Kind == "" {
			for _, r := range results {
				if r.Status == bucketconfig.StatusSkipped {
					f = r
					break
				}
			}
		}
		ce := &ConfigureError{Kind: f.Kind, Code: f.Code, Message: fmt.Sprintf("configuring %s from %s: kind %s failed: %s", dest, source, f.Kind, f.Error)}
		st.Status, run.Status, rec.Status = StatusFailed, StatusFailed, StatusFailed
		st.Error, st.FailedKind, st.ErrorCode = ce.Message, f.Kind, f.Code
		run.Error, run.Cause, rec.LastError = ce.Message, f.Code, ce.Message
		rec.Inherit(prev)
		runErr = ce
	}
	if err := m.putRun(ctx, run, rec); err != nil {
		return st, errors.Join(runErr, err)
	}
	m.logKinds(ctx, source, st.DestRegion, dest, st.RunID, results)
	m.log().InfoContext(ctx, "configured", "bucket", source, "region", st.DestRegion, "dest", dest, "run", st.RunID, "status", st.Status)
	m.runMetrics(ctx, startedAt, st.Status, results)
	return st, runErr
}

// logKinds logs one line per kind that did something or failed to:
// unchanged kinds stay at debug level, so a run of 22 kinds that changed
// two logs two lines. A failed kind is a result here, logged as a warning;
// the run's error is returned and logged once, at error level, by the edge.
func (m *Mirrorer) logKinds(ctx context.Context, source, region, dest, runID string, results []bucketconfig.Result) {
	for _, r := range results {
		level := slog.LevelInfo
		switch {
		case r.Status == bucketconfig.StatusFailed || r.Status == bucketconfig.StatusSkipped || r.Status == bucketconfig.StatusManual:
			level = slog.LevelWarn
		case r.Status == bucketconfig.StatusUnchanged:
			level = slog.LevelDebug
		}
		m.log().Log(ctx, level, "kind "+string(r.Status), "bucket", source, "region", region, "dest", dest, "run", runID,
			"kind", r.Kind, "action", r.Action, "status", r.Status, "code", r.Code, "error", r.Error)
	}
}

// runMetrics writes the run's metrics: one run, failed or not, how many
// kinds were written, failed or left as manual steps, and the run's duration
// from the execution's start.
func (m *Mirrorer) runMetrics(ctx context.Context, startedAt, status string, results []bucketconfig.Result) {
	if m.Metrics == nil {
		return
	}
	failed, applied, kindsFailed, manual := 0, 0, 0, 0
	if status != StatusFinished {
		failed = 1
	}
	for _, r := range results {
		switch {
		case r.Status == bucketconfig.StatusFailed || r.Status == bucketconfig.StatusSkipped:
			kindsFailed++
		case r.Status == bucketconfig.StatusManual:
			manual++
		case r.Status == bucketconfig.StatusApplied || r.Status == bucketconfig.StatusRemoved:
			applied++
		}
	}
	var took time.Duration
	if t, err := parseTime(startedAt); err == nil {
		took = max(m.now().Sub(t), 0)
	}
	err := emf.Write(m.Metrics, m.now(), nil, []emf.Metric{
		emf.Count("Runs", 1), emf.Count("RunsFailed", failed), emf.Count("KindsApplied", applied),
		emf.Count("KindsFailed", kindsFailed), emf.Count("ManualSteps", manual), emf.Milliseconds("RunDuration", took),
	})
	if err != nil {
		m.log().WarnContext(ctx, "writing run metrics", "error", err)
	}
}

// recordFailure writes a FAILED run and mirror record for a step that failed
// before it could write its own; a failure to record is logged, the step's
// error is what the caller reports.
func (m *Mirrorer) recordFailure(ctx context.Context, acct runAccounts, source, region, dest, runID, startedAt string, cause error) {
	ctx, cancel := recordContext(ctx)
	defer cancel()
	run := acct.run(inventory.Run{Source: source, Region: region, RunID: runID, StartedAt: startedAt, Dest: dest, Status: StatusFailed,
		Error: cause.Error(), Cause: errorType(cause), FinishedAt: m.now().Format(time.RFC3339Nano)})
	rec := inventory.Mirror{Source: source, Region: region, DestAccount: acct.destAccount, SourceAccount: acct.foreignSource(), Dest: dest, Status: StatusFailed, LastRunID: runID, LastRunAt: startedAt, LastError: cause.Error()}
	prev, err := m.Store.GetMirror(ctx, source, acct.place(region))
	if err == nil && prev != nil {
		rec.Inherit(prev)
		// A failed run never moves the mirror: it stays on the destination
		// it had, which a request naming another one must not orphan.
		if prev.Dest != "" {
			rec.Dest = prev.Dest
		}
	}
	// A bucket that is not ours never becomes the mirror's destination,
	// or the next run without a destination would pick it again.
	var foreign *ForeignBucketError
	if errors.As(cause, &foreign) && rec.Dest == foreign.Bucket && (prev == nil || prev.Dest != foreign.Bucket) {
		rec.Dest = ""
	}
	if err := m.Store.PutRun(ctx, run, rec); err != nil {
		m.log().ErrorContext(ctx, "recording failed run", "bucket", source, "region", region, "run", runID, "error", err)
	}
	m.runMetrics(ctx, startedAt, StatusFailed, nil)
}

// RecordTimeout bounds a run record's write. It runs on a context of its
// own, so a step whose work ran out of time still records it; the Lambda
// handlers end the work RecordTimeout before their deadline for that.
const RecordTimeout = 10 * time.Second

func recordContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), RecordTimeout)
}

// putRun writes a step's run and mirror records, even when ctx is done.
func (m *Mirrorer) putRun(ctx context.Context, run inventory.Run, rec inventory.Mirror) error {
	ctx, cancel := recordContext(ctx)
	defer cancel()
	return m.Store.PutRun(ctx, run, rec)
}

// Run does both steps in-process, as the CLI's mirror and sweep --local do.
func (m *Mirrorer) Run(ctx context.Context, in Input) (State, error) {
	st, err := m.Create(ctx, in)
	if err != nil {
		return st, err
	}
	return m.Configure(ctx, st)
}

// errorType is the name Step Functions would see for err (its Go type name).
func errorType(err error) string {
	name := fmt.Sprintf("%T", err)
	return name[strings.LastIndex(name, ".")+1:]
}
