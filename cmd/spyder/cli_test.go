// cli_test.go: the command line's conventions: help, --version, exit codes, did-you-mean.

package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// TestCommandLineConventions: --version and -h/--help print to standard
// output and exit 0; a mistyped command or flag exits 2 naming the closest
// one, as a mistyped setting does.
func TestCommandLineConventions(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{args: []string{"--version"}, code: 0, stdout: "spyder "},
		{args: []string{"version"}, code: 0, stdout: "spyder "},
		{args: []string{"-h"}, code: 0, stdout: "usage: spyder <command>"},
		{args: []string{"--help"}, code: 0, stdout: "usage: spyder <command>"},
		{args: []string{"master", "-h"}, code: 0, stdout: "--max-clients"},
		{args: []string{"status", "--help"}, code: 0, stdout: "--timeout"},
		{args: []string{"master", "--max-clientz", "3"}, code: 2, stderr: "unknown flag: --max-clientz; did you mean --max-clients?"},
		{args: []string{"status", "--timout", "2s"}, code: 2, stderr: "did you mean --timeout?"},
		{args: []string{"init", "--forse", "x"}, code: 2, stderr: "did you mean --force?"},
		{args: []string{"mastr"}, code: 2, stderr: `unknown command "mastr"; did you mean master?`},
		{args: []string{"--frobnicate"}, code: 2, stderr: `unknown command "--frobnicate"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			cmd := exec.Command(spyderBin, tc.args...)
			cmd.Dir = t.TempDir()
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || !strings.Contains(stdout.String(), tc.stdout) || !strings.Contains(stderr.String(), tc.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tc.code, stdout.String(), stderr.String())
			}
		})
	}
}
