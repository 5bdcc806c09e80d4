package gpu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Cmd is one program run.
type Cmd struct {
	Path string
	Args []string
	Dir  string
	// Env is added to the runner's environment.
	Env   []string
	Stdin io.Reader
	// Stdout, when set, receives the program's standard output instead of
	// the log (for programs whose output is their result).
	Stdout io.Writer
}

func (c Cmd) String() string {
	return strings.Join(append([]string{c.Path}, c.Args...), " ")
}

// Executor runs programs.
type Executor interface {
	Run(ctx context.Context, c Cmd) error
}

// ProcessExecutor runs each program as a child process in its own process
// group, with its output written to Log. When ctx ends (cancellation, a
// lost lease, the job's time limit) the whole group is killed, so no
// grandchild outlives the job.
type ProcessExecutor struct {
	Log io.Writer
	// Elapsed, when set, is called with the wall time of each run.
	Elapsed func(time.Duration)
}

// Run implements Executor.
func (e ProcessExecutor) Run(ctx context.Context, c Cmd) error {
	cmd := exec.Command(c.Path, c.Args...)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Stdin = c.Stdin
	cmd.Stdout, cmd.Stderr = e.Log, e.Log
	if c.Stdout != nil {
		cmd.Stdout = c.Stdout
	}
	// Its own group, so a kill reaches every process it started; and killed
	// with the runner, should the runner die first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if e.Log != nil {
		fmt.Fprintf(e.Log, "$ %s\n", c)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", c.Path, err)
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			// Negative pid: the whole process group.
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		case <-done:
		}
	}()
	err := cmd.Wait()
	close(done)
	if e.Elapsed != nil {
		e.Elapsed(time.Since(start))
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s stopped: %w", c.Path, context.Cause(ctx))
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return fmt.Errorf("%s exited with status %d", c.Path, exit.ExitCode())
	}
	if err != nil {
		return fmt.Errorf("run %s: %w", c.Path, err)
	}
	return nil
}
