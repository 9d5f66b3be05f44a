package bucketconfig

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

var inventoryList = &idList[types.InventoryConfiguration]{
	kind: "inventory",
	page: func(ctx context.Context, c *s3.Client, bucket string, token *string) ([]types.InventoryConfiguration, bool, *string, error) {
		out, err := c.ListBucketInventoryConfigurations(ctx, &s3.ListBucketInventoryConfigurationsInput{Bucket: &bucket, ContinuationToken: token})
		if err != nil {
			return nil, false, nil, err
		}
		items := out.InventoryConfigurationList
		for i := range items {
			// The optional fields are a set; S3 returns them as written.
			items[i].OptionalFields = slices.Clone(items[i].OptionalFields)
			slices.Sort(items[i].OptionalFields)
		}
		return items, aws.ToBool(out.IsTruncated), out.NextContinuationToken, nil
	},
	putOne: func(ctx context.Context, c *s3.Client, bucket string, v types.InventoryConfiguration) error {
		_, err := c.PutBucketInventoryConfiguration(ctx, &s3.PutBucketInventoryConfigurationInput{Bucket: &bucket, Id: v.Id,
			InventoryConfiguration: &v})
		return err
	},
	delOne: func(ctx context.Context, c *s3.Client, bucket, id string) error {
		_, err := c.DeleteBucketInventoryConfiguration(ctx, &s3.DeleteBucketInventoryConfigurationInput{Bucket: &bucket, Id: &id})
		return err
	},
	id: func(v types.InventoryConfiguration) string { return aws.ToString(v.Id) },
}

// inventoryKind copies the inventory configurations. The report must go to
// a bucket in the destination's Region: reports into the source bucket itself
// go to the destination bucket, reports into another bucket to its
// counterpart from Options.Buckets, and an SSE-KMS key to the key
// Options.KMSKeys maps it to; a configuration left without either is not
// copied and is reported.
var inventoryKind = &spec[[]types.InventoryConfiguration]{
	name:         "inventory",
	readActions:  []string{"s3:GetInventoryConfiguration"}, // also authorises the List call
	writeActions: []string{"s3:PutInventoryConfiguration"}, // also authorises the Delete call
	get:          inventoryList.get,
	put:          inventoryList.put,
	del:          inventoryList.del,
	xform: func(_ context.Context, e *Engine, m Mirror, v *[]types.InventoryConfiguration) (*[]types.InventoryConfiguration, []Note, error) {
		if v == nil {
			return nil, nil, nil
		}
		var out []types.InventoryConfiguration
		var notes []Note
		for _, cfg := range *v {
			mapped, note := inventoryForDest(e, m, cfg)
			if note != "" {
				notes = append(notes, Note{Severity: SeverityNotCopied, Message: note})
				continue
			}
			if d := mapped.Destination; d != nil && d.S3BucketDestination != nil {
				var owner []Note
				d.S3BucketDestination.AccountId, owner = exportOwner(e, m, d.S3BucketDestination.AccountId,
					fmt.Sprintf("inventory configuration %q", aws.ToString(mapped.Id)))
				notes = append(notes, owner...)
			}
			out = append(out, mapped)
		}
		if len(out) == 0 {
			return nil, notes, nil
		}
		return &out, notes, nil
	},
}

// inventoryForDest returns cfg reporting into the destination's Region, or
// why it cannot.
func inventoryForDest(e *Engine, m Mirror, cfg types.InventoryConfiguration) (types.InventoryConfiguration, string) {
	id := aws.ToString(cfg.Id)
	if cfg.Destination == nil || cfg.Destination.S3BucketDestination == nil {
		return cfg, ""
	}
	dest := *cfg.Destination.S3BucketDestination
	from := aws.ToString(dest.Bucket)
	to, ok := exportBucketARN(e, m, from)
	if !ok {
		return cfg, fmt.Sprintf("inventory configuration %q reports to %s, which is not in %s; map it to a bucket there (Options.Buckets) to copy it",
			id, from, m.Dest.Region)
	}
	dest.Bucket = aws.String(to)
	if enc := dest.Encryption; enc != nil && enc.SSEKMS != nil {
		key := aws.ToString(enc.SSEKMS.KeyId)
		mappedKey, ok := e.opts.KMSKeys[key]
		if !ok && kmsKeyRegion(key) == m.Dest.Region {
			mappedKey, ok = key, true
		}
		if !ok {
			return cfg, fmt.Sprintf("inventory configuration %q encrypts its reports with KMS key %s, which is not in %s; map it to a key there (Options.KMSKeys) to copy it",
				id, key, m.Dest.Region)
		}
		dest.Encryption = &types.InventoryEncryption{SSEKMS: &types.SSEKMS{KeyId: aws.String(mappedKey)}}
	}
	cfg.Destination = &types.InventoryDestination{S3BucketDestination: &dest}
	return cfg, ""
}

// kmsKeyRegion is the Region of a KMS key ARN (arn:aws:kms:REGION:...), or ""
// for anything else.
func kmsKeyRegion(key string) string {
	parts := strings.SplitN(key, ":", 5)
	if len(parts) < 5 || parts[0] != "arn" || parts[2] != "kms" {
		return ""
	}
	return parts[3]
}
