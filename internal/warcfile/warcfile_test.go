package warcfile

import (
	"testing"

	"github.com/spyder-crawl/spyder/internal/testsite"
)

// BenchmarkWrite20KB writes the records of a fetch of a 20 KB page.
func BenchmarkWrite20KB(b *testing.B) {
	w, err := New(Options{Dir: b.TempDir(), Prefix: "b-", MaxFileSize: 1 << 30, Software: "bench", Files: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	page := testsite.SitePage()
	e := Exchange{Target: "http://h.test/p/17.html", Status: 200, Req: map[string]string{"User-Agent": "spyder"},
		Rep: map[string]string{"Content-Type": "text/html", "Server": "nginx"}, Body: page}
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Write(e); err != nil {
			b.Fatal(err)
		}
	}
}
