package localcloud

import "syscall"

// childProcAttr puts moto in its own process group (so Close can stop the
// whole group, including anything werkzeug forks) and asks the kernel to kill
// it if we die without calling Close (a killed or timed-out test binary).
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
