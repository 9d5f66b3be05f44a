package bucketconfig

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestRequesterPays(t *testing.T) {
	f := newFixture(t)
	putPayer := func(payer types.Payer) {
		_, err := f.src().PutBucketRequestPayment(f.ctx, &s3.PutBucketRequestPaymentInput{Bucket: &f.m.Source.Name,
			RequestPaymentConfiguration: &types.RequestPaymentConfiguration{Payer: payer}})
		f.must(err)
	}
	destPayer := func() types.Payer {
		out, err := f.dst().GetBucketRequestPayment(f.ctx, &s3.GetBucketRequestPaymentInput{Bucket: &f.m.Dest.Name})
		f.must(err)
		return out.Payer
	}
	f.roundTrip("requester-pays",
		func() { putPayer(types.PayerRequester) },
		func() { putPayer(types.PayerBucketOwner) },
		func() {
			if got := destPayer(); got != types.PayerRequester {
				t.Errorf("destination payer = %q, want Requester", got)
			}
		})
	if got := destPayer(); got != types.PayerBucketOwner {
		t.Errorf("destination payer after removal = %q, want BucketOwner", got)
	}
}
