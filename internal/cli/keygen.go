// keygen.go: spyder keygen, a CURVE key pair in two files.

package cli

import (
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/spyder-crawl/spyder/internal/curve"
)

// `spyder keygen NAME` writes a CURVE key pair for a master, a worker or an
// operator: NAME (the public certificate, to hand to the other side) and
// NAME_secret (mode 0600, for this side's curve_*secret_key setting).
func runKeygen(args, _ []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("spyder keygen", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: spyder keygen NAME

writes a CURVE key pair: NAME (public) and NAME_secret (mode 0600).
  master:   curve_server_secret_key=NAME_secret; workers get NAME as curve_server_public_key
  worker:   curve_secret_key=NAME_secret; the master lists NAME in curve_allowed_workers
            (append it: cat NAME >> allowed_workers; the master re-reads the file)
`)
	}
	base, code, ok := parseOneArg(fs, args, stderr)
	if !ok {
		return code
	}
	pair, err := curve.NewPair()
	if err != nil {
		return fail(stderr, err)
	}
	if err := pair.Files(base, base); err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "wrote %s (public key %s) and %s (secret, mode 0600)\n", base, pair.Public, base+"_secret")
	return exitOK
}
