// init.go: spyder init, a new crawl's skeleton (spyder.yaml with every
// setting, seeds.txt, README.md).

package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/spyder-crawl/spyder/settings"
)

// `spyder init DIR` writes the skeleton of a crawl, as spyder's `spyder
// start` did (without its template bugs): a config with every setting, its
// meaning and its default; a seeds file; and a README saying how to run it.

const initSeeds = `# Seed URLs, one per line; blank lines and lines starting with # are skipped.
# With the default scope (regex_scope_positive empty) the crawl stays on the
# seeds' hosts.
https://example.org/
`

const initReadme = `# %[1]s: a spyder crawl

Files:

- ` + "`spyder.yaml`" + ` — every setting with its meaning and default; edit what you need
  (a ` + "`SPYDER_<NAME>`" + ` environment variable or a ` + "`--name`" + ` flag overrides it).
- ` + "`seeds.txt`" + ` — where the crawl starts (and, by default, which hosts it stays on).
- ` + "`state/`" + ` — the master's durable crawl state, created on the first run; a new run resumes
  it (delete it to crawl from scratch).
- ` + "`pages.jsonl`" + ` — one JSON object per fetched URL.

Run the whole crawl on this machine (a master and two workers, supervised), from this directory:

` + "```sh" + `
spyder node --config spyder.yaml --workers 2 --until-done
` + "```" + `

Or the processes yourself, on as many machines as you like (set the zeromq_* addresses in
spyder.yaml so that workers reach the master):

` + "```sh" + `
spyder master --config spyder.yaml --until-done
spyder worker --config spyder.yaml      # as many as you like
` + "```" + `

While it runs: ` + "`spyder status --config spyder.yaml`" + ` (add ` + "`--watch 2s`" + `),
` + "`spyder pause`" + `, ` + "`spyder resume`" + `, ` + "`spyder inject URL`" + `, ` + "`spyder stop`" + `
(each with ` + "`--config spyder.yaml`" + `). Before crawling sites that are not yours, set
user_agent to say who you are and how to reach you.
`

func runInit(args, environ []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("spyder init", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	force := fs.Bool("force", false, "overwrite files that exist")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: spyder init [--force] DIR\n\nwrites DIR/spyder.yaml (every setting, commented), DIR/seeds.txt and DIR/README.md")
	}
	dir, code, ok := parseOneArg(fs, args, stderr)
	if !ok {
		return code
	}
	// The defaults, with this crawl's files; derived settings are left to
	// follow their sources.
	full, err := settings.Load(settings.Source{Flags: map[string]any{"seeds_file": "seeds.txt", "output_jsonl": "pages.jsonl", "state_dir": "state"}})
	if err != nil {
		return fail(stderr, err)
	}
	var config bytes.Buffer
	fmt.Fprintf(&config, "# spyder settings for the crawl in this directory (spyder init).\n# Every setting is here with its default; relative paths are relative to this file's directory.\n\n")
	config.Write(full.YAML())
	files := []struct {
		name string
		data []byte
	}{
		{"spyder.yaml", config.Bytes()},
		{"seeds.txt", []byte(initSeeds)},
		{"README.md", []byte(fmt.Sprintf(initReadme, filepath.Base(filepath.Clean(dir))))},
	}
	if !*force {
		for _, f := range files {
			if _, err := os.Stat(filepath.Join(dir, f.name)); err == nil {
				return fail(stderr, fmt.Errorf("%s exists; use --force to overwrite", filepath.Join(dir, f.name)))
			}
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(stderr, fmt.Errorf("creating %s: %w", dir, err))
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, 0o644); err != nil {
			return fail(stderr, fmt.Errorf("writing %s: %w", f.name, err))
		}
	}
	fmt.Fprintf(stdout, "wrote %s/spyder.yaml, seeds.txt and README.md; next: edit seeds.txt, then\n  cd %s && spyder node --config spyder.yaml --workers 2 --until-done\n", dir, dir)
	return exitOK
}

// parseOneArg parses a command's flags and its one argument. When ok is
// false the command returns code (0 for --help, 2 for bad usage).
func parseOneArg(fs *pflag.FlagSet, args []string, stderr io.Writer) (arg string, code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return "", exitOK, false
		}
		return "", configError(stderr, flagError(fs, err)), false
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return "", exitConfig, false
	}
	return fs.Arg(0), exitOK, true
}
