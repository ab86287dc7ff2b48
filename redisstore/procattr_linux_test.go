package redisstore

import (
	"os/exec"
	"runtime"
	"syscall"
)

// dieWithTest makes the kernel stop redis-server if the test binary dies
// without running its cleanup (killed, or its output pipe closed). The
// signal is tied to the thread that started the child, so the caller's
// goroutine stays locked to it for the whole run.
func dieWithTest(cmd *exec.Cmd) {
	runtime.LockOSThread()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
