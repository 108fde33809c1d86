package capture

import _ "embed" // The capture script ships inside the binary.

// captureScript is the shell script every capture Job runs. The planner puts
// it into the ConfigMap once; each Job runs it with one argument
// <pod-name>/<pod-uid> per target Pod (see targetArg) and settings read from
// the ConfigMap's other keys. The script checks every argument and setting
// and never splices one into script text or a command line.
//
//go:embed capture.sh
var captureScript string
