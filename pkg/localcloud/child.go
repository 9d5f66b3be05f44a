package localcloud

import (
	"fmt"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

const stopGracePeriod = 5 * time.Second

// child is a process we started and must stop: moto or an aws-lambda-rie.
type child struct {
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the process has been reaped
	err     error         // exit status, valid after exited is closed
	release chan struct{}
}

// startChild starts cmd on a goroutine locked to its OS thread and keeps that
// thread alive until stop: Pdeathsig fires when the *thread* that forked the
// child exits, so the lock ties the child's life to ours even if the test
// binary is killed, and nothing fires it early.
func startChild(cmd *exec.Cmd) (*child, error) {
	ch := &child{cmd: cmd, exited: make(chan struct{}), release: make(chan struct{})}
	cmd.SysProcAttr = childProcAttr()
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			runtime.UnlockOSThread()
			return
		}
		started <- nil
		go func() {
			ch.err = cmd.Wait()
			close(ch.exited)
		}()
		<-ch.release
		// Return while locked: the thread exits with the goroutine, after
		// the child is gone.
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return ch, nil
}

// stop sends SIGTERM to the child's process group, then SIGKILL if it has
// not exited within the grace period.
func (ch *child) stop() error {
	defer close(ch.release)
	pid := ch.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-ch.exited:
		return nil
	case <-time.After(stopGracePeriod):
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	select {
	case <-ch.exited:
		return nil
	case <-time.After(stopGracePeriod):
		return fmt.Errorf("process %d (%s) did not exit after SIGKILL", pid, ch.cmd.Path)
	}
}
