// dedup.go: a fetch whose payload was archived before becomes a revisit
// record that refers to the earlier capture (WARC 1.1, 6.7.2).

package warcfile

import (
	"crypto/sha1"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// profileIdenticalPayload is the WARC-Profile of a revisit record whose
// payload is identical to an earlier capture's.
const profileIdenticalPayload = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"

// A Capture is the response record a payload was archived in, which a
// later fetch of the same payload refers to instead of archiving it again.
// It travels with a URL from the frontier to the worker and back as one
// line (String, ParseCapture): the stores keep it as they get it.
type Capture struct {
	PayloadDigest string    // WARC-Payload-Digest, "sha1:" and base 32
	RecordID      string    // WARC-Record-ID of the response record, "<urn:uuid:…>"
	Date          time.Time // its WARC-Date
	TargetURI     string    // its WARC-Target-URI
}

// String is c as one line: digest, record id, date and URI, separated by
// spaces (none of them has one).
func (c Capture) String() string {
	return c.PayloadDigest + " " + c.RecordID + " " + c.Date.UTC().Format(warcDate) + " " + c.TargetURI
}

// MaxCaptureLen bounds a capture's line: the URI is the longest part, and
// URLs longer than 8 KB are not crawled.
const MaxCaptureLen = 9 << 10

// ParseCapture reads a capture line; the error says what is wrong with it.
func ParseCapture(s string) (Capture, error) {
	if len(s) > MaxCaptureLen {
		return Capture{}, fmt.Errorf("WARC capture of %d bytes: at most %d", len(s), MaxCaptureLen)
	}
	if strings.ContainsAny(s, "\x00\r\n\t") {
		// (the stores keep the line in records that \0 separates)
		return Capture{}, fmt.Errorf("WARC capture %q: a control character", s)
	}
	f := strings.Split(s, " ")
	if len(f) != 4 {
		return Capture{}, fmt.Errorf("WARC capture %q: want \"DIGEST RECORD-ID DATE URI\"", s)
	}
	alg, value, ok := strings.Cut(f[0], ":")
	if !ok || alg != "sha1" || value == "" {
		return Capture{}, fmt.Errorf("WARC capture %q: payload digest %q is not \"sha1:BASE32\"", s, f[0])
	}
	if !strings.HasPrefix(f[1], "<") || !strings.HasSuffix(f[1], ">") || len(f[1]) < 3 {
		return Capture{}, fmt.Errorf("WARC capture %q: record id %q is not a <URI>", s, f[1])
	}
	date, err := time.Parse(warcDate, f[2])
	if err != nil {
		return Capture{}, fmt.Errorf("WARC capture %q: date: %w", s, err)
	}
	if f[3] == "" {
		return Capture{}, fmt.Errorf("WARC capture %q: no target URI", s)
	}
	return Capture{PayloadDigest: f[0], RecordID: f[1], Date: date, TargetURI: f[3]}, nil
}

// Dedup decides how e is archived, given last, the capture the URL's
// payload was last archived in (empty: none, or not known to be valid),
// at now. A successful (2xx) response whose payload digest is last's
// becomes a revisit record referring to it; any other 2xx response is
// archived whole and is the URL's capture from now on. Dedup returns the
// capture the URL has after this fetch ("" when it keeps none: the
// response is not a 2xx, or was cut short, so its payload is not one a
// later fetch may point at) and whether e is a revisit.
//
// It fills in what the records need (the digest, and the record id and
// date a capture promises), so that whoever writes e, the worker or its
// master, writes what was decided here.
func Dedup(e *Exchange, last Capture, now time.Time) (capture string, revisit bool) {
	if e.Status == http.StatusNotModified && last.RecordID != "" {
		// The server says the page has not changed since the capture
		// (server-not-modified revisit): the URL keeps it.
		e.RevisitOf = &last
		return last.String(), false
	}
	if e.Status < 200 || e.Status > 299 {
		return "", false
	}
	digest, complete := e.payloadDigest()
	if !complete || e.Truncated || digest == "" {
		return "", false
	}
	e.PayloadDigest = digest // (only a whole payload's: the writer takes it as such)
	if last.PayloadDigest == digest && last.RecordID != "" {
		e.RevisitOf = &last
		return last.String(), true
	}
	e.RecordID, e.Date = recordID(), now.UTC().Truncate(time.Second)
	return Capture{PayloadDigest: digest, RecordID: e.RecordID, Date: e.Date, TargetURI: e.Target}.String(), false
}

// payloadDigest is the WARC-Payload-Digest of e's response, and whether
// the payload is whole (e.PayloadDigest is set only for a whole one).
func (e *Exchange) payloadDigest() (string, bool) {
	if e.PayloadDigest != "" {
		return e.PayloadDigest, true
	}
	if len(e.RawResponse) > 0 {
		return recordedPayload(e.RawResponse)
	}
	return sha1Digest(sha1.Sum(e.Body)), true
}

// revisitOfPayload turns resp, the response record of e, into a revisit
// of e.RevisitOf: its block is the response head alone (the payload is in
// the record referred to), its digest the payload's.
func revisitOfPayload(resp *record, e Exchange) {
	if head, _, ok := splitHead(resp.body); ok && len(resp.head) == 0 {
		resp.body = head
	} else if len(resp.head) > 0 {
		resp.body = nil
	}
	resp.typ, resp.profile = "revisit", profileIdenticalPayload
	resp.refersTo, resp.refersToTarget = e.RevisitOf.RecordID, e.RevisitOf.TargetURI
	resp.refersToDate = e.RevisitOf.Date.UTC().Format(warcDate)
	resp.payloadDigest, resp.truncated = e.RevisitOf.PayloadDigest, false
}

// Decided applies to e, at the master (warc_writer: master), what Dedup
// decided at the worker that fetched it: capture is the result's capture
// line and revisit whether the fetch is a revisit of it. The payload's
// digest is taken again here, and a worker's decision it contradicts is
// an error: a revisit is then archived whole, and a new capture keeps the
// record id the frontier has for it, with the digest of what is written.
// A capture that does not parse is an error too, and e is archived whole.
func Decided(e *Exchange, capture string, revisit bool) error {
	if capture == "" {
		return nil
	}
	c, err := ParseCapture(capture)
	if err != nil {
		return err
	}
	if e.Status == http.StatusNotModified {
		e.RevisitOf = &c
		return nil
	}
	digest, complete := e.payloadDigest()
	if complete {
		e.PayloadDigest = digest
	}
	if revisit {
		if digest != c.PayloadDigest {
			return fmt.Errorf("a revisit of %s whose payload is %s, not %s: archived whole", c.RecordID, digest, c.PayloadDigest)
		}
		e.RevisitOf = &c
		return nil
	}
	e.RecordID, e.Date = c.RecordID, c.Date
	if digest != c.PayloadDigest {
		return fmt.Errorf("the capture %s names payload %s; the response's is %s", c.RecordID, c.PayloadDigest, digest)
	}
	return nil
}

// Captured is the capture e makes once written: its own record, when it is
// archived whole under a record id chosen beforehand (Dedup, Decided).
func (e *Exchange) Captured() (Capture, bool) {
	if e.RecordID == "" || e.RevisitOf != nil || e.PayloadDigest == "" {
		return Capture{}, false
	}
	return Capture{PayloadDigest: e.PayloadDigest, RecordID: e.RecordID, Date: e.Date, TargetURI: e.Target}, true
}
