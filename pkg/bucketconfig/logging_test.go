package bucketconfig

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
)

// grantSourceLogDelivery lets S3's logging service write to b under prefix,
// as a source's log target must (S3 checks it on PutBucketLogging).
func (f *fixture) grantSourceLogDelivery(b Bucket, prefix string) {
	f.t.Helper()
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"S3ServerAccessLogsPolicy","Effect":"Allow",
	  "Principal":{"Service":"logging.s3.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::%s/%s*"}]}`, b.Name, prefix)
	_, err := f.clients.S3(b.Region).PutBucketPolicy(f.ctx, &s3.PutBucketPolicyInput{Bucket: &b.Name, Policy: aws.String(policy)})
	f.must(err)
}

func (f *fixture) putLogging(b Bucket, le *types.LoggingEnabled) {
	f.t.Helper()
	_, err := f.clients.S3(b.Region).PutBucketLogging(f.ctx, &s3.PutBucketLoggingInput{Bucket: &b.Name,
		BucketLoggingStatus: &types.BucketLoggingStatus{LoggingEnabled: le}})
	f.must(err)
}

func (f *fixture) destLogging() *types.LoggingEnabled {
	f.t.Helper()
	out, err := f.dst().GetBucketLogging(f.ctx, &s3.GetBucketLoggingInput{Bucket: &f.m.Dest.Name})
	f.must(err)
	return out.LoggingEnabled
}

// logPolicyStatements returns the statements of b's policy.
func (f *fixture) logPolicyStatements(b Bucket) []map[string]any {
	f.t.Helper()
	out, err := f.clients.S3(b.Region).GetBucketPolicy(f.ctx, &s3.GetBucketPolicyInput{Bucket: &b.Name})
	f.must(err)
	var doc struct{ Statement []map[string]any }
	f.must(json.Unmarshal([]byte(aws.ToString(out.Policy)), &doc))
	return doc.Statement
}

// checkLogDeliveryStatement verifies that stmt lets only S3 logging, for
// dest in our account, write under prefix in logBucket.
func checkLogDeliveryStatement(t *testing.T, stmt map[string]any, logBucket, prefix string, dest Bucket) {
	t.Helper()
	got, _ := json.Marshal(map[string]any{"Effect": stmt["Effect"], "Principal": stmt["Principal"], "Action": stmt["Action"],
		"Resource": stmt["Resource"], "Condition": stmt["Condition"]})
	want, _ := json.Marshal(map[string]any{"Effect": "Allow", "Principal": map[string]any{"Service": "logging.s3.amazonaws.com"},
		"Action": "s3:PutObject", "Resource": "arn:aws:s3:::" + logBucket + "/" + prefix + "*",
		"Condition": map[string]any{"ArnLike": map[string]any{"aws:SourceArn": dest.ARN()},
			"StringEquals": map[string]any{"aws:SourceAccount": localcloud.AccountID}}})
	if string(got) != string(want) {
		t.Errorf("log delivery statement\n got %s\nwant %s", got, want)
	}
}

func TestLogging(t *testing.T) {
	f := newFixture(t)
	target := Bucket{Name: uniqueBucket(t, "logs"), Region: srcRegion}
	f.createBucket(target, false)
	f.grantSourceLogDelivery(target, "access/")
	logBucket := Bucket{Name: logBucketName(DefaultNamePrefix, target.Name, "", dstRegion), Region: dstRegion}
	grants := []types.TargetGrant{{Permission: types.BucketLogsPermissionRead,
		Grantee: &types.Grantee{Type: types.TypeGroup, URI: aws.String("http://acs.amazonaws.com/groups/global/AuthenticatedUsers")}}}
	f.roundTrip("logging",
		func() {
			f.putLogging(f.m.Source, &types.LoggingEnabled{TargetBucket: &target.Name, TargetPrefix: aws.String("access/"),
				TargetObjectKeyFormat: &types.TargetObjectKeyFormat{PartitionedPrefix: &types.PartitionedPrefix{PartitionDateSource: types.PartitionDateSourceEventTime}},
				TargetGrants:          grants})
		},
		func() { f.putLogging(f.m.Source, nil) },
		func() {
			le := f.destLogging()
			if le == nil || aws.ToString(le.TargetBucket) != logBucket.Name || aws.ToString(le.TargetPrefix) != "access/" {
				t.Fatalf("destination logging = %+v, want into %s under access/", le, logBucket.Name)
			}
			if k := le.TargetObjectKeyFormat; k == nil || k.PartitionedPrefix == nil || k.PartitionedPrefix.PartitionDateSource != types.PartitionDateSourceEventTime || k.SimplePrefix != nil {
				t.Errorf("destination key format = %+v, want PartitionedPrefix by EventTime", k)
			}
			if len(le.TargetGrants) != 1 || le.TargetGrants[0].Permission != types.BucketLogsPermissionRead ||
				aws.ToString(le.TargetGrants[0].Grantee.URI) != "http://acs.amazonaws.com/groups/global/AuthenticatedUsers" {
				t.Errorf("destination target grants = %+v", le.TargetGrants)
			}
			loc, err := f.dst().GetBucketLocation(f.ctx, &s3.GetBucketLocationInput{Bucket: &logBucket.Name})
			f.must(err)
			if loc.LocationConstraint != types.BucketLocationConstraint(dstRegion) {
				t.Errorf("log bucket %s is in %q, want %s", logBucket.Name, loc.LocationConstraint, dstRegion)
			}
			tags, err := f.dst().GetBucketTagging(f.ctx, &s3.GetBucketTaggingInput{Bucket: &logBucket.Name})
			f.must(err)
			if len(tags.TagSet) != 1 || aws.ToString(tags.TagSet[0].Key) != "bucketmirror:source" || aws.ToString(tags.TagSet[0].Value) != target.ARN() {
				t.Errorf("log bucket tags = %+v, want bucketmirror:source=%s", tags.TagSet, target.ARN())
			}
			stmts := f.logPolicyStatements(logBucket)
			if len(stmts) != 1 {
				t.Fatalf("log bucket policy has %d statements, want 1: %+v", len(stmts), stmts)
			}
			checkLogDeliveryStatement(t, stmts[0], logBucket.Name, "access/", f.m.Dest)
		})
	// Turning logging off leaves the log bucket and its logs.
	if _, err := f.dst().HeadBucket(f.ctx, &s3.HeadBucketInput{Bucket: &logBucket.Name}); err != nil {
		t.Errorf("log bucket %s gone after logging was turned off: %v", logBucket.Name, err)
	}
}

// A new prefix replaces the destination's statement in the log bucket
// policy; another destination logging into the same log bucket adds its own.
func TestLoggingSharedLogBucket(t *testing.T) {
	f := newFixture(t)
	target := Bucket{Name: uniqueBucket(t, "logs"), Region: srcRegion}
	f.createBucket(target, false)
	f.grantSourceLogDelivery(target, "")
	logBucket := Bucket{Name: logBucketName(DefaultNamePrefix, target.Name, "", dstRegion), Region: dstRegion}
	f.putLogging(f.m.Source, &types.LoggingEnabled{TargetBucket: &target.Name, TargetPrefix: aws.String("one/")})
	f.configure("logging")
	f.putLogging(f.m.Source, &types.LoggingEnabled{TargetBucket: &target.Name, TargetPrefix: aws.String("two/")})
	if r := f.configure("logging"); r.Status != StatusApplied {
		t.Fatalf("after a prefix change logging is %s (%s), want applied", r.Status, r.Error)
	}
	stmts := f.logPolicyStatements(logBucket)
	if len(stmts) != 1 {
		t.Fatalf("log bucket policy has %d statements after a prefix change, want 1: %+v", len(stmts), stmts)
	}
	checkLogDeliveryStatement(t, stmts[0], logBucket.Name, "two/", f.m.Dest)

	other := &fixture{t: t, ctx: f.ctx, clients: f.clients, engine: f.engine,
		m: Mirror{Source: Bucket{Name: uniqueBucket(t, "src"), Region: srcRegion}, Dest: Bucket{Name: uniqueBucket(t, "dst"), Region: dstRegion}}}
	other.createBucket(other.m.Source, false)
	other.createBucket(other.m.Dest, false)
	other.putLogging(other.m.Source, &types.LoggingEnabled{TargetBucket: &target.Name, TargetPrefix: aws.String("other/")})
	if r := other.configure("logging"); r.Status != StatusApplied {
		t.Fatalf("second mirror: logging is %s (%s), want applied", r.Status, r.Error)
	}
	stmts = f.logPolicyStatements(logBucket)
	if len(stmts) != 2 {
		t.Fatalf("log bucket policy has %d statements for two destinations, want 2: %+v", len(stmts), stmts)
	}
	checkLogDeliveryStatement(t, stmts[0], logBucket.Name, "two/", f.m.Dest)
	checkLogDeliveryStatement(t, stmts[1], logBucket.Name, "other/", other.m.Dest)
	if le := other.destLogging(); le == nil || aws.ToString(le.TargetBucket) != logBucket.Name {
		t.Errorf("second destination logging = %+v, want into %s", le, logBucket.Name)
	}
}

// A source logging into itself gives a destination logging into itself;
// the grant comes with the source's policy, so the policy must be written
// first (the logging -> policy edge of the dependency graph).
func TestLoggingIntoItself(t *testing.T) {
	f := newFixture(t)
	f.grantSourceLogDelivery(f.m.Source, "self/")
	f.roundTrip("logging",
		func() {
			f.putLogging(f.m.Source, &types.LoggingEnabled{TargetBucket: &f.m.Source.Name, TargetPrefix: aws.String("self/"),
				TargetObjectKeyFormat: &types.TargetObjectKeyFormat{SimplePrefix: &types.SimplePrefix{}}})
		},
		func() { f.putLogging(f.m.Source, nil) },
		func() {
			le := f.destLogging()
			if le == nil || aws.ToString(le.TargetBucket) != f.m.Dest.Name || aws.ToString(le.TargetPrefix) != "self/" {
				t.Fatalf("destination logging = %+v, want into itself under self/", le)
			}
			if k := le.TargetObjectKeyFormat; k == nil || k.SimplePrefix == nil || k.PartitionedPrefix != nil {
				t.Errorf("destination key format = %+v, want SimplePrefix", k)
			}
			if _, err := f.dst().HeadBucket(f.ctx, &s3.HeadBucketInput{Bucket: aws.String(logBucketName(DefaultNamePrefix, f.m.Source.Name, "", dstRegion))}); err == nil {
				t.Errorf("a log bucket was created for a bucket logging into itself")
			}
		})
}

// failedResult runs the engine and returns kind's result, which must fail.
func (f *fixture) failedResult(kind string) Result {
	f.t.Helper()
	_, results, err := f.engine.Configure(f.ctx, f.m)
	f.must(err)
	i := slices.IndexFunc(results, func(r Result) bool { return r.Kind == kind })
	if i < 0 || results[i].Status != StatusFailed {
		f.t.Fatalf("%s result = %+v, want failed", kind, results)
	}
	return results[i]
}

// foreignLogBucket makes a source log target and, under the name of
// bucketmirror's log bucket for it, a bucket that is not bucketmirror's.
func (f *fixture) foreignLogBucket() (target, foreign Bucket) {
	f.t.Helper()
	target = Bucket{Name: uniqueBucket(f.t, "logs"), Region: srcRegion}
	f.createBucket(target, false)
	f.grantSourceLogDelivery(target, "")
	foreign = Bucket{Name: logBucketName(DefaultNamePrefix, target.Name, "", dstRegion), Region: dstRegion}
	f.createBucket(foreign, false)
	return target, foreign
}

// A bucket that is not bucketmirror's holding the log bucket's name is
// never touched: no policy, no tags, and the destination does not log.
func TestLoggingForeignLogBucket(t *testing.T) {
	f := newFixture(t)
	target, foreign := f.foreignLogBucket()
	_, err := f.dst().PutBucketTagging(f.ctx, &s3.PutBucketTaggingInput{Bucket: &foreign.Name,
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("owner"), Value: aws.String("someone-else")}}}})
	f.must(err)
	f.putLogging(f.m.Source, &types.LoggingEnabled{TargetBucket: &target.Name, TargetPrefix: aws.String("x/")})

	r := f.failedResult("logging")
	if !strings.Contains(r.Error, foreign.Name) || !strings.Contains(r.Error, "not bucketmirror's") {
		t.Errorf("error does not name the foreign bucket %s: %s", foreign.Name, r.Error)
	}
	if _, err := f.dst().GetBucketPolicy(f.ctx, &s3.GetBucketPolicyInput{Bucket: &foreign.Name}); ErrorCode(err) != codeNoSuchBucketPolicy {
		t.Errorf("foreign bucket policy: err = %v, want %s (untouched)", err, codeNoSuchBucketPolicy)
	}
	tags, err := f.dst().GetBucketTagging(f.ctx, &s3.GetBucketTaggingInput{Bucket: &foreign.Name})
	f.must(err)
	if len(tags.TagSet) != 1 || aws.ToString(tags.TagSet[0].Key) != "owner" {
		t.Errorf("foreign bucket tags changed: %+v", tags.TagSet)
	}
	if le := f.destLogging(); le != nil {
		t.Errorf("destination logs into %s despite the failure", aws.ToString(le.TargetBucket))
	}

	// The same bucket mapped explicitly is used, and still left alone.
	f.grantSourceLogDelivery(foreign, "x/")
	f.engine = New(f.clients, Options{AccountID: localcloud.AccountID, Buckets: map[string]string{target.Name: foreign.Name}})
	if r := f.configure("logging"); r.Status != StatusApplied {
		t.Fatalf("with the bucket mapped, logging is %s (%s)", r.Status, r.Error)
	}
	if le := f.destLogging(); le == nil || aws.ToString(le.TargetBucket) != foreign.Name {
		t.Errorf("destination logging = %+v, want into the mapped %s", le, foreign.Name)
	}
	if stmts := f.logPolicyStatements(foreign); len(stmts) != 1 || stmts[0]["Sid"] != "S3ServerAccessLogsPolicy" {
		t.Errorf("mapped bucket policy changed: %+v", stmts)
	}
}

// A foreign bucket holding the log bucket's name that S3 would deliver to
// (its policy lets the logging service write) takes the destination's
// logging for the moment the write is in flight at most: the verdict puts
// the destination's logging back as it was (here: into itself) and the
// foreign bucket is not touched.
func TestLoggingForeignLogBucketAcceptedByS3(t *testing.T) {
	for _, tc := range []struct {
		name string
		// priorOutside: the destination logged into a bucket outside the
		// mirror, which stays usable; else into itself, under a grant of
		// its policy that the run deletes (the source has no policy), so
		// the old logging cannot be put back and logging is turned off.
		priorOutside bool
	}{{"prior-kept", true}, {"prior-gone", false}} {
		t.Run(tc.name, func(t *testing.T) { testForeignLogBucketAcceptedByS3(t, tc.priorOutside) })
	}
}

func testForeignLogBucketAcceptedByS3(t *testing.T, priorOutside bool) {
	f := newFixture(t)
	target, foreign := f.foreignLogBucket()
	f.grantSourceLogDelivery(foreign, "")
	_, err := f.dst().PutBucketTagging(f.ctx, &s3.PutBucketTaggingInput{Bucket: &foreign.Name,
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("owner"), Value: aws.String("someone-else")}}}})
	f.must(err)
	old := f.m.Dest
	if priorOutside {
		old = Bucket{Name: uniqueBucket(t, "old"), Region: dstRegion}
		f.createBucket(old, false)
	}
	f.grantSourceLogDelivery(old, "old/")
	f.putLogging(f.m.Dest, &types.LoggingEnabled{TargetBucket: &old.Name, TargetPrefix: aws.String("old/")})
	f.putLogging(f.m.Source, &types.LoggingEnabled{TargetBucket: &target.Name, TargetPrefix: aws.String("x/")})

	r := f.failedResult("logging")
	if !strings.Contains(r.Error, foreign.Name) || !strings.Contains(r.Error, "not bucketmirror's") {
		t.Errorf("error does not name the foreign bucket %s: %s", foreign.Name, r.Error)
	}
	le := f.destLogging()
	switch {
	case priorOutside && (le == nil || aws.ToString(le.TargetBucket) != old.Name || aws.ToString(le.TargetPrefix) != "old/"):
		t.Errorf("destination logging = %s, want it put back: into %s under old/", loggingString(le), old.Name)
	case !priorOutside && le != nil:
		t.Errorf("destination logging = %s, want it off (the old target was refused too)", loggingString(le))
	case !priorOutside && !strings.Contains(r.Error, "logging turned off"):
		t.Errorf("error does not say logging was turned off: %s", r.Error)
	}
	if stmts := f.logPolicyStatements(foreign); len(stmts) != 1 || stmts[0]["Sid"] != "S3ServerAccessLogsPolicy" {
		t.Errorf("foreign bucket policy changed: %+v", stmts)
	}
	tags, err := f.dst().GetBucketTagging(f.ctx, &s3.GetBucketTaggingInput{Bucket: &foreign.Name})
	f.must(err)
	if len(tags.TagSet) != 1 || aws.ToString(tags.TagSet[0].Key) != "owner" {
		t.Errorf("foreign bucket tags changed: %+v", tags.TagSet)
	}
}

// S3 delivers no logs to a bucket with Object Lock default retention or
// Requester Pays: such a mapped log bucket is refused by name.
func TestLoggingUnusableLogBucket(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(f *fixture, b Bucket)
		want  string
	}{
		{"object-lock", func(f *fixture, b Bucket) {
			f.createBucket(b, true)
			_, err := f.dst().PutObjectLockConfiguration(f.ctx, &s3.PutObjectLockConfigurationInput{Bucket: &b.Name,
				ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled,
					Rule: &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(1)}}}})
			f.must(err)
		}, "Object Lock default retention"},
		{"requester-pays", func(f *fixture, b Bucket) {
			f.createBucket(b, false)
			_, err := f.dst().PutBucketRequestPayment(f.ctx, &s3.PutBucketRequestPaymentInput{Bucket: &b.Name,
				RequestPaymentConfiguration: &types.RequestPaymentConfiguration{Payer: types.PayerRequester}})
			f.must(err)
		}, "Requester Pays"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			target := Bucket{Name: uniqueBucket(t, "logs"), Region: srcRegion}
			f.createBucket(target, false)
			f.grantSourceLogDelivery(target, "")
			mapped := Bucket{Name: uniqueBucket(t, "mapped"), Region: dstRegion}
			tc.setup(f, mapped)
			f.grantSourceLogDelivery(mapped, "")
			f.engine = New(f.clients, Options{AccountID: localcloud.AccountID, Buckets: map[string]string{target.Name: mapped.Name}})
			f.putLogging(f.m.Source, &types.LoggingEnabled{TargetBucket: &target.Name, TargetPrefix: aws.String("")})
			r := f.failedResult("logging")
			if !strings.Contains(r.Error, mapped.Name) || !strings.Contains(r.Error, tc.want) {
				t.Errorf("error = %s, want one naming %s and %q", r.Error, mapped.Name, tc.want)
			}
			// S3 accepts such a target (it grants delivery), so the write
			// went out before the verdict: it must have been taken back.
			if le := f.destLogging(); le != nil {
				t.Errorf("destination logs into %s despite the refusal", aws.ToString(le.TargetBucket))
			}
		})
	}
}

var validBucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

func TestLoggingLogBucketName(t *testing.T) {
	// Every log bucket starts with the name prefix, so the template's
	// "<prefix>*" write grant covers it and nothing else.
	if got := logBucketName("dest-", "my-logs", "", "eu-central-1"); got != "dest-logs-2b23cd4c-eu-central-1" {
		t.Errorf("log bucket name = %q, want dest-logs-<first 8 hex of sha256(my-logs)>-eu-central-1", got)
	}
	long := strings.Repeat("a", 45) + "-.b" + strings.Repeat("c", 15) // 63 characters
	other := long[:62] + "d"
	prefix := strings.Repeat("p", MaxNamePrefix-1) + "-"
	n1, n2 := logBucketName(prefix, long, "", "ap-southeast-2"), logBucketName(prefix, other, "", "ap-southeast-2")
	for _, n := range []string{n1, n2} {
		if len(n) > 63 || !validBucketName.MatchString(n) || strings.Contains(n, ".-") || strings.Contains(n, "-.") ||
			!strings.HasPrefix(n, prefix+"logs-") || !strings.HasSuffix(n, "-ap-southeast-2") {
			t.Errorf("log bucket name %q is not a valid bucket name of 63 characters at most, %q + logs- ... + Region", n, prefix)
		}
	}
	if n1 == n2 {
		t.Errorf("two targets share the log bucket %q", n1)
	}
	if logBucketName(prefix, long, "", "ap-southeast-2") != n1 {
		t.Error("log bucket name is not deterministic")
	}
	// The longest Region code with the longest prefix still fits.
	longest := ""
	for _, r := range []string{"ap-southeast-7", "us-gov-west-1", "cn-northwest-1"} {
		if len(r) > len(longest) {
			longest = r
		}
	}
	if n := logBucketName(strings.Repeat("p", MaxNamePrefix), long, "", longest); len(n) > 63 {
		t.Errorf("with a %d-character prefix the log bucket name %q is %d characters", MaxNamePrefix, n, len(n))
	}
}

func loggingString(le *types.LoggingEnabled) string {
	if le == nil {
		return "off"
	}
	return fmt.Sprintf("into %s under %q", aws.ToString(le.TargetBucket), aws.ToString(le.TargetPrefix))
}
