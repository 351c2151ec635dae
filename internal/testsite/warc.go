// warc.go: a WARC reader for the tests, independent of the writer.

package testsite

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// WARCRecord is one record as ReadWARCDir read it back.
type WARCRecord struct {
	File    string
	Headers map[string]string // lower-case names
	Block   []byte
}

// ReadWARCDir reads every *.warc.gz in dir with the standard library alone,
// so that tests check the WARC writer with a reader that shares nothing
// with it: one gzip member per record, WARC/1.1 headers, a block of
// Content-Length bytes, then CRLF CRLF; a record whose digests do not
// match its block is an error.
func ReadWARCDir(dir string) ([]WARCRecord, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.warc.gz"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no WARC files in %s (%v)", dir, err)
	}
	var out []WARCRecord
	for _, name := range files {
		recs, err := readWARCFile(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, recs...)
	}
	return out, nil
}

func readWARCFile(name string) ([]WARCRecord, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, err
	}
	var out []WARCRecord
	for {
		zr.Multistream(false) // one member, one record
		member, err := io.ReadAll(zr)
		if err != nil {
			return nil, fmt.Errorf("gzip member: %w", err)
		}
		head, rest, ok := bytes.Cut(member, []byte("\r\n\r\n"))
		if !ok || !bytes.HasPrefix(head, []byte("WARC/1.1\r\n")) {
			return nil, fmt.Errorf("not a WARC 1.1 record: %.80q", member)
		}
		r := WARCRecord{File: name, Headers: map[string]string{}}
		for _, line := range strings.Split(string(head), "\r\n")[1:] {
			k, v, _ := strings.Cut(line, ":")
			r.Headers[strings.ToLower(k)] = strings.TrimSpace(v)
		}
		n, err := strconv.Atoi(r.Headers["content-length"])
		if err != nil || n+4 != len(rest) || !bytes.HasSuffix(rest, []byte("\r\n\r\n")) {
			return nil, fmt.Errorf("block of %d bytes for Content-Length %q", len(rest), r.Headers["content-length"])
		}
		r.Block = rest[:n]
		if err := r.checkDigests(); err != nil {
			return nil, fmt.Errorf("record %s: %w", r.Headers["warc-record-id"], err)
		}
		out = append(out, r)
		if err := zr.Reset(br); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, err
		}
	}
}

// checkDigests verifies the record's WARC-Block-Digest and, on a response,
// its WARC-Payload-Digest (the HTTP body as recorded), where given. A
// revisit's payload is in the record it refers to (ResolveRevisits).
func (r WARCRecord) checkDigests() error {
	if d, ok := r.Headers["warc-block-digest"]; ok {
		if err := checkDigest(d, r.Block); err != nil {
			return fmt.Errorf("WARC-Block-Digest: %w", err)
		}
	}
	if d, ok := r.Headers["warc-payload-digest"]; ok && r.Headers["warc-type"] != "revisit" {
		head, payload, found := bytes.Cut(r.Block, []byte("\r\n\r\n"))
		if !found {
			return fmt.Errorf("WARC-Payload-Digest on a block with no HTTP head")
		}
		// The payload is the entity body: the transfer coding undone,
		// the content coding kept.
		if resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(append(head, "\r\n\r\n"...))), nil); err == nil &&
			slices.Contains(resp.TransferEncoding, "chunked") {
			decoded, err := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(payload)))
			if err != nil && r.Headers["warc-truncated"] == "" {
				return fmt.Errorf("chunked payload: %w", err)
			}
			payload = decoded
		}
		if err := checkDigest(d, payload); err != nil {
			return fmt.Errorf("WARC-Payload-Digest: %w", err)
		}
	}
	return nil
}

// checkDigest checks a labelled digest ("sha1:" and base 32, or
// "sha256:" and base 32 or hex) of b.
func checkDigest(label string, b []byte) error {
	alg, value, _ := strings.Cut(label, ":")
	var sum []byte
	switch strings.ToLower(alg) {
	case "sha1":
		s := sha1.Sum(b)
		sum = s[:]
	case "sha256":
		s := sha256.Sum256(b)
		sum = s[:]
	default:
		return fmt.Errorf("%q: unknown algorithm", label)
	}
	if value != base32.StdEncoding.EncodeToString(sum) && !strings.EqualFold(value, hex.EncodeToString(sum)) {
		return fmt.Errorf("%q does not match the %d bytes recorded", label, len(b))
	}
	return nil
}

// Response parses the HTTP message of a response record.
func (r WARCRecord) Response() (status int, header http.Header, body []byte, err error) {
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(r.Block)), nil)
	if err != nil {
		return 0, nil, nil, err
	}
	body, err = io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body, err
}

// Revisit profiles (WARC 1.1, 6.7.2 and 6.7.3).
const (
	ProfileIdenticalPayload  = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
	ProfileServerNotModified = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
)

// ResolveRevisits checks that every revisit record among records (their
// WARC headers, lower-case names) that refers to an earlier capture
// resolves as a replay tool would resolve it: WARC-Refers-To names a
// response record of these files whose WARC-Target-URI and WARC-Date are
// the revisit's WARC-Refers-To-Target-URI and WARC-Refers-To-Date, and an
// identical-payload-digest revisit has that record's payload digest. It
// returns the number of revisits of each profile that referred to a record.
func ResolveRevisits(records []map[string]string) (map[string]int, error) {
	byID := map[string]map[string]string{}
	for _, h := range records {
		byID[h["warc-record-id"]] = h
	}
	resolved := map[string]int{}
	var errs []error
	for _, h := range records {
		if h["warc-type"] != "revisit" {
			continue
		}
		profile, ref := h["warc-profile"], h["warc-refers-to"]
		if ref == "" {
			if profile == ProfileIdenticalPayload {
				errs = append(errs, fmt.Errorf("revisit %s of %s: identical-payload-digest without WARC-Refers-To", h["warc-record-id"], h["warc-target-uri"]))
			}
			continue
		}
		orig, ok := byID[ref]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("revisit %s of %s refers to %s, which no file holds", h["warc-record-id"], h["warc-target-uri"], ref))
		case orig["warc-type"] != "response":
			errs = append(errs, fmt.Errorf("revisit %s refers to a %s record", h["warc-record-id"], orig["warc-type"]))
		case orig["warc-target-uri"] != h["warc-refers-to-target-uri"] || orig["warc-date"] != h["warc-refers-to-date"]:
			errs = append(errs, fmt.Errorf("revisit %s refers to %s at %s; the record is of %s at %s", h["warc-record-id"],
				h["warc-refers-to-target-uri"], h["warc-refers-to-date"], orig["warc-target-uri"], orig["warc-date"]))
		case profile == ProfileIdenticalPayload && orig["warc-payload-digest"] != h["warc-payload-digest"]:
			errs = append(errs, fmt.Errorf("revisit %s has payload %s; the record it refers to has %s", h["warc-record-id"], h["warc-payload-digest"], orig["warc-payload-digest"]))
		default:
			resolved[profile]++
		}
	}
	return resolved, errors.Join(errs...)
}
