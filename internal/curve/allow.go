// allow.go: the list of CURVE public keys a master accepts, re-read when
// its file changes, with the keys removed since the last look.

package curve

import (
	"bufio"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// AllowList is the set of client public keys a master accepts, read from a
// file: one key per line with an optional name after it, '#' comments, and
// certificate lines (`public-key = "..."`) so that appending a worker's
// public certificate (cat worker.key >> allowed) enrolls it. The file is
// looked at again on every handshake and once every turn of the master's
// loop, and re-read when it changed: keys are added or revoked without a
// restart. A key removed from the file is revoked: Allowed says no at
// once, and TakeRevoked hands it to the master, which ends its sessions.
type AllowList struct {
	path string
	log  zerolog.Logger

	mu      sync.Mutex
	keys    map[string]string // public key -> name ("" when unnamed)
	modTime time.Time
	size    int64
	badSeen time.Time // modification time of a bad version already reported
	revoked []Revoked // keys removed from the file, not yet taken
}

// Revoked is a key that was allowed and no longer is.
type Revoked struct {
	Key, Name string
}

// LoadAllowList reads path; a missing or malformed file is an error here
// (at start), while a bad edit later keeps the previous keys and is logged.
func LoadAllowList(path string, log zerolog.Logger) (*AllowList, error) {
	a := &AllowList{path: path, log: log}
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: curve_allowed_workers: %v", ErrKey, err)
	}
	keys, err := parseAllowList(path)
	if err != nil {
		return nil, err
	}
	a.keys, a.modTime, a.size = keys, info.ModTime(), info.Size()
	return a, nil
}

// Len is the number of keys allowed now.
func (a *AllowList) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.keys)
}

// Lookup reports whether key is allowed, and its name.
func (a *AllowList) Lookup(key string) (name string, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.refresh()
	name, ok = a.keys[key]
	return name, ok
}

// Refresh looks at the file and re-reads it when it changed.
func (a *AllowList) Refresh() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.refresh()
}

// Has reports whether key is allowed, as of the last look at the file
// (Lookup, Refresh, TakeRevoked): cheap enough for every message.
func (a *AllowList) Has(key string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.keys[key]
	return ok
}

// TakeRevoked returns the keys revoked since the last call.
func (a *AllowList) TakeRevoked() []Revoked {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.refresh()
	out := a.revoked
	a.revoked = nil
	return out
}

// refresh re-reads the file when its modification time or size changed.
func (a *AllowList) refresh() {
	info, err := os.Stat(a.path)
	if err != nil {
		if a.badSeen.IsZero() {
			a.log.Error().Err(err).Str("file", a.path).Int("keys", len(a.keys)).Msg("curve_allowed_workers cannot be read; keeping the keys read before")
			a.badSeen = time.Now()
		}
		return
	}
	if info.ModTime().Equal(a.modTime) && info.Size() == a.size {
		return
	}
	keys, err := parseAllowList(a.path)
	if err != nil {
		if !info.ModTime().Equal(a.badSeen) {
			a.log.Error().Err(err).Str("file", a.path).Int("keys", len(a.keys)).Msg("curve_allowed_workers has an error; keeping the keys read before")
			a.badSeen = info.ModTime()
		}
		return
	}
	a.log.Info().Str("event", "curve_allowed_workers").Str("file", a.path).Int("keys", len(keys)).Int("before", len(a.keys)).Msg("allowed worker keys re-read")
	for key, name := range a.keys {
		if _, still := keys[key]; !still {
			a.revoked = append(a.revoked, Revoked{Key: key, Name: name})
		}
	}
	a.keys, a.modTime, a.size, a.badSeen = keys, info.ModTime(), info.Size(), time.Time{}
}

func parseAllowList(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: curve_allowed_workers: %v", ErrKey, err)
	}
	defer f.Close()
	keys := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		kind, key, name := keyLine(sc.Text())
		switch kind {
		case "":
			continue
		case "secret-key":
			return nil, fmt.Errorf("%w: curve_allowed_workers: %s:%d: a secret key; list public keys only", ErrKey, path, n)
		}
		if !ValidKey(key) {
			return nil, fmt.Errorf("%w: curve_allowed_workers: %s:%d: %q is not a 40-character Z85 public key", ErrKey, path, n, key)
		}
		keys[key] = name
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: curve_allowed_workers: reading %s: %v", ErrKey, path, err)
	}
	return keys, nil
}
