package mirror_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// runEvents collects what the state machine publishes on the default bus,
// through a rule whose target is an SQS queue, as a subscriber would.
var runEvents struct {
	once     sync.Once
	queueURL string
	seen     []busEvent
}

type busEvent struct {
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Detail     json.RawMessage `json:"detail"`
}

func subscribe(t *testing.T) {
	t.Helper()
	runEvents.once.Do(func() {
		ctx := context.Background()
		cfg := cloud.AWSConfig()
		q := sqs.NewFromConfig(cfg)
		created, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("run-events")})
		if err != nil {
			t.Fatal(err)
		}
		attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: created.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
		if err != nil {
			t.Fatal(err)
		}
		eb := eventbridge.NewFromConfig(cfg)
		if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("bucketmirror-runs"), EventPattern: aws.String(`{"source":["bucketmirror"]}`)}); err != nil {
			t.Fatal(err)
		}
		if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("bucketmirror-runs"),
			Targets: []ebtypes.Target{{Id: aws.String("queue"), Arn: aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)])}}}); err != nil {
			t.Fatal(err)
		}
		runEvents.queueURL = aws.ToString(created.QueueUrl)
	})
}

// awaitEvent waits for an event of detailType whose detail matches.
func awaitEvent(t *testing.T, detailType string, match func(detail map[string]string) bool) map[string]string {
	t.Helper()
	q := sqs.NewFromConfig(cloud.AWSConfig())
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		for _, e := range runEvents.seen {
			var d map[string]string
			if e.DetailType == detailType && e.Source == "bucketmirror" && json.Unmarshal(e.Detail, &d) == nil && match(d) {
				return d
			}
		}
		out, err := q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(runEvents.queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			var e busEvent
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &e); err != nil {
				t.Fatalf("event body %s: %v", aws.ToString(m.Body), err)
			}
			runEvents.seen = append(runEvents.seen, e)
			_, _ = q.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(runEvents.queueURL), ReceiptHandle: m.ReceiptHandle})
		}
	}
	t.Fatalf("no %q event matched; seen %+v", detailType, runEvents.seen)
	return nil
}
