package main

import (
	"fmt"
	"io"
	"runtime/debug"
)

// runVersion runs "crmkit version": the module version and the VCS
// revision the binary was built from, as the Go build info records them.
func runVersion(args []string, stdout, _ io.Writer) error {
	if len(args) > 0 && args[0] != "-h" && args[0] != "--help" {
		return usageError{fmt.Sprintf("version: unexpected argument %q (usage: crmkit version)", args[0])}
	}
	if len(args) > 0 {
		fmt.Fprintln(stdout, "usage: crmkit version\n\nPrints the module version and the VCS revision the binary was built from.")
		return nil
	}
	fmt.Fprintln(stdout, versionLine())
	return nil
}

// versionLine describes the build: "crmkit v1.2.3 (revision abc123, modified)".
func versionLine() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "crmkit (no build information)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	if rev == "" {
		return fmt.Sprintf("crmkit %s (%s)", v, bi.GoVersion)
	}
	return fmt.Sprintf("crmkit %s (revision %s%s, %s)", v, rev, modified, bi.GoVersion)
}
