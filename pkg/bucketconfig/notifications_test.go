package bucketconfig

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
)

// createQueue makes a real SQS queue in region whose access policy lets S3
// deliver events of this account's buckets (S3 checks that targets exist and
// admit it) and returns its ARN.
func (f *fixture) createQueue(region, name string) string {
	f.t.Helper()
	return f.createQueueWithPolicy(region, name, `{"Version":"2012-10-17","Statement":[{"Sid":"S3Events","Effect":"Allow",`+
		`"Principal":{"Service":"s3.amazonaws.com"},"Action":"sqs:SendMessage","Resource":"*",`+
		`"Condition":{"StringEquals":{"aws:SourceAccount":"`+localcloud.AccountID+`"}}}]}`)
}

// createQueueWithPolicy makes a queue with the given access policy ("" for none).
func (f *fixture) createQueueWithPolicy(region, name, policy string) string {
	f.t.Helper()
	client := sqs.NewFromConfig(cloud.AWSConfig(), func(o *sqs.Options) { o.Region = region })
	in := &sqs.CreateQueueInput{QueueName: aws.String(name)}
	if policy != "" {
		in.Attributes = map[string]string{string(sqstypes.QueueAttributeNamePolicy): policy}
	}
	out, err := client.CreateQueue(f.ctx, in)
	f.must(err)
	attrs, err := client.GetQueueAttributes(f.ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	f.must(err)
	return attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
}

func (f *fixture) putNotifications(b Bucket, c *types.NotificationConfiguration) error {
	_, err := f.clients.S3(b.Region).PutBucketNotificationConfiguration(f.ctx, &s3.PutBucketNotificationConfigurationInput{
		Bucket: &b.Name, NotificationConfiguration: c})
	return err
}

func (f *fixture) destNotifications() *s3.GetBucketNotificationConfigurationOutput {
	f.t.Helper()
	out, err := f.dst().GetBucketNotificationConfiguration(f.ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: &f.m.Dest.Name})
	f.must(err)
	return out
}

func queueNotification(id, arn string) types.QueueConfiguration {
	return types.QueueConfiguration{Id: aws.String(id), QueueArn: aws.String(arn),
		Events: []types.Event{"s3:ObjectRemoved:*", "s3:ObjectCreated:*"},
		Filter: &types.NotificationConfigurationFilter{Key: &types.S3KeyFilter{FilterRules: []types.FilterRule{
			{Name: types.FilterRuleNameSuffix, Value: aws.String(".csv")},
			{Name: types.FilterRuleNamePrefix, Value: aws.String("incoming/")},
		}}}}
}

func TestNotificationsEventBridge(t *testing.T) {
	f := newFixture(t)
	f.roundTrip("notifications",
		func() {
			f.must(f.putNotifications(f.m.Source, &types.NotificationConfiguration{EventBridgeConfiguration: &types.EventBridgeConfiguration{}}))
		},
		func() { f.must(f.putNotifications(f.m.Source, &types.NotificationConfiguration{})) },
		func() {
			out := f.destNotifications()
			if out.EventBridgeConfiguration == nil || len(out.QueueConfigurations)+len(out.TopicConfigurations)+len(out.LambdaFunctionConfigurations) != 0 {
				t.Errorf("destination notifications = %+v, want EventBridge only", out)
			}
		})
}

func TestNotificationsUnmappedQueue(t *testing.T) {
	f := newFixture(t)
	queue := f.createQueue(srcRegion, f.m.Source.Name)
	f.must(f.putNotifications(f.m.Source, &types.NotificationConfiguration{
		EventBridgeConfiguration: &types.EventBridgeConfiguration{},
		QueueConfigurations:      []types.QueueConfiguration{queueNotification("uploads", queue)},
	}))
	r := f.configure("notifications")
	if r.Status != StatusApplied {
		t.Fatalf("notifications is %s (%s), want applied for the EventBridge part", r.Status, r.Error)
	}
	if !slices.ContainsFunc(r.Notes, func(n Note) bool {
		return n.Severity == SeverityNotCopied && n.Kind == "notifications" && strings.Contains(n.Message, queue) && strings.Contains(n.Message, `"uploads"`)
	}) {
		t.Errorf("no not-copied note naming %s: %+v", queue, r.Notes)
	}
	out := f.destNotifications()
	if out.EventBridgeConfiguration == nil || len(out.QueueConfigurations) != 0 {
		t.Errorf("destination notifications = %+v, want EventBridge and no queue", out)
	}
	if s := f.planAction("notifications"); s.Action != ActionNone || len(s.Notes) != 1 {
		t.Errorf("plan after configure is %s with notes %+v, want none with the note", s.Action, s.Notes)
	}
}

func TestNotificationsMappedQueue(t *testing.T) {
	var f *fixture
	targets := map[string]string{}
	f = newFixture(t, func(o *Options) { o.NotificationTargets = targets })
	srcQueue := f.createQueue(srcRegion, f.m.Source.Name)
	dstQueue := f.createQueue(dstRegion, f.m.Dest.Name)
	targets[srcQueue] = dstQueue
	f.roundTrip("notifications",
		func() {
			f.must(f.putNotifications(f.m.Source, &types.NotificationConfiguration{
				QueueConfigurations: []types.QueueConfiguration{queueNotification("uploads", srcQueue)}}))
		},
		func() { f.must(f.putNotifications(f.m.Source, &types.NotificationConfiguration{})) },
		func() {
			out := f.destNotifications()
			if out.EventBridgeConfiguration != nil || len(out.QueueConfigurations) != 1 {
				t.Fatalf("destination notifications = %+v, want one queue", out)
			}
			q := out.QueueConfigurations[0]
			events := slices.Clone(q.Events)
			slices.Sort(events)
			if aws.ToString(q.QueueArn) != dstQueue || aws.ToString(q.Id) != "uploads" ||
				!slices.Equal(events, []types.Event{"s3:ObjectCreated:*", "s3:ObjectRemoved:*"}) || q.Filter == nil || q.Filter.Key == nil {
				t.Fatalf("destination queue configuration = %+v", q)
			}
			rules := map[string]string{}
			for _, r := range q.Filter.Key.FilterRules {
				rules[strings.ToLower(string(r.Name))] = aws.ToString(r.Value)
			}
			if len(rules) != 2 || rules["prefix"] != "incoming/" || rules["suffix"] != ".csv" {
				t.Errorf("destination filter rules = %+v", q.Filter.Key.FilterRules)
			}
		})
}

// A mapped target must exist in the destination Region: S3 validates it,
// and the failure names the target.
func TestNotificationsMappedQueueMissing(t *testing.T) {
	var f *fixture
	targets := map[string]string{}
	f = newFixture(t, func(o *Options) { o.NotificationTargets = targets })
	srcQueue := f.createQueue(srcRegion, f.m.Source.Name)
	missing := "arn:aws:sqs:" + dstRegion + ":123456789012:" + f.m.Dest.Name + "-missing"
	targets[srcQueue] = missing
	f.must(f.putNotifications(f.m.Source, &types.NotificationConfiguration{
		QueueConfigurations: []types.QueueConfiguration{queueNotification("uploads", srcQueue)}}))
	_, results, err := f.engine.Configure(f.ctx, f.m)
	f.must(err)
	i := slices.IndexFunc(results, func(r Result) bool { return r.Kind == "notifications" })
	if i < 0 || results[i].Status != StatusFailed || results[i].Code != "InvalidArgument" || !strings.Contains(results[i].Error, missing) {
		t.Fatalf("notifications result = %+v, want failed with InvalidArgument naming %s", results[i], missing)
	}
}

// A target mapped into the wrong Region is an error of the transform.
func TestNotificationsMappedToWrongRegion(t *testing.T) {
	src := Mirror{Source: Bucket{Name: "a", Region: srcRegion}, Dest: Bucket{Name: "b", Region: dstRegion}}
	e := New(nil, Options{NotificationTargets: map[string]string{
		"arn:aws:sns:us-east-1:123456789012:topic": "arn:aws:sns:eu-west-1:123456789012:topic"}})
	_, _, err := notificationsKind.xform(t.Context(), e, src, &types.NotificationConfiguration{
		TopicConfigurations: []types.TopicConfiguration{{Id: aws.String("t"), TopicArn: aws.String("arn:aws:sns:us-east-1:123456789012:topic"),
			Events: []types.Event{"s3:ObjectCreated:*"}}}})
	if err == nil || !strings.Contains(err.Error(), "eu-west-1") || !strings.Contains(err.Error(), dstRegion) {
		t.Errorf("mapping into eu-west-1 for a %s destination: err = %v", dstRegion, err)
	}
}
