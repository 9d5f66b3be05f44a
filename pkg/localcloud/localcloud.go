// Package localcloud runs the embedded local cloud used by `make demo`, the
// CLI's `local` command and the tests: moto_server (S3, DynamoDB, Step
// Functions, EventBridge, SQS, KMS, the Tagging API) behind a Lambda router
// written in Go.
//
// Why a router: moto's Step Functions calls Lambda at
// http://localhost:$MOTO_PORT. We start moto with MOTO_PORT set to the
// router's port, so Task states reach our Go handlers (or real bootstrap
// binaries under aws-lambda-rie), while every other request is proxied to moto
// unchanged. Clients use the router's URL as their single endpoint.
package localcloud

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

//go:embed launcher.py
var launcherPy []byte

// Default identity of the local cloud. moto accepts any credentials; the
// account id is moto's default so ARNs built by the code match moto's.
const (
	DefaultRegion = "us-east-1"
	AccountID     = "123456789012"
	AccessKeyID   = "testing"
	SecretKey     = "testing"
	// moto imports every service on start: seconds on an idle machine, over a
	// minute when other builds and emulators share the 2 cores (seen: a test
	// run beside five others timed out at 60 s).
	readyTimeout   = 3 * time.Minute
	stopGracePriod = 5 * time.Second
)

// Options configure Start. The zero value is usable.
type Options struct {
	// Region is the home Region printed for clients (default us-east-1).
	Region string
	// Dir receives moto.log and the launcher; a temporary directory when empty.
	Dir string
	// Python is the interpreter that has moto installed (default python3).
	Python string
}

// Cloud is a running local cloud. Close stops everything it started.
type Cloud struct {
	// Endpoint is the URL every AWS client should use (the router).
	Endpoint string
	Region   string
	// LogPath is moto's log file.
	LogPath string

	motoURL *url.URL
	router  *http.Server
	proxy   *httputil.ReverseProxy
	moto    *child
	tempDir string

	mu        sync.RWMutex
	functions map[string]lambda.Handler
	binaries  map[string]*rieFunction

	closeOnce sync.Once
	closeErr  error
}

// ErrMotoMissing is returned by Start when moto_server cannot be run.
var ErrMotoMissing = errors.New("moto is not installed for this python: install moto 5.2.1 with its server extras (pip install 'moto[server]==5.2.1')")

// Start launches moto through the embedded launcher and the Lambda router,
// and returns once both answer. The caller must Close the cloud.
func Start(ctx context.Context, opts Options) (*Cloud, error) {
	if opts.Region == "" {
		opts.Region = DefaultRegion
	}
	if opts.Python == "" {
		opts.Python = "python3"
	}
	c := &Cloud{Region: opts.Region, functions: map[string]lambda.Handler{}, binaries: map[string]*rieFunction{}}
	dir := opts.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "bucketmirror-localcloud-")
		if err != nil {
			return nil, fmt.Errorf("creating local cloud directory: %w", err)
		}
		dir, c.tempDir = d, d
	}
	if err := checkMoto(ctx, opts.Python); err != nil {
		c.removeTemp()
		return nil, err
	}
	launcher := filepath.Join(dir, "launcher.py")
	if err := os.WriteFile(launcher, launcherPy, 0o644); err != nil {
		c.removeTemp()
		return nil, fmt.Errorf("writing moto launcher: %w", err)
	}

	routerLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.removeTemp()
		return nil, fmt.Errorf("listening for the lambda router: %w", err)
	}
	routerPort := routerLn.Addr().(*net.TCPAddr).Port
	motoPort, err := freePort()
	if err != nil {
		routerLn.Close()
		c.removeTemp()
		return nil, err
	}
	c.Endpoint = fmt.Sprintf("http://127.0.0.1:%d", routerPort)
	c.motoURL = &url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", motoPort)}
	c.proxy = httputil.NewSingleHostReverseProxy(c.motoURL)
	c.proxy.Transport = motoTransport()
	c.router = &http.Server{Handler: c, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = c.router.Serve(routerLn) }()

	c.LogPath = filepath.Join(dir, "moto.log")
	logFile, err := os.Create(c.LogPath)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("creating moto log: %w", err)
	}
	env := append(os.Environ(),
		fmt.Sprintf("MOTO_PORT=%d", routerPort),
		"AWS_ACCESS_KEY_ID="+AccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+SecretKey,
		"AWS_DEFAULT_REGION="+opts.Region,
		"PYTHONUNBUFFERED=1",
	)
	cmd := exec.Command(opts.Python, launcher, "--host", "127.0.0.1", "--port", fmt.Sprint(motoPort))
	cmd.Env = env
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	c.moto, err = startChild(cmd)
	if err != nil {
		logFile.Close()
		c.Close()
		return nil, fmt.Errorf("starting moto: %w", err)
	}
	logFile.Close() // the child holds its own descriptor

	if err := c.waitReady(ctx); err != nil {
		tail := c.LogTail(20)
		c.Close()
		return nil, fmt.Errorf("%w\nmoto log (%s):\n%s", err, c.LogPath, tail)
	}
	return c, nil
}

func (c *Cloud) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	body := []byte(`{"stepfunctions":{"execute_state_machine":true}}`)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.motoURL.String()+"/moto-api/config", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode < 300 {
				return nil
			}
		}
		select {
		case <-c.moto.exited:
			return fmt.Errorf("moto exited before it was ready: %v", c.moto.err)
		case <-ctx.Done():
			return fmt.Errorf("moto did not answer within %s", readyTimeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Register serves handler for POST /2015-03-31/functions/{name}/invocations.
func (c *Cloud) Register(name string, handler lambda.Handler) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.functions[name] = handler
}

// FunctionARN is the ARN under which a registered function is invoked.
func (c *Cloud) FunctionARN(name string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", c.Region, AccountID, name)
}

// AWSConfig returns an SDK configuration aimed at the local cloud.
func (c *Cloud) AWSConfig() aws.Config {
	return aws.Config{
		Region:       c.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretKey, ""),
		BaseEndpoint: aws.String(c.Endpoint),
	}
}

// Env returns the NAME=value pairs a shell needs to use the local cloud.
func (c *Cloud) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + c.Endpoint,
		"AWS_REGION=" + c.Region,
		"AWS_ACCESS_KEY_ID=" + AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + SecretKey,
	}
}

// Reset wipes every emulated resource, keeping processes and registrations.
func (c *Cloud) Reset(ctx context.Context) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.motoURL.String()+"/moto-api/reset", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("resetting moto: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("resetting moto: HTTP %d", resp.StatusCode)
	}
	return c.waitReady(ctx) // reset clears moto's config too
}

// LogTail returns the last n lines of moto's log.
func (c *Cloud) LogTail(n int) string {
	data, err := os.ReadFile(c.LogPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Close stops moto (its whole process group), the router and any
// aws-lambda-rie processes. It is safe to call more than once.
func (c *Cloud) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		binaries := c.binaries
		c.binaries = map[string]*rieFunction{}
		c.mu.Unlock()
		var errs []error
		for _, f := range binaries {
			errs = append(errs, f.stop())
		}
		if c.moto != nil {
			errs = append(errs, c.moto.stop())
		}
		if c.router != nil {
			// Connections still open (an SQS long poll, a client that never
			// closed its keep-alive) are cut after a grace period: the
			// emulator behind them is gone already.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			err := c.router.Shutdown(ctx)
			if errors.Is(err, context.DeadlineExceeded) {
				err = c.router.Close()
			}
			errs = append(errs, err)
			cancel()
		}
		c.removeTemp()
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}

func (c *Cloud) removeTemp() {
	if c.tempDir != "" {
		os.RemoveAll(c.tempDir)
	}
}

func checkMoto(ctx context.Context, python string) error {
	if _, err := exec.LookPath(python); err != nil {
		return fmt.Errorf("%w: %s not found on PATH", ErrMotoMissing, python)
	}
	out, err := exec.CommandContext(ctx, python, "-c", "import moto.server, flask, werkzeug").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", ErrMotoMissing, strings.TrimSpace(string(out)))
	}
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// MotoPID is the process id of the emulator (the leader of its process group).
func (c *Cloud) MotoPID() int { return c.moto.cmd.Process.Pid }
