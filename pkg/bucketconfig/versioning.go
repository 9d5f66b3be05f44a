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
		out, err := e.s3(b).GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &b.Name})
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
		_, err := e.s3(b).PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &b.Name,
			VersioningConfiguration: &types.VersioningConfiguration{Status: v.Status}})
		return leftToMFA(ctx, e, b, v.Status, err)
	},
	del: func(ctx context.Context, e *Engine, b Bucket) error {
		_, err := e.s3(b).PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &b.Name,
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}})
		return leftToMFA(ctx, e, b, types.BucketVersioningStatusSuspended, err)
	},
	xform: func(ctx context.Context, e *Engine, m Mirror, v *versioning) (*versioning, []Note, error) {
		if v == nil {
			return nil, nil, nil
		}
		var notes []Note
		if v.MFADelete {
			note := Note{Severity: SeverityManual,
				Message: fmt.Sprintf("the source has MFA delete enabled; S3 lets only the root user with its MFA device enable it, "+
					"so run this command as the root user of the account, with SERIAL the MFA device's serial number or ARN "+
					"and CODE its current code, against bucket %q in %s", m.Dest.Name, m.Dest.Region),
				Command: mfaCommand(m.Dest, types.BucketVersioningStatusEnabled)}
			// S3 refuses MFA delete on a bucket with lifecycle rules
			// (InvalidBucketState), and the source's rules are copied to
			// the destination: the command would fail there.
			lc, err := e.s3(m.Source).GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: &m.Source.Name})
			switch {
			case err == nil && len(lc.Rules) > 0:
				note.Message = fmt.Sprintf("the source has MFA delete enabled, but bucket %q in %s gets the source's lifecycle rules, "+
					"and S3 refuses MFA delete on a bucket with lifecycle rules (InvalidBucketState): remove the lifecycle rules "+
					"from the source (bucketmirror then removes them from the destination) before the root user runs this command "+
					"with its MFA device (SERIAL CODE), or keep the rules without MFA delete", m.Dest.Name, m.Dest.Region)
			case err != nil && !isNotFound(err, codeNoSuchLifecycle):
				return nil, nil, fmt.Errorf("reading the source's lifecycle rules, which decide whether MFA delete can be enabled on the destination: %w", err)
			}
			notes = append(notes, note)
		}
		return &versioning{Status: v.Status}, notes, nil
	},
}

// mfaCommand is the CLI call that sets dest's versioning to status with MFA
// delete on; only the root user with its MFA device can run it.
func mfaCommand(dest Bucket, status types.BucketVersioningStatus) string {
	return fmt.Sprintf(`aws s3api put-bucket-versioning --region %s --bucket %s --versioning-configuration Status=%s,MFADelete=Enabled --mfa "SERIAL CODE"`,
		dest.Region, dest.Name, status)
}

// leftToMFA turns S3's refusal of a versioning write on a bucket where a
// human enabled MFA delete into a manual step: without the root user's MFA
// device S3 answers every such write AccessDenied, and failing the run
// would fail every reconcile of the mirror from then on.
func leftToMFA(ctx context.Context, e *Engine, b Bucket, status types.BucketVersioningStatus, err error) error {
	if Classify(err) != ClassDenied {
		return err
	}
	out, gerr := e.s3(b).GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &b.Name})
	if gerr != nil || out.MFADelete != types.MFADeleteStatusEnabled {
		return err
	}
	return &ManualStepError{Note: Note{Severity: SeverityManual, Command: mfaCommand(b, status), Message: fmt.Sprintf(
		"bucket %q in %s has MFA delete enabled, so S3 lets only the root user with its MFA device change its versioning "+
			"(it answered %s); bucketmirror leaves it as it is: to make it %s like the source, run this command as the root user, "+
			"with SERIAL the MFA device's serial number or ARN and CODE its current code", b.Name, b.Region, ErrorCode(err), status)}}
}
