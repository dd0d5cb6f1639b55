package bench

import (
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of CPU times in /proc/<pid>/stat.
const clockTicks = 100

// procCPU returns the user+system CPU time of a process from
// /proc/<pid>/stat, or false when it is gone.
func procCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	return parseStatCPU(string(b))
}

func parseStatCPU(s string) (time.Duration, bool) {
	closing := strings.LastIndexByte(s, ')')
	if closing < 0 || closing+2 > len(s) {
		return 0, false
	}
	f := strings.Fields(s[closing+2:])
	if len(f) < 13 {
		return 0, false
	}
	u, _ := strconv.ParseInt(f[11], 10, 64) // utime (field 14)
	k, _ := strconv.ParseInt(f[12], 10, 64) // stime (field 15)
	return time.Duration(u+k) * (time.Second / clockTicks), true
}

// procPeakRSS returns VmHWM, the peak resident set size, in bytes.
func procPeakRSS(pid int) (int64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024, true
			}
		}
	}
	return 0, false
}

// postgresBackends returns the CPU time of each PostgreSQL backend serving
// one of the given databases (its command line names the database) and of
// the server's background processes (WAL writer, checkpointer…), which
// every database shares, by pid. Backends of other databases on the same
// server are left out, so that other users of the server do not count.
func postgresBackends(databases []string) map[int]time.Duration {
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	out := map[int]time.Duration{}
	for _, f := range cmdlines {
		b, err := os.ReadFile(f)
		if err != nil || !strings.HasPrefix(string(b), "postgres:") {
			continue
		}
		cl := strings.TrimRight(strings.ReplaceAll(string(b), "\x00", " "), " ")
		ours := false
		switch {
		case strings.Contains(cl, "walwriter"), strings.Contains(cl, "checkpointer"), strings.Contains(cl, "background writer"):
			ours = true
		default:
			// "postgres: 15/main: user database host(port) state"
			fields := strings.Fields(cl)
			if len(fields) >= 4 {
				for _, db := range databases {
					if fields[3] == db {
						ours = true
					}
				}
			}
		}
		if !ours {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		if cpu, ok := procCPU(pid); ok {
			out[pid] = cpu
		}
	}
	return out
}

// selfPeakRSS is the bench process's own peak resident set size.
func selfPeakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss * 1024
}

// startSelfProfile writes a CPU profile of the bench process for d.
func startSelfProfile(w io.Writer, d time.Duration) error {
	if err := pprof.StartCPUProfile(w); err != nil {
		return err
	}
	time.Sleep(d)
	pprof.StopCPUProfile()
	return nil
}
