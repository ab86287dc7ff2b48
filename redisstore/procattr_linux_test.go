package redisstore

import (
	"bytes"
	"os"
	"os/exec"
	"runtime"
	"strconv"
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

// stopped reports whether process pid is stopped (by SIGSTOP), from its
// state in /proc.
func stopped(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')') // the command name may hold anything
	return i >= 0 && i+2 < len(b) && (b[i+2] == 'T' || b[i+2] == 't')
}
