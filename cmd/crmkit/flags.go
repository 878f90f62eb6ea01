package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// parseFlags parses args into fs for the command cmd ("segment export").
// It returns done when the command is to end here: after -h or --help,
// which printed the usage (err is nil), or with a usage error naming cmd,
// also for an argument that is not a flag.
func parseFlags(fs *flag.FlagSet, args []string, cmd string) (done bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, nil
		}
		return true, usageError{fmt.Sprintf("%s: %v", cmd, err)}
	}
	if fs.NArg() > 0 {
		return true, usageError{fmt.Sprintf("%s: unexpected argument %q", cmd, fs.Arg(0))}
	}
	return false, nil
}

// subcommand runs one subcommand with the arguments after its name.
type subcommand func(args []string, stdout, stderr io.Writer) error

// runSubcommand runs the subcommand of cmd that args[0] names, prints
// usage for -h, --help and help, and refuses a missing or unknown one.
func runSubcommand(cmd, usage string, subs map[string]subcommand, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{cmd + ": missing subcommand\n" + usage}
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	sub, ok := subs[args[0]]
	if !ok {
		return usageError{fmt.Sprintf("%s: unknown subcommand %q\n%s", cmd, args[0], usage)}
	}
	return sub(args[1:], stdout, stderr)
}
