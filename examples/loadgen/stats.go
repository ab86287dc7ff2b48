//go:build linux

package main

import (
	"bytes"
	"math/bits"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// Latency histogram: log-linear buckets of nanoseconds, 64 per power of
// two (values below 64 ns are exact), so a quantile is within 1.6 % of the
// true value. Members record into one of several shards so that the two
// cores rarely write the same cache lines; the shards are summed at the end.
const (
	subBits  = 6
	nBuckets = (64 - subBits + 1) << subBits
	nShards  = 32
)

type histogram struct {
	shards [nShards]struct {
		counts [nBuckets]atomic.Uint64
		max    atomic.Int64
	}
}

func newHistogram() *histogram { return new(histogram) }

func bucketOf(v uint64) int {
	if v < 1<<subBits {
		return int(v)
	}
	e := bits.Len64(v) - subBits - 1
	return (e+1)<<subBits + int(v>>e) - 1<<subBits
}

// bucketLow is the smallest value that falls in bucket i.
func bucketLow(i int) uint64 {
	if i < 1<<subBits {
		return uint64(i)
	}
	e := i>>subBits - 1
	m := uint64(i&(1<<subBits-1) + 1<<subBits)
	return m << e
}

// record adds one latency in nanoseconds; negative values count as 0.
func (h *histogram) record(shard int, ns int64) {
	ns = max(ns, 0)
	s := &h.shards[shard%nShards]
	s.counts[bucketOf(uint64(ns))].Add(1)
	for {
		m := s.max.Load()
		if ns <= m || s.max.CompareAndSwap(m, ns) {
			break
		}
	}
}

// quantiles returns, for each q in 0..1, the middle of the bucket holding
// that quantile, in nanoseconds; 0 when nothing was recorded.
func (h *histogram) quantiles(qs ...float64) []int64 {
	var sum [nBuckets]uint64
	var total uint64
	for s := range h.shards {
		for i := range sum {
			n := h.shards[s].counts[i].Load()
			sum[i] += n
			total += n
		}
	}
	out := make([]int64, len(qs))
	if total == 0 {
		return out
	}
	for k, q := range qs {
		rank := uint64(q * float64(total))
		if rank >= total {
			rank = total - 1
		}
		var seen uint64
		for i, n := range sum {
			seen += n
			if seen > rank {
				lo, hi := bucketLow(i), bucketLow(i+1)
				out[k] = int64(lo + (hi-lo)/2)
				break
			}
		}
	}
	return out
}

func (h *histogram) max() int64 {
	var m int64
	for s := range h.shards {
		m = max(m, h.shards[s].max.Load())
	}
	return m
}

// rss reads the resident set size of process pid from /proc/PID/status,
// in bytes; 0 when pid is 0 or unreadable.
func rss(pid int) int64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := bytes.Fields(v) // "1234", "kB"
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(string(f[0]), 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// clockTick is USER_HZ, the unit of /proc/PID/stat times: 100 on every
// Linux build this tool targets (sysconf(_SC_CLK_TCK) needs cgo).
const clockTick = 10 * time.Millisecond

// procCPU reads the user plus system CPU time of process pid, all its
// threads, from /proc/PID/stat (10 ms resolution); 0 when pid is 0 or
// unreadable.
func procCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name is in parentheses and may hold spaces: count the
	// fields after the last ')'. utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(string(f[11]), 10, 64)
	st, _ := strconv.ParseInt(string(f[12]), 10, 64)
	return time.Duration(ut+st) * clockTick
}

// selfCPU is this process's user plus system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// raiseNoFile lifts the soft limit on open files to the hard limit and,
// when that is below need and the process may (root), the hard limit too.
// It returns the soft limit in effect.
func raiseNoFile(need uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Max < need {
		up := syscall.Rlimit{Cur: need, Max: need}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &up) == nil {
			return need, nil
		}
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, err
		}
	}
	return lim.Cur, nil
}
