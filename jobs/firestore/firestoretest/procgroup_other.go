//go:build !unix

package firestoretest

import "os/exec"

func command(launcher string, args ...string) *exec.Cmd { return exec.Command(launcher, args...) }

func signalGroup(cmd *exec.Cmd, _ bool) {
	if cmd != nil && cmd.Process != nil {
		cmd.Process.Kill()
	}
}
