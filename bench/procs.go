package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// CommandFunc builds the command that runs one process of the stack. Roles:
//
//	"api", "worker"     leadflow api / leadflow worker (configured by env)
//	"temporal-server"   the embedded Temporal server (RunTemporalServer's flags)
//	"baseline-worker"   the baselines' worker (RunBaselineWorker's flags)
//
// Profile asks for the api and worker variants that also serve
// net/http/pprof at $LEADFLOW_BENCH_PPROF_ADDR.
type CommandFunc func(role string, profile bool, args ...string) *exec.Cmd

// proc is a child process of the bench, restartable, with its CPU time and
// peak memory kept across incarnations.
type proc struct {
	name    string
	role    string
	args    []string
	env     []string
	logPath string
	profile bool
	// addr: the API's HTTP address, a worker's metrics address.
	addr      string
	pprofAddr string

	// expectDown is set while the bench has killed the process on purpose.
	expectDown atomic.Bool

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	pastCPU  time.Duration // finished incarnations
	peakRSS  int64
	restarts int
}

// start runs the process. ready, when not nil, receives its first line of
// standard output (the temporal server's "READY host:port").
func (p *proc) start(command CommandFunc) (firstLine <-chan string, err error) {
	cmd := command(p.role, p.profile, p.args...)
	cmd.Env = append(cmd.Environ(), p.env...)
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logf, "---- %s start %s\n", p.name, time.Now().Format(time.RFC3339Nano))
	cmd.Stderr = logf
	line := make(chan string, 1)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("error starting %s: %w", p.name, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		first := true
		for sc.Scan() {
			if first {
				line <- strings.TrimSpace(sc.Text())
				first = false
			}
			fmt.Fprintln(logf, sc.Text())
		}
		if first {
			close(line)
		}
	}()
	done := make(chan struct{})
	p.mu.Lock()
	if p.cmd != nil {
		p.restarts++
	}
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		p.mu.Lock()
		if st := cmd.ProcessState; st != nil {
			if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
				p.pastCPU += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
				if rss := ru.Maxrss * 1024; rss > p.peakRSS {
					p.peakRSS = rss
				}
			}
		}
		p.mu.Unlock()
		fmt.Fprintf(logf, "---- %s exited %s: %v\n", p.name, time.Now().Format(time.RFC3339Nano), cmd.ProcessState)
		logf.Close()
		close(done)
	}()
	return line, nil
}

func (p *proc) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

func (p *proc) alive() bool {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL (kill -9) and waits for the process to be gone.
func (p *proc) kill() {
	p.signal(syscall.SIGKILL, 0)
}

// pause stops the process where it is (SIGSTOP), as a machine that
// freezes: its connections stay open, it answers nothing.
func (p *proc) pause() error {
	pid := p.pid()
	if pid == 0 || !p.alive() {
		return fmt.Errorf("%s is not running", p.name)
	}
	return syscall.Kill(pid, syscall.SIGSTOP)
}

// resume continues a paused process (SIGCONT).
func (p *proc) resume() error {
	pid := p.pid()
	if pid == 0 {
		return fmt.Errorf("%s is not running", p.name)
	}
	return syscall.Kill(pid, syscall.SIGCONT)
}

// stop asks the process to stop (SIGTERM), then kills it after grace.
func (p *proc) stop(grace time.Duration) {
	p.signal(syscall.SIGTERM, grace)
}

func (p *proc) signal(sig syscall.Signal, grace time.Duration) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil || done == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
		return
	case <-time.After(grace):
	}
	_ = cmd.Process.Kill()
	<-done
}

// exited is closed when the current incarnation ends.
func (p *proc) exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// cpu is the CPU time of every incarnation so far.
func (p *proc) cpu() time.Duration {
	p.mu.Lock()
	past := p.pastCPU
	p.mu.Unlock()
	if pid := p.pid(); pid != 0 && p.alive() {
		if c, ok := procCPU(pid); ok {
			return past + c
		}
	}
	return past
}

// peak is the largest peak RSS of every incarnation so far.
func (p *proc) peak() int64 {
	p.mu.Lock()
	peak := p.peakRSS
	p.mu.Unlock()
	if pid := p.pid(); pid != 0 && p.alive() {
		if r, ok := procPeakRSS(pid); ok && r > peak {
			return r
		}
	}
	return peak
}

// waitLine waits for the first output line of a starting process.
func waitLine(ctx context.Context, p *proc, line <-chan string, timeout time.Duration) (string, error) {
	select {
	case l, ok := <-line:
		if !ok {
			return "", fmt.Errorf("%s exited before it was ready (see %s)", p.name, p.logPath)
		}
		return l, nil
	case <-p.exited():
		return "", fmt.Errorf("%s exited before it was ready (see %s)", p.name, p.logPath)
	case <-time.After(timeout):
		return "", fmt.Errorf("%s not ready after %s (see %s)", p.name, timeout, p.logPath)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// tailLog returns the last lines of a process log, for error messages.
func tailLog(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
