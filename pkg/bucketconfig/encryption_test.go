package bucketconfig

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// createKMSKey makes a symmetric key in region, with alias (if not empty),
// and returns its ARN and id.
func (f *fixture) createKMSKey(region, alias string) (arn, id string) {
	f.t.Helper()
	client := f.clients.KMS(region)
	out, err := client.CreateKey(f.ctx, &kms.CreateKeyInput{Description: aws.String(f.t.Name())})
	f.must(err)
	if alias != "" {
		_, err = client.CreateAlias(f.ctx, &kms.CreateAliasInput{AliasName: &alias, TargetKeyId: out.KeyMetadata.KeyId})
		f.must(err)
	}
	return aws.ToString(out.KeyMetadata.Arn), aws.ToString(out.KeyMetadata.KeyId)
}

// uniqueAlias is alias/NAME-<unique>: aliases are per account and Region,
// and the local cloud is shared by every test of the run.
func uniqueAlias(t *testing.T, name string) string {
	return "alias/" + name + "-" + uniqueBucket(t, "key")
}

func (f *fixture) putEncryption(b Bucket, rule types.ServerSideEncryptionRule) {
	f.t.Helper()
	_, err := f.clients.S3(b.Region).PutBucketEncryption(f.ctx, &s3.PutBucketEncryptionInput{Bucket: &b.Name,
		ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{rule}}})
	f.must(err)
}

func (f *fixture) deleteEncryption(b Bucket) {
	f.t.Helper()
	_, err := f.clients.S3(b.Region).DeleteBucketEncryption(f.ctx, &s3.DeleteBucketEncryptionInput{Bucket: &b.Name})
	f.must(err)
}

func (f *fixture) readEncryption(b Bucket) types.ServerSideEncryptionRule {
	f.t.Helper()
	out, err := f.clients.S3(b.Region).GetBucketEncryption(f.ctx, &s3.GetBucketEncryptionInput{Bucket: &b.Name})
	f.must(err)
	rules := out.ServerSideEncryptionConfiguration.Rules
	if len(rules) != 1 || rules[0].ApplyServerSideEncryptionByDefault == nil {
		f.t.Fatalf("encryption of %s = %+v, want one default rule", b, rules)
	}
	return rules[0]
}

func kmsRule(algorithm types.ServerSideEncryption, key string, bucketKey bool) types.ServerSideEncryptionRule {
	d := &types.ServerSideEncryptionByDefault{SSEAlgorithm: algorithm}
	if key != "" {
		d.KMSMasterKeyID = aws.String(key)
	}
	return types.ServerSideEncryptionRule{ApplyServerSideEncryptionByDefault: d, BucketKeyEnabled: aws.Bool(bucketKey)}
}

func TestEncryptionSSES3(t *testing.T) {
	f := newFixture(t)
	f.roundTrip("encryption",
		func() { f.putEncryption(f.m.Source, kmsRule(types.ServerSideEncryptionAes256, "", false)) },
		func() { f.deleteEncryption(f.m.Source) },
		func() {
			r := f.readEncryption(f.m.Dest)
			if d := r.ApplyServerSideEncryptionByDefault; d.SSEAlgorithm != types.ServerSideEncryptionAes256 || d.KMSMasterKeyID != nil ||
				aws.ToBool(r.BucketKeyEnabled) {
				t.Errorf("destination encryption = %s key %v bucket key %v, want AES256", d.SSEAlgorithm, aws.ToString(d.KMSMasterKeyID), aws.ToBool(r.BucketKeyEnabled))
			}
		})
}

func TestEncryptionKMSSameAlias(t *testing.T) {
	f := newFixture(t)
	alias := uniqueAlias(t, "app-data")
	srcARN, srcID := f.createKMSKey(srcRegion, alias)
	dstARN, _ := f.createKMSKey(dstRegion, alias)
	if !strings.Contains(dstARN, ":"+dstRegion+":") {
		t.Fatalf("destination key ARN %s is not in %s", dstARN, dstRegion)
	}

	f.roundTrip("encryption",
		func() { f.putEncryption(f.m.Source, kmsRule(types.ServerSideEncryptionAwsKms, srcARN, true)) },
		func() { f.deleteEncryption(f.m.Source) },
		func() {
			r := f.readEncryption(f.m.Dest)
			if d := r.ApplyServerSideEncryptionByDefault; d.SSEAlgorithm != types.ServerSideEncryptionAwsKms ||
				aws.ToString(d.KMSMasterKeyID) != dstARN || !aws.ToBool(r.BucketKeyEnabled) {
				t.Errorf("destination encryption = %s key %s bucket key %v, want aws:kms key %s with bucket key",
					d.SSEAlgorithm, aws.ToString(d.KMSMasterKeyID), aws.ToBool(r.BucketKeyEnabled), dstARN)
			}
		})

	// Every way of naming the source key leads to the same destination key,
	// DSSE-KMS included.
	aliasARN := strings.Replace(srcARN, "key/"+srcID, alias, 1)
	for _, key := range []string{srcID, alias, aliasARN} {
		f.putEncryption(f.m.Source, kmsRule(types.ServerSideEncryptionAwsKmsDsse, key, false))
		f.deleteEncryption(f.m.Dest)
		if r := f.configure("encryption"); r.Status != StatusApplied {
			t.Fatalf("source key %s: %s (%s), want applied", key, r.Status, r.Error)
		}
		r := f.readEncryption(f.m.Dest)
		if d := r.ApplyServerSideEncryptionByDefault; d.SSEAlgorithm != types.ServerSideEncryptionAwsKmsDsse || aws.ToString(d.KMSMasterKeyID) != dstARN {
			t.Errorf("source key %s: destination encryption = %s key %s, want aws:kms:dsse key %s", key, d.SSEAlgorithm, aws.ToString(d.KMSMasterKeyID), dstARN)
		}
		if s := f.planAction("encryption"); s.Action != ActionNone {
			t.Errorf("source key %s: plan after configure is %s, want none", key, s.Action)
		}
	}
}

func TestEncryptionAWSManagedKeyKept(t *testing.T) {
	f := newFixture(t)
	for _, key := range []string{"", "alias/aws/s3"} {
		f.putEncryption(f.m.Source, kmsRule(types.ServerSideEncryptionAwsKms, key, false))
		if r := f.configure("encryption"); r.Status != StatusApplied {
			t.Fatalf("source key %q: %s (%s), want applied", key, r.Status, r.Error)
		}
		if d := f.readEncryption(f.m.Dest).ApplyServerSideEncryptionByDefault; d.SSEAlgorithm != types.ServerSideEncryptionAwsKms || aws.ToString(d.KMSMasterKeyID) != key {
			t.Errorf("source key %q: destination encryption = %s key %q, want it kept", key, d.SSEAlgorithm, aws.ToString(d.KMSMasterKeyID))
		}
	}
}

func TestEncryptionKMSWithoutCounterpart(t *testing.T) {
	f := newFixture(t)
	lonely, _ := f.createKMSKey(srcRegion, uniqueAlias(t, "only-here"))
	noAlias, _ := f.createKMSKey(srcRegion, "")
	f.putVersioning(f.m.Source, types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}, "")

	for _, key := range []string{lonely, noAlias} {
		f.putEncryption(f.m.Source, kmsRule(types.ServerSideEncryptionAwsKms, key, false))
		_, results, err := f.engine.Configure(f.ctx, f.m)
		f.must(err)
		for _, r := range results {
			switch r.Kind {
			case "encryption":
				if r.Status != StatusFailed || !strings.Contains(r.Error, key) || !strings.Contains(r.Error, dstRegion) {
					t.Errorf("source key %s: encryption %s (%s), want failed naming the key and %s", key, r.Status, r.Error, dstRegion)
				}
			case "versioning":
				if r.Status != StatusApplied && r.Status != StatusUnchanged {
					t.Errorf("source key %s: versioning %s (%s), want it applied all the same", key, r.Status, r.Error)
				}
			}
		}
	}
	if got := f.readVersioning(f.m.Dest).Status; got != types.BucketVersioningStatusEnabled {
		t.Errorf("destination versioning = %q: other kinds were not applied", got)
	}
	_, err := f.dst().GetBucketEncryption(f.ctx, &s3.GetBucketEncryptionInput{Bucket: &f.m.Dest.Name})
	if ErrorCode(err) != codeNoSuchEncryption {
		t.Errorf("destination encryption read: %v, want none written", err)
	}
}

func TestEncryptionKMSKeysOption(t *testing.T) {
	mapped := map[string]string{}
	f := newFixture(t, func(o *Options) { o.KMSKeys = mapped })
	srcARN, srcID := f.createKMSKey(srcRegion, "")
	dstARN, _ := f.createKMSKey(dstRegion, "")
	f.putEncryption(f.m.Source, kmsRule(types.ServerSideEncryptionAwsKms, srcARN, false))

	// Mapped by key id, while the source names the key by ARN.
	mapped[srcID] = dstARN
	if r := f.configure("encryption"); r.Status != StatusApplied {
		t.Fatalf("explicit mapping: %s (%s), want applied", r.Status, r.Error)
	}
	if got := aws.ToString(f.readEncryption(f.m.Dest).ApplyServerSideEncryptionByDefault.KMSMasterKeyID); got != dstARN {
		t.Errorf("destination key = %s, want the mapped %s", got, dstARN)
	}

	for value, want := range map[string]string{
		"not-a-key": `"not-a-key", which is not a KMS key ARN, alias or key id`,
		srcARN:      "not in the destination Region " + dstRegion,
	} {
		mapped[srcID] = value
		_, results, err := f.engine.Configure(f.ctx, f.m)
		f.must(err)
		for _, r := range results {
			if r.Kind == "encryption" && (r.Status != StatusFailed || !strings.Contains(r.Error, want) || !strings.Contains(r.Error, srcID)) {
				t.Errorf("mapping to %q: encryption %s (%s), want failed with %q", value, r.Status, r.Error, want)
			}
		}
	}
}

func TestEncryptionCanonical(t *testing.T) {
	got := canonicalEncryption(&types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{{
		ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAes256, KMSMasterKeyID: aws.String("")},
		BucketKeyEnabled:                   aws.Bool(false),
		BlockedEncryptionTypes:             &types.BlockedEncryptionTypes{EncryptionType: []types.EncryptionType{"SSE-C", "NONE"}},
	}}})
	raw, err := canonical(got)
	f := `{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256","KMSMasterKeyID":null},"BlockedEncryptionTypes":{"EncryptionType":["NONE","SSE-C"]},"BucketKeyEnabled":null}]}`
	if err != nil || string(raw) != f {
		t.Errorf("canonical encryption = %s (%v), want %s", raw, err, f)
	}
	if canonicalEncryption(&types.ServerSideEncryptionConfiguration{}) != nil {
		t.Error("a configuration without rules is not absent")
	}
}
