package bucketconfig

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// notificationsKind copies event notifications. Delivery to EventBridge is
// a flag and copies as is. SNS topics, SQS queues and Lambda functions must
// be in the bucket's own Region, so a configuration is copied only when
// Options.NotificationTargets maps its target to one in the destination
// Region; the others are reported as not copied, and the rest still applies.
var notificationsKind = &spec[types.NotificationConfiguration]{
	name:         "notifications",
	readActions:  []string{"s3:GetBucketNotification"},
	writeActions: []string{"s3:PutBucketNotification"},
	get: func(ctx context.Context, e *Engine, b Bucket) (*types.NotificationConfiguration, error) {
		out, err := e.s3(b).GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: &b.Name})
		if err != nil {
			return nil, err
		}
		// Not configured is an empty 200.
		return canonicalNotifications(&types.NotificationConfiguration{
			EventBridgeConfiguration:     out.EventBridgeConfiguration,
			LambdaFunctionConfigurations: out.LambdaFunctionConfigurations,
			QueueConfigurations:          out.QueueConfigurations,
			TopicConfigurations:          out.TopicConfigurations,
		}), nil
	},
	put: func(ctx context.Context, e *Engine, b Bucket, v *types.NotificationConfiguration) error {
		_, err := e.s3(b).PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: &b.Name,
			NotificationConfiguration: v})
		return explainUnvalidatedTargets(err, b, v)
	},
	// There is no DeleteBucketNotification: an empty configuration removes it.
	del: func(ctx context.Context, e *Engine, b Bucket) error {
		_, err := e.s3(b).PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: &b.Name,
			NotificationConfiguration: &types.NotificationConfiguration{}})
		return err
	},
	xform: func(_ context.Context, e *Engine, m Mirror, v *types.NotificationConfiguration) (*types.NotificationConfiguration, []Note, error) {
		if v == nil {
			return nil, nil, nil
		}
		out := &types.NotificationConfiguration{EventBridgeConfiguration: v.EventBridgeConfiguration}
		var notes []Note
		// mapTarget returns the destination ARN for a Region-bound target, or
		// "" with a note when there is none.
		// Into another account, a target is bound to the source's account
		// too: S3 delivers there only if the target's policy admits the
		// destination bucket, which the source's targets never do.
		bound, where := m.Source.Region, m.Dest.Region
		if src, dst := e.accountOf(m.Source), e.accountOf(m.Dest); src != dst {
			bound, where = fmt.Sprintf("%s and account %s", bound, src), fmt.Sprintf("%s (account %s)", where, dst)
		}
		mapTarget := func(what string, id *string, arn *string) (*string, error) {
			mapped, ok := e.opts.NotificationTargets[aws.ToString(arn)]
			if !ok {
				notes = append(notes, Note{Severity: SeverityNotCopied, Message: fmt.Sprintf(
					"%s %s of notification %q is bound to %s and was not copied: map it to one in %s with the notification targets option",
					what, aws.ToString(arn), aws.ToString(id), bound, where)})
				return nil, nil
			}
			if region := arnRegion(mapped); region != m.Dest.Region {
				return nil, fmt.Errorf("mapping notification target %s to %s: %s is in %q, not in the destination Region %s",
					aws.ToString(arn), mapped, mapped, region, m.Dest.Region)
			}
			return aws.String(mapped), nil
		}
		for _, c := range v.QueueConfigurations {
			arn, err := mapTarget("SQS queue", c.Id, c.QueueArn)
			if err != nil {
				return nil, notes, err
			}
			if arn != nil {
				c.QueueArn = arn
				out.QueueConfigurations = append(out.QueueConfigurations, c)
			}
		}
		for _, c := range v.TopicConfigurations {
			arn, err := mapTarget("SNS topic", c.Id, c.TopicArn)
			if err != nil {
				return nil, notes, err
			}
			if arn != nil {
				c.TopicArn = arn
				out.TopicConfigurations = append(out.TopicConfigurations, c)
			}
		}
		for _, c := range v.LambdaFunctionConfigurations {
			arn, err := mapTarget("Lambda function", c.Id, c.LambdaFunctionArn)
			if err != nil {
				return nil, notes, err
			}
			if arn != nil {
				c.LambdaFunctionArn = arn
				out.LambdaFunctionConfigurations = append(out.LambdaFunctionConfigurations, c)
			}
		}
		return canonicalNotifications(out), notes, nil
	},
}

// explainUnvalidatedTargets names, for S3's bare "Unable to validate the
// following destination configurations" (400 InvalidArgument), every target
// of the configuration and the resource policy that must let S3 deliver to
// it: S3 checks that each target exists and that its policy admits the
// service principal s3.amazonaws.com for this bucket (docs/s3-conformance.md,
// s3-notification-target-policy).
func explainUnvalidatedTargets(err error, b Bucket, v *types.NotificationConfiguration) error {
	var apiErr interface{ ErrorMessage() string }
	if ErrorCode(err) != "InvalidArgument" || !errors.As(err, &apiErr) || !strings.Contains(apiErr.ErrorMessage(), "Unable to validate") {
		return err
	}
	condition := fmt.Sprintf(`aws:SourceArn "arn:aws:s3:::%s"`, b.Name)
	var fixes []string
	for _, c := range v.QueueConfigurations {
		fixes = append(fixes, fmt.Sprintf("SQS queue %s: its access policy (SetQueueAttributes Policy) must allow Service s3.amazonaws.com sqs:SendMessage with %s",
			aws.ToString(c.QueueArn), condition))
	}
	for _, c := range v.TopicConfigurations {
		fixes = append(fixes, fmt.Sprintf("SNS topic %s: its access policy (SetTopicAttributes Policy) must allow Service s3.amazonaws.com SNS:Publish with %s",
			aws.ToString(c.TopicArn), condition))
	}
	for _, c := range v.LambdaFunctionConfigurations {
		fixes = append(fixes, fmt.Sprintf("Lambda function %s: its resource policy must allow s3.amazonaws.com lambda:InvokeFunction with %s (aws lambda add-permission --principal s3.amazonaws.com --source-arn arn:aws:s3:::%s)",
			aws.ToString(c.LambdaFunctionArn), condition, b.Name))
	}
	return fmt.Errorf("S3 could not validate the notification targets of bucket %q in %s: each must exist in %s and let S3 deliver from this bucket; %s: %w",
		b.Name, b.Region, b.Region, strings.Join(fixes, "; "), err)
}

// arnRegion is the Region field of an ARN ("" when it has none).
func arnRegion(arn string) string {
	parts := strings.SplitN(arn, ":", 5)
	if len(parts) < 5 {
		return ""
	}
	return parts[3]
}

// canonicalNotifications sorts configurations by Id, events and filter
// rules by name (S3 answers "Prefix" for a rule written as "prefix"), so
// equal configurations compare equal; an empty configuration is nil.
func canonicalNotifications(v *types.NotificationConfiguration) *types.NotificationConfiguration {
	if v.EventBridgeConfiguration == nil && len(v.QueueConfigurations) == 0 && len(v.TopicConfigurations) == 0 &&
		len(v.LambdaFunctionConfigurations) == 0 {
		return nil
	}
	for i := range v.QueueConfigurations {
		c := &v.QueueConfigurations[i]
		c.Events, c.Filter = canonicalEvents(c.Events), canonicalFilter(c.Filter)
	}
	for i := range v.TopicConfigurations {
		c := &v.TopicConfigurations[i]
		c.Events, c.Filter = canonicalEvents(c.Events), canonicalFilter(c.Filter)
	}
	for i := range v.LambdaFunctionConfigurations {
		c := &v.LambdaFunctionConfigurations[i]
		c.Events, c.Filter = canonicalEvents(c.Events), canonicalFilter(c.Filter)
	}
	slices.SortFunc(v.QueueConfigurations, func(a, b types.QueueConfiguration) int {
		return cmp.Or(cmp.Compare(aws.ToString(a.Id), aws.ToString(b.Id)), cmp.Compare(aws.ToString(a.QueueArn), aws.ToString(b.QueueArn)))
	})
	slices.SortFunc(v.TopicConfigurations, func(a, b types.TopicConfiguration) int {
		return cmp.Or(cmp.Compare(aws.ToString(a.Id), aws.ToString(b.Id)), cmp.Compare(aws.ToString(a.TopicArn), aws.ToString(b.TopicArn)))
	})
	slices.SortFunc(v.LambdaFunctionConfigurations, func(a, b types.LambdaFunctionConfiguration) int {
		return cmp.Or(cmp.Compare(aws.ToString(a.Id), aws.ToString(b.Id)), cmp.Compare(aws.ToString(a.LambdaFunctionArn), aws.ToString(b.LambdaFunctionArn)))
	})
	return v
}

func canonicalEvents(events []types.Event) []types.Event {
	events = slices.Clone(events)
	slices.Sort(events)
	return slices.Compact(events)
}

func canonicalFilter(f *types.NotificationConfigurationFilter) *types.NotificationConfigurationFilter {
	if f == nil || f.Key == nil || len(f.Key.FilterRules) == 0 {
		return nil
	}
	rules := make([]types.FilterRule, len(f.Key.FilterRules))
	for i, r := range f.Key.FilterRules {
		rules[i] = types.FilterRule{Name: types.FilterRuleName(strings.ToLower(string(r.Name))), Value: r.Value}
	}
	slices.SortFunc(rules, func(a, b types.FilterRule) int { return cmp.Compare(a.Name, b.Name) })
	return &types.NotificationConfigurationFilter{Key: &types.S3KeyFilter{FilterRules: rules}}
}
