// warcio.go: WARC files read back by webrecorder's warcio.js, a reader
// written by others, from outside Go.

package testsite

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// WarcioRecord is one record as warcio.js read it (warcio/readback.mjs).
type WarcioRecord struct {
	File       string            `json:"file"`
	WARC       map[string]string `json:"warc"` // lower-case names
	Length     int               `json:"length"`
	StatusLine string            `json:"statusline"`
	Protocol   string            `json:"protocol"`
	Status     int               `json:"status"`
	Head       string            `json:"head"`    // the HTTP head in the block, bytes as latin-1, through its CRLF CRLF
	Headers    [][2]string       `json:"headers"` // as warcio parsed them: names in their case, a repeated name's values after its first
	SetCookies []string          `json:"setCookies"`
	// BlockDigestOK and PayloadDigestOK say whether the record's digests
	// match its bytes (nil: the record has none).
	BlockDigestOK   *bool `json:"blockDigestOK"`
	PayloadDigestOK *bool `json:"payloadDigestOK"`
	PayloadLength   int   `json:"payloadLength"`
}

// warcioDir is the directory of the warcio.js reader and its node_modules.
func warcioDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "warcio")
}

// ReadWARCDirWithWarcio reads every *.warc.gz of dir with warcio.js
// (Node.js and `npm ci` in internal/testsite/warcio, which .ci/run does).
func ReadWARCDirWithWarcio(dir string) ([]WarcioRecord, error) {
	wd := warcioDir()
	if _, err := os.Stat(filepath.Join(wd, "node_modules", "warcio")); err != nil {
		return nil, fmt.Errorf("warcio.js is not installed: run `npm ci` in %s (.ci/run does): %w", wd, err)
	}
	cmd := exec.Command("node", "readback.mjs", dir)
	cmd.Dir = wd
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("warcio.js reading %s: %w: %s", dir, err, stderr.Bytes())
	}
	var recs []WarcioRecord
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var r WarcioRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("warcio.js output %.200q: %w", sc.Bytes(), err)
		}
		recs = append(recs, r)
	}
	return recs, sc.Err()
}
