// check.go: the checks of the master's settings that need the registries
// or the file system.

package master

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/spyder-crawl/spyder/frontier"
	"github.com/spyder-crawl/spyder/settings"
	"github.com/spyder-crawl/spyder/urlx"
)

// CheckSettings checks what the settings' own validation cannot: the
// names only the registries know (frontier_class, master_callback,
// master_sinks, queue_selector_class), and the files and directory the
// master will use. New calls it; a command calls it before it does
// anything else, so that a mistake is exit 2 with its fix, not a failure
// half-way through a start.
func CheckSettings(s *settings.Settings) error {
	if !frontier.Registered(s.FrontierClass) {
		return fmt.Errorf("%w: frontier_class: %q is not registered (known: %v)", settings.ErrInvalid, s.FrontierClass, frontier.Names())
	}
	if _, err := urlx.ParseCanonicalization(s.URLCanonicalization); err != nil {
		return fmt.Errorf("%w: url_canonicalization: %v", settings.ErrInvalid, err)
	}
	if !slices.Contains(frontier.SelectorNames(), s.QueueSelectorClass) {
		return fmt.Errorf("%w: queue_selector_class: %q is not registered (known: %v)", settings.ErrInvalid, s.QueueSelectorClass, frontier.SelectorNames())
	}
	if !CallbackRegistered(s.MasterCallback) {
		return fmt.Errorf("%w: master_callback: %q is not registered (known: %v)", settings.ErrInvalid, s.MasterCallback, CallbackNames())
	}
	for _, name := range s.MasterSinks {
		if _, ok := sinks.Lookup(name); !ok {
			return fmt.Errorf("%w: master_sinks: %q is not registered (known: %v)", settings.ErrInvalid, name, SinkNames())
		}
	}
	if s.MasterCallback == "seedfile" && s.SeedsFile != "" {
		if err := checkReadableFile(s.SeedsFile); err != nil {
			return fmt.Errorf("%w: seeds_file: %v", settings.ErrInvalid, err)
		}
	}
	if s.FrontierStore == "redis" {
		return nil // the crawl is in Redis: no state_dir to make
	}
	if err := checkStateDir(s.StateDir); err != nil {
		return fmt.Errorf("%w: state_dir: %v", settings.ErrInvalid, err)
	}
	return nil
}

// checkReadableFile says what is wrong with a file the master must read,
// before any socket is bound.
func checkReadableFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return err
	} else if fi.IsDir() {
		return fmt.Errorf("%s is a directory, not a file", path)
	}
	return nil
}

// checkStateDir makes sure the master can keep its state in dir: it is a
// directory (made if missing) where a file can be written ("" keeps the
// state in memory). Each failure
// says which of these it is, so the fix is plain.
func checkStateDir(dir string) error {
	if dir == "" {
		return nil // in memory: nothing to check
	}
	switch fi, err := os.Stat(dir); {
	case err == nil && !fi.IsDir():
		return fmt.Errorf("%s is a file, not a directory", dir)
	case err != nil && fileAncestor(dir) != "":
		return fmt.Errorf("cannot create %s: %s is a file, not a directory", dir, fileAncestor(dir))
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: %v", dir, unwrapPath(err))
	case err != nil:
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("cannot create %s: %v", dir, unwrapPath(err))
		}
	}
	probe, err := os.CreateTemp(dir, ".spyder-write-check-*")
	if err != nil {
		return fmt.Errorf("%s is not writable: %v", dir, unwrapPath(err))
	}
	name := probe.Name()
	probe.Close()
	return os.Remove(name)
}

// fileAncestor returns the nearest ancestor of dir that exists and is not
// a directory, or "".
func fileAncestor(dir string) string {
	for p := filepath.Dir(filepath.Clean(dir)); ; p = filepath.Dir(p) {
		if fi, err := os.Stat(p); err == nil {
			if fi.IsDir() {
				return ""
			}
			return p
		}
		if p == filepath.Dir(p) {
			return ""
		}
	}
}

// unwrapPath drops the path and operation of an *fs.PathError, which the
// message around it names already, leaving the reason (e.g. "not a
// directory", "read-only file system").
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
