// e2e_warc_wire_test.go: WARC records of responses as they were received,
// read back by warcio.js.

package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spyder-crawl/spyder/internal/testsite"
)

// wireSite is a site whose responses net/http would never write: an
// HTTP/1.0 server, header names in odd case and order, repeated headers,
// hand-made chunking over a gzipped body. Its replies, by path, are exact
// bytes.
func wireSite() map[string]string {
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte("<html><body>gzipped and chunked</body></html>"))
	zw.Close()
	zpage := z.String()
	withLength := func(head, body string) string {
		return head + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	}
	return map[string]string{
		"/": withLength("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n",
			`<html><a href="/chunked">c</a><a href="/old">o</a><a href="/cookies">k</a></html>`),
		"/chunked": "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\nX-Z-First: 1\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" +
			fmt.Sprintf("%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n", 7, zpage[:7], len(zpage)-7, zpage[7:]),
		"/old":     "HTTP/1.0 200 Fine\r\nContent-Type: text/html\r\n\r\n<html>no length, body until close</html>",
		"/cookies": withLength("HTTP/1.1 200 OK\r\nSet-Cookie: a=1; Path=/\r\nCONTENT-TYPE: text/html\r\nSet-Cookie: b=2\r\n", "<html>two cookies</html>"),
	}
}

// TestWARCRecordsTheWire crawls wireSite, with each WARC writer, and reads
// the files back with warcio.js: every response record holds the response
// byte for byte as the server sent it (status line and HTTP version,
// header names, case, order and repeats, gzip and chunking), every request
// record the request as the server received it, each with the server's
// address, and every digest matches.
func TestWARCRecordsTheWire(t *testing.T) {
	for _, writer := range []string{"worker", "master"} {
		t.Run(writer, func(t *testing.T) { testWARCRecordsTheWire(t, writer) })
	}
}

func testWARCRecordsTheWire(t *testing.T, writer string) {
	replies := wireSite()
	site := testsite.StartRawServerOn(t, "127.0.0.2", func(path string) ([]byte, bool) {
		reply, ok := replies[path]
		if !ok {
			return []byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"), false
		}
		return []byte(reply), strings.HasPrefix(reply, "HTTP/1.0")
	})
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", site.URL("/"))
	c := newCluster(t, "SPYDER_FRONTIER_MIN_DELAY=0", "SPYDER_WARC_WRITER="+writer)
	w := start(t, "worker", c.Env, "worker")
	m := start(t, "master", c.Env, "master", "--until-done", "--seeds", seeds, "--output-warc-dir", dir+"/warc")
	waitClean(t, m, w)

	records, err := testsite.ReadWARCDirWithWarcio(dir + "/warc")
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]testsite.WarcioRecord{}
	responses := map[string]testsite.WarcioRecord{}
	for _, r := range records {
		if r.BlockDigestOK == nil || !*r.BlockDigestOK {
			t.Errorf("%s record %s: block digest %v does not match", r.WARC["warc-type"], r.WARC["warc-target-uri"], r.WARC["warc-block-digest"])
		}
		byID[r.WARC["warc-record-id"]] = r
		if r.WARC["warc-type"] == "response" {
			if r.PayloadDigestOK == nil || !*r.PayloadDigestOK {
				t.Errorf("response %s: payload digest %v does not match", r.WARC["warc-target-uri"], r.WARC["warc-payload-digest"])
			}
			responses[strings.TrimPrefix(r.WARC["warc-target-uri"], strings.TrimSuffix(site.URL("/"), "/"))] = r
		}
	}
	served := map[string]int{} // path: request index
	for i := range site.Requests() {
		served[strings.Fields(string(site.Request(i)))[1]] = i
	}
	for path, reply := range replies {
		r, ok := responses[path]
		if !ok {
			t.Errorf("%s: no response record (records for %v)", path, keys(responses))
			continue
		}
		head, _, _ := strings.Cut(reply, "\r\n\r\n")
		lines := strings.Split(head, "\r\n")
		var want [][2]string
		for _, l := range lines[1:] {
			k, v, _ := strings.Cut(l, ": ")
			want = append(want, [2]string{k, v})
		}
		// warcio keeps a repeated header's values together: the order
		// is checked on the head's bytes, the parse on the set of fields.
		got := slices.Clone(r.Headers)
		slices.SortStableFunc(got, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
		slices.SortStableFunc(want, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
		if r.StatusLine != lines[0] || r.Head != head+"\r\n\r\n" || r.Length != len(reply) || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: warcio read %q, %d bytes, headers %v, head %q;\nthe server sent %q, %d bytes, headers %v, head %q", path, r.StatusLine, r.Length, got, r.Head, lines[0], len(reply), want, head)
		}
		if r.WARC["warc-ip-address"] != "127.0.0.2" || r.WARC["warc-truncated"] != "" {
			t.Errorf("%s: WARC headers %v", path, r.WARC)
		}
		req, ok := byID[r.WARC["warc-concurrent-to"]]
		if !ok || req.WARC["warc-type"] != "request" || req.WARC["warc-concurrent-to"] != r.WARC["warc-record-id"] {
			t.Errorf("%s: no request record beside the response", path)
			continue
		}
		if i, ok := served[path]; !ok || req.Length != len(site.Request(i)) || req.StatusLine != "GET "+path+" HTTP/1.1" {
			t.Errorf("%s: request record %q of %d bytes; the server received %q", path, req.StatusLine, req.Length, site.Request(served[path]))
		}
	}
	if r := responses["/old"]; r.Protocol != "HTTP/1.0" {
		t.Errorf("an HTTP/1.0 response recorded as %q", r.Protocol)
	}
	if r := responses["/cookies"]; fmt.Sprint(r.SetCookies) != "[a=1; Path=/ b=2]" {
		t.Errorf("repeated Set-Cookie headers read back as %q", r.SetCookies)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
