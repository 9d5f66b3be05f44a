// Command failer is a tiny Lambda used to prove that the router serves real
// bootstrap binaries under aws-lambda-rie: it echoes its input, or fails with
// a named error when asked to.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
)

type request struct {
	Echo string `json:"echo"`
	Fail bool   `json:"fail"`
}

type refusedError struct{ what string }

func (e refusedError) Error() string { return "refused " + e.what }

func main() {
	lambda.Start(func(ctx context.Context, r request) (map[string]string, error) {
		if r.Fail {
			return nil, refusedError{what: r.Echo}
		}
		return map[string]string{"echo": r.Echo}, nil
	})
}
