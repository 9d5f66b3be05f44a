package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
)

// The buckets the sample events in events/ name (events/README.md).
const (
	exampleSource = "example-source-bucket"                // us-east-1, tagged for us-west-2, mirrored
	exampleDest   = "dest-example-source-bucket-us-west-2" // its destination
	exampleOther  = "example-other-bucket"                 // us-east-1, not tagged
	exampleWest   = "example-west-bucket"                  // us-west-2, tagged for us-east-1, not mirrored yet
	homeRegion    = localcloud.DefaultRegion
	westRegion    = "us-west-2"
	// The member account of the *-member-* events: the local stack works
	// in it (memberAccounts) through its member role.
	exampleMember     = "111122223333"
	exampleMemberSrc  = "example-member-bucket"                // in exampleMember, us-east-1, tagged for us-west-2, mirrored
	exampleMemberDest = "dest-example-member-bucket-us-west-2" // its destination, in exampleMember
)

// memberAccounts is the local stack's SourceAccounts: as an Organization's
// central stack, its own account and the sample member account. An event
// from any other account (cloudtrail-put-bucket-cors-unlisted-account.json)
// is refused.
var memberAccounts = localcloud.AccountID + " " + exampleMember

// seed puts in place, in the freshly deployed stack, what the event needs
// to mean what it says, and returns a line per thing done:
//
//   - a create or configure payload (bare or wrapped): its source bucket,
//     with a CORS rule to copy; for the configure function, when the event
//     names its destination, the create step run first with the same
//     event (configure's input is create's output), in-process;
//   - any other event (the sweep's, the full sweep steps', a CloudTrail
//     call): the example account — example-source-bucket mirrored to
//     dest-example-source-bucket-us-west-2, example-other-bucket untagged,
//     example-west-bucket tagged and not mirrored yet — then, for a
//     CloudTrail event, the change the call reports, so the sweep finds
//     what the event says happened; and the member role in the sample
//     member account, plus, for an event naming example-member-bucket or
//     its destination, that mirror inside the member account.
func (s *session) seed(ctx context.Context, fn string, event []byte) ([]string, error) {
	if in, ev, ok := workflowInput(event); ok {
		return s.seedWorkflow(ctx, fn, in, ev, event)
	}
	notes, err := s.seedAccount(ctx)
	if err != nil {
		return notes, err
	}
	var ct struct {
		DetailType string `json:"detail-type"`
		Detail     struct {
			EventName         string `json:"eventName"`
			ErrorCode         string `json:"errorCode"`
			RequestParameters struct {
				BucketName  string `json:"bucketName"`
				ResourceARN string `json:"resourceArn"`
			} `json:"requestParameters"`
		} `json:"detail"`
	}
	if json.Unmarshal(event, &ct) != nil || ct.DetailType != "AWS API Call via CloudTrail" || ct.Detail.ErrorCode != "" {
		return notes, nil
	}
	bucket := ct.Detail.RequestParameters.BucketName
	if bucket == "" {
		bucket, _ = mirror.BucketFromARN("resourceArn", ct.Detail.RequestParameters.ResourceARN)
	}
	if bucket == exampleMemberSrc || bucket == exampleMemberDest {
		note, err := s.seedMember(ctx)
		if err != nil {
			return notes, err
		}
		notes = append(notes, note)
	}
	change, ok := eventChanges[ct.Detail.EventName]
	if !ok || (bucket != exampleSource && bucket != exampleDest && bucket != exampleWest && bucket != exampleMemberSrc && bucket != exampleMemberDest) {
		return notes, nil
	}
	note, err := change(ctx, s, bucket)
	if err != nil {
		return notes, fmt.Errorf("making the change %s reports on %s: %w", ct.Detail.EventName, bucket, err)
	}
	return append(notes, note), nil
}

// workflowInput reads a create or configure payload with a valid source.
func workflowInput(event []byte) (mirror.Input, mirror.Event, bool) {
	var ev mirror.Event
	if json.Unmarshal(event, &ev) != nil {
		return mirror.Input{}, ev, false
	}
	in := ev.Input
	if ev.Payload != nil {
		in = *ev.Payload
	}
	if _, err := mirror.BucketFromARN("sourceBucketARN", in.SourceBucketARN); err != nil || mirror.ValidateRegion(in.SourceRegion) != nil {
		return in, ev, false
	}
	return in, ev, true
}

func (s *session) seedWorkflow(ctx context.Context, fn string, in mirror.Input, ev mirror.Event, event []byte) ([]string, error) {
	source, _ := mirror.BucketFromARN("sourceBucketARN", in.SourceBucketARN)
	if err := s.createBucket(ctx, source, in.SourceRegion, nil); err != nil {
		return nil, err
	}
	if err := s.putCORS(ctx, source, in.SourceRegion, "https://www.example.com"); err != nil {
		return nil, err
	}
	notes := []string{fmt.Sprintf("created source bucket %s in %s, with a CORS rule", source, in.SourceRegion)}
	if fn != "configure" || (in.DestBucketARN == "" && ev.Input.DestBucketARN == "") {
		return notes, nil
	}
	out, err := s.stack.Mirrorer.CreateLambda().Invoke(ctx, event)
	if err != nil {
		return notes, fmt.Errorf("running the create step first: %w", err)
	}
	var st mirror.State
	if err := json.Unmarshal(out, &st); err != nil || st.Status != mirror.StatusCreated {
		return notes, fmt.Errorf("running the create step first: %s", out)
	}
	return append(notes, fmt.Sprintf("ran the create step with the event first: %s %s in %s", st.Status, st.DestBucket, in.DestRegion)), nil
}

// seedAccount builds the example account the sweep's events name, and the
// member role in the sample member account (which every sweep looks in).
func (s *session) seedAccount(ctx context.Context) ([]string, error) {
	tag := func(k string) string { return s.stack.Mirrorer.TagPrefix + k }
	if err := s.createMemberRole(ctx); err != nil {
		return nil, err
	}
	if err := s.createBucket(ctx, exampleSource, homeRegion, map[string]string{tag("destination-regions"): westRegion, "cost-center": "1234"}); err != nil {
		return nil, err
	}
	if err := s.putCORS(ctx, exampleSource, homeRegion, "https://www.example.com"); err != nil {
		return nil, err
	}
	st, err := s.stack.Mirrorer.Run(ctx, mirror.Input{SourceBucketARN: "arn:aws:s3:::" + exampleSource, DestBucketARN: "arn:aws:s3:::" + exampleDest,
		SourceAccountNumber: localcloud.AccountID, DestAccountNumber: localcloud.AccountID, SourceRegion: homeRegion, DestRegion: westRegion})
	if err != nil || st.Status != mirror.StatusFinished {
		return nil, fmt.Errorf("mirroring %s to %s: %s %v", exampleSource, exampleDest, st.Status, err)
	}
	if err := s.createBucket(ctx, exampleOther, homeRegion, nil); err != nil {
		return nil, err
	}
	if err := s.createBucket(ctx, exampleWest, westRegion, map[string]string{tag("destination-regions"): homeRegion}); err != nil {
		return nil, err
	}
	if err := s.putLifecycle(ctx, exampleWest, westRegion, "keep-logs"); err != nil {
		return nil, err
	}
	return []string{
		fmt.Sprintf("created %s in %s tagged for %s and mirrored it to %s (FINISHED)", exampleSource, homeRegion, westRegion, exampleDest),
		fmt.Sprintf("created %s in %s, not tagged", exampleOther, homeRegion),
		fmt.Sprintf("created %s in %s tagged for %s, not mirrored yet", exampleWest, westRegion, homeRegion),
	}, nil
}

// createMemberRole creates the member role in the sample member account,
// trusting the stack's account, as deploy/member-account.yaml does.
func (s *session) createMemberRole(ctx context.Context) error {
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + localcloud.AccountID + `:root"},"Action":"sts:AssumeRole"}]}`
	_, err := iam.NewFromConfig(s.cloud.StandaloneAccountConfig(exampleMember)).CreateRole(ctx, &iam.CreateRoleInput{
		RoleName: aws.String(awsclient.DefaultMemberRole), AssumeRolePolicyDocument: aws.String(trust)})
	if err != nil {
		return fmt.Errorf("creating the member role in account %s: %w", exampleMember, err)
	}
	return nil
}

// seedMember builds the member account's mirror: example-member-bucket,
// tagged for us-west-2 with a CORS rule, mirrored by the create and
// configure steps into dest-example-member-bucket-us-west-2 in that account.
func (s *session) seedMember(ctx context.Context) (string, error) {
	tags := map[string]string{s.stack.Mirrorer.TagPrefix + "destination-regions": westRegion}
	if err := s.createBucket(ctx, exampleMemberSrc, homeRegion, tags); err != nil {
		return "", err
	}
	if err := s.putCORS(ctx, exampleMemberSrc, homeRegion, "https://www.example.com"); err != nil {
		return "", err
	}
	st, err := s.stack.Mirrorer.Run(ctx, mirror.Input{SourceBucketARN: "arn:aws:s3:::" + exampleMemberSrc, DestBucketARN: "arn:aws:s3:::" + exampleMemberDest,
		SourceAccountNumber: exampleMember, DestAccountNumber: exampleMember, SourceRegion: homeRegion, DestRegion: westRegion})
	if err != nil || st.Status != mirror.StatusFinished {
		return "", fmt.Errorf("mirroring %s to %s in account %s: %s %v", exampleMemberSrc, exampleMemberDest, exampleMember, st.Status, err)
	}
	return fmt.Sprintf("created %s in account %s (%s) tagged for %s and mirrored it to %s there (FINISHED)", exampleMemberSrc, exampleMember, homeRegion, westRegion, exampleMemberDest), nil
}

// s3 is the S3 client of the account bucket is in: the sample member
// account's administrator for its buckets, the stack's account otherwise.
func (s *session) s3(bucket, region string) *s3.Client {
	if bucket == exampleMemberSrc || bucket == exampleMemberDest {
		return s3.NewFromConfig(s.cloud.StandaloneAccountConfig(exampleMember), func(o *s3.Options) { o.UsePathStyle, o.Region = true, region })
	}
	return s.clients.S3(region)
}

// eventChanges make the change a CloudTrail event reports, on the bucket
// it names (a failed call, errorCode set, changed nothing and has none).
var eventChanges = map[string]func(ctx context.Context, s *session, bucket string) (string, error){
	"PutBucketCors": func(ctx context.Context, s *session, bucket string) (string, error) {
		if bucket == exampleDest || bucket == exampleMemberDest {
			// bucketmirror's own write (the configure role): the mirror
			// already put the source's rule there.
			return "the destination's CORS rule is bucketmirror's copy of the source's", nil
		}
		return "changed " + bucket + "'s CORS origin to https://shop.example.com", s.putCORS(ctx, bucket, s.regionOf(bucket), "https://shop.example.com")
	},
	"DeleteBucketCors": func(ctx context.Context, s *session, bucket string) (string, error) {
		_, err := s.s3(bucket, s.regionOf(bucket)).DeleteBucketCors(ctx, &s3.DeleteBucketCorsInput{Bucket: aws.String(bucket)})
		return "deleted " + bucket + "'s CORS configuration", err
	},
	"PutBucketLifecycle": func(ctx context.Context, s *session, bucket string) (string, error) {
		return "added lifecycle rule expire-tmp to " + bucket, s.putLifecycle(ctx, bucket, s.regionOf(bucket), "expire-tmp")
	},
	"PutBucketTagging": func(ctx context.Context, s *session, bucket string) (string, error) {
		// The event's TagSet replaces the bucket's tags.
		tags := map[string]string{s.stack.Mirrorer.TagPrefix + "destination-regions": westRegion, "team": "data"}
		return "replaced " + bucket + "'s tags with the event's (team=data, cost-center gone)", s.setTags(ctx, bucket, tags)
	},
	"TagResource": func(ctx context.Context, s *session, bucket string) (string, error) {
		tags := map[string]string{s.stack.Mirrorer.TagPrefix + "destination-regions": westRegion, "cost-center": "5678"}
		return "set " + bucket + "'s tag cost-center to 5678", s.setTags(ctx, bucket, tags)
	},
	"UntagResource": func(ctx context.Context, s *session, bucket string) (string, error) {
		tags := map[string]string{s.stack.Mirrorer.TagPrefix + "destination-regions": westRegion}
		return "removed " + bucket + "'s tag cost-center", s.setTags(ctx, bucket, tags)
	},
	"DeleteBucket": func(ctx context.Context, s *session, bucket string) (string, error) {
		_, err := s.clients.S3(s.regionOf(bucket)).DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
		return "deleted " + bucket, err
	},
}

func (s *session) regionOf(bucket string) string {
	if bucket == exampleDest || bucket == exampleWest || bucket == exampleMemberDest {
		return westRegion
	}
	return homeRegion
}

func (s *session) createBucket(ctx context.Context, name, region string, tags map[string]string) error {
	in := &s3.CreateBucketInput{Bucket: aws.String(name)}
	if region != homeRegion {
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(region)}
	}
	if _, err := s.s3(name, region).CreateBucket(ctx, in); err != nil && bucketconfig.ErrorCode(err) != "BucketAlreadyOwnedByYou" {
		return fmt.Errorf("creating bucket %s in %s: %w", name, region, err)
	}
	if len(tags) == 0 {
		return nil
	}
	return s.setTags(ctx, name, tags)
}

func (s *session) setTags(ctx context.Context, bucket string, tags map[string]string) error {
	var set []s3types.Tag
	for k, v := range tags {
		set = append(set, s3types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	if _, err := s.s3(bucket, s.regionOf(bucket)).PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(bucket), Tagging: &s3types.Tagging{TagSet: set}}); err != nil {
		return fmt.Errorf("tagging bucket %s: %w", bucket, err)
	}
	return nil
}

func (s *session) putCORS(ctx context.Context, bucket, region, origin string) error {
	_, err := s.s3(bucket, region).PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: aws.String(bucket), CORSConfiguration: &s3types.CORSConfiguration{
		CORSRules: []s3types.CORSRule{{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{origin}}}}})
	if err != nil {
		return fmt.Errorf("setting the CORS rule of %s: %w", bucket, err)
	}
	return nil
}

func (s *session) putLifecycle(ctx context.Context, bucket, region, rule string) error {
	_, err := s.clients.S3(region).PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String(bucket),
		LifecycleConfiguration: &s3types.BucketLifecycleConfiguration{Rules: []s3types.LifecycleRule{{
			ID: aws.String(rule), Status: s3types.ExpirationStatusEnabled, Filter: &s3types.LifecycleRuleFilter{Prefix: aws.String("tmp/")},
			Expiration: &s3types.LifecycleExpiration{Days: aws.Int32(7)}}}}})
	if err != nil {
		return fmt.Errorf("setting the lifecycle of %s: %w", bucket, err)
	}
	return nil
}
