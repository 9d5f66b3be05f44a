package bucketconfig

import (
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func inventoryConfig(id, bucketARN string) types.InventoryConfiguration {
	return types.InventoryConfiguration{
		Id: aws.String(id), IsEnabled: aws.Bool(true), IncludedObjectVersions: types.InventoryIncludedObjectVersionsCurrent,
		Schedule: &types.InventorySchedule{Frequency: types.InventoryFrequencyDaily},
		Destination: &types.InventoryDestination{S3BucketDestination: &types.InventoryS3BucketDestination{
			Bucket: aws.String(bucketARN), Format: types.InventoryFormatCsv, AccountId: aws.String("123456789012"), Prefix: aws.String("inventory/")}},
	}
}

func (f *fixture) putInventory(c types.InventoryConfiguration) {
	f.t.Helper()
	_, err := f.src().PutBucketInventoryConfiguration(f.ctx, &s3.PutBucketInventoryConfigurationInput{Bucket: &f.m.Source.Name, Id: c.Id, InventoryConfiguration: &c})
	f.must(err)
}

func (f *fixture) destInventory() map[string]types.InventoryConfiguration {
	f.t.Helper()
	out, err := f.dst().ListBucketInventoryConfigurations(f.ctx, &s3.ListBucketInventoryConfigurationsInput{Bucket: &f.m.Dest.Name})
	f.must(err)
	got := map[string]types.InventoryConfiguration{}
	for _, c := range out.InventoryConfigurationList {
		got[aws.ToString(c.Id)] = c
	}
	return got
}

// TestInventory also covers the rewrite of a report into the source bucket
// itself: it goes into the destination bucket.
func TestInventory(t *testing.T) {
	f := newFixture(t)
	weekly := inventoryConfig("weekly-all", f.m.Source.ARN())
	weekly.IncludedObjectVersions = types.InventoryIncludedObjectVersionsAll
	weekly.Schedule.Frequency = types.InventoryFrequencyWeekly
	weekly.IsEnabled = aws.Bool(false)
	weekly.Filter = &types.InventoryFilter{Prefix: aws.String("docs/")}
	weekly.OptionalFields = []types.InventoryOptionalField{types.InventoryOptionalFieldStorageClass, types.InventoryOptionalFieldSize, types.InventoryOptionalFieldETag}
	weekly.Destination.S3BucketDestination.Format = types.InventoryFormatParquet
	weekly.Destination.S3BucketDestination.Encryption = &types.InventoryEncryption{SSES3: &types.SSES3{}}
	configs := []types.InventoryConfiguration{inventoryConfig("daily", f.m.Source.ARN()), weekly}
	f.roundTrip("inventory",
		func() {
			for _, c := range configs {
				f.putInventory(c)
			}
		},
		func() {
			for _, c := range configs {
				_, err := f.src().DeleteBucketInventoryConfiguration(f.ctx, &s3.DeleteBucketInventoryConfigurationInput{Bucket: &f.m.Source.Name, Id: c.Id})
				f.must(err)
			}
		},
		func() {
			got := f.destInventory()
			if len(got) != 2 {
				t.Fatalf("destination has %d inventory configurations, want 2: %+v", len(got), got)
			}
			for id, c := range got {
				if b := aws.ToString(c.Destination.S3BucketDestination.Bucket); b != f.m.Dest.ARN() {
					t.Errorf("%s reports to %q, want the destination bucket %q", id, b, f.m.Dest.ARN())
				}
			}
			daily, w := got["daily"], got["weekly-all"]
			if !aws.ToBool(daily.IsEnabled) || daily.IncludedObjectVersions != types.InventoryIncludedObjectVersionsCurrent ||
				daily.Schedule.Frequency != types.InventoryFrequencyDaily || daily.Destination.S3BucketDestination.Format != types.InventoryFormatCsv ||
				aws.ToString(daily.Destination.S3BucketDestination.Prefix) != "inventory/" || aws.ToString(daily.Destination.S3BucketDestination.AccountId) != "123456789012" {
				t.Errorf("daily = %+v", daily)
			}
			fields := slices.Clone(w.OptionalFields)
			slices.Sort(fields)
			if aws.ToBool(w.IsEnabled) || w.IncludedObjectVersions != types.InventoryIncludedObjectVersionsAll ||
				w.Schedule.Frequency != types.InventoryFrequencyWeekly || w.Filter == nil || aws.ToString(w.Filter.Prefix) != "docs/" ||
				!slices.Equal(fields, []types.InventoryOptionalField{types.InventoryOptionalFieldETag, types.InventoryOptionalFieldSize, types.InventoryOptionalFieldStorageClass}) ||
				w.Destination.S3BucketDestination.Format != types.InventoryFormatParquet ||
				w.Destination.S3BucketDestination.Encryption == nil || w.Destination.S3BucketDestination.Encryption.SSES3 == nil {
				t.Errorf("weekly-all = %+v (destination %+v)", w, w.Destination.S3BucketDestination)
			}
		})
}

// TestInventoryNotCopied: a report into a bucket of the source Region, or
// encrypted with a key of the source Region, is reported unless mapped.
func TestInventoryNotCopied(t *testing.T) {
	srcKey := "arn:aws:kms:us-east-1:123456789012:key/1111aaaa-2222-3333-4444-555566667777"
	dstKey := "arn:aws:kms:us-west-2:123456789012:key/9999ffff-2222-3333-4444-555566667777"
	unmappedKey := "arn:aws:kms:us-east-1:123456789012:key/0000eeee-2222-3333-4444-555566667777"
	f := newFixture(t, func(o *Options) {
		o.Buckets = map[string]string{"reports-east": "reports-west"}
		o.KMSKeys = map[string]string{srcKey: dstKey}
	})
	withKey := func(c types.InventoryConfiguration, key string) types.InventoryConfiguration {
		c.Destination.S3BucketDestination.Encryption = &types.InventoryEncryption{SSEKMS: &types.SSEKMS{KeyId: aws.String(key)}}
		return c
	}
	f.putInventory(inventoryConfig("foreign", "arn:aws:s3:::reports-elsewhere"))
	f.putInventory(withKey(inventoryConfig("mapped", "arn:aws:s3:::reports-east"), srcKey))
	f.putInventory(withKey(inventoryConfig("unmapped-key", f.m.Source.ARN()), unmappedKey))
	r := f.configure("inventory")
	if r.Status != StatusApplied {
		t.Fatalf("inventory is %s (%s), want applied", r.Status, r.Error)
	}
	if _, ok := noteMentioning(r, `"foreign"`, "arn:aws:s3:::reports-elsewhere"); !ok {
		t.Errorf("no note for the foreign report bucket: %+v", r.Notes)
	}
	if _, ok := noteMentioning(r, `"unmapped-key"`, unmappedKey); !ok {
		t.Errorf("no note for the unmapped KMS key: %+v", r.Notes)
	}
	got := f.destInventory()
	if len(got) != 1 {
		t.Fatalf("destination = %+v, want only the mapped configuration", got)
	}
	dest := got["mapped"].Destination.S3BucketDestination
	if aws.ToString(dest.Bucket) != "arn:aws:s3:::reports-west" || dest.Encryption == nil || dest.Encryption.SSEKMS == nil ||
		aws.ToString(dest.Encryption.SSEKMS.KeyId) != dstKey {
		t.Errorf("mapped destination = %+v", dest)
	}
}
