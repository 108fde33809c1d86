//go:build e2e

package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is one program the harness started. It is stopped by its own PID
// and nothing else: the harness never signals a process it did not start.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}

	mu  sync.Mutex
	err error
}

// startProcess runs bin with args and extra environment, its output in
// dir/<name>.log. The child is also killed if the test binary dies before it
// can stop it (Pdeathsig), so a timed-out run leaves nothing behind.
func startProcess(dir, name, bin string, args, env []string) (*process, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		f.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended, and how.
func (p *process) exited() (bool, error) {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return true, p.err
	default:
		return false, nil
	}
}

// stop sends SIGTERM to the process's PID, waits up to grace, then SIGKILLs
// it. It returns how long it took.
func (p *process) stop(grace time.Duration) time.Duration {
	start := time.Now()
	if done, _ := p.exited(); done {
		return 0
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
		}
	}
	return time.Since(start)
}

// tail returns the last n lines of the process's log.
func (p *process) tail(n int) string {
	return tailFile(p.log, n)
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// freePort asks the kernel for a free port on 127.0.0.1. Another process
// may take it before ours binds it; the harness then fails to start and
// says so rather than using a port it does not own.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// run runs a command to completion and returns its combined output.
func run(dir string, env []string, timeout time.Duration, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return out.String(), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out.String())
		}
		return out.String(), nil
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		return out.String(), fmt.Errorf("%s %s: timed out after %s\n%s", name, strings.Join(args, " "), timeout, out.String())
	}
}

// errTimeout marks a bounded wait that ran out.
var errTimeout = errors.New("timed out")

// poll calls check every interval until it reports done, returns an error,
// or timeout passes. On timeout the error carries check's last words.
func poll(timeout, interval time.Duration, check func() (done bool, state string, err error)) error {
	deadline := time.Now().Add(timeout)
	var state string
	for {
		done, s, err := check()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		state = s
		if time.Now().After(deadline) {
			return fmt.Errorf("%w after %s; last seen: %s", errTimeout, timeout, state)
		}
		time.Sleep(interval)
	}
}
