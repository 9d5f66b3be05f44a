package localcloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

const invokePrefix = "/2015-03-31/functions/"

var requestCounter atomic.Int64

// motoIdleConns is how many idle connections the router keeps to moto.
// http.DefaultTransport keeps 2 per host, so after every burst of
// concurrent calls (a configure sends ~45 at once, a sweep of 16 sources
// hundreds) all but 2 were closed and the next burst opened them again:
// bursts of new connections overflowed moto's listen backlog (the kernel
// logged SYN flooding on moto's port and reset connections, failing the
// calls on them), and each new connection costs the one Python process a
// thread start. Clients of real S3 keep their connections too
// (pkg/awsclient keeps 64 per host).
const motoIdleConns = 1024

func motoTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = motoIdleConns
	t.MaxIdleConnsPerHost = motoIdleConns
	return t
}

// ServeHTTP is the Lambda router: Invoke requests go to a registered
// function, everything else is proxied to moto unchanged.
func (c *Cloud) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := invokedFunction(r)
	if !ok {
		c.proxy.ServeHTTP(w, r)
		return
	}
	c.mu.RLock()
	handler, inProcess := c.functions[name]
	binary := c.binaries[name]
	c.mu.RUnlock()
	switch {
	case inProcess:
		c.invokeInProcess(w, r, name, handler)
	case binary != nil:
		binary.forward(w, r)
	default:
		// The real Lambda API's shape for an unknown function, so SDK
		// callers and Step Functions see ResourceNotFoundException.
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-Errortype", "ResourceNotFoundException")
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(map[string]string{
			"Type":    "User",
			"message": fmt.Sprintf("Function not found: %s", c.FunctionARN(name)),
		})
	}
}

// invokedFunction recognises POST /2015-03-31/functions/{name}/invocations,
// where name may be a plain name, a partial or full ARN, with a qualifier.
func invokedFunction(r *http.Request) (string, bool) {
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.EscapedPath(), invokePrefix) {
		return "", false
	}
	rest := strings.TrimPrefix(r.URL.EscapedPath(), invokePrefix)
	escaped, ok := strings.CutSuffix(rest, "/invocations")
	if !ok || escaped == "" || strings.Contains(escaped, "/") {
		return "", false
	}
	name, err := url.PathUnescape(escaped)
	if err != nil {
		return "", false
	}
	return functionName(name), true
}

// functionName reduces "arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]",
// "ACCOUNT:function:NAME" or "NAME[:QUALIFIER]" to NAME.
func functionName(id string) string {
	if i := strings.Index(id, "function:"); i >= 0 {
		id = id[i+len("function:"):]
	}
	name, _, _ := strings.Cut(id, ":")
	return name
}

func (c *Cloud) invokeInProcess(w http.ResponseWriter, r *http.Request, name string, handler lambdaHandler) {
	payload, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	lc := &lambdacontext.LambdaContext{
		AwsRequestID:       fmt.Sprintf("local-%d", requestCounter.Add(1)),
		InvokedFunctionArn: c.FunctionARN(name),
	}
	ctx := lambdacontext.NewContext(r.Context(), lc)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	out, err := safeInvoke(ctx, handler, payload)
	if err != nil {
		// Lambda answers 200 with X-Amz-Function-Error for a function error;
		// Step Functions then matches errorType in Retry/Catch.
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		_ = json.NewEncoder(w).Encode(invokeError(err))
		return
	}
	_, _ = w.Write(out)
}

type lambdaHandler interface {
	Invoke(context.Context, []byte) ([]byte, error)
}

// safeInvoke turns a panic into the error Lambda reports for one.
func safeInvoke(ctx context.Context, h lambdaHandler, payload []byte) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = messages.InvokeResponse_Error{Type: "Runtime.Panic", Message: fmt.Sprint(p)}
		}
	}()
	return h.Invoke(ctx, payload)
}

// invokeError mirrors aws-lambda-go: the error's Go type name becomes
// errorType, unless the handler returned an InvokeResponse_Error.
func invokeError(err error) messages.InvokeResponse_Error {
	var ire messages.InvokeResponse_Error
	if errors.As(err, &ire) {
		return ire
	}
	var pire *messages.InvokeResponse_Error
	if errors.As(err, &pire) && pire != nil {
		return *pire
	}
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return messages.InvokeResponse_Error{Message: err.Error(), Type: t.Name()}
}
