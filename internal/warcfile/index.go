// index.go: the payloads archived so far, by digest, for deduplication
// across URLs (warc_dedup: any).

package warcfile

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"
)

// A PayloadIndex maps every payload digest archived in a directory's WARC
// files to the capture that holds it, so that the same payload fetched
// from another URL becomes a revisit record. It is a Pebble store in the
// directory (PayloadIndexDir), next to the files it indexes: it lasts as
// long as they do, across restarts, whatever the frontier's store is.
//
// Entries are added after their records are written (Add), so an entry
// never names a record that is not in a file; one lost to a kill only
// means a payload archived whole once more.
type PayloadIndex struct {
	db *pebble.DB
}

// PayloadIndexDir is the index's directory inside a WARC directory.
const PayloadIndexDir = "payload-index"

// OpenPayloadIndex opens (or creates) the payload index of WARC directory
// dir; Pebble's own errors go to logf.
func OpenPayloadIndex(dir string, logf func(format string, args ...any)) (*PayloadIndex, error) {
	path := filepath.Join(dir, PayloadIndexDir)
	db, err := pebble.Open(path, &pebble.Options{Logger: indexLogger{logf}, MemTableSize: 4 << 20})
	if err != nil {
		return nil, fmt.Errorf("WARC payload index %s: %w", path, err)
	}
	return &PayloadIndex{db: db}, nil
}

// Original is the capture a payload digest was first archived in.
func (x *PayloadIndex) Original(digest string) (Capture, bool, error) {
	v, closer, err := x.db.Get([]byte(digest))
	if errors.Is(err, pebble.ErrNotFound) {
		return Capture{}, false, nil
	}
	if err != nil {
		return Capture{}, false, fmt.Errorf("WARC payload index: %w", err)
	}
	defer closer.Close()
	c, err := ParseCapture(string(v))
	if err != nil {
		return Capture{}, false, fmt.Errorf("WARC payload index: entry of %s: %w", digest, err)
	}
	return c, true, nil
}

// Add records c as the capture of its payload unless one is recorded: the
// first capture stays the original every revisit refers to.
func (x *PayloadIndex) Add(c Capture) error {
	_, closer, err := x.db.Get([]byte(c.PayloadDigest))
	if err == nil {
		return closer.Close()
	}
	if !errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("WARC payload index: %w", err)
	}
	// (NoSync: an entry lost to a crash costs a payload archived again)
	if err := x.db.Set([]byte(c.PayloadDigest), []byte(c.String()), pebble.NoSync); err != nil {
		return fmt.Errorf("WARC payload index: %w", err)
	}
	return nil
}

// Close flushes and closes the index.
func (x *PayloadIndex) Close() error {
	if err := x.db.Flush(); err != nil {
		return errors.Join(fmt.Errorf("WARC payload index: %w", err), x.db.Close())
	}
	return x.db.Close()
}

// indexLogger passes Pebble's errors on; its progress notes are left out.
type indexLogger struct {
	logf func(format string, args ...any)
}

func (l indexLogger) Infof(string, ...any) {}
func (l indexLogger) Errorf(format string, args ...any) {
	l.logf("WARC payload index: "+format, args...)
}
func (l indexLogger) Fatalf(format string, args ...any) {
	l.logf("WARC payload index: "+format, args...)
	panic(fmt.Sprintf("WARC payload index: "+format, args...))
}
