// thrift_compat_test.go: byte compatibility with Apache Thrift's Python library.

package crawluri

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// systemPython is Debian's interpreter, where python3-thrift installs.
const systemPython = "/usr/bin/python3"

// TestApacheThriftCompatibility decodes our encoding with Apache Thrift's
// Python library (python3-thrift) and checks that its re-encoding of what
// it read is byte-identical: the Go codec is Thrift binary, not a lookalike.
func TestApacheThriftCompatibility(t *testing.T) {
	if err := exec.Command(systemPython, "-c", "import thrift.TSerialization").Run(); err != nil {
		t.Fatalf("this test needs Debian's python3-thrift (apt-get install python3-thrift; .ci/run and scripts/demo.sh install it): %v", err)
	}
	records := []*CrawlUri{
		full(),
		{URL: "http://x/"},
		{URL: "http://ü.example/ä", StatusCode: 599, Error: "dial tcp: connection refused", ReqTime: 0.001},
		{URL: "http://x/p", OmitBody: true, ArchiveDir: "/var/spyder/wärc"},
		{URL: "http://x/q", StatusCode: 200, BodyLength: 1 << 40},
	}
	var in bytes.Buffer
	for _, c := range records {
		in.WriteString(hex.EncodeToString(c.Marshal()) + "\n")
	}
	cmd := exec.Command(systemPython, "testdata/thrift_compat.py")
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("thrift_compat.py: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(records) {
		t.Fatalf("got %d lines: %s", len(lines), out)
	}
	for i, line := range lines {
		var got struct {
			Fields    map[string]any `json:"fields"`
			Reencoded string         `json:"reencoded"`
		}
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatal(err)
		}
		c := records[i]
		if got.Fields["url"] != c.URL {
			t.Errorf("record %d: thrift read url %v, want %q", i, got.Fields["url"], c.URL)
		}
		if c.StatusCode != 0 && got.Fields["status_code"] != float64(c.StatusCode) {
			t.Errorf("record %d: thrift read status %v", i, got.Fields["status_code"])
		}
		if c.OmitBody && got.Fields["omit_body"] != true || c.BodyLength != 0 && got.Fields["body_length"] != float64(c.BodyLength) {
			t.Errorf("record %d: thrift read omit_body %v, body_length %v", i, got.Fields["omit_body"], got.Fields["body_length"])
		}
		if c.ArchiveDir != "" && got.Fields["archive_dir"] != c.ArchiveDir {
			t.Errorf("record %d: thrift read archive_dir %v", i, got.Fields["archive_dir"])
		}
		// Thrift writes maps in its dict order; compare after our decode.
		back, err := hex.DecodeString(got.Reencoded)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := Unmarshal(back)
		if err != nil {
			t.Fatalf("record %d: our decoder rejects thrift's encoding: %v", i, err)
		}
		if !bytes.Equal(dec.Marshal(), c.Marshal()) {
			t.Errorf("record %d: thrift round trip changed the record\n got %+v\nwant %+v", i, dec, c)
		}
	}
}
