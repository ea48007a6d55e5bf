//go:build windows

package guest

import (
	"fmt"
	"os"
	"os/signal"
	"testing"
	"time"
)

// ctrlCEnv makes the test binary a program that handles Ctrl-C: "save"
// says so and exits as Ctrl-C's default does, "ignore" ignores it.
const ctrlCEnv = "SPIRIT_TEST_CTRLC"

// TestMain lets the test binary stand in for the agent's executable,
// which the agent re-runs as its Ctrl-C helper, and for a command that
// handles Ctrl-C.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == CtrlCArg {
		os.Exit(CtrlCHelper(os.Args[2:]))
	}
	if mode := os.Getenv(ctrlCEnv); mode != "" {
		os.Exit(ctrlCProgram(mode))
	}
	os.Exit(m.Run())
}

func ctrlCProgram(mode string) int {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt)
	fmt.Println("started")
	deadline := time.After(time.Minute)
	for {
		select {
		case <-ch:
			if mode == "ignore" {
				fmt.Println("ignored a Ctrl-C")
				continue
			}
			fmt.Println("got Ctrl-C: saved")
			return int(statusControlCExit)
		case <-deadline:
			fmt.Println("no Ctrl-C came")
			return 3
		}
	}
}
