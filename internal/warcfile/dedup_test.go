package warcfile

import (
	"strings"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/internal/testsite"
)

// page is a recorded 200 with body.
func page(target, body string) Exchange {
	return Exchange{Target: target, Status: 200, Body: []byte(body),
		RawRequest:  []byte("GET / HTTP/1.1\r\nHost: h.test\r\n\r\n"),
		RawResponse: []byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nDate: now\r\n\r\n" + body)}
}

// TestDedup: how each fetch is archived given the URL's last capture.
func TestDedup(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	first := page("http://h.test/", "same")
	firstLine, revisit := Dedup(&first, Capture{}, now)
	if revisit || first.RecordID == "" || first.RevisitOf != nil {
		t.Fatalf("a first fetch: capture %q, revisit %v, exchange %+v", firstLine, revisit, first)
	}
	last, err := ParseCapture(firstLine)
	if err != nil {
		t.Fatal(err)
	}
	if last.RecordID != first.RecordID || !last.Date.Equal(now) || last.TargetURI != "http://h.test/" || last.PayloadDigest != first.PayloadDigest {
		t.Fatalf("capture %+v of exchange %+v", last, first)
	}
	cut := page("http://h.test/", "same")
	cut.Truncated = true
	chunkCut := page("http://h.test/", "")
	chunkCut.RawResponse = []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nsa")
	notFound := page("http://h.test/", "same")
	notFound.Status = 404
	notModified := Exchange{Target: "http://h.test/", Status: 304, RawResponse: []byte("HTTP/1.1 304 Not Modified\r\n\r\n")}
	cases := []struct {
		name        string
		e           Exchange
		last        Capture
		wantLine    string // "new": a capture of this fetch
		wantRevisit bool
	}{
		{"same payload", page("http://h.test/", "same"), last, firstLine, true},
		{"changed payload", page("http://h.test/", "changed"), last, "new", false},
		{"no capture known", page("http://h.test/", "same"), Capture{}, "new", false},
		{"cut at max_content_length", cut, last, "", false},
		{"cut inside its chunks", chunkCut, last, "", false},
		{"not a 2xx", notFound, last, "", false},
		{"304 keeps the capture", notModified, last, firstLine, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.e
			line, revisit := Dedup(&e, tc.last, now.Add(time.Hour))
			if tc.wantLine == "new" {
				c, err := ParseCapture(line)
				if err != nil || c.RecordID == last.RecordID || c.RecordID != e.RecordID || c.PayloadDigest != e.PayloadDigest {
					t.Errorf("capture %q (%v), exchange %+v: want a new capture", line, err, e)
				}
			} else if line != tc.wantLine {
				t.Errorf("capture %q, want %q", line, tc.wantLine)
			}
			if revisit != tc.wantRevisit || (e.RevisitOf != nil) != (tc.wantRevisit || e.Status == 304) {
				t.Errorf("revisit %v (of %v), want %v", revisit, e.RevisitOf, tc.wantRevisit)
			}
		})
	}
}

// TestRevisitRecords: a fetch of a payload archived before is written as a
// revisit record whose block is the response head, with the payload's
// digest, referring to the record that holds it; the files read back
// resolve every revisit.
func TestRevisitRecords(t *testing.T) {
	now := time.Now()
	first := page("http://h.test/a", "<p>one payload</p>")
	line, _ := Dedup(&first, Capture{}, now)
	last, _ := ParseCapture(line)
	again := page("http://h.test/a", "<p>one payload</p>")
	if _, revisit := Dedup(&again, last, now.Add(time.Minute)); !revisit {
		t.Fatal("the same payload is not a revisit")
	}
	notModified := Exchange{Target: "http://h.test/a", Status: 304, RawResponse: []byte("HTTP/1.1 304 Not Modified\r\n\r\n")}
	Dedup(&notModified, last, now)
	records := writeAndRead(t, first, again, notModified)
	var headers []map[string]string
	var revisit testsite.WARCRecord
	for _, r := range records {
		headers = append(headers, r.Headers)
		if r.Headers["warc-profile"] == testsite.ProfileIdenticalPayload {
			revisit = r
		}
	}
	resolved, err := testsite.ResolveRevisits(headers)
	if err != nil {
		t.Fatal(err)
	}
	if resolved[testsite.ProfileIdenticalPayload] != 1 || resolved[testsite.ProfileServerNotModified] != 1 {
		t.Errorf("resolved %v: want one revisit of each profile", resolved)
	}
	if string(revisit.Block) != "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nDate: now\r\n\r\n" {
		t.Errorf("revisit block %q: want the response head alone", revisit.Block)
	}
	if revisit.Headers["warc-refers-to"] != first.RecordID || revisit.Headers["warc-payload-digest"] != first.PayloadDigest {
		t.Errorf("revisit headers %v; the original is %s with %s", revisit.Headers, first.RecordID, first.PayloadDigest)
	}
}

// TestDecided: the master writes what the worker decided, and a decision
// its payload contradicts is not taken on trust.
func TestDecided(t *testing.T) {
	orig := page("http://h.test/a", "original")
	line, _ := Dedup(&orig, Capture{}, time.Now())
	c, _ := ParseCapture(line)

	e := page("http://h.test/a", "original")
	if err := Decided(&e, line, false); err != nil || e.RecordID != c.RecordID || !e.Date.Equal(c.Date) {
		t.Errorf("a new capture: %v, record %s at %v, want %s at %v", err, e.RecordID, e.Date, c.RecordID, c.Date)
	}
	e = page("http://h.test/b", "original")
	if err := Decided(&e, line, true); err != nil || e.RevisitOf == nil || e.RevisitOf.RecordID != c.RecordID {
		t.Errorf("a revisit: %v, of %v", err, e.RevisitOf)
	}
	e = page("http://h.test/b", "another payload")
	if err := Decided(&e, line, true); err == nil || e.RevisitOf != nil {
		t.Errorf("a revisit of another payload: %v, of %v: want it archived whole, with an error", err, e.RevisitOf)
	}
	e = page("http://h.test/b", "original")
	if err := Decided(&e, "sha1:X <x> yesterday http://h.test/", true); err == nil || e.RevisitOf != nil {
		t.Errorf("a bad capture line: %v, of %v", err, e.RevisitOf)
	}
}

func TestParseCaptureRefuses(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"", "want \"DIGEST RECORD-ID DATE URI\""},
		{"sha1:AB <urn:uuid:1> 2026-12-05T10:00:00Z", "want \"DIGEST"},
		{"md5:AB <urn:uuid:1> 2026-12-05T10:00:00Z http://h/", "is not \"sha1:BASE32\""},
		{"sha1:AB urn:uuid:1 2026-12-05T10:00:00Z http://h/", "is not a <URI>"},
		{"sha1:AB <urn:uuid:1> 2026-12-05 http://h/", "date"},
		{"sha1:AB <urn:uuid:1> 2026-12-05T10:00:00Z http://h/\x00x", "control character"},
		{"sha1:AB <urn:uuid:1> 2026-12-05T10:00:00Z http://h/" + strings.Repeat("a", MaxCaptureLen), "at most"},
	} {
		if _, err := ParseCapture(tc.line); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseCapture(%.60q): %v, want an error saying %q", tc.line, err, tc.want)
		}
	}
}

// TestPayloadIndex: the first capture of a payload stays its original,
// across a reopen.
func TestPayloadIndex(t *testing.T) {
	dir := t.TempDir()
	logf := func(format string, args ...any) { t.Errorf("Pebble: "+format, args...) }
	x, err := OpenPayloadIndex(dir, logf)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	first := Capture{PayloadDigest: "sha1:AAAA", RecordID: "<urn:uuid:1>", Date: at, TargetURI: "http://h.test/a"}
	for _, c := range []Capture{first, {PayloadDigest: "sha1:AAAA", RecordID: "<urn:uuid:2>", Date: at, TargetURI: "http://h.test/b"}} {
		if err := x.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if x, err = OpenPayloadIndex(dir, logf); err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	got, ok, err := x.Original("sha1:AAAA")
	if err != nil || !ok || got != first {
		t.Errorf("Original: %+v %v %v, want %+v", got, ok, err, first)
	}
	if _, ok, err := x.Original("sha1:BBBB"); ok || err != nil {
		t.Errorf("an unknown payload: %v %v", ok, err)
	}
}
