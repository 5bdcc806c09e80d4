//go:build unix

package firestoretest

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// watchdog runs the launcher and, once it or the test binary (its first
// argument) is gone, kills its own process group.
const watchdog = `parent="$1"; shift
"$@" &
child=$!
while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 1; done
kill -KILL 0`

// command runs the launcher with args under the watchdog, in a process
// group of its own.
func command(launcher string, args ...string) *exec.Cmd {
	argv := append([]string{"-c", watchdog, "watchdog", strconv.Itoa(os.Getpid()), launcher}, args...)
	cmd := exec.Command("/bin/sh", argv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// signalGroup signals cmd's whole process group: SIGTERM, or SIGKILL.
func signalGroup(cmd *exec.Cmd, kill bool) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	syscall.Kill(-cmd.Process.Pid, sig)
}
