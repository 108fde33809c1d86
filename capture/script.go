package capture

import _ "embed" // The capture script ships inside the binary.

// captureScript is the shell script every capture Job runs. The planner puts
// it into the ConfigMap once; Jobs run it with per-Pod values in their
// environment and settings read from the ConfigMap's other keys, so no user
// input is ever spliced into script text.
//
//go:embed capture.sh
var captureScript string

// Script returns the capture script the ConfigMap carries.
func Script() string { return captureScript }
