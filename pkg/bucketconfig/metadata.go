package bucketconfig

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// metadataConfig is what matters of an S3 Metadata configuration: where its
// tables live and how they are set up. Table status and ARNs are left out:
// they change as S3 builds the tables, not when the configuration changes.
type metadataConfig struct {
	// Legacy is a V1 configuration (CreateBucketMetadataTableConfiguration,
	// a journal table in a table bucket of the customer's).
	Legacy                  bool                              `json:",omitempty"`
	TableBucketArn          string                            `json:",omitempty"`
	TableBucketType         types.S3TablesBucketType          `json:",omitempty"`
	TableNamespace          string                            `json:",omitempty"`
	JournalTableName        string                            `json:",omitempty"`
	JournalRecordExpiration *types.RecordExpiration           `json:",omitempty"`
	InventoryTableState     types.InventoryConfigurationState `json:",omitempty"`
}

// metadataKind only reports S3 Metadata: its tables are S3 Tables in the
// bucket's own Region, which bucketmirror does not create.
var metadataKind = &spec[metadataConfig]{
	name: "metadata",
	// The same IAM action authorises the V2 and the V1 (legacy) Get.
	readActions:  []string{"s3:GetBucketMetadataTableConfiguration"},
	writeActions: []string{},
	get: func(ctx context.Context, e *Engine, b Bucket) (*metadataConfig, error) {
		client := e.s3(b)
		// Trust V2: GetBucketMetadataConfiguration answers for V1
		// configurations too (API Reference), and on real S3 the V1 Get
		// of a bucket without one answers V1APIsNotAllowed, not a
		// not-found. V1 is asked only where V2 is not offered.
		out, err := client.GetBucketMetadataConfiguration(ctx, &s3.GetBucketMetadataConfigurationInput{Bucket: &b.Name})
		switch {
		case err == nil:
			if out.GetBucketMetadataConfigurationResult == nil || out.GetBucketMetadataConfigurationResult.MetadataConfigurationResult == nil {
				return nil, nil
			}
			return metadataFromV2(out.GetBucketMetadataConfigurationResult.MetadataConfigurationResult), nil
		case isNotFound(err, codeNoSuchMetadataConfiguration):
			return nil, nil
		case !isUnavailable(err):
			return nil, err
		}
		legacy, legacyErr := client.GetBucketMetadataTableConfiguration(ctx, &s3.GetBucketMetadataTableConfigurationInput{Bucket: &b.Name})
		if isNotFound(legacyErr, codeNoSuchMetadataTable, codeV1APIsNotAllowed) {
			return nil, nil
		}
		if isUnavailable(legacyErr) {
			return nil, err // neither API here: the V2 answer says so
		}
		if legacyErr != nil {
			return nil, legacyErr
		}
		res := legacy.GetBucketMetadataTableConfigurationResult
		if res == nil || res.MetadataTableConfigurationResult == nil || res.MetadataTableConfigurationResult.S3TablesDestinationResult == nil {
			return nil, nil
		}
		dest := res.MetadataTableConfigurationResult.S3TablesDestinationResult
		return &metadataConfig{Legacy: true, TableBucketArn: aws.ToString(dest.TableBucketArn),
			TableNamespace: aws.ToString(dest.TableNamespace), JournalTableName: aws.ToString(dest.TableName)}, nil
	},
	isManaged: func(*Engine) bool { return false },
	xform: func(_ context.Context, e *Engine, m Mirror, v *metadataConfig) (*metadataConfig, []Note, error) {
		if v == nil {
			return nil, nil, nil
		}
		there := "there"
		if dst := e.accountOf(m.Dest); dst != e.accountOf(m.Source) {
			// The command runs with the destination account's credentials.
			there = "there, in account " + dst
		}
		return nil, []Note{{Severity: SeverityNotCopied, Message: fmt.Sprintf(
			"S3 Metadata is not copied: %s writes its metadata tables to table bucket %s; it needs S3 Tables in %s, so configure it on %s %s",
			m.Source.Name, v.TableBucketArn, m.Dest.Region, m.Dest.Name, there),
			Command: metadataCommand(m.Dest, v)}}, nil
	},
}

func metadataFromV2(r *types.MetadataConfigurationResult) *metadataConfig {
	cfg := &metadataConfig{}
	if d := r.DestinationResult; d != nil {
		cfg.TableBucketArn, cfg.TableBucketType, cfg.TableNamespace = aws.ToString(d.TableBucketArn), d.TableBucketType, aws.ToString(d.TableNamespace)
	}
	if j := r.JournalTableConfigurationResult; j != nil {
		cfg.JournalTableName = aws.ToString(j.TableName)
		if j.RecordExpiration != nil {
			cfg.JournalRecordExpiration = &types.RecordExpiration{Expiration: j.RecordExpiration.Expiration, Days: j.RecordExpiration.Days}
		}
	}
	if inv := r.InventoryTableConfigurationResult; inv != nil {
		cfg.InventoryTableState = inv.ConfigurationState
	}
	return cfg
}

// metadataCommand is the CLI call that sets up the same journal (and
// inventory) tables on dest with the V2 API, in the AWS managed table bucket
// of dest's Region.
func metadataCommand(dest Bucket, v *metadataConfig) string {
	expiration := map[string]any{"Expiration": types.ExpirationStateDisabled}
	if r := v.JournalRecordExpiration; r != nil && r.Expiration != "" {
		expiration = map[string]any{"Expiration": r.Expiration}
		if r.Days != nil {
			expiration["Days"] = *r.Days
		}
	}
	doc := map[string]any{"JournalTableConfiguration": map[string]any{"RecordExpiration": expiration}}
	if v.InventoryTableState != "" {
		doc["InventoryTableConfiguration"] = map[string]any{"ConfigurationState": v.InventoryTableState}
	}
	raw, _ := json.Marshal(doc) // maps of strings and numbers always marshal
	return fmt.Sprintf("aws s3api create-bucket-metadata-configuration --region %s --bucket %s --metadata-configuration '%s'", dest.Region, dest.Name, raw)
}
