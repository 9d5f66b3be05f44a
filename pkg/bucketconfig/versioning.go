package bucketconfig

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// versioning is a bucket's versioning state. Only Status takes part in the
// diff: MFA delete can be turned on only by the root user with its MFA device,
// so bucketmirror never writes it, and a destination on which a human has
// turned it on must not look different from the source (a rewrite without the
// x-amz-mfa header would be refused there).
type versioning struct {
	Status types.BucketVersioningStatus `json:"Status"`
	// MFADelete is read to report it, never compared or written.
	MFADelete bool `json:"-"`
}

// versioningKind copies the versioning status. A bucket can never go back to
// "never versioned", only to Suspended, so Suspended reads as absent (that is
// what del leaves) and only Enabled is a value; a source with MFA delete gets
// a manual note with the command a human must run on the destination.
var versioningKind = &spec[versioning]{
	name:         "versioning",
	readActions:  []string{"s3:GetBucketVersioning"},
	writeActions: []string{"s3:PutBucketVersioning"},
	get: func(ctx context.Context, e *Engine, b Bucket) (*versioning, error) {
		out, err := e.clients.S3(b.Region).GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &b.Name})
		if err != nil {
			return nil, err
		}
		// Suspended reads as absent even with MFA delete on: a destination a
		// human suspended with MFA delete would otherwise differ forever from
		// a source read as absent, and only the root user could change it.
		// So MFA delete on a suspended source goes unreported.
		if out.Status != types.BucketVersioningStatusEnabled {
			return nil, nil
		}
		return &versioning{Status: out.Status, MFADelete: out.MFADelete == types.MFADeleteStatusEnabled}, nil
	},
	put: func(ctx context.Context, e *Engine, b Bucket, v *versioning) error {
		_, err := e.clients.S3(b.Region).PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &b.Name,
			VersioningConfiguration: &types.VersioningConfiguration{Status: v.Status}})
		return err
	},
	del: func(ctx context.Context, e *Engine, b Bucket) error {
		_, err := e.clients.S3(b.Region).PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &b.Name,
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}})
		return err
	},
	xform: func(_ context.Context, _ *Engine, m Mirror, v *versioning) (*versioning, []Note, error) {
		if v == nil {
			return nil, nil, nil
		}
		var notes []Note
		if v.MFADelete {
			notes = append(notes, Note{Severity: SeverityManual,
				Message: fmt.Sprintf("the source has MFA delete enabled; S3 lets only the root user with its MFA device enable it, "+
					"so run this command as the root user of the account, with SERIAL the MFA device's serial number or ARN "+
					"and CODE its current code, against bucket %q in %s", m.Dest.Name, m.Dest.Region),
				Command: fmt.Sprintf(`aws s3api put-bucket-versioning --bucket %s --versioning-configuration Status=Enabled,MFADelete=Enabled --mfa "SERIAL CODE"`, m.Dest.Name)})
		}
		return &versioning{Status: v.Status}, notes, nil
	},
}
