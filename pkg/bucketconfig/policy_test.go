package bucketconfig

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestRewritePolicy(t *testing.T) {
	in := `{"Version":"2012-10-17","Statement":[
	  {"Sid":"a","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::src/*"},
	  {"Sid":"b","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":["s3:*"],
	   "NotResource":["arn:aws:s3:::src","arn:aws:s3:::src/public/*","arn:aws:s3:::src-other/*","arn:aws:s3:::srcx"],
	   "Condition":{"StringEquals":{"aws:SourceArn":"arn:aws:s3:::src","s3:prefix":"a&b<c>"},"NumericLessThan":{"s3:max-keys":10.50}}}]}`
	out, err := RewritePolicy(json.RawMessage(in), "src", "dst")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Statement":[{"Action":"s3:GetObject","Effect":"Allow","Principal":"*","Resource":"arn:aws:s3:::dst/*","Sid":"a"},` +
		`{"Action":["s3:*"],"Condition":{"NumericLessThan":{"s3:max-keys":10.50},"StringEquals":{"aws:SourceArn":"arn:aws:s3:::src","s3:prefix":"a&b<c>"}},"Effect":"Deny",` +
		`"NotResource":["arn:aws:s3:::dst","arn:aws:s3:::dst/public/*","arn:aws:s3:::src-other/*","arn:aws:s3:::srcx"],"Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Sid":"b"}],"Version":"2012-10-17"}`
	if string(out) != want {
		t.Errorf("rewritten policy\n got %s\nwant %s", out, want)
	}
	single, err := RewritePolicy(json.RawMessage(`{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::src"}}`), "src", "dst")
	if err != nil || !strings.Contains(string(single), `"Resource":"arn:aws:s3:::dst"`) {
		t.Errorf("single statement: %s %v", single, err)
	}
	if _, err := RewritePolicy(json.RawMessage(`[1,2]`), "src", "dst"); err == nil {
		t.Error("a policy that is not an object was accepted")
	}
}

func TestPolicy(t *testing.T) {
	f := newFixture(t)
	policy := fmt.Sprintf(`{
	  "Version": "2012-10-17",
	  "Statement": [
	    {"Sid": "ReadObjects", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
	     "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::%[1]s/*", "arn:aws:s3:::%[1]s"]}
	  ]}`, f.m.Source.Name)
	f.roundTrip("policy",
		func() {
			_, err := f.src().PutBucketPolicy(f.ctx, &s3.PutBucketPolicyInput{Bucket: &f.m.Source.Name, Policy: aws.String(policy)})
			f.must(err)
		},
		func() {
			_, err := f.src().DeleteBucketPolicy(f.ctx, &s3.DeleteBucketPolicyInput{Bucket: &f.m.Source.Name})
			f.must(err)
		},
		func() {
			out, err := f.dst().GetBucketPolicy(f.ctx, &s3.GetBucketPolicyInput{Bucket: &f.m.Dest.Name})
			f.must(err)
			got := aws.ToString(out.Policy)
			if strings.Contains(got, f.m.Source.Name) || !strings.Contains(got, "arn:aws:s3:::"+f.m.Dest.Name+"/*") {
				t.Errorf("destination policy still names the source or lacks the destination: %s", got)
			}
		})
}
