package bucketconfig

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
)

// callLog records when each S3 operation started and finished. Recording
// is all it does: every call still goes to the local cloud.
type callLog struct {
	mu    sync.Mutex
	calls []call
}

type call struct {
	op         string
	start, end time.Time
}

func (l *callLog) middleware(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("callLog",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			start := time.Now()
			out, md, err := next.HandleInitialize(ctx, in)
			l.mu.Lock()
			l.calls = append(l.calls, call{op: middleware.GetOperationName(ctx), start: start, end: time.Now()})
			l.mu.Unlock()
			return out, md, err
		}), middleware.After)
}

// window is the earliest start and latest end of the named operations.
func (l *callLog) window(t *testing.T, ops ...string) (first, last time.Time) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.calls {
		for _, op := range ops {
			if c.op == op {
				if first.IsZero() || c.start.Before(first) {
					first = c.start
				}
				if c.end.After(last) {
					last = c.end
				}
			}
		}
	}
	if first.IsZero() {
		t.Fatalf("no call to %v was made", ops)
	}
	return first, last
}

// TestApplyOrder checks, from the calls as they happened, that the
// dependency graph is honoured: moto does not enforce these S3 rules for
// every pair, so the order is asserted directly.
func TestApplyOrder(t *testing.T) {
	log := &callLog{}
	clients := awsclient.New(cloud.AWSConfig(), func(o *s3.Options) { o.APIOptions = append(o.APIOptions, log.middleware) })
	f := newFixture(t)
	f.clients, f.engine = clients, New(clients, Options{AccountID: localcloud.AccountID})
	src, dst := f.m.Source.Name, f.m.Dest.Name
	ctx := f.ctx
	// Destination with real S3's new-bucket defaults; a public source.
	_, err := f.dst().PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: &dst, OwnershipControls: &types.OwnershipControls{Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipBucketOwnerEnforced}}}})
	f.must(err)
	_, err = f.dst().PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: &dst, PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{
		BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true)}})
	f.must(err)
	_, err = f.src().PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: &src, OwnershipControls: &types.OwnershipControls{Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipObjectWriter}}}})
	f.must(err)
	_, err = f.src().PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: &src, ACL: types.BucketCannedACLPublicRead})
	f.must(err)
	_, err = f.src().PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &src, Policy: aws.String(fmt.Sprintf(
		`{"Version":"2012-10-17","Statement":[{"Sid":"Public","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::%s/*"}]}`, src))})
	f.must(err)
	_, err = f.src().PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &src, VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
	f.must(err)
	_, err = f.src().PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: &src, Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("team"), Value: aws.String("web")}}}})
	f.must(err)
	_, err = f.src().PutBucketAbac(ctx, &s3.PutBucketAbacInput{Bucket: &src, AbacStatus: &types.AbacStatus{Status: types.BucketAbacStatusEnabled}})
	f.must(err)

	log.mu.Lock()
	log.calls = nil // only the engine's calls count
	log.mu.Unlock()
	f.configure("acl")
	_, ownershipDone := log.window(t, "DeleteBucketOwnershipControls", "PutBucketOwnershipControls")
	_, bpaDone := log.window(t, "DeletePublicAccessBlock", "PutPublicAccessBlock")
	aclStart, _ := log.window(t, "PutBucketAcl")
	policyStart, _ := log.window(t, "PutBucketPolicy")
	_, tagsDone := log.window(t, "PutBucketTagging")
	abacStart, _ := log.window(t, "PutBucketAbac")
	if aclStart.Before(ownershipDone) || aclStart.Before(bpaDone) {
		t.Errorf("ACL written before ownership/BPA were done (acl %v, ownership done %v, bpa done %v)", aclStart, ownershipDone, bpaDone)
	}
	if policyStart.Before(bpaDone) {
		t.Errorf("policy written before Block Public Access was done")
	}
	if abacStart.Before(tagsDone) {
		t.Errorf("ABAC enabled before the tags were written")
	}
	if s := f.planAction("policy"); s.Action != ActionNone {
		t.Errorf("policy not in line after configure: %s", s.Action)
	}
}

func TestEdgesNameKinds(t *testing.T) {
	for _, e := range edges {
		for _, kind := range []string{e.before, e.after} {
			if _, ok := KindByName(kind); !ok {
				t.Errorf("edge %s -> %s names unknown kind %q", e.before, e.after, kind)
			}
		}
	}
}

// TestRandomizedMirrors generates buckets with random subsets of kinds and
// checks that after one Configure the destination equals transform(source)
// for every kind (a fresh plan has nothing to do). BUCKETMIRROR_SEED
// replays a failure.
func TestRandomizedMirrors(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("BUCKETMIRROR_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	t.Logf("seed %d (replay with BUCKETMIRROR_SEED=%d)", seed, seed)
	for i := range 6 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			f := newFixture(t, func(o *Options) { o.Sequential = rng.IntN(4) == 0 })
			var applied []string
			for _, set := range randomSetters {
				if rng.IntN(2) == 0 {
					applied = append(applied, set.kind)
					f.must(set.apply(f, rng))
				}
			}
			applied0, results, err := f.engine.Configure(f.ctx, f.m)
			if err != nil {
				t.Fatalf("seed %d: configure: %v", seed, err)
			}
			for _, r := range results {
				if r.Status == StatusFailed || r.Status == StatusSkipped {
					t.Errorf("seed %d, kinds %v: %s %s: %s", seed, applied, r.Kind, r.Status, r.Error)
				}
			}
			p, err := f.engine.Plan(f.ctx, f.m)
			if err != nil {
				t.Fatal(err)
			}
			// The run record's destination hash comes from the plan, not
			// from a second read: it must be what a read gives.
			if got, want := applied0.After(results).Hash(), p.Dest.Hash(); got != want {
				t.Errorf("seed %d, kinds %v: Plan.After hash %s, a fresh read %s\n after %s\n read  %s", seed, applied, got, want, applied0.After(results).JSON(), p.Dest.JSON())
			}
			for _, s := range p.Steps {
				if s.Action != ActionNone && s.Action != ActionReport {
					t.Errorf("seed %d, kinds %v: after configure %s is %s\n current %s\n desired %s", seed, applied, s.Kind, s.Action, s.Current, s.Desired)
				}
			}
		})
	}
}

var randomSetters = []struct {
	kind  string
	apply func(f *fixture, rng *rand.Rand) error
}{
	{"cors", func(f *fixture, rng *rand.Rand) error {
		_, err := f.src().PutBucketCors(f.ctx, &s3.PutBucketCorsInput{Bucket: &f.m.Source.Name, CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{
			{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{fmt.Sprintf("https://%d.example.com", rng.IntN(100))}, MaxAgeSeconds: aws.Int32(int32(rng.IntN(3600)))}}}})
		return err
	}},
	{"tags", func(f *fixture, rng *rand.Rand) error {
		tags := []types.Tag{{Key: aws.String("bucketmirror:destination-regions"), Value: aws.String("us-west-2")}}
		for j := range 1 + rng.IntN(5) {
			tags = append(tags, types.Tag{Key: aws.String(fmt.Sprintf("k%d", j)), Value: aws.String(fmt.Sprint(rng.IntN(1000)))})
		}
		_, err := f.src().PutBucketTagging(f.ctx, &s3.PutBucketTaggingInput{Bucket: &f.m.Source.Name, Tagging: &types.Tagging{TagSet: tags}})
		return err
	}},
	{"policy", func(f *fixture, rng *rand.Rand) error {
		_, err := f.src().PutBucketPolicy(f.ctx, &s3.PutBucketPolicyInput{Bucket: &f.m.Source.Name, Policy: aws.String(fmt.Sprintf(
			`{"Version":"2012-10-17","Statement":[{"Sid":"S%d","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::%[2]s","arn:aws:s3:::%[2]s/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`,
			rng.IntN(100), f.m.Source.Name))})
		return err
	}},
	{"lifecycle", func(f *fixture, rng *rand.Rand) error {
		_, err := f.src().PutBucketLifecycleConfiguration(f.ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: &f.m.Source.Name, LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{
			{ID: aws.String("expire"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("tmp/")}, Expiration: &types.LifecycleExpiration{Days: aws.Int32(int32(1 + rng.IntN(90)))}}}}})
		return err
	}},
	{"versioning", func(f *fixture, _ *rand.Rand) error {
		_, err := f.src().PutBucketVersioning(f.ctx, &s3.PutBucketVersioningInput{Bucket: &f.m.Source.Name, VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
		return err
	}},
	{"encryption", func(f *fixture, rng *rand.Rand) error {
		_, err := f.src().PutBucketEncryption(f.ctx, &s3.PutBucketEncryptionInput{Bucket: &f.m.Source.Name, ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{
			{ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAes256}, BucketKeyEnabled: aws.Bool(rng.IntN(2) == 0)}}}})
		return err
	}},
	{"website", func(f *fixture, _ *rand.Rand) error {
		_, err := f.src().PutBucketWebsite(f.ctx, &s3.PutBucketWebsiteInput{Bucket: &f.m.Source.Name, WebsiteConfiguration: &types.WebsiteConfiguration{IndexDocument: &types.IndexDocument{Suffix: aws.String("index.html")}}})
		return err
	}},
	{"requester-pays", func(f *fixture, _ *rand.Rand) error {
		_, err := f.src().PutBucketRequestPayment(f.ctx, &s3.PutBucketRequestPaymentInput{Bucket: &f.m.Source.Name, RequestPaymentConfiguration: &types.RequestPaymentConfiguration{Payer: types.PayerRequester}})
		return err
	}},
	{"public-access-block", func(f *fixture, rng *rand.Rand) error {
		_, err := f.src().PutPublicAccessBlock(f.ctx, &s3.PutPublicAccessBlockInput{Bucket: &f.m.Source.Name, PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{
			BlockPublicAcls: aws.Bool(rng.IntN(2) == 0), IgnorePublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(rng.IntN(2) == 0), RestrictPublicBuckets: aws.Bool(true)}})
		return err
	}},
	{"acl", func(f *fixture, rng *rand.Rand) error {
		// ACLs need ownership that allows them; a public grant must wait
		// for Block Public Access on the destination.
		own := []types.ObjectOwnership{types.ObjectOwnershipObjectWriter, types.ObjectOwnershipBucketOwnerPreferred}[rng.IntN(2)]
		_, err := f.src().PutBucketOwnershipControls(f.ctx, &s3.PutBucketOwnershipControlsInput{Bucket: &f.m.Source.Name,
			OwnershipControls: &types.OwnershipControls{Rules: []types.OwnershipControlsRule{{ObjectOwnership: own}}}})
		if err != nil {
			return err
		}
		acl := []types.BucketCannedACL{"log-delivery-write", types.BucketCannedACLPublicRead, types.BucketCannedACLAuthenticatedRead}[rng.IntN(3)]
		if acl != "log-delivery-write" {
			// The source's BPA (maybe set above) must let a public ACL in.
			if rng.IntN(2) == 0 {
				_, err = f.src().DeletePublicAccessBlock(f.ctx, &s3.DeletePublicAccessBlockInput{Bucket: &f.m.Source.Name})
			} else {
				_, err = f.src().PutPublicAccessBlock(f.ctx, &s3.PutPublicAccessBlockInput{Bucket: &f.m.Source.Name, PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{
					BlockPublicAcls: aws.Bool(false), IgnorePublicAcls: aws.Bool(rng.IntN(2) == 0), BlockPublicPolicy: aws.Bool(rng.IntN(2) == 0), RestrictPublicBuckets: aws.Bool(true)}})
			}
			if err != nil {
				return err
			}
		}
		_, err = f.src().PutBucketAcl(f.ctx, &s3.PutBucketAclInput{Bucket: &f.m.Source.Name, ACL: acl})
		return err
	}},
	{"abac", func(f *fixture, rng *rand.Rand) error {
		_, err := f.src().PutBucketTagging(f.ctx, &s3.PutBucketTaggingInput{Bucket: &f.m.Source.Name, Tagging: &types.Tagging{TagSet: []types.Tag{
			{Key: aws.String("abac-team"), Value: aws.String(fmt.Sprint(rng.IntN(100)))}}}})
		if err != nil {
			return err
		}
		_, err = f.src().PutBucketAbac(f.ctx, &s3.PutBucketAbacInput{Bucket: &f.m.Source.Name, AbacStatus: &types.AbacStatus{Status: types.BucketAbacStatusEnabled}})
		return err
	}},
	{"metrics", func(f *fixture, rng *rand.Rand) error {
		for j := range 1 + rng.IntN(3) {
			id := fmt.Sprintf("m%d", j)
			_, err := f.src().PutBucketMetricsConfiguration(f.ctx, &s3.PutBucketMetricsConfigurationInput{Bucket: &f.m.Source.Name, Id: &id,
				MetricsConfiguration: &types.MetricsConfiguration{Id: &id, Filter: &types.MetricsFilterMemberPrefix{Value: "p/" + id}}})
			if err != nil {
				return err
			}
		}
		return nil
	}},
}

func TestNonexistentSource(t *testing.T) {
	f := newFixture(t)
	f.m.Source.Name = "bucketmirror-no-such-bucket-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	_, results, err := f.engine.Configure(f.ctx, f.m)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Status == StatusApplied || r.Status == StatusRemoved {
			t.Errorf("kind %s was %s on the destination from a nonexistent source", r.Kind, r.Status)
		}
	}
	r := results[0]
	if r.Status != StatusFailed || r.Code != "NoSuchBucket" || !strings.Contains(r.Error, f.m.Source.Name) || !strings.Contains(r.Error, "reading "+r.Kind) {
		t.Errorf("first result = %+v, want failed with NoSuchBucket naming the bucket and kind", r)
	}
}

// TestAccessDeniedOnOneKind: AccessDenied reading one kind (injected; the
// emulator has no IAM enforcement) fails that kind only.
func TestAccessDeniedOnOneKind(t *testing.T) {
	deny := func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("denyCORS",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if middleware.GetOperationName(ctx) == "GetBucketCors" {
					return middleware.InitializeOutput{}, middleware.Metadata{}, &smithy.GenericAPIError{Code: "AccessDenied", Message: "Access Denied"}
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	}
	f := newFixture(t)
	f.clients = awsclient.New(cloud.AWSConfig(), func(o *s3.Options) { o.APIOptions = append(o.APIOptions, deny) })
	f.engine = New(f.clients, Options{AccountID: localcloud.AccountID})
	_, err := f.src().PutBucketWebsite(f.ctx, &s3.PutBucketWebsiteInput{Bucket: &f.m.Source.Name, WebsiteConfiguration: &types.WebsiteConfiguration{IndexDocument: &types.IndexDocument{Suffix: aws.String("index.html")}}})
	f.must(err)
	_, results, err := f.engine.Configure(f.ctx, f.m)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		switch r.Kind {
		case "cors":
			if r.Status != StatusFailed || r.Code != "AccessDenied" || !strings.Contains(r.Error, "reading cors of bucket") {
				t.Errorf("cors result = %+v, want failed with AccessDenied", r)
			}
		case "website":
			if r.Status != StatusApplied {
				t.Errorf("website result = %+v, want applied despite the cors failure", r)
			}
		}
	}
	if Succeeded(results) {
		t.Error("Succeeded() with a failed kind")
	}
}
