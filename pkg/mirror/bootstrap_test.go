package mirror_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/bucketmirror/bucketmirror/pkg/inventory"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
)

// TestBootstrapsUnderRIE builds the real Lambda bootstraps (as `make
// lambdas` does, for this machine's architecture) and invokes them under
// aws-lambda-rie with the events in events/, the job `sam local invoke`
// does in a container.
func TestBootstrapsUnderRIE(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	env := []string{"BUCKETMIRROR_TABLE=" + mirrorer.Store.Table(), "BUCKETMIRROR_ACCOUNT_ID=123456789012"}
	for _, fn := range []string{"create", "configure"} {
		bootstrap := filepath.Join(dir, fn, "bootstrap")
		build := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bootstrap, "../../functions/"+fn)
		build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building %s: %v\n%s", fn, err, out)
		}
		if err := cloud.RegisterBinary(ctx, fn, bootstrap, env); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s3c("us-east-1").CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("example-source-bucket")}); err != nil {
		t.Fatal(err)
	}

	var created mirror.State
	invoke(t, "create", "../../events/create.json", &created)
	if created.Status != mirror.StatusCreated || created.DestBucket != "example-source-bucket-replica" {
		t.Fatalf("create returned %+v", created)
	}
	var configured mirror.State
	invoke(t, "configure", "../../events/configure.json", &configured)
	if configured.Status != mirror.StatusFinished {
		t.Fatalf("configure returned %+v", configured)
	}
	rs, err := mirrorer.Store.Runs(ctx, "example-source-bucket", "us-west-2")
	if err != nil || len(rs) != 1 || rs[0].Status != inventory.StatusFinished || rs[0].RunID != "example-run" {
		t.Fatalf("runs = %+v, %v; want the example run FINISHED", rs, err)
	}

	// The blog payload straight into create (no destBucketARN) under RIE.
	var blog mirror.State
	invoke(t, "create", "../../events/blog-payload.json", &blog)
	if blog.Status != mirror.StatusCreated || blog.DestBucket != "example-source-bucket-replica" {
		t.Errorf("blog payload: %+v, want the recorded destination reused", blog)
	}

	// A failure comes back as Lambda reports it: a function error with the
	// Go type name as errorType.
	resp := post(t, "create", []byte(`{"sourceBucketARN":"not-an-arn"}`))
	var fnErr struct{ ErrorType, ErrorMessage string }
	_ = json.Unmarshal(resp.body, &fnErr)
	if resp.header.Get("X-Amz-Function-Error") == "" || fnErr.ErrorType != "InvalidInputError" {
		t.Errorf("invalid payload: header %q body %s, want a function error of type InvalidInputError", resp.header.Get("X-Amz-Function-Error"), resp.body)
	}
}

type response struct {
	header http.Header
	body   []byte
}

func post(t *testing.T, fn string, payload []byte) response {
	t.Helper()
	r, err := http.Post(cloud.Endpoint+"/2015-03-31/functions/"+fn+"/invocations", "application/json", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	body, _ := io.ReadAll(r.Body)
	return response{header: r.Header, body: body}
}

func invoke(t *testing.T, fn, eventFile string, out any) {
	t.Helper()
	event, err := os.ReadFile(eventFile)
	if err != nil {
		t.Fatal(err)
	}
	resp := post(t, fn, event)
	if resp.header.Get("X-Amz-Function-Error") != "" {
		t.Fatalf("%s with %s failed: %s", fn, eventFile, resp.body)
	}
	if err := json.Unmarshal(resp.body, out); err != nil {
		t.Fatalf("%s returned %s: %v", fn, resp.body, err)
	}
}
