package localcloud_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
)

const roleARN = "arn:aws:iam::" + localcloud.AccountID + ":role/bucketmirror-test"

func createStateMachine(t *testing.T, client *sfn.Client, name, definition string) string {
	t.Helper()
	out, err := client.CreateStateMachine(context.Background(), &sfn.CreateStateMachineInput{
		Name: aws.String(name), Definition: aws.String(definition), RoleArn: aws.String(roleARN),
	})
	if err != nil {
		t.Fatalf("creating state machine %s: %v", name, err)
	}
	return *out.StateMachineArn
}

// runExecution starts an execution and polls it to a terminal status.
func runExecution(t *testing.T, client *sfn.Client, machineARN, name, input string) *sfn.DescribeExecutionOutput {
	t.Helper()
	ctx := context.Background()
	start, err := client.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(machineARN), Name: aws.String(name), Input: aws.String(input),
	})
	if err != nil {
		t.Fatalf("starting execution %s: %v", name, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		out, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: start.ExecutionArn})
		if err != nil {
			t.Fatalf("describing execution %s: %v", name, err)
		}
		if out.Status != sfntypes.ExecutionStatusRunning {
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("execution %s still running after 30s", name)
	return nil
}

// The local cloud is one process tree per test binary here: starting moto
// takes a couple of seconds, and each subtest uses its own resources.
func TestLocalCloud(t *testing.T) {
	cloud := localcloud.ForTest(t)
	cfg := cloud.AWSConfig()
	sfnClient := sfn.NewFromConfig(cfg)
	s3c := awsclient.New(cfg).S3(cloud.Region)
	ctx := context.Background()

	t.Run("repeated executions of one state machine succeed", func(t *testing.T) {
		// moto 5.2.1 fails the second StartExecution with "cannot pickle
		// '_thread.RLock'" unless the launcher's patch is in place.
		arn := createStateMachine(t, sfnClient, "pass-three", `{"StartAt":"P","States":{"P":{"Type":"Pass","Result":{"ok":true},"End":true}}}`)
		for i := range 3 {
			out := runExecution(t, sfnClient, arn, fmt.Sprintf("run-%d", i), `{}`)
			if out.Status != sfntypes.ExecutionStatusSucceeded {
				t.Fatalf("execution %d: status %s, want SUCCEEDED", i, out.Status)
			}
			if got := aws.ToString(out.Output); !jsonEqual(got, `{"ok":true}`) {
				t.Errorf("execution %d output = %s", i, got)
			}
		}
	})

	t.Run("Distributed Map definitions are translated where moto's grammar refuses them", func(t *testing.T) {
		// EXPRESS children and an integer ToleratedFailurePercentage are
		// what Step Functions runs (and what statemachine/sweep.asl.json
		// deploys); moto 5.2.1's grammar takes STANDARD and 10.0 only.
		bucket := "localcloud-dmap-items"
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("items.json"),
			Body: strings.NewReader(`[{"n":1},{"n":2},{"n":3}]`)}); err != nil {
			t.Fatal(err)
		}
		definition := func(extra string) string {
			return `{"StartAt":"M","States":{"M":{"Type":"Map",` + extra + `
				"ItemReader":{"Resource":"arn:aws:states:::s3:getObject","ReaderConfig":{"InputType":"JSON"},
					"Parameters":{"Bucket":"` + bucket + `","Key":"items.json"}},
				"ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"EXPRESS"},
					"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},
				"MaxConcurrency":2,"ToleratedFailurePercentage":10,"End":true}}}`
		}
		arn := createStateMachine(t, sfnClient, "dmap-express", definition(""))
		out := runExecution(t, sfnClient, arn, "dmap-1", `{}`)
		if out.Status != sfntypes.ExecutionStatusSucceeded || !jsonEqual(aws.ToString(out.Output), `[{"n":1},{"n":2},{"n":3}]`) {
			t.Errorf("Distributed Map execution: %s %s %s", out.Status, aws.ToString(out.Output), aws.ToString(out.Cause))
		}
		desc, err := sfnClient.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		// The emulator keeps its translated copy (documented difference).
		if def := aws.ToString(desc.Definition); !strings.Contains(def, `"STANDARD"`) || !strings.Contains(def, `10.0`) {
			t.Errorf("stored definition not translated: %s", def)
		}
		// ItemBatcher is not translated: dropping it would change what each
		// child receives, so such a definition is still refused.
		_, err = sfnClient.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("dmap-batcher"),
			Definition: aws.String(definition(`"ItemBatcher":{"MaxItemsPerBatch":2},`)), RoleArn: aws.String(roleARN)})
		// (AWS would answer InvalidDefinition; moto names its parser's
		// exception UnknownError.)
		if err == nil || !strings.Contains(err.Error(), "ItemBatcher") {
			t.Errorf("a definition with ItemBatcher: %v, want it refused", err)
		}
	})

	t.Run("a Distributed Map fails when more children fail than it tolerates", func(t *testing.T) {
		// Step Functions fails the Map Run with
		// States.ExceedToleratedFailureThreshold once failed items exceed
		// the tolerance; moto 5.2.1 alone never does (see the launcher).
		cloud.Register("maybe-fail", lambda.NewHandler(func(ctx context.Context, in struct{ Fail bool }) (string, error) {
			if in.Fail {
				return "", errors.New("child failed on purpose")
			}
			return "ok", nil
		}))
		items := func(n, failing int) string {
			var parts []string
			for i := range n {
				parts = append(parts, fmt.Sprintf(`{"fail":%t}`, i < failing))
			}
			return `{"items":[` + strings.Join(parts, ",") + `]}`
		}
		definition := func(tolerance string) string {
			return `{"StartAt":"M","States":{"M":{"Type":"Map",` + tolerance + `"ItemsPath":"$.items",
				"ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"EXPRESS"},
					"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + cloud.FunctionARN("maybe-fail") + `","End":true}}},
				"MaxConcurrency":4,"ResultPath":"$.results",
				"Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.mapError","Next":"Caught"}],"End":true},
				"Caught":{"Type":"Pass","End":true}}}`
		}
		for _, c := range []struct {
			name, tolerance string
			n, failing      int
			exceeded        bool
		}{
			{"percentage-at-threshold", `"ToleratedFailurePercentage":10,`, 10, 1, false},
			{"percentage-exceeded", `"ToleratedFailurePercentage":10,`, 10, 2, true},
			{"count-at-threshold", `"ToleratedFailureCount":1,`, 5, 1, false},
			{"count-exceeded", `"ToleratedFailureCount":1,`, 5, 2, true},
			{"either-exceeded", `"ToleratedFailureCount":5,"ToleratedFailurePercentage":10,`, 10, 2, true},
			{"no-tolerance", ``, 3, 1, true},
			{"no-failure", ``, 3, 0, false},
		} {
			arn := createStateMachine(t, sfnClient, "dmap-tolerance-"+c.name, definition(c.tolerance))
			out := runExecution(t, sfnClient, arn, "run", items(c.n, c.failing))
			var got struct {
				Results  []*string `json:"results"`
				MapError *struct{ Error, Cause string }
			}
			if err := json.Unmarshal([]byte(aws.ToString(out.Output)), &got); err != nil || out.Status != sfntypes.ExecutionStatusSucceeded {
				t.Fatalf("%s: %s %s (%v)", c.name, out.Status, aws.ToString(out.Output), err)
			}
			if !c.exceeded {
				nulls := 0
				for _, r := range got.Results {
					if r == nil {
						nulls++
					}
				}
				if got.MapError != nil || len(got.Results) != c.n || nulls != c.failing {
					t.Errorf("%s: %d of %d failing, want the Map to succeed with a null result per failed child; got %s", c.name, c.failing, c.n, aws.ToString(out.Output))
				}
				continue
			}
			if got.MapError == nil || got.MapError.Error != "States.ExceedToleratedFailureThreshold" || got.Results != nil {
				t.Errorf("%s: %d of %d failing, want the Catch to see States.ExceedToleratedFailureThreshold and no results; got %s", c.name, c.failing, c.n, aws.ToString(out.Output))
			}
		}
	})

	t.Run("task state invokes a Go handler through the router", func(t *testing.T) {
		type in struct {
			Name string `json:"name"`
			Fail bool   `json:"fail"`
		}
		cloud.Register("greeter", lambda.NewHandler(func(ctx context.Context, e in) (map[string]string, error) {
			if e.Fail {
				return nil, &greetingError{name: e.Name}
			}
			return map[string]string{"greeting": "hello " + e.Name}, nil
		}))
		definition := fmt.Sprintf(`{"StartAt":"Greet","States":{
			"Greet":{"Type":"Task","Resource":%q,"Catch":[{"ErrorEquals":["greetingError"],"ResultPath":"$.error","Next":"Caught"}],"End":true},
			"Caught":{"Type":"Pass","End":true}}}`, cloud.FunctionARN("greeter"))
		arn := createStateMachine(t, sfnClient, "greet", definition)

		ok := runExecution(t, sfnClient, arn, "ok", `{"name":"ada"}`)
		if ok.Status != sfntypes.ExecutionStatusSucceeded || !jsonEqual(aws.ToString(ok.Output), `{"greeting":"hello ada"}`) {
			t.Fatalf("success path: status %s output %s", ok.Status, aws.ToString(ok.Output))
		}

		failed := runExecution(t, sfnClient, arn, "fail", `{"name":"bob","fail":true}`)
		if failed.Status != sfntypes.ExecutionStatusSucceeded {
			t.Fatalf("failure path: status %s, want SUCCEEDED through Catch (error %s: %s)", failed.Status, aws.ToString(failed.Error), aws.ToString(failed.Cause))
		}
		var out struct {
			Error struct{ Error, Cause string } `json:"error"`
		}
		if err := json.Unmarshal([]byte(aws.ToString(failed.Output)), &out); err != nil {
			t.Fatalf("decoding output %s: %v", aws.ToString(failed.Output), err)
		}
		if out.Error.Error != "greetingError" || !strings.Contains(out.Error.Cause, "cannot greet bob") {
			t.Errorf("caught error = %+v, want greetingError naming bob", out.Error)
		}
	})

	t.Run("an unregistered function fails the task", func(t *testing.T) {
		definition := fmt.Sprintf(`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":%q,"End":true}}}`, cloud.FunctionARN("nobody"))
		arn := createStateMachine(t, sfnClient, "nobody", definition)
		out := runExecution(t, sfnClient, arn, "x", `{}`)
		if out.Status != sfntypes.ExecutionStatusFailed {
			t.Fatalf("status %s, want FAILED", out.Status)
		}
	})

	t.Run("S3 and DynamoDB pass through the router unchanged", func(t *testing.T) {
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("passthrough")}); err != nil {
			t.Fatal(err)
		}
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("passthrough"), Key: aws.String("a/b.txt"), Body: strings.NewReader("payload")}); err != nil {
			t.Fatal(err)
		}
		obj, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("passthrough"), Key: aws.String("a/b.txt")})
		if err != nil {
			t.Fatal(err)
		}
		defer obj.Body.Close()
		body, err := io.ReadAll(obj.Body)
		if err != nil || string(body) != "payload" {
			t.Errorf("object body = %q (%v)", body, err)
		}
		_, err = s3c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("passthrough")})
		if code := errorCode(err); code != "NoSuchBucketPolicy" {
			t.Errorf("GetBucketPolicy on a bucket without policy: code %q (%v), want NoSuchBucketPolicy", code, err)
		}

		ddb := dynamodb.NewFromConfig(cfg)
		_, err = ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
			TableName:            aws.String("t"),
			BillingMode:          ddbtypes.BillingModePayPerRequest,
			AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("PK"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
			KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("PK"), KeyType: ddbtypes.KeyTypeHash}},
		})
		if err != nil {
			t.Fatal(err)
		}
		item := map[string]ddbtypes.AttributeValue{"PK": &ddbtypes.AttributeValueMemberS{Value: "k"}, "v": &ddbtypes.AttributeValueMemberN{Value: "42"}}
		if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("t"), Item: item}); err != nil {
			t.Fatal(err)
		}
		got, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("t"), Key: map[string]ddbtypes.AttributeValue{"PK": item["PK"]}})
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := got.Item["v"].(*ddbtypes.AttributeValueMemberN); !ok || v.Value != "42" {
			t.Errorf("item = %#v", got.Item)
		}
	})

	t.Run("requester pays round-trips", func(t *testing.T) {
		bucket := aws.String("payer")
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil {
			t.Fatal(err)
		}
		before, err := s3c.GetBucketRequestPayment(ctx, &s3.GetBucketRequestPaymentInput{Bucket: bucket})
		if err != nil {
			t.Fatal(err)
		}
		if before.Payer != s3types.PayerBucketOwner {
			t.Errorf("default payer = %q, want BucketOwner", before.Payer)
		}
		_, err = s3c.PutBucketRequestPayment(ctx, &s3.PutBucketRequestPaymentInput{Bucket: bucket,
			RequestPaymentConfiguration: &s3types.RequestPaymentConfiguration{Payer: s3types.PayerRequester}})
		if err != nil {
			t.Fatal(err)
		}
		after, err := s3c.GetBucketRequestPayment(ctx, &s3.GetBucketRequestPaymentInput{Bucket: bucket})
		if err != nil {
			t.Fatal(err)
		}
		if after.Payer != s3types.PayerRequester {
			t.Errorf("payer after put = %q, want Requester", after.Payer)
		}
	})

	t.Run("deleting an intelligent-tiering configuration keeps the bucket", func(t *testing.T) {
		bucket := aws.String("tiered")
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil {
			t.Fatal(err)
		}
		_, err := s3c.PutBucketIntelligentTieringConfiguration(ctx, &s3.PutBucketIntelligentTieringConfigurationInput{
			Bucket: bucket, Id: aws.String("archive"),
			IntelligentTieringConfiguration: &s3types.IntelligentTieringConfiguration{
				Id: aws.String("archive"), Status: s3types.IntelligentTieringStatusEnabled,
				Tierings: []s3types.Tiering{{AccessTier: s3types.IntelligentTieringAccessTierArchiveAccess, Days: aws.Int32(90)}},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s3c.GetBucketIntelligentTieringConfiguration(ctx, &s3.GetBucketIntelligentTieringConfigurationInput{Bucket: bucket, Id: aws.String("archive")})
		if err != nil {
			t.Fatal(err)
		}
		if c := got.IntelligentTieringConfiguration; c == nil || aws.ToString(c.Id) != "archive" || len(c.Tierings) != 1 || aws.ToInt32(c.Tierings[0].Days) != 90 {
			t.Errorf("configuration read back = %+v", c)
		}
		if _, err := s3c.DeleteBucketIntelligentTieringConfiguration(ctx, &s3.DeleteBucketIntelligentTieringConfigurationInput{Bucket: bucket, Id: aws.String("archive")}); err != nil {
			t.Fatal(err)
		}
		if _, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: bucket}); err != nil {
			t.Fatalf("bucket gone after deleting its intelligent-tiering configuration: %v", err)
		}
		_, err = s3c.GetBucketIntelligentTieringConfiguration(ctx, &s3.GetBucketIntelligentTieringConfigurationInput{Bucket: bucket, Id: aws.String("archive")})
		if code := errorCode(err); code != "NoSuchConfiguration" {
			t.Errorf("get after delete: code %q (%v), want NoSuchConfiguration", code, err)
		}
	})
}

func TestCloseStopsEveryProcess(t *testing.T) {
	cloud, err := localcloud.Start(context.Background(), localcloud.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	pid := cloud.MotoPID()
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("moto (pid %d) not running after Start: %v", pid, err)
	}
	if err := cloud.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("moto's process group %d still has members after Close (kill -0: %v)", pid, err)
	}
	if err := cloud.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestMissingMotoIsNamed(t *testing.T) {
	_, err := localcloud.Start(context.Background(), localcloud.Options{Dir: t.TempDir(), Python: "python-that-does-not-exist"})
	if !errors.Is(err, localcloud.ErrMotoMissing) {
		t.Fatalf("err = %v, want ErrMotoMissing", err)
	}
	if !strings.Contains(err.Error(), "moto") || !strings.Contains(err.Error(), "install") {
		t.Errorf("message %q does not say what to install", err)
	}
}

type greetingError struct{ name string }

func (e *greetingError) Error() string { return "cannot greet " + e.name }

func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

func jsonEqual(a, b string) bool {
	var va, vb any
	if json.Unmarshal([]byte(a), &va) != nil || json.Unmarshal([]byte(b), &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

func TestBinaryUnderRIE(t *testing.T) {
	bootstrap := filepath.Join(t.TempDir(), "bootstrap")
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bootstrap, "./testdata/failer")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building test bootstrap: %v\n%s", err, out)
	}
	cloud := localcloud.ForTest(t)
	if err := cloud.RegisterBinary(context.Background(), "failer", bootstrap, nil); err != nil {
		t.Fatal(err)
	}
	sfnClient := sfn.NewFromConfig(cloud.AWSConfig())
	definition := fmt.Sprintf(`{"StartAt":"Call","States":{
		"Call":{"Type":"Task","Resource":%q,"Catch":[{"ErrorEquals":["refusedError"],"Next":"Refused"}],"End":true},
		"Refused":{"Type":"Fail","Error":"Refused"}}}`, cloud.FunctionARN("failer"))
	arn := createStateMachine(t, sfnClient, "rie", definition)

	ok := runExecution(t, sfnClient, arn, "ok", `{"echo":"hi"}`)
	if ok.Status != sfntypes.ExecutionStatusSucceeded || !jsonEqual(aws.ToString(ok.Output), `{"echo":"hi"}`) {
		t.Fatalf("success path: %s %s %s", ok.Status, aws.ToString(ok.Output), aws.ToString(ok.Cause))
	}
	failed := runExecution(t, sfnClient, arn, "fail", `{"echo":"x","fail":true}`)
	if failed.Status != sfntypes.ExecutionStatusFailed || aws.ToString(failed.Error) != "Refused" {
		t.Fatalf("failure path: status %s error %q cause %q, want FAILED with Refused via Catch", failed.Status, aws.ToString(failed.Error), aws.ToString(failed.Cause))
	}
}
