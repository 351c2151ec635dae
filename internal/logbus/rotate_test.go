// rotate_test.go: the logsink's role check and rotated files.

package logbus

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestLogRole(t *testing.T) {
	for _, tc := range []struct {
		frames [][]byte
		role   string
		ok     bool
	}{
		{[][]byte{[]byte("spyder.master.INFO"), []byte("{}")}, "master", true},
		{[][]byte{[]byte("spyder.worker.DEBUG.fetch"), []byte("{}")}, "worker", true},
		{[][]byte{[]byte("spyder.../../etc.INFO"), []byte("{}")}, "", false},
		{[][]byte{[]byte("spyder.master"), []byte("{}")}, "", false},
		{[][]byte{[]byte("other.master.INFO"), []byte("{}")}, "", false},
		{[][]byte{[]byte("spyder.master.INFO")}, "", false},
	} {
		role, ok := Role(tc.frames)
		if role != tc.role || ok != tc.ok {
			t.Errorf("%q: %q %v", tc.frames, role, ok)
		}
	}
}

func TestRotatingFileKeepsNumberedFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "worker.log")
	r := NewRotatingFile(path, 100, 2)
	rec := bytes.Repeat([]byte("x"), 39) // 40 bytes with its newline
	for i := 0; i < 7; i++ {
		if err := r.Write(rec); err != nil {
			t.Fatal(err)
		}
		if err := r.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	// 7 records of 40 bytes, two to a 100-byte file: path holds the
	// seventh, .1 and .2 two each; what was older is gone (keep 2).
	for name, want := range map[string]int{"worker.log": 40, "worker.log.1": 80, "worker.log.2": 80} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Size() != int64(want) {
			t.Errorf("%s: %v bytes, want %d (%v)", name, fi, want, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "worker.log.3")); err == nil {
		t.Error("worker.log.3 kept beyond keep=2")
	}
}
