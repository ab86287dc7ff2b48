//go:build !linux

package redisstore

import "os/exec"

// dieWithTest does nothing here: only Linux can tie a child's life to its
// parent's. A killed test binary may leave its redis-server running.
func dieWithTest(*exec.Cmd) {}

// stopped cannot tell here: it says yes, and pause returns once the signal
// is sent.
func stopped(int) bool { return true }
