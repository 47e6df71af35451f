package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/<pid>/stat. It is
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// procCPU returns the user+system CPU time a process has used so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may contain spaces:
	// fields are counted after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("bench: unexpected /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// After ')': state is field 3, so utime (14) is f[11] and stime (15) f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("bench: short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bench: bad /proc/%d/stat", pid)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// procMem returns VmRSS and VmHWM (peak RSS) of a process, in bytes.
func procMem(pid int) (rss, hwm int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) < 1 {
			continue
		}
		n, _ := strconv.ParseInt(fs[0], 10, 64)
		if k == "VmRSS" {
			rss = n * 1024
		} else {
			hwm = n * 1024
		}
	}
	return rss, hwm, sc.Err()
}

// selfCPU is this process's user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineCPU returns busy and total jiffies of the whole machine
// (/proc/stat first line), to compute how saturated the cores were.
func machineCPU() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0
	}
	for i, s := range f[1:] {
		n, _ := strconv.ParseInt(s, 10, 64)
		// guest and guest_nice (fields 9, 10) are already in user/nice.
		if i >= 8 {
			break
		}
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

// rssSampler polls a process's RSS while the load runs; VmHWM gives the
// lifetime peak, this gives the peak under load.
type rssSampler struct {
	pid  int
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	max  int64
}

func sampleRSS(pid int, every time.Duration) *rssSampler {
	s := &rssSampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if rss, _, err := procMem(pid); err == nil {
				s.mu.Lock()
				if rss > s.max {
					s.max = rss
				}
				s.mu.Unlock()
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *rssSampler) Stop() int64 {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max
}

// cpuSnapshot is a point in time of the server's, the bench's and the
// machine's CPU counters.
type cpuSnapshot struct {
	at           time.Time
	server       time.Duration
	self         time.Duration
	busy, jiffie int64
}

func snapshot(serverPID int) cpuSnapshot {
	s := cpuSnapshot{at: time.Now(), self: selfCPU()}
	if serverPID > 0 {
		s.server, _ = procCPU(serverPID)
	}
	s.busy, s.jiffie = machineCPU()
	return s
}

// cpuUsage is CPU use between two snapshots, in cores (1.0 = one core busy).
type cpuUsage struct {
	Server  float64 // openpsp server process (-1: unknown, in-process)
	Client  float64 // this process (load generator; plus the server in-process)
	Machine float64 // every process, e.g. PostgreSQL
}

func usageBetween(a, b cpuSnapshot, cores int) cpuUsage {
	wall := b.at.Sub(a.at).Seconds()
	if wall <= 0 {
		return cpuUsage{}
	}
	u := cpuUsage{Server: -1}
	if b.server > 0 || a.server > 0 {
		u.Server = (b.server - a.server).Seconds() / wall
	}
	u.Client = (b.self - a.self).Seconds() / wall
	if dt := b.jiffie - a.jiffie; dt > 0 {
		u.Machine = float64(b.busy-a.busy) / float64(dt) * float64(cores)
	}
	return u
}
