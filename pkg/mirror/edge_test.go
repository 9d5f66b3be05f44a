package mirror_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/bucketmirror/bucketmirror/pkg/mirror"
)

// TestMalformedEventsAreNamed: bodies the functions cannot take get a
// MalformedEventError (the Lambda errorType) saying what was wrong and the
// shape expected, not the runtime's "EOF" or "invalid character 'o'".
func TestMalformedEventsAreNamed(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200)
	huge := `{"sourceBucketARN": "` + strings.Repeat("x", 7<<20) + `"}`
	for _, h := range []interface {
		Invoke(context.Context, []byte) ([]byte, error)
	}{mirrorer.CreateLambda(), mirrorer.ConfigureLambda()} {
		for name, body := range map[string]string{
			"garbage": "not json at all", "empty": "", "spaces": "  \n", "null": "null", "array": `[{"sourceBucketARN": "x"}]`,
			"string": `"arn:aws:s3:::x"`, "number": "42", "7 MiB": huge, "deep nesting": deep,
			"wrong type": `{"sourceBucketARN": 5}`, "truncated": `{"sourceBucketARN": "arn:aws:s3:::x"`,
		} {
			_, err := h.Invoke(context.Background(), []byte(body))
			var malformed *mirror.MalformedEventError
			if !errors.As(err, &malformed) {
				t.Errorf("%T, %s body: %T %v, want MalformedEventError", h, name, err, err)
				continue
			}
			msg := err.Error()
			if !strings.Contains(msg, "expected a JSON object") || strings.Contains(msg, "EOF") || strings.Contains(msg, "invalid character") || len(msg) > 600 {
				t.Errorf("%s body: message %q does not say what shape is expected in plain words", name, msg)
			}
		}
	}
}

// TestConfigureTakesCreateShapes: the configure function accepts the
// {"payload": ...} wrapper create accepts; it used to read it as an empty
// payload ("invalid sourceBucketARN \"\"").
func TestConfigureTakesCreateShapes(t *testing.T) {
	src := bucketName(t, "cfg-shapes")
	createSource(t, src)
	out, err := mirrorer.CreateLambda().Invoke(context.Background(), []byte(`{"payload": `+payload(src, "")+`, "runId": "shapes-1"}`))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	var created mirror.State
	if err := json.Unmarshal(out, &created); err != nil || created.DestBucket == "" {
		t.Fatalf("create returned %s (%v)", out, err)
	}
	wrapped := `{"payload": ` + payload(src, created.DestBucket) + `, "runId": "shapes-2"}`
	res, err := mirrorer.ConfigureLambda().Invoke(context.Background(), []byte(wrapped))
	if err != nil {
		t.Fatalf("configure with the payload wrapper: %v", err)
	}
	if !bytes.Contains(res, []byte(`"status":"FINISHED"`)) {
		t.Errorf("configure with the payload wrapper returned %s, want FINISHED", res)
	}
}
