// rotate.go: the logsink's side: which role a message is from, and the
// size-rotated file its records go to.

package logbus

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/spyder-crawl/spyder/crawluri"
)

// Role checks a message [spyder.<role>.<LEVEL>, record] and returns the
// role, which names the logsink's file: only known roles, so that a
// stranger's topic cannot choose a path.
func Role(frames [][]byte) (string, bool) {
	if len(frames) != 2 {
		return "", false
	}
	parts := strings.Split(string(frames[0]), ".")
	if len(parts) < 3 || parts[0] != "spyder" {
		return "", false
	}
	switch parts[1] {
	case crawluri.RoleMaster, crawluri.RoleWorker, "node":
		return parts[1], true
	}
	return "", false
}

// RotatingFile appends records to path and rotates it by size: path.1 is
// the newest full file, path.N the oldest kept. (lumberjack, the usual
// library for this, counts sizes in megabytes and names its backups by
// time; spyder's log files are named role.log.N and sized in bytes.)
type RotatingFile struct {
	path string
	max  int64
	keep int
	f    *os.File
	buf  bytes.Buffer
	size int64
}

// NewRotatingFile writes to path, rotating it before it would pass max
// bytes and keeping keep old files. Nothing is opened before a Write.
func NewRotatingFile(path string, max int64, keep int) *RotatingFile {
	return &RotatingFile{path: path, max: max, keep: keep}
}

// Write buffers one record (a newline is added when it has none), after
// a rotation when the record would not fit. Flush writes the buffer.
func (r *RotatingFile) Write(rec []byte) error {
	if r.f == nil {
		f, err := os.OpenFile(r.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return err
		}
		r.f, r.size = f, st.Size()
	}
	n := int64(len(rec))
	if !bytes.HasSuffix(rec, []byte("\n")) {
		n++
	}
	if pending := r.size + int64(r.buf.Len()); pending > 0 && pending+n > r.max {
		if err := r.rotate(); err != nil {
			return err
		}
	}
	r.buf.Write(rec)
	if !bytes.HasSuffix(rec, []byte("\n")) {
		r.buf.WriteByte('\n')
	}
	return nil
}

// rotate moves role.log to role.log.1 (and .1 to .2, ...), keeping keep.
func (r *RotatingFile) rotate() error {
	if err := r.Flush(); err != nil {
		return err
	}
	r.f.Close()
	r.f = nil
	for i := r.keep - 1; i >= 1; i-- {
		_ = os.Rename(fmt.Sprintf("%s.%d", r.path, i), fmt.Sprintf("%s.%d", r.path, i+1))
	}
	if err := os.Rename(r.path, r.path+".1"); err != nil {
		return fmt.Errorf("rotating %s: %w", r.path, err)
	}
	f, err := os.OpenFile(r.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	r.f, r.size = f, 0
	return nil
}

// Flush writes the buffered records to the file.
func (r *RotatingFile) Flush() error {
	if r.f == nil || r.buf.Len() == 0 {
		return nil
	}
	n, err := r.f.Write(r.buf.Bytes())
	r.size += int64(n)
	r.buf.Reset()
	return err
}

// Close flushes and closes the file.
func (r *RotatingFile) Close() {
	r.Flush()
	if r.f != nil {
		r.f.Close()
	}
}
