package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// command is one subcommand. run gets the arguments after the command name.
type command struct {
	name, summary string
	run           func(args []string, stdout, stderr io.Writer) error
}

// commands lists the subcommands; adding one is one line here.
func commands() []command {
	return []command{
		{"dedupe", "find duplicate customers in a CSV file", runDedupe},
		{"import", "import customers from a CSV file, upserting on the source system's IDs", runImport},
		{"migrate", "bring crmkit's PostgreSQL schema up to date, or show its status", runMigrate},
		{"report", "print the funnel, the open pipeline (tables and SVG charts) and the KPIs", runReport},
		{"score", "train and apply predictive lead-scoring models", runScore},
		{"segment", "compute RFM scores and export a segment's members", runSegment},
		{"version", "print the version and the revision this binary was built from", runVersion},
	}
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run dispatches to a subcommand and returns the process exit code: 0 on
// success, 1 when the command failed, 2 for a usage error.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		if err := c.run(args[1:], stdout, stderr); err != nil {
			fmt.Fprintln(stderr, "crmkit:", err)
			var u usageError
			if errors.As(err, &u) {
				return 2
			}
			return 1
		}
		return 0
	}
	fmt.Fprintf(stderr, "crmkit: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: crmkit <command> [flags]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'crmkit <command> -h' for a command's flags.")
}

// usageError marks errors in how a command was called (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }
