package bucketconfig

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
)

// logDeliveryPrincipal is the service that writes server access logs; a log
// bucket grants it s3:PutObject in its policy.
const logDeliveryPrincipal = "logging.s3.amazonaws.com"

// logBucketKind says how put provides a destination's log bucket.
type logBucketKind int

const (
	// logBucketAsIs: write the configuration, nothing else (the bucket logs
	// into itself, or a value read back).
	logBucketAsIs logBucketKind = iota
	// logBucketMapped: the user's bucket from Options.Buckets; checked,
	// never changed.
	logBucketMapped
	// logBucketOwned: bucketmirror's mirror of the source's log bucket,
	// created if missing and granted log delivery.
	logBucketOwned
)

// loggingConfig is a bucket's server access logging. The unexported fields
// are set by xform for put and are not part of the configuration S3 keeps,
// so they stay out of the canonical JSON.
type loggingConfig struct {
	TargetBucket          string                       `json:"targetBucket"`
	TargetPrefix          string                       `json:"targetPrefix"`
	TargetObjectKeyFormat *types.TargetObjectKeyFormat `json:"targetObjectKeyFormat,omitempty"`
	TargetGrants          []types.TargetGrant          `json:"targetGrants,omitempty"`

	logBucket    logBucketKind
	sourceTarget string // the source's log bucket, mirrored by an owned log bucket
	// seen is the log bucket as the plan reads it (prep), nil when not read.
	seen *pendingLogBucket
}

// pendingLogBucket is the log bucket's inspection, started while the plan is
// made and waited for only by the logging write: the other kinds' writes
// start as soon as the read round is done.
type pendingLogBucket struct {
	done  chan struct{}
	state *logBucketState
	// ctx is the inspection's own chain of calls, so the write's calls
	// name the inspection's last call as what they waited for.
	ctx context.Context
}

func (p *pendingLogBucket) wait(ctx context.Context) (*logBucketState, error) {
	select {
	case <-p.done:
		awsclient.After(ctx, p.ctx)
		return p.state, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// logBucketState is a log bucket as read, all at once, while the plan is
// made: whether it exists and is ours (its tags), whether S3 can deliver to
// it (Object Lock default retention, Requester Pays), and its policy.
type logBucketState struct {
	tags        *s3.GetBucketTaggingOutput
	tagsErr     error
	deliverable error // checkLogBucket's verdict
	policy      map[string]any
	policyErr   error
}

// loggingKind copies server access logging. S3 delivers logs only to a
// bucket in the same Region and account, so the destination logs into
// itself when the source does, into the bucket Options.Buckets maps the
// source's log bucket to, or else into a log bucket of bucketmirror's in the
// destination Region (see logBucketName), created when missing and granted
// log delivery in its policy. A bucket of that name that bucketmirror does
// not own is never touched.
var loggingKind = &spec[loggingConfig]{
	name:        "logging",
	readActions: []string{"s3:GetBucketLogging"},
	writeActions: []string{"s3:PutBucketLogging",
		// The log bucket: created, tagged as ours, granted log delivery, and
		// checked for settings that stop delivery. CreateBucket with
		// ObjectOwnership needs s3:PutBucketOwnershipControls.
		"s3:CreateBucket", "s3:PutBucketOwnershipControls", "s3:GetBucketTagging", "s3:PutBucketTagging",
		"s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:GetBucketObjectLockConfiguration", "s3:GetBucketRequestPayment"},
	get: func(ctx context.Context, e *Engine, b Bucket) (*loggingConfig, error) {
		out, err := e.s3(b).GetBucketLogging(ctx, &s3.GetBucketLoggingInput{Bucket: &b.Name})
		if err != nil {
			return nil, err
		}
		// Not configured is an empty 200 (no LoggingEnabled).
		le := out.LoggingEnabled
		if le == nil || aws.ToString(le.TargetBucket) == "" {
			return nil, nil
		}
		return &loggingConfig{
			TargetBucket:          aws.ToString(le.TargetBucket),
			TargetPrefix:          aws.ToString(le.TargetPrefix),
			TargetObjectKeyFormat: le.TargetObjectKeyFormat,
			TargetGrants:          canonicalTargetGrants(le.TargetGrants),
		}, nil
	},
	// The log bucket's checks are read while the plan is made, all at once,
	// so a log bucket that is ready costs put no read at all.
	prep: func(ctx context.Context, e *Engine, m Mirror, v *loggingConfig) {
		if v.logBucket == logBucketAsIs {
			return
		}
		p := &pendingLogBucket{done: make(chan struct{}), ctx: awsclient.Aside(ctx)}
		v.seen = p
		go func() {
			defer close(p.done)
			p.state = inspectLogBucket(p.ctx, e, m.Dest.Sibling(v.TargetBucket), v.logBucket == logBucketOwned)
		}()
	},
	put: func(ctx context.Context, e *Engine, b Bucket, v *loggingConfig) error {
		logBucket := b.Sibling(v.TargetBucket)
		if prior, known := e.destLogging(b); v.seen != nil && known {
			done, err := putLoggingOptimistically(ctx, e, b, v, prior)
			if done || err != nil {
				return err
			}
		}
		var seen *logBucketState
		if v.seen != nil {
			var err error
			if seen, err = v.seen.wait(ctx); err != nil {
				return err
			}
		} else if v.logBucket != logBucketAsIs {
			seen = inspectLogBucket(ctx, e, logBucket, v.logBucket == logBucketOwned)
		}
		switch v.logBucket {
		case logBucketMapped:
			if seen.deliverable != nil {
				return seen.deliverable
			}
		case logBucketOwned:
			if err := ensureLogBucket(ctx, e, b, v, seen); err != nil {
				return err
			}
		}
		return putLoggingStatus(ctx, e, b, v)
	},
	// There is no DeleteBucketLogging: an empty status turns logging off.
	// The log bucket and its logs stay.
	del: func(ctx context.Context, e *Engine, b Bucket) error {
		return putLoggingStatus(ctx, e, b, nil)
	},
	xform: func(ctx context.Context, e *Engine, m Mirror, v *loggingConfig) (*loggingConfig, []Note, error) {
		if v == nil {
			return nil, nil, nil
		}
		out := *v
		grants, notes, err := e.targetGrantsToDest(ctx, m, v.TargetGrants)
		if err != nil {
			return nil, nil, err
		}
		out.TargetGrants = grants
		if mapped, ok := e.opts.Buckets[v.TargetBucket]; ok {
			out.TargetBucket, out.logBucket = mapped, logBucketMapped
		} else if v.TargetBucket == m.Source.Name {
			out.TargetBucket, out.logBucket = m.Dest.Name, logBucketAsIs
		} else {
			out.TargetBucket, out.logBucket, out.sourceTarget = logBucketName(e.namePrefix(), v.TargetBucket, m.Dest.Account, m.Dest.Region), logBucketOwned, v.TargetBucket
			notes = append(notes, Note{Severity: SeverityInfo, Message: fmt.Sprintf(
				"server access logs go to %s in %s, bucketmirror's log bucket for %s (map %s with the buckets option to use a bucket of your own)",
				out.TargetBucket, m.Dest.Region, v.TargetBucket, v.TargetBucket)})
		}
		return &out, notes, nil
	},
}

// targetGrantsToDest turns the logging target grants to the source
// bucket's owner into grants to the destination bucket's owner, as the ACL
// kind does for its grants (ownerGrantsToDest): copied unchanged into
// another account, they would let the source's account read the copy's
// logs while the copy's own owner was left out.
func (e *Engine) targetGrantsToDest(ctx context.Context, m Mirror, grants []types.TargetGrant) ([]types.TargetGrant, []Note, error) {
	if len(grants) == 0 {
		return grants, nil, nil
	}
	srcOwner, dstOwner, err := e.ownersAcross(ctx, m)
	if err != nil || srcOwner == "" {
		return grants, nil, err
	}
	out := make([]types.TargetGrant, len(grants))
	mapped := 0
	for i, g := range grants {
		out[i] = g
		if g.Grantee != nil && g.Grantee.Type == types.TypeCanonicalUser && aws.ToString(g.Grantee.ID) == srcOwner {
			grantee := *g.Grantee
			grantee.ID = aws.String(dstOwner)
			out[i].Grantee = &grantee
			mapped++
		}
	}
	if mapped == 0 {
		return grants, nil, nil
	}
	return canonicalTargetGrants(out), []Note{{Severity: SeverityInfo, Message: fmt.Sprintf(
		"%d logging target grant(s) to the source's owner (account %s) became grants to the destination's owner (account %s)",
		mapped, e.accountOf(m.Source), e.accountOf(m.Dest))}}, nil
}

// putLoggingStatus writes v as b's logging; nil turns logging off.
func putLoggingStatus(ctx context.Context, e *Engine, b Bucket, v *loggingConfig) error {
	status := &types.BucketLoggingStatus{}
	if v != nil {
		status.LoggingEnabled = &types.LoggingEnabled{
			TargetBucket:          aws.String(v.TargetBucket),
			TargetPrefix:          aws.String(v.TargetPrefix),
			TargetObjectKeyFormat: v.TargetObjectKeyFormat,
			TargetGrants:          v.TargetGrants,
		}
	}
	_, err := e.s3(b).PutBucketLogging(ctx, &s3.PutBucketLoggingInput{Bucket: &b.Name, BucketLoggingStatus: status})
	return err
}

// destLogging is b's logging as the plan read it; known is false without
// a plan that read it.
func (e *Engine) destLogging(b Bucket) (prior *loggingConfig, known bool) {
	const kind = "logging" // loggingKind.name, which refers to this function
	if e.plan == nil || e.plan.Dest.Bucket != b || !e.plan.Dest.read(kind) {
		return nil, false
	}
	v, err := e.plan.Dest.value(kind)
	if err != nil {
		return nil, false
	}
	prior, _ = v.(*loggingConfig)
	return prior, true
}

// putLoggingOptimistically writes the destination's logging while the log
// bucket's inspection (started when the source's logging was read) is still
// in flight, instead of after it: the log bucket's name is known only once
// the source's logging is read, so waiting would add a round to every
// configure. S3 itself refuses a target that does not exist or that it may
// not deliver to (400 InvalidTargetBucketForLogging, "The target bucket for
// logging does not exist"; a target in another Region: 403
// CrossLocationLoggingProhibited — API Reference, Error responses,
// https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html);
// done is false then, and put goes the careful way (create the log bucket,
// grant delivery, write again). What S3 does not check — that the log
// bucket is bucketmirror's, and that logs can be delivered to it (no
// Object Lock default retention, no Requester Pays) — the inspection
// answers; when it refuses a target S3 accepted, the destination's logging
// is put back to prior, as the plan read it, so a refused log bucket is
// never left configured. No log bucket is written before it is found to be
// ours, and logging carries no access: nothing here can make the
// destination more public than its source.
func putLoggingOptimistically(ctx context.Context, e *Engine, b Bucket, v, prior *loggingConfig) (done bool, err error) {
	putErr := putLoggingStatus(ctx, e, b, v)
	if code := ErrorCode(putErr); code == codeOperationAborted || code == codeNoSuchBucket {
		return false, putErr // a racing write, or the destination still propagating: RetryWrite's
	}
	seen, err := v.seen.wait(ctx)
	if err != nil {
		return false, err
	}
	if putErr != nil {
		return false, nil
	}
	logBucket := b.Sibling(v.TargetBucket)
	refusal := seen.deliverable
	var policy map[string]any
	if v.logBucket == logBucketOwned {
		var missing bool
		missing, policy, refusal = ownedLogBucketVerdict(logBucket, v, seen, e.opts.TagPrefix)
		if missing {
			return false, nil // created since the inspection: make sure it is ours the careful way
		}
	}
	if refusal != nil {
		err := putLoggingStatus(ctx, e, b, prior)
		if err != nil && prior != nil {
			// The old target may be refused now too (the plan may have
			// removed the policy that let S3 deliver there): off, then.
			if offErr := putLoggingStatus(ctx, e, b, nil); offErr == nil {
				return true, fmt.Errorf("%w (logging turned off: putting back the destination's logging into %s failed: %w)", refusal, prior.TargetBucket, err)
			}
		}
		if err != nil {
			return true, fmt.Errorf("%w; and taking back the destination's logging into %s failed: %w", refusal, v.TargetBucket, err)
		}
		return true, refusal
	}
	if v.logBucket == logBucketOwned {
		if e.opts.AccountID == "" {
			return true, fmt.Errorf("granting log delivery on log bucket %s: the account id is not set (it scopes the grant to this account)", logBucket)
		}
		// S3 accepted the logging; the grant is what lets it deliver.
		return true, grantLogDelivery(ctx, e, logBucket, b, v.TargetPrefix, policy)
	}
	return true, nil
}

// logBucketName is the name of bucketmirror's log bucket in region for a
// source log bucket: "<prefix>logs-<hash>-<region>", where prefix is the
// configured name prefix (Options.NamePrefix) and hash the first 8 hex
// digits of SHA-256 of the source's log target. Every bucket bucketmirror
// creates starts with the prefix, so the template can scope every S3 write
// to "<prefix>*" (a source's log target name cannot carry it); the hash
// keeps different targets apart and makes the name deterministic. Bucket
// names are global: a log bucket in another account than the deployment's
// (account set) hashes that account in too, so the copies of one source
// into two accounts do not both claim one name. With a prefix of at most
// MaxNamePrefix characters the name fits S3's 63.
func logBucketName(prefix, target, account, region string) string {
	key := target
	if account != "" {
		key += "\x00" + account
	}
	sum := sha256.Sum256([]byte(key))
	return prefix + "logs-" + hex.EncodeToString(sum[:4]) + "-" + region
}

// MaxNamePrefix is the longest name prefix every generated name fits with:
// a log bucket name adds "logs-" (5), a hash (8), "-" and the longest Region
// code (14), 28 characters, to S3's 63.
const MaxNamePrefix = 30

// canonicalTargetGrants drops grantee display names (S3 fills them in and
// ignores them on write) and empty grantee fields, and sorts the grants.
func canonicalTargetGrants(grants []types.TargetGrant) []types.TargetGrant {
	if len(grants) == 0 {
		return nil
	}
	out := make([]types.TargetGrant, len(grants))
	for i, g := range grants {
		out[i] = types.TargetGrant{Permission: g.Permission}
		if g.Grantee != nil {
			out[i].Grantee = &types.Grantee{Type: g.Grantee.Type, ID: nonEmpty(g.Grantee.ID), URI: nonEmpty(g.Grantee.URI),
				EmailAddress: nonEmpty(g.Grantee.EmailAddress)}
		}
	}
	key := func(g types.TargetGrant) string {
		if g.Grantee == nil {
			return "\x00" + string(g.Permission)
		}
		return strings.Join([]string{string(g.Grantee.Type), aws.ToString(g.Grantee.ID), aws.ToString(g.Grantee.URI),
			aws.ToString(g.Grantee.EmailAddress), string(g.Permission)}, "\x00")
	}
	slices.SortFunc(out, func(a, b types.TargetGrant) int { return cmp.Compare(key(a), key(b)) })
	return out
}

// nonEmpty turns an empty element into an absent one: a grantee holds one
// of ID, URI and EmailAddress, and emulators echo the others empty.
func nonEmpty(s *string) *string {
	if aws.ToString(s) == "" {
		return nil
	}
	return s
}

// inspectLogBucket reads what put needs to know about a log bucket, all at
// once (reads touch nothing): its Object Lock and Requester Pays settings,
// and for bucketmirror's own log buckets its tags and policy too.
func inspectLogBucket(ctx context.Context, e *Engine, logBucket Bucket, owned bool) *logBucketState {
	st := &logBucketState{}
	client := e.s3(logBucket)
	var wg sync.WaitGroup
	run := func(f func(ctx context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(awsclient.Fork(ctx)) }()
	}
	run(func(ctx context.Context) { st.deliverable = checkLogBucket(ctx, e, logBucket) })
	if owned {
		run(func(ctx context.Context) {
			st.tags, st.tagsErr = client.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: &logBucket.Name})
		})
		run(func(ctx context.Context) { st.policy, st.policyErr = readPolicyDoc(ctx, client, logBucket.Name) })
	}
	wg.Wait()
	return st
}

// readPolicyDoc reads a bucket's policy as a document; no policy is an
// empty one.
func readPolicyDoc(ctx context.Context, client *s3.Client, bucket string) (map[string]any, error) {
	out, err := client.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: &bucket})
	switch {
	case isNotFound(err, codeNoSuchBucketPolicy):
		return map[string]any{"Version": "2012-10-17"}, nil
	case err != nil:
		return nil, err
	}
	var policy map[string]any
	if err := decodeJSON([]byte(aws.ToString(out.Policy)), &policy); err != nil {
		return nil, err
	}
	return policy, nil
}

// ensureLogBucket makes v.TargetBucket in dest's Region bucketmirror's log
// bucket for v.sourceTarget, from what the plan read of it (seen): created
// and tagged when missing, refused when it exists without our tag, and
// granting log delivery for dest.
func ensureLogBucket(ctx context.Context, e *Engine, dest Bucket, v *loggingConfig, seen *logBucketState) error {
	logBucket := dest.Sibling(v.TargetBucket)
	if e.accountOf(dest) == "" {
		return fmt.Errorf("granting log delivery on log bucket %s: the account id is not set (it scopes the grant to this account)", logBucket)
	}
	missing, policy, err := ownedLogBucketVerdict(logBucket, v, seen, e.opts.TagPrefix)
	switch {
	case err != nil:
		return err
	case missing:
		if err := createLogBucket(ctx, e, logBucket, len(v.TargetGrants) > 0, e.opts.TagPrefix+"source", "arn:aws:s3:::"+v.sourceTarget); err != nil {
			return err
		}
		// A new bucket has no policy (or, when a concurrent run created it,
		// one that the read-back in grantLogDelivery catches).
		policy = nil
	}
	return grantLogDelivery(ctx, e, logBucket, dest, v.TargetPrefix, policy)
}

// ownedLogBucketVerdict judges bucketmirror's log bucket for v.sourceTarget
// from its inspection: missing (to be created), refused (it exists and is
// not ours, its name is taken elsewhere, or S3 cannot deliver to it), or
// usable, with its policy as read (nil: read it again before merging).
func ownedLogBucketVerdict(logBucket Bucket, v *loggingConfig, seen *logBucketState, tagPrefix string) (missing bool, policy map[string]any, refusal error) {
	tagKey, tagValue := tagPrefix+"source", "arn:aws:s3:::"+v.sourceTarget
	switch err := seen.tagsErr; {
	case isNotFound(err, codeNoSuchBucket):
		return true, nil, nil
	case isNotFound(err, codeNoSuchTagSet):
		return false, nil, notOurLogBucket(logBucket, v.sourceTarget, tagKey, tagValue)
	case Classify(err) == ClassRedirect:
		return false, nil, fmt.Errorf("log bucket name %q is taken by a bucket outside %s; map %s to a log bucket in %s with the buckets option",
			logBucket.Name, logBucket.Region, v.sourceTarget, logBucket.Region)
	case err != nil:
		return false, nil, fmt.Errorf("reading tags of log bucket %s: %w", logBucket, err)
	}
	if !slices.ContainsFunc(seen.tags.TagSet, func(t types.Tag) bool { return aws.ToString(t.Key) == tagKey && aws.ToString(t.Value) == tagValue }) {
		return false, nil, notOurLogBucket(logBucket, v.sourceTarget, tagKey, tagValue)
	}
	if seen.deliverable != nil {
		return false, nil, seen.deliverable
	}
	if seen.policyErr != nil {
		return false, nil, nil // read again, with retries, by grantLogDelivery
	}
	return false, seen.policy, nil
}

func notOurLogBucket(logBucket Bucket, target, tagKey, tagValue string) error {
	return fmt.Errorf("log bucket %s exists and is not bucketmirror's (no tag %s=%s), so it is left alone; "+
		"map %s to a log bucket in %s with the buckets option, or remove %s", logBucket, tagKey, tagValue, target, logBucket.Region, logBucket.Name)
}

func createLogBucket(ctx context.Context, e *Engine, logBucket Bucket, withGrants bool, tagKey, tagValue string) error {
	client := e.s3(logBucket)
	in := &s3.CreateBucketInput{Bucket: &logBucket.Name}
	// us-east-1 takes no LocationConstraint (S3 rejects one naming it).
	if logBucket.Region != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(logBucket.Region)}
	}
	// Target grants need ACLs, which BucketOwnerEnforced (the default of
	// new buckets) disables.
	if withGrants {
		in.ObjectOwnership = types.ObjectOwnershipBucketOwnerPreferred
	}
	_, err := client.CreateBucket(ctx, in)
	switch {
	case ErrorCode(err) == codeBucketAlreadyOwnedByYou:
		// Created by a concurrent run for another bucket logging here.
	case ErrorCode(err) == codeBucketAlreadyExists:
		return fmt.Errorf("creating log bucket %s: the name is taken by another account; map the log target to a log bucket in %s with the buckets option: %w",
			logBucket, logBucket.Region, err)
	case err != nil:
		return fmt.Errorf("creating log bucket %s: %w", logBucket, err)
	}
	// A new bucket may answer NoSuchBucket for a while.
	err = RetryWrite(ctx, e.opts.PropagationTimeout, func() error {
		return e.SetTag(ctx, logBucket, types.Tag{Key: aws.String(tagKey), Value: aws.String(tagValue)})
	})
	if err != nil {
		return fmt.Errorf("tagging log bucket %s: %w", logBucket, err)
	}
	return nil
}

// checkLogBucket refuses log buckets S3 cannot deliver logs to: ones with
// Object Lock default retention or Requester Pays.
func checkLogBucket(ctx context.Context, e *Engine, logBucket Bucket) error {
	client := e.s3(logBucket)
	var (
		payment    *s3.GetBucketRequestPaymentOutput
		paymentErr error
		done       = make(chan struct{})
	)
	go func() {
		defer close(done)
		payment, paymentErr = client.GetBucketRequestPayment(ctx, &s3.GetBucketRequestPaymentInput{Bucket: &logBucket.Name})
	}()
	lock, err := client.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: &logBucket.Name})
	<-done
	switch {
	case isNotFound(err, codeNoSuchBucket):
		// Not the framework's NoSuchBucket (which it would retry as the
		// destination's propagation): this is a missing log bucket.
		return fmt.Errorf("log bucket %s does not exist", logBucket)
	case isNotFound(err, codeNoSuchObjectLock):
	case err != nil:
		return fmt.Errorf("reading Object Lock configuration of log bucket %s: %w", logBucket, err)
	case lock.ObjectLockConfiguration != nil && lock.ObjectLockConfiguration.Rule != nil && lock.ObjectLockConfiguration.Rule.DefaultRetention != nil:
		return fmt.Errorf("log bucket %s has Object Lock default retention, and S3 does not deliver server access logs to such a bucket", logBucket)
	}
	if paymentErr != nil {
		return fmt.Errorf("reading Requester Pays of log bucket %s: %w", logBucket, paymentErr)
	}
	if payment.Payer == types.PayerRequester {
		return fmt.Errorf("log bucket %s has Requester Pays on, and S3 does not deliver server access logs to such a bucket", logBucket)
	}
	return nil
}

// logDeliveryStatement grants S3's logging service the right to write
// dest's logs under prefix in logBucket, and nothing for other buckets or
// accounts (the confused-deputy conditions S3's documentation gives).
func logDeliveryStatement(logBucket, dest Bucket, prefix, account string) map[string]any {
	sum := sha256.Sum256([]byte(dest.ARN()))
	return map[string]any{
		"Sid":       "BucketmirrorLogDelivery" + hex.EncodeToString(sum[:])[:16],
		"Effect":    "Allow",
		"Principal": map[string]any{"Service": logDeliveryPrincipal},
		"Action":    "s3:PutObject",
		"Resource":  logBucket.ARN() + "/" + prefix + "*",
		"Condition": map[string]any{
			"ArnLike":      map[string]any{"aws:SourceArn": dest.ARN()},
			"StringEquals": map[string]any{"aws:SourceAccount": account},
		},
	}
}

// logDeliveryAttempts bounds the read-merge-write of the log bucket policy:
// several destinations logging into one log bucket merge into one policy,
// and a write racing ours may drop our statement, so it is read back.
const logDeliveryAttempts = 4

// grantLogDelivery merges dest's log delivery statement into logBucket's
// policy, replacing an older one for dest (another prefix).
// known is the policy as the plan read it (nil: read it here); after a
// write the policy is read back, since a concurrent merge may have dropped
// our statement.
func grantLogDelivery(ctx context.Context, e *Engine, logBucket, dest Bucket, prefix string, known map[string]any) error {
	client := e.s3(logBucket)
	stmt := logDeliveryStatement(logBucket, dest, prefix, e.accountOf(dest))
	for range logDeliveryAttempts {
		policy := known
		known = nil
		if policy == nil {
			err := RetryWrite(ctx, e.opts.PropagationTimeout, func() error {
				var err error
				policy, err = readPolicyDoc(ctx, client, logBucket.Name)
				return err
			})
			if err != nil {
				return fmt.Errorf("reading policy of log bucket %s: %w", logBucket, err)
			}
		}
		merged, changed, err := mergeStatement(policy, stmt)
		if err != nil {
			return fmt.Errorf("merging log delivery into the policy of log bucket %s: %w", logBucket, err)
		}
		if !changed {
			return nil
		}
		doc, err := encodeJSON(merged)
		if err != nil {
			return err
		}
		err = RetryWrite(ctx, e.opts.PropagationTimeout, func() error {
			_, err := client.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &logBucket.Name, Policy: aws.String(string(doc))})
			return err
		})
		if err != nil {
			return fmt.Errorf("granting log delivery in the policy of log bucket %s: %w", logBucket, err)
		}
	}
	return fmt.Errorf("granting log delivery in the policy of log bucket %s: the policy kept changing under us (%d attempts)", logBucket, logDeliveryAttempts)
}

// mergeStatement puts stmt into policy, in place of a statement with the
// same Sid; changed is false when policy already holds it as is.
func mergeStatement(policy, stmt map[string]any) (merged map[string]any, changed bool, err error) {
	var statements []any
	switch st := policy["Statement"].(type) {
	case nil:
	case []any:
		statements = st
	case map[string]any:
		statements = []any{st}
	default:
		return nil, false, errors.New("the policy's Statement is neither an object nor a list")
	}
	want, err := json.Marshal(stmt)
	if err != nil {
		return nil, false, err
	}
	replaced := false
	for i, s := range statements {
		m, ok := s.(map[string]any)
		if !ok || m["Sid"] != stmt["Sid"] {
			continue
		}
		// Compare as canonical JSON: the policy was decoded with json.Number.
		got, err := json.Marshal(m)
		if err != nil {
			return nil, false, err
		}
		if bytes.Equal(got, want) {
			return policy, false, nil
		}
		statements[i], replaced = stmt, true
	}
	if !replaced {
		statements = append(statements, stmt)
	}
	policy["Statement"] = statements
	return policy, true, nil
}
