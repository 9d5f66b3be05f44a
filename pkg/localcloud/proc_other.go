//go:build !linux

package localcloud

import "syscall"

// childProcAttr puts moto in its own process group so Close can stop the
// whole group. Only Linux offers Pdeathsig; elsewhere Close is the only stop.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
