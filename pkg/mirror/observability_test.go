package mirror_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
)

// jsonLines parses every line of buf as a JSON object.
func jsonLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(buf.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not a JSON line: %s", sc.Text())
		}
		out = append(out, m)
	}
	return out
}

// TestRunLogsAndMetrics: every kind that did something gets a structured log
// line with the run, source, destination and kind, and every run ends with
// one Embedded Metric Format line (runs, failures, kinds applied, duration).
func TestRunLogsAndMetrics(t *testing.T) {
	ctx := context.Background()
	cfg := cloud.AWSConfig()
	cfg.APIOptions = append(cfg.APIOptions, injectAccessDenied)
	var logs, metrics bytes.Buffer
	m := mirror.NewMirrorer(cfg, mirror.Config{Table: "bucketmirror-test", TagPrefix: "bucketmirror:", AccountID: localcloud.AccountID},
		bucketconfig.Options{PropagationTimeout: time.Second}, slog.New(slog.NewJSONHandler(&logs, nil)))
	m.Metrics = &metrics

	src := bucketName(t, "observed")
	createSource(t, src)
	_, err := s3c("us-east-1").PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: &src, CORSConfiguration: &s3types.CORSConfiguration{
		CORSRules: []s3types.CORSRule{{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"*"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	run := func(dest string) map[string]any {
		t.Helper()
		logs.Reset()
		metrics.Reset()
		in := mirror.Input{SourceBucketARN: "arn:aws:s3:::" + src, DestBucketARN: "arn:aws:s3:::" + dest,
			SourceAccountNumber: localcloud.AccountID, DestAccountNumber: localcloud.AccountID, SourceRegion: "us-east-1", DestRegion: "us-west-2"}
		_, _ = m.Run(ctx, in)
		lines := jsonLines(t, &metrics)
		if len(lines) != 1 {
			t.Fatalf("%d metric lines for one run, want 1:\n%s", len(lines), metrics.String())
		}
		emf := lines[0]
		aws, _ := emf["_aws"].(map[string]any)
		if aws == nil || aws["CloudWatchMetrics"] == nil {
			t.Fatalf("metric line without the EMF directive: %v", emf)
		}
		if d, _ := emf["RunDuration"].(float64); d < 0 || d > 60_000 {
			t.Errorf("RunDuration %v ms", emf["RunDuration"])
		}
		return emf
	}
	kindLine := func(kind string) map[string]any {
		t.Helper()
		for _, l := range jsonLines(t, &logs) {
			if l["kind"] == kind {
				return l
			}
		}
		t.Fatalf("no log line for kind %s:\n%s", kind, logs.String())
		return nil
	}

	dest := bucketName(t, "observed-dst")
	emf := run(dest)
	if emf["Runs"] != 1.0 || emf["RunsFailed"] != 0.0 || emf["KindsFailed"] != 0.0 {
		t.Errorf("metrics of a successful run: %v", emf)
	}
	written := 0
	for _, l := range jsonLines(t, &logs) {
		if l["status"] == "applied" || l["status"] == "removed" {
			written++
		}
	}
	if n, _ := emf["KindsApplied"].(float64); n < 1 || int(n) != written {
		t.Errorf("KindsApplied %v, want at least cors and as many as the %d kinds logged applied or removed", emf["KindsApplied"], written)
	}
	l := kindLine("cors")
	if l["level"] != "INFO" || l["status"] != "applied" || l["bucket"] != src || l["dest"] != dest || l["run"] == "" || l["region"] != "us-west-2" {
		t.Errorf("cors log line %v", l)
	}

	denyCORSOn.Store(dest)
	defer denyCORSOn.Store("")
	// Change the source so the next run has CORS to write.
	_, err = s3c("us-east-1").PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: &src, CORSConfiguration: &s3types.CORSConfiguration{
		CORSRules: []s3types.CORSRule{{AllowedMethods: []string{"PUT"}, AllowedOrigins: []string{"*"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	emf = run(dest)
	if emf["Runs"] != 1.0 || emf["RunsFailed"] != 1.0 || emf["KindsFailed"] != 1.0 {
		t.Errorf("metrics of a run with one failing kind: %v", emf)
	}
	l = kindLine("cors")
	if l["level"] != "WARN" || l["status"] != "failed" || l["code"] != "AccessDenied" || l["dest"] != dest {
		t.Errorf("failed cors log line %v", l)
	}
}
