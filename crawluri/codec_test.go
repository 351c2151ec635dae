// codec_test.go: the Thrift codec: round trips, spyder's bytes, malformed input, fuzzing, speed.

package crawluri

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"

	"github.com/spyder-crawl/spyder/internal/fuzzmem"
)

func full() *CrawlUri {
	return &CrawlUri{
		URL:             "http://www.example.com/a?b=1",
		EffectiveURL:    "http://93.184.216.34:80/a?b=1",
		CurrentPriority: 3,
		BeginProcessing: 1300000000,
		EndProcessing:   1300000001,
		ReqHeader:       map[string]string{"Etag": `"abc"`, "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT"},
		RepHeader:       map[string]string{"Content-Type": "text/html; charset=utf-8", "Location": "/x"},
		ContentBody:     []byte("<html>\x00\xff</html>"),
		StatusCode:      200,
		ReqTime:         0.25,
		QueueTime:       1.5,
		OptionalVars:    map[string]string{VarExtractedURLs: "http://a/\nhttp://b/", VarUsername: "u"},
		LeaseID:         -7,
		WorkerID:        "worker:h:1",
		Error:           "boom",
		BodyLength:      17000,
		OmitBody:        true,
		ArchiveDir:      "/srv/warc",
		Capture:         true,
		RawRequest:      []byte("GET /a?b=1 HTTP/1.1\r\nHost: www.example.com\r\n\r\n"),
		RawResponse:     []byte("HTTP/1.0 200 OK\r\nX-A: 1\r\nx-a: 2\r\n\r\n\x1f\x8b"),
		RemoteIP:        "93.184.216.34",
		WARCCapture:     "sha1:AAAA <urn:uuid:1> 2026-12-05T00:00:00Z http://www.example.com/a",
		WARCRevisit:     true,
	}
}

func TestRoundTrip(t *testing.T) {
	for _, c := range []*CrawlUri{full(), {URL: "http://x/"}} {
		got, err := Unmarshal(c.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, c)
		}
	}
}

// TestSpyderBytes pins the encoding of spyder's fields to the bytes Python's
// thrift TSerialization (TBinaryProtocol) writes for the same record, worked
// out by hand from the binary protocol: type byte, big-endian i16 field id,
// value; i32 lengths; STOP.
func TestSpyderBytes(t *testing.T) {
	c := &CrawlUri{
		URL:          "http://a/",
		StatusCode:   200,
		ReqTime:      1.0,
		OptionalVars: map[string]string{"k": "v"},
	}
	want := "" +
		"0b" + "0001" + "00000009" + hex.EncodeToString([]byte("http://a/")) + // 1: string url
		"06" + "0009" + "00c8" + // 9: i16 status_code = 200
		"04" + "000a" + "3ff0000000000000" + // 10: double req_time = 1.0
		"0d" + "000c" + "0b" + "0b" + "00000001" + "00000001" + "6b" + "00000001" + "76" + // 12: map<string,string>
		"00" // STOP
	if got := hex.EncodeToString(c.Marshal()); got != want {
		t.Fatalf("encoding\n got %s\nwant %s", got, want)
	}
}

func TestUnknownFieldsAreSkipped(t *testing.T) {
	var b []byte
	b = append(b, 0x08, 0x00, 0x63, 0, 0, 0, 5)                                    // field 99, i32
	b = append(b, 0x0f, 0x00, 0x64, 0x0b, 0, 0, 0, 2, 0, 0, 0, 1, 'x', 0, 0, 0, 0) // field 100, list<string>
	b = append(b, 0x0c, 0x00, 0x65, 0x02, 0x00, 0x01, 0x01, 0x00)                  // field 101, struct{bool}
	b = append(b, 0x06, 0x00, 0x01, 0x00, 0x01)                                    // field 1 with the wrong type (i16): skipped
	b = append(b, (&CrawlUri{URL: "http://ok/", StatusCode: 404}).Marshal()...)
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.URL != "http://ok/" || got.StatusCode != 404 {
		t.Fatalf("got %+v", got)
	}
}

func TestMalformed(t *testing.T) {
	good := full().Marshal()
	cases := map[string][]byte{
		"empty":             {},
		"only stop":         {0},
		"truncated":         good[:len(good)-5],
		"trailing bytes":    append(append([]byte{}, good...), 1, 2),
		"huge string":       {0x0b, 0x00, 0x01, 0x7f, 0xff, 0xff, 0xff},
		"negative length":   {0x0b, 0x00, 0x01, 0xff, 0xff, 0xff, 0xff},
		"huge map":          {0x0d, 0x00, 0x06, 0x0b, 0x0b, 0x7f, 0, 0, 0},
		"map of i32":        {0x0d, 0x00, 0x06, 0x08, 0x08, 0, 0, 0, 0, 0},
		"unknown type":      {0x63, 0x00, 0x01, 0},
		"deep nesting":      append(bytes.Repeat([]byte{0x0c, 0x00, 0x02}, 40), 0),
		"huge list to skip": {0x0f, 0x00, 0x50, 0x0b, 0x7f, 0xff, 0xff, 0xff},
		"negative body length": append((&CrawlUri{URL: "http://x/"}).Marshal()[:16],
			0x0a, 0x00, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0),
		"truncated bool": {0x0b, 0x00, 0x01, 0, 0, 0, 1, 'x', 0x02, 0x00, 0x11},
	}
	for name, b := range cases {
		if _, err := Unmarshal(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func TestDataMessage(t *testing.T) {
	m := DataMessage{Identity: "master:h:1", Curi: full()}
	got, err := ParseDataMessage(m.Frames())
	if err != nil {
		t.Fatal(err)
	}
	if got.Identity != m.Identity || !reflect.DeepEqual(got.Curi, m.Curi) {
		t.Fatalf("got %+v", got)
	}
	for _, frames := range [][][]byte{nil, {[]byte("x")}, {[]byte("x"), m.Curi.Marshal(), nil}} {
		if _, err := ParseDataMessage(frames); !errors.Is(err, ErrMalformed) {
			t.Errorf("%d frames: err = %v", len(frames), err)
		}
	}
}

func TestExtractedURLs(t *testing.T) {
	c := &CrawlUri{URL: "http://x/"}
	if c.ExtractedURLs() != nil {
		t.Fatal("want none")
	}
	c.SetExtractedURLs([]string{"http://a/", "http://b/"})
	c.SetVar(VarExtractedURLs, c.Var(VarExtractedURLs)+"\n\n  http://c/ ")
	if got := c.ExtractedURLs(); !reflect.DeepEqual(got, []string{"http://a/", "http://b/", "http://c/"}) {
		t.Fatalf("got %q", got)
	}
	c.SetExtractedURLs(nil)
	if _, ok := c.OptionalVars[VarExtractedURLs]; ok {
		t.Fatal("not removed")
	}
}

func TestValidIdentity(t *testing.T) {
	for id, want := range map[string]bool{
		"worker:host-1.example.org:1234":       true,
		"master:h:1":                           true,
		"":                                     false,
		"has space":                            false,
		string(bytes.Repeat([]byte("a"), 129)): false,
		"nul\x00":                              false,
	} {
		if ValidIdentity(id) != want {
			t.Errorf("ValidIdentity(%q) != %v", id, want)
		}
	}
}

func FuzzUnmarshal(f *testing.F) {
	f.Add(full().Marshal())
	f.Add((&CrawlUri{URL: "http://x/"}).Marshal())
	f.Add([]byte{0x0f, 0x00, 0x50, 0x0b, 0x7f, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		var c *CrawlUri
		var err error
		fuzzmem.Check(t, len(b), 64, 64<<10, func() { c, err = Unmarshal(b) })
		if err != nil {
			return
		}
		enc := c.Marshal()
		again, err := Unmarshal(enc)
		if err != nil {
			t.Fatalf("re-decoding our own encoding: %v", err)
		}
		// Compare encodings, not structs: NaN is a valid double and never
		// equal to itself.
		if !bytes.Equal(again.Marshal(), enc) {
			t.Fatalf("round trip changed the record:\n%+v\n%+v", c, again)
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	c := &CrawlUri{URL: "http://www.example.com/some/path/page-12345.html", EffectiveURL: "http://www.example.com/some/path/page-12345.html", CurrentPriority: 1, LeaseID: 123456789}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = c.Encode(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecode(b *testing.B) {
	c := &CrawlUri{URL: "http://www.example.com/some/path/page-12345.html", EffectiveURL: "http://www.example.com/some/path/page-12345.html", CurrentPriority: 1, LeaseID: 123456789, StatusCode: 200, ReqTime: 0.01}
	data := c.Marshal()
	var out CrawlUri
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := out.Unmarshal(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeResultWithLinks(b *testing.B) {
	c := full()
	links := make([]string, 50)
	for i := range links {
		links[i] = "http://www.example.com/some/path/page-" + string(rune('a'+i%26)) + ".html"
	}
	c.SetExtractedURLs(links)
	c.ContentBody = bytes.Repeat([]byte("x"), 20<<10)
	data := c.Marshal()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Unmarshal(data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestStatusMeanings: one table for what each status code means.
func TestStatusMeanings(t *testing.T) {
	for _, tc := range []struct {
		code                                      int16
		class                                     string
		success, redirect, notFetched, retry, err bool
	}{
		{0, "other", false, false, false, true, true},
		{200, "2xx", true, false, false, false, false},
		{304, "3xx", false, true, false, false, false},
		{301, "3xx", false, true, false, false, false},
		{404, "4xx", false, false, false, false, true},
		{429, "4xx", false, false, false, true, true},
		{503, "5xx", false, false, false, true, true},
		{StatusTransportError, "5xx", false, false, false, true, true},
		{StatusMasterException, "other", false, false, false, true, true},
		{StatusWorkerException, "other", false, false, false, true, true},
		{StatusRobotsDisallowed, "9xx", false, false, true, true, true},
		{StatusRobotsUnreachable, "9xx", false, false, true, true, true},
	} {
		got := []bool{IsSuccess(tc.code), IsRedirect(tc.code), IsNotFetched(tc.code), IsRetryable(tc.code), IsError(tc.code)}
		want := []bool{tc.success, tc.redirect, tc.notFetched, tc.retry, tc.err}
		if StatusClassName(tc.code) != tc.class || !reflect.DeepEqual(got, want) {
			t.Errorf("%d: class %s, success/redirect/not fetched/retryable/error %v; want %s %v", tc.code, StatusClassName(tc.code), got, tc.class, want)
		}
	}
}

// TestExtractedURLsAsAList: links set as a list stay one while read and
// rewritten, reach the wire as spyder's newline-joined optional var, and
// a SetVar of that var replaces them.
func TestExtractedURLsAsAList(t *testing.T) {
	c := &CrawlUri{URL: "http://a/", OptionalVars: map[string]string{VarExtractedURLs: "http://a/1\n http://a/2 \n\n"}}
	if got := c.ExtractedURLs(); !reflect.DeepEqual(got, []string{"http://a/1", "http://a/2"}) {
		t.Fatalf("read from the var: %q", got)
	}
	c.SetExtractedURLs(append(c.ExtractedURLs(), "http://b/"))
	if got := c.Var(VarExtractedURLs); got != "http://a/1\nhttp://a/2\nhttp://b/" {
		t.Fatalf("Var of a list: %q", got)
	}
	back, err := Unmarshal(c.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if got := back.OptionalVars[VarExtractedURLs]; got != "http://a/1\nhttp://a/2\nhttp://b/" {
		t.Fatalf("on the wire: %q", got)
	}
	if got := back.ExtractedURLs(); len(got) != 3 {
		t.Fatalf("decoded: %q", got)
	}
	back.SetVar(VarExtractedURLs, "http://c/")
	if got := back.ExtractedURLs(); !reflect.DeepEqual(got, []string{"http://c/"}) {
		t.Fatalf("after SetVar: %q", got)
	}
	back.SetExtractedURLs(nil)
	if _, ok := back.OptionalVars[VarExtractedURLs]; ok || back.Var(VarExtractedURLs) != "" {
		t.Fatal("no links, yet the var is there")
	}
	if got, err := Unmarshal(back.Marshal()); err != nil || got.OptionalVars[VarExtractedURLs] != "" {
		t.Fatalf("no links on the wire: %+v %v", got, err)
	}
}
