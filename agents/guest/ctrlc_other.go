//go:build !windows

package guest

import (
	"fmt"
	"os"
)

// CtrlCHelper is a Windows agent's: elsewhere a signal does its work.
func CtrlCHelper([]string) int {
	fmt.Fprintf(os.Stderr, "spirit-agent %s: only a Windows agent sends console Ctrl-C\n", CtrlCArg)
	return 2
}
