package localcloud

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
)

// ErrRIEMissing is returned when the aws-lambda-rie binary cannot be found.
var ErrRIEMissing = errors.New("aws-lambda-rie not found: install it with `go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@latest`")

// rieFunction is a real bootstrap binary running under aws-lambda-rie, the
// same emulator `sam local invoke` runs inside its container.
type rieFunction struct {
	url  string
	proc *child
}

// RIEPath finds aws-lambda-rie on PATH, in a .tools directory above the
// working directory, or in the Go bin directory.
func RIEPath() (string, error) {
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p, nil
	}
	candidates := []string{os.Getenv("GOBIN")}
	// `make tools` installs it into the repository's .tools: find that too,
	// so a plain `go test` in any package works after it.
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			candidates = append(candidates, filepath.Join(dir, ".tools"))
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	if gopath := os.Getenv("GOPATH"); gopath != "" {
		candidates = append(candidates, filepath.Join(filepath.SplitList(gopath)[0], "bin"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates, filepath.Join(home, "go", "bin"))
	}
	for _, dir := range candidates {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, "aws-lambda-rie")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", ErrRIEMissing
}

// RegisterBinary serves name by a bootstrap binary under aws-lambda-rie. The
// function sees the local cloud's environment (endpoint, Region, test
// credentials) plus env. Its output goes to the moto log's directory.
func (c *Cloud) RegisterBinary(ctx context.Context, name, bootstrap string, env []string) error {
	rie, err := RIEPath()
	if err != nil {
		return err
	}
	apiPort, err := freePort()
	if err != nil {
		return err
	}
	runtimePort, err := freePort()
	if err != nil {
		return err
	}
	logFile, err := os.Create(c.functionLogPath(name))
	if err != nil {
		return fmt.Errorf("creating log for function %s: %w", name, err)
	}
	defer logFile.Close()
	apiAddr := fmt.Sprintf("127.0.0.1:%d", apiPort)
	cmd := exec.Command(rie,
		"--runtime-interface-emulator-address", apiAddr,
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", runtimePort),
		bootstrap)
	cmd.Env = append(append(os.Environ(), c.Env()...),
		"AWS_LAMBDA_FUNCTION_NAME="+name,
		"AWS_LAMBDA_FUNCTION_TIMEOUT=300",
		"AWS_LAMBDA_LOG_FORMAT=JSON",
	)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	proc, err := startChild(cmd)
	if err != nil {
		return fmt.Errorf("starting aws-lambda-rie for %s: %w", name, err)
	}
	if err := waitListening(ctx, apiAddr, proc); err != nil {
		return errors.Join(fmt.Errorf("aws-lambda-rie for %s: %w", name, err), proc.stop())
	}
	c.mu.Lock()
	old := c.binaries[name]
	c.binaries[name] = &rieFunction{url: "http://" + apiAddr + "/2015-03-31/functions/function/invocations", proc: proc}
	c.mu.Unlock()
	if old != nil {
		return old.stop()
	}
	return nil
}

func (c *Cloud) functionLogPath(name string) string {
	return filepath.Join(filepath.Dir(c.LogPath), name+".rie.log")
}

// FunctionLog is everything a function registered with RegisterBinary has
// written so far (aws-lambda-rie's lines and the function's own: its JSON
// logs, EMF lines, a crash's stack), for reports while the cloud runs —
// Close removes the file with the cloud's directory.
func (c *Cloud) FunctionLog(name string) (string, error) {
	b, err := os.ReadFile(c.functionLogPath(name))
	if err != nil {
		return "", fmt.Errorf("reading the log of function %s: %w", name, err)
	}
	return string(b), nil
}

func waitListening(ctx context.Context, addr string, proc *child) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-proc.exited:
			return fmt.Errorf("exited before listening: %v", proc.err)
		case <-ctx.Done():
			return fmt.Errorf("not listening on %s: %w", addr, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// forward invokes the function under aws-lambda-rie. The emulator returns a
// function error as a plain 200 body without Lambda's X-Amz-Function-Error
// header (it drops the runtime's Error-Type header), so the router recognises
// the error payload and sets the header as the Lambda service would.
func (f *rieFunction) forward(w http.ResponseWriter, r *http.Request) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, f.url, r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	if fnErr, failed := rieFunctionError(resp.StatusCode, body); failed {
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		_ = json.NewEncoder(w).Encode(fnErr)
		return
	}
	_, _ = w.Write(body)
}

func rieFunctionError(status int, body []byte) (messages.InvokeResponse_Error, bool) {
	var payload messages.InvokeResponse_Error
	if status != http.StatusOK {
		// A crash or timeout: the body is the emulator's text, if any.
		return messages.InvokeResponse_Error{Type: "Runtime.ExitError", Message: fmt.Sprintf("HTTP %d from aws-lambda-rie: %s", status, body)}, true
	}
	if bytes.HasPrefix(body, []byte("Task timed out")) {
		return messages.InvokeResponse_Error{Type: "Sandbox.Timedout", Message: string(body)}, true
	}
	var probe map[string]json.RawMessage
	if json.Unmarshal(body, &probe) != nil {
		return payload, false
	}
	_, hasType := probe["errorType"]
	_, hasMessage := probe["errorMessage"]
	if !hasType || !hasMessage || json.Unmarshal(body, &payload) != nil {
		return payload, false
	}
	return payload, true
}

func (f *rieFunction) stop() error { return f.proc.stop() }
