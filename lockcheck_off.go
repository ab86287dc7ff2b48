//go:build !epchat_lockcheck

package epchat

// lockCheck is false in the ordinary build: no lock is checked.
const lockCheck = false

func lockTaken(lockRank, string)    {}
func lockReleased(lockRank, string) {}

// lockChecks is the number of locks checked: none.
func lockChecks() int64 { return 0 }
