package guest

// CtrlCArg, as the first argument of the agent's executable, makes it the
// helper that sends a Ctrl-C to a Windows command's console (see
// ctrlc_windows.go); the pids to try follow it. A program that starts
// commands with this package must hand such a run to CtrlCHelper.
const CtrlCArg = "send-ctrl-c"
