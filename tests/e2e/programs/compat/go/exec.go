// os/exec: a shell pipeline, stdin fed from Go, and an exit status.
package main

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

func main() {
	out, err := exec.Command("sh", "-c", "seq 1 10 | tac | head -3 | paste -sd+").Output()
	fmt.Printf("pipeline %q %v\n", strings.TrimSpace(string(out)), err)
	cmd := exec.Command("sort", "-r")
	cmd.Stdin = strings.NewReader("b\nc\na\n")
	out, err = cmd.Output()
	fmt.Printf("sort %q %v\n", string(out), err)
	err = exec.Command("sh", "-c", "exit 7").Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		fmt.Println("exit", ee.ExitCode())
	}
}
