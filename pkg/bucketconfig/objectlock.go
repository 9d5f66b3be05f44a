package bucketconfig

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// objectLockKind copies the Object Lock default retention rule.
//
// Object Lock itself can never be turned off, so "absent" has to be a state
// that del can reach on any bucket: a bucket with Object Lock enabled but no
// default retention reads the same as a bucket without Object Lock (nil), and
// del removes the rule by writing ObjectLockEnabled=Enabled without one. The
// value is the rule alone. A source with Object Lock needs a destination that
// has it too; pkg/mirror creates the destination with Object Lock (see
// ObjectLockEnabled), and put refuses to turn it on in place.
var objectLockKind = &spec[types.DefaultRetention]{
	name:         "object-lock",
	readActions:  []string{"s3:GetBucketObjectLockConfiguration"},
	writeActions: []string{"s3:GetBucketObjectLockConfiguration", "s3:PutBucketObjectLockConfiguration"},
	get: func(ctx context.Context, e *Engine, b Bucket) (*types.DefaultRetention, error) {
		cfg, err := getObjectLock(ctx, e, b)
		if err == nil {
			enabled := cfg != nil && cfg.ObjectLockEnabled == types.ObjectLockEnabledEnabled
			e.learn(func(f *facts) { f.objectLock = &enabled })
		}
		if err != nil || cfg == nil || cfg.Rule == nil || cfg.Rule.DefaultRetention == nil {
			return nil, err
		}
		return canonicalRetention(*cfg.Rule.DefaultRetention), nil
	},
	put: func(ctx context.Context, e *Engine, b Bucket, v *types.DefaultRetention) error {
		// Since 2023 PutObjectLockConfiguration also turns Object Lock on for
		// an existing versioned bucket, irreversibly (no later suspending of
		// versioning, no more use as a log target). bucketmirror only writes
		// retention to a destination that was created with Object Lock.
		// Whether it was is in the destination's snapshot.
		var enabled bool
		if f := e.destFacts(); f != nil && f.objectLock != nil {
			enabled = *f.objectLock
		} else {
			cfg, err := getObjectLock(ctx, e, b)
			if err != nil {
				return err
			}
			enabled = cfg != nil && cfg.ObjectLockEnabled == types.ObjectLockEnabledEnabled
		}
		if !enabled {
			return fmt.Errorf("destination bucket %q in %s was created without Object Lock, which the source has: "+
				"recreate it with Object Lock enabled (Object Lock cannot be turned off again, so bucketmirror does not turn it on in place)",
				b.Name, b.Region)
		}
		return putObjectLock(ctx, e, b, &types.ObjectLockRule{DefaultRetention: v})
	},
	del: func(ctx context.Context, e *Engine, b Bucket) error {
		return putObjectLock(ctx, e, b, nil)
	},
}

func getObjectLock(ctx context.Context, e *Engine, b Bucket) (*types.ObjectLockConfiguration, error) {
	out, err := e.s3(b).GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: &b.Name})
	if isNotFound(err, codeNoSuchObjectLock) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return out.ObjectLockConfiguration, nil
}

func putObjectLock(ctx context.Context, e *Engine, b Bucket, rule *types.ObjectLockRule) error {
	_, err := e.s3(b).PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: &b.Name,
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled, Rule: rule}})
	return err
}

// canonicalRetention drops zero periods: S3 accepts only positive ones, and
// some implementations (moto) answer the unset one of Days/Years as 0.
func canonicalRetention(r types.DefaultRetention) *types.DefaultRetention {
	r.Days, r.Years = positive(r.Days), positive(r.Years)
	if h := r.DefaultEventHold; h != nil {
		hold := types.EventHoldDuration{Days: positive(h.Days), Years: positive(h.Years)}
		r.DefaultEventHold = nil
		if hold.Days != nil || hold.Years != nil {
			r.DefaultEventHold = &hold
		}
	}
	if r.Mode == "" && r.Days == nil && r.Years == nil && r.DefaultEventHold == nil {
		return nil
	}
	return &r
}

func positive(n *int32) *int32 {
	if n == nil || *n <= 0 {
		return nil
	}
	return n
}

// ObjectLockEnabled says whether b has Object Lock enabled (with or without a
// default retention rule), which the object-lock kind cannot tell apart from
// "no Object Lock". pkg/mirror asks it of a source to create the destination
// with Object Lock.
func (e *Engine) ObjectLockEnabled(ctx context.Context, b Bucket) (bool, error) {
	cfg, err := getObjectLock(ctx, e, b)
	if err != nil {
		return false, fmt.Errorf("reading Object Lock of bucket %q in %s: %w", b.Name, b.Region, err)
	}
	return cfg != nil && cfg.ObjectLockEnabled == types.ObjectLockEnabledEnabled, nil
}
