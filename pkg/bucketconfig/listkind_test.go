package bucketconfig

import (
	"context"
	"strings"
	"sync"
	"testing"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
)

// callCounter counts the S3 operations the engine sends, by operation name.
type callCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *callCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n = map[string]int{}
}

func (c *callCounter) get(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[op]
}

// countCalls rebuilds the fixture's engine on clients that count every S3
// call it makes (once per call, not per retry attempt).
func (f *fixture) countCalls() *callCounter {
	cc := &callCounter{n: map[string]int{}}
	count := func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Serialize.Add(middleware.SerializeMiddlewareFunc("countCalls",
				func(ctx context.Context, in middleware.SerializeInput, next middleware.SerializeHandler) (middleware.SerializeOutput, middleware.Metadata, error) {
					cc.mu.Lock()
					cc.n[awsmiddleware.GetOperationName(ctx)]++
					cc.mu.Unlock()
					return next.HandleSerialize(ctx, in)
				}), middleware.Before)
		})
	}
	f.engine = New(awsclient.New(cloud.AWSConfig(), count), f.engine.opts)
	return cc
}

// noteMentioning returns the first note of r whose message holds every one
// of parts.
func noteMentioning(r Result, parts ...string) (Note, bool) {
	for _, n := range r.Notes {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(n.Message, p)
		}
		if all {
			return n, true
		}
	}
	return Note{}, false
}

func TestInventoryExportBucketARN(t *testing.T) {
	e := &Engine{opts: Options{Buckets: map[string]string{
		"logs-east":                     "logs-west",
		"arn:aws:s3:::reports-east":     "arn:aws:s3:::reports-west",
		"arn:aws-cn:s3:::cn-exports-in": "cn-exports-out",
	}}}
	m := Mirror{Source: Bucket{Name: "src", Region: "us-east-1"}, Dest: Bucket{Name: "dst", Region: "us-west-2"}}
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"arn:aws:s3:::src", "arn:aws:s3:::dst", true},
		{"arn:aws:s3:::logs-east", "arn:aws:s3:::logs-west", true},
		{"arn:aws:s3:::reports-east", "arn:aws:s3:::reports-west", true},
		{"arn:aws-cn:s3:::cn-exports-in", "arn:aws-cn:s3:::cn-exports-out", true},
		{"arn:aws:s3:::src-other", "", false},
		{"arn:aws:s3:::elsewhere", "", false},
	} {
		got, ok := exportBucketARN(e, m, tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("exportBucketARN(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
